//! Finding a cluster's container instance by the id of its EC2 instance.

use std::future::Future;

use super::DrainError;
use super::client::{AwsDrain, ecs_error};

/// Finds a cluster's container instance by the id of its EC2 instance.
pub trait FindContainerInstance: Send + Sync {
    /// The ARN of the container instance of `cluster` (name or ARN) running on EC2 instance
    /// `ec2_instance_id`, with one filtered ListContainerInstances call; `None` when the
    /// cluster has none (a failed call is an error, never `None`).
    fn find_container_instance(
        &self,
        cluster: &str,
        ec2_instance_id: &str,
    ) -> impl Future<Output = Result<Option<String>, DrainError>> + Send;
}

impl FindContainerInstance for AwsDrain {
    async fn find_container_instance(
        &self,
        cluster: &str,
        ec2_instance_id: &str,
    ) -> Result<Option<String>, DrainError> {
        let answer = self
            .ecs
            .list_container_instances()
            .cluster(cluster)
            .filter(format!("ec2InstanceId == {ec2_instance_id}"))
            .send()
            .await
            .map_err(|e| ecs_error("ListContainerInstances", cluster, ec2_instance_id, e))?;
        let mut arns: Vec<&String> = answer.container_instance_arns().iter().collect();
        arns.sort();
        if arns.len() > 1 {
            tracing::warn!(
                cluster,
                ec2_instance_id,
                count = arns.len(),
                "several container instances on one EC2 instance; draining the first"
            );
        }
        Ok(arns.first().map(|arn| (*arn).clone()))
    }
}

#[cfg(any(test, feature = "fake"))]
impl FindContainerInstance for super::fake::FakeDrainWorld {
    async fn find_container_instance(
        &self,
        cluster: &str,
        ec2_instance_id: &str,
    ) -> Result<Option<String>, DrainError> {
        self.record(super::fake::DrainCall::FindContainerInstance {
            cluster: cluster.to_owned(),
            ec2_instance_id: ec2_instance_id.to_owned(),
        })?;
        Ok(self.state().instances.get(ec2_instance_id).cloned())
    }
}
