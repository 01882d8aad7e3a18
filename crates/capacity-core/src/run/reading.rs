//! The cluster as one reading saw it, as the plan needs it: every container instance with the
//! shapes of the tasks on it ([`cluster_hosts`]), and whether those shapes can be vouched for;
//! the one assessment of a reading ([`assess_reading`]).

use std::collections::{BTreeMap, HashMap};

use crate::consolidation::{DO_NOT_DISRUPT_ATTRIBUTE, HostTask, TaskOwner, marks_do_not_disrupt};
use crate::fit::{GroupLaunch, next_type};
use crate::mark::{InstanceMarks, OUR_PREFIX};
use crate::{
    Assessment, CapacityError, ClusterHost, ContainerInstance, Demand, InstanceStatus, ScalePolicy,
    TaskShape, WorstCase, assess, cluster_capacity,
};

/// Where the read's tasks run: for each container instance (by ARN), the tasks the last task
/// listing saw on it (with their owners), and the task counts ECS described it with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPlacement {
    /// Container instance ARN → its tasks, as the last listing saw them; `None` when the
    /// tasks were not listed (a configured worst case, or none recent).
    pub tasks: Option<HashMap<String, Vec<HostTask>>>,
    /// Container instance ARN → `runningTasksCount + pendingTasksCount`, as described.
    pub task_counts: HashMap<String, u64>,
}

/// Every container instance of `instances` as a [`ClusterHost`], its do-not-disrupt mark
/// taken from its attributes (so an event that brings the instance brings the mark). A host's
/// tasks are **known** only when the reading vouches for them as a whole:
///
/// * ECS counts no task on it and its remaining CPU and memory equal its registered ones
///   (an empty host: known without any listing);
/// * ECS counts exactly one task of every DAEMON service on it (`daemons`) and they reserve
///   exactly what ECS says is taken: a host running only daemon tasks, empty as managed
///   scaling counts it, known without a listing too (with `CONTAINER_MAX_*` set the tasks are
///   never listed);
/// * or the listing saw as many tasks on it as ECS counts, and their shapes reserve exactly
///   what ECS says is taken (registered − remaining, CPU and memory): a task started or
///   stopped since the listing, or one still stopping, shows as a difference.
///
/// A host whose tasks are not known keeps its room for the others but is never planned. A
/// DRAINING host whose tasks are not known is given one task of everything it has taken (its
/// whole used CPU and memory as one shape): its load must be re-placed first, and one large
/// piece is never easier to place than its parts.
pub fn cluster_hosts(
    instances: &[ContainerInstance],
    placement: &TaskPlacement,
    daemons: &[TaskShape],
) -> Vec<ClusterHost> {
    instances
        .iter()
        .map(|instance| {
            let tasks = known_tasks(instance, placement, daemons);
            let tasks_known = tasks.is_some();
            let tasks = match tasks {
                Some(tasks) => tasks,
                None if instance.status == InstanceStatus::Draining => used_as_one(instance)
                    .map(|shape| HostTask {
                        owner: TaskOwner::Service(shape.name.clone()),
                        shape,
                    })
                    .into_iter()
                    .collect(),
                None => Vec::new(),
            };
            ClusterHost {
                tasks,
                do_not_disrupt: instance
                    .attributes
                    .get(DO_NOT_DISRUPT_ATTRIBUTE)
                    .is_some_and(|v| marks_do_not_disrupt(Some(v))),
                tasks_known,
                ..ClusterHost::new(instance.clone(), Vec::new())
            }
        })
        .collect()
}

/// The attributes of this project each instance carries (names starting with
/// [`OUR_PREFIX`]), by container instance ARN; instances carrying none are left out.
pub fn marks_of(instances: &[ContainerInstance]) -> InstanceMarks {
    instances
        .iter()
        .filter_map(|i| {
            let ours: BTreeMap<String, String> = i
                .attributes
                .iter()
                .filter(|(name, _)| name.starts_with(OUR_PREFIX))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            (!ours.is_empty()).then(|| (i.id.clone(), ours))
        })
        .collect()
}

fn known_tasks(
    instance: &ContainerInstance,
    placement: &TaskPlacement,
    daemons: &[TaskShape],
) -> Option<Vec<HostTask>> {
    let used_cpu = instance
        .registered
        .cpu
        .checked_sub(instance.remaining.cpu)?;
    let used_memory = instance
        .registered
        .memory_mib
        .checked_sub(instance.remaining.memory_mib)?;
    let count = placement.task_counts.get(&instance.id).copied();
    let reserves_exactly = |tasks: &[HostTask]| {
        let cpu: u64 = tasks.iter().map(|t| u64::from(t.shape.cpu)).sum();
        let memory: u64 = tasks.iter().map(|t| u64::from(t.shape.memory_mib)).sum();
        count == Some(tasks.len() as u64)
            && cpu == u64::from(used_cpu)
            && memory == u64::from(used_memory)
    };
    if count == Some(0) && used_cpu == 0 && used_memory == 0 {
        return Some(Vec::new());
    }
    if let Some(listed) = placement.tasks.as_ref() {
        let listed = listed.get(&instance.id).cloned().unwrap_or_default();
        return reserves_exactly(&listed).then_some(listed);
    }
    let daemon_tasks: Vec<HostTask> = daemons
        .iter()
        .map(|shape| HostTask {
            shape: shape.clone(),
            owner: TaskOwner::Daemon(shape.name.clone()),
        })
        .collect();
    (!daemon_tasks.is_empty() && reserves_exactly(&daemon_tasks)).then_some(daemon_tasks)
}

/// What `instance` has taken, as one task; `None` when it has taken nothing.
fn used_as_one(instance: &ContainerInstance) -> Option<TaskShape> {
    let cpu = instance
        .registered
        .cpu
        .saturating_sub(instance.remaining.cpu);
    let memory = instance
        .registered
        .memory_mib
        .saturating_sub(instance.remaining.memory_mib);
    (cpu > 0 || memory > 0)
        .then(|| TaskShape::new(format!("everything on {}", instance.id), cpu, memory))
}

/// The one assessment of a reading: the cluster's capacity in `worst` tasks, with what waits
/// for room (`demand`), under `policy`. The calculator publishes it and `ecs-capacity report`
/// prints it, so the same reading gives the same figures in both.
///
/// `launch`: the group's instance types, when read: new hosts are then sized on the type it
/// launches next ([`crate::fit::next_type`]), also when no host is registered (scale from
/// zero); without them, on the largest registered type.
pub fn assess_reading(
    instances: &[ContainerInstance],
    worst: &WorstCase,
    demand: &Demand,
    policy: &ScalePolicy,
    launch: Option<&GroupLaunch>,
) -> Result<Assessment, CapacityError> {
    let mut capacity = cluster_capacity(instances, worst)?;
    if let Some((host, weight)) = launch.and_then(|l| next_type(l, instances, worst)) {
        capacity = capacity.launching(host, weight);
    }
    Ok(assess(&capacity, policy, demand))
}

/// The cluster's tasks to fit on an instance type ([`crate::fit::fit`]): every task the last
/// listing saw that is not a daemon's (daemons run on every host of any type), and the tasks
/// that wait for room, as (shape, count) by task definition. `None` without a listing.
pub fn tasks_to_fit(placement: &TaskPlacement, demand: &Demand) -> Option<Vec<(TaskShape, u32)>> {
    let listed = placement.tasks.as_ref()?;
    let mut counts: BTreeMap<String, (TaskShape, u32)> = BTreeMap::new();
    let mut add = |shape: &TaskShape, n: u32| {
        counts
            .entry(shape.name.clone())
            .or_insert_with(|| (shape.clone(), 0))
            .1 += n;
    };
    for task in listed.values().flatten() {
        if !matches!(task.owner, TaskOwner::Daemon(_)) {
            add(&task.shape, 1);
        }
    }
    for waiting in &demand.unplaced {
        add(&waiting.shape, waiting.count);
    }
    Some(counts.into_values().filter(|(_, n)| *n > 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resources;

    fn host(id: &str, remaining: (u32, u32)) -> ContainerInstance {
        ContainerInstance::active(
            id,
            Resources::new(4096, 8192),
            Resources::new(remaining.0, remaining.1),
        )
    }

    fn web() -> HostTask {
        HostTask::of_service(TaskShape::new("web:1", 1024, 2048), "web")
    }

    fn placement(counts: &[(&str, u64)], listed: Option<&[(&str, usize)]>) -> TaskPlacement {
        TaskPlacement {
            tasks: listed.map(|l| {
                l.iter()
                    .map(|(id, n)| ((*id).to_owned(), vec![web(); *n]))
                    .collect()
            }),
            task_counts: counts
                .iter()
                .map(|(id, n)| ((*id).to_owned(), *n))
                .collect(),
        }
    }

    #[test]
    fn tasks_are_known_only_when_the_counts_and_the_reservations_agree() {
        let instances = [
            host("empty", (4096, 8192)),
            host("two", (2048, 4096)),
            host("started-since", (1024, 2048)),
            host("unlisted", (3072, 6144)),
        ];
        let p = placement(
            &[
                ("empty", 0),
                ("two", 2),
                ("started-since", 3),
                ("unlisted", 1),
            ],
            Some(&[("two", 2), ("started-since", 2)]),
        );
        let hosts = cluster_hosts(&instances, &p, &[]);
        let known: Vec<(bool, usize)> = hosts
            .iter()
            .map(|h| (h.tasks_known, h.tasks.len()))
            .collect();
        assert_eq!(known, [(true, 0), (true, 2), (false, 0), (false, 0)]);
    }

    #[test]
    fn without_a_listing_only_empty_hosts_are_known_and_a_draining_one_moves_all_it_holds() {
        let mut draining = host("draining", (1024, 2048));
        draining.status = InstanceStatus::Draining;
        let instances = [
            host("empty", (4096, 8192)),
            host("busy", (2048, 4096)),
            draining,
        ];
        let p = placement(&[("empty", 0), ("busy", 2), ("draining", 3)], None);
        let hosts = cluster_hosts(&instances, &p, &[]);
        assert!(hosts[0].tasks_known && hosts[0].tasks.is_empty());
        assert!(!hosts[1].tasks_known);
        assert!(!hosts[2].tasks_known);
        assert_eq!(
            (
                hosts[2].tasks[0].shape.cpu,
                hosts[2].tasks[0].shape.memory_mib
            ),
            (3072, 6144),
            "what the draining host holds must be re-placed"
        );
        // A DRAINING host that holds nothing has nothing to move.
        let mut empty_draining = host("empty-draining", (4096, 8192));
        empty_draining.status = InstanceStatus::Draining;
        let p = placement(&[], None);
        assert!(
            cluster_hosts(&[empty_draining], &p, &[])[0]
                .tasks
                .is_empty()
        );
        // An empty host ECS still counts a task on (one stopping) is not known.
        let p = placement(&[("empty", 1)], None);
        assert!(!cluster_hosts(&instances[..1], &p, &[])[0].tasks_known);
    }

    #[test]
    fn a_host_running_only_its_daemon_tasks_is_known_without_a_listing() {
        let agent = TaskShape::new("log-agent:3", 256, 512);
        let instances = [
            host("daemon-only", (4096 - 256, 8192 - 512)),
            host("daemon-and-more", (4096 - 256 - 1024, 8192 - 512 - 2048)),
        ];
        let p = placement(&[("daemon-only", 1), ("daemon-and-more", 2)], None);
        let hosts = cluster_hosts(&instances, &p, std::slice::from_ref(&agent));
        assert!(hosts[0].tasks_known);
        assert_eq!(
            hosts[0].tasks,
            [HostTask {
                shape: agent,
                owner: TaskOwner::Daemon("log-agent:3".to_owned())
            }]
        );
        assert!(!hosts[1].tasks_known, "another task runs there");
    }

    #[test]
    fn do_not_disrupt_and_the_marks_come_from_the_instances_attributes() {
        let mut marked = host("marked", (4096, 8192));
        marked
            .attributes
            .insert(DO_NOT_DISRUPT_ATTRIBUTE.to_owned(), String::new());
        marked
            .attributes
            .insert("ecs.availability-zone".to_owned(), "eu-west-1a".to_owned());
        let mut off = host("off", (4096, 8192));
        off.attributes
            .insert(DO_NOT_DISRUPT_ATTRIBUTE.to_owned(), "false".to_owned());
        let instances = [marked, off];
        let hosts = cluster_hosts(&instances, &placement(&[], None), &[]);
        assert!(hosts[0].do_not_disrupt && !hosts[1].do_not_disrupt);
        let marks = marks_of(&instances);
        assert_eq!(
            marks.keys().collect::<Vec<_>>(),
            ["marked", "off"],
            "only this project's attributes"
        );
        assert!(!marks["marked"].contains_key("ecs.availability-zone"));
    }
}
