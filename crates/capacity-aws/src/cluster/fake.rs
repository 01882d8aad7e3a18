//! [`FakeCluster`]: a cluster in memory for the programs' tests (built only under `cfg(test)`
//! or the `fake` feature). It implements [`ClusterReader`] and [`TaskDefinitionReader`] here;
//! it counts its reads and fails the ones chosen.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use capacity_core::{ContainerInstance, TaskDefinition};

use super::{ClusterReader, InstancesRead, ListedTask};
use crate::Error;
use crate::services::Service;
use crate::task_definitions::TaskDefinitionReader;

/// A cluster in memory.
#[derive(Debug, Default)]
pub struct FakeCluster {
    pub instances: Vec<ContainerInstance>,
    /// ECS's `version` of instances, by id (an instance not here has none).
    pub versions: HashMap<String, i64>,
    /// Each instance's tasks (running + pending) as DescribeContainerInstances counts them.
    pub task_counts: HashMap<String, u64>,
    /// Instances carrying the do-not-disrupt attribute.
    pub do_not_disrupt: BTreeSet<String>,
    /// The attributes of this project on each instance; share it with a
    /// [`FakeAttributes`](crate::attributes::FakeAttributes) (`store`) so that the marks
    /// written show in the next read.
    pub marks: std::sync::Arc<std::sync::Mutex<crate::attributes::InstanceMarks>>,
    /// The task definitions of the tasks on each instance, as a listing sees them. Their group
    /// is `service:<name>` of the service whose deployment runs that definition (a DAEMON
    /// service's too), unless the instance lists it in `standalone`.
    pub tasks_by_instance: HashMap<String, Vec<String>>,
    /// The task definitions of `tasks_by_instance` started by RunTask on each instance (group
    /// `family:<definition>`).
    pub standalone: HashMap<String, Vec<String>>,
    /// Tasks on the instances (running + pending), as DescribeContainerInstances would
    /// count them; `None`: unknown, so a read with discovery lists the running tasks.
    pub tasks_on_instances: Option<u64>,
    pub task_definitions: HashMap<String, TaskDefinition>,
    /// The ACTIVE services.
    pub services: Vec<Service>,
    /// Task definition ARNs of the running tasks (`running_task_definitions`).
    pub in_use: BTreeSet<String>,
    /// Fail `container_instances` (as a throttled or denied read would).
    pub fail_instances: bool,
    /// Fail `services`.
    pub fail_services: bool,
    /// Fail `running_task_definitions`.
    pub fail_in_use: bool,
    pub instance_reads: AtomicUsize,
    pub service_reads: AtomicUsize,
    /// Reads of the running tasks.
    pub in_use_reads: AtomicUsize,
    pub definition_reads: AtomicUsize,
    /// When `running_task_definitions` last answered (tokio's clock).
    pub listed_at: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl ClusterReader for FakeCluster {
    async fn container_instances(&self, cluster: &str) -> Result<InstancesRead, Error> {
        self.instance_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_instances {
            return Err(Error::injected("ListContainerInstances", cluster));
        }
        // As ECS describes them: every attribute, the marks written and do-not-disrupt too.
        let marks = self.marks.lock().map(|m| m.clone()).unwrap_or_default();
        let instances = self
            .instances
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if let Some(ours) = marks.get(&i.id) {
                    i.attributes.extend(ours.clone());
                }
                if self.do_not_disrupt.contains(&i.id) {
                    i.attributes.insert(
                        capacity_core::DO_NOT_DISRUPT_ATTRIBUTE.to_owned(),
                        "true".to_owned(),
                    );
                }
                i
            })
            .collect();
        Ok(InstancesRead {
            instances,
            tasks: self.tasks_on_instances,
            versions: self.versions.clone(),
            task_counts: self.task_counts.clone(),
        })
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, Error> {
        self.service_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_services {
            return Err(Error::injected("DescribeServices", cluster));
        }
        Ok(self.services.clone())
    }

    async fn running_task_definitions(&self, cluster: &str) -> Result<BTreeSet<String>, Error> {
        self.in_use_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_in_use {
            return Err(Error::injected("ListTasks", cluster));
        }
        *self.listed_at.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(tokio::time::Instant::now());
        Ok(self.in_use.clone())
    }

    fn recent_task_definitions(
        &self,
        _cluster: &str,
        max_age: std::time::Duration,
    ) -> Option<BTreeSet<String>> {
        let at = (*self.listed_at.lock().unwrap_or_else(|p| p.into_inner()))?;
        (at.elapsed() <= max_age).then(|| self.in_use.clone())
    }

    fn recent_tasks_by_instance(
        &self,
        cluster: &str,
        max_age: std::time::Duration,
    ) -> Option<HashMap<String, Vec<ListedTask>>> {
        self.recent_task_definitions(cluster, max_age)?;
        let group_of = |instance: &str, definition: &str| {
            let standalone = self
                .standalone
                .get(instance)
                .is_some_and(|d| d.iter().any(|d| d == definition));
            let service = self.services.iter().find(|s| {
                s.deployments
                    .iter()
                    .any(|d| d.task_definition == definition)
            });
            match service {
                Some(s) if !standalone => format!("service:{}", s.name),
                _ => format!("family:{definition}"),
            }
        };
        Some(
            self.tasks_by_instance
                .iter()
                .map(|(instance, definitions)| {
                    let tasks = definitions
                        .iter()
                        .map(|d| ListedTask {
                            definition: d.clone(),
                            group: Some(group_of(instance, d)),
                        })
                        .collect();
                    (instance.clone(), tasks)
                })
                .collect(),
        )
    }
}

impl TaskDefinitionReader for FakeCluster {
    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, Error> {
        self.definition_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.task_definitions
            .get(arn)
            .cloned()
            .ok_or_else(|| Error::injected("DescribeTaskDefinition", arn))
    }
}

impl TaskDefinitionReader for &FakeCluster {
    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, Error> {
        (*self).task_definition(arn).await
    }
}
