//! The handler with in-memory fakes, driven by the fixture events.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use capacity_aws::fake::{FakeCluster, FakeMetrics};
use capacity_aws::{Metric, Unit};
use capacity_calculator::{Config, Deps, HandlerError, Source, handle};
use capacity_core::{
    ContainerDefinition, ContainerInstance, InstanceStatus, PortMapping, Resources, ScaleDecision,
    TaskDefinition,
};
use serde_json::Value;

const BOOK_EVENT: &str = include_str!("fixtures/book-ch12-container-instance-state-change.json");
const AWS_EVENT: &str = include_str!("fixtures/aws-docs-container-instance-state-change.json");

fn event(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture is JSON")
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .expect("valid test config")
}

fn t2_micro(id: &str, cpu_left: u32, mem_left: u32) -> ContainerInstance {
    ContainerInstance::active(
        id,
        Resources::new(1024, 993),
        Resources::new(cpu_left, mem_left),
    )
}

fn deps(cluster: FakeCluster, config: Config) -> Deps<FakeCluster, FakeCluster, FakeMetrics> {
    let definitions = FakeCluster {
        task_definitions: cluster.task_definitions.clone(),
        ..FakeCluster::default()
    };
    Deps::new(cluster, definitions, FakeMetrics::default(), config)
}

fn value(metrics: &[Metric], name: &str) -> f64 {
    metrics
        .iter()
        .find(|m| m.name == name && m.dimensions.len() == 1)
        .unwrap_or_else(|| panic!("no metric {name} in {metrics:?}"))
        .value
}

fn todobackend(revision: u32, memory: u32) -> (String, TaskDefinition) {
    let arn = format!("arn:aws:ecs:us-east-1:385605022855:task-definition/todobackend:{revision}");
    let def = TaskDefinition {
        name: arn.clone(),
        containers: vec![ContainerDefinition {
            name: "app".into(),
            cpu: 250,
            memory_reservation: Some(memory),
            memory: Some(memory * 2),
            port_mappings: vec![PortMapping {
                container_port: Some(8000),
                host_port: Some(0),
                ..PortMapping::default()
            }],
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    };
    (arn, def)
}

#[tokio::test]
async fn book_cluster_with_one_task_publishes_capacity_1_and_half_a_host() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 774, 593)],
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
        ]),
    );
    let summary = handle(event(BOOK_EVENT), &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");

    assert_eq!(summary.cluster, "todobackend-cluster");
    assert_eq!(summary.assessment.container_capacity, 1);
    assert_eq!(summary.assessment.idle_host_capacity, 0.5);
    assert_eq!(summary.assessment.decision, ScaleDecision::Hold);
    assert_eq!(summary.worst_case_source, "configured");
    let calls = deps.metrics.calls();
    assert_eq!(calls.len(), 1, "one PutMetricData per computation");
    let (namespace, metrics) = &calls[0];
    assert_eq!(namespace, "ECS/ClusterCapacity");
    assert_eq!(value(metrics, "ContainerCapacity"), 1.0);
    assert_eq!(value(metrics, "IdleHostCapacity"), 0.5);
    assert_eq!(value(metrics, "HostsToAdd"), 0.0);
    assert_eq!(value(metrics, "ActiveContainerInstances"), 1.0);
    let per_resource: HashMap<String, f64> = metrics
        .iter()
        .filter(|m| m.name == "ResourceCapacity")
        .map(|m| (m.dimensions[1].1.clone(), m.value))
        .collect();
    assert_eq!(
        per_resource,
        HashMap::from([("CPU".into(), 3.0), ("MEMORY".into(), 1.0)])
    );
    for m in metrics {
        assert_eq!(
            m.dimensions[0],
            ("ClusterName", "todobackend-cluster".to_owned())
        );
    }
    assert_eq!(
        metrics
            .iter()
            .find(|m| m.name == "IdleHostCapacity")
            .map(|m| m.unit),
        Some(Unit::None)
    );
    // No discovery when the worst case is configured.
    assert_eq!(deps.cluster.in_use_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_full_cluster_publishes_the_hosts_to_add() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 24, 193), t2_micro("ci-2", 524, 193)],
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
            ("SCALE_OUT_HEADROOM", "3"),
        ]),
    );
    let summary = handle(event(BOOK_EVENT), &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");
    assert_eq!(summary.assessment.container_capacity, 0);
    // Each empty t2.micro fits 2 worst-case tasks: 3 of headroom need 2 hosts.
    assert_eq!(summary.assessment.hosts_to_add, 2);
    assert_eq!(
        summary.assessment.decision,
        ScaleDecision::ScaleOut { hosts: 2 }
    );
    assert_eq!(value(&deps.metrics.calls()[0].1, "HostsToAdd"), 2.0);
}

#[tokio::test]
async fn with_a_larger_headroom_idle_host_capacity_stays_at_or_below_1_unless_a_scale_in_keeps_it()
{
    // Three empty t2.micros hold 2 worst-case tasks each: capacity 6, H = 2, plain ratio 3.
    let hosts = || {
        vec![
            t2_micro("ci-1", 1024, 993),
            t2_micro("ci-2", 1024, 993),
            t2_micro("ci-3", 1024, 993),
        ]
    };
    let with_headroom = |h: &str| {
        let cluster = FakeCluster {
            instances: hosts(),
            ..FakeCluster::default()
        };
        deps(
            cluster,
            config(&[
                ("CONTAINER_MAX_CPU", "250"),
                ("CONTAINER_MAX_MEMORY", "400"),
                ("SCALE_OUT_HEADROOM", h),
            ]),
        )
    };
    // Headroom 5: without a host 4 would fit, below 5, so no scale-in: (6 - 4) / 2 = 1.0.
    let deps5 = with_headroom("5");
    let s = handle(event(BOOK_EVENT), &deps5)
        .await
        .expect("handled")
        .published()
        .expect("published");
    assert_eq!(
        (
            s.assessment.decision.to_string().as_str(),
            s.assessment.idle_host_capacity
        ),
        ("hold", 1.0)
    );
    assert_eq!(value(&deps5.metrics.calls()[0].1, "IdleHostCapacity"), 1.0);
    // Headroom 4: without a host 4 still fit: scale in, and (6 - 3) / 2 = 1.5 > 1.
    let deps4 = with_headroom("4");
    let s = handle(event(BOOK_EVENT), &deps4)
        .await
        .expect("handled")
        .published()
        .expect("published");
    assert_eq!(
        (
            s.assessment.decision.to_string().as_str(),
            s.assessment.idle_host_capacity
        ),
        ("scale in by 1", 1.5)
    );
    // Headroom 1: the plain ratio of DESIGN.md.
    let deps1 = with_headroom("1");
    assert_eq!(
        handle(event(BOOK_EVENT), &deps1)
            .await
            .expect("handled")
            .published()
            .expect("published")
            .assessment
            .idle_host_capacity,
        3.0
    );
}

#[tokio::test]
async fn draining_and_disconnected_instances_add_nothing() {
    let mut draining = t2_micro("ci-2", 1024, 993);
    draining.status = InstanceStatus::Draining;
    let mut disconnected = t2_micro("ci-3", 1024, 993);
    disconnected.agent_connected = false;
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 774, 593), draining, disconnected],
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
        ]),
    );
    let summary = handle(event(AWS_EVENT), &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");
    assert_eq!(summary.cluster, "default");
    assert_eq!(summary.assessment.container_capacity, 1);
    assert_eq!(summary.instances, 3);
    assert_eq!(summary.assessment.counted_instances, 1);
}

#[tokio::test]
async fn the_worst_case_is_discovered_and_task_definitions_are_described_once_per_process() {
    let (small_arn, small) = todobackend(1, 300);
    let (large_arn, large) = todobackend(2, 450);
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993)],
        task_definitions: HashMap::from([(small_arn.clone(), small), (large_arn.clone(), large)]),
        in_use: BTreeSet::from([small_arn, large_arn]),
        ..FakeCluster::default()
    };
    let deps = deps(cluster, config(&[("CLUSTER_REFRESH_SECONDS", "0")]));
    let first = handle(event(BOOK_EVENT), &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");
    // memoryReservation (450), not the hard limit (900), is what ECS deducts: 993 / 450 = 2.
    assert_eq!(first.worst_case.memory_mib, 450);
    assert_eq!(first.worst_case.cpu, 250);
    assert_eq!(first.assessment.container_capacity, 2);
    assert_eq!(
        first.worst_case_source,
        "discovered from 2 task definition(s)"
    );

    let second = handle(event(BOOK_EVENT), &deps)
        .await
        .expect("handled again")
        .published()
        .expect("published");
    assert_eq!(second, first);
    assert_eq!(second.source, Source::Read);
    assert_eq!(
        deps.cluster.in_use_reads.load(Ordering::SeqCst),
        2,
        "task definitions in use are listed every read"
    );
    let described = deps
        .task_shapes
        .reader()
        .definition_reads
        .load(Ordering::SeqCst);
    assert_eq!(described, 2, "each revision is described once per process");
}

#[tokio::test]
async fn a_failed_instance_read_publishes_nothing() {
    let cluster = FakeCluster {
        fail_instances: true,
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
        ]),
    );
    let err = handle(event(BOOK_EVENT), &deps).await.unwrap_err();
    assert!(matches!(err, HandlerError::Read { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("todobackend-cluster")
            && err.to_string().contains("nothing published"),
        "{err}"
    );
    assert!(
        deps.metrics.calls().is_empty(),
        "never publish a made-up number"
    );
}

#[tokio::test]
async fn a_failed_discovery_publishes_nothing() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993)],
        fail_in_use: true,
        ..FakeCluster::default()
    };
    let deps = deps(cluster, config(&[]));
    assert!(matches!(
        handle(event(BOOK_EVENT), &deps).await,
        Err(HandlerError::Read { .. })
    ));
    assert!(deps.metrics.calls().is_empty());
}

#[tokio::test]
async fn a_cluster_with_nothing_to_size_for_says_which_variables_to_set() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993)],
        ..FakeCluster::default()
    };
    let deps = deps(cluster, config(&[]));
    let err = handle(event(BOOK_EVENT), &deps)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("CONTAINER_MAX_CPU"), "{err}");
    assert!(deps.metrics.calls().is_empty());
}

#[tokio::test]
async fn nothing_to_size_for_is_a_permanent_error_not_a_retryable_one() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993)],
        ..FakeCluster::default()
    };
    let deps = deps(cluster, config(&[]));
    let err = handle(event(BOOK_EVENT), &deps).await.unwrap_err();
    assert_eq!(err.error_type(), "Permanent.NoTaskDefinitions");
    assert!(
        !err.is_retryable(),
        "retrying changes nothing until someone deploys"
    );
}

const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:385605022855:cluster/todobackend-cluster";

/// EventBridge's event for a schedule, as it sends it.
fn scheduled_event() -> Value {
    serde_json::json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "385605022855",
        "time": "2026-12-04T03:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:385605022855:rule/ecs-capacity-schedule"],
        "detail": {}
    })
}

#[tokio::test]
async fn the_schedule_reads_the_configured_cluster_and_publishes() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 774, 593)],
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
            ("ECS_CLUSTER", CLUSTER_ARN),
        ]),
    );
    for _ in 0..2 {
        let summary = handle(scheduled_event(), &deps)
            .await
            .expect("handled")
            .published()
            .expect("published");
        assert_eq!(summary.cluster, "todobackend-cluster");
        assert_eq!(summary.trigger, capacity_calculator::Trigger::Schedule);
        assert_eq!(
            summary.source,
            Source::Read,
            "a scheduled run is the refresh"
        );
    }
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 2);
    assert_eq!(deps.metrics.calls().len(), 2);
}

#[tokio::test]
async fn a_scheduled_run_without_a_cluster_is_a_permanent_error_and_calls_nothing() {
    let deps = deps(FakeCluster::default(), config(&[]));
    let err = handle(scheduled_event(), &deps).await.unwrap_err();
    assert_eq!(err.error_type(), "Permanent.InvalidConfiguration");
    assert!(err.to_string().contains("ECS_CLUSTER"), "{err}");
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_event_of_another_cluster_than_configured_is_nothing_to_do() {
    let deps = deps(
        FakeCluster::default(),
        config(&[(
            "ECS_CLUSTER",
            "arn:aws:ecs:us-east-1:385605022855:cluster/other",
        )]),
    );
    let outcome = handle(event(BOOK_EVENT), &deps).await.expect("handled");
    assert!(outcome.published().is_none(), "nothing to do");
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 0);
    assert!(deps.metrics.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn equal_task_totals_never_hide_a_standalone_shape() {
    // A service task stopped while a standalone task of a larger definition started: the
    // instances' total equals the services' again. The first read of a process lists the
    // tasks anyway, so the standalone shape is in the worst case.
    use capacity_aws::services::{Deployment, Service};
    let (web, web_def) = todobackend(1, 400);
    let (batch, batch_def) = todobackend(2, 900);
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993), t2_micro("ci-2", 1024, 993)],
        tasks_on_instances: Some(2),
        services: vec![Service {
            name: "web".into(),
            daemon: false,
            task_definition: Some(web.clone()),
            deployments: vec![Deployment {
                task_definition: web.clone(),
                primary: true,
                desired: 2,
                running: 2,
                pending: 0,
                on_ec2: true,
            }],
            placement: Default::default(),
        }],
        in_use: BTreeSet::from([web.clone(), batch.clone()]),
        task_definitions: HashMap::from([(web, web_def), (batch, batch_def)]),
        ..FakeCluster::default()
    };
    // Every event reads the cluster (no event cache), so only the task listing is in play.
    let deps = deps(cluster, config(&[("CLUSTER_REFRESH_SECONDS", "0")]));
    let first = handle(event(BOOK_EVENT), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(
        first.worst_case.memory_mib, 900,
        "the standalone shape counts"
    );
    assert_eq!(deps.cluster.in_use_reads.load(Ordering::SeqCst), 1);
    // Within five minutes the totals agree and the last listing stands in: no new listing,
    // the same worst case.
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    let again = handle(event(BOOK_EVENT), &deps)
        .await
        .unwrap()
        .published()
        .unwrap();
    assert_eq!(again.worst_case.memory_mib, 900);
    assert_eq!(deps.cluster.in_use_reads.load(Ordering::SeqCst), 1);
    // Past it, the tasks are listed again.
    tokio::time::advance(capacity_aws::cluster::TASK_LISTING_MAX_AGE).await;
    handle(event(BOOK_EVENT), &deps).await.unwrap();
    assert_eq!(deps.cluster.in_use_reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn inconsistent_instance_data_is_a_permanent_error_naming_the_instance() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-bad", 2048, 500)],
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
        ]),
    );
    let err = handle(event(BOOK_EVENT), &deps).await.unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(err.error_type(), "Permanent.InvalidClusterData");
    assert!(err.to_string().contains("ci-bad"), "{err}");
    assert!(deps.metrics.calls().is_empty());
}

#[tokio::test]
async fn a_wrong_event_makes_no_aws_call() {
    let deps = deps(
        FakeCluster::default(),
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
        ]),
    );
    let mut wrong = event(BOOK_EVENT);
    wrong["detail-type"] = "EC2 Instance State-change Notification".into();
    let err = handle(wrong, &deps).await.unwrap_err();
    assert_eq!(err.error_type(), "Permanent.InvalidEvent");
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 0);
    assert!(deps.metrics.calls().is_empty());
}

#[tokio::test]
async fn a_failed_publish_is_a_retryable_error() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993)],
        ..FakeCluster::default()
    };
    let mut deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
        ]),
    );
    deps.metrics.fail = true;
    let err = handle(event(BOOK_EVENT), &deps).await.unwrap_err();
    assert!(
        matches!(err, HandlerError::Publish { .. }) && err.is_retryable(),
        "{err}"
    );
}

#[tokio::test]
async fn a_custom_namespace_is_used() {
    let cluster = FakeCluster {
        instances: vec![t2_micro("ci-1", 1024, 993)],
        ..FakeCluster::default()
    };
    let deps = deps(
        cluster,
        config(&[
            ("CONTAINER_MAX_CPU", "250"),
            ("CONTAINER_MAX_MEMORY", "400"),
            ("METRIC_NAMESPACE", "Team/Prod"),
        ]),
    );
    handle(event(BOOK_EVENT), &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");
    assert_eq!(deps.metrics.calls()[0].0, "Team/Prod");
}

mod event_cache {
    //! The cluster is read once per CLUSTER_REFRESH_SECONDS; events in between update it.

    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use moto_harness::clock::ManualClock;

    use super::*;

    const READ_AT: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn rfc3339(t: SystemTime) -> String {
        capacity_aws::clock::format_rfc3339(t)
    }

    /// The book's event for instance ci-1 at `version`, changed at `updated`, with
    /// `remaining` CPU and memory.
    fn change(version: i64, updated: SystemTime, remaining: (i64, i64)) -> Value {
        let mut e = event(BOOK_EVENT);
        e["detail"]["containerInstanceArn"] = "ci-1".into();
        e["detail"]["version"] = version.into();
        e["detail"]["updatedAt"] = rfc3339(updated).into();
        e["detail"]["remainingResources"][0]["integerValue"] = remaining.0.into();
        e["detail"]["remainingResources"][1]["integerValue"] = remaining.1.into();
        e
    }

    struct Pinned {
        deps: Deps<FakeCluster, FakeCluster, FakeMetrics>,
        now: ManualClock,
    }

    impl Pinned {
        fn new(refresh: &str) -> Pinned {
            // ECS's versions as the read describes them.
            let cluster = FakeCluster {
                instances: vec![t2_micro("ci-1", 1024, 993), t2_micro("ci-2", 1024, 993)],
                versions: HashMap::from([("ci-1".to_owned(), 10), ("ci-2".to_owned(), 3)]),
                ..FakeCluster::default()
            };
            let mut deps = deps(
                cluster,
                config(&[
                    ("CONTAINER_MAX_CPU", "250"),
                    ("CONTAINER_MAX_MEMORY", "400"),
                    ("CLUSTER_REFRESH_SECONDS", refresh),
                ]),
            );
            let now = ManualClock::at(at(READ_AT));
            deps.clock = Arc::new(now.clone());
            Pinned { deps, now }
        }

        fn set(&self, seconds: u64) {
            self.now.set(at(seconds));
        }

        fn reads(&self) -> usize {
            self.deps.cluster.instance_reads.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn an_event_after_the_read_updates_its_instance_without_reading_again() {
        let p = Pinned::new("60");
        let first = handle(change(10, at(READ_AT - 5), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        assert_eq!(
            (first.source, first.assessment.container_capacity),
            (Source::Read, 4)
        );

        p.set(READ_AT + 10);
        let second = handle(change(11, at(READ_AT + 9), (524, 193)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        assert_eq!(second.source, Source::Event);
        assert_eq!(
            second.assessment.container_capacity, 2,
            "ci-1 is now full: 0 + 2 on ci-2"
        );
        assert_eq!(p.reads(), 1);
        assert_eq!(
            value(&p.deps.metrics.calls()[1].1, "ContainerCapacity"),
            2.0
        );
    }

    #[tokio::test]
    async fn a_redelivered_or_older_event_changes_nothing() {
        let p = Pinned::new("60");
        handle(change(10, at(READ_AT - 5), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        p.set(READ_AT + 10);
        handle(change(12, at(READ_AT + 9), (524, 193)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        // Version 11 arrives late, then version 12 again: neither undoes version 12.
        for version in [11, 12] {
            let s = handle(change(version, at(READ_AT + 8), (1024, 993)), &p.deps)
                .await
                .unwrap()
                .published()
                .unwrap();
            assert_eq!(
                (s.source, s.assessment.container_capacity),
                (Source::Event, 2),
                "version {version}"
            );
        }
        // An event from before the read (a version below the read's) is already in it.
        let s = handle(change(9, at(READ_AT - 1), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        assert_eq!(s.assessment.container_capacity, 2);
        assert_eq!(p.reads(), 1);
    }

    #[tokio::test]
    async fn an_event_the_read_already_reflects_is_known_by_version_not_by_time() {
        let p = Pinned::new("60");
        handle(change(10, at(READ_AT - 5), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        // ECS's clock runs 30 s ahead of the function's: the event's updatedAt is after the
        // read started, but its version is the one the read described. Its old figures (ci-1
        // full) must not replace the read's.
        p.set(READ_AT + 5);
        let s = handle(change(10, at(READ_AT + 30), (524, 193)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        assert_eq!(
            (s.source, s.assessment.container_capacity),
            (Source::Event, 4)
        );
        assert_eq!(p.reads(), 1);
    }

    #[tokio::test]
    async fn an_instance_the_read_gave_no_version_is_read_again() {
        let mut p = Pinned::new("60");
        p.deps.cluster.versions.remove("ci-1");
        handle(change(10, at(READ_AT - 5), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        p.set(READ_AT + 5);
        let s = handle(change(11, at(READ_AT + 4), (524, 193)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        assert_eq!(s.source, Source::Read, "newer or not is unknown: read");
        assert_eq!(p.reads(), 2);
    }

    #[tokio::test]
    async fn the_cluster_is_read_again_after_the_refresh_period() {
        let p = Pinned::new("60");
        handle(change(10, at(READ_AT - 5), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        p.set(READ_AT + 60);
        let s = handle(change(11, at(READ_AT + 59), (524, 193)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        assert_eq!(s.source, Source::Read);
        assert_eq!(
            s.assessment.container_capacity, 4,
            "the read, not the event, is the truth"
        );
        assert_eq!(p.reads(), 2);
    }

    #[tokio::test]
    async fn an_event_without_figures_or_of_another_cluster_reads_the_cluster() {
        let p = Pinned::new("60");
        handle(change(10, at(READ_AT - 5), (1024, 993)), &p.deps)
            .await
            .unwrap()
            .published()
            .unwrap();
        p.set(READ_AT + 1);
        let mut bare = change(11, at(READ_AT + 1), (524, 193));
        bare["detail"]
            .as_object_mut()
            .unwrap()
            .remove("remainingResources");
        assert_eq!(
            handle(bare, &p.deps)
                .await
                .unwrap()
                .published()
                .expect("published")
                .source,
            Source::Read
        );
        let mut other = change(12, at(READ_AT + 1), (524, 193));
        other["detail"]["clusterArn"] = "arn:aws:ecs:us-east-1:385605022855:cluster/other".into();
        assert_eq!(
            handle(other, &p.deps)
                .await
                .unwrap()
                .published()
                .expect("published")
                .source,
            Source::Read
        );
        assert_eq!(p.reads(), 3);
    }

    #[tokio::test]
    async fn a_zero_refresh_reads_on_every_event() {
        let p = Pinned::new("0");
        for version in 10..13 {
            let s = handle(change(version, at(READ_AT + 1), (524, 193)), &p.deps)
                .await
                .unwrap()
                .published()
                .unwrap();
            assert_eq!(s.source, Source::Read);
        }
        assert_eq!(p.reads(), 3);
    }
}
