//! Table-driven tests of the capacity math and the scale decision, one row per behaviour.
//! Every row is checked and all failures are reported together, each under its behaviour.

mod common;

use capacity_core::{
    CapacityError, ContainerInstance, Exclusion, InstanceStatus, Resource, ScaleDecision,
    ScalePolicy, TaskShape, cluster_capacity,
};
use common::{HostExt, capacity, host, slots};

/// Runs `check` on every row and fails once, listing each behaviour that did not hold.
fn check_all<T>(rows: &[T], name: impl Fn(&T) -> &str, check: impl Fn(&T) -> Result<(), String>) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| check(row).err().map(|e| format!("{}: {e}", name(row))))
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

struct CapacityCase {
    behaviour: &'static str,
    instances: Vec<ContainerInstance>,
    shapes: Vec<TaskShape>,
    /// Slots per instance, in input order.
    slots: Vec<u32>,
    /// The binding resource per instance (`None` for an excluded one).
    binding: Vec<Option<Resource>>,
    container_capacity: u64,
    largest_host_slots: u32,
    idle_host_capacity: f64,
    /// The book's min-of-sums, where the row is about it.
    book: Option<u64>,
}

fn capacity_cases() -> Vec<CapacityCase> {
    use Resource::*;
    let web = || vec![TaskShape::new("web:1", 500, 500)];
    vec![
        CapacityCase {
            behaviour: "lopsided hosts, one short of CPU and one of memory, give 0 while the book's formula says 2",
            instances: vec![
                host("short-of-cpu", 1000, 1000).remaining(100, 1000),
                host("short-of-memory", 1000, 1000).remaining(1000, 100),
            ],
            shapes: web(),
            slots: vec![0, 0],
            binding: vec![Some(Cpu), Some(Memory)],
            container_capacity: 0,
            largest_host_slots: 2,
            idle_host_capacity: 0.0,
            book: Some(2),
        },
        CapacityCase {
            behaviour: "a DRAINING host adds nothing, however empty",
            instances: vec![
                host("active", 1000, 1000).remaining(500, 500),
                host("draining", 4000, 4000).status("DRAINING"),
            ],
            shapes: web(),
            slots: vec![1, 0],
            binding: vec![Some(Cpu), None],
            container_capacity: 1,
            largest_host_slots: 2,
            idle_host_capacity: 0.5,
            book: Some(1),
        },
        CapacityCase {
            behaviour: "a disconnected agent adds nothing",
            instances: vec![
                host("connected", 1000, 1000),
                host("disconnected", 4000, 4000).disconnected(),
            ],
            shapes: web(),
            slots: vec![2, 0],
            binding: vec![Some(Cpu), None],
            container_capacity: 2,
            largest_host_slots: 2,
            idle_host_capacity: 1.0,
            book: None,
        },
        CapacityCase {
            behaviour: "REGISTERING and unknown statuses add nothing",
            instances: vec![
                host("registering", 1000, 1000).status("REGISTERING"),
                host("future", 1000, 1000).status("HIBERNATING"),
                host("active", 1000, 1000),
            ],
            shapes: web(),
            slots: vec![0, 0, 2],
            binding: vec![None, None, Some(Cpu)],
            container_capacity: 2,
            largest_host_slots: 2,
            idle_host_capacity: 1.0,
            book: None,
        },
        CapacityCase {
            behaviour: "a GPU task fits nowhere when no host has a free GPU",
            instances: vec![
                host("gpus-all-taken", 8192, 32768).gpus(2, 0),
                host("no-gpus", 8192, 32768),
            ],
            shapes: vec![TaskShape::new("train:1", 1024, 4096).with_gpus(1)],
            slots: vec![0, 0],
            binding: vec![Some(Gpu), Some(Gpu)],
            container_capacity: 0,
            largest_host_slots: 2,
            idle_host_capacity: 0.0,
            book: Some(0),
        },
        CapacityCase {
            behaviour: "a GPU task fits once per free GPU",
            instances: vec![host("p3.8xlarge", 32768, 249856).gpus(4, 3)],
            shapes: vec![TaskShape::new("train:1", 1024, 4096).with_gpus(1)],
            slots: vec![3],
            binding: vec![Some(Gpu)],
            container_capacity: 3,
            largest_host_slots: 4,
            idle_host_capacity: 0.75,
            book: None,
        },
        CapacityCase {
            behaviour: "static port taken on every host leaves no room",
            instances: vec![
                host("a", 4000, 4000).remaining(3500, 3500).taken_port(80),
                host("b", 4000, 4000).remaining(3500, 3500).taken_port(80),
            ],
            shapes: vec![TaskShape::new("nginx:1", 500, 500).with_port(80)],
            slots: vec![0, 0],
            binding: vec![Some(PortsTcp), Some(PortsTcp)],
            container_capacity: 0,
            largest_host_slots: 1,
            idle_host_capacity: 0.0,
            book: Some(0),
        },
        CapacityCase {
            behaviour: "a static port admits one task per host whatever else is free",
            instances: vec![
                host("a", 4000, 4000).taken_port(22),
                host("b", 4000, 4000).taken_port(443),
            ],
            shapes: vec![TaskShape::new("nginx:1", 500, 500).with_port(80)],
            slots: vec![1, 1],
            binding: vec![Some(PortsTcp), Some(PortsTcp)],
            container_capacity: 2,
            largest_host_slots: 1,
            idle_host_capacity: 2.0,
            book: Some(2),
        },
        CapacityCase {
            behaviour: "any one of the worst case's ports taken is enough to exclude a host",
            instances: vec![host("a", 4000, 4000).taken_port(443)],
            shapes: vec![
                TaskShape::new("http:1", 500, 500).with_port(80),
                TaskShape::new("https:1", 500, 500).with_port(443),
            ],
            slots: vec![0],
            binding: vec![Some(PortsTcp)],
            container_capacity: 0,
            largest_host_slots: 1,
            idle_host_capacity: 0.0,
            book: None,
        },
        CapacityCase {
            behaviour: "a UDP port taken blocks a UDP task, a TCP port of the same number does not",
            instances: vec![
                host("udp-53-taken", 4000, 4000).taken_udp_port(53),
                host("tcp-53-taken", 4000, 4000).taken_port(53),
            ],
            shapes: vec![TaskShape::new("dns:1", 256, 256).with_udp_port(53)],
            slots: vec![0, 1],
            binding: vec![Some(PortsUdp), Some(PortsUdp)],
            container_capacity: 1,
            largest_host_slots: 1,
            idle_host_capacity: 1.0,
            book: None,
        },
        CapacityCase {
            behaviour: "the ENI limit binds awsvpc tasks, the primary ENI never counts",
            instances: vec![host("c5.large", 2048, 3700).enis(4, 1)],
            shapes: vec![TaskShape::new("svc:1", 256, 256).with_awsvpc()],
            slots: vec![2],
            binding: vec![Some(Eni)],
            container_capacity: 2,
            largest_host_slots: 3,
            idle_host_capacity: 2.0 / 3.0,
            book: None,
        },
        CapacityCase {
            behaviour: "an unknown ENI limit does not bind",
            instances: vec![host("unknown-type", 2048, 4096)],
            shapes: vec![TaskShape::new("svc:1", 256, 256).with_awsvpc()],
            slots: vec![8],
            binding: vec![Some(Cpu)],
            container_capacity: 8,
            largest_host_slots: 8,
            idle_host_capacity: 1.0,
            book: None,
        },
        CapacityCase {
            behaviour: "ENIs do not bind tasks in bridge mode",
            instances: vec![host("c5.large", 2048, 4096).enis(2, 1)],
            shapes: vec![TaskShape::new("svc:1", 256, 256)],
            slots: vec![8],
            binding: vec![Some(Cpu)],
            container_capacity: 8,
            largest_host_slots: 8,
            idle_host_capacity: 1.0,
            book: None,
        },
        CapacityCase {
            behaviour: "a memory-only worst case is not bound by CPU",
            instances: vec![host("a", 256, 4096).remaining(0, 4096)],
            shapes: vec![TaskShape::new("mem:1", 0, 1024)],
            slots: vec![4],
            binding: vec![Some(Memory)],
            container_capacity: 4,
            largest_host_slots: 4,
            idle_host_capacity: 1.0,
            book: Some(4),
        },
        CapacityCase {
            behaviour: "IdleHostCapacity is against the largest empty host for mixed sizes",
            instances: vec![host("m5.xlarge", 4096, 8192), host("t3.small", 1024, 2048)],
            shapes: vec![TaskShape::new("web:1", 512, 1024)],
            slots: vec![8, 2],
            binding: vec![Some(Cpu), Some(Cpu)],
            container_capacity: 10,
            largest_host_slots: 8,
            idle_host_capacity: 1.25,
            book: Some(10),
        },
        CapacityCase {
            behaviour: "the largest host does not set H while it is DRAINING",
            instances: vec![
                host("m5.xlarge", 4096, 8192).status("DRAINING"),
                host("t3.small", 1024, 2048),
                host("t3.small", 1024, 2048).remaining(512, 1024),
            ],
            shapes: vec![TaskShape::new("web:1", 512, 1024)],
            slots: vec![0, 2, 1],
            binding: vec![None, Some(Cpu), Some(Cpu)],
            container_capacity: 3,
            largest_host_slots: 2,
            idle_host_capacity: 1.5,
            book: None,
        },
        CapacityCase {
            behaviour: "the worst case takes each resource from a different shape",
            instances: vec![host("a", 2048, 2048)],
            shapes: vec![
                TaskShape::new("cpu-heavy:1", 1024, 128),
                TaskShape::new("memory-heavy:1", 128, 1024),
            ],
            slots: vec![2],
            binding: vec![Some(Cpu)],
            container_capacity: 2,
            largest_host_slots: 2,
            idle_host_capacity: 1.0,
            book: None,
        },
        CapacityCase {
            behaviour: "no instances at all: nothing fits and IdleHostCapacity is 0",
            instances: vec![],
            shapes: web(),
            slots: vec![],
            binding: vec![],
            container_capacity: 0,
            largest_host_slots: 0,
            idle_host_capacity: 0.0,
            book: Some(0),
        },
    ]
}

#[test]
fn capacity_table() {
    check_all(
        &capacity_cases(),
        |c| c.behaviour,
        |c| {
            let cap = capacity(&c.instances, &c.shapes);
            expect_eq("slots", slots(&cap), c.slots.clone())?;
            let binding: Vec<_> = cap.instances().iter().map(|i| i.binding).collect();
            expect_eq("binding", binding, c.binding.clone())?;
            expect_eq(
                "ContainerCapacity",
                cap.container_capacity(),
                c.container_capacity,
            )?;
            expect_eq("H", cap.largest_host_slots(), c.largest_host_slots)?;
            expect_eq(
                "IdleHostCapacity",
                cap.idle_host_capacity(),
                c.idle_host_capacity,
            )?;
            if let Some(book) = c.book {
                expect_eq("book capacity", cap.book_capacity(), book)?;
            }
            Ok(())
        },
    );
}

#[test]
fn excluded_instances_say_why_and_keep_their_per_resource_figures() {
    let cap = capacity(
        &[
            host("draining", 1000, 1000).status("DRAINING"),
            host("disconnected", 1000, 1000).disconnected(),
            host("active", 1000, 1000),
        ],
        &[TaskShape::new("web:1", 500, 500)],
    );
    let exclusions: Vec<_> = cap
        .instances()
        .iter()
        .map(|i| i.exclusion.clone())
        .collect();
    assert_eq!(
        exclusions,
        [
            Some(Exclusion::NotActive(InstanceStatus::Draining)),
            Some(Exclusion::AgentDisconnected),
            None,
        ]
    );
    assert_eq!(
        cap.instances()[0]
            .exclusion
            .as_ref()
            .map(ToString::to_string),
        Some("status DRAINING".to_owned())
    );
    // A report can still show what the excluded host would hold.
    assert_eq!(cap.instances()[0].per_resource.cpu, Some(2));
    assert_eq!(cap.instances()[0].slots_when_empty, 2);
    assert_eq!(cap.counted_instances(), 1);
    assert_eq!(cap.per_resource().cpu, Some(2)); // the excluded hosts are not summed
}

#[test]
fn ties_name_the_first_resource_in_order() {
    // 1000/500 = 2 CPU slots, 1000/500 = 2 memory slots: CPU is reported.
    let cap = capacity(
        &[host("a", 1000, 1000)],
        &[TaskShape::new("web:1", 500, 500)],
    );
    assert_eq!(cap.instances()[0].binding, Some(Resource::Cpu));
}

struct DecisionCase {
    behaviour: &'static str,
    instances: Vec<ContainerInstance>,
    shapes: Vec<TaskShape>,
    headroom: u32,
    decision: ScaleDecision,
    /// Words [`capacity_core::Assessment::explanation`] must use for this decision.
    explains: &'static str,
}

fn decision_cases() -> Vec<DecisionCase> {
    let web = || vec![TaskShape::new("web:1", 500, 500)];
    let empty = |id| host(id, 1000, 1000);
    let full = |id| host(id, 1000, 1000).remaining(0, 0);
    vec![
        DecisionCase {
            behaviour: "IdleHostCapacity of exactly 1.0 holds",
            instances: vec![full("a"), empty("b")],
            shapes: web(),
            headroom: 1,
            decision: ScaleDecision::Hold,
            explains: "IdleHostCapacity 1.00 is not above 1",
        },
        DecisionCase {
            behaviour: "IdleHostCapacity above 1 scales in by one host",
            instances: vec![empty("a"), empty("b"), full("c")],
            shapes: web(),
            headroom: 1,
            decision: ScaleDecision::ScaleIn { hosts: 1 },
            explains: "IdleHostCapacity 2.00 > 1",
        },
        DecisionCase {
            behaviour: "IdleHostCapacity between 1 and 2 still scales in by one host only",
            instances: vec![empty("a"), host("b", 1000, 1000).remaining(500, 500)],
            shapes: web(),
            headroom: 1,
            decision: ScaleDecision::ScaleIn { hosts: 1 },
            explains: "still fits 1 worst-case task",
        },
        DecisionCase {
            behaviour: "below the headroom of 1 scales out by one host",
            instances: vec![full("a"), full("b")],
            shapes: web(),
            headroom: 1,
            decision: ScaleDecision::ScaleOut { hosts: 1 },
            explains: "below the headroom of 1: 1 host(s) of 2 slots",
        },
        DecisionCase {
            behaviour: "below a custom headroom scales out by the computed hosts-to-add",
            // capacity 1, headroom 6, 2 slots per new host: ceil(5 / 2) = 3.
            instances: vec![full("a"), host("b", 1000, 1000).remaining(500, 500)],
            shapes: web(),
            headroom: 6,
            decision: ScaleDecision::ScaleOut { hosts: 3 },
            explains: "ContainerCapacity 1 is below the headroom of 6: 3 host(s)",
        },
        DecisionCase {
            behaviour: "hosts-to-add counts hosts of the largest size",
            // capacity 0, headroom 9: the m5.xlarge holds 8, so 2 of them (not 5 small ones).
            instances: vec![
                host("m5.xlarge", 4096, 8192).remaining(0, 0),
                host("t3.small", 1024, 2048).remaining(0, 0),
            ],
            shapes: vec![TaskShape::new("web:1", 512, 1024)],
            headroom: 9,
            decision: ScaleDecision::ScaleOut { hosts: 2 },
            explains: "2 host(s) of 8 slots",
        },
        DecisionCase {
            behaviour: "custom headroom: idle above 1 holds when removing the largest host breaks the headroom",
            // capacity 5, H 2 (idle 2.5), but 5 - 2 = 3 < 4.
            instances: vec![
                empty("a"),
                empty("b"),
                host("c", 1000, 1000).remaining(500, 500),
            ],
            shapes: web(),
            headroom: 4,
            decision: ScaleDecision::Hold,
            explains: "would leave 3 of the 4 task(s) of headroom",
        },
        DecisionCase {
            behaviour: "custom headroom: scales in when the headroom survives removing the largest host",
            instances: vec![empty("a"), empty("b"), empty("c")],
            shapes: web(),
            headroom: 4,
            decision: ScaleDecision::ScaleIn { hosts: 1 },
            explains: "still fits 4 worst-case task(s)",
        },
        DecisionCase {
            behaviour: "custom headroom met exactly holds",
            instances: vec![empty("a"), full("b")],
            shapes: web(),
            headroom: 2,
            decision: ScaleDecision::Hold,
            explains: "meets the headroom of 2",
        },
        DecisionCase {
            behaviour: "no ACTIVE host scales out by one",
            instances: vec![empty("a").status("DRAINING"), empty("b").disconnected()],
            shapes: web(),
            headroom: 1,
            decision: ScaleDecision::ScaleOut { hosts: 1 },
            explains: "no ACTIVE container instance",
        },
        DecisionCase {
            behaviour: "an empty cluster scales out by one",
            instances: vec![],
            shapes: web(),
            headroom: 3,
            decision: ScaleDecision::ScaleOut { hosts: 1 },
            explains: "no ACTIVE container instance",
        },
        DecisionCase {
            behaviour: "a task that fits on no host is TaskDoesNotFit, not a scale-out",
            instances: vec![empty("a"), empty("b")],
            shapes: vec![TaskShape::new("huge:1", 2048, 500)],
            headroom: 1,
            decision: ScaleDecision::TaskDoesNotFit,
            explains: "fits on no empty ACTIVE host",
        },
        DecisionCase {
            behaviour: "a GPU task on a cluster without GPUs is TaskDoesNotFit",
            instances: vec![empty("a")],
            shapes: vec![TaskShape::new("train:1", 100, 100).with_gpus(1)],
            headroom: 1,
            decision: ScaleDecision::TaskDoesNotFit,
            explains: "adding hosts of these types will not help",
        },
    ]
}

#[test]
fn decision_table() {
    check_all(
        &decision_cases(),
        |c| c.behaviour,
        |c| {
            let cap = capacity(&c.instances, &c.shapes);
            let policy = ScalePolicy::new(c.headroom).map_err(|e| e.to_string())?;
            expect_eq("decision", cap.decide(&policy), c.decision)?;
            if let ScaleDecision::ScaleOut { hosts } = c.decision {
                expect_eq("hosts_to_add", cap.hosts_to_add(&policy), hosts)?;
            }
            let why = cap.assess(&policy).explanation;
            if why.contains(c.explains) {
                Ok(())
            } else {
                Err(format!("explain() {why:?} lacks {:?}", c.explains))
            }
        },
    );
}

#[test]
fn hosts_to_add_is_zero_when_the_headroom_is_met() {
    let cap = capacity(
        &[host("a", 1000, 1000)],
        &[TaskShape::new("web:1", 500, 500)],
    );
    assert_eq!(cap.hosts_to_add(&ScalePolicy::default()), 0);
    let two = ScalePolicy::new(2).expect("2 is a valid headroom");
    assert_eq!(cap.hosts_to_add(&two), 0);
    let three = ScalePolicy::new(3).expect("3 is a valid headroom");
    assert_eq!(cap.hosts_to_add(&three), 1);
}

#[test]
fn headroom_of_zero_is_rejected() {
    assert_eq!(ScalePolicy::new(0), Err(CapacityError::InvalidHeadroom(0)));
    assert_eq!(ScalePolicy::default().headroom(), 1);
    assert_eq!(ScalePolicy::new(5).map(|p| p.headroom()), Ok(5));
}

#[test]
fn decisions_read_as_words() {
    let words: Vec<String> = [
        ScaleDecision::ScaleOut { hosts: 2 },
        ScaleDecision::Hold,
        ScaleDecision::ScaleIn { hosts: 1 },
        ScaleDecision::TaskDoesNotFit,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        words,
        [
            "scale out by 2",
            "hold",
            "scale in by 1",
            "task does not fit"
        ]
    );
}

#[test]
fn cpu_memory_worst_case_from_configuration() {
    let worst = capacity_core::WorstCase::cpu_memory(1024, 2048);
    let cap = worst.and_then(|w| cluster_capacity(&[host("a", 4096, 8192)], &w));
    assert_eq!(cap.map(|c| c.container_capacity()), Ok(4));
}

#[test]
fn an_unknown_eni_limit_leaves_the_clusters_eni_total_unbounded() {
    // One host with a known, exhausted ENI limit and one whose limit is unknown: the ENI
    // total is not 0 (the second host still takes awsvpc tasks), so the book's formula must
    // not say 0 either.
    let shapes = [TaskShape::new("svc:1", 256, 512).with_awsvpc()];
    let cap = capacity(
        &[
            host("known", 2048, 4096).enis(2, 1),
            host("unknown", 2048, 4096),
        ],
        &shapes,
    );
    assert_eq!(slots(&cap), [0, 8]);
    assert_eq!(cap.per_resource().eni, None);
    assert_eq!(cap.book_capacity(), 16); // min(CPU 16, MEMORY 16)
    assert!(cap.container_capacity() <= cap.book_capacity());

    // With every limit known the ENI total is their sum.
    let known = capacity(
        &[
            host("a", 2048, 4096).enis(3, 1),
            host("b", 2048, 4096).enis(4, 0),
        ],
        &shapes,
    );
    assert_eq!(known.per_resource().eni, Some(4));
    assert_eq!(known.book_capacity(), 4);
}
