//! Trying the candidates: a host is chosen when its tasks fit on the hosts that stay with the
//! headroom (and, when tasks move, the margin) still free, it has been removable for the
//! stability window, the budget has room, and Auto Scaling would take it from its zone.
//!
//! **Rounds.** Each round removes one host. Auto Scaling shrinks the zone with the most
//! instances (never below the zone minimum), so a round looks only at those zones and takes
//! the cheapest host that can go from one of them. When Auto Scaling, not the plan, picks among
//! tied zones (self-managed mode, [`ZonePolicy::each_tied_zone`]), a round needs a host that
//! can go in *every* tied zone — the chooser then finds one checked to fit whichever zone is
//! shrunk — or the plan stops. Without zones a round looks at every candidate: the cheapest
//! that can go, in order, as one pass would.
//!
//! A candidate whose try fails, or that is not stable yet, is kept with its reason for good:
//! the trial only gets tighter as hosts go. A host found removable but not taken (another
//! tied zone's was cheaper) is tried again next round.

use std::collections::BTreeMap;

use super::candidates::Candidate;
use super::trial::{Attempt, Margin, Trial};
use super::{PlannedHost, Removal, ScaleInInput, ScaleInPlan, Unconsolidatable, ZonePolicy};

/// Tries `ordered` against `trial` and records the hosts chosen (at most `may_leave`) and
/// why each other candidate stays in `plan`.
pub(super) fn choose<'a>(
    input: &ScaleInInput<'a>,
    trial: &mut Trial<'a>,
    ordered: &[Candidate],
    may_leave: u32,
    plan: &mut ScaleInPlan,
) {
    let mut state = Rounds {
        input,
        ordered,
        zone_of: ordered.iter().map(|c| c.zone(input)).collect(),
        settled: vec![false; ordered.len()],
        first: 0,
        zones: input.zones.map(Zones::new),
        headroom: u64::from(input.policy.headroom()),
        margin: Margin {
            tasks: input.margin,
            of: input.margin_task,
        },
    };
    let mut chosen = 0u32;
    let stop = loop {
        if chosen >= may_leave {
            break Stop::Budget;
        }
        let shrinkable = match &state.zones {
            None => Shrinkable::Any,
            Some(zones) => match zones.shrinkable() {
                Some(tied) => Shrinkable::Zones(tied),
                None => break Stop::ZonesAtMinimum,
            },
        };
        let found = match &shrinkable {
            Shrinkable::Zones(tied) if input.zones.is_some_and(|z| z.each_tied_zone) => {
                let mut found = Vec::new();
                for zone in tied {
                    match state.next_removable(trial, plan, |z| z == Some(zone.as_str())) {
                        Some((c, attempt)) => {
                            undo(trial, attempt);
                            found.push(c);
                        }
                        None if found.is_empty() && tied.len() == 1 => break,
                        None => {
                            return state.finish(trial, plan, Stop::TiedZone(zone.clone()));
                        }
                    }
                }
                found.into_iter().min()
            }
            Shrinkable::Zones(tied) => state
                .next_removable(trial, plan, |z| {
                    z.is_none_or(|z| tied.iter().any(|t| t == z))
                })
                .map(|(c, attempt)| {
                    undo(trial, attempt);
                    c
                }),
            Shrinkable::Any => state
                .next_removable(trial, plan, |_| true)
                .map(|(c, attempt)| {
                    undo(trial, attempt);
                    c
                }),
        };
        let Some(c) = found else {
            break Stop::NothingRemovable;
        };
        // Tried once already this round against this very state: it goes again.
        let attempt = match ordered[c] {
            Candidate::Stranger(_) => None,
            Candidate::Host(i) => trial.try_host(i, state.headroom, state.margin).ok(),
        };
        let why = match attempt {
            None => Removal::NotInCluster,
            Some(attempt) => trial.commit(attempt),
        };
        state.settled[c] = true;
        if let (Some(zones), Some(zone)) = (&mut state.zones, state.zone_of[c]) {
            zones.remove_one(zone);
        }
        chosen += 1;
        let (id, ec2) = ordered[c].ids(input);
        plan.remove.push(PlannedHost {
            id: id.to_owned(),
            ec2_instance_id: ec2.map(str::to_owned),
            why,
        });
    };
    state.finish(trial, plan, stop);
}

fn undo<'a>(trial: &mut Trial<'a>, attempt: Option<Attempt<'a>>) {
    if let Some(attempt) = attempt {
        trial.undo(attempt);
    }
}

/// Which zones a round may take a host from.
enum Shrinkable {
    /// Every zone (zone-blind).
    Any,
    /// The zones tied for the most hosts, above the minimum.
    Zones(Vec<String>),
}

/// Why the rounds ended.
enum Stop {
    Budget,
    ZonesAtMinimum,
    TiedZone(String),
    NothingRemovable,
}

struct Rounds<'i, 'a> {
    input: &'i ScaleInInput<'a>,
    ordered: &'i [Candidate],
    /// Each candidate's zone, when known.
    zone_of: Vec<Option<&'i str>>,
    /// Chosen, or kept with its reason for good.
    settled: Vec<bool>,
    /// Every candidate before it is settled.
    first: usize,
    zones: Option<Zones>,
    headroom: u64,
    margin: Margin,
}

impl<'a> Rounds<'_, 'a> {
    /// The cheapest candidate not settled, whose zone `in_zone` takes, that can go now and has
    /// been removable for the stability window, with its attempt (strangers have none). The
    /// candidates tried on the way that cannot go are kept with their reason.
    fn next_removable(
        &mut self,
        trial: &mut Trial<'a>,
        plan: &mut ScaleInPlan,
        in_zone: impl Fn(Option<&str>) -> bool,
    ) -> Option<(usize, Option<Attempt<'a>>)> {
        let input = self.input;
        while self.settled.get(self.first).copied().unwrap_or(false) {
            self.first += 1;
        }
        for (c, candidate) in self.ordered.iter().enumerate().skip(self.first) {
            if self.settled[c] || !in_zone(self.zone_of[c]) {
                continue;
            }
            let attempt = match *candidate {
                Candidate::Stranger(_) => None,
                Candidate::Host(i) => match trial.try_host(i, self.headroom, self.margin) {
                    Ok(attempt) => Some(attempt),
                    Err(why) => {
                        self.settled[c] = true;
                        plan.keep.push(candidate.kept(input, why));
                        continue;
                    }
                },
            };
            let (id, _) = candidate.ids(input);
            let since = stable_since(input, plan, id);
            let until = since.saturating_add(input.stability_window.as_secs());
            if input.now_unix_secs < until {
                undo(trial, attempt);
                self.settled[c] = true;
                plan.keep
                    .push(candidate.kept(input, Unconsolidatable::NotYetStable { since, until }));
                continue;
            }
            return Some((c, attempt));
        }
        None
    }

    /// Keeps every candidate not settled, with why the rounds ended. Past the budget only
    /// their stability is kept for the hosts that cost nothing to check — not in the cluster,
    /// or empty with nothing moved onto them (O(1) each): so that once the budget frees they
    /// go at once, not a whole window later.
    fn finish(&mut self, trial: &mut Trial<'a>, plan: &mut ScaleInPlan, stop: Stop) {
        let input = self.input;
        // Empty hosts beyond the budget found removable: their rooms are closed while the
        // rest is checked, then opened again.
        let mut tracked: Vec<usize> = Vec::new();
        for (c, candidate) in self.ordered.iter().enumerate() {
            if self.settled[c] {
                continue;
            }
            let why = match &stop {
                Stop::Budget => {
                    let removable = match *candidate {
                        Candidate::Stranger(_) => true,
                        Candidate::Host(i) => match trial.close_if_empty(i, self.headroom) {
                            Some(room) => {
                                tracked.push(room);
                                true
                            }
                            None => false,
                        },
                    };
                    if removable {
                        let (id, _) = candidate.ids(input);
                        stable_since(input, plan, id);
                    }
                    Unconsolidatable::BudgetReached {
                        budget: plan.budget,
                    }
                }
                Stop::TiedZone(zone) => {
                    Unconsolidatable::TiedZoneWithoutHost { zone: zone.clone() }
                }
                Stop::ZonesAtMinimum | Stop::NothingRemovable => {
                    match (&self.zones, self.zone_of[c]) {
                        (Some(zones), Some(zone)) => zones.why_not(zone),
                        // Every candidate of a zone-blind plan was tried.
                        _ => Unconsolidatable::BudgetReached {
                            budget: plan.budget,
                        },
                    }
                }
            };
            plan.keep.push(candidate.kept(input, why));
        }
        trial.reopen(tracked);
    }
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

/// The hosts left per zone as the rounds remove them.
struct Zones {
    counts: BTreeMap<String, u32>,
    min: u32,
}

impl Zones {
    fn new(policy: &ZonePolicy) -> Zones {
        Zones {
            counts: policy.counts.clone(),
            min: policy.min_per_zone,
        }
    }

    /// The zones tied for the most hosts, when that is above the minimum.
    fn shrinkable(&self) -> Option<Vec<String>> {
        let most = self.counts.values().copied().max()?;
        (most > self.min).then(|| {
            self.counts
                .iter()
                .filter(|(_, n)| **n == most)
                .map(|(z, _)| z.clone())
                .collect()
        })
    }

    fn remove_one(&mut self, zone: &str) {
        if let Some(n) = self.counts.get_mut(zone) {
            *n = n.saturating_sub(1);
        }
    }

    /// Why a host of `zone` was not taken when the rounds ended.
    fn why_not(&self, zone: &str) -> Unconsolidatable {
        let hosts = self.counts.get(zone).copied().unwrap_or(0);
        let most = self.counts.values().copied().max().unwrap_or(0);
        if hosts <= self.min {
            Unconsolidatable::ZoneAtMinimum {
                zone: zone.to_owned(),
                hosts,
            }
        } else {
            Unconsolidatable::ZoneNotLargest {
                zone: zone.to_owned(),
                hosts,
                most,
            }
        }
    }
}
