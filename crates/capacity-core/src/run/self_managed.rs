//! Acting on the consolidation plan in self-managed mode: bound it by the group, mark the
//! planned container instances for the scale-in chooser. Pure decisions ([`bound`],
//! [`mark_changes`]); the shell carries them out.
//!
//! `HostsToRemove` = min(plan size, `DesiredCapacity − MinSize`): the step policy never asks
//! the group to go below its minimum (Auto Scaling would refuse the rest anyway, and the
//! alarm would keep firing). The first `HostsToRemove` planned hosts get the mark
//! [`PLANNED_REMOVAL_ATTRIBUTE`] = `<rank>/<unix seconds>`; every other container instance
//! that carries one loses it. A mark still right (same rank) is rewritten only when it is
//! older than half its [`PLANNED_REMOVAL_MAX_AGE`], so that a host planned run after run never
//! shows a stale mark and a steady plan costs no call most runs.

use std::collections::BTreeMap;

use super::{Action, Chain, Decision, RunInput, Step, StepKind};
use crate::ScaleInPlan;
use crate::consolidation::Removal;
use crate::mark::{
    InstanceAttribute, InstanceMarks, PLANNED_REMOVAL_ATTRIBUTE, PLANNED_REMOVAL_MAX_AGE,
    PlannedRemoval,
};

/// Self-managed mode's part of a run: with the group read, `HostsToRemove` is the plan bounded
/// by the group and the marks are made to say exactly its hosts (old marks deleted first,
/// then the new ones put) before it is published; without the group it is left out and the
/// marks are left as they were.
pub(super) fn act(input: &RunInput<'_>, decision: &mut Decision) {
    let group = match input.group {
        Ok(group) => group,
        Err(why) => {
            decision.left_out = Some(format!(
                "{why}; the planned-removal marks are left as they were"
            ));
            return;
        }
    };
    let hosts_to_remove = bound(&decision.plan, group.removable());
    let changes = mark_changes(
        &decision.plan,
        hosts_to_remove,
        &super::marks_of(input.instances),
        input.now_unix_secs,
    );
    decision.steps = vec![Chain(vec![
        Step {
            kind: StepKind::UnmarkPlanned,
            what: "deleting the planned-removal marks of hosts no longer planned",
            action: Action::DeleteMarks(changes.delete.clone()),
        },
        Step {
            kind: StepKind::MarkPlanned,
            what: "putting the planned-removal marks",
            action: Action::PutMarks(changes.put.clone()),
        },
    ])];
    decision.hosts_to_remove = Some(hosts_to_remove);
    decision.marks = changes;
}

/// The plan's size bounded by what the group may still lose.
pub fn bound(plan: &ScaleInPlan, removable: u32) -> u32 {
    plan.hosts_to_remove().min(removable)
}

/// What to write so that the marks say exactly the first `hosts_to_remove` planned hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MarkChanges {
    /// Deleted first (name and the value read): hosts no longer planned.
    pub delete: Vec<InstanceAttribute>,
    /// Then put: hosts planned, each with its rank and this run's time.
    pub put: Vec<InstanceAttribute>,
    /// Marks that did not parse (container instance ARN → why), deleted or replaced.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub invalid: Vec<(String, String)>,
    /// The marks once the changes are made, for the cached view.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub after: InstanceMarks,
}

impl MarkChanges {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.put.is_empty()
    }
}

/// The changes that make `marks` (as read) say the first `hosts_to_remove` hosts of `plan`
/// at `now` (seconds since the Unix epoch). Hosts not in the cluster (planned by EC2 id)
/// carry no mark: the chooser ranks them first anyway.
pub fn mark_changes(
    plan: &ScaleInPlan,
    hosts_to_remove: u32,
    marks: &InstanceMarks,
    now: u64,
) -> MarkChanges {
    let wanted: BTreeMap<&str, PlannedRemoval> = plan
        .remove
        .iter()
        .take(usize::try_from(hosts_to_remove).unwrap_or(usize::MAX))
        .zip(1u32..)
        .filter(|(host, _)| host.why != Removal::NotInCluster)
        .map(|(host, rank)| (host.id.as_str(), PlannedRemoval::new(rank, now)))
        .collect();
    let refresh_after = PLANNED_REMOVAL_MAX_AGE / 2;
    let mut changes = MarkChanges {
        after: marks.clone(),
        ..MarkChanges::default()
    };
    for (arn, attributes) in marks {
        let Some(value) = attributes.get(PLANNED_REMOVAL_ATTRIBUTE) else {
            continue;
        };
        if let Err(e) = PlannedRemoval::parse(value) {
            changes.invalid.push((arn.clone(), e.to_string()));
        }
        if wanted.contains_key(arn.as_str()) {
            continue; // put below when it is not still right
        }
        changes.delete.push(InstanceAttribute::new(
            arn,
            PLANNED_REMOVAL_ATTRIBUTE,
            Some(value),
        ));
        if let Some(a) = changes.after.get_mut(arn) {
            a.remove(PLANNED_REMOVAL_ATTRIBUTE);
        }
    }
    for (arn, mark) in &wanted {
        let current = marks
            .get(*arn)
            .and_then(|a| a.get(PLANNED_REMOVAL_ATTRIBUTE))
            .and_then(|v| PlannedRemoval::parse(v).ok());
        let still_right = current.is_some_and(|r| {
            r.rank == mark.rank && r.age(now) < refresh_after && r.at_unix_secs <= now
        });
        if still_right {
            continue;
        }
        let value = mark.to_string();
        changes.put.push(InstanceAttribute::new(
            arn,
            PLANNED_REMOVAL_ATTRIBUTE,
            Some(&value),
        ));
        changes
            .after
            .entry((*arn).to_owned())
            .or_default()
            .insert(PLANNED_REMOVAL_ATTRIBUTE.to_owned(), value);
    }
    changes.after.retain(|_, a| !a.is_empty());
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consolidation::PlannedHost;

    fn plan(ids: &[(&str, Removal)]) -> ScaleInPlan {
        ScaleInPlan {
            remove: ids
                .iter()
                .map(|(id, why)| PlannedHost {
                    id: (*id).to_owned(),
                    ec2_instance_id: None,
                    why: why.clone(),
                })
                .collect(),
            ..ScaleInPlan::default()
        }
    }

    fn marks(pairs: &[(&str, &str)]) -> InstanceMarks {
        pairs
            .iter()
            .map(|(arn, v)| {
                (
                    (*arn).to_owned(),
                    BTreeMap::from([(PLANNED_REMOVAL_ATTRIBUTE.to_owned(), (*v).to_owned())]),
                )
            })
            .collect()
    }

    fn names(attributes: &[InstanceAttribute]) -> Vec<(&str, Option<&str>)> {
        attributes
            .iter()
            .map(|a| (a.container_instance_arn.as_str(), a.value.as_deref()))
            .collect()
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn the_first_hosts_to_remove_are_marked_by_rank_and_the_rest_unmarked() {
        let p = plan(&[
            ("a", Removal::Empty),
            ("b", Removal::TasksMove { tasks: 1, onto: 1 }),
            ("c", Removal::Empty),
        ]);
        assert_eq!(bound(&p, 2), 2, "the group's minimum bounds the plan");
        let changes = mark_changes(&p, 2, &marks(&[("c", "1/1799999990"), ("z", "2/1")]), NOW);
        assert_eq!(
            names(&changes.put),
            [("a", Some("1/1800000000")), ("b", Some("2/1800000000"))]
        );
        assert_eq!(
            names(&changes.delete),
            [("c", Some("1/1799999990")), ("z", Some("2/1"))],
            "deleted by the value read"
        );
        assert_eq!(
            changes.after,
            marks(&[("a", "1/1800000000"), ("b", "2/1800000000")])
        );
    }

    #[test]
    fn a_retry_of_the_same_plan_writes_nothing() {
        let p = plan(&[("a", Removal::Empty)]);
        let first = mark_changes(&p, 1, &InstanceMarks::new(), NOW);
        let again = mark_changes(&p, 1, &first.after, NOW + 60);
        assert!(again.is_empty(), "{again:?}");
        // Until the mark is half its age: then it is rewritten with the new time.
        let later = mark_changes(&p, 1, &first.after, NOW + 300);
        assert_eq!(names(&later.put), [("a", Some("1/1800000300"))]);
    }

    #[test]
    fn a_rank_that_changed_or_a_bad_mark_is_rewritten_and_named() {
        let p = plan(&[("a", Removal::Empty), ("b", Removal::Empty)]);
        let changes = mark_changes(&p, 2, &marks(&[("a", "2/1800000000"), ("b", "soon")]), NOW);
        assert_eq!(
            names(&changes.put),
            [("a", Some("1/1800000000")), ("b", Some("2/1800000000"))]
        );
        assert!(changes.delete.is_empty());
        assert_eq!(changes.invalid.len(), 1);
        assert!(
            changes.invalid[0].1.contains("\"soon\""),
            "{:?}",
            changes.invalid
        );
    }

    #[test]
    fn hosts_not_in_the_cluster_keep_their_rank_but_carry_no_mark() {
        let p = plan(&[("i-stranger", Removal::NotInCluster), ("a", Removal::Empty)]);
        let changes = mark_changes(&p, 2, &InstanceMarks::new(), NOW);
        assert_eq!(names(&changes.put), [("a", Some("2/1800000000"))]);
    }

    #[test]
    fn nothing_to_remove_unmarks_every_host() {
        let p = plan(&[("a", Removal::Empty)]);
        let changes = mark_changes(&p, 0, &marks(&[("a", "1/1800000000")]), NOW);
        assert!(changes.put.is_empty());
        assert_eq!(names(&changes.delete), [("a", Some("1/1800000000"))]);
        assert!(changes.after.is_empty());
    }
}
