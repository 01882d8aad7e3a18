//! Trying the candidates in order: a host is chosen when its tasks fit on the hosts that stay
//! with the headroom (and, when tasks move, the margin) still free, it has been removable for
//! the stability window, and the budget has room.

use super::candidates::Candidate;
use super::trial::Trial;
use super::{PlannedHost, Removal, ScaleInInput, ScaleInPlan, Unconsolidatable};

/// Tries `ordered` against `trial` and records the hosts chosen (at most `may_leave`) and
/// why each other candidate stays in `plan`.
pub(super) fn choose<'a>(
    input: &ScaleInInput<'a>,
    trial: &mut Trial<'a>,
    ordered: &[Candidate],
    may_leave: u32,
    plan: &mut ScaleInPlan,
) {
    let headroom = u64::from(input.policy.headroom());
    let keep_free = u64::from(input.policy.headroom().saturating_add(input.margin));
    // Empty hosts beyond the budget found removable: their rooms are closed while the rest is
    // checked, then opened again.
    let mut tracked: Vec<usize> = Vec::new();
    let mut chosen = 0u32;
    for c in ordered {
        let (id, _) = c.ids(input);
        // With the budget spent nothing more can go: the rest are not tried, which bounds the
        // work by the candidates tried until then. Only their stability is kept for the hosts
        // that cost nothing to check — not in the cluster, or empty with nothing moved onto
        // them (O(1) each): so that once the budget frees they go at once, not a whole window
        // later.
        if chosen >= may_leave {
            let removable = match *c {
                Candidate::Stranger(_) => true,
                Candidate::Host(i) => match trial.close_if_empty(i, headroom) {
                    Some(room) => {
                        tracked.push(room);
                        true
                    }
                    None => false,
                },
            };
            if removable {
                stable_since(input, plan, id);
            }
            plan.keep.push(c.kept(
                input,
                Unconsolidatable::BudgetReached {
                    budget: plan.budget,
                },
            ));
            continue;
        }
        let attempt = match *c {
            Candidate::Stranger(_) => None,
            Candidate::Host(i) => match trial.try_host(i, headroom, keep_free) {
                Ok(attempt) => Some(attempt),
                Err(why) => {
                    plan.keep.push(c.kept(input, why));
                    continue;
                }
            },
        };
        let since = stable_since(input, plan, id);
        let until = since.saturating_add(input.stability_window.as_secs());
        if input.now_unix_secs < until {
            if let Some(attempt) = attempt {
                trial.undo(attempt);
            }
            plan.keep
                .push(c.kept(input, Unconsolidatable::NotYetStable { since, until }));
            continue;
        }
        chosen += 1;
        let why = match attempt {
            None => Removal::NotInCluster,
            Some(attempt) => trial.commit(attempt),
        };
        let (id, ec2) = c.ids(input);
        plan.remove.push(PlannedHost {
            id: id.to_owned(),
            ec2_instance_id: ec2.map(str::to_owned),
            why,
        });
    }
    trial.reopen(tracked);
}

/// Since when `id` has been removable (the previous plan's time, or now when it was not
/// removable then), recorded in the plan for the next run.
fn stable_since(input: &ScaleInInput<'_>, plan: &mut ScaleInPlan, id: &str) -> u64 {
    let now = input.now_unix_secs;
    let since = input
        .removable_since
        .get(id)
        .copied()
        .map_or(now, |s| s.min(now));
    plan.removable_since.insert(id.to_owned(), since);
    since
}
