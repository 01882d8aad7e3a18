//! The Auto Scaling group beside the cluster, as one read saw it ([`AutoScalingGroup`]), and
//! what it says of the cluster's hosts for the plan ([`hosts_in_group`]).

use std::collections::{BTreeMap, BTreeSet};

use super::reading::{TaskPlacement, cluster_hosts};
use crate::consolidation::Unconsolidatable;
use crate::fit::LaunchSpec;
use crate::placement::ZONE_ATTRIBUTE;
use crate::{ClusterHost, ContainerInstance, InstanceStatus, ScaleInPlan, TaskShape};

/// The lifecycle states of an instance the group is terminating (Auto Scaling's
/// `LifecycleState`; `Terminating:Wait` while the lifecycle hook drains it).
pub const LEAVING_STATES: [&str; 4] = [
    "Terminating",
    "Terminating:Wait",
    "Terminating:Proceed",
    "Terminated",
];

/// One instance of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstance {
    pub instance_id: String,
    /// Auto Scaling's `LifecycleState`, as sent (`InService`, `Terminating:Wait`, …).
    pub lifecycle_state: String,
    /// Its Availability Zone, as the group reports it.
    pub availability_zone: Option<String>,
}

impl GroupInstance {
    pub fn new(instance_id: &str, lifecycle_state: &str) -> GroupInstance {
        GroupInstance {
            instance_id: instance_id.to_owned(),
            lifecycle_state: lifecycle_state.to_owned(),
            availability_zone: None,
        }
    }

    /// The same instance in `zone`.
    pub fn in_zone(mut self, zone: &str) -> GroupInstance {
        self.availability_zone = Some(zone.to_owned());
        self
    }

    /// The group is terminating it ([`LEAVING_STATES`]).
    pub fn is_leaving(&self) -> bool {
        LEAVING_STATES.contains(&self.lifecycle_state.as_str())
    }

    /// In service: a host the group counts and may remove.
    pub fn is_in_service(&self) -> bool {
        self.lifecycle_state == "InService"
    }
}

/// An Auto Scaling group as one read saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoScalingGroup {
    pub name: String,
    pub arn: Option<String>,
    pub min_size: u32,
    pub desired_capacity: u32,
    pub instances: Vec<GroupInstance>,
    /// How the group launches (its launch template or configuration, or its mixed instances
    /// policy), when the read carried it: what [`crate::fit`] resolves to instance types.
    pub launch: Option<LaunchSpec>,
}

impl AutoScalingGroup {
    /// The instance `ec2_instance_id` of the group, if it is one.
    pub fn instance(&self, ec2_instance_id: &str) -> Option<&GroupInstance> {
        self.instances
            .iter()
            .find(|i| i.instance_id == ec2_instance_id)
    }

    /// How many hosts the group may still lose: `DesiredCapacity − MinSize` (0 when the
    /// desired capacity is at or below the minimum).
    pub fn removable(&self) -> u32 {
        self.desired_capacity.saturating_sub(self.min_size)
    }

    /// A group `name` of `min`..desired `desired` with these `(EC2 instance id, lifecycle
    /// state)`, and the ARN Auto Scaling would give it in eu-west-1 (for tests and the
    /// simulator).
    pub fn with(name: &str, min: u32, desired: u32, instances: &[(&str, &str)]) -> Self {
        AutoScalingGroup {
            name: name.to_owned(),
            arn: Some(format!(
                "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{name}"
            )),
            min_size: min,
            desired_capacity: desired,
            instances: instances
                .iter()
                .map(|(id, state)| GroupInstance::new(id, state))
                .collect(),
            launch: None,
        }
    }
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
pub fn hosts_in_group(
    instances: &[ContainerInstance],
    placement: &TaskPlacement,
    group: &AutoScalingGroup,
    daemons: &[TaskShape],
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
                Some(member) => {
                    if member.is_leaving() {
                        fit.leaving
                            .insert(instance.id.clone(), member.lifecycle_state.clone());
                        if instance.status == InstanceStatus::Active {
                            instance.status = InstanceStatus::Draining;
                        }
                    }
                    // The group knows the zone of every instance; the attribute may lag.
                    if let Some(zone) = &member.availability_zone
                        && instance.zone().is_none()
                    {
                        instance
                            .attributes
                            .insert(ZONE_ATTRIBUTE.to_owned(), zone.clone());
                    }
                }
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
    let mut hosts = cluster_hosts(&adjusted, placement, daemons);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resources;
    use crate::TaskShape;

    fn web() -> TaskShape {
        TaskShape::new("web:1", 1024, 2048)
    }

    fn on(id: &str, ec2: &str, remaining: (u32, u32)) -> ContainerInstance {
        ContainerInstance {
            ec2_instance_id: Some(ec2.to_owned()),
            ..ContainerInstance::active(
                id,
                Resources::new(4096, 8192),
                Resources::new(remaining.0, remaining.1),
            )
        }
    }

    fn placement(counts: &[(&str, u64)], listed: Option<&[(&str, usize)]>) -> TaskPlacement {
        TaskPlacement {
            tasks: listed.map(|l| {
                l.iter()
                    .map(|(id, n)| {
                        let tasks = vec![crate::HostTask::of_service(web(), "web"); *n];
                        ((*id).to_owned(), tasks)
                    })
                    .collect()
            }),
            task_counts: counts
                .iter()
                .map(|(id, n)| ((*id).to_owned(), *n))
                .collect(),
        }
    }

    #[test]
    fn the_group_makes_terminating_hosts_leaving_and_strangers_unplannable() {
        use crate::{ScaleInInput, WorstCase, plan_scale_in};
        let group = AutoScalingGroup::with(
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
        );
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
        let (hosts, fit) = hosts_in_group(&instances, &p, &group, &[]);
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
            budget: crate::DisruptionBudget::Hosts(3),
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
}
