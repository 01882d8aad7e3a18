//! Invariants of the capacity math over generated clusters and task shapes.

use std::collections::BTreeSet;

use capacity_core::{
    ClusterCapacity, ContainerInstance, EniLimit, InstanceStatus, Resources, ScaleDecision,
    ScalePolicy, TaskShape, WorstCase, cluster_capacity,
};
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};
use proptest::test_runner::FileFailurePersistence;

/// The agent's own port: reserved (registered) on every host, so always taken.
const AGENT_PORT: u16 = 22;
const TCP_PORTS: [u16; 4] = [80, 443, 8080, 9000];
const UDP_PORTS: [u16; 2] = [53, 8125];

/// A value in `0..=max`, often at the ends (an empty or a full host).
fn up_to(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(0), 2 => Just(max), 5 => 0..=max]
}

fn status() -> impl Strategy<Value = InstanceStatus> {
    prop_oneof![
        6 => Just(InstanceStatus::Active),
        1 => Just(InstanceStatus::Draining),
        1 => Just(InstanceStatus::Registering),
        1 => Just(InstanceStatus::Inactive),
        1 => Just(InstanceStatus::Other("SOMETHING_NEW".to_owned())),
    ]
}

fn eni() -> impl Strategy<Value = Option<EniLimit>> {
    proptest::option::weighted(
        0.3,
        (1u32..=8).prop_flat_map(|max_enis| {
            up_to(max_enis - 1).prop_map(move |task_enis_in_use| EniLimit {
                max_enis,
                task_enis_in_use,
            })
        }),
    )
}

/// Valid input as ECS reports it: remaining within registered, the agent's port taken.
fn instance() -> impl Strategy<Value = ContainerInstance> {
    let sizes = (
        prop_oneof![Just(1024u32), Just(2048), Just(4096), 0u32..=8192],
        prop_oneof![Just(993u32), Just(3904), Just(7680), 0u32..=16384],
        0u32..=4,
    );
    sizes
        .prop_flat_map(|(cpu, memory_mib, gpus)| {
            (
                Just((cpu, memory_mib, gpus)),
                (up_to(cpu), up_to(memory_mib), up_to(gpus)),
                subsequence(TCP_PORTS.to_vec(), 0..=TCP_PORTS.len()),
                subsequence(UDP_PORTS.to_vec(), 0..=UDP_PORTS.len()),
                status(),
                proptest::bool::weighted(0.9),
                eni(),
            )
        })
        .prop_map(
            |(
                (cpu, memory_mib, gpus),
                (rem_cpu, rem_mem, rem_gpus),
                tcp,
                udp,
                status,
                connected,
                eni,
            )| {
                let reserved: BTreeSet<u16> = [AGENT_PORT].into();
                ContainerInstance {
                    id: String::new(),
                    ec2_instance_id: None,
                    instance_type: None,
                    status,
                    agent_connected: connected,
                    registered: Resources {
                        cpu,
                        memory_mib,
                        ports_tcp: reserved.clone(),
                        ports_udp: BTreeSet::new(),
                        gpus,
                    },
                    remaining: Resources {
                        cpu: rem_cpu,
                        memory_mib: rem_mem,
                        ports_tcp: reserved.into_iter().chain(tcp).collect(),
                        ports_udp: udp.into_iter().collect(),
                        gpus: rem_gpus,
                    },
                    eni,
                    attributes: Default::default(),
                }
            },
        )
}

/// Up to 12 instances, each with a unique id (`i-<position>`).
fn cluster() -> impl Strategy<Value = Vec<ContainerInstance>> {
    cluster_of(0..=12)
}

fn cluster_of(
    size: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<ContainerInstance>> {
    prop::collection::vec(instance(), size).prop_map(|mut v| {
        for (n, i) in v.iter_mut().enumerate() {
            i.id = format!("i-{n}");
        }
        v
    })
}

fn shape() -> impl Strategy<Value = TaskShape> {
    (
        0u32..=2048,
        1u32..=4096,
        proptest::option::weighted(0.2, prop::sample::select(TCP_PORTS.to_vec())),
        proptest::option::weighted(0.1, prop::sample::select(UDP_PORTS.to_vec())),
        prop_oneof![9 => Just(0u32), 1 => 1u32..=2],
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(cpu, memory_mib, tcp, udp, gpus, awsvpc)| TaskShape {
            name: "shape".to_owned(),
            cpu,
            memory_mib,
            ports_tcp: tcp.into_iter().collect(),
            ports_udp: udp.into_iter().collect(),
            gpus,
            awsvpc,
            member_of: Vec::new(),
        })
}

fn shapes() -> impl Strategy<Value = Vec<TaskShape>> {
    prop::collection::vec(shape(), 1..=5)
}

fn worst_of(shapes: &[TaskShape]) -> Result<WorstCase, TestCaseError> {
    WorstCase::of(shapes).map_err(|e| TestCaseError::fail(e.to_string()))
}

fn capacity_of(
    instances: &[ContainerInstance],
    worst: &WorstCase,
) -> Result<ClusterCapacity, TestCaseError> {
    cluster_capacity(instances, worst).map_err(|e| TestCaseError::fail(e.to_string()))
}

/// What must not depend on the order of the instances.
fn summary(c: &ClusterCapacity) -> (u64, u32, u64, usize, String) {
    (
        c.container_capacity(),
        c.largest_host_slots(),
        c.idle_host_capacity().to_bits(),
        c.counted_instances(),
        format!("{:?}", c.per_resource()),
    )
}

/// The instance's slots by id, so that reorderings can be compared.
fn slots_by_id(instances: &[ContainerInstance], c: &ClusterCapacity) -> Vec<(String, u32)> {
    let mut v: Vec<_> = c
        .instances()
        .iter()
        .map(|s| (instances[s.index].id.clone(), s.slots))
        .collect();
    v.sort();
    v
}

/// The same host, empty: how a new host of that type registers.
fn empty_copy(instance: &ContainerInstance, id: String) -> ContainerInstance {
    ContainerInstance {
        id,
        status: InstanceStatus::Active,
        agent_connected: true,
        remaining: instance.registered.clone(),
        eni: instance.eni.map(|e| EniLimit {
            task_enis_in_use: 0,
            ..e
        }),
        ..instance.clone()
    }
}

/// Knobs that free some of an instance's resources (each within what is registered).
type MoreRoom = (u32, u32, u32, u32, Vec<bool>);

/// `instance` with more of every resource free, as chosen by `knobs`.
fn with_more_room(instance: &ContainerInstance, knobs: &MoreRoom) -> ContainerInstance {
    let (cpu, mem, gpus, enis, free_ports) = knobs;
    let grow =
        |remaining: u32, registered: u32, k: u32| remaining + k % (registered - remaining + 1);
    let mut more = instance.clone();
    more.remaining.cpu = grow(more.remaining.cpu, more.registered.cpu, *cpu);
    more.remaining.memory_mib = grow(more.remaining.memory_mib, more.registered.memory_mib, *mem);
    more.remaining.gpus = grow(more.remaining.gpus, more.registered.gpus, *gpus);
    if let Some(e) = &mut more.eni {
        e.task_enis_in_use -= enis % (e.task_enis_in_use + 1);
    }
    let mut free = free_ports.iter().cycle();
    more.remaining
        .ports_tcp
        .retain(|p| *p == AGENT_PORT || !free.next().copied().unwrap_or(false));
    more.remaining
        .ports_udp
        .retain(|_| !free.next().copied().unwrap_or(false));
    more
}

fn policy(headroom: u32) -> Result<ScalePolicy, TestCaseError> {
    ScalePolicy::new(headroom).map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    // Shrunk failures are kept next to this file and replayed first.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn independent_of_instance_order(
        (instances, shuffled) in cluster().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        shapes in shapes(),
        headroom in 1u32..=5,
    ) {
        let worst = worst_of(&shapes)?;
        let a = capacity_of(&instances, &worst)?;
        let b = capacity_of(&shuffled, &worst)?;
        prop_assert_eq!(summary(&a), summary(&b));
        prop_assert_eq!(slots_by_id(&instances, &a), slots_by_id(&shuffled, &b));
        let policy = policy(headroom)?;
        prop_assert_eq!(a.decide(&policy), b.decide(&policy));
    }

    #[test]
    fn idle_host_capacity_is_the_same_whichever_instance_triggered_the_run(
        instances in cluster_of(1..=12),
        trigger in any::<Index>(),
        shapes in shapes(),
    ) {
        let worst = worst_of(&shapes)?;
        let base = capacity_of(&instances, &worst)?;
        // The triggering instance first, as a caller that starts from the event might list it.
        let mut from_trigger = instances.clone();
        from_trigger.rotate_left(trigger.index(instances.len()));
        let run = capacity_of(&from_trigger, &worst)?;
        prop_assert_eq!(run.idle_host_capacity().to_bits(), base.idle_host_capacity().to_bits());
        prop_assert_eq!(run.largest_host_slots(), base.largest_host_slots());
        prop_assert_eq!(run.decide(&ScalePolicy::default()), base.decide(&ScalePolicy::default()));
    }

    #[test]
    fn never_counts_a_host_that_is_not_active_and_connected(
        instances in cluster(),
        shapes in shapes(),
    ) {
        let worst = worst_of(&shapes)?;
        let all = capacity_of(&instances, &worst)?;
        let accepting: Vec<_> = instances.iter().filter(|i| i.accepts_tasks()).cloned().collect();
        let only_accepting = capacity_of(&accepting, &worst)?;
        prop_assert_eq!(summary(&all), summary(&only_accepting));
        for s in all.instances() {
            let instance = &instances[s.index];
            if !instance.accepts_tasks() {
                prop_assert_eq!(s.slots, 0, "{} counted", instance.id);
                prop_assert!(s.exclusion.is_some() && s.binding.is_none());
            } else {
                prop_assert!(s.exclusion.is_none());
            }
        }
    }

    #[test]
    fn more_remaining_resources_never_lower_capacity(
        (instances, knobs) in cluster().prop_flat_map(|v| {
            let n = v.len();
            let knob = (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(),
                        prop::collection::vec(any::<bool>(), 1..=6));
            (Just(v), prop::collection::vec(knob, n))
        }),
        shapes in shapes(),
    ) {
        let worst = worst_of(&shapes)?;
        let more: Vec<_> = instances.iter().zip(&knobs).map(|(i, k)| with_more_room(i, k)).collect();
        let before = capacity_of(&instances, &worst)?;
        let after = capacity_of(&more, &worst)?;
        prop_assert!(after.container_capacity() >= before.container_capacity());
        prop_assert!(after.idle_host_capacity() >= before.idle_host_capacity());
        prop_assert_eq!(after.largest_host_slots(), before.largest_host_slots());
        for (b, a) in before.instances().iter().zip(after.instances()) {
            prop_assert!(a.slots >= b.slots, "{}: {} -> {}", instances[b.index].id, b.slots, a.slots);
        }
    }

    #[test]
    fn never_above_the_books_formula(instances in cluster(), shapes in shapes()) {
        let c = capacity_of(&instances, &worst_of(&shapes)?)?;
        prop_assert!(c.container_capacity() <= c.book_capacity());
    }

    #[test]
    fn equals_the_books_formula_when_hosts_are_alike_and_only_cpu_and_memory_matter(
        (cpu, memory_mib, rem_cpu, rem_mem) in (1u32..=8192, 1u32..=16384)
            .prop_flat_map(|(c, m)| (Just(c), Just(m), up_to(c), up_to(m))),
        hosts in 1usize..=20,
        sizes in prop::collection::vec((0u32..=2048, 1u32..=4096), 1..=5),
    ) {
        let host = ContainerInstance::active("i", Resources::new(cpu, memory_mib), Resources::new(rem_cpu, rem_mem));
        let instances = vec![host; hosts];
        let shapes: Vec<_> = sizes.into_iter().map(|(c, m)| TaskShape::new("s", c, m)).collect();
        let c = capacity_of(&instances, &worst_of(&shapes)?)?;
        prop_assert_eq!(c.container_capacity(), c.book_capacity());
    }

    #[test]
    fn totals_are_consistent(instances in cluster(), shapes in shapes()) {
        let c = capacity_of(&instances, &worst_of(&shapes)?)?;
        prop_assert_eq!(c.instances().len(), instances.len());
        let sum: u64 = c.instances().iter().map(|s| u64::from(s.slots)).sum();
        prop_assert_eq!(c.container_capacity(), sum);
        prop_assert_eq!(c.counted_instances(), instances.iter().filter(|i| i.accepts_tasks()).count());
        prop_assert!(c.idle_host_capacity().is_finite() && c.idle_host_capacity() >= 0.0);
        if c.largest_host_slots() == 0 {
            prop_assert_eq!(c.idle_host_capacity(), 0.0);
        } else {
            let ratio = c.container_capacity() as f64 / f64::from(c.largest_host_slots());
            prop_assert_eq!(c.idle_host_capacity(), ratio);
        }
        for s in c.instances() {
            // A host never holds more than when it is empty, and H is the most of any
            // counted host.
            prop_assert!(s.slots <= s.slots_when_empty, "{}", instances[s.index].id);
            if s.exclusion.is_none() {
                prop_assert!(s.slots_when_empty <= c.largest_host_slots());
            }
        }
    }

    #[test]
    fn the_decision_follows_its_rule_and_hosts_to_add_restores_the_headroom(
        instances in cluster(),
        shapes in shapes(),
        headroom in 1u32..=30,
    ) {
        let worst = worst_of(&shapes)?;
        let c = capacity_of(&instances, &worst)?;
        let policy = policy(headroom)?;
        let headroom = u64::from(headroom);
        let h = u64::from(c.largest_host_slots());
        match c.decide(&policy) {
            ScaleDecision::ScaleOut { hosts } => {
                prop_assert!(c.container_capacity() < headroom);
                prop_assert_eq!(hosts, c.hosts_to_add(&policy));
                prop_assert!(hosts >= 1);
                if c.counted_instances() == 0 {
                    prop_assert_eq!(hosts, 1);
                } else {
                    // Add that many empty hosts of the largest size and recompute: the
                    // headroom is back, and one host fewer would not have been enough.
                    let largest = c
                        .instances()
                        .iter()
                        .find(|s| s.exclusion.is_none() && s.slots_when_empty == c.largest_host_slots())
                        .map(|s| &instances[s.index]);
                    let Some(largest) = largest else {
                        return Err(TestCaseError::fail("no counted instance attains H"));
                    };
                    let grown = |n: u32| {
                        let mut v = instances.clone();
                        v.extend((0..n).map(|k| empty_copy(largest, format!("new-{k}"))));
                        capacity_of(&v, &worst)
                    };
                    prop_assert!(grown(hosts)?.container_capacity() >= headroom);
                    prop_assert!(grown(hosts - 1)?.container_capacity() < headroom);
                }
            }
            ScaleDecision::TaskDoesNotFit => {
                prop_assert!(c.container_capacity() < headroom);
                prop_assert!(c.counted_instances() > 0 && h == 0);
            }
            ScaleDecision::ScaleIn { hosts } => {
                prop_assert_eq!(hosts, 1);
                prop_assert!(c.idle_host_capacity() > 1.0);
                prop_assert!(c.container_capacity() - h >= headroom);
            }
            ScaleDecision::Hold => {
                prop_assert!(c.container_capacity() >= headroom);
                prop_assert!(c.idle_host_capacity() <= 1.0 || c.container_capacity() - h < headroom);
            }
        }
    }
}
