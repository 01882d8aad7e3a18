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
//! The decisions are pure ([`decide`]); the handler ([`handler::handle`]) executes them over
//! the traits of [`capacity_aws::drain`] and a [`Clock`], so tests pin time.
//!
//! ```
//! use std::time::Duration;
//! use capacity_aws::drain::{LifecycleActionResult, ObservedTask};
//! use lifecycle_drainer::decide::{decide, DrainStep, Observation, Timing};
//!
//! let timing = Timing {
//!     poll_interval: Duration::from_secs(5),
//!     heartbeat_interval: Duration::from_secs(30),
//!     republish_at_ms: Some(900_000),
//!     give_up_at_ms: 7_200_000,
//!     deadline_result: LifecycleActionResult::Continue,
//! };
//! let stopping = ObservedTask {
//!     task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/1".into(),
//!     last_status: "STOPPING".into(),
//!     desired_status: Some("STOPPED".into()),
//! };
//! // A task still stopping holds the drain: wait for the next poll.
//! let step = decide(&Observation::Tasks(vec![stopping]), Some(0), 10_000, &timing);
//! assert_eq!(step, DrainStep::Wait { heartbeat: false, sleep: Duration::from_secs(5) });
//! ```

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod config;
pub mod decide;
pub mod event;
pub mod handler;

pub use config::{Config, ConfigError, ENV_VARS};
pub use handler::{HandlerError, RecordOutcome, handle};

/// Bounds on every AWS call: 3 s to connect, 5 s per attempt, 15 s per call with the SDK's
/// retries. A hung request must not eat the margin kept for republishing.
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    capacity_aws::sdk_timeouts()
}

/// Time, passed in so tests can pin it.
pub trait Clock: Send + Sync {
    /// Now, in Unix epoch milliseconds.
    fn now_ms(&self) -> u64;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock: system time and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(decide::millis)
            .unwrap_or(0)
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests;
