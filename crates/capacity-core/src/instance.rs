use std::collections::BTreeMap;
use std::fmt;

use crate::{CapacityError, Resources};

/// The status of a container instance, as ECS reports it. Only [`InstanceStatus::Active`]
/// instances take new tasks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstanceStatus {
    Active,
    Draining,
    Registering,
    Deregistering,
    RegistrationFailed,
    Inactive,
    /// A status this version does not know; counted like any non-ACTIVE one: no room.
    Other(String),
}

impl InstanceStatus {
    /// Parses ECS's upper-case status (`ACTIVE`, `DRAINING`, …). Never fails: an unknown
    /// status is kept as [`InstanceStatus::Other`] and never receives tasks.
    pub fn parse(status: &str) -> InstanceStatus {
        match status {
            "ACTIVE" => InstanceStatus::Active,
            "DRAINING" => InstanceStatus::Draining,
            "REGISTERING" => InstanceStatus::Registering,
            "DEREGISTERING" => InstanceStatus::Deregistering,
            "REGISTRATION_FAILED" => InstanceStatus::RegistrationFailed,
            "INACTIVE" => InstanceStatus::Inactive,
            other => InstanceStatus::Other(other.to_owned()),
        }
    }

    /// ECS's spelling of the status.
    pub fn as_str(&self) -> &str {
        match self {
            InstanceStatus::Active => "ACTIVE",
            InstanceStatus::Draining => "DRAINING",
            InstanceStatus::Registering => "REGISTERING",
            InstanceStatus::Deregistering => "DEREGISTERING",
            InstanceStatus::RegistrationFailed => "REGISTRATION_FAILED",
            InstanceStatus::Inactive => "INACTIVE",
            InstanceStatus::Other(s) => s,
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Elastic network interfaces of a host, for tasks in `awsvpc` mode.
///
/// Each `awsvpc` task takes one ENI; the host's primary ENI is its own and never available
/// to tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EniLimit {
    /// ENIs the instance type supports, the primary one included (e.g. 4 for `c5.large`).
    pub max_enis: u32,
    /// ENIs attached for tasks right now.
    pub task_enis_in_use: u32,
}

impl EniLimit {
    /// ENI slots for tasks on the empty host: every ENI but the primary one.
    pub fn task_slots_when_empty(&self) -> u32 {
        self.max_enis.saturating_sub(1)
    }

    /// ENI slots for tasks that are free now.
    pub fn free_task_slots(&self) -> u32 {
        self.task_slots_when_empty()
            .saturating_sub(self.task_enis_in_use)
    }
}

/// A container instance of the cluster: what the math knows of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInstance {
    /// The container instance ARN or id; names the instance in errors and reports.
    pub id: String,
    /// The EC2 instance id, when known.
    pub ec2_instance_id: Option<String>,
    /// The EC2 instance type (`ecs.instance-type` attribute), when known.
    pub instance_type: Option<String>,
    pub status: InstanceStatus,
    /// Whether the ECS agent is connected; a disconnected agent takes no tasks.
    pub agent_connected: bool,
    pub registered: Resources,
    pub remaining: Resources,
    /// ENI limit; `None` when unknown, and then ENIs are assumed not to limit placement.
    pub eni: Option<EniLimit>,
    /// Every attribute of the container instance as read (ECS's own such as
    /// `ecs.availability-zone`, the team's, and this project's marks), the value `""` for an
    /// attribute without one.
    pub attributes: BTreeMap<String, String>,
}

impl ContainerInstance {
    /// An ACTIVE, connected instance with the given registered and remaining resources.
    pub fn active(id: impl Into<String>, registered: Resources, remaining: Resources) -> Self {
        ContainerInstance {
            id: id.into(),
            ec2_instance_id: None,
            instance_type: None,
            status: InstanceStatus::Active,
            agent_connected: true,
            registered,
            remaining,
            eni: None,
            attributes: BTreeMap::new(),
        }
    }

    /// The value of attribute `name`, if the instance carries it.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// Its Availability Zone (`ecs.availability-zone`), when known.
    pub fn zone(&self) -> Option<&str> {
        self.attribute(crate::placement::ZONE_ATTRIBUTE)
    }

    /// Whether the instance can take new tasks at all (ACTIVE with a connected agent).
    pub fn accepts_tasks(&self) -> bool {
        self.status == InstanceStatus::Active && self.agent_connected
    }

    /// Checks that the remaining resources are consistent with the registered ones.
    pub fn validate(&self) -> Result<(), CapacityError> {
        let checks: [(&'static str, u32, u32); 3] = [
            ("CPU", self.remaining.cpu, self.registered.cpu),
            (
                "MEMORY",
                self.remaining.memory_mib,
                self.registered.memory_mib,
            ),
            ("GPU", self.remaining.gpus, self.registered.gpus),
        ];
        for (resource, remaining, registered) in checks {
            if remaining > registered {
                return Err(CapacityError::RemainingAboveRegistered {
                    instance: self.id.clone(),
                    resource,
                    remaining: remaining.into(),
                    registered: registered.into(),
                });
            }
        }
        if let Some(eni) = self.eni
            && eni.task_enis_in_use > eni.task_slots_when_empty()
        {
            return Err(CapacityError::RemainingAboveRegistered {
                instance: self.id.clone(),
                resource: "ENI",
                remaining: eni.task_enis_in_use.into(),
                registered: eni.task_slots_when_empty().into(),
            });
        }
        Ok(())
    }
}
