//! Reading a cluster: its container instances and the task definitions it uses.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_ecs::types::DesiredStatus;
use capacity_core::{ContainerInstance, TaskDefinition, TaskShape, WorstCase};
use futures::{StreamExt, TryStreamExt, stream};

use crate::{Error, convert};

/// AWS limit: DescribeContainerInstances takes at most 100 ARNs.
pub const DESCRIBE_INSTANCES_BATCH: usize = 100;
/// AWS limit: DescribeTasks takes at most 100 ARNs.
pub const DESCRIBE_TASKS_BATCH: usize = 100;
/// AWS limit: DescribeServices takes at most 10 services.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// Describe calls in flight at once: enough to read 5,000 instances in a few round trips,
/// few enough to stay far below ECS's describe throttling (bursts of 50+).
pub const DESCRIBE_CONCURRENCY: usize = 8;

/// Reads the state of a cluster.
pub trait ClusterReader: Send + Sync {
    /// Every container instance of `cluster` (name or ARN), whatever its status. Fails
    /// rather than return a partial list.
    fn container_instances(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, Error>> + Send;

    /// The ARNs of the task definitions the cluster must be able to place: those of every
    /// deployment of its ACTIVE services, and those of its running tasks.
    fn task_definitions_in_use(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<BTreeSet<String>, Error>> + Send;
}

/// Reads task definitions by ARN.
pub trait TaskDefinitionReader: Send + Sync {
    /// The task definition `arn` (a revision: immutable once registered).
    fn task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<TaskDefinition, Error>> + Send;
}

/// [`ClusterReader`] and [`TaskDefinitionReader`] on the ECS SDK client.
#[derive(Debug, Clone)]
pub struct EcsReader {
    client: aws_sdk_ecs::Client,
}

impl EcsReader {
    pub fn new(client: aws_sdk_ecs::Client) -> EcsReader {
        EcsReader { client }
    }

    /// Reads a whole snapshot of `cluster` for a report; see [`snapshot`].
    pub async fn snapshot(
        &self,
        cluster: &str,
        worst_case_override: Option<WorstCase>,
    ) -> Result<ClusterSnapshot, Error> {
        snapshot(
            self,
            &TaskShapeCache::new(self.clone()),
            cluster,
            worst_case_override,
        )
        .await
    }
}

impl ClusterReader for EcsReader {
    async fn container_instances(&self, cluster: &str) -> Result<Vec<ContainerInstance>, Error> {
        let arns: Vec<String> = self
            .client
            .list_container_instances()
            .cluster(cluster)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("ListContainerInstances", cluster, e))?;
        in_batches(&arns, DESCRIBE_INSTANCES_BATCH, |batch| {
            self.describe_instances(cluster, batch)
        })
        .await
    }

    async fn task_definitions_in_use(&self, cluster: &str) -> Result<BTreeSet<String>, Error> {
        let (from_services, from_tasks) = futures::try_join!(
            self.service_task_definitions(cluster),
            self.running_task_definitions(cluster)
        )?;
        Ok(from_services.into_iter().chain(from_tasks).collect())
    }
}

impl EcsReader {
    async fn describe_instances(
        &self,
        cluster: &str,
        batch: Vec<String>,
    ) -> Result<Vec<ContainerInstance>, Error> {
        const OP: &str = "DescribeContainerInstances";
        let out = self
            .client
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(batch))
            .send()
            .await
            .map_err(|e| Error::aws(OP, cluster, e))?;
        check_failures(OP, cluster, out.failures())?;
        out.container_instances()
            .iter()
            .map(convert::container_instance)
            .collect()
    }

    async fn service_task_definitions(&self, cluster: &str) -> Result<Vec<String>, Error> {
        const OP: &str = "DescribeServices";
        let arns: Vec<String> = self
            .client
            .list_services()
            .cluster(cluster)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("ListServices", cluster, e))?;
        in_batches(&arns, DESCRIBE_SERVICES_BATCH, |batch| async move {
            let out = self
                .client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(batch))
                .send()
                .await
                .map_err(|e| Error::aws(OP, cluster, e))?;
            check_failures(OP, cluster, out.failures())?;
            let mut defs = Vec::new();
            for service in out.services() {
                if service.status() != Some("ACTIVE") {
                    continue;
                }
                defs.extend(service.task_definition().map(str::to_owned));
                defs.extend(
                    service
                        .deployments()
                        .iter()
                        .filter(|d| d.status() != Some("INACTIVE"))
                        .filter_map(|d| d.task_definition().map(str::to_owned)),
                );
            }
            Ok::<_, Error>(defs)
        })
        .await
    }

    async fn running_task_definitions(&self, cluster: &str) -> Result<Vec<String>, Error> {
        const OP: &str = "DescribeTasks";
        let arns: Vec<String> = self
            .client
            .list_tasks()
            .cluster(cluster)
            .desired_status(DesiredStatus::Running)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("ListTasks", cluster, e))?;
        in_batches(&arns, DESCRIBE_TASKS_BATCH, |batch| async move {
            let out = self
                .client
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(batch))
                .send()
                .await
                .map_err(|e| Error::aws(OP, cluster, e))?;
            check_failures(OP, cluster, out.failures())?;
            Ok::<_, Error>(
                out.tasks()
                    .iter()
                    .filter_map(|t| t.task_definition_arn().map(str::to_owned))
                    .collect::<Vec<_>>(),
            )
        })
        .await
    }
}

/// Calls `describe` on `arns` in batches of `size` (the API's limit), at most
/// [`DESCRIBE_CONCURRENCY`] at once, and concatenates the answers in order; the first
/// failure fails the whole read.
async fn in_batches<T, F, Fut>(arns: &[String], size: usize, describe: F) -> Result<Vec<T>, Error>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, Error>>,
{
    let per_batch: Vec<Vec<T>> = stream::iter(arns.chunks(size).map(<[String]>::to_vec))
        .map(describe)
        .buffered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(per_batch.into_iter().flatten().collect())
}

impl TaskDefinitionReader for EcsReader {
    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, Error> {
        let out = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| Error::aws("DescribeTaskDefinition", arn, e))?;
        let td = out.task_definition().ok_or_else(|| Error::MissingField {
            what: "task definition",
            id: arn.to_owned(),
            field: "taskDefinition",
        })?;
        convert::task_definition(td)
    }
}

/// ECS's `failures` lists entries it could not describe; any of them makes the read partial.
fn check_failures(
    operation: &'static str,
    cluster: &str,
    failures: &[aws_sdk_ecs::types::Failure],
) -> Result<(), Error> {
    if failures.is_empty() {
        return Ok(());
    }
    let failures = failures
        .iter()
        .map(|f| {
            format!(
                "{} ({})",
                f.arn().unwrap_or("?"),
                f.reason().or(f.detail()).unwrap_or("no reason")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::PartialRead {
        operation,
        cluster: cluster.to_owned(),
        failures,
    })
}

/// Task shapes by task-definition ARN, kept across warm invocations: a revision never
/// changes once registered, so each is described once per process.
#[derive(Debug)]
pub struct TaskShapeCache<R> {
    reader: R,
    shapes: Arc<Mutex<HashMap<String, TaskShape>>>,
}

impl<R: TaskDefinitionReader> TaskShapeCache<R> {
    pub fn new(reader: R) -> TaskShapeCache<R> {
        TaskShapeCache {
            reader,
            shapes: Arc::default(),
        }
    }

    /// The shapes of `arns`, describing only those not seen before (concurrently, bounded).
    pub async fn shapes(&self, arns: &BTreeSet<String>) -> Result<Vec<TaskShape>, Error> {
        let missing: Vec<&String> = {
            let cache = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
            arns.iter().filter(|a| !cache.contains_key(*a)).collect()
        };
        let fetched: Vec<(String, TaskShape)> = stream::iter(missing)
            .map(|arn| async move {
                let def = self.reader.task_definition(arn).await?;
                let shape = TaskShape::from_definition(&def)?;
                Ok::<_, Error>((arn.clone(), shape))
            })
            .buffered(DESCRIBE_CONCURRENCY)
            .try_collect()
            .await?;
        let mut cache = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        cache.extend(fetched);
        Ok(arns.iter().filter_map(|a| cache.get(a).cloned()).collect())
    }

    /// The reader behind the cache.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// How many task definitions are cached.
    pub fn len(&self) -> usize {
        self.shapes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a report needs of a cluster, read in one go.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSnapshot {
    pub cluster_name: String,
    pub instances: Vec<ContainerInstance>,
    /// The shapes discovered from the cluster (empty when a worst case was given).
    pub task_shapes: Vec<TaskShape>,
    pub worst_case: WorstCase,
}

/// The worst case of `cluster`: `given` when set, else discovered from the task
/// definitions in use (through `cache`). Returns the shapes it was taken from.
pub async fn worst_case<C, T>(
    reader: &C,
    cache: &TaskShapeCache<T>,
    cluster: &str,
    given: Option<WorstCase>,
) -> Result<(WorstCase, Vec<TaskShape>), Error>
where
    C: ClusterReader,
    T: TaskDefinitionReader,
{
    if let Some(worst) = given {
        return Ok((worst, Vec::new()));
    }
    let arns = reader.task_definitions_in_use(cluster).await?;
    if arns.is_empty() {
        return Err(Error::NoTaskDefinitions {
            cluster: cluster.to_owned(),
        });
    }
    let shapes = cache.shapes(&arns).await?;
    Ok((WorstCase::of(&shapes)?, shapes))
}

/// Reads the container instances and the worst case of `cluster` concurrently.
pub async fn snapshot<C, T>(
    reader: &C,
    cache: &TaskShapeCache<T>,
    cluster: &str,
    given: Option<WorstCase>,
) -> Result<ClusterSnapshot, Error>
where
    C: ClusterReader,
    T: TaskDefinitionReader,
{
    let (instances, (worst_case, task_shapes)) = futures::try_join!(
        reader.container_instances(cluster),
        worst_case(reader, cache, cluster, given)
    )?;
    Ok(ClusterSnapshot {
        cluster_name: cluster_name(cluster).to_owned(),
        instances,
        task_shapes,
        worst_case,
    })
}

/// The cluster's name from its name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster
        .rsplit_once(":cluster/")
        .map_or(cluster, |(_, name)| name)
}
