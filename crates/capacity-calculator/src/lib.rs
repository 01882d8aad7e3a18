//! `capacity-calculator`: an AWS Lambda function run on every EventBridge "ECS Container
//! Instance State Change" event and on every "ECS Service Action" placement failure. It reads
//! the whole cluster and its services, computes ContainerCapacity, IdleHostCapacity, the tasks
//! that wait for room and the hosts that hold them (see `capacity-core`) and publishes them to
//! CloudWatch in one call.
//!
//! The binary (`src/main.rs`) only wires the SDK clients to [`handler::handle`]: parse →
//! read → decide (capacity-core's `run::decide`) → execute → publish.

pub mod cache;
pub mod config;
pub mod deps;
pub mod error;
pub mod event;
mod execute;
pub mod handler;
mod headroom;
pub mod publish;
mod read;
pub mod summary;

pub use capacity_core::run::{PlanMemory, ScalingMode, Trigger};
pub use config::{Config, ConfigError, ENV_VARS};
pub use deps::{Deps, Unconfigured};
pub use error::HandlerError;
pub use handler::handle;
pub use summary::{ActingSummary, GroupSummary, NothingToDo, Outcome, Source, Summary};
