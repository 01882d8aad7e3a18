//! In-memory fakes of the traits, recording their calls, for unit tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use capacity_core::{ContainerInstance, TaskDefinition};

use crate::{ClusterArn, ClusterReader, Error, Metric, MetricsPublisher, TaskDefinitionReader};

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
    pub task_definitions: HashMap<String, TaskDefinition>,
    /// ARNs returned by `task_definitions_in_use`.
    pub in_use: BTreeSet<String>,
    /// Fail `container_instances` (as a throttled or denied read would).
    pub fail_instances: bool,
    /// Fail `task_definitions_in_use`.
    pub fail_in_use: bool,
    pub instance_reads: AtomicUsize,
    pub in_use_reads: AtomicUsize,
    pub definition_reads: AtomicUsize,
}

impl ClusterReader for FakeCluster {
    async fn container_instances(&self, cluster: &str) -> Result<Vec<ContainerInstance>, Error> {
        self.instance_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_instances {
            return Err(failure("ListContainerInstances", cluster));
        }
        Ok(self.instances.clone())
    }

    async fn task_definitions_in_use(&self, cluster: &str) -> Result<BTreeSet<String>, Error> {
        self.in_use_reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_in_use {
            return Err(failure("ListServices", cluster));
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
