//! What a read of the largest cluster costs: 5,000 container instances, 1,000 services of 50
//! tasks each (50,000 tasks), one task definition per service. Measured through the real SDK
//! with aws-smithy-mocks answering every call, behind an HTTP client that adds 50 ms to each
//! call and, optionally, ECS's documented token buckets ("Request throttling for the Amazon
//! ECS API": cluster resource reads — ListContainerInstances, DescribeContainerInstances,
//! ListTasks, DescribeTasks — share 100 tokens refilled at 20/s; service reads 100 at 20/s;
//! DescribeTaskDefinition 50 at 20/s). A call waits for its token, as a client pacing itself
//! to the limits would: the elapsed time is then the least a read can take within them.
//! Time is tokio's paused clock, so the test runs in real milliseconds.
//!
//! The figures are printed (`cargo test -p capacity-calculator --test cold_read --
//! --nocapture`) and quoted in docs/calculator.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::operation::list_services::ListServicesOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerInstance, Deployment, Resource, SchedulingStrategy, Service,
    Task, TaskDefinition,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use capacity_aws::{EcsReader, TaskShapeCache, snapshot};
use capacity_core::WorstCase;
use tokio::time::Instant;

const INSTANCES: usize = 5_000;
const SERVICES: usize = 1_000;
const TASKS_PER_SERVICE: usize = 50;
const LATENCY: Duration = Duration::from_millis(50);
const CLUSTER: &str = "big";

/// ECS's token buckets: `(operations, burst, refill per second)`.
const BUCKETS: &[(&[&str], f64, f64)] = &[
    (
        &[
            "ListContainerInstances",
            "DescribeContainerInstances",
            "ListTasks",
            "DescribeTasks",
        ],
        100.0,
        20.0,
    ),
    (&["ListServices", "DescribeServices"], 100.0, 20.0),
    (&["DescribeTaskDefinition"], 50.0, 20.0),
];

/// One bucket's reservations: tokens may go negative, each call waits until its token refills.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refill: f64,
    burst: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct Wire {
    limits: bool,
    buckets: HashMap<usize, Bucket>,
    calls: HashMap<String, usize>,
}

/// The mock client's HTTP client, with latency and (optionally) the token buckets.
#[derive(Debug, Clone)]
struct Paced {
    inner: SharedHttpClient,
    wire: Arc<Mutex<Wire>>,
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    wire: Arc<Mutex<Wire>>,
}

impl HttpClient for Paced {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            wire: self.wire.clone(),
        })
    }
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        let wait = {
            let mut wire = self.wire.lock().unwrap();
            *wire.calls.entry(operation.clone()).or_default() += 1;
            let limits = wire.limits;
            match BUCKETS
                .iter()
                .position(|(ops, _, _)| ops.contains(&operation.as_str()))
            {
                Some(i) if limits => {
                    let (_, burst, refill) = BUCKETS[i];
                    let now = Instant::now();
                    let b = wire.buckets.entry(i).or_insert(Bucket {
                        tokens: burst,
                        refill,
                        burst,
                        last: now,
                    });
                    let elapsed = now.duration_since(b.last).as_secs_f64();
                    b.tokens = (b.tokens + elapsed * b.refill).min(b.burst);
                    b.last = now;
                    b.tokens -= 1.0;
                    if b.tokens < 0.0 {
                        Duration::from_secs_f64(-b.tokens / b.refill)
                    } else {
                        Duration::ZERO
                    }
                }
                _ => Duration::ZERO,
            }
        };
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(wait + LATENCY).await;
            inner.call(request).await
        })
    }
}

fn resource(name: &str, value: i32) -> Resource {
    Resource::builder()
        .name(name)
        .r#type("INTEGER")
        .integer_value(value)
        .build()
}

fn page(token: Option<&str>, size: Option<i32>, default: usize, total: usize) -> (usize, usize) {
    let start: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
    let size = size.map_or(default, |s| s as usize);
    (start, (start + size).min(total))
}

fn next(end: usize, total: usize) -> Option<String> {
    (end < total).then(|| end.to_string())
}

/// Every call of the read answered as ECS would; `standalone` tasks run outside services.
fn rules(standalone: usize) -> Vec<Rule> {
    let tasks = SERVICES * TASKS_PER_SERVICE + standalone;
    vec![
        mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(|req| {
            let (start, end) = page(req.next_token(), req.max_results(), 100, INSTANCES);
            ListContainerInstancesOutput::builder()
                .set_container_instance_arns(Some(
                    (start..end).map(|i| format!("ci-{i}")).collect(),
                ))
                .set_next_token(next(end, INSTANCES))
                .build()
        }),
        mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
            assert!(req.container_instances().len() <= 100);
            let mut out = DescribeContainerInstancesOutput::builder();
            for arn in req.container_instances() {
                let i: usize = arn.trim_start_matches("ci-").parse().unwrap();
                // 10 service tasks per host; the standalone ones on the first hosts.
                let running = 10 + i32::from(i < standalone);
                out = out.container_instances(
                    ContainerInstance::builder()
                        .container_instance_arn(arn)
                        .status("ACTIVE")
                        .agent_connected(true)
                        .running_tasks_count(running)
                        .pending_tasks_count(0)
                        .registered_resources(resource("CPU", 4096))
                        .registered_resources(resource("MEMORY", 16384))
                        .remaining_resources(resource("CPU", 1536))
                        .remaining_resources(resource("MEMORY", 11264))
                        .build(),
                );
            }
            out.build()
        }),
        mock!(aws_sdk_ecs::Client::list_services).then_compute_output(|req| {
            // ListServices pages by 10 unless asked for up to 100.
            let (start, end) = page(req.next_token(), req.max_results(), 10, SERVICES);
            ListServicesOutput::builder()
                .set_service_arns(Some((start..end).map(|i| format!("svc-{i}")).collect()))
                .set_next_token(next(end, SERVICES))
                .build()
        }),
        mock!(aws_sdk_ecs::Client::describe_services).then_compute_output(|req| {
            assert!(req.services().len() <= 10);
            let mut out = DescribeServicesOutput::builder();
            for arn in req.services() {
                let td = arn.replace("svc-", "td-");
                out = out.services(
                    Service::builder()
                        .service_arn(arn)
                        .service_name(arn)
                        .status("ACTIVE")
                        .scheduling_strategy(SchedulingStrategy::Replica)
                        .task_definition(&td)
                        .deployments(
                            Deployment::builder()
                                .status("PRIMARY")
                                .task_definition(&td)
                                .desired_count(TASKS_PER_SERVICE as i32)
                                .running_count(TASKS_PER_SERVICE as i32)
                                .pending_count(0)
                                .build(),
                        )
                        .build(),
                );
            }
            out.build()
        }),
        mock!(aws_sdk_ecs::Client::list_tasks).then_compute_output(move |req| {
            let (start, end) = page(req.next_token(), req.max_results(), 100, tasks);
            ListTasksOutput::builder()
                .set_task_arns(Some((start..end).map(|i| format!("task-{i}")).collect()))
                .set_next_token(next(end, tasks))
                .build()
        }),
        mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(|req| {
            assert!(req.tasks().len() <= 100);
            let mut out = DescribeTasksOutput::builder();
            for arn in req.tasks() {
                let i: usize = arn.trim_start_matches("task-").parse().unwrap();
                let td = format!("td-{}", (i / TASKS_PER_SERVICE).min(SERVICES));
                out = out.tasks(
                    Task::builder()
                        .task_arn(arn)
                        .task_definition_arn(td)
                        .build(),
                );
            }
            out.build()
        }),
        mock!(aws_sdk_ecs::Client::describe_task_definition).then_compute_output(|req| {
            let arn = req.task_definition().unwrap_or_default().to_owned();
            DescribeTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .task_definition_arn(arn)
                        .container_definitions(
                            ContainerDefinition::builder()
                                .name("app")
                                .cpu(256)
                                .memory(512)
                                .build(),
                        )
                        .build(),
                )
                .build()
        }),
    ]
}

/// One measured read: calls per operation and elapsed (paused) time.
#[derive(Debug)]
struct Measured {
    calls: usize,
    by_operation: Vec<(String, usize)>,
    elapsed: Duration,
    tasks_listed: bool,
}

struct Cluster {
    reader: EcsReader,
    cache: TaskShapeCache<EcsReader>,
    wire: Arc<Mutex<Wire>>,
}

fn cluster(standalone: usize, limits: bool) -> Cluster {
    let wire = Arc::new(Mutex::new(Wire {
        limits,
        ..Wire::default()
    }));
    let rules = rules(standalone);
    let rule_refs: Vec<&Rule> = rules.iter().collect();
    let paced = Paced {
        inner: aws_smithy_mocks::create_mock_http_client(),
        wire: wire.clone(),
    };
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rule_refs, |b| b
        .http_client(paced.clone()));
    let reader = EcsReader::new(client);
    Cluster {
        cache: TaskShapeCache::new(reader.clone()),
        reader,
        wire,
    }
}

impl Cluster {
    async fn read(&self, worst_case: Option<WorstCase>) -> Measured {
        {
            let mut wire = self.wire.lock().unwrap();
            wire.calls.clear();
            wire.buckets.clear(); // each read starts with full buckets
        }
        let start = Instant::now();
        let snapshot = snapshot(&self.reader, &self.cache, CLUSTER, worst_case)
            .await
            .expect("read");
        let elapsed = start.elapsed();
        assert_eq!(snapshot.instances.len(), INSTANCES);
        assert_eq!(snapshot.services, SERVICES);
        let wire = self.wire.lock().unwrap();
        let mut by_operation: Vec<(String, usize)> =
            wire.calls.iter().map(|(k, v)| (k.clone(), *v)).collect();
        by_operation.sort();
        Measured {
            calls: by_operation.iter().map(|(_, n)| n).sum(),
            by_operation,
            elapsed,
            tasks_listed: snapshot.tasks_listed,
        }
    }
}

fn report(what: &str, latency_only: &Measured, limited: &Measured) {
    assert_eq!(latency_only.by_operation, limited.by_operation);
    println!(
        "{what}: {} calls, {:.1} s at 50 ms per call, {:.1} s within ECS's rate limits; {:?}",
        limited.calls,
        latency_only.elapsed.as_secs_f64(),
        limited.elapsed.as_secs_f64(),
        limited.by_operation
    );
}

fn calls(m: &Measured, operation: &str) -> usize {
    m.by_operation
        .iter()
        .find(|(op, _)| op == operation)
        .map_or(0, |(_, n)| *n)
}

#[tokio::test(start_paused = true)]
async fn a_cold_read_with_the_worst_case_configured_is_instances_plus_services() {
    let worst = || Some(WorstCase::cpu_memory(1024, 2048).unwrap());
    let free = cluster(0, false).read(worst()).await;
    let limited = cluster(0, true).read(worst()).await;
    report("configured worst case, cold", &free, &limited);
    // 2·⌈N/100⌉ instance calls plus ⌈S/100⌉ + ⌈S/10⌉ service calls; nothing waits, so no
    // task definition is described.
    assert_eq!(
        limited.calls,
        2 * INSTANCES / 100 + SERVICES / 100 + SERVICES / 10
    );
    assert!(!limited.tasks_listed);
    assert!(limited.elapsed < Duration::from_secs(10), "{limited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cold_read_with_discovery_lists_the_tasks_once_then_the_services_account_for_them() {
    let free = cluster(0, false).read(None).await;
    let limited = cluster(0, true);
    let cold = limited.read(None).await;
    report("discovered worst case, cold process", &free, &cold);
    // Equal task totals do not prove there is no standalone task: a process lists them once.
    assert!(cold.tasks_listed);
    let pages = (SERVICES * TASKS_PER_SERVICE).div_ceil(100);
    assert_eq!(calls(&cold, "ListTasks"), pages);
    // One DescribeTaskDefinition per revision, once per process: 1,000 of them need
    // (1,000 − 50) / 20 = 47.5 s of refill, concurrent with the instance, service and task
    // reads (1,100 + 110 calls on their own buckets).
    assert_eq!(calls(&cold, "DescribeTaskDefinition"), SERVICES);
    assert!(cold.elapsed >= Duration::from_secs_f64(47.5), "{cold:?}");

    // The next full read of the same process (every CLUSTER_REFRESH_SECONDS), within
    // TASK_LISTING_MAX_AGE of the listing: the totals agree, the listing stands in.
    let free_warm = {
        let c = cluster(0, false);
        c.read(None).await;
        c.read(None).await
    };
    let warm = limited.read(None).await;
    report("discovered worst case, warm process", &free_warm, &warm);
    assert!(!warm.tasks_listed);
    assert_eq!(calls(&warm, "ListTasks"), 0);
    assert_eq!(calls(&warm, "DescribeTaskDefinition"), 0);
    assert!(warm.elapsed < Duration::from_secs(10), "{warm:?}");

    // Past TASK_LISTING_MAX_AGE the tasks are listed again (only unseen ones described).
    tokio::time::advance(capacity_aws::cluster::TASK_LISTING_MAX_AGE).await;
    let later = limited.read(None).await;
    assert!(later.tasks_listed);
    assert_eq!(calls(&later, "ListTasks"), pages);
    assert_eq!(calls(&later, "DescribeTasks"), 0);
}

#[tokio::test(start_paused = true)]
async fn standalone_tasks_are_listed_and_only_unseen_ones_described() {
    let free = cluster(7, false).read(None).await;
    let limited = cluster(7, true);
    let cold = limited.read(None).await;
    report("discovered, 7 standalone tasks, cold process", &free, &cold);
    assert!(cold.tasks_listed);
    let pages = (SERVICES * TASKS_PER_SERVICE + 7).div_ceil(100);
    assert_eq!(calls(&cold, "ListTasks"), pages);
    assert_eq!(calls(&cold, "DescribeTasks"), pages);

    let free_warm = {
        let c = cluster(7, false);
        c.read(None).await;
        c.read(None).await
    };
    let warm = limited.read(None).await;
    report(
        "discovered, 7 standalone tasks, warm process",
        &free_warm,
        &warm,
    );
    // Every task was seen by the first read: listed again, described never.
    assert_eq!(calls(&warm, "ListTasks"), pages);
    assert_eq!(calls(&warm, "DescribeTasks"), 0);
    assert_eq!(
        limited.reader.known_tasks(),
        SERVICES * TASKS_PER_SERVICE + 7
    );
}
