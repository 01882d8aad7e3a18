//! The ECS set-up the tests against moto share: a cluster, hosts (container instances on
//! running EC2 instances, created through the harness API because moto's
//! RegisterContainerInstance needs a running EC2 instance and ignores `totalResources`),
//! task definitions, tasks started on a chosen host, a host deregistered.
//!
//! moto deducts a container's hard `memory` limit when it places a task (ECS deducts the
//! reservation), so the containers here have a hard limit only.

use aws_sdk_ecs::types::ContainerDefinition;
use aws_sdk_ecs::types::builders::ContainerDefinitionBuilder;
use serde_json::json;

use crate::MotoServer;

impl MotoServer {
    /// An ECS client on the emulator, and `cluster` created.
    pub async fn ecs_cluster(&self, cluster: &str) -> aws_sdk_ecs::Client {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk_config().await);
        create_cluster(&ecs, cluster).await;
        ecs
    }

    /// `count` empty hosts in `cluster`, each with `cpu` units and `memory` MiB registered
    /// and remaining. Returns `(container_instance_arn, ec2_instance_id)` pairs.
    pub fn add_hosts(
        &self,
        cluster: &str,
        count: usize,
        cpu: u32,
        memory: u32,
    ) -> Vec<(String, String)> {
        self.add_container_instances(
            cluster,
            count,
            &json!({
                "registered": {"CPU": cpu, "MEMORY": memory},
                "remaining": {"CPU": cpu, "MEMORY": memory},
            }),
        )
    }

    /// [`MotoServer::add_hosts`] in the Availability Zone `zone` (its EC2 instances placed
    /// there, so ECS's `ecs.availability-zone` attribute and the group say it).
    pub fn add_hosts_in(
        &self,
        cluster: &str,
        zone: &str,
        count: usize,
        cpu: u32,
        memory: u32,
    ) -> Vec<(String, String)> {
        self.add_container_instances(
            cluster,
            count,
            &json!({
                "registered": {"CPU": cpu, "MEMORY": memory},
                "remaining": {"CPU": cpu, "MEMORY": memory},
                "availability_zone": zone,
            }),
        )
    }

    /// Creates the service `name` of `task_definition` (a DAEMON service when `daemon`) and
    /// makes ECS (moto) report `running` of its tasks running, none waiting. moto starts no
    /// task for a service: start them with [`start_service_task`].
    pub async fn service(
        &self,
        ecs: &aws_sdk_ecs::Client,
        cluster: &str,
        name: &str,
        task_definition: &str,
        running: u32,
        daemon: bool,
    ) {
        let mut create = ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(task_definition);
        create = if daemon {
            create.scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        } else {
            create.desired_count(i32::try_from(running).unwrap_or(i32::MAX))
        };
        create.send().await.expect("create service");
        self.post(
            "/_harness/service-deployments",
            &json!({"cluster": cluster, "service": name, "deployments": [
                {"taskDefinition": task_definition, "desiredCount": running,
                 "runningCount": running, "pendingCount": 0}
            ]}),
        );
    }
}

/// Starts one task of the service `service` on the container instance `host`, as ECS's service
/// scheduler starts them: group `service:<service>` (what DescribeTasks says of a service's
/// task), started by its deployment. Returns its ARN.
pub async fn start_service_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task_definition: &str,
    host: &str,
    service: &str,
) -> String {
    ecs.start_task()
        .cluster(cluster)
        .task_definition(task_definition)
        .container_instances(host)
        .group(format!("service:{service}"))
        .started_by("ecs-svc/1234567890123456789")
        .send()
        .await
        .expect("start a service task")
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .expect("the started task's ARN")
        .to_owned()
}

/// One host of [`MotoServer::cluster_with_tasks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostWithTasks {
    pub container_instance_arn: String,
    pub ec2_instance_id: String,
    pub task_arns: Vec<String>,
}

impl MotoServer {
    /// Creates `cluster` with `hosts` container instances (as [`MotoServer::add_container_instances`]
    /// makes them by default), each running `tasks_per_host` tasks of the task definition
    /// `web` (256 CPU units, 512 MiB).
    pub async fn cluster_with_tasks(
        &self,
        ecs: &aws_sdk_ecs::Client,
        cluster: &str,
        hosts: usize,
        tasks_per_host: usize,
    ) -> Vec<HostWithTasks> {
        create_cluster(ecs, cluster).await;
        let instances = self.add_container_instances(cluster, hosts, &json!({}));
        let web =
            register_task_definition(ecs, "web", container("web", Some(256), 512).build()).await;
        let mut out = Vec::new();
        for (container_instance_arn, ec2_instance_id) in instances {
            let mut task_arns = Vec::new();
            for _ in 0..tasks_per_host {
                task_arns.push(start_task(ecs, cluster, &web, &container_instance_arn).await);
            }
            out.push(HostWithTasks {
                container_instance_arn,
                ec2_instance_id,
                task_arns,
            });
        }
        out
    }
}

/// Creates `cluster`.
pub async fn create_cluster(ecs: &aws_sdk_ecs::Client, cluster: &str) {
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .expect("create cluster");
}

/// A container `name` of image `nginx:latest` with `cpu` units (unset when `None`) and a hard
/// `memory` limit in MiB; the caller may add to it (port mappings, …).
pub fn container(name: &str, cpu: Option<i32>, memory: i32) -> ContainerDefinitionBuilder {
    ContainerDefinition::builder()
        .name(name)
        .image("nginx:latest")
        .set_cpu(cpu)
        .memory(memory)
}

/// Registers `family` with one `container`; returns the revision's ARN.
pub async fn register_task_definition(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    container: ContainerDefinition,
) -> String {
    ecs.register_task_definition()
        .family(family)
        .container_definitions(container)
        .send()
        .await
        .expect("register task definition")
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("task definition ARN")
        .to_owned()
}

/// Starts one task of `task_definition` on the container instance `host`; returns its ARN.
pub async fn start_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task_definition: &str,
    host: &str,
) -> String {
    ecs.start_task()
        .cluster(cluster)
        .task_definition(task_definition)
        .container_instances(host)
        .send()
        .await
        .expect("start task")
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .expect("the started task's ARN")
        .to_owned()
}

/// Runs `count` tasks of `task_definition` in `cluster` where ECS (moto) places them; panics
/// unless every one is placed.
pub async fn run_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task_definition: &str,
    count: i32,
) {
    let out = ecs
        .run_task()
        .cluster(cluster)
        .task_definition(task_definition)
        .count(count)
        .send()
        .await
        .expect("run task");
    assert_eq!(
        i32::try_from(out.tasks().len()).ok(),
        Some(count),
        "moto placed every task: {:?}",
        out.failures()
    );
}

/// Deregisters the container instance `host` (its EC2 instance keeps running), forced.
pub async fn deregister(ecs: &aws_sdk_ecs::Client, cluster: &str, host: &str) {
    ecs.deregister_container_instance()
        .cluster(cluster)
        .container_instance(host)
        .force(true)
        .send()
        .await
        .expect("deregister");
}
