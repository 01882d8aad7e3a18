//! The consolidation plan (issue 19): which hosts can go, in which order, and why the others
//! stay. Table tests, one row per behaviour, and properties over generated clusters.

mod common;

use std::collections::{BTreeMap, HashMap};

use capacity_core::consolidation::{MarginTask, Removal, Unconsolidatable, marks_do_not_disrupt};
use capacity_core::{
    CapacityError, ClusterHost, ContainerInstance, DisruptionBudget, ScaleInInput, ScaleInPlan,
    ScalePolicy, TaskShape, UnplacedTasks, WorstCase, cluster_capacity, plan_scale_in,
};
use common::{HostExt, host};
use proptest::prelude::*;

const NOW: u64 = 10_000;

fn web() -> TaskShape {
    TaskShape::new("web:1", 1024, 2048)
}

fn web80() -> TaskShape {
    TaskShape::new("web80:1", 1024, 2048).with_port(80)
}

/// A host of `cpu`/`mem` running `tasks`: remaining is registered less the tasks, their
/// static ports taken.
fn running(id: &str, (cpu, mem): (u32, u32), tasks: Vec<TaskShape>) -> ClusterHost {
    let used_cpu: u32 = tasks.iter().map(|t| t.cpu).sum();
    let used_mem: u32 = tasks.iter().map(|t| t.memory_mib).sum();
    let mut instance = host(id, cpu, mem).remaining(cpu - used_cpu, mem - used_mem);
    for port in tasks.iter().flat_map(|t| t.ports_tcp.iter()) {
        instance = instance.taken_port(*port);
    }
    ClusterHost::new(instance, tasks)
}

/// An m5.large-like host (4096 / 8192: 4 web tasks) with `n` web tasks.
fn m5(id: &str, n: usize) -> ClusterHost {
    running(id, (4096, 8192), vec![web(); n])
}

fn status(mut h: ClusterHost, status: &str) -> ClusterHost {
    h.instance = h.instance.status(status);
    h
}

struct Case {
    behaviour: &'static str,
    hosts: Vec<ClusterHost>,
    strangers: Vec<String>,
    waiting: Vec<UnplacedTasks>,
    budget: DisruptionBudget,
    headroom: u32,
    remove: Vec<&'static str>,
    /// Why some of the hosts stay.
    keep: Vec<(&'static str, Unconsolidatable)>,
}

impl Case {
    fn new(behaviour: &'static str, hosts: Vec<ClusterHost>) -> Case {
        Case {
            behaviour,
            hosts,
            strangers: vec![],
            waiting: vec![],
            budget: DisruptionBudget::Hosts(10),
            headroom: 1,
            remove: vec![],
            keep: vec![],
        }
    }
}

/// Every host removable since 0: stable at [`NOW`].
fn stable(hosts: &[ClusterHost], strangers: &[String]) -> BTreeMap<String, u64> {
    hosts
        .iter()
        .map(|h| h.instance.id.clone())
        .chain(strangers.iter().cloned())
        .map(|id| (id, 0))
        .collect()
}

/// The plan of a case without the hysteresis margin: the table is about what fits, the
/// margin has its own test (`the_margin_keeps_one_more_worst_case_task_free`).
fn plan(case: &Case) -> ScaleInPlan {
    // web80 has the size of web: its port is checked per host, and the worst case is web's.
    let worst = WorstCase::of([&web()]).unwrap();
    let since = stable(&case.hosts, &case.strangers);
    plan_scale_in(&ScaleInInput {
        margin: 0,
        not_in_cluster: &case.strangers,
        waiting: &case.waiting,
        budget: case.budget,
        policy: ScalePolicy::new(case.headroom).unwrap(),
        ..ScaleInInput::new(&case.hosts, &worst, NOW, &since)
    })
}

fn waiting(shape: TaskShape, count: u32) -> UnplacedTasks {
    UnplacedTasks {
        service: "web".into(),
        shape,
        count,
    }
}

fn cases() -> Vec<Case> {
    use Unconsolidatable::*;
    let budget_of = |n| BudgetReached { budget: n };
    vec![
        Case {
            strangers: vec!["i-stranger".into()],
            budget: DisruptionBudget::Hosts(2),
            remove: vec!["i-stranger", "b"],
            keep: vec![("c", budget_of(2)), ("a", budget_of(2))],
            ..Case::new(
                "a host not in the cluster goes first, then empty hosts, then busy ones",
                vec![m5("a", 1), m5("b", 0), m5("c", 0)],
            )
        },
        Case {
            keep: vec![
                (
                    "a",
                    TasksDoNotFit {
                        tasks: 3,
                        shape: "web:1".into(),
                    },
                ),
                (
                    "b",
                    TasksDoNotFit {
                        tasks: 3,
                        shape: "web:1".into(),
                    },
                ),
            ],
            ..Case::new(
                "the plan of an already-minimal cluster is empty",
                vec![m5("a", 3), m5("b", 3)],
            )
        },
        Case {
            remove: vec!["b"],
            ..Case::new(
                "a host whose tasks fit on the room left goes",
                vec![m5("a", 2), m5("b", 1)],
            )
        },
        Case {
            keep: vec![
                (
                    "a",
                    WouldBreakHeadroom {
                        left: 0,
                        headroom: 1,
                    },
                ),
                (
                    "b",
                    WouldBreakHeadroom {
                        left: 0,
                        headroom: 1,
                    },
                ),
            ],
            ..Case::new(
                "a host whose tasks fit but use the headroom stays",
                vec![m5("a", 2), m5("b", 2)],
            )
        },
        Case {
            headroom: 4,
            remove: vec!["c"],
            keep: vec![(
                "a",
                WouldBreakHeadroom {
                    left: 2,
                    headroom: 4,
                },
            )],
            ..Case::new(
                "a larger headroom keeps more hosts",
                vec![m5("a", 1), m5("b", 1), m5("c", 0)],
            )
        },
        Case {
            budget: DisruptionBudget::Percent(10),
            remove: vec!["e1"],
            keep: vec![("e2", budget_of(2)), ("d", Draining)],
            ..Case::new(
                "10% of 12 hosts is 2 (rounded up), and a DRAINING host counts",
                std::iter::once(status(m5("d", 0), "DRAINING"))
                    .chain((1..=11).map(|n| m5(&format!("e{n}"), 0)))
                    .collect(),
            )
        },
        Case {
            remove: vec!["a"],
            keep: vec![("b", TasksUnknown)],
            ..Case::new(
                "a host whose tasks are not known as a whole is never chosen, but its room takes tasks",
                {
                    let mut b = m5("b", 0);
                    b.tasks_known = false;
                    vec![m5("a", 1), b]
                },
            )
        },
        Case {
            remove: vec!["a"],
            keep: vec![("b", DoNotDisrupt)],
            ..Case::new(
                "a do-not-disrupt host is never chosen, but its room takes tasks",
                {
                    let mut b = m5("b", 0);
                    b.do_not_disrupt = true;
                    vec![m5("a", 1), b]
                },
            )
        },
        Case {
            waiting: vec![waiting(web(), 5)],
            keep: vec![
                ("a", WaitingTasksDoNotFit { tasks: 1 }),
                ("b", WaitingTasksDoNotFit { tasks: 1 }),
            ],
            ..Case::new(
                "tasks that wait and fit nowhere keep every host",
                vec![m5("a", 0), m5("b", 4)],
            )
        },
        Case {
            waiting: vec![waiting(web(), 4)],
            keep: vec![
                (
                    "a",
                    WouldBreakHeadroom {
                        left: 0,
                        headroom: 1,
                    },
                ),
                (
                    "b",
                    WouldBreakHeadroom {
                        left: 0,
                        headroom: 1,
                    },
                ),
            ],
            ..Case::new(
                "tasks that wait take their room before any host is tried",
                vec![m5("a", 0), m5("b", 0)],
            )
        },
        Case {
            keep: vec![
                (
                    "a",
                    TasksDoNotFit {
                        tasks: 1,
                        shape: "web80:1".into(),
                    },
                ),
                (
                    "b",
                    TasksDoNotFit {
                        tasks: 1,
                        shape: "web80:1".into(),
                    },
                ),
            ],
            ..Case::new(
                "a static port taken on every other host keeps the host",
                vec![
                    running("a", (4096, 8192), vec![web80()]),
                    running("b", (4096, 8192), vec![web80()]),
                ],
            )
        },
        Case {
            budget: DisruptionBudget::Hosts(1),
            remove: vec!["big"],
            // big goes; then the budget is spent and the others are not tried.
            keep: vec![("mid", budget_of(1)), ("small", budget_of(1))],
            ..Case::new(
                "fewest tasks per vCPU saved first",
                vec![
                    running("small", (2048, 4096), vec![web()]),
                    running("big", (8192, 16384), vec![web()]),
                    running("mid", (4096, 8192), vec![web()]),
                ],
            )
        },
        Case {
            keep: vec![
                (
                    "b",
                    WouldBreakHeadroom {
                        left: 0,
                        headroom: 1,
                    },
                ),
                (
                    "a",
                    WouldBreakHeadroom {
                        left: 0,
                        headroom: 1,
                    },
                ),
            ],
            ..Case::new(
                "the tasks of a DRAINING host are re-placed before any host is tried",
                vec![status(m5("d", 2), "DRAINING"), m5("a", 2), m5("b", 0)],
            )
        },
        Case {
            keep: vec![
                (
                    "r",
                    NotActive {
                        status: "REGISTERING".into(),
                    },
                ),
                ("x", AgentDisconnected),
            ],
            remove: vec!["a"],
            ..Case::new(
                "hosts not ACTIVE or disconnected are not candidates and offer no room",
                vec![
                    status(m5("r", 0), "REGISTERING"),
                    {
                        let mut x = m5("x", 0);
                        x.instance = x.instance.disconnected();
                        x
                    },
                    m5("a", 0),
                    m5("b", 1),
                ],
            )
        },
        Case {
            budget: DisruptionBudget::Hosts(0),
            keep: vec![("a", budget_of(0))],
            ..Case::new(
                "a budget of 0 hosts stops consolidation",
                vec![m5("a", 0), m5("b", 0)],
            )
        },
    ]
}

#[test]
fn consolidation_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let plan = plan(&case);
        if plan.ids() != case.remove {
            failures.push(format!(
                "{}: removes {:?}, want {:?}\n{plan}",
                case.behaviour,
                plan.ids(),
                case.remove
            ));
        }
        for (id, why) in &case.keep {
            if plan.why_kept(id) != Some(why) {
                failures.push(format!(
                    "{}: {id} kept for {:?}, want {why:?}\n{plan}",
                    case.behaviour,
                    plan.why_kept(id)
                ));
            }
        }
        let all = case.hosts.len() + case.strangers.len();
        if plan.remove.len() + plan.keep.len() != all {
            failures.push(format!(
                "{}: not every host is accounted for\n{plan}",
                case.behaviour
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_host_is_planned_only_after_the_stability_window() {
    let hosts = vec![m5("a", 0), m5("b", 1)];
    let worst = WorstCase::of([&web()]).unwrap();
    let window = std::time::Duration::from_secs(300);
    // First run: nothing known. Both are removable from now, neither is planned.
    let first = plan_scale_in(&ScaleInInput {
        stability_window: window,
        ..ScaleInInput::new(&hosts, &worst, 1_000, &BTreeMap::new())
    });
    assert_eq!(first.hosts_to_remove(), 0);
    assert_eq!(
        first.why_kept("a"),
        Some(&Unconsolidatable::NotYetStable {
            since: 1_000,
            until: 1_300
        })
    );
    assert_eq!(
        first.removable_since,
        BTreeMap::from([("a".into(), 1_000), ("b".into(), 1_000)])
    );
    // A run inside the window keeps the first time.
    let second = plan_scale_in(&ScaleInInput::new(
        &hosts,
        &worst,
        1_299,
        &first.removable_since,
    ));
    assert_eq!(second.hosts_to_remove(), 0);
    assert_eq!(second.removable_since, first.removable_since);
    // At the end of the window the empty host goes (the 10 % budget of 2 hosts is 1).
    let third = plan_scale_in(&ScaleInInput::new(
        &hosts,
        &worst,
        1_300,
        &second.removable_since,
    ));
    assert_eq!(third.ids(), ["a"]);
    assert_eq!(third.remove[0].why, Removal::Empty);
    // A host that stops being removable is forgotten: its window starts again.
    let busy = vec![m5("a", 4), m5("b", 4)];
    let fourth = plan_scale_in(&ScaleInInput::new(
        &busy,
        &worst,
        1_400,
        &third.removable_since,
    ));
    assert!(fourth.removable_since.is_empty());
}

#[test]
fn a_plan_says_why_for_every_host() {
    let mut c = Case::new("report", vec![m5("a", 3), m5("b", 0), m5("c", 3)]);
    c.budget = DisruptionBudget::Hosts(2);
    let text = plan(&c).to_string();
    assert!(
        text.starts_with("remove 1 host(s) (budget 2 leaving at once, 0 DRAINING already"),
        "{text}"
    );
    assert!(text.contains("  - b: empty: no task to move"), "{text}");
    assert!(
        text.contains(
            "  keep a: unconsolidatable: a task of web:1 (of its 3) fits on no host that stays"
        ),
        "{text}"
    );
}

#[test]
fn budgets_parse_and_round_up() {
    assert_eq!(
        DisruptionBudget::parse("10%"),
        Ok(DisruptionBudget::Percent(10))
    );
    assert_eq!(
        DisruptionBudget::parse(" 3 "),
        Ok(DisruptionBudget::Hosts(3))
    );
    for bad in ["0%", "101%", "-1", "ten", "%"] {
        assert_eq!(
            DisruptionBudget::parse(bad),
            Err(CapacityError::InvalidDisruptionBudget(bad.into())),
            "{bad}"
        );
    }
    let ten = DisruptionBudget::default();
    assert_eq!(
        [0, 1, 10, 11, 5_000].map(|n| ten.hosts_allowed(n)),
        [1, 1, 1, 2, 500]
    );
    assert_eq!(DisruptionBudget::Hosts(0).hosts_allowed(100), 0);
}

#[test]
fn the_do_not_disrupt_attribute_counts_unless_it_says_no() {
    assert_eq!(
        capacity_core::DO_NOT_DISRUPT_ATTRIBUTE,
        "ecs-capacity.do-not-disrupt"
    );
    for (value, marks) in [
        (None, true),
        (Some("true"), true),
        (Some("yes"), true),
        (Some("False"), false),
        (Some("0"), false),
        (Some(" no "), false),
    ] {
        assert_eq!(marks_do_not_disrupt(value), marks, "{value:?}");
    }
}

// ------------------------------------------------------------------ properties

/// Three shapes with unique names (so a placement names its shape), one with port 80.
fn shapes() -> [TaskShape; 3] {
    [
        TaskShape::new("small:1", 512, 1024),
        TaskShape::new("large:1", 1536, 3072),
        web80(),
    ]
}

prop_compose! {
    fn arb_host(n: usize)(
        big in any::<bool>(),
        picks in prop::collection::vec(0usize..3, 0..8),
        state in prop_oneof![8 => Just("ACTIVE"), 1 => Just("DRAINING"), 1 => Just("REGISTERING")],
        disconnected in prop::bool::weighted(0.1),
        do_not_disrupt in prop::bool::weighted(0.15),
    ) -> ClusterHost {
        let size = if big { (4096u32, 8192u32) } else { (2048, 4096) };
        let shapes = shapes();
        // Keep only the tasks that fit, in order, as ECS would have placed them.
        let mut tasks: Vec<TaskShape> = Vec::new();
        let (mut cpu, mut mem) = size;
        for p in picks {
            let t = &shapes[p];
            let port_free = t.ports_tcp.iter().all(|port| !tasks.iter().any(|o| o.ports_tcp.contains(port)));
            if t.cpu <= cpu && t.memory_mib <= mem && port_free {
                cpu -= t.cpu;
                mem -= t.memory_mib;
                tasks.push(t.clone());
            }
        }
        let mut h = running(&format!("h{n}"), size, tasks);
        h.instance = h.instance.status(state);
        if disconnected {
            h.instance = h.instance.disconnected();
        }
        h.do_not_disrupt = do_not_disrupt;
        h
    }
}

fn arb_cluster() -> impl Strategy<Value = Vec<ClusterHost>> {
    (1usize..=10).prop_flat_map(|n| (0..n).map(arb_host).collect::<Vec<_>>())
}

fn arb_budget() -> impl Strategy<Value = DisruptionBudget> {
    prop_oneof![
        (0u32..=4).prop_map(DisruptionBudget::Hosts),
        (1u32..=100).prop_map(DisruptionBudget::Percent),
    ]
}

/// The hosts that stay, with the placed tasks taken from their remaining room; `Err` when a
/// placement does not fit (more than the room, or a port taken twice).
fn carry_out(hosts: &[ClusterHost], plan: &ScaleInPlan) -> Result<Vec<ContainerInstance>, String> {
    let by_name: HashMap<String, TaskShape> =
        shapes().into_iter().map(|s| (s.name.clone(), s)).collect();
    let mut staying: HashMap<&str, ContainerInstance> = hosts
        .iter()
        .filter(|h| !plan.ids().contains(&h.instance.id.as_str()))
        .map(|h| (h.instance.id.as_str(), h.instance.clone()))
        .collect();
    for p in &plan.placements {
        let shape = by_name
            .get(&p.shape)
            .ok_or(format!("unknown shape {}", p.shape))?;
        let onto = staying
            .get_mut(p.onto.as_str())
            .ok_or(format!("{} placed on {}, which goes", p.shape, p.onto))?;
        if !onto.accepts_tasks() {
            return Err(format!(
                "{} placed on {}, which takes no tasks",
                p.shape, p.onto
            ));
        }
        let r = &mut onto.remaining;
        r.cpu = r
            .cpu
            .checked_sub(shape.cpu)
            .ok_or(format!("{} short of CPU", p.onto))?;
        r.memory_mib = r
            .memory_mib
            .checked_sub(shape.memory_mib)
            .ok_or(format!("{} short of memory", p.onto))?;
        for port in &shape.ports_tcp {
            if !r.ports_tcp.insert(*port) {
                return Err(format!("port {port} taken twice on {}", p.onto));
            }
        }
    }
    Ok(staying.into_values().collect())
}

/// (shape, from) of every task that must be re-placed: on planned or DRAINING hosts, or
/// waiting.
fn must_move(
    hosts: &[ClusterHost],
    waiting: &[UnplacedTasks],
    plan: &ScaleInPlan,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = hosts
        .iter()
        .filter(|h| {
            plan.ids().contains(&h.instance.id.as_str()) || h.instance.status.as_str() == "DRAINING"
        })
        .flat_map(|h| {
            h.tasks
                .iter()
                .map(|t| (t.shape.name.clone(), h.instance.id.clone()))
        })
        .collect();
    for w in waiting {
        out.extend((0..w.count).map(|_| (w.shape.name.clone(), format!("waiting: {}", w.service))));
    }
    out.sort();
    out
}

proptest! {

    #[test]
    fn a_plan_can_be_carried_out(
        hosts in arb_cluster(),
        strangers in 0usize..=2,
        waiting_count in 0u32..=3,
        budget in arb_budget(),
        headroom in 1u32..=3,
        stable_mask in any::<u16>(),
    ) {
        let strangers: Vec<String> = (0..strangers).map(|n| format!("i-stranger-{n}")).collect();
        let worst = WorstCase::of(&shapes()).unwrap();
        let waiting = if waiting_count > 0 { vec![waiting(shapes()[0].clone(), waiting_count)] } else { vec![] };
        // Some hosts removable long enough, some recently, some never seen.
        let since: BTreeMap<String, u64> = hosts
            .iter()
            .map(|h| h.instance.id.clone())
            .chain(strangers.iter().cloned())
            .enumerate()
            .filter(|(n, _)| stable_mask & (1 << (n % 16)) != 0)
            .map(|(n, id)| (id, if n % 3 == 0 { NOW - 10 } else { 0 }))
            .collect();
        let input = ScaleInInput {
            not_in_cluster: &strangers,
            waiting: &waiting,
            budget,
            policy: ScalePolicy::new(headroom).unwrap(),
            ..ScaleInInput::new(&hosts, &worst, NOW, &since)
        };
        let plan = plan_scale_in(&input);
        let draining = hosts.iter().filter(|h| h.instance.status.as_str() == "DRAINING").count() as u32;

        // Every host is either removed or kept, once.
        prop_assert_eq!(plan.remove.len() + plan.keep.len(), hosts.len() + strangers.len());
        // Never beyond the budget, DRAINING hosts counted.
        prop_assert!(plan.hosts_to_remove() <= budget.hosts_allowed(hosts.len() + strangers.len()).saturating_sub(draining), "{}", plan);
        for removed in &plan.remove {
            // Only stable hosts, never a do-not-disrupt or non-ACTIVE one.
            let since = since.get(&removed.id).copied();
            prop_assert!(since.is_some_and(|s| s + 300 <= NOW), "{} planned before its window\n{}", removed.id, plan);
            if let Some(h) = hosts.iter().find(|h| h.instance.id == removed.id) {
                prop_assert!(!h.do_not_disrupt && h.instance.accepts_tasks(), "{} may not go\n{}", removed.id, plan);
            }
        }
        // Empty hosts before busy ones: the order of the reasons never goes back.
        let rank = |why: &Removal| match why { Removal::NotInCluster => 0, Removal::Empty => 1, Removal::TasksMove { .. } => 2 };
        prop_assert!(plan.remove.windows(2).all(|w| rank(&w[0].why) <= rank(&w[1].why)), "{}", plan);
        if plan.remove.iter().any(|r| rank(&r.why) == 2) {
            let empty_left_for_budget = hosts.iter().any(|h| {
                // Empty: no task of its own, and none of the waiting ones placed on it.
                h.tasks.is_empty() && !plan.placements.iter().any(|p| p.onto == h.instance.id)
                    && matches!(plan.why_kept(&h.instance.id), Some(Unconsolidatable::BudgetReached { .. }))
            });
            prop_assert!(!empty_left_for_budget, "a busy host went while an empty one waited for the budget\n{}", plan);
        }
        // Every task that must move is placed, on a host that stays and has the room for it.
        let mut placed: Vec<(String, String)> = plan.placements.iter().map(|p| (p.shape.clone(), p.from.clone())).collect();
        placed.sort();
        if plan.moving_short == 0 {
            prop_assert_eq!(placed, must_move(&hosts, &waiting, &plan), "{}", plan);
        }
        let after = carry_out(&hosts, &plan).map_err(TestCaseError::fail)?;
        let free = cluster_capacity(&after, &worst).unwrap().container_capacity();
        prop_assert_eq!(free, plan.free_after);
        // A host not in the cluster takes no room with it; any other removal keeps the
        // headroom free.
        if plan.remove.iter().any(|r| r.why != Removal::NotInCluster) {
            prop_assert!(free >= u64::from(headroom), "headroom {} not free after the plan: {}\n{}", headroom, free, plan);
        }
    }

    #[test]
    fn never_plans_a_host_whose_tasks_do_not_fit_elsewhere(hosts in arb_cluster()) {
        // One host at a time, with an unlimited budget: a host is planned only if its tasks
        // fit on the others' room, checked by placing them one by one on any host that fits.
        let worst = WorstCase::of(&shapes()).unwrap();
        let since = stable(&hosts, &[]);
        let plan = plan_scale_in(&ScaleInInput {
            budget: DisruptionBudget::Hosts(100),
            ..ScaleInInput::new(&hosts, &worst, NOW, &since)
        });
        if let Some(first) = plan.remove.first() {
            let Some(h) = hosts.iter().find(|h| h.instance.id == first.id) else {
                return Err(TestCaseError::fail("planned a host that is not in the input"));
            };
            let total: u32 = h.tasks.iter().map(|t| t.shape.cpu).sum();
            let others: u32 = hosts.iter()
                .filter(|o| o.instance.id != first.id && o.instance.accepts_tasks())
                .map(|o| o.instance.remaining.cpu)
                .sum();
            prop_assert!(total <= others, "{} moves {} CPU onto {} free\n{}", first.id, total, others, plan);
        }
    }
}

#[test]
fn the_worked_example_of_the_docs() {
    // docs/math.md, "Hosts to remove": four 4-slot hosts, a budget of 3.
    let mut d = m5("d", 1);
    d.do_not_disrupt = true;
    let mut c = Case::new("docs", vec![m5("a", 3), m5("b", 1), m5("c", 0), d]);
    c.budget = DisruptionBudget::parse("3").unwrap();
    let plan = plan(&c);
    assert_eq!(plan.ids(), ["c", "b"]);
    assert_eq!(plan.remove[0].why, Removal::Empty);
    assert_eq!(plan.remove[1].why, Removal::TasksMove { tasks: 1, onto: 1 });
    assert_eq!(
        plan.why_kept("a"),
        Some(&Unconsolidatable::TasksDoNotFit {
            tasks: 4,
            shape: "web:1".into()
        })
    );
    assert_eq!(plan.why_kept("d"), Some(&Unconsolidatable::DoNotDisrupt));
    assert_eq!((plan.free_after, plan.hosts_to_remove()), (3, 2));
    // With the default margin of 1 (as the docs tell it) the plan is the same: b's move
    // leaves 3 free, at least headroom + margin.
    let worst = WorstCase::of([&web()]).unwrap();
    let since = stable(&c.hosts, &[]);
    let input = ScaleInInput {
        budget: c.budget,
        ..ScaleInInput::new(&c.hosts, &worst, NOW, &since)
    };
    assert_eq!(plan_scale_in(&input).ids(), ["c", "b"]);
    // Short 10 minutes ago: quiet, nothing planned.
    let quiet = plan_scale_in(&ScaleInInput {
        last_shortfall: Some(NOW - 600),
        ..input
    });
    assert_eq!(quiet.hosts_to_remove(), 0);
    assert!(matches!(
        quiet.why_kept("c"),
        Some(Unconsolidatable::QuietAfterShortfall { .. })
    ));
}

#[test]
fn tasks_of_two_draining_hosts_are_never_room_for_each_other() {
    // Two DRAINING hosts with 2 tasks each and one ACTIVE host with room for 3: the draining
    // tasks go onto the ACTIVE host only, one of them finds no room, and nothing is removed.
    let hosts = vec![
        status(m5("d1", 2), "DRAINING"),
        status(m5("d2", 2), "DRAINING"),
        m5("a", 1),
    ];
    let worst = WorstCase::of([&web()]).unwrap();
    let since = stable(&hosts, &[]);
    let plan = plan_scale_in(&ScaleInInput {
        budget: DisruptionBudget::Hosts(5),
        ..ScaleInInput::new(&hosts, &worst, NOW, &since)
    });
    assert!(plan.placements.iter().all(|p| p.onto == "a"), "{plan}");
    assert_eq!(plan.placements.len(), 3, "a takes three");
    assert_eq!(plan.moving_short, 1, "the fourth fits nowhere");
    assert_eq!(plan.hosts_to_remove(), 0);
    assert_eq!(
        plan.why_kept("a"),
        Some(&Unconsolidatable::WaitingTasksDoNotFit { tasks: 1 })
    );
}

#[test]
fn the_margin_keeps_room_for_one_more_of_the_largest_moving_task() {
    // a: 3 web, b: 1 web, c: 3 web (4 per host), headroom 1.
    let hosts = vec![m5("a", 3), m5("b", 1), m5("c", 3)];
    let worst = WorstCase::of([&web()]).unwrap();
    let since = stable(&hosts, &[]);
    let input = |margin| ScaleInInput {
        budget: DisruptionBudget::Hosts(10),
        margin,
        ..ScaleInInput::new(&hosts, &worst, NOW, &since)
    };
    // Without it: b's task goes onto a (full) and c keeps 1 free: exactly the headroom.
    // (An empty host needs the headroom only: the margin guards moves.)
    let bare = plan_scale_in(&input(0));
    assert_eq!(bare.ids(), ["b"]);
    assert_eq!(bare.free_after, 1);
    // With the default margin of one more web task beside the headroom, b stays, and says why.
    let deployed = plan_scale_in(&ScaleInInput {
        budget: DisruptionBudget::Hosts(10),
        ..ScaleInInput::new(&hosts, &worst, NOW, &since)
    });
    assert_eq!(deployed.hosts_to_remove(), 0, "{deployed}");
    assert_eq!(
        deployed.why_kept("b"),
        Some(&Unconsolidatable::NoRoomForMargin {
            shape: "web:1".to_owned(),
            tasks: 1
        })
    );
    // Counted in worst-case tasks (as before issue 27), two must stay free: the same here,
    // where the worst case is the task that moves.
    let worst_case_margin = plan_scale_in(&ScaleInInput {
        budget: DisruptionBudget::Hosts(10),
        margin_task: MarginTask::WorstCase,
        ..ScaleInInput::new(&hosts, &worst, NOW, &since)
    });
    assert_eq!(
        worst_case_margin.why_kept("b"),
        Some(&Unconsolidatable::WouldBreakHeadroom {
            left: 1,
            headroom: 2
        })
    );
}

#[test]
fn small_tasks_move_without_a_large_jobs_room_to_spare() {
    // The worst case is a 4-vCPU job (a whole m5 host); the hosts run small web tasks.
    // a: 3 web, b: 1 web, c: 1 web, e (twice the size): 4 web, room for one job — the
    // headroom. Removing b moves one web task onto a; the hosts that stay keep e's job slot
    // free (the headroom) and room for one more web task on c.
    let job = TaskShape::new("report:7", 4096, 8192);
    let e = running("e", (8192, 16384), vec![web(); 4]);
    let hosts = vec![m5("a", 3), m5("b", 1), m5("c", 1), e];
    let worst = WorstCase::of([&web(), &job]).unwrap();
    let since = stable(&hosts, &[]);
    let input = |margin_task| ScaleInInput {
        budget: DisruptionBudget::Hosts(1),
        margin_task,
        ..ScaleInInput::new(&hosts, &worst, NOW, &since)
    };
    let by_moving = plan_scale_in(&input(MarginTask::LargestMoving));
    assert_eq!(by_moving.ids(), ["b"], "{by_moving}");
    // Counted in worst-case jobs the hosts that stay would need room for two: b stays.
    let by_worst = plan_scale_in(&input(MarginTask::WorstCase));
    assert_eq!(by_worst.hosts_to_remove(), 0, "{by_worst}");
    assert!(matches!(
        by_worst.why_kept("b"),
        Some(Unconsolidatable::WouldBreakHeadroom { headroom: 2, .. })
    ));
}

#[test]
fn no_host_is_planned_until_the_quiet_period_after_a_shortfall() {
    let worst = WorstCase::of([&web()]).unwrap();
    let quiet = std::time::Duration::from_secs(900);
    // Short: four full hosts, no worst-case task free (HostsToAdd would be 1).
    let full = vec![m5("a", 4), m5("b", 4)];
    let since = stable(&full, &[]);
    let short = plan_scale_in(&ScaleInInput {
        quiet_after_shortfall: quiet,
        ..ScaleInInput::new(&full, &worst, NOW, &since)
    });
    assert_eq!(short.last_shortfall, Some(NOW));
    assert!(short.removable_since.is_empty());
    // Later an empty host is there (the scale-out's), the headroom free: not yet planned,
    // and its stability window does not start.
    let after = vec![m5("a", 4), m5("b", 4), m5("c", 0), m5("d", 0)];
    let since = stable(&after, &[]);
    let quiet_run = plan_scale_in(&ScaleInInput {
        quiet_after_shortfall: quiet,
        last_shortfall: short.last_shortfall,
        ..ScaleInInput::new(&after, &worst, NOW + 899, &since)
    });
    assert_eq!(quiet_run.hosts_to_remove(), 0, "{quiet_run}");
    assert_eq!(quiet_run.last_shortfall, Some(NOW));
    assert_eq!(
        quiet_run.why_kept("c"),
        Some(&Unconsolidatable::QuietAfterShortfall {
            short_at: NOW,
            until: NOW + 900
        })
    );
    assert!(quiet_run.removable_since.is_empty());
    // From the end of the quiet period the plan is as without it.
    let open = plan_scale_in(&ScaleInInput {
        quiet_after_shortfall: quiet,
        last_shortfall: short.last_shortfall,
        ..ScaleInInput::new(&after, &worst, NOW + 900, &since)
    });
    assert_eq!(open.ids(), ["c"], "{open}");
    // A cold start knows of no shortfall: nothing holds the plan back.
    let cold = plan_scale_in(&ScaleInInput::new(&after, &worst, NOW, &since));
    assert_eq!(cold.ids(), ["c"]);
    assert_eq!(cold.last_shortfall, None);
}

proptest! {
    /// After a shortfall nothing goes within the quiet period; whatever goes leaves the
    /// headroom and the margin free; with neither rule the plan is the bare one.
    #[test]
    fn hysteresis_only_holds_hosts_back(
        hosts in arb_cluster(),
        margin in 0u32..=3,
        by_worst_case in any::<bool>(),
        short_ago in proptest::option::of(0u64..=2_000),
    ) {
        let margin_task = if by_worst_case { MarginTask::WorstCase } else { MarginTask::LargestMoving };
        let worst = WorstCase::of(&shapes()).unwrap();
        let since = stable(&hosts, &[]);
        let input = ScaleInInput {
            budget: DisruptionBudget::Hosts(100),
            ..ScaleInInput::new(&hosts, &worst, NOW, &since)
        };
        let bare = plan_scale_in(&ScaleInInput {
            margin: 0,
            quiet_after_shortfall: std::time::Duration::ZERO,
            ..input.clone()
        });
        let held = plan_scale_in(&ScaleInInput {
            margin,
            margin_task,
            last_shortfall: short_ago.map(|ago| NOW - ago),
            ..input.clone()
        });
        if short_ago.is_some_and(|ago| ago < 900) || held.last_shortfall == Some(NOW) {
            prop_assert_eq!(held.hosts_to_remove(), 0, "{}", held);
        }
        if margin == 0 && short_ago.is_none_or(|ago| ago >= 900) && held.last_shortfall != Some(NOW) {
            prop_assert_eq!(held.ids(), bare.ids());
        }
        if held.remove.iter().any(|r| r.why != Removal::NotInCluster) {
            prop_assert!(held.free_after >= 1, "{}", held);
        }
        if held.remove.iter().any(|r| matches!(r.why, Removal::TasksMove { .. })) {
            // In worst-case tasks the margin is slots left free; of the moving task, room for
            // it beside the headroom, which the headroom alone bounds from below.
            let least = if by_worst_case { 1 + margin } else { 1 };
            prop_assert!(held.free_after >= u64::from(least), "{}", held);
        }
    }
}

#[test]
fn empty_hosts_waiting_for_the_budget_keep_their_stability_window() {
    let worst = WorstCase::of([&web()]).unwrap();
    let budget = DisruptionBudget::Hosts(1);
    let cluster = |first: Option<&str>| {
        let mut hosts = vec![m5("d", 4), m5("b", 0), m5("c", 0), m5("e", 0)];
        match first {
            Some("DRAINING") => hosts.insert(0, status(m5("a", 0), "DRAINING")),
            Some(_) => hosts.insert(0, m5("a", 0)),
            None => {}
        }
        hosts
    };
    let run = |hosts: &[ClusterHost], now, since: &BTreeMap<String, u64>| {
        plan_scale_in(&ScaleInInput {
            budget,
            ..ScaleInInput::new(hosts, &worst, now, since)
        })
    };
    let hosts = cluster(Some("ACTIVE"));
    let first = run(&hosts, 1_000, &BTreeMap::new());
    assert_eq!(first.hosts_to_remove(), 0);
    // At the end of the window one goes (the budget), the other empty ones keep their time.
    let second = run(&hosts, 1_300, &first.removable_since);
    assert_eq!(second.ids(), ["a"]);
    assert_eq!(
        second.why_kept("b"),
        Some(&Unconsolidatable::BudgetReached { budget: 1 })
    );
    assert_eq!(second.removable_since.get("b"), Some(&1_000));
    assert_eq!(second.removable_since.get("c"), Some(&1_000));
    // e is not: with a, b and c gone its 4 free slots are all the room left (d is full),
    // which the headroom needs.
    assert_eq!(second.removable_since.get("e"), None, "{second}");
    assert_eq!(second.removable_since.get("d"), None);
    // While a drains, the budget is spent: b and c still keep their time.
    let draining = cluster(Some("DRAINING"));
    let third = run(&draining, 1_310, &second.removable_since);
    assert_eq!(third.hosts_to_remove(), 0);
    assert_eq!(third.removable_since.get("b"), Some(&1_000));
    // Once a is gone, b goes at once: no second window.
    let gone = cluster(None);
    let fourth = run(&gone, 1_320, &third.removable_since);
    assert_eq!(fourth.ids(), ["b"], "{fourth}");
}

#[test]
fn an_empty_host_leaves_with_the_headroom_free_the_margin_guards_moves() {
    // a runs 3 of its 4 slots, b is empty. Removing b leaves 1 free: the headroom, not the
    // margin; b is empty, so it goes (as the book's scale-in would remove it).
    let hosts = vec![m5("a", 3), m5("b", 0)];
    let worst = WorstCase::of([&web()]).unwrap();
    let since = stable(&hosts, &[]);
    let plan = plan_scale_in(&ScaleInInput::new(&hosts, &worst, NOW, &since));
    assert_eq!(plan.ids(), ["b"], "{plan}");
    assert_eq!(plan.free_after, 1);
    // Had b one task, moving it onto a would leave 1 free: the headroom, with no room for
    // one more web task beside it (the margin): kept.
    let busy = vec![m5("a", 2), m5("b", 1)];
    let plan = plan_scale_in(&ScaleInInput::new(&busy, &worst, NOW, &stable(&busy, &[])));
    assert_eq!(
        plan.why_kept("b"),
        Some(&Unconsolidatable::NoRoomForMargin {
            shape: "web:1".to_owned(),
            tasks: 1
        }),
        "{plan}"
    );
}
