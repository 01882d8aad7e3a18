//! The consolidation plan in the calculator: HostsToRemove and the plan in the summary, from a
//! reading whose tasks per host the calculator can vouch for.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use capacity_aws::fake::{FakeCluster, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_calculator::{Config, Deps, handle};
use capacity_core::consolidation::{Removal, Unconsolidatable};
use capacity_core::{ContainerDefinition, ContainerInstance, Resources, TaskDefinition};
use moto_harness::clock::ManualClock;
use serde_json::{Value, json};

const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const WEB: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1";
const NOW: u64 = 1_800_000_000;

fn scheduled() -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2027-01-15T08:00:00Z", "region": "eu-west-1",
        "resources": [], "detail": {}
    })
}

/// Hosts of 4096 CPU / 8192 MiB running `tasks` web tasks (1024 / 2048) each, ECS's task
/// counts and the listing agreeing with the remaining resources.
fn cluster(tasks: &[(&str, u32)]) -> FakeCluster {
    let web = TaskDefinition {
        name: WEB.into(),
        containers: vec![ContainerDefinition {
            name: "app".into(),
            cpu: 1024,
            memory: Some(2048),
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    };
    let total: u32 = tasks.iter().map(|(_, n)| n).sum();
    FakeCluster {
        instances: tasks
            .iter()
            .map(|(id, n)| {
                ContainerInstance::active(
                    *id,
                    Resources::new(4096, 8192),
                    Resources::new(4096 - 1024 * n, 8192 - 2048 * n),
                )
            })
            .collect(),
        tasks_on_instances: Some(u64::from(total)),
        task_counts: tasks
            .iter()
            .map(|(id, n)| ((*id).to_owned(), u64::from(*n)))
            .collect(),
        tasks_by_instance: tasks
            .iter()
            .map(|(id, n)| ((*id).to_owned(), vec![WEB.to_owned(); *n as usize]))
            .collect(),
        services: vec![Service {
            name: "web".into(),
            daemon: false,
            task_definition: Some(WEB.into()),
            deployments: vec![Deployment {
                task_definition: WEB.into(),
                primary: true,
                desired: total,
                running: total,
                pending: 0,
                on_ec2: true,
            }],
        }],
        in_use: BTreeSet::from([WEB.to_owned()]),
        task_definitions: HashMap::from([(WEB.to_owned(), web)]),
        ..FakeCluster::default()
    }
}

fn deps(
    fake: FakeCluster,
    vars: &[(&str, &str)],
) -> (Deps<FakeCluster, FakeCluster, FakeMetrics>, ManualClock) {
    let config = Config::from_lookup(|k| {
        vars.iter()
            .chain(&[("ECS_CLUSTER", CLUSTER), ("CLUSTER_REFRESH_SECONDS", "0")])
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("config");
    let definitions = FakeCluster {
        task_definitions: fake.task_definitions.clone(),
        ..FakeCluster::default()
    };
    let mut deps = Deps::new(fake, definitions, FakeMetrics::default(), config);
    let clock = ManualClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW));
    deps.clock = Arc::new(clock.clone());
    (deps, clock)
}

fn hosts_to_remove(deps: &Deps<FakeCluster, FakeCluster, FakeMetrics>) -> f64 {
    let calls = deps.metrics.calls();
    let (_, metrics) = calls.last().expect("published");
    metrics
        .iter()
        .find(|m| m.name == "HostsToRemove")
        .expect("HostsToRemove published")
        .value
}

#[tokio::test]
async fn two_hosts_the_cluster_can_do_without_are_planned_once_stable() {
    // a: 1 task, b: 2 tasks, c: empty. c goes, and a's task fits on b with one slot left
    // for the headroom; b cannot go too (its 3 tasks would need a and c).
    let (deps, clock) = deps(
        cluster(&[("a", 1), ("b", 2), ("c", 0)]),
        &[("DISRUPTION_BUDGET", "2")],
    );
    let first = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(first.scale_in_plan.hosts_to_remove(), 0, "not yet stable");
    assert!(matches!(
        first.scale_in_plan.why_kept("c"),
        Some(Unconsolidatable::NotYetStable { .. })
    ));
    assert_eq!(hosts_to_remove(&deps), 0.0);

    clock.set(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + 300));
    let later = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(
        later.scale_in_plan.ids(),
        ["c", "a"],
        "empty first, then the busy one"
    );
    assert_eq!(later.scale_in_plan.remove[0].why, Removal::Empty);
    assert_eq!(hosts_to_remove(&deps), 2.0);
    let summary = serde_json::to_value(&later).unwrap();
    assert_eq!(
        summary["scale_in_plan"]["remove"][1]["id"], "a",
        "{summary}"
    );
}

#[tokio::test]
async fn the_default_budget_lets_one_of_three_hosts_leave() {
    let (deps, _) = deps(
        cluster(&[("a", 1), ("b", 2), ("c", 0)]),
        &[("CONSOLIDATION_STABILITY_SECONDS", "0")],
    );
    let s = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(s.scale_in_plan.ids(), ["c"]);
    assert!(matches!(
        s.scale_in_plan.why_kept("a"),
        Some(Unconsolidatable::BudgetReached { budget: 1 })
    ));
}

#[tokio::test]
async fn a_host_whose_tasks_the_listing_does_not_account_for_is_never_planned() {
    // ECS counts 2 tasks on a, the listing saw 1: a task started since. a keeps its room.
    let mut fake = cluster(&[("a", 1), ("b", 1), ("c", 2)]);
    fake.task_counts.insert("a".into(), 2);
    let (deps, _) = deps(
        fake,
        &[
            ("DISRUPTION_BUDGET", "3"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(
        s.scale_in_plan.why_kept("a"),
        Some(&Unconsolidatable::TasksUnknown)
    );
    assert!(!s.scale_in_plan.ids().contains(&"a"));
    assert_eq!(s.scale_in_plan.ids(), ["b"], "b's task moves onto a or c");
}

#[tokio::test]
async fn a_do_not_disrupt_host_is_never_planned() {
    let mut fake = cluster(&[("a", 0), ("b", 1)]);
    fake.do_not_disrupt.insert("a".into());
    let (deps, _) = deps(
        fake,
        &[
            ("DISRUPTION_BUDGET", "2"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(
        s.scale_in_plan.why_kept("a"),
        Some(&Unconsolidatable::DoNotDisrupt)
    );
    assert_eq!(s.scale_in_plan.ids(), ["b"]);
}
