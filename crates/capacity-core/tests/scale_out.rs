//! Properties of the scale-out plan for waiting tasks (issue 12): it never plans fewer hosts
//! than the tasks' total need, never more than one per task, keeps the headroom, and with
//! nothing waiting is the headroom rule.

mod common;

use capacity_core::{
    Demand, ScaleDecision, ScalePolicy, TaskShape, UnplacedTasks, WorstCase, assess,
    cluster_capacity, plan_scale_out,
};
use common::{HostExt, host};
use proptest::prelude::*;

const HOST_CPU: u32 = 4096;
const HOST_MEM: u32 = 16384;

fn shape() -> impl Strategy<Value = TaskShape> {
    (
        1u32..=16,
        1u32..=32,
        prop::option::of(prop::sample::select(vec![80u16, 443, 8080])),
    )
        .prop_map(|(cpu, mem, port)| {
            let s = TaskShape::new(format!("svc-{cpu}-{mem}:1"), cpu * 256, mem * 512);
            match port {
                Some(p) => s.with_port(p),
                None => s,
            }
        })
}

fn demand() -> impl Strategy<Value = Demand> {
    prop::collection::vec((shape(), 0u32..40), 1..8).prop_map(|v| Demand {
        unplaced: v
            .into_iter()
            .map(|(shape, count)| UnplacedTasks {
                service: shape.name.clone(),
                shape,
                count,
            })
            .collect(),
        daemons: vec![],
    })
}

proptest! {
    #[test]
    fn the_plan_is_between_the_resource_bound_and_one_host_per_task(
        demand in demand(), free in 0u32..=2, headroom in 1u32..=4,
    ) {
        let worst = WorstCase::of(demand.unplaced.iter().map(|u| &u.shape)).unwrap();
        // A full host and `free` empty ones: the room already free counts for the headroom.
        let mut instances = vec![host("full", HOST_CPU, HOST_MEM).remaining(0, 0)];
        for i in 0..free {
            instances.push(host(&format!("free-{i}"), HOST_CPU, HOST_MEM));
        }
        let cap = cluster_capacity(&instances, &worst).unwrap();
        let policy = ScalePolicy::new(headroom).unwrap();
        let plan = plan_scale_out(&cap, &demand, &policy);
        let tasks: u64 = demand.unplaced_count();
        let cpu: u64 = demand.unplaced.iter().map(|u| u64::from(u.shape.cpu) * u64::from(u.count)).sum();
        let mem: u64 = demand.unplaced.iter().map(|u| u64::from(u.shape.memory_mib) * u64::from(u.count)).sum();
        let lower = cpu.div_ceil(u64::from(HOST_CPU)).max(mem.div_ceil(u64::from(HOST_MEM)));
        prop_assert_eq!(plan.unplaceable, 0, "every generated shape fits an empty host");
        prop_assert!(u64::from(plan.hosts_for_unplaced) >= lower, "{:?} below {}", plan, lower);
        prop_assert!(u64::from(plan.hosts_for_unplaced) <= tasks, "{:?} above {} tasks", plan, tasks);
        if tasks == 0 {
            prop_assert_eq!(plan.hosts, cap.hosts_to_add(&policy));
        }
        let a = assess(&cap, &policy, &demand);
        prop_assert_eq!(a.hosts_to_add, plan.hosts);
        if tasks > 0 {
            prop_assert_eq!(a.decision, ScaleDecision::ScaleOut { hosts: plan.hosts });
            prop_assert!(a.idle_host_capacity <= 1.0, "tasks wait: the scale-in alarm stays quiet");
        }
    }

    #[test]
    fn with_nothing_waiting_the_plan_is_the_headroom_rule(
        free_cpu in 0u32..=HOST_CPU, free_mem in 0u32..=HOST_MEM, headroom in 1u32..=12,
    ) {
        let worst = WorstCase::of(&[TaskShape::new("web:1", 1024, 2048)]).unwrap();
        let cap = cluster_capacity(&[host("a", HOST_CPU, HOST_MEM).remaining(free_cpu, free_mem)], &worst).unwrap();
        let policy = ScalePolicy::new(headroom).unwrap();
        prop_assert_eq!(plan_scale_out(&cap, &Demand::none(), &policy).hosts, cap.hosts_to_add(&policy));
        prop_assert_eq!(assess(&cap, &policy, &Demand::none()), cap.assess(&policy));
    }
}

#[test]
fn waiting_tasks_that_fit_no_host_are_named_not_sized_for() {
    let huge = TaskShape::new("huge:1", 8192, 1024);
    let worst = WorstCase::of([&huge]).unwrap();
    let cap = cluster_capacity(
        &[host("a", HOST_CPU, HOST_MEM).instance_type("m5.xlarge")],
        &worst,
    )
    .unwrap();
    let demand = Demand {
        unplaced: vec![UnplacedTasks {
            service: "batch".into(),
            shape: huge,
            count: 3,
        }],
        daemons: vec![],
    };
    let a = assess(&cap, &ScalePolicy::default(), &demand);
    assert_eq!(
        (a.decision, a.unplaceable_tasks),
        (ScaleDecision::TaskDoesNotFit, 3)
    );
    assert!(
        a.explanation
            .contains("3 fit on no empty host of m5.xlarge"),
        "{}",
        a.explanation
    );
}

#[test]
fn the_reason_says_how_many_wait_and_what_holds_them() {
    let web = TaskShape::new("web:2", 1024, 4096);
    let worst = WorstCase::of([&web]).unwrap();
    let cap = cluster_capacity(
        &[host("a", HOST_CPU, HOST_MEM)
            .remaining(0, 0)
            .instance_type("m5.xlarge")],
        &worst,
    )
    .unwrap();
    let demand = Demand {
        unplaced: vec![UnplacedTasks {
            service: "web".into(),
            shape: web,
            count: 8,
        }],
        daemons: vec![],
    };
    let a = assess(&cap, &ScalePolicy::default(), &demand);
    assert_eq!(
        a.hosts_to_add, 3,
        "8 tasks fill 2 hosts; a 3rd keeps the headroom"
    );
    assert!(
        a.explanation.contains("8 task(s) wait for room: 2 new host(s) of m5.xlarge hold them, and 1 more keep the headroom of 1"),
        "{}",
        a.explanation
    );
}
