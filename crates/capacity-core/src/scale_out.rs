//! Scale-out for the tasks that wait: how many new hosts hold every unplaced task and still
//! leave the headroom free.
//!
//! ECS reports, per service deployment, `desiredCount − runningCount − pendingCount`: tasks
//! it wanted but found no room for. Each is of its deployment's own shape, not the worst
//! case. [`plan_scale_out`] packs them onto new hosts of the cluster's largest registered
//! type, first-fit decreasing over every resource at once (CPU, memory, static ports — one
//! task per port per host —, GPUs, ENIs when known), after reserving one task of every
//! DAEMON service on each new host (the daemon scheduler starts one there first); then adds
//! hosts until the room already free in the cluster plus what the new hosts have left holds
//! the headroom of worst-case tasks.

use std::collections::BTreeSet;

use crate::capacity::ResourceSlots;
use crate::{ClusterCapacity, HostTemplate, ScalePolicy, TaskShape, WorstCase};

/// Tasks of one service deployment that ECS found no room for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnplacedTasks {
    /// The service (name or ARN).
    pub service: String,
    /// The deployment's task definition, as its shape (`shape.name` names it).
    pub shape: TaskShape,
    /// `desiredCount − runningCount − pendingCount`, above 0.
    pub count: u32,
}

/// What waits for room, and what every new host runs before anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// Tasks ECS found no room for, per service deployment.
    pub unplaced: Vec<UnplacedTasks>,
    /// One task of each DAEMON service: reserved on every new host before packing.
    pub daemons: Vec<TaskShape>,
}

impl Demand {
    /// Nothing waits, no daemon: the plain headroom rule.
    pub fn none() -> Demand {
        Demand::default()
    }

    /// How many tasks wait in all.
    pub fn unplaced_count(&self) -> u64 {
        self.unplaced.iter().map(|u| u64::from(u.count)).sum()
    }
}

/// How many hosts a scale-out adds, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScaleOutPlan {
    /// New hosts in all.
    pub hosts: u32,
    /// Of those, the hosts the unplaced tasks were packed onto.
    pub hosts_for_unplaced: u32,
    /// Unplaced tasks that fit on no new host of the largest type even when empty (with its
    /// daemons): adding hosts of this type will not place them.
    pub unplaceable: u64,
}

/// Free resources of one new host while packing.
#[derive(Debug, Clone)]
struct Bin {
    cpu: u32,
    memory_mib: u32,
    gpus: u32,
    /// Free task ENI slots; `None` when the limit is unknown (never binds).
    eni: Option<u32>,
    ports_tcp: BTreeSet<u16>,
    ports_udp: BTreeSet<u16>,
}

impl Bin {
    fn empty(template: &HostTemplate) -> Bin {
        Bin {
            cpu: template.registered.cpu,
            memory_mib: template.registered.memory_mib,
            gpus: template.registered.gpus,
            eni: template.eni_task_slots,
            ports_tcp: template.registered.ports_tcp.clone(),
            ports_udp: template.registered.ports_udp.clone(),
        }
    }

    fn fits(&self, shape: &TaskShape) -> bool {
        self.cpu >= shape.cpu
            && self.memory_mib >= shape.memory_mib
            && self.gpus >= shape.gpus
            && (!shape.awsvpc || self.eni.is_none_or(|free| free >= 1))
            && shape.ports_tcp.is_disjoint(&self.ports_tcp)
            && shape.ports_udp.is_disjoint(&self.ports_udp)
    }

    fn take(&mut self, shape: &TaskShape) {
        self.cpu -= shape.cpu;
        self.memory_mib -= shape.memory_mib;
        self.gpus -= shape.gpus;
        if shape.awsvpc {
            self.eni = self.eni.map(|free| free.saturating_sub(1));
        }
        self.ports_tcp.extend(shape.ports_tcp.iter().copied());
        self.ports_udp.extend(shape.ports_udp.iter().copied());
    }

    /// Worst-case tasks that still fit here.
    fn worst_case_slots(&self, worst: &WorstCase) -> u32 {
        let left = crate::Resources {
            cpu: self.cpu,
            memory_mib: self.memory_mib,
            ports_tcp: self.ports_tcp.clone(),
            ports_udp: self.ports_udp.clone(),
            gpus: self.gpus,
        };
        ResourceSlots::compute(&left, self.eni, worst)
            .binding()
            .map_or(0, |(slots, _)| slots)
    }
}

/// The size order of first-fit decreasing: the largest share of the host's CPU, memory or
/// GPUs first (in parts per million of the host), then more static ports, then `awsvpc`.
fn size_key(shape: &TaskShape, host: &HostTemplate) -> (u64, usize, bool) {
    let share = |need: u32, have: u32| {
        if have == 0 {
            if need == 0 { 0 } else { u64::MAX }
        } else {
            u64::from(need) * 1_000_000 / u64::from(have)
        }
    };
    let dominant = share(shape.cpu, host.registered.cpu)
        .max(share(shape.memory_mib, host.registered.memory_mib))
        .max(share(shape.gpus, host.registered.gpus));
    (
        dominant,
        shape.ports_tcp.len() + shape.ports_udp.len(),
        shape.awsvpc,
    )
}

/// The fewest new hosts of the cluster's largest registered type (`capacity.largest_host`)
/// that hold every task of `demand.unplaced` **and**, with the room already free in the
/// cluster (`capacity.container_capacity`), leave `policy.headroom()` worst-case tasks free.
///
/// With nothing waiting this is exactly [`ClusterCapacity::hosts_to_add`] (the headroom rule).
/// With no counted instance the host size is unknown: one host (the next run refines it).
///
/// Packing is first-fit decreasing over all resources at once: shapes sorted by their
/// dominant share of a host, each task onto the first new host it fits on (each new host
/// first reserves one task of every DAEMON service), else a new host. **Bound:** for one
/// resource FFD uses at most 11/9·OPT + 6/9 hosts; over d resources at once first fit is
/// within (d + 0.7)·OPT + 1 (Garey, Graham, Johnson and Yao, 1976) — never fewer than needed,
/// occasionally more than the optimum when shapes are lopsided in different resources. In
/// practice, with a few shapes per cluster, it is the optimum or one above.
///
/// Cost: O(S log S + S·B + T) for T tasks of S shapes on B new hosts: hosts before a shape's
/// cursor never fit it again (they only fill up), so each shape scans the hosts once.
pub fn plan_scale_out(
    capacity: &ClusterCapacity,
    demand: &Demand,
    policy: &ScalePolicy,
) -> ScaleOutPlan {
    let headroom_rule = || capacity.hosts_to_add(policy);
    if demand.unplaced.iter().all(|u| u.count == 0) {
        return ScaleOutPlan {
            hosts: headroom_rule(),
            ..ScaleOutPlan::default()
        };
    }
    let Some(template) = &capacity.largest_host else {
        return ScaleOutPlan {
            hosts: 1,
            hosts_for_unplaced: 1,
            unplaceable: 0,
        };
    };
    let mut empty = Bin::empty(template);
    for daemon in &demand.daemons {
        if empty.fits(daemon) {
            empty.take(daemon);
        }
    }

    let mut shapes: Vec<(&TaskShape, u32)> = demand
        .unplaced
        .iter()
        .filter(|u| u.count > 0)
        .map(|u| (&u.shape, u.count))
        .collect();
    shapes.sort_by_key(|(shape, _)| std::cmp::Reverse(size_key(shape, template)));

    let mut bins: Vec<Bin> = Vec::new();
    let mut unplaceable = 0u64;
    for (shape, count) in shapes {
        if !empty.fits(shape) {
            unplaceable += u64::from(count);
            continue;
        }
        let mut cursor = 0;
        for _ in 0..count {
            while bins.get(cursor).is_some_and(|bin| !bin.fits(shape)) {
                cursor += 1;
            }
            match bins.get_mut(cursor) {
                Some(bin) => bin.take(shape),
                None => {
                    let mut bin = empty.clone();
                    bin.take(shape);
                    bins.push(bin);
                }
            }
        }
    }

    let worst = &capacity.worst_case;
    let headroom = u64::from(policy.headroom());
    let left_on_new: u64 = bins
        .iter()
        .map(|b| u64::from(b.worst_case_slots(worst)))
        .sum();
    let free = capacity.container_capacity + left_on_new;
    let per_empty_host = u64::from(empty.worst_case_slots(worst));
    let for_headroom = if free >= headroom || per_empty_host == 0 {
        0
    } else {
        (headroom - free).div_ceil(per_empty_host)
    };
    let for_unplaced = u32::try_from(bins.len()).unwrap_or(u32::MAX);
    ScaleOutPlan {
        hosts: for_unplaced.saturating_add(u32::try_from(for_headroom).unwrap_or(u32::MAX)),
        hosts_for_unplaced: for_unplaced,
        unplaceable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContainerInstance, Resources, cluster_capacity};

    /// One m5.xlarge-like host, 4096 CPU / 16384 MiB, full.
    fn full_cluster(worst: &WorstCase) -> ClusterCapacity {
        let host =
            ContainerInstance::active("ci-1", Resources::new(4096, 16384), Resources::new(0, 0));
        cluster_capacity(&[host], worst).unwrap()
    }

    fn unplaced(shape: TaskShape, count: u32) -> UnplacedTasks {
        UnplacedTasks {
            service: shape.name.clone(),
            shape,
            count,
        }
    }

    fn plan(demand: &Demand, headroom: u32) -> ScaleOutPlan {
        let worst = WorstCase::of(
            demand
                .unplaced
                .iter()
                .map(|u| &u.shape)
                .chain(&demand.daemons),
        )
        .unwrap();
        plan_scale_out(
            &full_cluster(&worst),
            demand,
            &ScalePolicy::new(headroom).unwrap(),
        )
    }

    #[test]
    fn ten_waiting_tasks_of_a_quarter_host_need_three_hosts_plus_the_headroom() {
        // 4 per host: 10 tasks on 3 hosts, the third with 2 slots left: headroom 1 is met.
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 1024, 4096), 10)],
            daemons: vec![],
        };
        let p = plan(&demand, 1);
        assert_eq!((p.hosts, p.hosts_for_unplaced, p.unplaceable), (3, 3, 0));
        // 12 tasks fill 3 hosts exactly: one more for the headroom.
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 1024, 4096), 12)],
            daemons: vec![],
        };
        assert_eq!(plan(&demand, 1).hosts, 4);
    }

    #[test]
    fn a_static_port_puts_one_task_on_each_host() {
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 256, 512).with_port(80), 5)],
            daemons: vec![],
        };
        // 5 hosts, each with port 80 taken: the 6th holds the headroom.
        assert_eq!(plan(&demand, 1).hosts, 6);
    }

    #[test]
    fn a_daemon_is_reserved_on_every_new_host_first() {
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 2048, 4096), 4)],
            daemons: vec![TaskShape::new("agent:1", 512, 512)],
        };
        // 3584 CPU left per host after the daemon: one 2048 task per host.
        assert_eq!(plan(&demand, 1).hosts_for_unplaced, 4);
    }

    #[test]
    fn large_tasks_go_first_and_small_ones_fill_the_gaps() {
        let demand = Demand {
            unplaced: vec![
                unplaced(TaskShape::new("small:1", 1024, 1024), 3),
                unplaced(TaskShape::new("big:1", 3072, 3072), 3),
            ],
            daemons: vec![],
        };
        // FFD: 3 hosts of big + small each; in arrival order it would take 4.
        let p = plan(&demand, 1);
        assert_eq!(p.hosts_for_unplaced, 3);
    }

    #[test]
    fn a_task_larger_than_the_largest_host_is_unplaceable_not_more_hosts() {
        let demand = Demand {
            unplaced: vec![
                unplaced(TaskShape::new("huge:1", 8192, 1024), 2),
                unplaced(TaskShape::new("web:1", 1024, 1024), 1),
            ],
            daemons: vec![],
        };
        let p = plan(&demand, 1);
        assert_eq!((p.hosts_for_unplaced, p.unplaceable), (1, 2));
    }

    #[test]
    fn nothing_waiting_is_the_headroom_rule() {
        let worst = WorstCase::of(&[TaskShape::new("web:1", 1024, 4096)]).unwrap();
        let cap = full_cluster(&worst);
        for headroom in 1..=9 {
            let policy = ScalePolicy::new(headroom).unwrap();
            assert_eq!(
                plan_scale_out(&cap, &Demand::none(), &policy).hosts,
                cap.hosts_to_add(&policy)
            );
        }
    }
}
