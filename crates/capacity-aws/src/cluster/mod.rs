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
//! A read therefore lists the running tasks only when it must. The instances'
//! `runningTasksCount + pendingTasksCount` are compared with the services' `runningCount +
//! pendingCount` on EC2. Equal totals do not prove that every task belongs to a service: a
//! standalone task that starts while a service task stops leaves them equal, and skipping its
//! shape would overstate the capacity (and could start a scale-in). So equal totals only let
//! the shapes of the *last* listing stand in for a new one, for at most
//! [`TASK_LISTING_MAX_AGE`] (5 minutes); a process that has not listed yet, a listing older
//! than that, or totals that differ, list the tasks. The kept shapes can only make the worst
//! case larger (a task listed then may have stopped since), never smaller; a standalone shape
//! started within the window is in the next listing. Only tasks not seen by an earlier read
//! are described: a task's definition never changes, so [`EcsReader`] keeps task ARN → task
//! definition across warm invocations. With the worst case configured nothing of this runs: a read is
//! 2·⌈N/100⌉ instance calls plus the services (⌈S/100⌉ + ⌈S/10⌉ calls) plus a
//! DescribeTaskDefinition per revision with tasks waiting, once per process.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use aws_sdk_ecs::types::DesiredStatus;
use capacity_core::{ContainerInstance, TaskDefinition, WorstCase};

use crate::batch::{self, Missing, check_answer, in_batches};
use crate::services::Service;
use crate::task_definitions::{TaskDefinitionReader, TaskShapeCache};
use crate::{Error, convert};

pub use crate::batch::{
    DESCRIBE_CONCURRENCY, DESCRIBE_INSTANCES_BATCH, DESCRIBE_SERVICES_BATCH, DESCRIBE_TASKS_BATCH,
    LIST_PAGE_SIZE,
};

#[cfg(any(test, feature = "fake"))]
mod fake;
mod snapshot;

pub use capacity_core::run::TaskPlacement;
#[cfg(any(test, feature = "fake"))]
pub use fake::FakeCluster;
pub use snapshot::{ClusterSnapshot, cluster_name, snapshot};

/// The container instances of a cluster, as one read returned them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstancesRead {
    pub instances: Vec<ContainerInstance>,
    /// The tasks on them (Σ `runningTasksCount + pendingTasksCount`), when ECS reported it.
    pub tasks: Option<u64>,
    /// ECS's `version` of each instance (by ARN) as described; an instance ECS gave no
    /// version (0) is left out.
    pub versions: HashMap<String, i64>,
    /// Each instance's tasks (`runningTasksCount + pendingTasksCount`), by ARN.
    pub task_counts: HashMap<String, u64>,
}

/// One task as the last listing saw it: its task definition and its `group`
/// (`service:<name>` for a service's task, the RunTask group otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTask {
    pub definition: String,
    /// `None` when DescribeTasks gave none.
    pub group: Option<String>,
}

/// How long the task definitions of the last task listing stand in for a new listing when the
/// instances' task counts equal the services' (see the module documentation).
pub const TASK_LISTING_MAX_AGE: Duration = Duration::from_secs(300);

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

    /// What the last [`ClusterReader::running_task_definitions`] of `cluster` returned, if it
    /// is not older than `max_age`; `None` when there was none or it is older.
    fn recent_task_definitions(&self, cluster: &str, max_age: Duration)
    -> Option<BTreeSet<String>>;

    /// The tasks on each container instance (by ARN), as the last listing of `cluster` saw
    /// them, if it is not older than `max_age`.
    fn recent_tasks_by_instance(
        &self,
        cluster: &str,
        max_age: Duration,
    ) -> Option<HashMap<String, Vec<ListedTask>>>;
}

/// What a task listing keeps of each task: its definition, its group and the container
/// instance it was placed on (none changes in a task's life).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskRecord {
    definition: String,
    group: Option<String>,
    container_instance: Option<String>,
}

/// [`ClusterReader`] and [`TaskDefinitionReader`] on the ECS SDK client. Clones share the
/// task ARN → task definition cache.
#[derive(Debug, Clone)]
pub struct EcsReader {
    pub(crate) client: aws_sdk_ecs::Client,
    task_definitions_by_task: Arc<Mutex<HashMap<String, TaskRecord>>>,
    /// The cluster and time of the last task listing (tokio's clock, so tests can pause it).
    last_listing: Arc<Mutex<Option<(String, Instant)>>>,
}

impl EcsReader {
    pub fn new(client: aws_sdk_ecs::Client) -> EcsReader {
        EcsReader {
            client,
            task_definitions_by_task: Arc::default(),
            last_listing: Arc::default(),
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
        let arns = batch::list_container_instances(&self.client, cluster, None).await?;
        let described = in_batches(&arns, DESCRIBE_INSTANCES_BATCH, |batch| {
            self.describe_instances(cluster, batch)
        })
        .await?;
        let tasks = described.iter().map(|d| d.tasks).sum();
        let versions = described
            .iter()
            .filter(|d| d.version > 0)
            .map(|d| (d.instance.id.clone(), d.version))
            .collect();
        let task_counts = described
            .iter()
            .filter_map(|d| Some((d.instance.id.clone(), d.tasks?)))
            .collect();
        Ok(InstancesRead {
            instances: described.into_iter().map(|d| d.instance).collect(),
            tasks,
            versions,
            task_counts,
        })
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, Error> {
        crate::services::describe(&self.client, cluster).await
    }

    async fn running_task_definitions(&self, cluster: &str) -> Result<BTreeSet<String>, Error> {
        const OP: &str = "DescribeTasks";
        let pages = self
            .client
            .list_tasks()
            .cluster(cluster)
            .desired_status(DesiredStatus::Running)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send();
        let arns = batch::list_all(pages, |e| Error::aws("ListTasks", cluster, e)).await?;
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
                .set_tasks(Some(batch.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(OP, cluster, e))?;
            // A task that stopped between the list and the describe is MISSING: it holds no
            // room any more. Any other failure, or a task not answered for, leaves a shape
            // unknown: the read fails rather than size for fewer shapes.
            check_answer(
                OP,
                cluster,
                &batch,
                out.tasks().iter().filter_map(|t| t.task_arn()),
                out.failures(),
                Missing::IsGone,
            )?;
            out.tasks()
                .iter()
                .map(|t| {
                    let arn = t.task_arn().unwrap_or("(unknown)");
                    let definition =
                        t.task_definition_arn().ok_or_else(|| Error::MissingField {
                            what: "task",
                            id: arn.to_owned(),
                            field: "taskDefinitionArn",
                        })?;
                    Ok((
                        arn.to_owned(),
                        TaskRecord {
                            definition: definition.to_owned(),
                            group: t.group().map(str::to_owned),
                            container_instance: t.container_instance_arn().map(str::to_owned),
                        },
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()
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
        *self.last_listing.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((cluster.to_owned(), Instant::now()));
        Ok(known.values().map(|r| r.definition.clone()).collect())
    }

    fn recent_task_definitions(
        &self,
        cluster: &str,
        max_age: Duration,
    ) -> Option<BTreeSet<String>> {
        let last = self
            .last_listing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (listed_cluster, at) = last?;
        if listed_cluster != cluster || at.elapsed() > max_age {
            return None;
        }
        let known = self
            .task_definitions_by_task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Some(known.values().map(|r| r.definition.clone()).collect())
    }

    fn recent_tasks_by_instance(
        &self,
        cluster: &str,
        max_age: Duration,
    ) -> Option<HashMap<String, Vec<ListedTask>>> {
        self.recent_task_definitions(cluster, max_age)?;
        let known = self
            .task_definitions_by_task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut by_instance: HashMap<String, Vec<ListedTask>> = HashMap::new();
        for record in known.values() {
            if let Some(instance) = &record.container_instance {
                by_instance
                    .entry(instance.clone())
                    .or_default()
                    .push(ListedTask {
                        definition: record.definition.clone(),
                        group: record.group.clone(),
                    });
            }
        }
        Some(by_instance)
    }
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

impl EcsReader {
    async fn describe_instances(
        &self,
        cluster: &str,
        batch: Vec<String>,
    ) -> Result<Vec<Described>, Error> {
        let described =
            batch::describe_container_instances(&self.client, cluster, batch, Missing::IsPartial)
                .await?;
        described
            .iter()
            .map(|ci| {
                // A negative count (never sent by ECS) leaves the total unknown: the read
                // then lists the tasks instead of trusting it.
                let tasks = u64::try_from(ci.running_tasks_count())
                    .ok()
                    .zip(u64::try_from(ci.pending_tasks_count()).ok())
                    .map(|(running, pending)| running + pending);
                Ok(Described {
                    instance: convert::container_instance(ci)?,
                    tasks,
                    version: ci.version(),
                })
            })
            .collect()
    }
}

/// One described container instance and what the read keeps beside it.
struct Described {
    instance: ContainerInstance,
    tasks: Option<u64>,
    version: i64,
}
