//! `capacity-calculator`: an AWS Lambda function run on every EventBridge "ECS Container
//! Instance State Change" event. It reads the whole cluster, computes ContainerCapacity and
//! IdleHostCapacity (see `capacity-core`) and publishes them to CloudWatch in one call.
//!
//! The binary (`src/main.rs`) only wires the SDK clients to [`handler::handle`].

pub mod cache;
pub mod config;
pub mod event;
pub mod handler;

pub use config::{Config, ConfigError, ENV_VARS};
pub use handler::{Deps, HandlerError, Source, Summary, handle};
