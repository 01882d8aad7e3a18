//! The drain's domain types: what the lifecycle drainer observes and how a lifecycle action
//! ends. Pure values; the I/O that produces them lives in `capacity-aws::drain`, the
//! decisions taken over them in `lifecycle-drainer`.
//!
//! ```
//! use capacity_core::drain::{LifecycleActionResult, ObservedTask};
//!
//! let stopping = ObservedTask {
//!     task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/1".into(),
//!     last_status: "STOPPING".into(),
//!     desired_status: Some("STOPPED".into()),
//! };
//! // Only STOPPED releases the host: a task still stopping holds the drain.
//! assert!(stopping.holds_the_host());
//! assert_eq!("ABANDON".parse(), Ok(LifecycleActionResult::Abandon));
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// ECS's `lastStatus` of a task that no longer runs anything on its host.
pub const TASK_STOPPED: &str = "STOPPED";

/// A task's `lastStatus`, as ECS documents its lifecycle ("Amazon ECS task lifecycle"):
/// `PROVISIONING`, `PENDING`, `ACTIVATING`, `RUNNING`, `DEACTIVATING`, `STOPPING`,
/// `DEPROVISIONING`, `STOPPED`. A status this code does not know is kept as it came and
/// holds the host like any other but `STOPPED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
    Other(String),
}

impl TaskStatus {
    /// The status as ECS writes it.
    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Activating => "ACTIVATING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => TASK_STOPPED,
            TaskStatus::Other(other) => other,
        }
    }
}

impl From<&str> for TaskStatus {
    fn from(status: &str) -> TaskStatus {
        match status {
            "PROVISIONING" => TaskStatus::Provisioning,
            "PENDING" => TaskStatus::Pending,
            "ACTIVATING" => TaskStatus::Activating,
            "RUNNING" => TaskStatus::Running,
            "DEACTIVATING" => TaskStatus::Deactivating,
            "STOPPING" => TaskStatus::Stopping,
            "DEPROVISIONING" => TaskStatus::Deprovisioning,
            TASK_STOPPED => TaskStatus::Stopped,
            other => TaskStatus::Other(other.to_owned()),
        }
    }
}

impl From<String> for TaskStatus {
    fn from(status: String) -> TaskStatus {
        TaskStatus::from(status.as_str())
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub last_status: TaskStatus,
    /// `RUNNING` or `STOPPED` (what ECS wants of the task).
    pub desired_status: Option<String>,
}

impl ObservedTask {
    /// True while the task still holds anything on the host (containers, connections, an
    /// ENI): every status but `STOPPED`.
    pub fn holds_the_host(&self) -> bool {
        self.last_status != TaskStatus::Stopped
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_statuses_round_trip_and_only_stopped_releases_the_host() {
        for status in [
            "PROVISIONING",
            "PENDING",
            "ACTIVATING",
            "RUNNING",
            "DEACTIVATING",
            "STOPPING",
            "DEPROVISIONING",
            "STOPPED",
            "SOMETHING_NEW",
        ] {
            let parsed = TaskStatus::from(status);
            assert_eq!(parsed.as_str(), status);
            let task = ObservedTask {
                task_arn: "t".into(),
                last_status: parsed,
                desired_status: None,
            };
            assert_eq!(task.holds_the_host(), status != "STOPPED", "{status}");
        }
        assert_eq!(
            TaskStatus::from("SOMETHING_NEW"),
            TaskStatus::Other("SOMETHING_NEW".into())
        );
    }

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
