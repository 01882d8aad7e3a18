use capacity_core::CapacityError;
use thiserror::Error;

/// A failure to read the cluster or to publish its metrics.
///
/// Each variant names the cluster (and the AWS operation) it is about. The SDK has already
/// retried throttling and 5xx answers by the time one of these is returned.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An AWS call failed (after the SDK's own retries).
    #[error("{operation} for cluster {cluster} failed: {message}")]
    Aws {
        operation: &'static str,
        cluster: String,
        message: String,
        #[source]
        source: BoxError,
    },
    /// ECS answered, but listed failures for part of the request: the read is partial.
    #[error("{operation} for cluster {cluster} returned failures: {failures}")]
    PartialRead {
        operation: &'static str,
        cluster: String,
        failures: String,
    },
    /// ECS answered a batched describe without some of the identifiers asked for, neither
    /// described nor listed in `failures`: the answer is not the whole cluster.
    #[error(
        "{operation} for cluster {cluster} answered for {answered} of {asked} identifiers; missing: {missing}"
    )]
    Incomplete {
        operation: &'static str,
        cluster: String,
        asked: usize,
        answered: usize,
        /// The identifiers not answered for (the first few, then how many more).
        missing: String,
    },
    /// AWS (ECS, Auto Scaling, EC2) answered without a field the math cannot do without.
    #[error("{what} {id}: AWS answered without {field}")]
    MissingField {
        what: &'static str,
        id: String,
        field: &'static str,
    },
    /// ECS described a container instance without a figure the math needs.
    #[error("container instance {id}: ECS answered {source}")]
    InvalidInstance {
        id: String,
        #[source]
        source: crate::ecs_json::EcsJsonError,
    },
    /// A number from ECS that does not fit its unit (e.g. a negative port).
    #[error("{what} {id}: {field} has invalid value {value}")]
    InvalidField {
        what: &'static str,
        id: String,
        field: &'static str,
        value: String,
    },
    /// The cluster's resources or task definitions are inconsistent.
    #[error(transparent)]
    Capacity(#[from] CapacityError),
    /// Nothing to size for: no worst case configured and no task definition in use.
    #[error(
        "cluster {cluster} runs no service or task to take a worst case from; set CONTAINER_MAX_CPU and CONTAINER_MAX_MEMORY"
    )]
    NoTaskDefinitions { cluster: String },
    /// An Auto Scaling call about a group failed (after the SDK's own retries).
    #[error("{operation} for Auto Scaling group {group} failed: {message}")]
    Group {
        operation: &'static str,
        group: String,
        message: String,
        #[source]
        source: BoxError,
    },
    /// DescribeAutoScalingGroups answered without the group: its name is wrong, or it is gone.
    #[error("Auto Scaling group {group} not found")]
    GroupNotFound { group: String },
    /// A call that resolves a group's instance types (DescribeLaunchTemplateVersions,
    /// DescribeLaunchConfigurations, DescribeInstanceTypes) failed, after the SDK's own
    /// retries; `resource` names what it asked about.
    #[error("{operation} for {resource} failed: {message}")]
    Launch {
        operation: &'static str,
        resource: String,
        message: String,
        #[source]
        source: BoxError,
    },
    /// The launch template, its version or the launch configuration a group names is not
    /// there (deleted, or the name is wrong).
    #[error("{what} {id} not found")]
    LaunchNotFound { what: &'static str, id: String },
    /// What the group launches is chosen by attributes (`InstanceRequirements`), not named:
    /// there is no one type to size new hosts on, and none is made up.
    #[error(
        "{what} chooses instance types by attributes (InstanceRequirements), not by name: no type to size hosts on"
    )]
    AttributeBasedTypes { what: String },
    /// DescribeInstanceTypes does not know the type(s) the group launches (a typo, or a type
    /// not offered in this region).
    #[error("instance type {instance_type} is not known to DescribeInstanceTypes")]
    UnknownInstanceType { instance_type: String },
    /// ECS answered a change (UpdateContainerInstancesState, …) with `failures`: the change
    /// was not made for the resources named.
    #[error("{operation} for cluster {cluster} was not done for: {failures}")]
    Rejected {
        operation: &'static str,
        cluster: String,
        failures: String,
    },
}

/// The boxed cause of an error of this crate (usually an SDK error).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What an SDK error says, its causes and the service's own code and message included: the
/// `message` of every AWS-failure variant of this crate's errors ([`Error::Aws`], the
/// drainer's `drain::DrainError`'s). The SDK's own `Display` says only "service error".
pub fn sdk_message<E>(err: &E) -> String
where
    E: std::error::Error + ?Sized,
{
    aws_smithy_types::error::display::DisplayErrorContext(err).to_string()
}

impl Error {
    /// Whether the same read may succeed when retried: a failed call, a partial or incomplete
    /// answer may (ECS's state moves on, throttling passes); an answer without a required
    /// field, inconsistent figures, or a cluster with nothing to size for will not until
    /// someone changes the cluster or the configuration.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Aws { .. }
            | Error::PartialRead { .. }
            | Error::Incomplete { .. }
            | Error::Group { .. }
            | Error::Launch { .. }
            | Error::Rejected { .. } => true,
            Error::MissingField { .. }
            | Error::InvalidInstance { .. }
            | Error::InvalidField { .. }
            | Error::Capacity(_)
            | Error::NoTaskDefinitions { .. }
            | Error::GroupNotFound { .. }
            | Error::LaunchNotFound { .. }
            | Error::AttributeBasedTypes { .. }
            | Error::UnknownInstanceType { .. } => false,
        }
    }

    /// Wraps an SDK error with the operation and cluster it came from.
    pub fn aws<E>(operation: &'static str, cluster: &str, err: E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::Aws {
            operation,
            cluster: cluster.to_owned(),
            message: sdk_message(&err),
            source: Box::new(err),
        }
    }

    /// Wraps an SDK error of an Auto Scaling call about `group`.
    pub fn group<E>(operation: &'static str, group: &str, err: E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::Group {
            operation,
            group: group.to_owned(),
            message: sdk_message(&err),
            source: Box::new(err),
        }
    }

    /// Wraps an SDK error of a call that resolves a group's instance types, about
    /// `resource` (`launch template lt-0abc version $Latest`, `instance types m5.large`).
    pub fn launch<E>(operation: &'static str, resource: String, err: E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::Launch {
            operation,
            resource,
            message: sdk_message(&err),
            source: Box::new(err),
        }
    }

    /// The failure the fakes inject: `operation` on `cluster` failed (as a throttled or
    /// denied call would, after the SDK's retries).
    #[cfg(any(test, feature = "fake"))]
    pub(crate) fn injected(operation: &'static str, cluster: &str) -> Error {
        Error::Aws {
            operation,
            cluster: cluster.to_owned(),
            message: "injected failure".to_owned(),
            source: "injected failure".into(),
        }
    }
}

/// The `Display` of an error followed by each of its sources, `: `-separated. The SDK's own
/// `Display` says only "service error"; the cause is in the chain.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// An invocation's failure as a function reports it to Lambda: a `Retryable.*` or
/// `Permanent.*` error type (the vocabulary of all three functions) and its message.
pub trait LambdaError: std::fmt::Display {
    /// `Retryable.*` or `Permanent.*`.
    fn error_type(&self) -> &'static str;
}

/// The one conversion of a function's error into Lambda's `Diagnostic`, logged once as
/// "invocation failed" with its `error_type`: `impl_diagnostic!(HandlerError)` in a function's
/// crate (Rust's orphan rule wants the `impl` there; this is its only text).
#[macro_export]
macro_rules! impl_diagnostic {
    ($error:ty) => {
        impl From<$error> for lambda_runtime::Diagnostic {
            fn from(err: $error) -> lambda_runtime::Diagnostic {
                let error_type = $crate::LambdaError::error_type(&err);
                $crate::__tracing::error!(error = %err, error_type, "invocation failed");
                lambda_runtime::Diagnostic {
                    error_type: error_type.to_owned(),
                    error_message: err.to_string(),
                }
            }
        }
    };
}
