//! The world both consolidation tests against moto start from: the cluster `prod` of hosts of
//! 4096 CPU units / 8192 MiB (8 slots of the 512 / 1024 `web` task), some running tasks of the
//! service `web` (group `service:web`, as ECS's scheduler starts them: tasks ECS moves off a
//! DRAINING host), all in the Auto Scaling group `prod-hosts` (minimum 0); the calculator wired
//! to it through the real SDK clients.

#![allow(dead_code)] // each test binary uses its part

use capacity_aws::attributes::EcsAttributes;
use capacity_aws::capacity_provider::EcsCapacityProviders;
use capacity_aws::group::AsgGroupReader;
use capacity_aws::{CloudWatchPublisher, EcsReader};
use capacity_calculator::{Config, Deps, Summary, handle};
use moto_harness::MotoServer;
use moto_harness::ecs::{container, register_task_definition, start_service_task};
use serde_json::{Value, json};

pub const CLUSTER: &str = "prod";
pub const CLUSTER_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
pub const GROUP: &str = "prod-hosts";
pub const NAMESPACE: &str = "ECS/ClusterCapacity";

/// The calculator on the SDK clients, as `main.rs` wires it.
pub type MotoDeps = Deps<
    EcsReader,
    EcsReader,
    CloudWatchPublisher,
    AsgGroupReader,
    EcsAttributes,
    EcsCapacityProviders,
>;

/// The calculator's scheduled event.
pub fn scheduled() -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2027-01-15T08:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}
    })
}

pub struct World {
    pub moto: MotoServer,
    pub sdk: aws_config::SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub asg: aws_sdk_autoscaling::Client,
    /// The group's ARN.
    pub group_arn: String,
    /// `(container instance ARN, EC2 instance id)`, one per entry of `tasks`.
    pub hosts: Vec<(String, String)>,
}

/// One host per entry of `tasks`, running that many `web` tasks; `protected`: the group's
/// new instances protected from scale in (as managed termination protection wants).
pub async fn world(tasks: &[usize], protected: bool) -> World {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = moto.ecs_cluster(CLUSTER).await;
    // Tasks stay RUNNING however often they are described (moto moves them on by default).
    moto.post(
        "/_harness/state-transition",
        &json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}),
    );
    let hosts = moto.add_hosts(CLUSTER, tasks.len(), 4096, 8192);
    let web =
        register_task_definition(&ecs, "web", container("web", Some(512), 1024).build()).await;
    let total: usize = tasks.iter().sum();
    moto.service(&ecs, CLUSTER, "web", &web, total as u32, false)
        .await;
    for ((arn, _), n) in hosts.iter().zip(tasks) {
        for _ in 0..*n {
            start_service_task(&ecs, CLUSTER, &web, arn, "web").await;
        }
    }
    let ec2: Vec<String> = hosts.iter().map(|(_, ec2)| ec2.clone()).collect();
    let (asg, group_arn) = moto_harness::autoscaling::group_of(&sdk, GROUP, &ec2, protected).await;
    World {
        moto,
        sdk,
        ecs,
        asg,
        group_arn,
        hosts,
    }
}

/// The group [`GROUP`] spanning `zones` with the EC2 instances `instance_ids`
/// ([`moto_harness::autoscaling::group_in_zones`]).
pub async fn group_in_zones(
    sdk: &aws_config::SdkConfig,
    instance_ids: &[String],
    zones: &[&str],
    protected: bool,
) -> (aws_sdk_autoscaling::Client, String) {
    moto_harness::autoscaling::group_in_zones(sdk, GROUP, instance_ids, zones, protected).await
}

impl World {
    /// Puts the group behind the capacity provider `name` (managed scaling on at target 100,
    /// managed termination protection as given) and makes it the cluster's only one.
    pub async fn with_capacity_provider(&self, name: &str, termination_protection: bool) {
        use aws_sdk_ecs::types::{
            AutoScalingGroupProvider, ManagedScaling, ManagedScalingStatus,
            ManagedTerminationProtection,
        };
        self.ecs
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(
                AutoScalingGroupProvider::builder()
                    .auto_scaling_group_arn(&self.group_arn)
                    .managed_scaling(
                        ManagedScaling::builder()
                            .status(ManagedScalingStatus::Enabled)
                            .target_capacity(100)
                            .build(),
                    )
                    .managed_termination_protection(if termination_protection {
                        ManagedTerminationProtection::Enabled
                    } else {
                        ManagedTerminationProtection::Disabled
                    })
                    .build()
                    .expect("provider"),
            )
            .send()
            .await
            .expect("capacity provider");
        self.ecs
            .put_cluster_capacity_providers()
            .cluster(CLUSTER)
            .capacity_providers(name)
            .set_default_capacity_provider_strategy(Some(vec![]))
            .send()
            .await
            .expect("the cluster's capacity providers");
    }

    /// The `group` of every task ECS (moto) lists on the container instance `host`
    /// (`service:<name>` for a service's task, `family:<family>` by default for RunTask and
    /// StartTask), sorted.
    pub async fn task_groups_on(&self, host: &str) -> Vec<String> {
        let arns = self
            .ecs
            .list_tasks()
            .cluster(CLUSTER)
            .container_instance(host)
            .send()
            .await
            .expect("list tasks")
            .task_arns()
            .to_vec();
        if arns.is_empty() {
            return Vec::new();
        }
        let mut groups: Vec<String> = self
            .ecs
            .describe_tasks()
            .cluster(CLUSTER)
            .set_tasks(Some(arns))
            .send()
            .await
            .expect("describe tasks")
            .tasks()
            .iter()
            .map(|t| t.group().unwrap_or_default().to_owned())
            .collect();
        groups.sort();
        groups
    }

    /// The calculator with `ECS_CLUSTER`, `AUTO_SCALING_GROUP_NAME`, no stability window and
    /// a fresh read each run, plus `vars` (which win).
    pub fn calculator(&self, vars: &[(&str, &str)]) -> MotoDeps {
        calculator_on(&self.sdk, &self.ecs, vars)
    }

    /// Each host's status and the value of its attribute `name`, as ECS (moto) describes them.
    pub async fn hosts_with(&self, name: &str) -> Vec<(String, Option<String>)> {
        let out = self
            .ecs
            .describe_container_instances()
            .cluster(CLUSTER)
            .set_container_instances(Some(self.hosts.iter().map(|(a, _)| a.clone()).collect()))
            .send()
            .await
            .expect("describe");
        self.hosts
            .iter()
            .map(|(arn, _)| {
                let ci = out
                    .container_instances()
                    .iter()
                    .find(|ci| ci.container_instance_arn() == Some(arn))
                    .expect("described");
                (
                    ci.status().unwrap_or_default().to_owned(),
                    ci.attributes()
                        .iter()
                        .find(|a| a.name() == name)
                        .map(|a| a.value().unwrap_or_default().to_owned()),
                )
            })
            .collect()
    }

    /// Every value of the calculator's metric `name` moto received, in order.
    pub fn published(&self, name: &str) -> Vec<f64> {
        self.moto
            .metrics(NAMESPACE)
            .iter()
            .filter(|m| m["name"] == name && m["dimensions"] == json!({"ClusterName": CLUSTER}))
            .filter_map(|m| m["value"].as_f64())
            .collect()
    }
}

/// The calculator on the SDK clients of `sdk`, as `main.rs` wires it (without the group's
/// instance types: add them with `Deps::with_instance_types`), with `ECS_CLUSTER`,
/// `AUTO_SCALING_GROUP_NAME`, no stability window and a fresh read each run, plus `vars`
/// (which win).
pub fn calculator_on(
    sdk: &aws_config::SdkConfig,
    ecs: &aws_sdk_ecs::Client,
    vars: &[(&str, &str)],
) -> MotoDeps {
    let config = Config::from_lookup(|k| {
        vars.iter()
            .chain(&[
                ("ECS_CLUSTER", CLUSTER_ARN),
                ("AUTO_SCALING_GROUP_NAME", GROUP),
                ("CONSOLIDATION_STABILITY_SECONDS", "0"),
                ("CLUSTER_REFRESH_SECONDS", "0"),
            ])
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("config");
    let reader = EcsReader::new(ecs.clone());
    Deps::new(
        reader.clone(),
        reader,
        CloudWatchPublisher::new(aws_sdk_cloudwatch::Client::new(sdk)),
        config,
    )
    .with_group(
        AsgGroupReader::new(aws_sdk_autoscaling::Client::new(sdk)),
        EcsAttributes::new(ecs.clone()),
    )
    .with_capacity_providers(EcsCapacityProviders::new(ecs.clone()))
}

/// One run on `event`, which must publish.
pub async fn calculate<G, P, L>(
    event: Value,
    deps: &Deps<EcsReader, EcsReader, CloudWatchPublisher, G, EcsAttributes, P, L>,
) -> Summary
where
    G: capacity_aws::group::GroupReader,
    P: capacity_aws::capacity_provider::CapacityProviderOps,
    L: capacity_aws::InstanceTypeReader,
{
    handle(event, deps)
        .await
        .expect("handled")
        .published()
        .expect("published")
}
