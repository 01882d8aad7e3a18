//! The calculator end to end through the real SDK over HTTP, against the moto emulator
//! (tests/moto_server.py, started per test by `moto-harness`).
//!
//! moto's gaps (../shared/TOOLING.md) shape the set-up, not what is checked: container
//! instances are created through the harness API (moto's RegisterContainerInstance needs a
//! running EC2 instance and ignores `totalResources`), and PutMetricData, which the Rust SDK
//! sends as RPCv2-CBOR, is decoded by the harness into moto's own CloudWatch backend, from
//! which the published values are read back.

use aws_sdk_ecs::types::{ContainerInstanceStatus, PortMapping};
use capacity_aws::{CloudWatchPublisher, EcsReader};
use capacity_calculator::{Config, Deps, Summary, handle};
use moto_harness::MotoServer;
use moto_harness::ecs::{container, create_cluster, register_task_definition, run_tasks};
use serde_json::{Value, json};

const CLUSTER: &str = "todobackend-cluster";

fn event() -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "fixtures/book-ch12-container-instance-state-change.json"
    ))
    .expect("fixture is JSON");
    event["detail"]["clusterArn"] =
        format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}").into();
    event
}

struct Env {
    moto: MotoServer,
    ecs: aws_sdk_ecs::Client,
    sdk: aws_config::SdkConfig,
}

async fn env() -> Env {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    create_cluster(&ecs, CLUSTER).await;
    Env { moto, ecs, sdk }
}

impl Env {
    fn deps(&self, vars: &[(&str, &str)]) -> Deps<EcsReader, EcsReader, CloudWatchPublisher> {
        let config = Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .expect("valid config");
        let reader = EcsReader::new(self.ecs.clone());
        let metrics = CloudWatchPublisher::new(aws_sdk_cloudwatch::Client::new(&self.sdk));
        Deps::new(reader.clone(), reader, metrics, config)
    }

    /// `count` hosts of 2048 CPU units / 4096 MiB, empty.
    fn hosts(&self, count: usize) -> Vec<(String, String)> {
        self.moto.add_hosts(CLUSTER, count, 2048, 4096)
    }

    /// Registers a task definition of one container with hard `memory` only (moto deducts
    /// the hard limit; ECS deducts the reservation, which we then leave unset).
    async fn task_definition(
        &self,
        family: &str,
        cpu: i32,
        memory: i32,
        host_port: Option<i32>,
    ) -> String {
        let mut container = container("app", Some(cpu), memory);
        if let Some(port) = host_port {
            container = container.port_mappings(
                PortMapping::builder()
                    .container_port(80)
                    .host_port(port)
                    .build(),
            );
        }
        register_task_definition(&self.ecs, family, container.build()).await
    }

    async fn run_tasks(&self, task_definition: &str, count: i32) {
        run_tasks(&self.ecs, CLUSTER, task_definition, count).await;
    }

    /// The last value published for `name` (dimension ClusterName only).
    fn published(&self, namespace: &str, name: &str) -> Vec<f64> {
        self.moto
            .metrics(namespace)
            .iter()
            .filter(|m| m["name"] == name && m["dimensions"] == json!({"ClusterName": CLUSTER}))
            .filter_map(|m| m["value"].as_f64())
            .collect()
    }

    fn resource_published(&self, namespace: &str, resource: &str) -> Vec<f64> {
        self.moto
            .metrics(namespace)
            .iter()
            .filter(|m| m["name"] == "ResourceCapacity" && m["dimensions"]["Resource"] == resource)
            .filter_map(|m| m["value"].as_f64())
            .collect()
    }
}

async fn run(env: &Env, vars: &[(&str, &str)]) -> Summary {
    handle(event(), &env.deps(vars))
        .await
        .expect("handled")
        .published()
        .expect("published")
}

#[tokio::test(flavor = "multi_thread")]
async fn running_tasks_define_the_worst_case_and_the_published_metrics_read_back() {
    let env = env().await;
    env.hosts(3);
    let web = env.task_definition("web", 512, 1024, None).await;
    env.run_tasks(&web, 2).await;

    let summary = run(&env, &[]).await;

    // 3 hosts x min(2048/512, 4096/1024) = 12 slots, 2 taken by the running tasks.
    assert_eq!(summary.assessment.container_capacity, 10);
    assert_eq!(summary.assessment.largest_host_slots, 4);
    assert_eq!(summary.assessment.idle_host_capacity, 2.5);
    assert_eq!(
        summary.assessment.decision,
        capacity_core::ScaleDecision::ScaleIn { hosts: 1 }
    );
    assert_eq!(summary.worst_case.cpu, 512);
    assert_eq!(summary.worst_case.memory_mib, 1024);
    let ns = "ECS/ClusterCapacity";
    assert_eq!(env.published(ns, "ContainerCapacity"), vec![10.0]);
    assert_eq!(env.published(ns, "IdleHostCapacity"), vec![2.5]);
    assert_eq!(env.published(ns, "HostsToAdd"), vec![0.0]);
    assert_eq!(env.published(ns, "ActiveContainerInstances"), vec![3.0]);
    assert_eq!(env.resource_published(ns, "CPU"), vec![10.0]);
    assert_eq!(env.resource_published(ns, "MEMORY"), vec![10.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draining_instance_is_excluded() {
    let env = env().await;
    let hosts = env.hosts(3);
    env.ecs
        .update_container_instances_state()
        .cluster(CLUSTER)
        .container_instances(&hosts[0].0)
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("set DRAINING");

    let summary = run(
        &env,
        &[
            ("CONTAINER_MAX_CPU", "512"),
            ("CONTAINER_MAX_MEMORY", "1024"),
        ],
    )
    .await;

    assert_eq!(summary.instances, 3);
    assert_eq!(summary.assessment.counted_instances, 2);
    assert_eq!(summary.assessment.container_capacity, 8);
    assert_eq!(
        env.published("ECS/ClusterCapacity", "ContainerCapacity"),
        vec![8.0]
    );
    assert_eq!(
        env.published("ECS/ClusterCapacity", "ActiveContainerInstances"),
        vec![2.0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_task_definition_with_a_static_port_sets_the_worst_case() {
    let env = env().await;
    env.hosts(2);
    let small = env.task_definition("worker", 256, 512, None).await;
    env.run_tasks(&small, 1).await;
    let big = env.task_definition("api", 1024, 1024, Some(8080)).await;
    env.ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("api")
        .task_definition(&big)
        .desired_count(0)
        .send()
        .await
        .expect("create service");

    let summary = run(&env, &[("METRIC_NAMESPACE", "Test/Capacity")]).await;

    assert_eq!(
        summary.worst_case.cpu, 1024,
        "the service's task definition is the largest"
    );
    assert_eq!(summary.worst_case.memory_mib, 1024);
    assert_eq!(summary.worst_case.ports_tcp, [8080].into());
    assert_eq!(
        summary.worst_case_source,
        "discovered from 2 task definition(s)"
    );
    // A static port admits one task per host: 2 hosts, 1 slot each.
    assert_eq!(summary.assessment.container_capacity, 2);
    assert_eq!(summary.assessment.largest_host_slots, 1);
    assert_eq!(
        env.published("Test/Capacity", "ContainerCapacity"),
        vec![2.0]
    );
    assert!(
        env.published("ECS/ClusterCapacity", "ContainerCapacity")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_cluster_is_an_error_and_publishes_nothing() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let reader = EcsReader::new(aws_sdk_ecs::Client::new(&sdk));
    let metrics = CloudWatchPublisher::new(aws_sdk_cloudwatch::Client::new(&sdk));
    let config = Config::from_lookup(|_| None).expect("defaults");
    let deps = Deps::new(reader.clone(), reader, metrics, config);
    let err = handle(event(), &deps).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(moto.metrics("ECS/ClusterCapacity").is_empty());
}

mod waiting_tasks {
    //! Tasks that wait for room, end to end. moto reports every task of a new service as
    //! pending (desired = pending, running = 0), so it never shows a task ECS could not place;
    //! the harness (tests/moto_server.py, /_harness/service-deployments) sets a service's
    //! deployments to the counts ECS reports then. Everything else - ListServices,
    //! DescribeServices, the task definitions, PutMetricData with StorageResolution - goes
    //! through the real SDK and moto.

    use aws_sdk_ecs::types::SchedulingStrategy;

    use super::*;

    const NS: &str = "ECS/ClusterCapacity";

    /// `count` hosts of 2048 CPU / 4096 MiB with nothing left.
    fn full_hosts(env: &Env, count: usize) {
        env.moto.add_container_instances(
            CLUSTER,
            count,
            &json!({
                "registered": {"CPU": 2048, "MEMORY": 4096},
                "remaining": {"CPU": 0, "MEMORY": 0},
            }),
        );
    }

    async fn service(env: &Env, name: &str, task_definition: &str, daemon: bool) {
        let mut create = env
            .ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(name)
            .task_definition(task_definition);
        create = if daemon {
            create.scheduling_strategy(SchedulingStrategy::Daemon)
        } else {
            create.desired_count(1)
        };
        create.send().await.expect("create service");
    }

    /// Sets `service`'s deployments as ECS would report them: `(task definition, desired,
    /// running, pending)`, the first PRIMARY.
    fn deployments(env: &Env, service: &str, deployments: &[(&str, u32, u32, u32)]) {
        let deployments: Vec<Value> = deployments
            .iter()
            .map(|(td, desired, running, pending)| {
                json!({"taskDefinition": td, "desiredCount": desired,
                       "runningCount": running, "pendingCount": pending})
            })
            .collect();
        env.moto.post(
            "/_harness/service-deployments",
            &json!({"cluster": CLUSTER, "service": service, "deployments": deployments}),
        );
    }

    fn resolution(env: &Env, name: &str) -> Vec<i64> {
        env.moto
            .metrics(NS)
            .iter()
            .filter(|m| m["name"] == name)
            .filter_map(|m| m["storage_resolution"].as_i64())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn full_hosts_and_waiting_tasks_publish_hosts_to_add_and_unplaced_tasks() {
        let env = env().await;
        full_hosts(&env, 2);
        let web = env.task_definition("web", 512, 1024, None).await;
        service(&env, "web", &web, false).await;
        deployments(&env, "web", &[(&web, 10, 2, 0)]);

        let summary = run(&env, &[]).await;

        // 8 tasks of 512/1024 wait, 4 per empty host: 2 hosts, full; a third for the headroom.
        assert_eq!(summary.assessment.unplaced_tasks, 8);
        assert_eq!(summary.assessment.hosts_to_add, 3);
        assert_eq!(summary.assessment.unplaced[0].service, "web");
        assert_eq!(env.published(NS, "UnplacedTasks"), vec![8.0]);
        assert_eq!(env.published(NS, "HostsToAdd"), vec![3.0]);
        assert_eq!(env.published(NS, "ContainerCapacity"), vec![0.0]);
        // One PutMetricData: high-resolution and standard metrics side by side.
        assert_eq!(resolution(&env, "HostsToAdd"), vec![1]);
        assert_eq!(resolution(&env, "UnplacedTasks"), vec![1]);
        assert_eq!(resolution(&env, "ContainerCapacity"), vec![60]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_placement_failure_event_runs_the_same_computation() {
        let env = env().await;
        full_hosts(&env, 2);
        let web = env.task_definition("web", 512, 1024, None).await;
        service(&env, "web", &web, false).await;
        deployments(&env, "web", &[(&web, 6, 0, 0)]);
        let mut failure: Value = serde_json::from_str(include_str!(
            "fixtures/aws-docs-service-task-placement-failure.json"
        ))
        .expect("fixture is JSON");
        failure["detail"]["clusterArn"] =
            format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}").into();

        let summary = handle(failure, &env.deps(&[]))
            .await
            .expect("handled")
            .published()
            .expect("published");

        assert_eq!(
            summary.trigger,
            capacity_calculator::Trigger::PlacementFailure
        );
        assert_eq!(env.published(NS, "UnplacedTasks"), vec![6.0]);
        // 4 + 2 on two new hosts; the second keeps 2 slots for the headroom.
        assert_eq!(env.published(NS, "HostsToAdd"), vec![2.0]);

        // Another service action reads nothing and publishes nothing.
        let steady: Value =
            serde_json::from_str(include_str!("fixtures/aws-docs-service-steady-state.json"))
                .expect("fixture is JSON");
        let outcome = handle(steady, &env.deps(&[])).await.expect("handled");
        assert!(outcome.published().is_none());
        assert_eq!(env.published(NS, "UnplacedTasks").len(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_daemon_service_is_reserved_on_every_new_host() {
        let env = env().await;
        full_hosts(&env, 2);
        let agent = env.task_definition("agent", 512, 512, None).await;
        service(&env, "agent", &agent, true).await;
        deployments(&env, "agent", &[(&agent, 2, 2, 0)]);
        let web = env.task_definition("web", 512, 1024, None).await;
        service(&env, "web", &web, false).await;
        deployments(&env, "web", &[(&web, 6, 0, 0)]);

        let summary = run(&env, &[]).await;

        // Without the agent 4 web tasks fit a host: 2 hosts. With 512/512 reserved for it,
        // 3 fit: 2 hosts, both out of CPU, and a third for the headroom.
        assert_eq!(summary.assessment.unplaced_tasks, 6);
        assert_eq!(env.published(NS, "HostsToAdd"), vec![3.0]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_deployment_to_a_larger_revision_counts_its_own_shape() {
        let env = env().await;
        full_hosts(&env, 2);
        let old = env.task_definition("web", 512, 1024, None).await;
        let new = env.task_definition("web", 1024, 2048, None).await;
        service(&env, "web", &old, false).await;
        deployments(&env, "web", &[(&new, 4, 0, 0), (&old, 4, 4, 0)]);

        let summary = run(&env, &[]).await;

        let unplaced = &summary.assessment.unplaced;
        assert_eq!(unplaced.len(), 1);
        assert!(unplaced[0].shape.name.ends_with("web:2"), "{unplaced:?}");
        assert_eq!((unplaced[0].shape.cpu, unplaced[0].count), (1024, 4));
        // 2 of the new revision per host: 2 hosts, full; a third for the headroom. Counted in
        // the old shape, all 4 would fill one host: 2 hosts in all.
        assert_eq!(env.published(NS, "HostsToAdd"), vec![3.0]);
    }
}
