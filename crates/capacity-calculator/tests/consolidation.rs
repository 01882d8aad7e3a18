//! The consolidation plan in the calculator: HostsToRemove and the plan in the summary, from a
//! reading whose tasks per host the calculator can vouch for; the group that bounds it and
//! the planned-removal marks written before it is published.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use capacity_aws::fake::{FakeAttributes, FakeCluster, FakeGroup, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_calculator::{Config, Deps, handle};
use capacity_core::consolidation::{Removal, Unconsolidatable};
use capacity_core::mark::REMOVABLE_SINCE_ATTRIBUTE;
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

/// Hosts of 5120 CPU / 10240 MiB (five slots: the headroom and the plan's margin of one
/// slot each stay free after a move) running `tasks` web tasks (1024 / 2048) each, ECS's task
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
            .map(|(id, n)| ContainerInstance {
                ec2_instance_id: Some(ec2(id)),
                ..ContainerInstance::active(
                    *id,
                    Resources::new(5120, 10240),
                    Resources::new(5120 - 1024 * n, 10240 - 2048 * n),
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
            placement: Default::default(),
        }],
        in_use: BTreeSet::from([WEB.to_owned()]),
        task_definitions: HashMap::from([(WEB.to_owned(), web)]),
        ..FakeCluster::default()
    }
}

/// The EC2 instance under container instance `id`.
fn ec2(id: &str) -> String {
    format!("i-{id}")
}

type TestDeps = Deps<FakeCluster, FakeCluster, FakeMetrics, FakeGroup, FakeAttributes>;

const GROUP: &str = "prod-hosts";

/// Every host of `fake` InService in the group, minimum 0.
fn group_of(fake: &FakeCluster) -> FakeGroup {
    let ids: Vec<String> = fake.instances.iter().map(|i| ec2(&i.id)).collect();
    let members: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "InService")).collect();
    FakeGroup::with(GROUP, 0, members.len() as u32, &members)
}

fn deps(fake: FakeCluster, vars: &[(&str, &str)]) -> (TestDeps, ManualClock) {
    let group = group_of(&fake);
    deps_with(fake, group, vars)
}

/// The calculator on `fake` with `group`; its attribute writes land in the fake cluster's
/// marks, so the next read sees them.
fn deps_with(
    fake: FakeCluster,
    group: FakeGroup,
    vars: &[(&str, &str)],
) -> (TestDeps, ManualClock) {
    let config = Config::from_lookup(|k| {
        vars.iter()
            .chain(&[
                ("ECS_CLUSTER", CLUSTER),
                ("CLUSTER_REFRESH_SECONDS", "0"),
                ("AUTO_SCALING_GROUP_NAME", GROUP),
            ])
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("config");
    let definitions = FakeCluster {
        task_definitions: fake.task_definitions.clone(),
        ..FakeCluster::default()
    };
    let attributes = FakeAttributes {
        store: fake.marks.clone(),
        ..FakeAttributes::default()
    };
    let mut deps =
        Deps::new(fake, definitions, FakeMetrics::default(), config).with_group(group, attributes);
    let clock = ManualClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW));
    deps.clock = Arc::new(clock.clone());
    (deps, clock)
}

/// HostsToRemove of the last publication, `None` when it was left out.
fn hosts_to_remove(deps: &TestDeps) -> Option<f64> {
    let calls = deps.metrics.calls();
    let (_, metrics) = calls.last().expect("published");
    metrics
        .iter()
        .find(|m| m.name == "HostsToRemove")
        .map(|m| m.value)
}

fn mark(deps: &TestDeps, id: &str) -> Option<String> {
    deps.attributes.value(id, "ecs-capacity.planned-removal")
}

async fn run(deps: &TestDeps) -> capacity_calculator::Summary {
    handle(scheduled(), deps)
        .await
        .expect("handled")
        .published()
        .expect("published")
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
    assert_eq!(hosts_to_remove(&deps), Some(0.0));
    // Nothing planned, nothing marked for the chooser: only the plan's memory is written,
    // the hosts found removable and since when (a cold start reads it back).
    let calls = deps.attributes.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0]
            .1
            .iter()
            .all(|a| a.name == REMOVABLE_SINCE_ATTRIBUTE
                && a.value.as_deref() == Some("1800000000/1800000000")),
        "{calls:?}"
    );
    assert_eq!(mark(&deps, "c"), None);

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
    assert_eq!(hosts_to_remove(&deps), Some(2.0));
    assert_eq!(later.hosts_to_remove, Some(2));
    // Marked by rank, at this run's time, before HostsToRemove was published.
    assert_eq!(mark(&deps, "c").as_deref(), Some("1/1800000300"));
    assert_eq!(mark(&deps, "a").as_deref(), Some("2/1800000300"));
    assert_eq!(mark(&deps, "b"), None);
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

#[tokio::test]
async fn hosts_to_remove_never_takes_the_group_below_its_minimum() {
    let fake = cluster(&[("a", 1), ("b", 2), ("c", 0)]);
    let mut group = group_of(&fake);
    if let Some(g) = group.group.as_mut() {
        g.min_size = 2;
    }
    let (deps, _) = deps_with(
        fake,
        group,
        &[
            ("DISRUPTION_BUDGET", "2"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = run(&deps).await;
    assert_eq!(
        s.scale_in_plan.ids(),
        ["c", "a"],
        "the plan itself is unbounded"
    );
    assert_eq!(s.hosts_to_remove, Some(1));
    assert_eq!(hosts_to_remove(&deps), Some(1.0));
    assert_eq!(mark(&deps, "c").as_deref(), Some("1/1800000000"));
    assert_eq!(
        mark(&deps, "a"),
        None,
        "beyond what the group may lose: not marked"
    );
}

#[tokio::test]
async fn a_host_the_group_is_terminating_is_leaving_and_never_counted_twice() {
    // The step policy lowered the desired capacity for c: Terminating:Wait, not yet DRAINING.
    // The next evaluation must count c against the budget and never plan it again.
    let fake = cluster(&[("a", 1), ("b", 2), ("c", 0)]);
    let group = FakeGroup::with(
        GROUP,
        0,
        2,
        &[
            ("i-a", "InService"),
            ("i-b", "InService"),
            ("i-c", "Terminating:Wait"),
        ],
    );
    let (deps, _) = deps_with(
        fake,
        group,
        &[
            ("DISRUPTION_BUDGET", "2"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = run(&deps).await;
    assert_eq!(
        s.scale_in_plan.why_kept("c"),
        Some(&Unconsolidatable::Leaving {
            lifecycle_state: "Terminating:Wait".into()
        })
    );
    assert_eq!(s.scale_in_plan.draining, 1);
    assert_eq!(
        s.scale_in_plan.ids(),
        ["a"],
        "one more within the budget of 2"
    );
    assert_eq!(hosts_to_remove(&deps), Some(1.0));
    assert_eq!(
        s.group.as_ref().map(|g| g.leaving.clone()),
        Some(vec!["c".to_owned()])
    );
}

#[tokio::test]
async fn a_container_instance_outside_the_group_is_never_planned() {
    let fake = cluster(&[("a", 1), ("b", 2), ("c", 0)]);
    let group = FakeGroup::with(GROUP, 0, 2, &[("i-a", "InService"), ("i-b", "InService")]);
    let (deps, _) = deps_with(
        fake,
        group,
        &[
            ("DISRUPTION_BUDGET", "3"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = run(&deps).await;
    assert_eq!(
        s.scale_in_plan.why_kept("c"),
        Some(&Unconsolidatable::NotInGroup)
    );
    assert!(!s.scale_in_plan.ids().contains(&"c"), "{}", s.scale_in_plan);
}

#[tokio::test]
async fn a_failed_group_read_leaves_hosts_to_remove_out_and_says_why() {
    let fake = cluster(&[("a", 0), ("b", 1)]);
    fake.marks.lock().unwrap().insert(
        "a".into(),
        [(
            "ecs-capacity.planned-removal".to_owned(),
            "1/1799999990".to_owned(),
        )]
        .into(),
    );
    let group = FakeGroup {
        fail: true,
        ..group_of(&fake)
    };
    let (deps, _) = deps_with(fake, group, &[("CONSOLIDATION_STABILITY_SECONDS", "0")]);
    let s = run(&deps).await;
    assert_eq!(s.scale_in_plan.ids(), ["a"], "the plan is still shown");
    assert_eq!(hosts_to_remove(&deps), None, "never a made-up 0");
    assert_eq!(s.hosts_to_remove, None);
    let why = s.hosts_to_remove_left_out.unwrap_or_default();
    assert!(
        why.contains("Auto Scaling group") && why.contains("DescribeAutoScalingGroups"),
        "{why}"
    );
    assert!(
        deps.attributes.calls().is_empty(),
        "marks left as they were"
    );
    assert!(
        deps.metrics
            .calls()
            .last()
            .is_some_and(|(_, m)| m.iter().any(|m| m.name == "ContainerCapacity")),
        "the other metrics are published"
    );
}

#[tokio::test]
async fn failed_marks_leave_hosts_to_remove_out_and_say_why() {
    let fake = cluster(&[("a", 0), ("b", 1)]);
    let group = group_of(&fake);
    let (mut deps, _) = deps_with(fake, group, &[("CONSOLIDATION_STABILITY_SECONDS", "0")]);
    deps.attributes.fail_put = true;
    let s = run(&deps).await;
    assert_eq!(hosts_to_remove(&deps), None);
    let why = s.hosts_to_remove_left_out.unwrap_or_default();
    assert!(why.contains("PutAttributes"), "{why}");
}

#[tokio::test]
async fn without_a_group_name_hosts_to_remove_is_left_out_naming_the_variable() {
    let fake = cluster(&[("a", 0), ("b", 1)]);
    let config = Config::from_lookup(capacity_aws::config::from_pairs(&[
        ("ECS_CLUSTER", CLUSTER),
        ("CONSOLIDATION_STABILITY_SECONDS", "0"),
    ]))
    .unwrap();
    let definitions = FakeCluster {
        task_definitions: fake.task_definitions.clone(),
        ..FakeCluster::default()
    };
    let deps = Deps::new(fake, definitions, FakeMetrics::default(), config);
    let s = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(s.hosts_to_remove, None);
    assert!(
        s.hosts_to_remove_left_out
            .unwrap_or_default()
            .contains("AUTO_SCALING_GROUP_NAME is not set")
    );
}

#[tokio::test]
async fn a_retry_never_double_acts_and_a_host_no_longer_planned_is_unmarked() {
    let fake = cluster(&[("a", 0), ("b", 1), ("c", 3)]);
    // c carried a mark from an earlier plan: it is no longer planned.
    fake.marks.lock().unwrap().insert(
        "c".into(),
        [(
            "ecs-capacity.planned-removal".to_owned(),
            "1/1799999000".to_owned(),
        )]
        .into(),
    );
    let (deps, clock) = deps(fake, &[("CONSOLIDATION_STABILITY_SECONDS", "0")]);
    let s = run(&deps).await;
    assert_eq!(s.scale_in_plan.ids(), ["a"]);
    let calls = deps.attributes.calls();
    let ops: Vec<(&str, &str)> = calls
        .iter()
        .map(|(op, attributes)| (*op, attributes[0].name.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("DeleteAttributes", "ecs-capacity.planned-removal"),
            ("PutAttributes", "ecs-capacity.planned-removal"),
            ("PutAttributes", REMOVABLE_SINCE_ATTRIBUTE),
        ],
        "unmark first, then mark; then the plan's memory"
    );
    assert_eq!(
        calls[0].1[0].value.as_deref(),
        Some("1/1799999000"),
        "by the value read"
    );
    assert_eq!(mark(&deps, "c"), None);
    assert_eq!(mark(&deps, "a").as_deref(), Some("1/1800000000"));
    // The same event again (Lambda's retry), and a minute later: nothing written again.
    run(&deps).await;
    clock.set(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + 60));
    run(&deps).await;
    assert_eq!(
        deps.attributes.calls().len(),
        3,
        "{:?}",
        deps.attributes.calls()
    );
    assert_eq!(hosts_to_remove(&deps), Some(1.0));
}

/// `fake` with the hosts `draining` set DRAINING (by the drainer, for two lifecycle actions
/// at once).
fn with_draining(mut fake: FakeCluster, draining: &[&str]) -> FakeCluster {
    for i in &mut fake.instances {
        if draining.contains(&i.id.as_str()) {
            i.status = capacity_core::InstanceStatus::Draining;
        }
    }
    fake
}

#[tokio::test]
async fn the_tasks_of_two_draining_hosts_are_never_both_counted_as_room() {
    // a and b drain at once, 2 tasks each; c (empty) and d (1 task) stay ACTIVE.
    let fake = with_draining(
        cluster(&[("a", 2), ("b", 2), ("c", 0), ("d", 1)]),
        &["a", "b"],
    );
    let (both, _) = deps(
        fake,
        &[
            ("DISRUPTION_BUDGET", "4"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = run(&both).await;
    // Room only on the ACTIVE hosts: c 5 slots + d 4; the draining hosts count none.
    assert_eq!(s.assessment.container_capacity, 9);
    assert_eq!(s.scale_in_plan.draining, 2);
    // Their 4 tasks are placed on c and d, never on a or b (neither takes the other's).
    let moved: Vec<(&str, &str)> = s
        .scale_in_plan
        .placements
        .iter()
        .map(|p| (p.from.as_str(), p.onto.as_str()))
        .filter(|(from, _)| ["a", "b"].contains(from))
        .collect();
    assert_eq!(moved.len(), 4, "{:?}", s.scale_in_plan.placements);
    assert!(
        moved.iter().all(|(_, onto)| ["c", "d"].contains(onto)),
        "{moved:?}"
    );
    assert!(s.scale_in_plan.free_after >= 1, "the headroom stays free");

    // With room for only one draining host's tasks, nothing is planned at all.
    let fake = with_draining(
        cluster(&[("a", 2), ("b", 2), ("c", 3), ("d", 4)]),
        &["a", "b"],
    );
    let (short, _) = deps(
        fake,
        &[
            ("DISRUPTION_BUDGET", "4"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ],
    );
    let s = run(&short).await;
    assert_eq!(
        s.assessment.container_capacity, 3,
        "c 2 + d 1: the draining hosts give none"
    );
    assert_eq!(s.scale_in_plan.moving_short, 1, "4 draining tasks, 3 slots");
    assert!(s.scale_in_plan.remove.is_empty(), "{}", s.scale_in_plan);
    assert_eq!(hosts_to_remove(&short), Some(0.0));
}

#[tokio::test]
async fn in_capacity_provider_mode_the_shape_is_read_once_per_ten_minutes_and_a_failed_drain_is_reported()
 {
    use capacity_aws::capacity_provider::FakeCapacityProviders;
    use capacity_core::mark::DRAINED_BY_ATTRIBUTE;
    let (deps, clock) = deps(
        cluster(&[("a", 1), ("b", 1), ("c", 0)]),
        &[
            ("SCALING_MODE", "capacity-provider"),
            ("CONSOLIDATION_STABILITY_SECONDS", "0"),
            ("DISRUPTION_BUDGET", "1"),
        ],
    );
    let providers = FakeCapacityProviders {
        fail_set: true,
        ..FakeCapacityProviders::of_group(GROUP, true, true)
    };
    let deps = deps.with_capacity_providers(providers.clone());
    let first = handle(scheduled(), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    let acting = first.acting.expect("capacity-provider mode acts");
    assert_eq!(
        acting.changes.drain,
        ["a"],
        "the empty host c is managed scaling's: a, whose task moves to b, within the budget of 1"
    );
    assert_eq!(acting.drained, 0, "the call failed");
    assert!(
        acting
            .error
            .as_deref()
            .is_some_and(|e| e.contains("UpdateContainerInstancesState")),
        "{:?}",
        acting.error
    );
    assert!(
        deps.attributes.value("a", DRAINED_BY_ATTRIBUTE).is_some(),
        "marked before the drain was asked"
    );
    assert!(
        deps.attributes
            .calls()
            .iter()
            .all(|(op, a)| *op == "PutAttributes"
                && a.iter().all(|a| a.name != "ecs-capacity.planned-removal")),
        "no planned-removal mark in this mode: {:?}",
        deps.attributes.calls()
    );
    let published = deps.metrics.calls();
    let (_, metrics) = published.last().expect("published");
    let value = |name: &str| metrics.iter().find(|m| m.name == name).map(|m| m.value);
    assert_eq!(value("HostsDrained"), Some(0.0));
    assert_eq!(value("ConsolidationRefused"), Some(0.0));

    clock.set(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + 60));
    run_cp(&deps).await;
    assert_eq!(
        providers
            .shape_calls
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the shape checked a minute ago is trusted"
    );
    clock.set(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + 601));
    run_cp(&deps).await;
    assert_eq!(
        providers
            .shape_calls
            .load(std::sync::atomic::Ordering::SeqCst),
        2,
        "read again after ten minutes"
    );
}

async fn run_cp<P: capacity_aws::capacity_provider::CapacityProviderOps>(
    deps: &Deps<FakeCluster, FakeCluster, FakeMetrics, FakeGroup, FakeAttributes, P>,
) -> capacity_calculator::Summary {
    handle(scheduled(), deps)
        .await
        .expect("handled")
        .published()
        .expect("published")
}
