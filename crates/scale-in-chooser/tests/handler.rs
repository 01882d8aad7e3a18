//! The handler with the in-memory ECS read, driven by the fixture payloads: the ranking
//! through the handler, the budget (a slow ECS, on tokio's paused clock and on the real one),
//! a failing ECS, nothing asked, and a payload that is not Auto Scaling's.

use capacity_core::mark::PLANNED_REMOVAL_ATTRIBUTE;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use capacity_aws::scale_in::FakeInstanceTasks;
use proptest::prelude::*;
use scale_in_chooser::{Basis, Config, Deps, handle};
use serde_json::{Value, json};

const ONE_ZONE: &str = include_str!("fixtures/scale-in-one-zone.json");
const TWO_ZONES: &str = include_str!("fixtures/scale-in-two-zones-spot-and-on-demand.json");
const REFRESH: &str = include_str!("fixtures/instance-refresh.json");

fn payload(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture is JSON")
}

fn deps(reader: FakeInstanceTasks, budget_ms: &str) -> Deps<FakeInstanceTasks> {
    let config = Config::from_lookup(|k| match k {
        "ECS_CLUSTER" => Some("prod".to_owned()),
        "ECS_READ_BUDGET_MS" => Some(budget_ms.to_owned()),
        _ => None,
    })
    .expect("valid test config");
    Deps::new(reader, config)
}

fn ids(outcome: &scale_in_chooser::Outcome) -> Vec<&str> {
    outcome
        .response
        .instance_ids
        .iter()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn an_instance_not_in_the_cluster_goes_first_and_the_read_is_one_call() {
    // ...0001 runs 3 tasks, ...0002 none, ...0003 is not in the cluster.
    let reader = FakeInstanceTasks::with(&[("i-0a1b2c3d4e5f60001", 3), ("i-0a1b2c3d4e5f60002", 0)]);
    let deps = deps(reader, "1200");
    let outcome = handle(payload(ONE_ZONE), &deps).await.expect("answers");
    assert_eq!(ids(&outcome), ["i-0a1b2c3d4e5f60003"]);
    assert_eq!(outcome.basis, Basis::Ecs);
    assert_eq!(
        deps.reader.calls(),
        [(
            "prod".to_owned(),
            vec![
                "i-0a1b2c3d4e5f60001".to_owned(),
                "i-0a1b2c3d4e5f60002".to_owned(),
                "i-0a1b2c3d4e5f60003".to_owned(),
            ]
        )]
    );
    assert_eq!(
        serde_json::to_value(&outcome.response).unwrap(),
        json!({"InstanceIDs": ["i-0a1b2c3d4e5f60003"]})
    );
}

#[tokio::test]
async fn each_zone_and_market_option_answers_its_cheapest() {
    let reader = FakeInstanceTasks::with(&[
        ("i-0b00000000000b001", 4),
        ("i-0b00000000000b002", 1),
        ("i-0b00000000000b501", 0),
        ("i-0b00000000000b502", 2),
        ("i-0c00000000000c001", 5),
        ("i-0c00000000000c002", 5),
        ("i-0c00000000000c003", 7),
    ]);
    let outcome = handle(payload(TWO_ZONES), &deps(reader, "1200"))
        .await
        .expect("answers");
    assert_eq!(
        ids(&outcome),
        [
            "i-0b00000000000b002",
            "i-0b00000000000b501",
            // Equal: the group's order.
            "i-0c00000000000c001",
            "i-0c00000000000c002",
        ]
    );
}

/// Three suggested hosts: ...0001 busy, ...0002 empty, ...0003 with one task; the marks given.
fn marked(marks: &[(&str, &str)]) -> FakeInstanceTasks {
    let mut reader = FakeInstanceTasks::with(&[
        ("i-0a1b2c3d4e5f60001", 3),
        ("i-0a1b2c3d4e5f60002", 0),
        ("i-0a1b2c3d4e5f60003", 1),
    ]);
    reader.marks = marks
        .iter()
        .map(|(id, v)| {
            let mark = (PLANNED_REMOVAL_ATTRIBUTE.to_owned(), (*v).to_owned());
            ((*id).to_owned(), [mark].into())
        })
        .collect();
    reader
}

const MARKED_AT: u64 = 1_800_000_000;

fn at(reader: FakeInstanceTasks, now: u64) -> Deps<FakeInstanceTasks> {
    let mut deps = deps(reader, "1200");
    deps.clock = std::sync::Arc::new(moto_harness::clock::ManualClock::at(
        std::time::UNIX_EPOCH + Duration::from_secs(now),
    ));
    deps
}

fn three_of_one_zone(capacity: u32) -> Value {
    let mut p = payload(ONE_ZONE);
    p["CapacityToTerminate"][0]["Capacity"] = capacity.into();
    p
}

#[tokio::test]
async fn a_fresh_plan_mark_ranks_before_every_task_count_by_rank() {
    // The plan chose the busy ...0001 (rank 1) and ...0003 (rank 2), not the empty ...0002:
    // e.g. ...0002 is the only host big enough for the tasks that stay.
    let reader = marked(&[
        ("i-0a1b2c3d4e5f60001", "1/1800000000"),
        ("i-0a1b2c3d4e5f60003", "2/1800000000"),
    ]);
    let deps = at(reader, MARKED_AT + 599);
    let outcome = handle(three_of_one_zone(2), &deps).await.expect("answers");
    assert_eq!(
        ids(&outcome),
        ["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60003"]
    );
    assert_eq!(
        outcome.choice.chosen[0].cost,
        capacity_core::scale_in::DrainCost::Planned(1)
    );
}

#[tokio::test]
async fn a_stale_or_unreadable_mark_is_ignored_and_the_host_ranked_by_its_tasks() {
    for (mark, why) in [("1/1800000000", "ten minutes old"), ("first", "unreadable")] {
        let deps = at(marked(&[("i-0a1b2c3d4e5f60001", mark)]), MARKED_AT + 600);
        let outcome = handle(three_of_one_zone(1), &deps).await.expect("answers");
        assert_eq!(
            ids(&outcome),
            ["i-0a1b2c3d4e5f60002"],
            "{why}: the empty host"
        );
    }
}

#[tokio::test]
async fn an_instance_refresh_is_ranked_the_same_way() {
    let reader = FakeInstanceTasks::with(&[
        ("i-00f1e2d3c4b5a6001", 2),
        ("i-00f1e2d3c4b5a6002", 9),
        ("i-00f1e2d3c4b5a6003", 0),
        ("i-00f1e2d3c4b5a6004", 1),
    ]);
    let outcome = handle(payload(REFRESH), &deps(reader, "1200"))
        .await
        .expect("answers");
    assert_eq!(
        ids(&outcome),
        ["i-00f1e2d3c4b5a6003", "i-00f1e2d3c4b5a6004"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_slower_than_the_budget_answers_the_groups_own_suggestions() {
    let reader = FakeInstanceTasks {
        delay: Some(Duration::from_secs(30)),
        ..FakeInstanceTasks::with(&[("i-00f1e2d3c4b5a6003", 0)])
    };
    let started = tokio::time::Instant::now();
    let outcome = handle(payload(REFRESH), &deps(reader, "1200"))
        .await
        .expect("answers");
    assert_eq!(started.elapsed(), Duration::from_millis(1200));
    assert_eq!(
        ids(&outcome),
        ["i-00f1e2d3c4b5a6001", "i-00f1e2d3c4b5a6002"]
    );
    let Basis::GroupOrder { reason } = &outcome.basis else {
        panic!("expected the group's order, got {:?}", outcome.basis);
    };
    assert!(reason.contains("within the budget of 1200 ms"), "{reason}");
}

#[tokio::test]
async fn on_the_real_clock_a_hung_read_is_cut_at_the_budget() {
    let reader = FakeInstanceTasks {
        delay: Some(Duration::from_secs(60)),
        ..FakeInstanceTasks::default()
    };
    let started = Instant::now();
    let outcome = handle(payload(ONE_ZONE), &deps(reader, "100"))
        .await
        .expect("answers");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ids(&outcome), ["i-0a1b2c3d4e5f60001"]);
}

#[tokio::test]
async fn a_failed_read_answers_the_groups_own_suggestions_and_says_why() {
    let reader = FakeInstanceTasks {
        fail: true,
        ..FakeInstanceTasks::default()
    };
    let outcome = handle(payload(TWO_ZONES), &deps(reader, "1200"))
        .await
        .expect("answers");
    assert_eq!(
        ids(&outcome),
        [
            "i-0b00000000000b001",
            "i-0b00000000000b501",
            "i-0c00000000000c001",
            "i-0c00000000000c002",
        ]
    );
    let Basis::GroupOrder { reason } = &outcome.basis else {
        panic!("expected the group's order, got {:?}", outcome.basis);
    };
    assert!(reason.contains("injected failure"), "{reason}");
}

#[tokio::test]
async fn nothing_asked_reads_nothing_and_answers_nothing() {
    let mut event = payload(ONE_ZONE);
    event["CapacityToTerminate"][0]["Capacity"] = 0.into();
    let deps = deps(FakeInstanceTasks::default(), "1200");
    let outcome = handle(event, &deps).await.expect("answers");
    assert!(outcome.response.instance_ids.is_empty());
    assert_eq!(outcome.basis, Basis::NothingAsked);
    assert!(deps.reader.calls().is_empty());
    // Only the instances some entry can take are read.
    let mut event = payload(TWO_ZONES);
    event["CapacityToTerminate"] =
        json!([{"AvailabilityZone": "us-east-1b", "Capacity": 1, "InstanceMarketOption": "spot"}]);
    let deps = self::deps(FakeInstanceTasks::default(), "1200");
    handle(event, &deps).await.expect("answers");
    assert_eq!(
        deps.reader.calls()[0].1,
        ["i-0b00000000000b501", "i-0b00000000000b502"]
    );
}

#[tokio::test]
async fn a_payload_that_is_not_auto_scalings_is_a_permanent_error_and_reads_nothing() {
    let deps = deps(FakeInstanceTasks::default(), "1200");
    let err = handle(
        json!({"detail-type": "EC2 Instance-terminate Lifecycle Action"}),
        &deps,
    )
    .await
    .expect_err("not the payload");
    assert_eq!(err.error_type(), "Permanent.InvalidEvent");
    assert!(deps.reader.calls().is_empty());
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "Permanent.InvalidEvent");
}

fn arb_payload() -> impl Strategy<Value = (Value, Vec<(String, u32)>)> {
    let zones = ["us-east-1a", "us-east-1b"];
    let markets = ["on-demand", "spot"];
    (
        prop::collection::vec((0u8..12, 0usize..2, 0usize..2, prop::option::of(0u32..4)), 0..10),
        prop::collection::vec((0usize..2, 0usize..2, 0u32..5), 0..4),
    )
        .prop_map(move |(instances, entries)| {
            let mut registered = Vec::new();
            let instances: Vec<Value> = instances
                .into_iter()
                .map(|(n, z, m, tasks)| {
                    let id = format!("i-{n:017x}");
                    if let Some(tasks) = tasks {
                        registered.push((id.clone(), tasks));
                    }
                    json!({"AvailabilityZone": zones[z], "InstanceId": id, "InstanceType": "m6g.large", "InstanceMarketOption": markets[m]})
                })
                .collect();
            let entries: Vec<Value> = entries
                .into_iter()
                .map(|(z, m, c)| json!({"AvailabilityZone": zones[z], "Capacity": c, "InstanceMarketOption": markets[m]}))
                .collect();
            (
                json!({"CapacityToTerminate": entries, "Instances": instances, "Cause": "SCALE_IN"}),
                registered,
            )
        })
}

proptest! {
    #[test]
    fn whatever_ecs_says_or_fails_to_say_the_answer_holds_only_suggested_ids_and_never_more_than_asked(
        (event, registered) in arb_payload(),
        failing in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let refs: Vec<(&str, u32)> = registered.iter().map(|(id, n)| (id.as_str(), *n)).collect();
        let reader = FakeInstanceTasks { fail: failing, ..FakeInstanceTasks::with(&refs) };
        let outcome = runtime.block_on(handle(event.clone(), &deps(reader, "1200"))).expect("answers");
        let asked: u64 = event["CapacityToTerminate"].as_array().into_iter().flatten().filter_map(|c| c["Capacity"].as_u64()).sum();
        let suggested: HashSet<&str> = event["Instances"].as_array().into_iter().flatten().filter_map(|i| i["InstanceId"].as_str()).collect();
        let answer = &outcome.response.instance_ids;
        prop_assert!(answer.len() as u64 <= asked);
        prop_assert!(answer.iter().all(|id| suggested.contains(id.as_str())));
        prop_assert_eq!(answer.iter().collect::<HashSet<_>>().len(), answer.len());
    }
}
