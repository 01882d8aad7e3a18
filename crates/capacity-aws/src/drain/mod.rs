//! Draining a container instance and completing its lifecycle action (lifecycle-drainer).
//!
//! One small trait per capability the drainer needs, each in its own module with its
//! implementation on the SDK clients ([`AwsDrain`]) and, for tests, on the in-memory
//! `fake::FakeDrainWorld` (which records every call; built only under `cfg(test)` or the
//! `fake` feature):
//!
//! | module | trait | AWS call |
//! |---|---|---|
//! | `find` | [`FindContainerInstance`] | ECS ListContainerInstances, `filter "ec2InstanceId == i-…"` (one call) |
//! | `draining` | [`SetDraining`] | ECS UpdateContainerInstancesState DRAINING, reading `failures` |
//! | `tasks` | [`ListInstanceTasks`] | ECS ListTasks (desired RUNNING and STOPPED, every page) + DescribeTasks |
//! | `lifecycle` | [`LifecycleActions`] | Auto Scaling CompleteLifecycleAction, RecordLifecycleActionHeartbeat |
//! | `hook` | [`DescribeLifecycleHook`] | Auto Scaling DescribeLifecycleHooks |
//! | `republish` | [`Republish`] | SNS Publish with message attributes |
//!
//! [`DrainApi`] is all of them at once, for handlers that need every capability.
//!
//! The values they exchange (observed tasks, lifecycle action results, hook timeouts, …)
//! are the pure domain types of [`capacity_core::drain`], re-exported here.
//!
//! "Nothing to do" answers are values, not errors: an instance that is not in the cluster
//! ([`FindContainerInstance`] returns `None`, [`DrainingState::NotInCluster`]) and a lifecycle
//! action that is no longer active ([`ActionAnswer::NoActiveAction`]). A [`DrainError`] always
//! means the state is unknown: callers must not treat it as "drained".

use thiserror::Error;

mod client;
mod draining;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod find;
mod hook;
mod lifecycle;
mod republish;
mod tasks;

pub use capacity_core::drain::{
    ActionAnswer, DrainingState, HookTimeouts, InvalidActionResult, LifecycleActionRef,
    LifecycleActionResult, ObservedTask, TASK_STOPPED,
};
pub use client::AwsDrain;
pub use draining::SetDraining;
pub use find::FindContainerInstance;
pub use hook::DescribeLifecycleHook;
pub use lifecycle::LifecycleActions;
pub use republish::{AttributeValue, Republication, Republish};
pub use tasks::ListInstanceTasks;

pub use crate::error::{BoxError, error_chain};

/// A failed drain call. The SDK has already retried throttling and 5xx answers by the time
/// one of these is returned; the state it was about is unknown.
///
/// The same shape as [`crate::Error`]: a failed AWS call names the `operation` and what it
/// was about, carries the SDK's whole `message` ([`crate::sdk_message`]) and keeps the error
/// as its `#[source]`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DrainError {
    /// An ECS call failed.
    #[error("{operation} for {subject} in cluster {cluster} failed: {message}")]
    Ecs {
        operation: &'static str,
        cluster: String,
        /// The EC2 instance id or container instance ARN the call was about.
        subject: String,
        message: String,
        #[source]
        source: BoxError,
    },
    /// UpdateContainerInstancesState answered with a failure other than `MISSING`.
    #[error(
        "container instance {container_instance_arn} in cluster {cluster} was not set to DRAINING: {reason}"
    )]
    DrainingRefused {
        cluster: String,
        container_instance_arn: String,
        reason: String,
    },
    /// ECS answered without a field the drainer needs.
    #[error("{operation} for {subject} in cluster {cluster} answered without {field}")]
    MissingField {
        operation: &'static str,
        cluster: String,
        subject: String,
        field: &'static str,
    },
    /// An Auto Scaling call about a lifecycle action failed. The action (its group, hook and
    /// EC2 instance) is boxed: it keeps every `Result<_, DrainError>` small.
    #[error(
        "{operation} for instance {} (group {}, hook {}) failed: {message}",
        action.ec2_instance_id,
        action.auto_scaling_group_name,
        action.lifecycle_hook_name
    )]
    AutoScaling {
        operation: &'static str,
        action: Box<LifecycleActionRef>,
        message: String,
        #[source]
        source: BoxError,
    },
    /// DescribeLifecycleHooks failed.
    #[error(
        "{operation} for hook {lifecycle_hook_name} of group {auto_scaling_group_name} failed: {message}"
    )]
    DescribeHook {
        operation: &'static str,
        auto_scaling_group_name: String,
        lifecycle_hook_name: String,
        message: String,
        #[source]
        source: BoxError,
    },
    /// SNS Publish failed (or its request could not be built).
    #[error("{operation} to topic {topic_arn} failed: {message}")]
    Publish {
        operation: &'static str,
        topic_arn: String,
        message: String,
        #[source]
        source: BoxError,
    },
}

/// Every capability the drainer needs.
pub trait DrainApi:
    FindContainerInstance
    + SetDraining
    + ListInstanceTasks
    + LifecycleActions
    + DescribeLifecycleHook
    + Republish
{
}

impl<T> DrainApi for T where
    T: FindContainerInstance
        + SetDraining
        + ListInstanceTasks
        + LifecycleActions
        + DescribeLifecycleHook
        + Republish
{
}
