use std::collections::BTreeSet;

use crate::CapacityError;

/// The resources of a container instance, in ECS's own units.
///
/// The same struct carries both sides of `DescribeContainerInstances`:
/// * `registered`: what the host offers. `ports_*` are the ports the agent reserves for
///   itself (22, 2375, 2376, 51678, 51679 by default); `gpus` is the number of GPUs.
/// * `remaining`: what is left. `cpu`/`memory_mib` are free units; `ports_*` are the host
///   ports **taken** (reserved ones plus those of running tasks), as ECS reports them;
///   `gpus` is the number of **free** GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU units (1024 per vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory_mib: u32,
    /// TCP host ports (reserved, or taken; see above).
    pub ports_tcp: BTreeSet<u16>,
    /// UDP host ports (reserved, or taken; see above).
    pub ports_udp: BTreeSet<u16>,
    /// GPUs (all of them when registered, the free ones when remaining).
    pub gpus: u32,
}

impl Resources {
    /// CPU units and MiB only, no ports or GPUs.
    pub fn new(cpu: u32, memory_mib: u32) -> Self {
        Resources {
            cpu,
            memory_mib,
            ..Resources::default()
        }
    }

    /// Parses a resource list as ECS reports it (`registeredResources` or
    /// `remainingResources`). `instance` names the container instance in errors; `side` is
    /// `"registered"` or `"remaining"`.
    ///
    /// `CPU` and `MEMORY` must be present and INTEGER (LONG is accepted); `PORTS`, `PORTS_UDP`
    /// and `GPU` are optional STRINGSETs. Unknown resources (custom attributes) are ignored.
    pub fn from_ecs(
        instance: &str,
        side: &'static str,
        list: &[EcsResource],
    ) -> Result<Resources, CapacityError> {
        let mut cpu = None;
        let mut memory = None;
        let mut out = Resources::default();
        for resource in list {
            match resource.name.as_str() {
                "CPU" => cpu = Some(integer(instance, side, resource)?),
                "MEMORY" => memory = Some(integer(instance, side, resource)?),
                "PORTS" => out.ports_tcp = ports(instance, side, resource)?,
                "PORTS_UDP" => out.ports_udp = ports(instance, side, resource)?,
                "GPU" => {
                    let ids = string_set(instance, side, resource)?;
                    out.gpus = u32::try_from(ids.len())
                        .map_err(|_| invalid(instance, side, resource, ids.len()))?;
                }
                _ => {}
            }
        }
        let missing = |resource| CapacityError::MissingResource {
            instance: instance.to_owned(),
            side,
            resource,
        };
        out.cpu = cpu.ok_or_else(|| missing("CPU"))?;
        out.memory_mib = memory.ok_or_else(|| missing("MEMORY"))?;
        Ok(out)
    }
}

/// One entry of an ECS resource list, reduced to what the math reads.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsResource {
    /// `CPU`, `MEMORY`, `PORTS`, `PORTS_UDP`, `GPU`, or a custom name.
    pub name: String,
    pub value: ResourceValue,
}

/// The typed value of an [`EcsResource`] (ECS's `type` field decides which one is set).
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceValue {
    Integer(i64),
    Long(i64),
    Double(f64),
    StringSet(Vec<String>),
}

impl ResourceValue {
    fn type_name(&self) -> &'static str {
        match self {
            ResourceValue::Integer(_) => "INTEGER",
            ResourceValue::Long(_) => "LONG",
            ResourceValue::Double(_) => "DOUBLE",
            ResourceValue::StringSet(_) => "STRINGSET",
        }
    }
}

fn wrong_type(
    instance: &str,
    side: &'static str,
    resource: &EcsResource,
    expected: &'static str,
) -> CapacityError {
    CapacityError::WrongResourceType {
        instance: instance.to_owned(),
        side,
        resource: resource.name.clone(),
        found: resource.value.type_name(),
        expected,
    }
}

fn invalid(
    instance: &str,
    side: &'static str,
    resource: &EcsResource,
    value: impl ToString,
) -> CapacityError {
    CapacityError::InvalidResourceValue {
        instance: instance.to_owned(),
        side,
        resource: resource.name.clone(),
        value: value.to_string(),
    }
}

fn integer(
    instance: &str,
    side: &'static str,
    resource: &EcsResource,
) -> Result<u32, CapacityError> {
    match resource.value {
        ResourceValue::Integer(v) | ResourceValue::Long(v) => {
            u32::try_from(v).map_err(|_| invalid(instance, side, resource, v))
        }
        _ => Err(wrong_type(instance, side, resource, "INTEGER")),
    }
}

fn string_set<'a>(
    instance: &str,
    side: &'static str,
    resource: &'a EcsResource,
) -> Result<&'a [String], CapacityError> {
    match &resource.value {
        ResourceValue::StringSet(values) => Ok(values),
        _ => Err(wrong_type(instance, side, resource, "STRINGSET")),
    }
}

fn ports(
    instance: &str,
    side: &'static str,
    resource: &EcsResource,
) -> Result<BTreeSet<u16>, CapacityError> {
    string_set(instance, side, resource)?
        .iter()
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| invalid(instance, side, resource, p))
        })
        .collect()
}
