//! In-memory fakes of the traits, recording their calls, for unit tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use capacity_core::{ContainerInstance, TaskDefinition};

use crate::services::Service;
use crate::{
    ClusterArn, ClusterReader, Error, InstancesRead, Metric, MetricsPublisher, TaskDefinitionReader,
};

fn failure(operation: &'static str, cluster: &str) -> Error {
    Error::Aws {
        operation,
        cluster: cluster.to_owned(),
        message: "injected failure".to_owned(),
        source: "injected failure".into(),
    }
}

/// A cluster in memory.
#[derive(Debug, Default)]
pub struct FakeCluster {
    pub instances: Vec<ContainerInstance>,
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
}

impl ClusterReader for FakeCluster {
    async fn container_instances(&self, cluster: &str) -> Result<InstancesRead, Error> {
        self.instance_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_instances {
            return Err(failure("ListContainerInstances", cluster));
        }
        Ok(InstancesRead {
            instances: self.instances.clone(),
            tasks: self.tasks_on_instances,
        })
    }

    async fn services(&self, cluster: &str) -> Result<Vec<Service>, Error> {
        self.service_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_services {
            return Err(failure("DescribeServices", cluster));
        }
        Ok(self.services.clone())
    }

    async fn running_task_definitions(&self, cluster: &str) -> Result<BTreeSet<String>, Error> {
        self.in_use_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_in_use {
            return Err(failure("ListTasks", cluster));
        }
        Ok(self.in_use.clone())
    }
}

impl TaskDefinitionReader for FakeCluster {
    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, Error> {
        self.definition_reads.fetch_add(1, Ordering::SeqCst);
        self.task_definitions
            .get(arn)
            .cloned()
            .ok_or_else(|| failure("DescribeTaskDefinition", arn))
    }
}

impl TaskDefinitionReader for &FakeCluster {
    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, Error> {
        (*self).task_definition(arn).await
    }
}

/// Records what was published; fails on demand.
#[derive(Debug, Default)]
pub struct FakeMetrics {
    /// `(namespace, metrics)` of each successful call.
    pub published: Mutex<Vec<(String, Vec<Metric>)>>,
    pub fail: bool,
}

impl FakeMetrics {
    /// Every successful call so far.
    pub fn calls(&self) -> Vec<(String, Vec<Metric>)> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl MetricsPublisher for FakeMetrics {
    async fn publish(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
        metrics: &[Metric],
    ) -> Result<(), Error> {
        if self.fail {
            return Err(failure("PutMetricData", cluster.name()));
        }
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((namespace.to_owned(), metrics.to_vec()));
        Ok(())
    }
}
