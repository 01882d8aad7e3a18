//! Setting a container instance DRAINING.

use std::future::Future;

use aws_sdk_ecs::types::ContainerInstanceStatus;

use super::client::{AwsDrain, ecs_error};
use super::{DrainError, DrainingState};

/// Stops ECS from placing new tasks on a container instance and makes it move service
/// tasks away.
pub trait SetDraining: Send + Sync {
    /// Sets the container instance DRAINING. Idempotent: an instance already DRAINING is
    /// reported as [`DrainingState::Draining`].
    fn set_draining(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<DrainingState, DrainError>> + Send;
}

impl SetDraining for AwsDrain {
    async fn set_draining(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<DrainingState, DrainError> {
        let answer = self
            .ecs
            .update_container_instances_state()
            .cluster(cluster)
            .container_instances(container_instance_arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(|e| {
                ecs_error(
                    "UpdateContainerInstancesState",
                    cluster,
                    container_instance_arn,
                    e,
                )
            })?;
        if let Some(failure) = answer.failures().first() {
            let reason = failure.reason().unwrap_or("no reason given");
            if reason == "MISSING" {
                return Ok(DrainingState::NotInCluster);
            }
            return Err(DrainError::DrainingRefused {
                cluster: cluster.to_owned(),
                container_instance_arn: container_instance_arn.to_owned(),
                reason: match failure.detail() {
                    Some(detail) => format!("{reason} ({detail})"),
                    None => reason.to_owned(),
                },
            });
        }
        if answer.container_instances().is_empty() {
            return Err(DrainError::MissingField {
                operation: "UpdateContainerInstancesState",
                cluster: cluster.to_owned(),
                subject: container_instance_arn.to_owned(),
                field: "containerInstances",
            });
        }
        Ok(DrainingState::Draining)
    }
}

#[cfg(any(test, feature = "fake"))]
impl SetDraining for super::fake::FakeDrainWorld {
    async fn set_draining(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<DrainingState, DrainError> {
        self.record(super::fake::DrainCall::SetDraining {
            cluster: cluster.to_owned(),
            container_instance_arn: container_instance_arn.to_owned(),
        })?;
        let mut state = self.state();
        if !state
            .instances
            .values()
            .any(|arn| arn == container_instance_arn)
        {
            return Ok(DrainingState::NotInCluster);
        }
        state.draining.insert(container_instance_arn.to_owned());
        Ok(DrainingState::Draining)
    }
}

/// Against the SDK's own mocks: `failures` entries other than MISSING (moto has none).
#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
    use aws_sdk_ecs::types::{ContainerInstance, Failure};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn draining_reads_the_failures_list() {
        let cases = [
            (None, Some(DrainingState::Draining)),
            (Some("MISSING"), Some(DrainingState::NotInCluster)),
            (Some("INACTIVE"), None),
        ];
        for (reason, expected) in cases {
            let update = mock!(aws_sdk_ecs::Client::update_container_instances_state)
                .match_requests(|r| r.status() == Some(&ContainerInstanceStatus::Draining))
                .then_output(move || match reason {
                    None => UpdateContainerInstancesStateOutput::builder()
                        .container_instances(
                            ContainerInstance::builder()
                                .container_instance_arn("ci-1")
                                .status("DRAINING")
                                .build(),
                        )
                        .build(),
                    Some(reason) => UpdateContainerInstancesStateOutput::builder()
                        .failures(Failure::builder().arn("ci-1").reason(reason).build())
                        .build(),
                });
            let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&update]);
            let answer = super::super::client::with_ecs(ecs)
                .set_draining("prod", "ci-1")
                .await;
            match (answer, expected) {
                (Ok(state), Some(expected)) => assert_eq!(state, expected),
                (
                    Err(DrainError::DrainingRefused {
                        container_instance_arn,
                        reason,
                        ..
                    }),
                    None,
                ) => {
                    assert_eq!(
                        (container_instance_arn.as_str(), reason.as_str()),
                        ("ci-1", "INACTIVE")
                    );
                }
                (other, _) => panic!("{reason:?}: unexpected {other:?}"),
            }
        }
    }
}
