//! The tasks that wait, with in-memory fakes: the services' counts become UnplacedTasks and
//! HostsToAdd; a placement failure runs a full read; other service actions do nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use capacity_aws::Metric;
use capacity_aws::fake::{FakeCluster, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_calculator::{Config, Deps, HandlerError, Outcome, Source, Summary, Trigger, handle};
use capacity_core::{
    ContainerDefinition, ContainerInstance, PortMapping, Resources, ScaleDecision, TaskDefinition,
};
use serde_json::{Value, json};

const STATE_CHANGE: &str = include_str!("fixtures/book-ch12-container-instance-state-change.json");
const PLACEMENT_FAILURE: &str =
    include_str!("fixtures/aws-docs-service-task-placement-failure.json");
const STEADY_STATE: &str = include_str!("fixtures/aws-docs-service-steady-state.json");

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

const CONFIGURED: &[(&str, &str)] = &[
    ("CONTAINER_MAX_CPU", "1024"),
    ("CONTAINER_MAX_MEMORY", "2048"),
];

/// A host of 4096 CPU / 8192 MiB with `cpu`/`mem` left.
fn host(id: &str, cpu: u32, mem: u32) -> ContainerInstance {
    ContainerInstance::active(id, Resources::new(4096, 8192), Resources::new(cpu, mem))
}

fn definition(arn: &str, cpu: u32, memory: u32, host_port: Option<u16>) -> TaskDefinition {
    TaskDefinition {
        name: arn.to_owned(),
        containers: vec![ContainerDefinition {
            name: "app".into(),
            cpu,
            memory: Some(memory),
            port_mappings: host_port
                .map(|p| PortMapping {
                    container_port: Some(p),
                    host_port: Some(p),
                    ..PortMapping::default()
                })
                .into_iter()
                .collect(),
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    }
}

fn deployment(td: &str, primary: bool, desired: u32, running: u32, pending: u32) -> Deployment {
    Deployment {
        task_definition: td.to_owned(),
        primary,
        desired,
        running,
        pending,
        on_ec2: true,
    }
}

fn service(name: &str, deployments: Vec<Deployment>) -> Service {
    Service {
        name: name.to_owned(),
        daemon: false,
        task_definition: deployments.first().map(|d| d.task_definition.clone()),
        deployments,
        placement: Default::default(),
    }
}

/// Two full hosts; `services` and the task definitions web:1 (1024/2048), web:2 (2048/4096),
/// agent:1 (512/512) and api:1 (512/1024, port 80).
fn cluster(services: Vec<Service>) -> FakeCluster {
    let task_definitions: HashMap<String, TaskDefinition> = [
        definition("web:1", 1024, 2048, None),
        definition("web:2", 2048, 4096, None),
        definition("agent:1", 512, 512, None),
        definition("api:1", 512, 1024, Some(80)),
    ]
    .into_iter()
    .map(|d| (d.name.clone(), d))
    .collect();
    FakeCluster {
        instances: vec![host("ci-1", 0, 0), host("ci-2", 0, 0)],
        task_definitions,
        services,
        ..FakeCluster::default()
    }
}

fn deps(cluster: FakeCluster, config: Config) -> Deps<FakeCluster, FakeCluster, FakeMetrics> {
    let definitions = FakeCluster {
        task_definitions: cluster.task_definitions.clone(),
        ..FakeCluster::default()
    };
    Deps::new(cluster, definitions, FakeMetrics::default(), config)
}

async fn published(event: Value, deps: &Deps<FakeCluster, FakeCluster, FakeMetrics>) -> Summary {
    handle(event, deps)
        .await
        .expect("handled")
        .published()
        .expect("published")
}

fn metric<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {metrics:?}"))
}

#[tokio::test]
async fn waiting_tasks_publish_unplaced_tasks_and_the_hosts_that_hold_them() {
    // 10 tasks of 1024/2048 wait: 4 per empty host -> 3 hosts, the third keeps the headroom.
    let deps = deps(
        cluster(vec![service(
            "web",
            vec![deployment("web:1", true, 12, 2, 0)],
        )]),
        config(CONFIGURED),
    );
    let summary = published(event(STATE_CHANGE), &deps).await;

    assert_eq!(summary.assessment.unplaced_tasks, 10);
    assert_eq!(summary.assessment.hosts_to_add, 3);
    assert_eq!(
        summary.assessment.decision,
        ScaleDecision::ScaleOut { hosts: 3 }
    );
    let calls = deps.metrics.calls();
    assert_eq!(calls.len(), 1, "one PutMetricData per computation");
    let metrics = &calls[0].1;
    assert_eq!(metric(metrics, "UnplacedTasks").value, 10.0);
    assert_eq!(metric(metrics, "HostsToAdd").value, 3.0);
    // The scale-out metrics are high-resolution, the others not, all in the one call.
    for m in metrics {
        let fast = matches!(m.name, "HostsToAdd" | "UnplacedTasks");
        assert_eq!(m.high_resolution, fast, "{}", m.name);
    }
    // The JSON summary lists the unplaced tasks per service, with their shape.
    let json = serde_json::to_value(Outcome::Published(Box::new(summary))).unwrap();
    assert_eq!(json["outcome"], "published");
    assert_eq!(json["unplaced_tasks"], 10);
    assert_eq!(json["unplaced"][0]["service"], "web");
    assert_eq!(json["unplaced"][0]["count"], 10);
    assert_eq!(json["unplaced"][0]["shape"]["name"], "web:1");
    assert_eq!(json["trigger"], "container_instance_state_change");
}

#[tokio::test]
async fn nothing_waiting_keeps_the_headroom_rule_and_publishes_zero_unplaced() {
    let deps = deps(
        cluster(vec![service(
            "web",
            vec![deployment("web:1", true, 2, 1, 1)],
        )]),
        config(CONFIGURED),
    );
    let summary = published(event(STATE_CHANGE), &deps).await;
    assert_eq!(summary.assessment.unplaced_tasks, 0);
    // Full cluster, headroom 1, 4 worst-case tasks per empty host: 1 host.
    assert_eq!(summary.assessment.hosts_to_add, 1);
    assert_eq!(
        metric(&deps.metrics.calls()[0].1, "UnplacedTasks").value,
        0.0
    );
}

#[tokio::test]
async fn a_deployment_to_a_larger_revision_counts_its_own_shape() {
    // The new revision (2048/4096) waits for 4 tasks; the old one (1024/2048) is placed.
    let deps = deps(
        cluster(vec![service(
            "web",
            vec![
                deployment("web:2", true, 4, 0, 0),
                deployment("web:1", false, 4, 4, 0),
            ],
        )]),
        config(CONFIGURED),
    );
    let summary = published(event(STATE_CHANGE), &deps).await;
    assert_eq!(summary.assessment.unplaced.len(), 1);
    assert_eq!(summary.assessment.unplaced[0].shape.name, "web:2");
    assert_eq!(summary.assessment.unplaced[0].shape.cpu, 2048);
    // 2 of web:2 per host: 2 hosts hold them, full; a third keeps the headroom.
    assert_eq!(summary.assessment.hosts_to_add, 3);
}

#[tokio::test]
async fn a_daemon_is_reserved_on_every_new_host() {
    let mut agent = service("agent", vec![deployment("agent:1", true, 2, 2, 0)]);
    agent.daemon = true;
    let waiting = service("web", vec![deployment("web:1", true, 8, 0, 0)]);
    let deps = deps(cluster(vec![agent, waiting]), config(CONFIGURED));
    let summary = published(event(STATE_CHANGE), &deps).await;
    // Without the daemon 4 web tasks fill a host (2 hosts + 1 for the headroom); with
    // 512/512 taken by the agent only 3 fit: 8 tasks need 3 hosts, and the third has room.
    assert_eq!(summary.assessment.unplaced_tasks, 8);
    assert_eq!(summary.assessment.hosts_to_add, 3);
}

#[tokio::test]
async fn a_static_port_puts_one_waiting_task_on_each_new_host() {
    let deps = deps(
        cluster(vec![service(
            "api",
            vec![deployment("api:1", true, 3, 0, 0)],
        )]),
        config(CONFIGURED),
    );
    let summary = published(event(STATE_CHANGE), &deps).await;
    // Port 80 on every api task: one per host, 3 hosts; the worst case (1024/2048, no port)
    // still fits 2 on each of them, so no host is added for the headroom.
    assert_eq!(summary.assessment.hosts_to_add, 3);
}

#[tokio::test]
async fn the_services_are_read_with_the_worst_case_configured_and_tasks_are_not_listed() {
    let deps = deps(cluster(vec![]), config(CONFIGURED));
    published(event(STATE_CHANGE), &deps).await;
    assert_eq!(deps.cluster.service_reads.load(Ordering::SeqCst), 1);
    assert_eq!(deps.cluster.in_use_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn discovery_lists_the_tasks_once_then_only_when_the_services_do_not_account_for_them() {
    let services = vec![service("web", vec![deployment("web:1", true, 3, 2, 1)])];
    // The instances hold as many tasks as the services (3), yet a web:2 task runs: the
    // totals agree by coincidence. The process's first read lists the tasks all the same.
    let mut accounted = cluster(services.clone());
    accounted.tasks_on_instances = Some(3);
    accounted.in_use = BTreeSet::from(["web:2".to_owned()]);
    let deps_accounted = deps(accounted, config(&[("CLUSTER_REFRESH_SECONDS", "0")]));
    let summary = published(event(STATE_CHANGE), &deps_accounted).await;
    assert_eq!(
        deps_accounted.cluster.in_use_reads.load(Ordering::SeqCst),
        1
    );
    assert_eq!(
        summary.worst_case.cpu, 2048,
        "the running web:2 task counts"
    );
    // The next read within TASK_LISTING_MAX_AGE: the totals agree, the listing stands in.
    let summary = published(event(STATE_CHANGE), &deps_accounted).await;
    assert_eq!(
        deps_accounted.cluster.in_use_reads.load(Ordering::SeqCst),
        1
    );
    assert_eq!(summary.worst_case.cpu, 2048, "kept from the last listing");

    // One more task on the instances than the services have: a standalone task, listed.
    let mut standalone = cluster(services);
    standalone.tasks_on_instances = Some(4);
    standalone.in_use = BTreeSet::from(["web:2".to_owned()]);
    let deps_standalone = deps(standalone, config(&[]));
    let summary = published(event(STATE_CHANGE), &deps_standalone).await;
    assert_eq!(
        deps_standalone.cluster.in_use_reads.load(Ordering::SeqCst),
        1
    );
    assert_eq!(summary.worst_case.cpu, 2048, "from the running web:2 task");
    assert_eq!(
        summary.worst_case_source,
        "discovered from 2 task definition(s)"
    );
}

#[tokio::test]
async fn a_placement_failure_reads_the_cluster_even_when_a_read_is_cached() {
    // Nothing waits at the first read, and a state change is then applied to the cached read.
    let mut deps = deps(
        cluster(vec![service(
            "web",
            vec![deployment("web:1", true, 6, 6, 0)],
        )]),
        config(CONFIGURED),
    );
    assert_eq!(
        published(event(STATE_CHANGE), &deps).await.source,
        Source::Read
    );
    assert_eq!(
        published(event(STATE_CHANGE), &deps).await.source,
        Source::Event
    );
    // The service now asks for 6 more tasks and ECS fails to place them: the cached read
    // knows nothing of it, the placement failure reads the cluster again.
    deps.cluster.services = vec![service("web", vec![deployment("web:1", true, 12, 6, 0)])];
    let mut failure = event(PLACEMENT_FAILURE);
    failure["detail"]["clusterArn"] =
        "arn:aws:ecs:us-east-1:385605022855:cluster/todobackend-cluster".into();
    let summary = published(failure, &deps).await;
    assert_eq!(summary.source, Source::Read);
    assert_eq!(summary.trigger, Trigger::PlacementFailure);
    assert_eq!(summary.assessment.unplaced_tasks, 6);
    // 4 per host: 2 hosts, the second with 2 slots left for the headroom.
    assert_eq!(summary.assessment.hosts_to_add, 2);
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 2);
    assert_eq!(deps.metrics.calls().len(), 3);
}

#[tokio::test]
async fn while_tasks_wait_every_state_change_reads_the_cluster() {
    let deps = deps(
        cluster(vec![service(
            "web",
            vec![deployment("web:1", true, 6, 0, 0)],
        )]),
        config(&[
            ("CONTAINER_MAX_CPU", "1024"),
            ("CONTAINER_MAX_MEMORY", "2048"),
            ("CLUSTER_REFRESH_SECONDS", "60"),
        ]),
    );
    assert_eq!(deps.config.cluster_refresh, Duration::from_secs(60));
    for _ in 0..3 {
        let summary = published(event(STATE_CHANGE), &deps).await;
        assert_eq!(summary.source, Source::Read);
    }
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn another_service_action_is_nothing_to_do_and_calls_nothing() {
    let deps = deps(cluster(vec![]), config(CONFIGURED));
    let outcome = handle(event(STEADY_STATE), &deps).await.expect("handled");
    let Outcome::NothingToDo(skip) = &outcome else {
        panic!("nothing to do, got {outcome:?}");
    };
    assert_eq!(skip.cluster, "default");
    assert!(
        skip.reason.contains("SERVICE_STEADY_STATE"),
        "{}",
        skip.reason
    );
    assert_eq!(
        serde_json::to_value(&outcome).unwrap(),
        json!({"outcome": "nothing_to_do", "cluster": "default", "reason": skip.reason})
    );
    assert_eq!(deps.cluster.instance_reads.load(Ordering::SeqCst), 0);
    assert_eq!(deps.cluster.service_reads.load(Ordering::SeqCst), 0);
    assert!(deps.metrics.calls().is_empty());
}

#[tokio::test]
async fn a_failed_service_read_publishes_nothing() {
    let mut cluster = cluster(vec![]);
    cluster.fail_services = true;
    let deps = deps(cluster, config(CONFIGURED));
    let err = handle(event(PLACEMENT_FAILURE), &deps).await.unwrap_err();
    assert!(
        matches!(err, HandlerError::Read { .. }) && err.is_retryable(),
        "{err}"
    );
    assert!(err.to_string().contains("DescribeServices"), "{err}");
    assert!(deps.metrics.calls().is_empty());
}
