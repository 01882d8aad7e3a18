//! The packer: first fit in order, ports, closed rooms, and the tree against a linear scan.
use super::*;

fn room(cpu: u32, mem: u32) -> Room {
    HostRoom {
        index: 0,
        cpu,
        memory_mib: mem,
        gpus: 0,
        ports_tcp: Vec::new(),
        ports_udp: Vec::new(),
        free_eni_slots: None,
    }
}

fn worst() -> WorstCase {
    WorstCase::cpu_memory(256, 256).unwrap()
}

#[test]
fn first_fit_is_the_first_room_in_order_that_holds_every_resource() {
    let w = worst();
    let p = Packer::new(
        vec![
            room(100, 4000),
            room(4000, 100),
            room(600, 600),
            room(4000, 4000),
        ],
        &w,
    );
    // CPU is short on the first, memory on the second: the third holds both.
    assert_eq!(p.first_fit(&TaskShape::new("t", 500, 500)), Some(2));
    assert_eq!(p.first_fit(&TaskShape::new("t", 5000, 1)), None);
}

#[test]
fn a_taken_static_port_sends_the_task_on_and_giving_back_frees_it() {
    let w = worst();
    let mut p = Packer::new(vec![room(1000, 1000), room(1000, 1000)], &w);
    let web = TaskShape::new("web", 100, 100).with_port(80);
    assert_eq!(p.place(&web), Some(0));
    assert_eq!(p.place(&web), Some(1));
    assert_eq!(p.place(&web), None);
    p.give(0, &web);
    assert_eq!(p.first_fit(&web), Some(0));
    assert_eq!(p.room(0), Some(&room(1000, 1000)));
}

#[test]
fn a_closed_room_takes_nothing_and_its_slots_do_not_count() {
    let w = worst();
    let mut p = Packer::new(vec![room(512, 512), room(512, 512)], &w);
    assert_eq!(p.free_slots(), 4);
    p.set_open(0, false);
    assert_eq!(p.free_slots(), 2);
    assert_eq!(p.first_fit(&TaskShape::new("t", 256, 256)), Some(1));
    p.set_open(0, true);
    assert_eq!(p.first_fit(&TaskShape::new("t", 256, 256)), Some(0));
}

#[test]
fn pushing_past_the_tree_keeps_first_fit_in_order() {
    let w = worst();
    let mut p = Packer::new(vec![room(0, 0)], &w);
    for _ in 0..9 {
        p.push(room(300, 300));
    }
    let t = TaskShape::new("t", 300, 300);
    for expected in 1..=9 {
        assert_eq!(p.place(&t), Some(expected));
    }
    assert_eq!(p.place(&t), None);
    assert_eq!(p.free_slots(), 0);
}

fn arb_room() -> impl proptest::strategy::Strategy<Value = Room> {
    use proptest::prelude::*;
    (
        0u32..=4096,
        0u32..=8192,
        0u32..=2,
        proptest::option::of(0u32..=3),
        any::<bool>(),
    )
        .prop_map(|(cpu, mem, gpus, eni, port)| HostRoom {
            gpus,
            free_eni_slots: eni,
            ports_tcp: if port { vec![80] } else { vec![] },
            ..room(cpu, mem)
        })
}

proptest::proptest! {
    #[test]
    fn first_fit_is_the_first_room_a_linear_scan_finds(
        rooms in proptest::collection::vec(arb_room(), 0..40),
        closed in proptest::collection::vec(proptest::bool::weighted(0.2), 40),
        tasks in proptest::collection::vec((0u32..=2048, 0u32..=4096, 0u32..=1, proptest::bool::ANY, proptest::bool::ANY), 1..30),
    ) {
        let w = worst();
        let shapes: Vec<TaskShape> = tasks
            .iter()
            .map(|(cpu, mem, gpus, awsvpc, port)| {
                let mut t = TaskShape::new("t", *cpu, *mem).with_gpus(*gpus);
                t.awsvpc = *awsvpc;
                if *port { t.with_port(80) } else { t }
            })
            .collect();
        let mut p = Packer::watching(rooms.iter().map(Cow::Borrowed), &w, &shapes);
        let mut naive = rooms.clone();
        for (i, c) in closed.iter().enumerate().take(naive.len()) {
            if *c {
                p.set_open(i, false);
            }
        }
        for shape in &shapes {
            let expected = naive
                .iter()
                .enumerate()
                .position(|(i, r)| !closed[i] && r.fits(shape));
            proptest::prop_assert_eq!(p.place(shape), expected);
            if let Some(i) = expected {
                naive[i].take(shape);
            }
        }
        let open_slots: u64 = naive
            .iter()
            .enumerate()
            .filter(|(i, _)| !closed[*i])
            .map(|(_, r)| u64::from(r.worst_case_slots(&w)))
            .sum();
        proptest::prop_assert_eq!(p.free_slots(), open_slots);
    }
}
