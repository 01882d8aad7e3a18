//! Scale-out for the tasks that wait: they go where there is room first, and only what does
//! not fit there is sized for.
//!
//! ECS reports, per service deployment, `desiredCount − runningCount − pendingCount`. That
//! counts tasks ECS found no room for, but also tasks it has simply not started yet, tasks
//! held back by `maximumPercent` during a deployment, the tasks of a crash-looping service
//! and tasks that wait on a placement constraint. Each is of its deployment's own shape, not
//! the worst case. [`plan_scale_out`] therefore:
//!
//! 1. packs them first-fit decreasing onto the room **already free** on the counted (ACTIVE,
//!    agent connected) instances ([`ClusterCapacity::rooms`]), every resource at once (CPU,
//!    memory, GPUs, an ENI slot for `awsvpc`, static ports — one task per port per host);
//!    DRAINING, REGISTERING and disconnected instances offer nothing;
//! 2. packs what does not fit there onto new hosts of the type the group launches next
//!    ([`ClusterCapacity::new_host`]: known from the group's instance types, else the
//!    cluster's largest registered type), each of which first reserves one task of every
//!    DAEMON service;
//! 3. adds hosts until the room **left** (on the existing hosts after step 1, plus what the
//!    new hosts have left) holds the headroom of worst-case tasks.
//!
//! A service ECS reported a placement failure for ([`Demand::placement_failures`]) skips
//! step 1: ECS has just tried the room we read and found it short (the room changed since it
//! was read, or a placement constraint excludes those hosts), so its tasks are sized for on
//! new hosts.

use std::borrow::Cow;

use crate::packing::{Packer, size_key, sort_decreasing};
use crate::{ClusterCapacity, HostRoom, ScalePolicy, TaskShape};

/// Tasks of one service deployment that wait for room.
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

/// ECS's word that it could not place a service's task: the `SERVICE_TASK_PLACEMENT_FAILURE`
/// event (`detail.reason`, the service in `resources`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PlacementFailure {
    /// The service, as a name or ARN (`…:service/cluster/name`): it matches an
    /// [`UnplacedTasks::service`] given either way.
    pub service: String,
    /// ECS's reason, e.g. `RESOURCE:MEMORY`, `RESOURCE:CPU`, `RESOURCE:PORTS`,
    /// `RESOURCE:ENI`, `RESOURCE:GPU`, `ATTRIBUTE`.
    pub reason: String,
}

impl PlacementFailure {
    pub fn new(service: impl Into<String>, reason: impl Into<String>) -> PlacementFailure {
        PlacementFailure {
            service: service.into(),
            reason: reason.into(),
        }
    }

    /// Whether the failure says the room free on the cluster's EC2 hosts is short for the
    /// service. Every reason does (a resource ECS found short — CPU, MEMORY, PORTS,
    /// PORTS_UDP, GPU, ENI — or an attribute or constraint no current host meets) except
    /// `RESOURCE:FARGATE`, which is about Fargate capacity, not about these hosts.
    pub fn rules_out_existing_room(&self) -> bool {
        !self.reason.trim().eq_ignore_ascii_case("RESOURCE:FARGATE")
    }

    /// Whether this failure is about `service` (a name or ARN, compared by the service's
    /// name: the part after the last `/`).
    pub fn concerns(&self, service: &str) -> bool {
        service_name(&self.service) == service_name(service)
    }
}

fn service_name(service: &str) -> &str {
    service.rsplit('/').next().unwrap_or(service)
}

/// What waits for room, and what every new host runs before anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// Tasks that wait, per service deployment.
    pub unplaced: Vec<UnplacedTasks>,
    /// One task of each DAEMON service: reserved on every new host before packing.
    pub daemons: Vec<TaskShape>,
    /// Placement failures ECS reported for this run (the event that triggered it): the
    /// waiting tasks of these services are not placed on the room already free, only on new
    /// hosts. Empty on a scheduled run or a container-instance event.
    pub placement_failures: Vec<PlacementFailure>,
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

    /// The placement failure that keeps `service`'s tasks off the room already free, if any.
    pub fn failure_of(&self, service: &str) -> Option<&PlacementFailure> {
        self.placement_failures
            .iter()
            .find(|f| f.rules_out_existing_room() && f.concerns(service))
    }
}

/// How many hosts a scale-out adds, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScaleOutPlan {
    /// New hosts in all.
    pub hosts: u32,
    /// Of those, the hosts the waiting tasks that did not fit the room already free were
    /// packed onto.
    pub hosts_for_unplaced: u32,
    /// Waiting tasks that fit nowhere: neither on the room free on a counted host nor on a
    /// new host of the type added even when empty (with its daemons): adding hosts of this
    /// type will not place them.
    pub unplaceable: u64,
    /// Waiting tasks placed on the room already free on counted hosts.
    pub placed_on_existing: u64,
    /// Waiting tasks that skipped that room because ECS reported a placement failure for
    /// their service.
    pub kept_off_existing: u64,
    /// Worst-case slots left on the counted hosts once the waiting tasks placed there took
    /// theirs (ContainerCapacity when nothing waits).
    pub room_left: u64,
}

impl ScaleOutPlan {
    /// Waiting tasks that need a new host (packed onto one, or fit on none): only these
    /// keep a cluster from scaling in.
    pub fn waiting_beyond_existing_room(&self, demand: &Demand) -> u64 {
        demand
            .unplaced_count()
            .saturating_sub(self.placed_on_existing)
    }
}

/// The fewest new hosts of the type the group launches ([`ClusterCapacity::new_host`]) that
/// hold every task of `demand.unplaced` that does not fit on the room already free on
/// the counted instances **and** leave `policy.headroom()` worst-case tasks free on the room
/// left (existing and new) — see the module's three steps.
///
/// With nothing waiting this is exactly [`ClusterCapacity::hosts_to_add`] (the headroom rule).
/// With no counted instance the waiting tasks and the headroom are sized on the type the
/// group launches (scale from zero); when that is not known either, one host (the next run
/// refines it).
///
/// Packing is first-fit decreasing over all resources at once, with one packer for both
/// steps: shapes sorted by their dominant share of the new host, each task onto the
/// first room it fits. **Bound:** for one resource FFD uses at most 11/9·OPT + 6/9 hosts;
/// over d resources at once first fit is within (d + 0.7)·OPT + 1 (Garey, Graham, Johnson
/// and Yao, 1976) — never fewer than needed, occasionally more than the optimum when shapes
/// are lopsided in different resources. In practice, with a few shapes per cluster, it is
/// the optimum or one above. Filling the room already free first never needs more new hosts
/// than packing everything onto new hosts would, up to that same bound.
///
/// Cost: O(S log S + B + T·log(B + N)) typically for T tasks of S shapes, B counted hosts and
/// N new hosts (the packer's first-fit search; see `packing`), O(T·(B + N)) at worst.
pub fn plan_scale_out(
    capacity: &ClusterCapacity,
    demand: &Demand,
    policy: &ScalePolicy,
) -> ScaleOutPlan {
    let headroom_rule = || capacity.hosts_to_add(policy);
    if demand.unplaced.iter().all(|u| u.count == 0) {
        return ScaleOutPlan {
            hosts: headroom_rule(),
            room_left: capacity.container_capacity(),
            ..ScaleOutPlan::default()
        };
    }
    let worst = &capacity.worst_case();
    let size_of = capacity
        .new_host()
        .map(|t| t.registered.clone())
        .unwrap_or_default();

    // Step 1: the room already free.
    let mut existing = Packer::watching(
        capacity.rooms().iter().map(Cow::Borrowed),
        worst,
        demand.unplaced.iter().map(|u| &u.shape),
    );
    let mut shapes: Vec<(&TaskShape, u32)> = Vec::new();
    let mut kept_off_existing = 0u64;
    let mut waiting: Vec<(&TaskShape, u32, bool)> = demand
        .unplaced
        .iter()
        .filter(|u| u.count > 0)
        .map(|u| (&u.shape, u.count, demand.failure_of(&u.service).is_some()))
        .collect();
    waiting.sort_by_key(|(shape, ..)| std::cmp::Reverse(size_key(shape, &size_of)));
    let mut placed_on_existing = 0u64;
    for (shape, count, kept_off) in waiting {
        if kept_off {
            kept_off_existing += u64::from(count);
            shapes.push((shape, count));
            continue;
        }
        let mut left = count;
        while left > 0 && existing.place(shape).is_some() {
            left -= 1;
        }
        placed_on_existing += u64::from(count - left);
        if left > 0 {
            shapes.push((shape, left));
        }
    }
    let room_left = existing.free_slots();

    // Step 2: new hosts of the type the group launches (else the largest) for the rest.
    let Some(template) = capacity.new_host() else {
        return ScaleOutPlan {
            hosts: 1,
            hosts_for_unplaced: 1,
            kept_off_existing,
            ..ScaleOutPlan::default()
        };
    };
    let mut empty = HostRoom::empty(template);
    for daemon in &demand.daemons {
        if empty.fits(daemon) {
            empty.take(daemon);
        }
    }
    sort_decreasing(&mut shapes, &template.registered);
    let mut new_hosts = Packer::watching([], worst, shapes.iter().map(|(s, _)| *s));
    let mut unplaceable = 0u64;
    for (shape, count) in shapes {
        if !empty.fits(shape) {
            unplaceable += u64::from(count);
            continue;
        }
        for _ in 0..count {
            if new_hosts.place(shape).is_none() {
                let i = new_hosts.push(empty.clone());
                new_hosts.take(i, shape);
            }
        }
    }

    // Step 3: the headroom, on the room left.
    let headroom = u64::from(policy.headroom());
    let free = room_left + new_hosts.free_slots();
    let per_empty_host = u64::from(empty.worst_case_slots(worst));
    let for_headroom = if free >= headroom || per_empty_host == 0 {
        0
    } else {
        (headroom - free).div_ceil(per_empty_host)
    };
    let for_unplaced = u32::try_from(new_hosts.len()).unwrap_or(u32::MAX);
    ScaleOutPlan {
        hosts: for_unplaced.saturating_add(u32::try_from(for_headroom).unwrap_or(u32::MAX)),
        hosts_for_unplaced: for_unplaced,
        unplaceable,
        placed_on_existing,
        kept_off_existing,
        room_left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContainerInstance, Resources, WorstCase, cluster_capacity};

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
            ..Demand::default()
        };
        let p = plan(&demand, 1);
        assert_eq!((p.hosts, p.hosts_for_unplaced, p.unplaceable), (3, 3, 0));
        // 12 tasks fill 3 hosts exactly: one more for the headroom.
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 1024, 4096), 12)],
            daemons: vec![],
            ..Demand::default()
        };
        assert_eq!(plan(&demand, 1).hosts, 4);
    }

    #[test]
    fn a_static_port_puts_one_task_on_each_host() {
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 256, 512).with_port(80), 5)],
            daemons: vec![],
            ..Demand::default()
        };
        // 5 hosts, each with port 80 taken: the 6th holds the headroom.
        assert_eq!(plan(&demand, 1).hosts, 6);
    }

    #[test]
    fn a_daemon_is_reserved_on_every_new_host_first() {
        let demand = Demand {
            unplaced: vec![unplaced(TaskShape::new("web:1", 2048, 4096), 4)],
            daemons: vec![TaskShape::new("agent:1", 512, 512)],
            ..Demand::default()
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
            ..Demand::default()
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
            ..Demand::default()
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
