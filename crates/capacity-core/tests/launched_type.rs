//! New hosts sized on the type the group launches (issue 27): scale from zero, a group whose
//! next type is not its largest registered one, weights, and the fit the run publishes.

mod common;

use std::collections::HashMap;

use capacity_core::fit::{
    AllowedType, GroupLaunch, InstanceTypeInfo, LaunchOrder, MEMORY_RESERVATION_PERCENT,
};
use capacity_core::run::{
    AutoScalingGroup, PlanMemory, RunInput, Settings, TaskPlacement, Trigger, assess_reading,
    decide,
};
use capacity_core::{
    ContainerInstance, Demand, HostTask, ScaleDecision, ScalePolicy, TaskShape, UnplacedTasks,
    WorstCase,
};
use common::{HostExt, host};

fn info(name: &str, vcpus: u32, memory_mib: u32) -> InstanceTypeInfo {
    InstanceTypeInfo {
        name: name.to_owned(),
        vcpus,
        memory_mib,
        max_enis: None,
        gpus: 0,
        registered: None,
    }
}

fn launch(order: LaunchOrder, types: &[(InstanceTypeInfo, u32)]) -> GroupLaunch {
    GroupLaunch {
        types: types
            .iter()
            .map(|(info, weight)| AllowedType {
                info: info.clone(),
                weight: *weight,
            })
            .collect(),
        order,
    }
}

fn waiting(shape: &TaskShape, count: u32) -> Demand {
    Demand {
        unplaced: vec![UnplacedTasks {
            service: "service/prod/web".to_owned(),
            shape: shape.clone(),
            count,
        }],
        ..Demand::default()
    }
}

fn web() -> TaskShape {
    TaskShape::new("web:4", 1024, 2048)
}

#[test]
fn with_no_host_registered_the_waiting_tasks_are_sized_on_the_type_the_group_launches() {
    // m5.large: 2 vCPU, 8 GiB; 3 tasks of 1 vCPU / 2 GiB need 2 hosts, with room for the
    // headroom of one worst-case task left on the second.
    let m5 = launch(LaunchOrder::OneType, &[(info("m5.large", 2, 8192), 1)]);
    let worst = WorstCase::of([&web()]).expect("worst case");
    let a = assess_reading(
        &[],
        &worst,
        &waiting(&web(), 3),
        &ScalePolicy::default(),
        Some(&m5),
    )
    .expect("assessment");
    assert_eq!(a.hosts_to_add, 2, "{}", a.explanation);
    assert_eq!(a.decision, ScaleDecision::ScaleOut { hosts: 2 });
    assert_eq!(a.new_host_type.as_deref(), Some("m5.large"));
    assert!(
        a.explanation.contains("2 new host(s) of m5.large"),
        "{}",
        a.explanation
    );

    // Without the group's types the size is unknown: one host, refined by the next run.
    let blind = assess_reading(
        &[],
        &worst,
        &waiting(&web(), 3),
        &ScalePolicy::default(),
        None,
    )
    .expect("assessment");
    assert_eq!(blind.hosts_to_add, 1);
}

#[test]
fn an_empty_cluster_with_nothing_waiting_adds_the_hosts_the_headroom_needs() {
    let m5 = launch(LaunchOrder::OneType, &[(info("m5.large", 2, 8192), 1)]);
    let worst = WorstCase::of([&web()]).expect("worst case");
    let headroom = ScalePolicy::new(3).expect("policy");
    let a = assess_reading(&[], &worst, &Demand::none(), &headroom, Some(&m5)).expect("assessment");
    // Two worst-case tasks per m5.large (CPU binds): three need two hosts.
    assert_eq!(a.hosts_to_add, 2, "{}", a.explanation);
}

#[test]
fn new_hosts_are_sized_on_the_prioritized_type_not_the_largest_registered() {
    // Memory-heavy tasks; a full c5.xlarge is registered, the group launches m5.xlarge first.
    let cache = TaskShape::new("cache:2", 1024, 6144);
    let worst = WorstCase::of([&cache]).expect("worst case");
    let full_c5 = ContainerInstance {
        instance_type: Some("c5.xlarge".to_owned()),
        ..host("c5-1", 4096, 7418).remaining(3072, 1274)
    };
    let group = launch(
        LaunchOrder::Prioritized,
        &[
            (info("m5.xlarge", 4, 16384), 1),
            (info("c5.xlarge", 4, 8192), 1),
        ],
    );
    let policy = ScalePolicy::default();
    let demand = waiting(&cache, 4);
    let on_c5 = assess_reading(
        std::slice::from_ref(&full_c5),
        &worst,
        &demand,
        &policy,
        None,
    )
    .expect("assessment");
    let on_m5 = assess_reading(
        std::slice::from_ref(&full_c5),
        &worst,
        &demand,
        &policy,
        Some(&group),
    )
    .expect("assessment");
    // One cache task per c5.xlarge (7418 MiB), two per m5.xlarge (16384 less 10 %).
    assert_eq!(on_c5.hosts_to_add, 5, "{}", on_c5.explanation);
    assert_eq!(on_m5.hosts_to_add, 3, "{}", on_m5.explanation);
    assert!(
        on_m5.explanation.contains("m5.xlarge"),
        "{}",
        on_m5.explanation
    );
}

#[test]
fn a_type_already_registered_is_sized_on_what_its_hosts_registered() {
    // An m5.large host registered 7680 MiB: new ones are taken to offer as much, not the
    // instance's memory less the 10 % reservation (7372 MiB).
    let seen = ContainerInstance {
        instance_type: Some("m5.large".to_owned()),
        ..host("m5-1", 2048, 7680).remaining(0, 0)
    };
    let m5 = launch(LaunchOrder::OneType, &[(info("m5.large", 2, 8192), 1)]);
    let big = TaskShape::new("batch:1", 512, 7500);
    let worst = WorstCase::of([&big]).expect("worst case");
    let a = assess_reading(
        std::slice::from_ref(&seen),
        &worst,
        &waiting(&big, 1),
        &ScalePolicy::default(),
        Some(&m5),
    )
    .expect("assessment");
    assert_eq!(
        (a.hosts_to_add, a.unplaceable_tasks),
        (2, 0),
        "{}",
        a.explanation
    );
    const { assert!(8192 * (100 - MEMORY_RESERVATION_PERCENT) / 100 < 7500) };
    let unseen = assess_reading(
        &[],
        &worst,
        &waiting(&big, 1),
        &ScalePolicy::default(),
        Some(&m5),
    )
    .expect("assessment");
    assert_eq!(unseen.unplaceable_tasks, 1, "{}", unseen.explanation);
}

#[test]
fn a_weighted_type_adds_its_weight_in_capacity_units() {
    let group = launch(
        LaunchOrder::Prioritized,
        &[(info("m5.2xlarge", 8, 32768), 2)],
    );
    let worst = WorstCase::of([&web()]).expect("worst case");
    let a = assess_reading(
        &[],
        &worst,
        &waiting(&web(), 10),
        &ScalePolicy::default(),
        Some(&group),
    )
    .expect("assessment");
    // 8 web tasks per m5.2xlarge: 2 hosts, 4 capacity units.
    assert_eq!(a.decision, ScaleDecision::ScaleOut { hosts: 2 });
    assert_eq!(a.hosts_to_add, 4, "{}", a.explanation);
    assert!(
        a.explanation.contains("capacity units"),
        "{}",
        a.explanation
    );
}

#[test]
fn a_group_that_launches_by_price_is_sized_on_its_smallest_type_per_capacity_unit() {
    let group = launch(
        LaunchOrder::ByPrice,
        &[
            (info("m5.xlarge", 4, 16384), 1),
            (info("m5.large", 2, 8192), 1),
        ],
    );
    let worst = WorstCase::of([&web()]).expect("worst case");
    let a = assess_reading(
        &[],
        &worst,
        &waiting(&web(), 4),
        &ScalePolicy::default(),
        Some(&group),
    )
    .expect("assessment");
    assert_eq!(a.new_host_type.as_deref(), Some("m5.large"));
    assert_eq!(a.hosts_to_add, 3, "{}", a.explanation);
}

#[test]
fn the_run_publishes_the_fit_of_todays_tasks_on_the_launched_type() {
    let cache = TaskShape::new("cache:2", 1024, 6144);
    let worst = WorstCase::of([&cache]).expect("worst case");
    let c5 = |id: &str| ContainerInstance {
        instance_type: Some("c5.xlarge".to_owned()),
        ec2_instance_id: Some(format!("i-{id}")),
        ..host(id, 4096, 7418).remaining(3072, 1274)
    };
    let instances = [c5("a"), c5("b")];
    let listed: HashMap<String, Vec<HostTask>> = ["a", "b"]
        .map(|id| {
            (
                id.to_owned(),
                vec![HostTask::of_service(cache.clone(), "cache")],
            )
        })
        .into();
    let placement = TaskPlacement {
        tasks: Some(listed),
        task_counts: [("a".to_owned(), 1), ("b".to_owned(), 1)].into(),
    };
    let group =
        AutoScalingGroup::with("hosts", 1, 2, &[("i-a", "InService"), ("i-b", "InService")]);
    let types = launch(LaunchOrder::OneType, &[(info("c5.xlarge", 4, 8192), 1)]);
    let settings = Settings::default();
    let tags = Default::default();
    let input = RunInput {
        instances: &instances,
        worst_case: &worst,
        demand: &Demand::none(),
        placement: &placement,
        services: &[],
        group: Ok(&group),
        launch: Some(&types),
        provider: None,
        memory: &PlanMemory::default(),
        cluster_tags: Ok(&tags),
        settings: &settings,
        trigger: Trigger::Schedule,
        now_unix_secs: 1_800_000_000,
    };
    let fit = decide(&input).expect("decision").fit.expect("a fit");
    // Two c5.xlarge, each 3 vCPU free that no 6 GiB task can use.
    assert_eq!((fit.instance_type.as_str(), fit.hosts), ("c5.xlarge", 2));
    assert_eq!(fit.stranded_vcpu, 6.0);
    // Without the group's types, nothing to publish.
    let blind = decide(&RunInput {
        launch: None,
        ..input
    })
    .expect("decision");
    assert!(blind.fit.is_none());
}
