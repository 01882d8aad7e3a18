//! `HEADROOM_TASK`: the figures counted in a service's task or a CPU/MEMORY shape instead of the
//! worst case, on a cluster whose worst case is a rare 4-vCPU job; a service the reading does
//! not show keeps the worst case, and the log says why.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};

use capacity_aws::fake::{FakeCluster, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_calculator::{Config, Deps, Summary, handle};
use capacity_core::{ContainerDefinition, ContainerInstance, Resources, TaskDefinition};
use lambda_runtime::tracing::subscriber;
use serde_json::{Value, json};

const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const WEB: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3";
const JOB: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/nightly-report:1";

fn scheduled() -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2027-01-15T08:00:00Z", "region": "eu-west-1",
        "resources": [], "detail": {}
    })
}

fn definition(arn: &str, cpu: u32, memory: u32) -> TaskDefinition {
    TaskDefinition {
        name: arn.into(),
        containers: vec![ContainerDefinition {
            name: "app".into(),
            cpu,
            memory: Some(memory),
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    }
}

/// One host of 8 vCPU / 16 GiB running the nightly job (4096 / 8192, started by RunTask: the
/// worst case) and two tasks of service web (512 / 1024): 3072 CPU units and 6144 MiB left,
/// room for no worst-case task but for six web tasks.
fn cluster() -> FakeCluster {
    FakeCluster {
        instances: vec![ContainerInstance::active(
            "ci-1",
            Resources::new(8192, 16384),
            Resources::new(3072, 6144),
        )],
        tasks_by_instance: HashMap::from([(
            "ci-1".to_owned(),
            vec![JOB.to_owned(), WEB.to_owned(), WEB.to_owned()],
        )]),
        standalone: HashMap::from([("ci-1".to_owned(), vec![JOB.to_owned()])]),
        services: vec![Service {
            name: "web".into(),
            daemon: false,
            task_definition: Some(WEB.into()),
            deployments: vec![Deployment {
                task_definition: WEB.into(),
                primary: true,
                desired: 2,
                running: 2,
                pending: 0,
                on_ec2: true,
            }],
            placement: Default::default(),
        }],
        in_use: BTreeSet::from([WEB.to_owned(), JOB.to_owned()]),
        task_definitions: HashMap::from([
            (WEB.to_owned(), definition(WEB, 512, 1024)),
            (JOB.to_owned(), definition(JOB, 4096, 8192)),
        ]),
        ..FakeCluster::default()
    }
}

fn deps(fake: FakeCluster, vars: &[(&str, &str)]) -> Deps<FakeCluster, FakeCluster, FakeMetrics> {
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
    Deps::new(fake, definitions, FakeMetrics::default(), config)
}

async fn run(deps: &Deps<FakeCluster, FakeCluster, FakeMetrics>) -> Summary {
    handle(scheduled(), deps)
        .await
        .expect("handled")
        .published()
        .expect("published")
}

/// The cluster's ContainerCapacity as published.
fn container_capacity(deps: &Deps<FakeCluster, FakeCluster, FakeMetrics>) -> f64 {
    let calls = deps.metrics.calls();
    let (_, metrics) = calls.last().expect("published");
    metrics
        .iter()
        .find(|m| m.name == "ContainerCapacity" && m.dimensions.len() == 1)
        .expect("ContainerCapacity")
        .value
}

#[tokio::test]
async fn without_a_headroom_task_the_rare_job_is_the_unit_and_nothing_fits() {
    let deps = deps(cluster(), &[]);
    let summary = run(&deps).await;
    assert_eq!(
        (summary.worst_case.cpu, summary.worst_case.memory_mib),
        (4096, 8192)
    );
    assert_eq!(
        summary.worst_case_source,
        "discovered from 2 task definition(s)"
    );
    assert_eq!(container_capacity(&deps), 0.0);
    assert_eq!(
        summary.assessment.hosts_to_add, 1,
        "a host kept free for the job"
    );
}

#[tokio::test]
async fn counted_in_the_web_service_s_task_container_capacity_is_web_tasks() {
    let deps = deps(cluster(), &[("HEADROOM_TASK", "service:web")]);
    let summary = run(&deps).await;
    assert_eq!(
        (summary.worst_case.cpu, summary.worst_case.memory_mib),
        (512, 1024)
    );
    assert_eq!(summary.worst_case_source, "headroom task service:web");
    // 3072 / 512 = 6 and 6144 / 1024 = 6.
    assert_eq!(container_capacity(&deps), 6.0);
    assert_eq!(summary.assessment.container_capacity, 6);
    assert_eq!(summary.assessment.hosts_to_add, 0);
}

#[tokio::test]
async fn a_cpu_memory_shape_is_the_unit_even_with_a_configured_worst_case() {
    let deps = deps(cluster(), &[("HEADROOM_TASK", "1024/2048")]);
    run(&deps).await;
    // 3072 / 1024 = 3 and 6144 / 2048 = 3.
    assert_eq!(container_capacity(&deps), 3.0);

    let configured = self::deps(
        cluster(),
        &[
            ("HEADROOM_TASK", "1024/2048"),
            ("CONTAINER_MAX_CPU", "4096"),
            ("CONTAINER_MAX_MEMORY", "8192"),
        ],
    );
    let summary = run(&configured).await;
    assert_eq!(summary.worst_case_source, "headroom task 1024/2048");
    assert_eq!(container_capacity(&configured), 3.0);
}

/// A `Write` into a buffer the test reads afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_service_the_reading_does_not_show_keeps_the_worst_case_and_logs_why() {
    let log = Captured::default();
    let writer = log.clone();
    let _logging = tracing::subscriber::set_default(
        subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish(),
    );
    let deps = deps(cluster(), &[("HEADROOM_TASK", "service:api")]);
    let summary = run(&deps).await;
    assert_eq!(
        (summary.worst_case.cpu, summary.worst_case.memory_mib),
        (4096, 8192)
    );
    assert_eq!(container_capacity(&deps), 0.0);
    assert!(
        summary.worst_case_source.starts_with(
            "discovered from 2 task definition(s) (headroom task service:api not applied: "
        ),
        "{}",
        summary.worst_case_source
    );

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let warning = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["level"] == "WARN" && line["fields"]["headroom_task"] == "service:api")
        .unwrap_or_else(|| panic!("no warning about the headroom task in {text}"));
    assert_eq!(warning["fields"]["cluster"], "prod");
    let reason = warning["fields"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no task of service api"), "{reason}");
}
