//! Draining a container instance and completing its lifecycle action (lifecycle-drainer).
//!
//! One small trait per capability the drainer needs, each implemented on the SDK clients by
//! [`AwsDrain`] and in memory by [`fake::FakeDrainWorld`] (which records every call):
//!
//! | trait | AWS call |
//! |---|---|
//! | [`FindContainerInstance`] | ECS ListContainerInstances, `filter "ec2InstanceId == i-…"` (one call) |
//! | [`SetDraining`] | ECS UpdateContainerInstancesState DRAINING, reading `failures` |
//! | [`ListInstanceTasks`] | ECS ListTasks (desired RUNNING and STOPPED) + DescribeTasks |
//! | [`LifecycleActions`] | Auto Scaling CompleteLifecycleAction, RecordLifecycleActionHeartbeat |
//! | [`DescribeLifecycleHook`] | Auto Scaling DescribeLifecycleHooks |
//! | [`Republish`] | SNS Publish with message attributes |
//!
//! [`DrainApi`] is all of them at once, for handlers that need every capability.
//!
//! "Nothing to do" answers are values, not errors: an instance that is not in the cluster
//! ([`FindContainerInstance`] returns `None`, [`DrainingState::NotInCluster`]) and a lifecycle
//! action that is no longer active ([`ActionAnswer::NoActiveAction`]). A [`DrainError`] always
//! means the state is unknown: callers must not treat it as "drained".

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod sdk;

pub use sdk::AwsDrain;

/// The boxed cause of a [`DrainError`] (usually an SDK error).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// ECS's `lastStatus` of a task that no longer runs anything on its host.
pub const TASK_STOPPED: &str = "STOPPED";

/// How a lifecycle action ends. For a termination hook both let the instance terminate;
/// `Abandon` also skips the group's remaining termination hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleActionResult {
    Continue,
    Abandon,
}

impl LifecycleActionResult {
    /// The value Auto Scaling's API expects (`CONTINUE` / `ABANDON`).
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleActionResult::Continue => "CONTINUE",
            LifecycleActionResult::Abandon => "ABANDON",
        }
    }
}

impl fmt::Display for LifecycleActionResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is neither `CONTINUE` nor `ABANDON`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a lifecycle action result: expected CONTINUE or ABANDON")]
pub struct InvalidActionResult(pub String);

impl FromStr for LifecycleActionResult {
    type Err = InvalidActionResult;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "CONTINUE" => Ok(LifecycleActionResult::Continue),
            "ABANDON" => Ok(LifecycleActionResult::Abandon),
            other => Err(InvalidActionResult(other.to_owned())),
        }
    }
}

/// Which lifecycle action a call is about. With a token, Auto Scaling matches the token;
/// without one, the instance id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleActionRef {
    pub auto_scaling_group_name: String,
    pub lifecycle_hook_name: String,
    pub ec2_instance_id: String,
    pub token: Option<String>,
}

/// A task placed on the container instance being drained, as ECS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    pub task_arn: String,
    /// `PROVISIONING`, `PENDING`, `ACTIVATING`, `RUNNING`, `DEACTIVATING`, `STOPPING`,
    /// `DEPROVISIONING` or `STOPPED`.
    pub last_status: String,
    pub desired_status: Option<String>,
}

impl ObservedTask {
    /// True while the task still holds anything on the host (containers, connections, an
    /// ENI): every status but `STOPPED`.
    pub fn holds_the_host(&self) -> bool {
        self.last_status != TASK_STOPPED
    }
}

/// The answer to setting a container instance DRAINING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainingState {
    /// It is DRAINING now (it may have been already: the call is idempotent).
    Draining,
    /// ECS no longer knows it (failure reason `MISSING`): deregistered meanwhile.
    NotInCluster,
}

/// The answer to a lifecycle action call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionAnswer {
    /// Auto Scaling accepted the call.
    Done,
    /// "No active Lifecycle Action found": completed already (by an earlier delivery) or
    /// timed out. Either way there is nothing left to complete or extend.
    NoActiveAction,
}

/// A lifecycle hook's timeouts (DescribeLifecycleHooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookTimeouts {
    /// How long the action waits without a heartbeat before the hook's default result
    /// applies (30 s to 7200 s on AWS).
    pub heartbeat_timeout: Duration,
    /// The most an instance can stay in the wait state, heartbeats or not
    /// (min(48 h, 100 × heartbeat timeout) on AWS).
    pub global_timeout: Duration,
}

/// The value of an SNS message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    Number(i64),
}

/// One SNS publish: the same message again, with attributes that carry the drain's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republication {
    pub topic_arn: String,
    pub message: String,
    /// At most 100 characters on AWS; `None` publishes without a subject.
    pub subject: Option<String>,
    pub attributes: Vec<(String, AttributeValue)>,
}

/// A failed drain call. The SDK has already retried throttling and 5xx answers by the time
/// one of these is returned; the state it was about is unknown.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DrainError {
    /// An ECS call failed.
    #[error("{operation} for {subject} in cluster {cluster} failed: {}", error_chain(source.as_ref()))]
    Ecs {
        operation: &'static str,
        cluster: String,
        /// The EC2 instance id or container instance ARN the call was about.
        subject: String,
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
    /// An Auto Scaling call failed.
    #[error(
        "{operation} for instance {ec2_instance_id} (group {auto_scaling_group_name}, hook {lifecycle_hook_name}) failed: {}",
        error_chain(source.as_ref())
    )]
    AutoScaling {
        operation: &'static str,
        auto_scaling_group_name: String,
        lifecycle_hook_name: String,
        ec2_instance_id: String,
        #[source]
        source: BoxError,
    },
    /// DescribeLifecycleHooks failed.
    #[error(
        "DescribeLifecycleHooks for hook {lifecycle_hook_name} of group {auto_scaling_group_name} failed: {}",
        error_chain(source.as_ref())
    )]
    DescribeHook {
        auto_scaling_group_name: String,
        lifecycle_hook_name: String,
        #[source]
        source: BoxError,
    },
    /// SNS Publish failed (or its request could not be built).
    #[error("publish to topic {topic_arn} failed: {}", error_chain(source.as_ref()))]
    Publish {
        topic_arn: String,
        #[source]
        source: BoxError,
    },
}

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

/// Reads what still runs on a container instance.
pub trait ListInstanceTasks: Send + Sync {
    /// Every task placed on the container instance whose desired status is RUNNING or
    /// STOPPED (so tasks still stopping are included), with its last status. Tasks already
    /// STOPPED may be listed too; [`ObservedTask::holds_the_host`] tells them apart.
    fn list_instance_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<ObservedTask>, DrainError>> + Send;
}

/// Ends or extends an Auto Scaling lifecycle action.
pub trait LifecycleActions: Send + Sync {
    /// CompleteLifecycleAction with `result` (and the action's token when it has one).
    fn complete_lifecycle_action(
        &self,
        action: &LifecycleActionRef,
        result: LifecycleActionResult,
    ) -> impl Future<Output = Result<ActionAnswer, DrainError>> + Send;

    /// RecordLifecycleActionHeartbeat: restarts the hook's heartbeat timeout (never its
    /// global timeout).
    fn record_heartbeat(
        &self,
        action: &LifecycleActionRef,
    ) -> impl Future<Output = Result<ActionAnswer, DrainError>> + Send;
}

/// Reads a lifecycle hook's timeouts.
pub trait DescribeLifecycleHook: Send + Sync {
    /// The timeouts of hook `lifecycle_hook_name` of group `auto_scaling_group_name`;
    /// `None` when the group has no such hook.
    fn hook_timeouts(
        &self,
        auto_scaling_group_name: &str,
        lifecycle_hook_name: &str,
    ) -> impl Future<Output = Result<Option<HookTimeouts>, DrainError>> + Send;
}

/// Publishes a message to an SNS topic.
pub trait Republish: Send + Sync {
    /// Publishes `republication`; returns SNS's message id.
    fn republish(
        &self,
        republication: &Republication,
    ) -> impl Future<Output = Result<String, DrainError>> + Send;
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

pub use crate::error::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_result_parses_only_the_two_api_values() {
        assert_eq!("CONTINUE".parse(), Ok(LifecycleActionResult::Continue));
        assert_eq!(" ABANDON ".parse(), Ok(LifecycleActionResult::Abandon));
        assert_eq!(
            "continue".parse::<LifecycleActionResult>(),
            Err(InvalidActionResult("continue".to_owned()))
        );
    }

    #[test]
    fn only_a_stopped_task_releases_the_host() {
        for status in [
            "PROVISIONING",
            "PENDING",
            "RUNNING",
            "DEACTIVATING",
            "STOPPING",
            "DEPROVISIONING",
        ] {
            let task = ObservedTask {
                task_arn: "t".into(),
                last_status: status.into(),
                desired_status: Some("STOPPED".into()),
            };
            assert!(task.holds_the_host(), "{status}");
        }
        let stopped = ObservedTask {
            task_arn: "t".into(),
            last_status: "STOPPED".into(),
            desired_status: Some("STOPPED".into()),
        };
        assert!(!stopped.holds_the_host());
    }
}
