//! The capacity calculator as the simulation runs it: the container instances as ECS
//! describes them, the worst-case task, capacity-core's assessment, and the datapoints it
//! publishes (ContainerCapacity, IdleHostCapacity, HostsToAdd: every unplaced task packed,
//! plus the headroom). It runs on every container instance change, on its schedule, and at
//! once when a task cannot be placed (the `SERVICE_TASK_PLACEMENT_FAILURE` event).

use std::collections::BTreeSet;

use capacity_core::{
    CapacityError, ClusterCapacity, ContainerInstance, Demand, EniLimit, InstanceStatus,
    PlacementFailure, Resources, TaskShape, UnplacedTasks, WorstCase, assess, cluster_capacity,
};

use capacity_core::placement::{ServicePlacement, ZONE_ATTRIBUTE};
use capacity_core::run::Trigger;

use super::{Datapoint, InstState, RESERVED_PORTS, Sim};

impl Sim<'_> {
    /// The container instances as ECS would describe them now; with their ENI limits only
    /// for ECS's own use (`with_enis`): the calculator as deployed never reads them (its
    /// DescribeContainerInstances carries none), so its view has none.
    pub(super) fn container_instances(&self, with_enis: bool) -> Vec<ContainerInstance> {
        let usage = self.usage();
        usage
            .iter()
            .filter_map(|(id, u)| {
                let inst = self.instances.iter().find(|i| i.id == *id)?;
                let ty = self.sc.instance_types.get(inst.type_index)?;
                let reserved: BTreeSet<u16> = RESERVED_PORTS.into_iter().collect();
                // Usage counts ENI slots down from the type's; what is missing is in use.
                let task_enis = ty
                    .max_enis
                    .map_or(0, |m| m.saturating_sub(1).saturating_sub(u.enis));
                Some(ContainerInstance {
                    id: format!("i-{id}"),
                    ec2_instance_id: Some(format!("i-{id}")),
                    instance_type: Some(ty.name.clone()),
                    status: if inst.state == InstState::Active {
                        InstanceStatus::Active
                    } else {
                        InstanceStatus::Draining
                    },
                    agent_connected: true,
                    registered: Resources {
                        cpu: ty.cpu,
                        memory_mib: ty.memory_mib,
                        ports_tcp: reserved,
                        ports_udp: BTreeSet::new(),
                        gpus: ty.gpus,
                    },
                    remaining: Resources {
                        cpu: u.cpu,
                        memory_mib: u.memory,
                        ports_tcp: u.ports_tcp.clone(),
                        ports_udp: u.ports_udp.clone(),
                        gpus: u.gpus,
                    },
                    eni: ty.max_enis.filter(|_| with_enis).map(|max_enis| EniLimit {
                        max_enis,
                        task_enis_in_use: task_enis,
                    }),
                    attributes: {
                        let mut attributes = inst.marks.clone();
                        if let Some(zone) = self.sc.asg.zones.get(inst.zone) {
                            attributes.insert(ZONE_ATTRIBUTE.to_owned(), zone.clone());
                        }
                        attributes.insert("ecs.instance-type".to_owned(), ty.name.clone());
                        attributes
                    },
                })
            })
            .collect()
    }

    /// The worst case over the services' current revisions and every revision with a task
    /// (the calculator's discovery: ACTIVE services' deployments and running tasks).
    pub(super) fn worst_case(&self) -> Result<WorstCase, CapacityError> {
        let mut shapes: Vec<&TaskShape> = Vec::new();
        for (s, state) in self.services.iter().enumerate() {
            for (r, shape) in state.revisions.iter().enumerate() {
                let in_use = r + 1 == state.revisions.len()
                    || self.tasks.iter().any(|k| k.service == s && k.revision == r);
                if in_use {
                    shapes.push(shape);
                }
            }
        }
        let worst = WorstCase::of(shapes)?;
        // HEADROOM_TASK: the unit counted in, as the calculator applies it to its reading.
        let unit = self.sc.headroom_task.unit(&worst, |name| {
            let index = self.sc.services.iter().position(|s| s.name == name)?;
            self.services.get(index)?.revisions.last().cloned()
        });
        Ok(unit.unwrap_or_else(|(kept, _)| kept))
    }

    /// ContainerCapacity and IdleHostCapacity now, as the calculator reads them (no ENI
    /// limits); `None` before any instance registered.
    pub(super) fn capacity(&self) -> Result<Option<ClusterCapacity>, CapacityError> {
        self.capacity_seen(false)
    }

    /// The same as ECS itself knows it, ENI limits included (for managed scaling).
    pub(super) fn capacity_with_enis(&self) -> Result<Option<ClusterCapacity>, CapacityError> {
        self.capacity_seen(true)
    }

    fn capacity_seen(&self, with_enis: bool) -> Result<Option<ClusterCapacity>, CapacityError> {
        // With no container instance the calculator still publishes (ContainerCapacity 0,
        // HostsToAdd sized on the type the group launches): a cluster scales from zero.
        let instances = self.container_instances(with_enis);
        cluster_capacity(&instances, &self.worst_case()?).map(Some)
    }

    /// The tasks the services want but the scheduler could not place, as the calculator
    /// reads them from DescribeServices: per service, of its current revision's shape.
    pub(super) fn demand(&self) -> Demand {
        Demand {
            unplaced: self
                .sc
                .services
                .iter()
                .zip(&self.services)
                .filter(|(def, s)| s.pending > 0 && !def.is_job() && !def.is_daemon())
                .filter_map(|(def, s)| {
                    Some(UnplacedTasks {
                        service: def.name.clone(),
                        shape: s.revisions.last()?.clone(),
                        count: s.pending,
                    })
                })
                .collect(),
            daemons: self
                .sc
                .services
                .iter()
                .zip(&self.services)
                .filter(|(def, _)| def.is_daemon())
                .filter_map(|(_, s)| s.revisions.last().cloned())
                .collect(),
            placement_failures: Vec::new(),
        }
    }

    /// The tasks in PROVISIONING under a capacity provider: the services' waiting tasks and
    /// the jobs' (RunTask with a capacity provider strategy waits for capacity too).
    pub(super) fn provisioning(&self) -> Demand {
        let mut demand = self.demand();
        demand.unplaced.extend(
            self.sc
                .services
                .iter()
                .zip(&self.services)
                .filter(|(def, s)| def.is_job() && !s.queued.is_empty())
                .map(|(def, s)| UnplacedTasks {
                    service: def.name.clone(),
                    shape: def.shape.clone(),
                    count: s.queued.len() as u32,
                }),
        );
        demand
    }

    /// What capacity-calculator publishes on this run (`trigger`; `failed` names the services
    /// of a placement-failure run, as the event does in production): the datapoint reaches
    /// the alarms `reaction_delay` later (EventBridge, the Lambda's run, PutMetricData, Auto
    /// Scaling's start: `scenario::deployed`). Under the policies that deploy the calculator
    /// with the group this is capacity-core's one decision, carried out
    /// (`sim/decision.rs`): its assessment, and `HostsToRemove` as settled; under the others
    /// the assessment alone.
    pub(super) fn publish(
        &mut self,
        cap: &ClusterCapacity,
        trigger: Trigger,
        failed: &[String],
    ) -> Result<(), CapacityError> {
        let (assessment, hosts_to_remove) = if self.runs_the_decision() {
            let (decision, hosts_to_remove) = self.decide_and_act(trigger, failed)?;
            (decision.assessment, hosts_to_remove)
        } else {
            let mut demand = self.demand();
            demand.placement_failures = failed
                .iter()
                .map(|service| PlacementFailure::new(service.clone(), "RESOURCE:MEMORY"))
                .collect();
            (assess(cap, &self.sc.headroom, &demand), 0)
        };
        self.datapoints.push(Datapoint {
            t: self.t + self.sc.reaction_delay,
            container_capacity: assessment.container_capacity as f64,
            // As published: beyond the headroom, so the scale-in alarm agrees with the decision.
            idle_host_capacity: assessment.idle_host_capacity,
            hosts_to_add: f64::from(assessment.hosts_to_add),
            hosts_to_remove: f64::from(hosts_to_remove),
        });
        Ok(())
    }

    /// Instance `id`'s zone.
    pub(super) fn zone_of(&self, id: u32) -> &str {
        self.instance(id)
            .and_then(|i| self.sc.asg.zones.get(i.zone))
            .map_or("?", String::as_str)
    }

    /// The services' placement rules as DescribeServices and their task definitions give them.
    pub(super) fn placement_rules(&self) -> Vec<ServicePlacement> {
        self.sc
            .services
            .iter()
            .filter(|s| !s.is_daemon() && !s.is_job())
            .map(|s| {
                let constraints = if s.distinct_instance {
                    vec![("distinctInstance".to_owned(), None)]
                } else {
                    Vec::new()
                };
                ServicePlacement::read(&s.name, &constraints, &[], s.spread_by_zone, Vec::new())
            })
            .collect()
    }
}
