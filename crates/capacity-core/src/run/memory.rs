//! The plan's memory: since when each host has been removable (the stability window) and when
//! the cluster was last short (the quiet period), kept where the next run reads it.
//!
//! Acting, the memory lives in the cluster, so that a cold start, a failed run or a second
//! execution environment reads what the last run decided: each removable host carries
//! [`REMOVABLE_SINCE_ATTRIBUTE`] = `<since>/<seen>` (rewritten when it changes, or when
//! `seen` is half a window old), and the cluster carries the tag [`LAST_SHORTFALL_TAG`].
//! Observing, nothing is written: the memory is the process's own. The process also keeps
//! what no attribute can hold (the group's instances not in the cluster).
//!
//! **Gaps.** A host's removability counts only when runs saw it without a gap longer than the
//! stability window (at least four minutes, twice the marks' refresh): a mark (or a process
//! memory) last seen longer ago than that starts its window again, so the first good read after ten minutes of throttled reads does not plan
//! at once with the old times. A run that could not read the group records no removability
//! (its plan is not the group's), only a shortfall.

use std::collections::BTreeMap;

use super::{Action, Chain, Consolidation, PlanMemory, RunInput, Step, StepKind};
use crate::ScaleInPlan;
use crate::mark::{
    InstanceAttribute, LAST_SHORTFALL_TAG, REMOVABLE_SINCE_ATTRIBUTE, RemovableSince,
};

/// How often a sustained shortfall rewrites the cluster's tag, seconds.
const SHORTFALL_TAG_EVERY: u64 = 60;

/// A removable-since mark is rewritten once its `seen` is this old: half the stability
/// window, at least two minutes (so that a short window does not write every run).
fn refresh_after(window: u64) -> u64 {
    (window / 2).max(120)
}

/// Runs that saw a host removable count as one stretch when no two are further apart than
/// this: the stability window, and at least twice the refresh.
fn longest_gap(window: u64) -> u64 {
    window.max(2 * refresh_after(window))
}

/// What the plan remembers for this run: from the cluster when acting (the marks, the tag),
/// and the process's own memory for what the cluster cannot hold; with the gap rule.
pub(super) fn recall(input: &RunInput<'_>) -> PlanMemory {
    let now = input.now_unix_secs;
    let gap = longest_gap(input.settings.stability_window.as_secs());
    let own = input.memory;
    // The process's own times count only when its last run is recent enough.
    let own_fresh = own.last_run.is_some_and(|t| now.saturating_sub(t) <= gap);
    let mut removable_since: BTreeMap<String, u64> = if own_fresh {
        own.removable_since.clone()
    } else {
        BTreeMap::new()
    };
    let mut last_shortfall = own.last_shortfall;
    if input.settings.consolidation == Consolidation::Act {
        // The cluster's memory wins for the hosts it can hold.
        for instance in input.instances {
            removable_since.remove(&instance.id);
            let mark = instance
                .attribute(REMOVABLE_SINCE_ATTRIBUTE)
                .and_then(|v| RemovableSince::parse(v).ok());
            if let Some(mark) = mark.filter(|m| now.saturating_sub(m.seen) <= gap) {
                removable_since.insert(instance.id.clone(), mark.since);
            }
        }
        let tagged = tagged_shortfall(input);
        last_shortfall = last_shortfall.max(tagged);
    }
    PlanMemory {
        removable_since,
        last_shortfall,
        last_run: own.last_run,
    }
}

fn tagged_shortfall(input: &RunInput<'_>) -> Option<u64> {
    input
        .cluster_tags
        .ok()
        .and_then(|tags| tags.get(LAST_SHORTFALL_TAG))
        .and_then(|v| v.trim().parse().ok())
}

/// The memory to keep after `plan`, and (acting) the steps that write what changed into the
/// cluster: removable-since marks put, refreshed or deleted, the shortfall tagged. With the
/// group not read (`group_read` false) the removable times are not recorded.
pub(super) fn remember(
    input: &RunInput<'_>,
    recalled: &PlanMemory,
    plan: &ScaleInPlan,
    group_read: bool,
) -> (PlanMemory, Vec<Chain>) {
    let now = input.now_unix_secs;
    let memory = PlanMemory {
        removable_since: if group_read {
            plan.removable_since.clone()
        } else {
            recalled.removable_since.clone()
        },
        last_shortfall: plan.last_shortfall,
        last_run: if group_read {
            Some(now)
        } else {
            recalled.last_run
        },
    };
    if input.settings.consolidation != Consolidation::Act || !group_read {
        return (memory, Vec::new());
    }
    let refresh = refresh_after(input.settings.stability_window.as_secs());
    let (mut put, mut delete) = (Vec::new(), Vec::new());
    for instance in input.instances {
        let value = instance.attribute(REMOVABLE_SINCE_ATTRIBUTE);
        let mark = value.and_then(|v| RemovableSince::parse(v).ok());
        match memory.removable_since.get(&instance.id) {
            Some(&since) => {
                let current = mark
                    .is_some_and(|m| m.since == since && m.seen <= now && now - m.seen < refresh);
                if !current {
                    let value = RemovableSince { since, seen: now }.to_string();
                    put.push(InstanceAttribute::new(
                        &instance.id,
                        REMOVABLE_SINCE_ATTRIBUTE,
                        Some(&value),
                    ));
                }
            }
            None => {
                if let Some(value) = value {
                    delete.push(InstanceAttribute::new(
                        &instance.id,
                        REMOVABLE_SINCE_ATTRIBUTE,
                        Some(value),
                    ));
                }
            }
        }
    }
    let mut chains = vec![Chain(vec![
        Step {
            kind: StepKind::Forget,
            what: "deleting the removable-since marks of hosts no longer removable",
            action: Action::DeleteMarks(delete),
        },
        Step {
            kind: StepKind::Remember,
            what: "putting the removable-since marks",
            action: Action::PutMarks(put),
        },
    ])];
    let tagged = tagged_shortfall(input);
    if let Some(at) = plan.last_shortfall
        && tagged.is_none_or(|t| at >= t.saturating_add(SHORTFALL_TAG_EVERY))
        && input.cluster_tags.is_ok()
    {
        chains.push(Chain(vec![Step {
            kind: StepKind::RecordShortfall,
            what: "tagging the cluster with its last shortfall",
            action: Action::TagCluster {
                key: LAST_SHORTFALL_TAG.to_owned(),
                value: at.to_string(),
            },
        }]));
    }
    (memory, chains)
}
