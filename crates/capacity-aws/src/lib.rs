//! AWS I/O for the ECS capacity functions.
//!
//! One small trait per capability, implemented on the SDK clients, with in-memory fakes for
//! tests. Each capability is one module holding its trait, its implementation on the SDK
//! client and its fake (the fakes are built only under `cfg(test)` or the `fake` feature;
//! `fake` gathers them for the programs' tests):
//!
//! | module | trait | SDK implementation | fake |
//! |---|---|---|---|
//! | [`cluster`] | [`ClusterReader`]: container instances, services, task definitions in use | [`EcsReader`] | `FakeCluster` |
//! | [`services`] | (the services part of [`ClusterReader`]): what waits for room, the daemons | [`services::describe`] | `FakeCluster` |
//! | [`task_definitions`] | [`TaskDefinitionReader`], cached by [`TaskShapeCache`] | [`EcsReader`] | `FakeCluster` |
//! | [`metrics`] | [`MetricsPublisher`]: one PutMetricData call per computation | [`CloudWatchPublisher`] | `FakeMetrics` |
//! | [`scale_in`] | [`scale_in::InstanceTasks`]: the tasks on some EC2 instances | [`scale_in::EcsInstanceTasks`] | `FakeInstanceTasks` |
//! | [`drain`] | one per call the lifecycle drainer makes | [`drain::AwsDrain`] | `FakeDrainWorld` |
//! | [`group`] | [`group::GroupReader`]: the Auto Scaling group's sizes and instances, and how it launches | [`group::AsgGroupReader`] | `FakeGroup` |
//! | [`instance_types`] | [`InstanceTypeReader`]: the instance types the group launches and their sizes, cached by [`GroupLaunchCache`] | [`Ec2InstanceTypes`] | `FakeInstanceTypes` |
//! | [`ec2_query`] | (the transport of [`instance_types`]): EC2's Query protocol on the SDK's runtime, signer and XML reader, instead of the whole `aws-sdk-ec2` | [`ec2_query::Ec2Query`] | the SDK's test HTTP client |
//! | [`attributes`] | [`attributes::InstanceAttributes`]: marks put on and deleted from container instances | [`attributes::EcsAttributes`] | `FakeAttributes` |
//! | [`capacity_provider`] | [`capacity_provider::CapacityProviderOps`]: the cluster's capacity providers, container instances set DRAINING or ACTIVE | [`capacity_provider::EcsCapacityProviders`] | `FakeCapacityProviders` |
//!
//! What the ECS reads share (batch limits, the bounded concurrent describe, ECS's `failures`)
//! is in [`batch`]; the errors of every capability have one shape ([`Error`],
//! [`drain::DrainError`]): an AWS failure names the operation and what it was about, keeps
//! the SDK's full message ([`sdk_message`]) and the error as its `#[source]`. The settings the
//! functions read from the environment share [`config`]; their clients share
//! [`load_sdk_config`].
//!
//! SDK types become `capacity-core` types in [`convert`], with typed errors for missing
//! fields — never a silent 0.

pub mod attributes;
pub mod batch;
pub mod capacity_provider;
pub mod clock;
pub mod cluster;
mod cluster_arn;
pub mod config;
pub mod convert;
pub mod drain;
pub mod ec2_query;
pub mod ecs_json;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod group;
pub mod instance_types;
pub mod metrics;
pub mod scale_in;
pub mod services;
pub mod task_definitions;
pub mod wire;

pub use cluster::{
    ClusterReader, ClusterSnapshot, EcsReader, InstancesRead, TaskPlacement, cluster_name, snapshot,
};
pub use cluster_arn::{ClusterArn, InvalidClusterArn};
pub use error::{BoxError, Error, LambdaError, error_chain, sdk_message};
pub use instance_types::{Ec2InstanceTypes, GroupLaunchCache, InstanceTypeReader};
pub use metrics::{CloudWatchPublisher, Metric, MetricsPublisher, Unit};
pub use task_definitions::{TaskDefinitionReader, TaskShapeCache};
#[doc(hidden)]
pub use tracing as __tracing;

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

/// The SDK configuration every function builds its clients from, once per process: region,
/// credentials and endpoint from the environment (Lambda's, or `AWS_ENDPOINT_URL` in
/// tests), with `timeouts` ([`sdk_timeouts`], or a function's own).
pub async fn load_sdk_config(
    timeouts: aws_config::timeout::TimeoutConfig,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}
