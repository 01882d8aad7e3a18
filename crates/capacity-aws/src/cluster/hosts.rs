//! The cluster as the consolidation plan needs it: every container instance with the shapes of
//! the tasks on it ([`cluster_hosts`]), and whether those shapes can be vouched for.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use capacity_core::consolidation::Unconsolidatable;
use capacity_core::{ClusterHost, ContainerInstance, InstanceStatus, ScaleInPlan, TaskShape};

use crate::group::AutoScalingGroup;

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
    pub marks: crate::attributes::InstanceMarks,
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

/// What the Auto Scaling group says of the cluster's hosts, for the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFit {
    /// Container instance id → lifecycle state, of the hosts the group is terminating.
    pub leaving: BTreeMap<String, String>,
    /// Container instances whose EC2 instance is not in the group.
    pub not_in_group: BTreeSet<String>,
    /// EC2 ids of the group's InService instances that no container instance runs on.
    pub not_in_cluster: Vec<String>,
}

/// The hosts as the plan for `group` must see them ([`cluster_hosts`] of `instances`, then):
///
/// * a host whose EC2 instance the group is terminating ([`GroupInstance::is_leaving`]) is
///   **leaving**: planned like a DRAINING host (no room, its tasks move, counted against the
///   budget, never planned again). The step policy lowers the desired capacity at once; the
///   drainer sets DRAINING only when the lifecycle hook fires, and a second alarm evaluation
///   in between must not remove the same hosts' worth again.
/// * a host whose EC2 instance is not in the group is never planned (the group cannot remove
///   it); its room still takes tasks.
/// * the group's InService instances that are no container instance of the cluster are the
///   plan's hosts not in the cluster (nothing to drain).
///
/// [`relabel`] then gives the hosts kept for these reasons their own
/// [`Unconsolidatable`] words.
///
/// [`GroupInstance::is_leaving`]: crate::group::GroupInstance::is_leaving
pub fn hosts_in_group(
    instances: &[ContainerInstance],
    placement: &TaskPlacement,
    group: &AutoScalingGroup,
) -> (Vec<ClusterHost>, GroupFit) {
    let mut fit = GroupFit::default();
    let adjusted: Vec<ContainerInstance> = instances
        .iter()
        .map(|instance| {
            let mut instance = instance.clone();
            match instance
                .ec2_instance_id
                .as_deref()
                .and_then(|ec2| group.instance(ec2))
            {
                Some(member) if member.is_leaving() => {
                    fit.leaving
                        .insert(instance.id.clone(), member.lifecycle_state.clone());
                    if instance.status == InstanceStatus::Active {
                        instance.status = InstanceStatus::Draining;
                    }
                }
                Some(_) => {}
                None => {
                    fit.not_in_group.insert(instance.id.clone());
                }
            }
            instance
        })
        .collect();
    let registered: BTreeSet<&str> = instances
        .iter()
        .filter_map(|i| i.ec2_instance_id.as_deref())
        .collect();
    fit.not_in_cluster = group
        .instances
        .iter()
        .filter(|i| i.is_in_service() && !registered.contains(i.instance_id.as_str()))
        .map(|i| i.instance_id.clone())
        .collect();
    let mut hosts = cluster_hosts(&adjusted, placement);
    for host in &mut hosts {
        if fit.not_in_group.contains(&host.instance.id) {
            // Never a candidate: the plan keeps do-not-disrupt hosts' room and never
            // chooses them, which is what a host the group cannot remove needs.
            host.do_not_disrupt = true;
        }
    }
    (hosts, fit)
}

/// The plan's reasons for the hosts [`hosts_in_group`] set apart: a leaving host kept as
/// DRAINING is [`Unconsolidatable::Leaving`], a host outside the group kept as do-not-disrupt
/// is [`Unconsolidatable::NotInGroup`].
pub fn relabel(plan: &mut ScaleInPlan, fit: &GroupFit) {
    for kept in &mut plan.keep {
        if let Some(state) = fit.leaving.get(&kept.id)
            && kept.why == Unconsolidatable::Draining
        {
            kept.why = Unconsolidatable::Leaving {
                lifecycle_state: state.clone(),
            };
        } else if fit.not_in_group.contains(&kept.id) && kept.why == Unconsolidatable::DoNotDisrupt
        {
            kept.why = Unconsolidatable::NotInGroup;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use capacity_core::Resources;

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

    fn on(id: &str, ec2: &str, remaining: (u32, u32)) -> ContainerInstance {
        ContainerInstance {
            ec2_instance_id: Some(ec2.to_owned()),
            ..host(id, remaining)
        }
    }

    #[test]
    fn the_group_makes_terminating_hosts_leaving_and_strangers_unplannable() {
        use crate::group::FakeGroup;
        use capacity_core::{ScaleInInput, WorstCase, plan_scale_in};
        let group = FakeGroup::with(
            "g",
            0,
            4,
            &[
                ("i-leaving", "Terminating:Wait"),
                ("i-empty", "InService"),
                ("i-busy", "InService"),
                ("i-booting", "InService"),
                ("i-pending", "Pending"),
            ],
        )
        .group
        .unwrap();
        let instances = [
            // The group is terminating it; it still runs a task (its load must move).
            on("leaving", "i-leaving", (3072, 6144)),
            on("empty", "i-empty", (4096, 8192)),
            on("busy", "i-busy", (2048, 4096)),
            // Registered from an instance the group does not own.
            on("outsider", "i-outsider", (4096, 8192)),
        ];
        let p = placement(
            &[("leaving", 1), ("empty", 0), ("busy", 2), ("outsider", 0)],
            Some(&[("leaving", 1), ("busy", 2)]),
        );
        let (hosts, fit) = hosts_in_group(&instances, &p, &group);
        assert_eq!(hosts[0].instance.status, InstanceStatus::Draining);
        assert_eq!(hosts[0].tasks.len(), 1);
        assert!(hosts[3].do_not_disrupt);
        assert_eq!(
            fit.not_in_cluster,
            ["i-booting"],
            "Pending is not yet a host"
        );
        assert_eq!(
            fit.leaving,
            BTreeMap::from([("leaving".to_owned(), "Terminating:Wait".to_owned())])
        );

        let worst = WorstCase::cpu_memory(1024, 2048).unwrap();
        let since = BTreeMap::new();
        let mut plan = plan_scale_in(&ScaleInInput {
            not_in_cluster: &fit.not_in_cluster,
            stability_window: std::time::Duration::ZERO,
            budget: capacity_core::DisruptionBudget::Hosts(3),
            ..ScaleInInput::new(&hosts, &worst, 1000, &since)
        });
        relabel(&mut plan, &fit);
        assert_eq!(
            plan.draining, 1,
            "the leaving host counts against the budget"
        );
        assert!(
            !plan.ids().contains(&"outsider") && !plan.ids().contains(&"leaving"),
            "{plan}"
        );
        assert_eq!(
            plan.why_kept("leaving"),
            Some(&Unconsolidatable::Leaving {
                lifecycle_state: "Terminating:Wait".to_owned()
            })
        );
        assert_eq!(
            plan.why_kept("outsider"),
            Some(&Unconsolidatable::NotInGroup)
        );
        // The leaving host's task is placed on a host that stays, never on itself.
        assert!(
            plan.placements
                .iter()
                .any(|pl| pl.from == "leaving" && pl.onto != "leaving"),
            "{:?}",
            plan.placements
        );
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
