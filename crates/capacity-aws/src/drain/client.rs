//! [`AwsDrain`]: the SDK clients the drain traits are implemented on, and the mapping of
//! their errors to [`DrainError`].

use super::{DrainError, LifecycleActionRef};

/// The drain traits on the ECS, Auto Scaling and SNS clients. Clone is cheap (the clients
/// share their connection pools): build one per process and reuse it across invocations.
#[derive(Debug, Clone)]
pub struct AwsDrain {
    pub(super) ecs: aws_sdk_ecs::Client,
    pub(super) autoscaling: aws_sdk_autoscaling::Client,
    pub(super) sns: aws_sdk_sns::Client,
}

impl AwsDrain {
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        sns: aws_sdk_sns::Client,
    ) -> AwsDrain {
        AwsDrain {
            ecs,
            autoscaling,
            sns,
        }
    }

    /// The three clients from one SDK configuration (region, credentials, endpoints).
    pub fn from_conf(config: &aws_config::SdkConfig) -> AwsDrain {
        AwsDrain::new(
            aws_sdk_ecs::Client::new(config),
            aws_sdk_autoscaling::Client::new(config),
            aws_sdk_sns::Client::new(config),
        )
    }
}

pub(super) fn ecs_error<E>(
    operation: &'static str,
    cluster: &str,
    subject: &str,
    err: E,
) -> DrainError
where
    E: std::error::Error + Send + Sync + 'static,
{
    DrainError::Ecs {
        operation,
        cluster: cluster.to_owned(),
        subject: subject.to_owned(),
        message: crate::sdk_message(&err),
        source: Box::new(err),
    }
}

pub(super) fn autoscaling_error<E>(
    operation: &'static str,
    action: &LifecycleActionRef,
    err: E,
) -> DrainError
where
    E: std::error::Error + Send + Sync + 'static,
{
    DrainError::AutoScaling {
        operation,
        action: Box::new(action.clone()),
        message: crate::sdk_message(&err),
        source: Box::new(err),
    }
}

/// An [`AwsDrain`] whose ECS client is `ecs` (an `aws-smithy-mocks` client, say); the
/// Auto Scaling and SNS clients are never called.
#[cfg(test)]
pub(super) fn with_ecs(ecs: aws_sdk_ecs::Client) -> AwsDrain {
    let autoscaling = aws_sdk_autoscaling::Client::from_conf(
        aws_sdk_autoscaling::Config::builder()
            .behavior_version(aws_sdk_autoscaling::config::BehaviorVersion::latest())
            .region(aws_sdk_autoscaling::config::Region::new("us-east-1"))
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .build(),
    );
    AwsDrain::new(ecs, autoscaling, sns)
}
