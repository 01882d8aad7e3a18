//! Reading a cluster: its container instances, its services and the task definitions it uses.
//!
//! # What a read costs
//!
//! ECS throttles per account and Region with token buckets ("Request throttling for the
//! Amazon ECS API", Amazon ECS API Reference): *cluster resource read actions*
//! (ListContainerInstances, DescribeContainerInstances, ListTasks, DescribeTasks) share one
//! bucket of 100 requests refilled at 20 per second; *service read actions* (ListServices,
//! DescribeServices) another of 100 at 20 per second; *task definition read actions*
//! (DescribeTaskDefinition) one of 50 at 20 per second. So a cluster of 5,000 instances and
//! 50,000 tasks cannot list its tasks in 10 s: 500 ListTasks pages alone need 20 s of refill.
//!
//! A read therefore lists the running tasks only when the services cannot account for them:
//! the instances' `runningTasksCount + pendingTasksCount` are compared with the services'
//! `runningCount + pendingCount` on EC2; when they agree, every task on the instances belongs
//! to a service, whose deployments already name its task definition, and ListTasks is
//! skipped. When they differ (a standalone RunTask task, or a change between the two reads),
//! the tasks are listed, and only tasks not seen by an earlier read are described: a task's
//! definition never changes, so [`EcsReader`] keeps task ARN → task definition across warm
//! invocations. With the worst case configured nothing of this runs: a read is
//! 2·⌈N/100⌉ instance calls plus the services (⌈S/100⌉ + ⌈S/10⌉ calls) plus a
//! DescribeTaskDefinition per revision with tasks waiting, once per process.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_ecs::types::DesiredStatus;
use capacity_core::{ContainerInstance, Demand, TaskDefinition, TaskShape, WorstCase};
use futures::{StreamExt, TryStreamExt, stream};

use crate::services::{self, Service};
use crate::{Error, convert};

/// AWS limit: DescribeContainerInstances takes at most 100 ARNs.
pub const DESCRIBE_INSTANCES_BATCH: usize = 100;
/// AWS limit: DescribeTasks takes at most 100 ARNs.
pub const DESCRIBE_TASKS_BATCH: usize = 100;
/// AWS limit: DescribeServices takes at most 10 services.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// AWS limit: the List* calls return at most 100 ARNs a page (ListServices defaults to 10).
pub const LIST_PAGE_SIZE: i32 = 100;
/// Describe calls in flight at once per kind: enough to read 5,000 instances in a few round
/// trips, few enough to stay within a bucket's burst of 100 (see the module documentation).
pub const DESCRIBE_CONCURRENCY: usize = 8;

/// The container instances of a cluster, as one read returned them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstancesRead {
    pub instances: Vec<ContainerInstance>,
    /// The tasks on them (Σ `runningTasksCount + pendingTasksCount`), when ECS reported it.
    pub tasks: Option<u64>,
}

/// Reads the state of a cluster.
pub trait ClusterReader: Send + Sync {
    /// Every container instance of `cluster` (name or ARN), whatever its status. Fails
    /// rather than return a partial list.
    fn container_instances(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<InstancesRead, Error>> + Send;

    /// Every ACTIVE service of `cluster`, with its scheduling strategy and deployments.
    /// Fails rather than return a partial list.
    fn services(&self, cluster: &str) -> impl Future<Output = Result<Vec<Service>, Error>> + Send;

    /// The ARNs of the task definitions of the cluster's running (and pending) tasks.
    fn running_task_definitions(
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

/// [`ClusterReader`] and [`TaskDefinitionReader`] on the ECS SDK client. Clones share the
/// task ARN → task definition cache.
#[derive(Debug, Clone)]
pub struct EcsReader {
    client: aws_sdk_ecs::Client,
    task_definitions_by_task: Arc<Mutex<HashMap<String, String>>>,
}

impl EcsReader {
    pub fn new(client: aws_sdk_ecs::Client) -> EcsReader {
        EcsReader {
            client,
            task_definitions_by_task: Arc::default(),
        }
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

    /// How many tasks' task definitions are remembered from earlier reads.
    pub fn known_tasks(&self) -> usize {
        self.task_definitions_by_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

impl ClusterReader for EcsReader {
    async fn container_instances(&self, cluster: &str) -> Result<InstancesRead, Error> {
        let arns: Vec<String> = self
            .client
            .list_container_instances()
            .cluster(cluster)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("ListContainerInstances", cluster, e))?;
        let described = in_batches(&arns, DESCRIBE_INSTANCES_BATCH, |batch| {
            self.describe_instances(cluster, batch)
        })
        .await?;
        let tasks = described.iter().map(|(_, tasks)| *tasks).sum();
        Ok(InstancesRead {
            instances: described.into_iter().map(|(ci, _)| ci).collect(),
            tasks,
        })
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, Error> {
        const OP: &str = "DescribeServices";
        let arns: Vec<String> = self
            .client
            .list_services()
            .cluster(cluster)
            .max_results(LIST_PAGE_SIZE)
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
            let mut services = Vec::new();
            for s in out.services() {
                services.extend(Service::from_sdk(s)?);
            }
            Ok::<_, Error>(services)
        })
        .await
    }

    async fn running_task_definitions(&self, cluster: &str) -> Result<BTreeSet<String>, Error> {
        const OP: &str = "DescribeTasks";
        let arns: Vec<String> = self
            .client
            .list_tasks()
            .cluster(cluster)
            .desired_status(DesiredStatus::Running)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("ListTasks", cluster, e))?;
        let unseen: Vec<String> = {
            let known = self
                .task_definitions_by_task
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            arns.iter()
                .filter(|a| !known.contains_key(*a))
                .cloned()
                .collect()
        };
        let described = in_batches(&unseen, DESCRIBE_TASKS_BATCH, |batch| async move {
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
                    .filter_map(|t| {
                        Some((
                            t.task_arn()?.to_owned(),
                            t.task_definition_arn()?.to_owned(),
                        ))
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
        let mut known = self
            .task_definitions_by_task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        known.extend(described);
        // Keep only the tasks still listed: the map never outgrows the cluster.
        let listed: std::collections::HashSet<&String> = arns.iter().collect();
        known.retain(|task, _| listed.contains(task));
        Ok(known.values().cloned().collect())
    }
}

impl EcsReader {
    async fn describe_instances(
        &self,
        cluster: &str,
        batch: Vec<String>,
    ) -> Result<Vec<(ContainerInstance, Option<u64>)>, Error> {
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
            .map(|ci| {
                // A negative count (never sent by ECS) leaves the total unknown: the read
                // then lists the tasks instead of trusting it.
                let tasks = u64::try_from(ci.running_tasks_count())
                    .ok()
                    .zip(u64::try_from(ci.pending_tasks_count()).ok())
                    .map(|(running, pending)| running + pending);
                Ok((convert::container_instance(ci)?, tasks))
            })
            .collect()
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
        let by_arn = self.shapes_by_arn(arns).await?;
        Ok(arns.iter().filter_map(|a| by_arn.get(a).cloned()).collect())
    }

    /// [`TaskShapeCache::shapes`] by task definition ARN.
    pub async fn shapes_by_arn(
        &self,
        arns: &BTreeSet<String>,
    ) -> Result<HashMap<String, TaskShape>, Error> {
        let missing: Vec<&String> = {
            let cache = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
            arns.iter().filter(|a| !cache.contains_key(*a)).collect()
        };
        // Each shape is kept as it arrives: a read that fails or times out half-way (1,000
        // revisions take 47.5 s of DescribeTaskDefinition refill) still spares the next one
        // what it described.
        stream::iter(missing)
            .map(|arn| async move {
                let def = self.reader.task_definition(arn).await?;
                let shape = TaskShape::from_definition(&def)?;
                self.shapes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(arn.clone(), shape);
                Ok::<_, Error>(())
            })
            .buffer_unordered(DESCRIBE_CONCURRENCY)
            .try_collect::<()>()
            .await?;
        let cache = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        Ok(arns
            .iter()
            .filter_map(|a| Some((a.clone(), cache.get(a)?.clone())))
            .collect())
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
    /// What waits for room and what every new host runs first, from the services.
    pub demand: Demand,
    /// ACTIVE services read.
    pub services: usize,
    /// Whether the running tasks were listed (worst case discovered and the services did not
    /// account for every task on the instances).
    pub tasks_listed: bool,
}

/// Reads `cluster` in one go: its container instances and its services (always, for the
/// [`Demand`]), concurrently; then, unless a worst case is `given`, the task definitions in
/// use — the services' deployments', and the running tasks' when the services do not account
/// for every task on the instances (see the module documentation). Shapes go through `cache`.
/// Any failed call fails the whole read.
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
    let (read, services) = futures::try_join!(
        reader.container_instances(cluster),
        reader.services(cluster)
    )?;
    let mut arns = services::demand_task_definitions(&services);
    let mut tasks_listed = false;
    let discovered = match given {
        Some(_) => None,
        None => {
            let mut in_use = services::task_definitions(&services);
            if read.tasks != Some(services::tasks_on_instances(&services)) {
                tasks_listed = true;
                in_use.extend(reader.running_task_definitions(cluster).await?);
            }
            if in_use.is_empty() {
                return Err(Error::NoTaskDefinitions {
                    cluster: cluster.to_owned(),
                });
            }
            arns.extend(in_use.iter().cloned());
            Some(in_use)
        }
    };
    let shapes = cache.shapes_by_arn(&arns).await?;
    let demand = services::demand(&services, &shapes)?;
    let (worst_case, task_shapes) = match (given, discovered) {
        (Some(worst), _) => (worst, Vec::new()),
        (None, in_use) => {
            let task_shapes: Vec<TaskShape> = in_use
                .iter()
                .flatten()
                .filter_map(|a| shapes.get(a).cloned())
                .collect();
            (WorstCase::of(&task_shapes)?, task_shapes)
        }
    };
    Ok(ClusterSnapshot {
        cluster_name: cluster_name(cluster).to_owned(),
        instances: read.instances,
        task_shapes,
        worst_case,
        demand,
        services: services.len(),
        tasks_listed,
    })
}

/// The cluster's name from its name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster
        .rsplit_once(":cluster/")
        .map_or(cluster, |(_, name)| name)
}
