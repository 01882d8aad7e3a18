//! Which hosts a scale-in removes: among the instances Auto Scaling suggests, the cheapest to
//! drain.
//!
//! Auto Scaling asks a custom termination policy for `Capacity` instances per Availability
//! Zone and market option (`CapacityToTerminate`) and suggests candidates (`Instances`), in
//! its own order. [`choose`] answers each entry with exactly that many of the suggested
//! instances of that zone and market option (fewer only when fewer were suggested), ranked:
//!
//! 1. instances not registered in the cluster ([`DrainCost::NotInCluster`]: nothing to drain);
//! 2. then the hosts the consolidation plan named, by its rank ([`DrainCost::Planned`]: the
//!    calculator's fresh planned-removal mark, see [`crate::mark`]) — Auto Scaling asks per
//!    zone, so these are the plan's hosts of the zone it shrinks;
//! 3. then the hosts the plan found removable lately, their tasks checked to fit
//!    ([`DrainCost::Checked`]: a fresh removable-since mark), so that a host not checked is
//!    never answered while a checked one is suggested;
//! 4. then by fewest tasks, running + pending ([`DrainCost::Tasks`]);
//! 5. then hosts marked do-not-disrupt ([`DrainCost::DoNotDisrupt`]): only when nothing else
//!    was suggested;
//! 6. then instances whose cost is unknown ([`DrainCost::Unknown`]: ECS was not read);
//! 7. the group's own order among equals (the sort is stable).
//!
//! With every cost unknown (ECS could not be read in time) the answer is the group's own
//! suggestions, as many as asked, in its order. Never more than asked, never an instance
//! that was not suggested for that entry, never one instance twice.
//!
//! ```
//! use capacity_core::scale_in::{choose, CapacityToTerminate, DrainCost, SuggestedInstance};
//!
//! let entry = CapacityToTerminate::new("us-east-1a", "on-demand", 1);
//! let suggested = [
//!     SuggestedInstance::new("i-busy", "us-east-1a", "on-demand"),
//!     SuggestedInstance::new("i-empty", "us-east-1a", "on-demand"),
//! ];
//! let cost = |id: &str| if id == "i-busy" { DrainCost::Tasks(7) } else { DrainCost::Tasks(0) };
//! assert_eq!(choose(&[entry.clone()], &suggested, cost).instance_ids(), ["i-empty"]);
//! // Nothing known: the group's own first suggestion.
//! assert_eq!(choose(&[entry], &suggested, |_| DrainCost::Unknown).instance_ids(), ["i-busy"]);
//! ```

use std::collections::{BTreeMap, HashSet};

use crate::consolidation::{DO_NOT_DISRUPT_ATTRIBUTE, marks_do_not_disrupt};
use crate::mark::{
    PLANNED_REMOVAL_ATTRIBUTE, PLANNED_REMOVAL_MAX_AGE, PlannedRemoval, REMOVABLE_SINCE_ATTRIBUTE,
    RemovableSince,
};

/// One entry of `CapacityToTerminate`: how many instances to terminate in one Availability
/// Zone and market option (`on-demand` or `spot`, compared as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityToTerminate {
    pub availability_zone: String,
    pub market_option: String,
    /// Instances (not vCPUs or weights: a custom termination policy answers instance ids).
    pub capacity: u32,
}

impl CapacityToTerminate {
    pub fn new(availability_zone: &str, market_option: &str, capacity: u32) -> Self {
        CapacityToTerminate {
            availability_zone: availability_zone.to_owned(),
            market_option: market_option.to_owned(),
            capacity,
        }
    }
}

/// One instance Auto Scaling suggests for termination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestedInstance {
    pub instance_id: String,
    pub availability_zone: String,
    pub market_option: String,
}

impl SuggestedInstance {
    pub fn new(instance_id: &str, availability_zone: &str, market_option: &str) -> Self {
        SuggestedInstance {
            instance_id: instance_id.to_owned(),
            availability_zone: availability_zone.to_owned(),
            market_option: market_option.to_owned(),
        }
    }

    fn serves(&self, entry: &CapacityToTerminate) -> bool {
        self.availability_zone == entry.availability_zone
            && self.market_option == entry.market_option
    }
}

/// What removing one instance costs the cluster: the work its drain has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrainCost {
    /// No container instance of the cluster runs on it: nothing to drain.
    NotInCluster,
    /// Registered, and named by the consolidation plan at this rank (1 first): its tasks
    /// are known to fit on the hosts that stay, with the headroom free.
    Planned(u32),
    /// Registered, not planned, but found removable by the plan's latest runs (its tasks
    /// checked to fit); with this many tasks.
    Checked(u32),
    /// Registered, with this many tasks (running + pending) to move.
    Tasks(u32),
    /// Registered and marked do-not-disrupt: answered only when no other host was suggested.
    DoNotDisrupt,
    /// Not known (ECS was not read): ranked after every known cost.
    Unknown,
}

impl DrainCost {
    /// The sort key: cheaper first.
    fn rank(self) -> (u8, u32) {
        match self {
            DrainCost::NotInCluster => (0, 0),
            DrainCost::Planned(rank) => (1, rank),
            DrainCost::Checked(tasks) => (2, tasks),
            DrainCost::Tasks(tasks) => (3, tasks),
            DrainCost::DoNotDisrupt => (4, 0),
            DrainCost::Unknown => (5, 0),
        }
    }

    /// The cost of a registered instance with `tasks` (running + pending) and this project's
    /// attributes `marks` (as read, by name), at `now` (Unix seconds): do-not-disrupt, else
    /// planned by a fresh planned-removal mark, else checked by a fresh removable-since mark,
    /// else its tasks. Also why a mark it carries was not taken (stale or unreadable), for the
    /// log.
    pub fn of(
        tasks: u32,
        marks: Option<&BTreeMap<String, String>>,
        now: u64,
    ) -> (DrainCost, Option<String>) {
        let mark = |name: &str| marks.and_then(|m| m.get(name)).map(String::as_str);
        if mark(DO_NOT_DISRUPT_ATTRIBUTE).is_some_and(|v| marks_do_not_disrupt(Some(v))) {
            return (DrainCost::DoNotDisrupt, None);
        }
        let mut note = None;
        if let Some(value) = mark(PLANNED_REMOVAL_ATTRIBUTE) {
            match PlannedRemoval::parse(value) {
                Ok(planned) if planned.is_fresh(now) => {
                    return (DrainCost::Planned(planned.rank), None);
                }
                Ok(planned) => {
                    note = Some(format!(
                        "stale planned-removal mark {planned} ({} s old, trusted for {} s)",
                        planned.age(now).as_secs(),
                        PLANNED_REMOVAL_MAX_AGE.as_secs()
                    ));
                }
                Err(e) => note = Some(format!("unreadable: {e}")),
            }
        }
        let checked = mark(REMOVABLE_SINCE_ATTRIBUTE)
            .and_then(|v| RemovableSince::parse(v).ok())
            .is_some_and(|m| m.is_fresh(now, PLANNED_REMOVAL_MAX_AGE));
        let cost = if checked {
            DrainCost::Checked(tasks)
        } else {
            DrainCost::Tasks(tasks)
        };
        (cost, note)
    }
}

/// One chosen instance and the cost it was chosen at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub instance_id: String,
    pub cost: DrainCost,
}

/// An entry Auto Scaling asked more instances of than it suggested: the answer holds every
/// suggested one and no more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub availability_zone: String,
    pub market_option: String,
    pub asked: u32,
    pub suggested: usize,
}

/// The answer to one invocation: the chosen instances, entry by entry (in the order of
/// `CapacityToTerminate`), each entry's in rank order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaleInChoice {
    pub chosen: Vec<Chosen>,
    pub shortfalls: Vec<Shortfall>,
}

impl ScaleInChoice {
    /// The ids to answer Auto Scaling with (`InstanceIDs`).
    pub fn instance_ids(&self) -> Vec<String> {
        self.chosen.iter().map(|c| c.instance_id.clone()).collect()
    }
}

/// Chooses, for each entry of `capacity`, that many of the `suggested` instances of its
/// Availability Zone and market option, cheapest to drain first (see the module docs).
/// `cost` is asked once per candidate.
///
/// An instance suggested twice counts once (its first place); entries that repeat a zone
/// and market option each take their own instances, never one already chosen. Runs in
/// O(n log n) per entry for n suggested instances (Auto Scaling sends at most 30,000).
pub fn choose(
    capacity: &[CapacityToTerminate],
    suggested: &[SuggestedInstance],
    cost: impl Fn(&str) -> DrainCost,
) -> ScaleInChoice {
    let mut seen = HashSet::new();
    let unique: Vec<&SuggestedInstance> = suggested
        .iter()
        .filter(|s| seen.insert(s.instance_id.as_str()))
        .collect();
    let mut taken: HashSet<&str> = HashSet::new();
    let mut choice = ScaleInChoice::default();
    for entry in capacity {
        let mut candidates: Vec<(&SuggestedInstance, DrainCost)> = unique
            .iter()
            .filter(|s| s.serves(entry) && !taken.contains(s.instance_id.as_str()))
            .map(|s| (*s, cost(&s.instance_id)))
            .collect();
        // Stable: the group's own order among equal costs.
        candidates.sort_by_key(|(_, cost)| cost.rank());
        let asked = usize::try_from(entry.capacity).unwrap_or(usize::MAX);
        if candidates.len() < asked {
            choice.shortfalls.push(Shortfall {
                availability_zone: entry.availability_zone.clone(),
                market_option: entry.market_option.clone(),
                asked: entry.capacity,
                suggested: candidates.len(),
            });
        }
        for (instance, cost) in candidates.into_iter().take(asked) {
            taken.insert(instance.instance_id.as_str());
            choice.chosen.push(Chosen {
                instance_id: instance.instance_id.clone(),
                cost,
            });
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use proptest::prelude::*;

    const AZ_A: &str = "us-east-1a";
    const AZ_B: &str = "us-east-1b";

    fn on_demand(id: &str, az: &str) -> SuggestedInstance {
        SuggestedInstance::new(id, az, "on-demand")
    }

    fn costs(pairs: &[(&str, DrainCost)]) -> impl Fn(&str) -> DrainCost {
        let map: HashMap<String, DrainCost> =
            pairs.iter().map(|(id, c)| ((*id).to_owned(), *c)).collect();
        move |id| map.get(id).copied().unwrap_or(DrainCost::Unknown)
    }

    use DrainCost::{NotInCluster, Planned, Tasks, Unknown};

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            capacity: Vec<CapacityToTerminate>,
            suggested: Vec<SuggestedInstance>,
            costs: Vec<(&'static str, DrainCost)>,
            expected: Vec<&'static str>,
        }
        let one_az = |n| vec![CapacityToTerminate::new(AZ_A, "on-demand", n)];
        let three = || {
            vec![
                on_demand("i-1", AZ_A),
                on_demand("i-2", AZ_A),
                on_demand("i-3", AZ_A),
            ]
        };
        let cases = vec![
            Case {
                name: "a host not in the cluster goes before an empty one",
                capacity: one_az(1),
                suggested: three(),
                costs: vec![("i-1", Tasks(0)), ("i-2", NotInCluster), ("i-3", Tasks(0))],
                expected: vec!["i-2"],
            },
            Case {
                name: "a planned host goes before an empty one, by rank",
                capacity: one_az(2),
                suggested: three(),
                costs: vec![("i-1", Planned(2)), ("i-2", Tasks(0)), ("i-3", Planned(1))],
                expected: vec!["i-3", "i-1"],
            },
            Case {
                name: "a host not in the cluster goes before a planned one",
                capacity: one_az(1),
                suggested: three(),
                costs: vec![
                    ("i-1", Planned(1)),
                    ("i-2", NotInCluster),
                    ("i-3", Tasks(0)),
                ],
                expected: vec!["i-2"],
            },
            Case {
                name: "an empty host goes before a busy one",
                capacity: one_az(1),
                suggested: three(),
                costs: vec![("i-1", Tasks(4)), ("i-2", Tasks(1)), ("i-3", Tasks(0))],
                expected: vec!["i-3"],
            },
            Case {
                name: "fewest tasks first, then the next fewest",
                capacity: one_az(2),
                suggested: three(),
                costs: vec![("i-1", Tasks(4)), ("i-2", Tasks(1)), ("i-3", Tasks(2))],
                expected: vec!["i-2", "i-3"],
            },
            Case {
                name: "the group's order among equals",
                capacity: one_az(2),
                suggested: three(),
                costs: vec![("i-1", Tasks(3)), ("i-2", Tasks(3)), ("i-3", Tasks(3))],
                expected: vec!["i-1", "i-2"],
            },
            Case {
                name: "nothing known: the group's own suggestions in its order",
                capacity: one_az(2),
                suggested: three(),
                costs: vec![],
                expected: vec!["i-1", "i-2"],
            },
            Case {
                name: "a known cost goes before an unknown one",
                capacity: one_az(1),
                suggested: three(),
                costs: vec![("i-3", Tasks(9))],
                expected: vec!["i-3"],
            },
            Case {
                name: "fewer suggested than asked: every suggested one, no more",
                capacity: one_az(5),
                suggested: three(),
                costs: vec![("i-1", Tasks(1))],
                expected: vec!["i-1", "i-2", "i-3"],
            },
            Case {
                name: "zero asked: nothing",
                capacity: one_az(0),
                suggested: three(),
                costs: vec![("i-1", NotInCluster)],
                expected: vec![],
            },
            Case {
                name: "each zone answers from its own suggestions",
                capacity: vec![
                    CapacityToTerminate::new(AZ_A, "on-demand", 1),
                    CapacityToTerminate::new(AZ_B, "on-demand", 1),
                ],
                suggested: vec![
                    on_demand("i-a1", AZ_A),
                    on_demand("i-b1", AZ_B),
                    on_demand("i-a2", AZ_A),
                    on_demand("i-b2", AZ_B),
                ],
                // The two cheapest are both in zone a: zone b still gives its own.
                costs: vec![
                    ("i-a1", NotInCluster),
                    ("i-a2", Tasks(0)),
                    ("i-b1", Tasks(5)),
                    ("i-b2", Tasks(2)),
                ],
                expected: vec!["i-a1", "i-b2"],
            },
            Case {
                name: "spot and on-demand of one zone are separate entries",
                capacity: vec![CapacityToTerminate::new(AZ_A, "spot", 1)],
                suggested: vec![
                    on_demand("i-od", AZ_A),
                    SuggestedInstance::new("i-spot-busy", AZ_A, "spot"),
                    SuggestedInstance::new("i-spot-idle", AZ_A, "spot"),
                ],
                costs: vec![
                    ("i-od", NotInCluster),
                    ("i-spot-busy", Tasks(3)),
                    ("i-spot-idle", Tasks(0)),
                ],
                expected: vec!["i-spot-idle"],
            },
            Case {
                name: "an entry for which nothing was suggested answers nothing",
                capacity: vec![CapacityToTerminate::new(AZ_B, "on-demand", 2)],
                suggested: three(),
                costs: vec![],
                expected: vec![],
            },
            Case {
                name: "an instance suggested twice is chosen once",
                capacity: one_az(2),
                suggested: vec![on_demand("i-1", AZ_A), on_demand("i-1", AZ_A)],
                costs: vec![],
                expected: vec!["i-1"],
            },
            Case {
                name: "a repeated entry takes instances not chosen yet",
                capacity: vec![
                    CapacityToTerminate::new(AZ_A, "on-demand", 1),
                    CapacityToTerminate::new(AZ_A, "on-demand", 1),
                ],
                suggested: three(),
                costs: vec![("i-1", Tasks(2)), ("i-2", Tasks(1)), ("i-3", Tasks(0))],
                expected: vec!["i-3", "i-2"],
            },
        ];
        for case in cases {
            let choice = choose(&case.capacity, &case.suggested, costs(&case.costs));
            assert_eq!(choice.instance_ids(), case.expected, "{}", case.name);
        }
    }

    #[test]
    fn a_shortfall_names_the_entry_and_the_counts() {
        let choice = choose(
            &[CapacityToTerminate::new(AZ_A, "spot", 3)],
            &[SuggestedInstance::new("i-1", AZ_A, "spot")],
            |_| Unknown,
        );
        assert_eq!(
            choice.shortfalls,
            [Shortfall {
                availability_zone: AZ_A.into(),
                market_option: "spot".into(),
                asked: 3,
                suggested: 1,
            }]
        );
        assert_eq!(choice.chosen[0].cost, Unknown);
    }

    // ------------------------------------------------------------------ properties

    fn arb_cost() -> impl Strategy<Value = DrainCost> {
        prop_oneof![
            Just(NotInCluster),
            (1u32..4).prop_map(Planned),
            (0u32..4).prop_map(Tasks),
            Just(Unknown)
        ]
    }

    prop_compose! {
        /// Up to 12 suggested instances over 2 zones and 2 market options (some ids
        /// repeated), their costs, and up to 4 entries asking for 0..6 each.
        fn arb_request()(
            instances in prop::collection::vec((0usize..14, 0usize..2, 0usize..2, arb_cost()), 0..12),
            entries in prop::collection::vec((0usize..2, 0usize..2, 0u32..6), 0..4),
        ) -> (Vec<CapacityToTerminate>, Vec<SuggestedInstance>, HashMap<String, DrainCost>) {
            let zone = |z: usize| ["us-east-1a", "us-east-1b"][z % 2];
            let market = |m: usize| ["on-demand", "spot"][m % 2];
            let mut costs = HashMap::new();
            let mut suggested = Vec::new();
            for (id, z, m, cost) in instances {
                let id = format!("i-{id}");
                costs.entry(id.clone()).or_insert(cost);
                suggested.push(SuggestedInstance::new(&id, zone(z), market(m)));
            }
            let capacity = entries
                .into_iter()
                .map(|(z, m, n)| CapacityToTerminate::new(zone(z), market(m), n))
                .collect();
            (capacity, suggested, costs)
        }
    }

    /// The instances an entry could take: suggested for its zone and market option, first
    /// place of each id, in the group's order.
    fn first_places(suggested: &[SuggestedInstance]) -> Vec<&SuggestedInstance> {
        let mut seen = HashSet::new();
        suggested
            .iter()
            .filter(|s| seen.insert(s.instance_id.clone()))
            .collect()
    }

    proptest! {
        #[test]
        fn never_more_than_asked_and_only_suggested_ids_once((capacity, suggested, costs) in arb_request()) {
            let choice = choose(&capacity, &suggested, |id| costs[id]);
            let asked: u64 = capacity.iter().map(|c| u64::from(c.capacity)).sum();
            prop_assert!(choice.chosen.len() as u64 <= asked);
            let ids = choice.instance_ids();
            let unique: HashSet<&String> = ids.iter().collect();
            prop_assert_eq!(unique.len(), ids.len(), "an instance chosen twice");
            for id in &ids {
                prop_assert!(suggested.iter().any(|s| &s.instance_id == id), "{} was not suggested", id);
            }
        }

        #[test]
        fn each_entry_takes_as_many_as_it_can_of_its_own_zone_and_market((capacity, suggested, costs) in arb_request()) {
            let choice = choose(&capacity, &suggested, |id| costs[id]);
            let places = first_places(&suggested);
            let mut rest = choice.chosen.iter();
            let mut taken: HashSet<String> = HashSet::new();
            for entry in &capacity {
                let available = places
                    .iter()
                    .filter(|s| s.serves(entry) && !taken.contains(&s.instance_id))
                    .count();
                let expected = available.min(entry.capacity as usize);
                for _ in 0..expected {
                    let chosen = rest.next();
                    prop_assert!(chosen.is_some());
                    let Some(chosen) = chosen else { break };
                    let instance = places.iter().find(|s| s.instance_id == chosen.instance_id);
                    prop_assert!(instance.is_some_and(|s| s.serves(entry)), "{} is not of {:?}", chosen.instance_id, entry);
                    taken.insert(chosen.instance_id.clone());
                }
            }
            prop_assert!(rest.next().is_none());
        }

        #[test]
        fn a_cheaper_candidate_is_never_left_for_a_dearer_one((capacity, suggested, costs) in arb_request()) {
            // Covers: a host not in the cluster before one that is; an empty host before a
            // busy one; a known cost before an unknown one; the group's order among equals.
            let choice = choose(&capacity, &suggested, |id| costs[id]);
            let places = first_places(&suggested);
            let chosen: HashSet<&str> = choice.chosen.iter().map(|c| c.instance_id.as_str()).collect();
            let mut taken_before: HashSet<&str> = HashSet::new();
            let mut index = 0;
            for entry in &capacity {
                let candidates: Vec<(usize, &SuggestedInstance)> = places
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.serves(entry) && !taken_before.contains(s.instance_id.as_str()))
                    .map(|(i, s)| (i, *s))
                    .collect();
                let take = candidates.len().min(entry.capacity as usize);
                let this_entry: Vec<&str> = choice.chosen[index..index + take]
                    .iter()
                    .map(|c| c.instance_id.as_str())
                    .collect();
                index += take;
                for (pos_in, s_in) in candidates.iter().filter(|(_, s)| this_entry.contains(&s.instance_id.as_str())) {
                    for (pos_out, s_out) in candidates.iter().filter(|(_, s)| !this_entry.contains(&s.instance_id.as_str())) {
                        let (cin, cout) = (costs[&s_in.instance_id].rank(), costs[&s_out.instance_id].rank());
                        prop_assert!(
                            cin < cout || (cin == cout && pos_in < pos_out),
                            "{} ({:?}) chosen over {} ({:?})", s_in.instance_id, cin, s_out.instance_id, cout
                        );
                    }
                }
                taken_before.extend(this_entry);
            }
            prop_assert_eq!(taken_before.len(), chosen.len());
        }

        #[test]
        fn with_nothing_known_the_answer_is_the_groups_own_first_suggestions((capacity, suggested, _costs) in arb_request()) {
            let choice = choose(&capacity, &suggested, |_| Unknown);
            let places = first_places(&suggested);
            let mut taken: HashSet<String> = HashSet::new();
            let mut expected = Vec::new();
            for entry in &capacity {
                let firsts: Vec<String> = places
                    .iter()
                    .filter(|s| s.serves(entry) && !taken.contains(&s.instance_id))
                    .take(entry.capacity as usize)
                    .map(|s| s.instance_id.clone())
                    .collect();
                taken.extend(firsts.iter().cloned());
                expected.extend(firsts);
            }
            prop_assert_eq!(choice.instance_ids(), expected);
        }
    }
}
