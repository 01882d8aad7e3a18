//! AWS I/O for the ECS capacity functions.
//!
//! One small trait per capability, implemented on the SDK clients, with in-memory fakes for
//! tests (`fake`, behind the `fake` feature):
//! * [`ClusterReader`]: every container instance of a cluster (ListContainerInstances page
//!   by page, DescribeContainerInstances in batches of 100, concurrently with a bound), and
//!   its ACTIVE services ([`services`]: what waits for room, the daemons) and the task
//!   definitions in use (the services' deployments, running tasks).
//! * [`TaskDefinitionReader`]: a task definition by ARN, cached across warm invocations by
//!   [`TaskShapeCache`] (revisions are immutable).
//! * [`MetricsPublisher`]: one PutMetricData call per computation.
//! * [`drain`]: what the lifecycle drainer needs.
//!
//! SDK types become `capacity-core` types in [`convert`], with typed errors for missing
//! fields — never a silent 0.

pub mod clock;
pub mod cluster;
mod cluster_arn;
pub mod convert;
pub mod drain;
pub mod ecs_json;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod metrics;
pub mod scale_in;
pub mod services;

pub use cluster::{
    ClusterReader, ClusterSnapshot, EcsReader, InstancesRead, TaskDefinitionReader, TaskShapeCache,
    cluster_name, snapshot,
};
pub use cluster_arn::{ClusterArn, InvalidClusterArn};
pub use error::{Error, error_chain};
pub use metrics::{CloudWatchPublisher, Metric, MetricsPublisher, Unit};

/// Timeouts for every SDK client of the functions: a dropped connection or a stalled answer
/// fails the attempt (which the SDK then retries) instead of hanging until Lambda's own
/// timeout kills the invocation mid-work.
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    use std::time::Duration;
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}
