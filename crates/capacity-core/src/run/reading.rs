//! The cluster as one reading saw it, as the plan needs it: every container instance with the
//! shapes of the tasks on it ([`cluster_hosts`]), and whether those shapes can be vouched for;
//! the one assessment of a reading ([`assess_reading`]).

use std::collections::{BTreeSet, HashMap};

use crate::mark::InstanceMarks;
use crate::{
    Assessment, CapacityError, ClusterHost, ContainerInstance, Demand, InstanceStatus, ScalePolicy,
    TaskShape, WorstCase, assess, cluster_capacity,
};

/// Where the read's tasks run: for each container instance (by ARN), the shapes of the tasks
/// the last task listing saw on it, and the task counts ECS described it with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPlacement {
    /// Container instance ARN → the shapes of its tasks, as the last listing saw them;
    /// `None` when the tasks were not listed (a configured worst case, or none recent).
    pub shapes: Option<HashMap<String, Vec<TaskShape>>>,
    /// Container instance ARN → `runningTasksCount + pendingTasksCount`, as described.
    pub task_counts: HashMap<String, u64>,
    /// Container instances carrying the do-not-disrupt attribute.
    pub do_not_disrupt: BTreeSet<String>,
    /// The attributes of this project on each container instance (its marks), by ARN.
    pub marks: InstanceMarks,
}

/// Every container instance of `instances` as a [`ClusterHost`]. A host's tasks are
/// **known** only when the reading vouches for them as a whole:
///
/// * ECS counts no task on it and its remaining CPU and memory equal its registered ones
///   (an empty host: known without any listing); or
/// * the listing saw as many tasks on it as ECS counts, and their shapes reserve exactly what
///   ECS says is taken (registered − remaining, CPU and memory): a task started or stopped
///   since the listing, or one still stopping, shows as a difference.
///
/// A host whose tasks are not known keeps its room for the others but is never planned. A
/// DRAINING host whose tasks are not known is given one task of everything it has taken (its
/// whole used CPU and memory as one shape): its load must be re-placed first, and one large
/// piece is never easier to place than its parts.
pub fn cluster_hosts(
    instances: &[ContainerInstance],
    placement: &TaskPlacement,
) -> Vec<ClusterHost> {
    instances
        .iter()
        .map(|instance| {
            let tasks = known_tasks(instance, placement);
            let tasks_known = tasks.is_some();
            let tasks = match tasks {
                Some(tasks) => tasks,
                None if instance.status == InstanceStatus::Draining => {
                    used_as_one(instance).into_iter().collect()
                }
                None => Vec::new(),
            };
            ClusterHost {
                tasks,
                do_not_disrupt: placement.do_not_disrupt.contains(&instance.id),
                tasks_known,
                ..ClusterHost::new(instance.clone(), Vec::new())
            }
        })
        .collect()
}

fn known_tasks(instance: &ContainerInstance, placement: &TaskPlacement) -> Option<Vec<TaskShape>> {
    let used_cpu = instance
        .registered
        .cpu
        .checked_sub(instance.remaining.cpu)?;
    let used_memory = instance
        .registered
        .memory_mib
        .checked_sub(instance.remaining.memory_mib)?;
    let count = placement.task_counts.get(&instance.id).copied();
    if count == Some(0) && used_cpu == 0 && used_memory == 0 {
        return Some(Vec::new());
    }
    let listed = placement
        .shapes
        .as_ref()?
        .get(&instance.id)
        .cloned()
        .unwrap_or_default();
    let reserved_cpu: u64 = listed.iter().map(|t| u64::from(t.cpu)).sum();
    let reserved_memory: u64 = listed.iter().map(|t| u64::from(t.memory_mib)).sum();
    (count == Some(listed.len() as u64)
        && reserved_cpu == u64::from(used_cpu)
        && reserved_memory == u64::from(used_memory))
    .then_some(listed)
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
pub fn assess_reading(
    instances: &[ContainerInstance],
    worst: &WorstCase,
    demand: &Demand,
    policy: &ScalePolicy,
) -> Result<Assessment, CapacityError> {
    Ok(assess(&cluster_capacity(instances, worst)?, policy, demand))
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

    fn web() -> TaskShape {
        TaskShape::new("web:1", 1024, 2048)
    }

    fn placement(counts: &[(&str, u64)], listed: Option<&[(&str, usize)]>) -> TaskPlacement {
        TaskPlacement {
            shapes: listed.map(|l| {
                l.iter()
                    .map(|(id, n)| ((*id).to_owned(), vec![web(); *n]))
                    .collect()
            }),
            task_counts: counts
                .iter()
                .map(|(id, n)| ((*id).to_owned(), *n))
                .collect(),
            do_not_disrupt: BTreeSet::new(),
            marks: Default::default(),
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
        let hosts = cluster_hosts(&instances, &p);
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
        let hosts = cluster_hosts(&instances, &p);
        assert!(hosts[0].tasks_known && hosts[0].tasks.is_empty());
        assert!(!hosts[1].tasks_known);
        assert!(!hosts[2].tasks_known);
        assert_eq!(
            (hosts[2].tasks[0].cpu, hosts[2].tasks[0].memory_mib),
            (3072, 6144),
            "what the draining host holds must be re-placed"
        );
        // A DRAINING host that holds nothing has nothing to move.
        let mut empty_draining = host("empty-draining", (4096, 8192));
        empty_draining.status = InstanceStatus::Draining;
        let p = placement(&[], None);
        assert!(cluster_hosts(&[empty_draining], &p)[0].tasks.is_empty());
        // An empty host ECS still counts a task on (one stopping) is not known.
        let p = placement(&[("empty", 1)], None);
        assert!(!cluster_hosts(&instances[..1], &p)[0].tasks_known);
    }
}
