//! The cluster's shape and acting on the consolidation plan in capacity-provider mode (`SCALING_MODE =
//! capacity-provider`): the calculator sets the planned container instances DRAINING itself,
//! and ECS does the rest (moves their tasks; managed termination protection releases the
//! empty host; managed scaling removes it). Pure decisions ([`changes`]); the shell carries
//! them out.
//!
//! * **Drain** the first planned hosts, at most `DesiredCapacity − MinSize − hosts already
//!   leaving` of them (the plan itself is within the disruption budget, counting every
//!   DRAINING host): each first gets the mark [`DRAINED_BY_ATTRIBUTE`] = `<unix seconds>`,
//!   then `UpdateContainerInstancesState DRAINING`. Only when the cluster's shape was checked
//!   ([`ClusterShape::check`]) and no task waits.
//! * **Undo**: when tasks wait (a placement failure, or tasks of a service ECS found no room
//!   for), every host still DRAINING that carries the mark is set ACTIVE again at once (a host
//!   that already runs is cheaper than a new one), then loses the mark. A DRAINING host
//!   without the mark was drained by someone else (an operator, the Spot interruption
//!   handling, a deployment tool): it is never touched.
//! * **Clean up**: a mark on a host that is not DRAINING (someone set it ACTIVE, or the drain
//!   call failed after the mark was put) is deleted, so that the mark always means "DRAINING
//!   because of this function".
//!
//! A retry decides the same or less: a host already DRAINING is not planned again (it counts
//! against the budget), and setting a status a host has changes nothing.

use super::{
    ActingDecision, Action, AutoScalingGroup, Chain, Decision, RunInput, Step, StepKind, Trigger,
};
use crate::consolidation::Removal;
use crate::mark::{DRAINED_BY_ATTRIBUTE, DrainedBy, InstanceAttribute, InstanceMarks};
use crate::{ContainerInstance, InstanceStatus, ScaleInPlan};

/// One Auto Scaling group capacity provider of the cluster, as ECS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProviderShape {
    pub name: String,
    /// `autoScalingGroupProvider.autoScalingGroupArn`: the group's ARN, or its name (ECS
    /// accepts either when the provider is created). `None` for a provider that is not of an
    /// Auto Scaling group (FARGATE, …).
    pub auto_scaling_group: Option<String>,
    /// `managedScaling.status == ENABLED`.
    pub managed_scaling: bool,
    /// `managedTerminationProtection == ENABLED`.
    pub managed_termination_protection: bool,
}

impl ProviderShape {
    /// Whether this provider is of the Auto Scaling group named `group`: its
    /// `autoScalingGroupArn` is that name, or an ARN ending in `autoScalingGroupName/<group>`.
    pub fn is_of_group(&self, group: &str) -> bool {
        self.auto_scaling_group.as_deref().is_some_and(|g| {
            g == group
                || g.rsplit_once(":autoScalingGroupName/")
                    .is_some_and(|(_, name)| name == group)
        })
    }
}

/// The cluster's capacity providers as one read saw them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClusterShape {
    /// The capacity providers the cluster lists (`DescribeClusters` `capacityProviders`).
    pub providers: Vec<ProviderShape>,
}

impl ClusterShape {
    /// `Ok(provider name)` when the cluster is in the shape capacity-provider mode needs for
    /// `group`; otherwise why not, naming what to change.
    pub fn check(&self, group: &str) -> Result<String, String> {
        let Some(provider) = self.providers.iter().find(|p| p.is_of_group(group)) else {
            let listed: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "no capacity provider of the cluster is of Auto Scaling group {group} (the cluster lists {}): drained hosts would never be removed",
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            ));
        };
        let mut missing = Vec::new();
        if !provider.managed_scaling {
            missing.push("managed scaling");
        }
        if !provider.managed_termination_protection {
            missing.push("managed termination protection");
        }
        if missing.is_empty() {
            Ok(provider.name.clone())
        } else {
            Err(format!(
                "capacity provider {} of Auto Scaling group {group} has {} DISABLED: nothing would remove the hosts drained (turn it on, or deploy with ScalingMode self-managed)",
                provider.name,
                missing.join(" and ")
            ))
        }
    }
}

/// The status a container instance is set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "UPPERCASE")
)]
pub enum TargetStatus {
    Draining,
    Active,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Draining => "DRAINING",
            TargetStatus::Active => "ACTIVE",
        }
    }
}

/// What one run is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// The cluster's shape checked out: hosts may be drained.
    pub drain: bool,
    /// Hosts the group may still lose (`DesiredCapacity − MinSize`), when the group was read.
    pub removable: Option<u32>,
}

/// The changes one run makes, in the order the handler makes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Acting {
    /// Marks deleted from hosts that are not DRAINING (and from the hosts reactivated, after).
    pub unmark: Vec<InstanceAttribute>,
    /// Hosts set DRAINING (each marked first), plan order.
    pub drain: Vec<String>,
    /// Hosts this function drained that are set ACTIVE again because tasks wait.
    pub reactivate: Vec<String>,
    /// DRAINING hosts without the mark: drained by someone else, left alone.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub drained_by_others: Vec<String>,
    /// Marks whose value does not parse (ARN → why): still the mark, named in the summary.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub invalid: Vec<(String, String)>,
}

impl Acting {
    /// The marks to put before draining: [`DRAINED_BY_ATTRIBUTE`] = `now` on each host drained.
    pub fn marks(&self, now: u64) -> Vec<InstanceAttribute> {
        let value = DrainedBy { at_unix_secs: now }.to_string();
        self.drain
            .iter()
            .map(|arn| InstanceAttribute::new(arn, DRAINED_BY_ATTRIBUTE, Some(&value)))
            .collect()
    }

    /// The marks to delete once the hosts are ACTIVE again.
    pub fn unmark_reactivated(&self, marks: &InstanceMarks) -> Vec<InstanceAttribute> {
        self.reactivate
            .iter()
            .map(|arn| {
                let value = marks
                    .get(arn)
                    .and_then(|m| m.get(DRAINED_BY_ATTRIBUTE))
                    .map(String::as_str);
                InstanceAttribute::new(arn, DRAINED_BY_ATTRIBUTE, value)
            })
            .collect()
    }
}

/// Capacity-provider mode's part of a run: check the cluster's shape, decide the changes
/// ([`changes`]) and order them: the hosts this function drained set ACTIVE again first when
/// tasks wait (then unmarked), stale marks deleted, then each planned host marked and set
/// DRAINING — never drained when its mark could not be put. `HostsToRemove` (the plan bounded
/// by the group) is published for observation when the group was read.
pub(super) fn act(input: &RunInput<'_>, decision: &mut Decision) {
    let verdict = match (input.provider, &input.settings.auto_scaling_group) {
        (Some(Ok(shape)), Some(group)) => shape.check(group),
        (Some(Ok(_)), None) => Err(
            "no Auto Scaling group is named: the capacity provider cannot be checked".to_owned(),
        ),
        (Some(Err(why)), _) => Err(why.to_owned()),
        (None, _) => Err("the cluster's capacity providers were not read".to_owned()),
    };
    let tasks_wait =
        input.trigger == Trigger::PlacementFailure || decision.assessment.unplaced_tasks > 0;
    let marks = &input.placement.marks;
    let acting = changes(
        &decision.plan,
        input.instances,
        marks,
        tasks_wait,
        Allowed {
            drain: verdict.is_ok(),
            removable: input.group.ok().map(AutoScalingGroup::removable),
        },
    );
    let refused = match (&verdict, input.group, tasks_wait) {
        (Err(why), _, _) => Some(why.clone()),
        (_, Err(why), _) => Some(format!("{why}: nothing is drained")),
        (_, _, true) => Some("tasks wait for room: nothing is drained".to_owned()),
        _ => None,
    };
    decision.steps = vec![
        Chain(vec![
            Step {
                kind: StepKind::Reactivate,
                what: "setting the hosts this function drained ACTIVE",
                action: Action::SetStatus {
                    arns: acting.reactivate.clone(),
                    status: TargetStatus::Active,
                },
            },
            Step {
                kind: StepKind::UnmarkReactivated,
                what: "deleting the drained-by marks of the hosts set ACTIVE",
                action: Action::DeleteMarks(acting.unmark_reactivated(marks)),
            },
        ]),
        Chain(vec![Step {
            kind: StepKind::UnmarkStale,
            what: "deleting stale drained-by marks",
            action: Action::DeleteMarks(acting.unmark.clone()),
        }]),
        Chain(vec![
            Step {
                kind: StepKind::MarkDrained,
                what: "marking the planned hosts (nothing drained)",
                action: Action::PutMarks(acting.marks(input.now_unix_secs)),
            },
            Step {
                kind: StepKind::Drain,
                what: "setting the planned hosts DRAINING",
                action: Action::SetStatus {
                    arns: acting.drain.clone(),
                    status: TargetStatus::Draining,
                },
            },
        ]),
    ];
    match input.group {
        Ok(group) => {
            decision.hosts_to_remove = Some(super::self_managed::bound(
                &decision.plan,
                group.removable(),
            ));
        }
        Err(why) => decision.left_out = Some(why.to_owned()),
    }
    decision.acting = Some(ActingDecision {
        capacity_provider: verdict.ok(),
        refused,
        changes: acting,
    });
}

/// What to change, from the cluster as read (`instances`, their `marks`), the `plan` of that
/// reading, whether tasks wait, and what this run is `allowed` to do.
pub fn changes(
    plan: &ScaleInPlan,
    instances: &[ContainerInstance],
    marks: &InstanceMarks,
    tasks_wait: bool,
    allowed: Allowed,
) -> Acting {
    let mut acting = Acting::default();
    let mark_of = |arn: &str| marks.get(arn).and_then(|m| m.get(DRAINED_BY_ATTRIBUTE));
    for instance in instances {
        let mark = mark_of(&instance.id);
        if let Some(value) = mark
            && let Err(e) = DrainedBy::parse(value)
        {
            acting.invalid.push((instance.id.clone(), e.to_string()));
        }
        match (&instance.status, mark) {
            (InstanceStatus::Draining, Some(_)) if tasks_wait => {
                acting.reactivate.push(instance.id.clone());
            }
            (InstanceStatus::Draining, Some(_)) => {}
            (InstanceStatus::Draining, None) => acting.drained_by_others.push(instance.id.clone()),
            (_, Some(value)) => acting.unmark.push(InstanceAttribute::new(
                &instance.id,
                DRAINED_BY_ATTRIBUTE,
                Some(value),
            )),
            (_, None) => {}
        }
    }
    if tasks_wait || !allowed.drain {
        return acting;
    }
    let Some(removable) = allowed.removable else {
        return acting;
    };
    let room = removable.saturating_sub(plan.draining);
    // Once, not per planned host: a cluster has up to 5,000 instances.
    let active: std::collections::HashSet<&str> = instances
        .iter()
        .filter(|i| i.status == InstanceStatus::Active)
        .map(|i| i.id.as_str())
        .collect();
    acting.drain = plan
        .remove
        .iter()
        .filter(|h| h.why != Removal::NotInCluster && active.contains(h.id.as_str()))
        .take(usize::try_from(room).unwrap_or(usize::MAX))
        .map(|h| h.id.clone())
        .collect();
    // A host about to be drained keeps the mark it is about to get again.
    acting
        .unmark
        .retain(|a| !acting.drain.contains(&a.container_instance_arn));
    acting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, group: &str, scaling: bool, protection: bool) -> ProviderShape {
        ProviderShape {
            name: name.to_owned(),
            auto_scaling_group: Some(group.to_owned()),
            managed_scaling: scaling,
            managed_termination_protection: protection,
        }
    }

    #[test]
    fn the_shape_needs_the_groups_provider_with_both_managed_settings() {
        let arn =
            "arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:u-1:autoScalingGroupName/prod-hosts";
        let ok = ClusterShape {
            providers: vec![
                provider("other", "other-hosts", true, true),
                provider("prod", arn, true, true),
            ],
        };
        assert_eq!(ok.check("prod-hosts").as_deref(), Ok("prod"));
        // By name too, as ECS accepts it.
        let by_name = ClusterShape {
            providers: vec![provider("prod", "prod-hosts", true, true)],
        };
        assert!(by_name.check("prod-hosts").is_ok());
        // A group whose name only ends the same is not it.
        assert!(
            ClusterShape {
                providers: vec![provider(
                    "x",
                    "arn:...:autoScalingGroupName/old-prod-hosts",
                    true,
                    true
                )],
            }
            .check("prod-hosts")
            .is_err()
        );
        let no_protection = ClusterShape {
            providers: vec![provider("prod", arn, true, false)],
        };
        let why = no_protection.check("prod-hosts").expect_err("refused");
        assert!(
            why.contains("managed termination protection") && why.contains("prod"),
            "{why}"
        );
        let neither = ClusterShape {
            providers: vec![provider("prod", arn, false, false)],
        };
        let why = neither.check("prod-hosts").expect_err("refused");
        assert!(
            why.contains("managed scaling and managed termination protection"),
            "{why}"
        );
        let why = ClusterShape::default()
            .check("prod-hosts")
            .expect_err("refused");
        assert!(why.contains("lists none"), "{why}");
    }

    use crate::Resources;
    use crate::consolidation::PlannedHost;

    fn host(id: &str, status: InstanceStatus) -> ContainerInstance {
        let r = Resources::new(4096, 8192);
        let mut i = ContainerInstance::active(id, r.clone(), r);
        i.status = status;
        i
    }

    fn plan(ids: &[&str], draining: u32) -> ScaleInPlan {
        ScaleInPlan {
            remove: ids
                .iter()
                .map(|id| PlannedHost {
                    id: (*id).to_owned(),
                    ec2_instance_id: None,
                    why: Removal::Empty,
                })
                .collect(),
            draining,
            ..ScaleInPlan::default()
        }
    }

    fn marked(entries: &[(&str, &str)]) -> InstanceMarks {
        entries
            .iter()
            .map(|(arn, v)| {
                (
                    (*arn).to_owned(),
                    [(DRAINED_BY_ATTRIBUTE.to_owned(), (*v).to_owned())].into(),
                )
            })
            .collect()
    }

    const ALLOWED: Allowed = Allowed {
        drain: true,
        removable: Some(10),
    };

    #[test]
    fn the_planned_hosts_are_drained_within_what_the_group_may_lose() {
        let instances = [
            host("a", InstanceStatus::Active),
            host("b", InstanceStatus::Active),
            host("c", InstanceStatus::Active),
        ];
        let p = plan(&["a", "b"], 0);
        let all = changes(&p, &instances, &InstanceMarks::new(), false, ALLOWED);
        assert_eq!(all.drain, ["a", "b"]);
        assert_eq!(
            all.marks(1_800_000_000)[0].value.as_deref(),
            Some("1800000000")
        );
        // The group may lose 2, one host is already leaving: one more.
        let bounded = changes(
            &plan(&["a", "b"], 1),
            &instances,
            &InstanceMarks::new(),
            false,
            Allowed {
                drain: true,
                removable: Some(2),
            },
        );
        assert_eq!(bounded.drain, ["a"]);
        // No group read, or the shape refused: nothing drained.
        for allowed in [
            Allowed {
                drain: true,
                removable: None,
            },
            Allowed {
                drain: false,
                removable: Some(10),
            },
        ] {
            assert!(
                changes(&p, &instances, &InstanceMarks::new(), false, allowed)
                    .drain
                    .is_empty()
            );
        }
    }

    #[test]
    fn when_tasks_wait_only_the_hosts_it_drained_come_back_and_nothing_is_drained() {
        let instances = [
            host("ours", InstanceStatus::Draining),
            host("theirs", InstanceStatus::Draining),
            host("idle", InstanceStatus::Active),
        ];
        let marks = marked(&[("ours", "1800000000")]);
        let acting = changes(&plan(&["idle"], 2), &instances, &marks, true, ALLOWED);
        assert_eq!(acting.reactivate, ["ours"]);
        assert_eq!(acting.drained_by_others, ["theirs"]);
        assert!(acting.drain.is_empty());
        assert_eq!(
            acting.unmark_reactivated(&marks),
            [InstanceAttribute::new(
                "ours",
                DRAINED_BY_ATTRIBUTE,
                Some("1800000000")
            )]
        );
        // Nothing waits: the drained host stays DRAINING.
        let calm = changes(&plan(&[], 2), &instances, &marks, false, ALLOWED);
        assert!(calm.reactivate.is_empty() && calm.unmark.is_empty());
    }

    #[test]
    fn a_mark_on_a_host_not_draining_is_deleted_unless_it_is_drained_now() {
        let instances = [
            host("set-active-by-hand", InstanceStatus::Active),
            host("planned-again", InstanceStatus::Active),
        ];
        let marks = marked(&[("set-active-by-hand", "1"), ("planned-again", "not a time")]);
        let acting = changes(
            &plan(&["planned-again"], 0),
            &instances,
            &marks,
            false,
            ALLOWED,
        );
        assert_eq!(
            acting
                .unmark
                .iter()
                .map(|a| a.container_instance_arn.as_str())
                .collect::<Vec<_>>(),
            ["set-active-by-hand"]
        );
        assert_eq!(acting.drain, ["planned-again"]);
        assert_eq!(acting.invalid.len(), 1, "{:?}", acting.invalid);
    }

    #[test]
    fn hosts_not_in_the_cluster_or_not_active_are_never_drained() {
        let mut p = plan(&["i-0abc", "gone"], 0);
        p.remove[0].why = Removal::NotInCluster;
        let acting = changes(
            &p,
            &[host("gone", InstanceStatus::Deregistering)],
            &InstanceMarks::new(),
            false,
            ALLOWED,
        );
        assert!(acting.drain.is_empty(), "{acting:?}");
    }
}
