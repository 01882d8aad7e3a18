//! `capacity-calculator`: an AWS Lambda function run on every EventBridge "ECS Container
//! Instance State Change" event and on every "ECS Service Action" placement failure. It reads
//! the whole cluster and its services, computes ContainerCapacity, IdleHostCapacity, the tasks
//! that wait for room and the hosts that hold them (see `capacity-core`) and publishes them to
//! CloudWatch in one call.
//!
//! The binary (`src/main.rs`) only wires the SDK clients to [`handler::handle`].

pub mod acting;
pub mod cache;
pub mod config;
pub mod consolidate;
pub mod event;
pub mod handler;

pub use config::ScalingMode;
pub use config::{Config, ConfigError, ENV_VARS};
pub use handler::{
    ActingSummary, Deps, GroupSummary, HandlerError, NothingToDo, Outcome, PlanMemory, Source,
    Summary, Trigger, Unconfigured, handle,
};
