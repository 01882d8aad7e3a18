//! Acting on the consolidation plan in capacity-provider mode (`SCALING_MODE =
//! capacity-provider`): the calculator sets the planned container instances DRAINING itself,
//! and ECS does the rest (moves their tasks; managed termination protection releases the
//! empty host; managed scaling removes it). Pure decisions ([`decide`]); the handler executes
//! them.
//!
//! * **Drain** the first planned hosts, at most `DesiredCapacity − MinSize − hosts already
//!   leaving` of them (the plan itself is within the disruption budget, counting every
//!   DRAINING host): each first gets the mark [`DRAINED_BY_ATTRIBUTE`] = `<unix seconds>`,
//!   then `UpdateContainerInstancesState DRAINING`. Only when the cluster's shape was checked
//!   ([`capacity_aws::capacity_provider::ClusterShape::check`]) and no task waits.
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

use capacity_aws::attributes::{InstanceAttribute, InstanceMarks};
use capacity_core::consolidation::Removal;
use capacity_core::mark::{DRAINED_BY_ATTRIBUTE, DrainedBy};
use capacity_core::{ContainerInstance, InstanceStatus, ScaleInPlan};
use serde::Serialize;

/// What one run is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// The cluster's shape checked out: hosts may be drained.
    pub drain: bool,
    /// Hosts the group may still lose (`DesiredCapacity − MinSize`), when the group was read.
    pub removable: Option<u32>,
}

/// The changes one run makes, in the order the handler makes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Acting {
    /// Marks deleted from hosts that are not DRAINING (and from the hosts reactivated, after).
    pub unmark: Vec<InstanceAttribute>,
    /// Hosts set DRAINING (each marked first), plan order.
    pub drain: Vec<String>,
    /// Hosts this function drained that are set ACTIVE again because tasks wait.
    pub reactivate: Vec<String>,
    /// DRAINING hosts without the mark: drained by someone else, left alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drained_by_others: Vec<String>,
    /// Marks whose value does not parse (ARN → why): still the mark, named in the summary.
    #[serde(skip_serializing_if = "Vec::is_empty")]
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

/// What to change, from the cluster as read (`instances`, their `marks`), the `plan` of that
/// reading, whether tasks wait, and what this run is `allowed` to do.
pub fn decide(
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
    use capacity_core::Resources;
    use capacity_core::consolidation::PlannedHost;

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
        let all = decide(&p, &instances, &InstanceMarks::new(), false, ALLOWED);
        assert_eq!(all.drain, ["a", "b"]);
        assert_eq!(
            all.marks(1_800_000_000)[0].value.as_deref(),
            Some("1800000000")
        );
        // The group may lose 2, one host is already leaving: one more.
        let bounded = decide(
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
                decide(&p, &instances, &InstanceMarks::new(), false, allowed)
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
        let acting = decide(&plan(&["idle"], 2), &instances, &marks, true, ALLOWED);
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
        let calm = decide(&plan(&[], 2), &instances, &marks, false, ALLOWED);
        assert!(calm.reactivate.is_empty() && calm.unmark.is_empty());
    }

    #[test]
    fn a_mark_on_a_host_not_draining_is_deleted_unless_it_is_drained_now() {
        let instances = [
            host("set-active-by-hand", InstanceStatus::Active),
            host("planned-again", InstanceStatus::Active),
        ];
        let marks = marked(&[("set-active-by-hand", "1"), ("planned-again", "not a time")]);
        let acting = decide(
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
        let acting = decide(
            &p,
            &[host("gone", InstanceStatus::Deregistering)],
            &InstanceMarks::new(),
            false,
            ALLOWED,
        );
        assert!(acting.drain.is_empty(), "{acting:?}");
    }
}
