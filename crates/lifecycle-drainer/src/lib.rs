//! `lifecycle-drainer`: drains an ECS container instance before Auto Scaling terminates it.
//!
//! Auto Scaling pauses a terminating instance in a lifecycle hook and notifies an SNS topic
//! (or EventBridge); this function, subscribed to it, then:
//!
//! 1. skips test notifications and transitions other than `EC2_INSTANCE_TERMINATING`;
//! 2. finds the container instance on that EC2 instance in `ECS_CLUSTER` (not there:
//!    complete CONTINUE at once);
//! 3. sets it DRAINING, so ECS moves service tasks away and places nothing new on it;
//! 4. polls its tasks every `POLL_INTERVAL_SECONDS` until every one is STOPPED, recording
//!    lifecycle heartbeats so the hook does not time out;
//! 5. completes the lifecycle action with CONTINUE;
//! 6. if the invocation's deadline comes first, republishes the notification (carrying the
//!    drain's start and attempt count) and returns: the next invocation goes on.
//!
//! The decisions are pure: [`decide`] returns the next step from what is known so far, and
//! the time limits come from [`timing`]. The handler ([`handler::handle`]) only executes the
//! steps over the traits of [`capacity_aws::drain`] and a [`Clock`], so tests pin time. Its
//! Lambda error types are `Retryable.DrainIncomplete` and `Permanent.InvalidEvent`
//! ([`handler`]).
//!
//! ```
//! use std::time::Duration;
//! use capacity_aws::drain::{DrainingState, LifecycleActionResult, ObservedTask};
//! use lifecycle_drainer::decide::{decide, DrainState, DrainStep, Outcome};
//! use lifecycle_drainer::event::Carried;
//! use lifecycle_drainer::timing::TimingPolicy;
//!
//! let policy = TimingPolicy {
//!     poll_interval: Duration::from_secs(5),
//!     max_drain: Duration::from_secs(7200),
//!     deadline_margin: Duration::from_secs(60),
//!     deadline_result: LifecycleActionResult::Continue,
//!     heartbeat_timeout: Some(Duration::from_secs(60)), // configured: the hook is not read
//! };
//! let mut drain = DrainState::start(policy, Some(0), Carried::default(), Some(900_000), 0);
//! assert_eq!(decide(&drain, 0), DrainStep::FindInstance);
//! drain.record(Outcome::InstanceFound(Some("ci-1".into())), 0);
//! drain.record(Outcome::DrainingSet(DrainingState::Draining), 0);
//! let stopping = ObservedTask {
//!     task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/1".into(),
//!     last_status: "STOPPING".into(),
//!     desired_status: Some("STOPPED".into()),
//! };
//! drain.record(Outcome::TasksListed(vec![stopping]), 10_000);
//! // A task still stopping holds the drain: wait for the next poll.
//! assert_eq!(decide(&drain, 10_000), DrainStep::Wait { sleep: Duration::from_secs(5) });
//! ```

pub mod config;
pub mod decide;
pub mod event;
pub mod handler;
pub mod timing;

pub use capacity_aws::clock::{Clock, SystemClock};
pub use config::{Config, ConfigError, ENV_VARS};
pub use handler::{HandlerError, RecordOutcome, handle};

/// Bounds on every AWS call: 3 s to connect, 5 s per attempt, 15 s per call with the SDK's
/// retries. A hung request must not eat the margin kept for republishing.
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    capacity_aws::sdk_timeouts()
}

#[cfg(test)]
mod tests;
