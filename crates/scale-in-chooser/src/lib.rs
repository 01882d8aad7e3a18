//! `scale-in-chooser`: an EC2 Auto Scaling custom termination policy (a Lambda function Auto
//! Scaling calls synchronously before a scale-in, an instance refresh, a maximum-lifetime
//! replacement or an Availability Zone rebalancing) that removes the ECS hosts cheapest to
//! drain.
//!
//! For each `CapacityToTerminate` entry it answers exactly that many of the instances Auto
//! Scaling suggests for that Availability Zone and market option: first those not registered
//! in `ECS_CLUSTER`, then those with the fewest tasks (running + pending), the group's own
//! order among equals. The ranking is pure ([`capacity_core::scale_in::choose`]); the handler
//! ([`handler::handle`]) only reads the tasks ([`capacity_aws::scale_in::InstanceTasks`],
//! one filtered ListContainerInstances and one DescribeContainerInstances per 100) within
//! `ECS_READ_BUDGET_MS` (default 1,200 ms of Auto Scaling's 2,000). When ECS cannot be read
//! in time the answer is the group's own suggestions, as many as asked, in its order: the
//! lifecycle hook still drains them, and a scale-in is never blocked.
//!
//! ```
//! use capacity_aws::scale_in::FakeInstanceTasks;
//! use scale_in_chooser::{Config, Deps, handle};
//!
//! let deps = Deps::new(
//!     // i-1 runs 3 tasks, i-2 none; i-3 is not in the cluster.
//!     FakeInstanceTasks::with(&[("i-1", 3), ("i-2", 0)]),
//!     Config::from_lookup(|k| (k == "ECS_CLUSTER").then(|| "prod".to_owned()))?,
//! );
//! let payload = serde_json::json!({
//!     "CapacityToTerminate": [{"AvailabilityZone": "us-east-1a", "Capacity": 2, "InstanceMarketOption": "on-demand"}],
//!     "Instances": [
//!         {"AvailabilityZone": "us-east-1a", "InstanceId": "i-1", "InstanceMarketOption": "on-demand"},
//!         {"AvailabilityZone": "us-east-1a", "InstanceId": "i-2", "InstanceMarketOption": "on-demand"},
//!         {"AvailabilityZone": "us-east-1a", "InstanceId": "i-3", "InstanceMarketOption": "on-demand"}
//!     ],
//!     "Cause": "SCALE_IN"
//! });
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! let outcome = runtime.block_on(handle(payload, &deps))?;
//! assert_eq!(outcome.response.instance_ids, ["i-3", "i-2"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod event;
pub mod handler;

use std::time::Duration;

pub use config::{Config, ConfigError, ENV_VARS};
pub use event::{TerminationPolicyInput, TerminationPolicyResponse};
pub use handler::{Basis, Deps, HandlerError, Outcome, handle};

/// Timeouts of the ECS client, within the read budget: a connection that does not open, or
/// an answer that does not come, fails its attempt after half the budget (leaving room for
/// one retry) and the whole call after the budget. The handler's own timeout on the read
/// is the guarantee; these keep a hung call from holding a connection past it.
pub fn sdk_timeouts(read_budget: Duration) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(read_budget / 2)
        .operation_attempt_timeout(read_budget / 2)
        .operation_timeout(read_budget)
        .build()
}
