//! Issue 27 end to end through the real SDK over HTTP, against the moto emulator: the
//! calculator reads the group's instance types (DescribeAutoScalingGroups,
//! DescribeLaunchTemplateVersions, DescribeInstanceTypes), sizes HostsToAdd on the type the
//! group launches — also with no host registered (scale from zero) — and publishes what
//! today's tasks strand on that type.
//!
//! moto serves every call; its DescribeInstanceTypes gives AWS's real sizes (m5.large 2 vCPU /
//! 8192 MiB, c5.xlarge 4 / 8192, m5.xlarge 4 / 16384). moto starts no task for a service:
//! the harness sets the services' deployment counts (what ECS reports waiting) and starts
//! their tasks with the `service:` group, as ECS's scheduler does.

mod moto_world;

use std::sync::Arc;

use aws_sdk_ecs::Client as Ecs;
use capacity_aws::clock::SystemClock;
use capacity_aws::instance_types::{Ec2InstanceTypes, GroupLaunchCache};
use moto_harness::MotoServer;
use moto_harness::autoscaling::{
    launch_template, launch_template_group, mixed_instances_group, template,
};
use moto_harness::ecs::{container, register_task_definition, start_service_task};
use moto_world::{CLUSTER, GROUP, MotoDeps, NAMESPACE, calculate, calculator_on, scheduled};
use serde_json::json;

struct Env {
    moto: MotoServer,
    sdk: aws_config::SdkConfig,
    ecs: Ecs,
}

async fn env() -> Env {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = moto.ecs_cluster(CLUSTER).await;
    Env { moto, sdk, ecs }
}

impl Env {
    /// The service `name` of one container of `cpu`/`memory`, with `desired` tasks of which
    /// `running` run (the rest wait, as DescribeServices reports them). Returns its task
    /// definition's ARN.
    async fn service(
        &self,
        name: &str,
        cpu: i32,
        memory: i32,
        desired: u32,
        running: u32,
    ) -> String {
        let arn =
            register_task_definition(&self.ecs, name, container("app", Some(cpu), memory).build())
                .await;
        self.ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(name)
            .task_definition(&arn)
            .desired_count(desired as i32)
            .send()
            .await
            .expect("create service");
        self.moto.post(
            "/_harness/service-deployments",
            &json!({"cluster": CLUSTER, "service": name, "deployments": [
                {"taskDefinition": arn, "desiredCount": desired,
                 "runningCount": running, "pendingCount": 0}
            ]}),
        );
        arn
    }

    /// The calculator wired as `main.rs` wires it, without the group's instance types (add
    /// them with [`Env::types`]).
    fn calculator(&self) -> MotoDeps {
        calculator_on(&self.sdk, &self.ecs, &[])
    }

    /// The group's instance types as `main.rs` reads them: cached per launch specification.
    fn types(&self) -> GroupLaunchCache<Ec2InstanceTypes> {
        GroupLaunchCache::new(
            Ec2InstanceTypes::from_conf(&self.sdk),
            Arc::new(SystemClock),
        )
    }

    fn published(&self, name: &str) -> Vec<f64> {
        self.moto
            .metrics(NAMESPACE)
            .iter()
            .filter(|m| m["name"] == name && m["dimensions"] == json!({"ClusterName": CLUSTER}))
            .filter_map(|m| m["value"].as_f64())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_with_no_instance_is_sized_on_its_launch_templates_type() {
    let e = env().await;
    launch_template(&e.sdk, "hosts", "m5.large").await;
    launch_template_group(&e.sdk, GROUP, template(None, Some("hosts"), "$Default")).await;
    // 3 tasks of 1 vCPU / 2 GiB wait; no container instance is registered.
    e.service("api", 1024, 2048, 3, 0).await;

    let summary = calculate(scheduled(), &e.calculator().with_instance_types(e.types())).await;
    // Two per m5.large (2 vCPU): two hosts, the second keeping the headroom of one task.
    assert_eq!(e.published("HostsToAdd"), [2.0]);
    assert_eq!(summary.assessment.hosts_to_add, 2);
    assert_eq!(
        summary.assessment.new_host_type.as_deref(),
        Some("m5.large")
    );
    assert!(
        summary
            .assessment
            .explanation
            .contains("2 new host(s) of m5.large"),
        "{}",
        summary.assessment.explanation
    );
    // The three waiting tasks on m5.large: no CPU stranded.
    assert_eq!(e.published("StrandedVcpu"), [0.0]);

    // Without the group's types the size is unknown: one host, the next run refines it.
    let blind = calculate(scheduled(), &e.calculator()).await;
    assert_eq!(blind.assessment.hosts_to_add, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_heavy_tasks_on_c5_xlarge_publish_the_cpu_they_strand() {
    let e = env().await;
    launch_template(&e.sdk, "hosts", "c5.xlarge").await;
    mixed_instances_group(
        &e.sdk,
        GROUP,
        template(None, Some("hosts"), "$Default"),
        &[("c5.xlarge", None), ("m5.xlarge", None)],
        None,
    )
    .await;
    // Three c5.xlarge hosts (registered 4096 CPU / 7418 MiB), each running one cache task of
    // 1 vCPU / 6 GiB: no second fits in the memory left, 3 vCPUs each are stranded.
    let hosts = e.moto.add_hosts(CLUSTER, 3, 4096, 7418);
    let arn = e.service("cache", 1024, 6144, 3, 3).await;
    for (host, _) in &hosts {
        start_service_task(&e.ecs, CLUSTER, &arn, host, "cache").await;
    }

    let summary = calculate(scheduled(), &e.calculator().with_instance_types(e.types())).await;
    let fit = summary.fit.expect("the fit on the launched type");
    assert_eq!(
        fit.instance_type, "c5.xlarge",
        "prioritized: the first override"
    );
    assert_eq!(fit.hosts, 3);
    assert_eq!(e.published("StrandedVcpu"), [9.0]);
    assert_eq!(e.published("StrandedMemoryGiB"), [0.0]);
}
