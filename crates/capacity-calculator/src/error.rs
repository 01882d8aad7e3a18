//! Why an invocation failed, and the Lambda error type it reports.

use thiserror::Error;

use crate::event::EventError;

/// Why an invocation failed. Nothing was published when it did.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(
        "a scheduled event names no cluster and ECS_CLUSTER is not set: set it to the cluster's ARN"
    )]
    ScheduledWithoutCluster,
    #[error("reading cluster {cluster} failed, nothing published: {source}")]
    Read {
        cluster: String,
        #[source]
        source: capacity_aws::Error,
    },
    #[error("computing the capacity of cluster {cluster} failed, nothing published: {source}")]
    Capacity {
        cluster: String,
        #[source]
        source: capacity_core::CapacityError,
    },
    #[error("publishing the metrics of cluster {cluster} failed: {source}")]
    Publish {
        cluster: String,
        #[source]
        source: capacity_aws::Error,
    },
}

impl HandlerError {
    /// Whether the same event may succeed when retried: AWS failures (after the SDK's own
    /// retries) and partial answers may; a malformed event, inconsistent cluster data, or a
    /// cluster with nothing to size for will not until someone changes it.
    pub fn is_retryable(&self) -> bool {
        match self {
            HandlerError::Read { source, .. } | HandlerError::Publish { source, .. } => {
                source.is_retryable()
            }
            HandlerError::Event(_)
            | HandlerError::ScheduledWithoutCluster
            | HandlerError::Capacity { .. } => false,
        }
    }

    /// The Lambda error type: `Retryable.*` or `Permanent.*`.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(_) => "Permanent.InvalidEvent",
            HandlerError::ScheduledWithoutCluster => "Permanent.InvalidConfiguration",
            HandlerError::Capacity { .. } => "Permanent.InvalidClusterData",
            HandlerError::Read {
                source: capacity_aws::Error::NoTaskDefinitions { .. },
                ..
            } => "Permanent.NoTaskDefinitions",
            HandlerError::Read { source, .. } if !source.is_retryable() => {
                "Permanent.InvalidClusterData"
            }
            HandlerError::Read { .. } => "Retryable.ClusterReadFailed",
            HandlerError::Publish { .. } => "Retryable.PublishFailed",
        }
    }
}

impl capacity_aws::LambdaError for HandlerError {
    fn error_type(&self) -> &'static str {
        HandlerError::error_type(self)
    }
}

capacity_aws::impl_diagnostic!(HandlerError);
