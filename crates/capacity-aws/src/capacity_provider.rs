//! Consolidating on top of ECS capacity providers: [`CapacityProviderOps`] (the cluster's
//! capacity providers read, container instances set DRAINING or ACTIVE), its implementation
//! on the ECS client ([`EcsCapacityProviders`]) and, for tests, `FakeCapacityProviders`.
//!
//! In capacity-provider mode the calculator drains the hosts its plan removes and lets ECS do
//! the rest: it moves their tasks, managed termination protection releases the empty host,
//! managed scaling removes it. That holds only in one shape of cluster, which
//! [`ClusterShape::check`] verifies before anything is drained: the cluster's capacity
//! providers (`DescribeClusters`) include one (`DescribeCapacityProviders`) whose Auto
//! Scaling group is the calculator's, with managed scaling and managed termination protection
//! both `ENABLED`. Otherwise a drained host would stay, empty and paid for, with nothing to
//! remove it.
//!
//! `UpdateContainerInstancesState` takes at most [`STATES_PER_CALL`] (10) container
//! instances a call; ECS's `failures` for any of them is an error naming them
//! ([`Error::Rejected`]): the change was not made for those. Setting a status a host already
//! has changes nothing, so a retry never acts twice.

use std::future::Future;

use crate::Error;

/// AWS limit: UpdateContainerInstancesState takes at most 10 container instances a call.
pub const STATES_PER_CALL: usize = 10;

/// AWS limit: DescribeCapacityProviders describes at most 100 capacity providers a call.
const PROVIDERS_PER_CALL: usize = 100;

pub use capacity_core::run::{ClusterShape, ProviderShape, TargetStatus};

/// Reads the cluster's capacity providers; sets container instances DRAINING or ACTIVE.
pub trait CapacityProviderOps: Send + Sync {
    /// The capacity providers `cluster` (name or ARN) lists, each described.
    fn shape(&self, cluster: &str) -> impl Future<Output = Result<ClusterShape, Error>> + Send;

    /// Sets every container instance of `arns` (full ARNs) in `cluster` to `status`.
    fn set_status(
        &self,
        cluster: &str,
        arns: &[String],
        status: TargetStatus,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// [`CapacityProviderOps`] on the ECS SDK client. Clone is cheap.
#[derive(Debug, Clone)]
pub struct EcsCapacityProviders {
    client: aws_sdk_ecs::Client,
}

impl EcsCapacityProviders {
    pub fn new(client: aws_sdk_ecs::Client) -> EcsCapacityProviders {
        EcsCapacityProviders { client }
    }
}

/// ECS's `failures` entry for a describe of `cluster`: the read is not whole.
fn partial(operation: &'static str, cluster: &str, failure: &aws_sdk_ecs::types::Failure) -> Error {
    Error::PartialRead {
        operation,
        cluster: cluster.to_owned(),
        failures: format!(
            "{}: {}",
            failure.arn().unwrap_or("?"),
            failure.reason().unwrap_or("no reason given")
        ),
    }
}

fn enabled<T: AsRef<str>>(status: Option<T>) -> bool {
    status.is_some_and(|s| s.as_ref() == "ENABLED")
}

impl CapacityProviderOps for EcsCapacityProviders {
    async fn shape(&self, cluster: &str) -> Result<ClusterShape, Error> {
        const CLUSTERS: &str = "DescribeClusters";
        const PROVIDERS: &str = "DescribeCapacityProviders";
        let out = self
            .client
            .describe_clusters()
            .clusters(cluster)
            .send()
            .await
            .map_err(|e| Error::aws(CLUSTERS, cluster, e))?;
        if let Some(failure) = out.failures().first() {
            return Err(partial(CLUSTERS, cluster, failure));
        }
        let Some(found) = out.clusters().first() else {
            return Err(Error::MissingField {
                what: "cluster",
                id: cluster.to_owned(),
                field: "clusters",
            });
        };
        let names: Vec<String> = found.capacity_providers().to_vec();
        let mut providers = Vec::with_capacity(names.len());
        for chunk in names.chunks(PROVIDERS_PER_CALL) {
            let mut token = None;
            loop {
                let page = self
                    .client
                    .describe_capacity_providers()
                    .set_capacity_providers(Some(chunk.to_vec()))
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| Error::aws(PROVIDERS, cluster, e))?;
                if let Some(failure) = page.failures().first() {
                    return Err(partial(PROVIDERS, cluster, failure));
                }
                for p in page.capacity_providers() {
                    let asg = p.auto_scaling_group_provider();
                    providers.push(ProviderShape {
                        name: p.name().unwrap_or_default().to_owned(),
                        auto_scaling_group: asg.map(|a| a.auto_scaling_group_arn().to_owned()),
                        managed_scaling: enabled(
                            asg.and_then(|a| a.managed_scaling())
                                .and_then(|m| m.status()),
                        ),
                        managed_termination_protection: enabled(
                            asg.and_then(|a| a.managed_termination_protection()),
                        ),
                    });
                }
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(ClusterShape { providers })
    }

    async fn set_status(
        &self,
        cluster: &str,
        arns: &[String],
        status: TargetStatus,
    ) -> Result<(), Error> {
        const OP: &str = "UpdateContainerInstancesState";
        for chunk in arns.chunks(STATES_PER_CALL) {
            let out = self
                .client
                .update_container_instances_state()
                .cluster(cluster)
                .set_container_instances(Some(chunk.to_vec()))
                .status(aws_sdk_ecs::types::ContainerInstanceStatus::from(
                    status.as_str(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws(OP, cluster, e))?;
            if !out.failures().is_empty() {
                let failures: Vec<String> = out
                    .failures()
                    .iter()
                    .map(|f| {
                        format!(
                            "{} ({})",
                            f.arn().unwrap_or("?"),
                            f.reason().unwrap_or("no reason given")
                        )
                    })
                    .collect();
                return Err(Error::Rejected {
                    operation: OP,
                    cluster: cluster.to_owned(),
                    failures: failures.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// An in-memory [`CapacityProviderOps`] for tests: answers `shape` (or fails), records each
/// `set_status` call and applies it to `statuses` (give a `FakeCluster` the same map to see
/// it), fails the calls chosen.
/// One `set_status` call a `FakeCapacityProviders` recorded: the instances and the status.
#[cfg(any(test, feature = "fake"))]
pub type StatusCall = (Vec<String>, TargetStatus);

#[cfg(any(test, feature = "fake"))]
#[derive(Debug, Default, Clone)]
pub struct FakeCapacityProviders {
    pub shape: ClusterShape,
    /// Fail every `shape`.
    pub fail_shape: bool,
    /// Fail every `set_status`.
    pub fail_set: bool,
    /// `(arns, status)` of every call, one entry per AWS call.
    pub calls: std::sync::Arc<std::sync::Mutex<Vec<StatusCall>>>,
    /// How many `shape` calls were made.
    pub shape_calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[cfg(any(test, feature = "fake"))]
impl FakeCapacityProviders {
    /// A cluster with one provider of `group`, managed scaling and termination protection as
    /// given.
    pub fn of_group(group: &str, managed_scaling: bool, protection: bool) -> Self {
        FakeCapacityProviders {
            shape: ClusterShape {
                providers: vec![ProviderShape {
                    name: format!("{group}-provider"),
                    auto_scaling_group: Some(format!(
                        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/{group}"
                    )),
                    managed_scaling,
                    managed_termination_protection: protection,
                }],
            },
            ..FakeCapacityProviders::default()
        }
    }

    pub fn calls(&self) -> Vec<StatusCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[cfg(any(test, feature = "fake"))]
impl CapacityProviderOps for FakeCapacityProviders {
    async fn shape(&self, cluster: &str) -> Result<ClusterShape, Error> {
        self.shape_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.fail_shape {
            return Err(Error::injected("DescribeCapacityProviders", cluster));
        }
        Ok(self.shape.clone())
    }

    async fn set_status(
        &self,
        cluster: &str,
        arns: &[String],
        status: TargetStatus,
    ) -> Result<(), Error> {
        for chunk in arns.chunks(STATES_PER_CALL) {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push((chunk.to_vec(), status));
            }
            if self.fail_set {
                return Err(Error::injected("UpdateContainerInstancesState", cluster));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
    use aws_sdk_ecs::types::{
        AutoScalingGroupProvider, CapacityProvider, Cluster, Failure, ManagedScaling,
        ManagedScalingStatus, ManagedTerminationProtection,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn provider(name: &str, group: &str, scaling: bool, protection: bool) -> ProviderShape {
        ProviderShape {
            name: name.to_owned(),
            auto_scaling_group: Some(group.to_owned()),
            managed_scaling: scaling,
            managed_termination_protection: protection,
        }
    }

    #[tokio::test]
    async fn the_shape_is_read_from_the_cluster_and_its_providers() {
        let clusters = mock!(aws_sdk_ecs::Client::describe_clusters)
            .match_requests(|r| r.clusters() == ["prod"])
            .then_output(|| {
                aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder()
                    .clusters(
                        Cluster::builder()
                            .cluster_name("prod")
                            .capacity_providers("prod-cp")
                            .build(),
                    )
                    .build()
            });
        let providers = mock!(aws_sdk_ecs::Client::describe_capacity_providers)
            .match_requests(|r| r.capacity_providers() == ["prod-cp"])
            .then_output(|| {
                aws_sdk_ecs::operation::describe_capacity_providers::DescribeCapacityProvidersOutput::builder()
                    .capacity_providers(
                        CapacityProvider::builder()
                            .name("prod-cp")
                            .auto_scaling_group_provider(
                                AutoScalingGroupProvider::builder()
                                    .auto_scaling_group_arn("prod-hosts")
                                    .managed_scaling(
                                        ManagedScaling::builder()
                                            .status(ManagedScalingStatus::Enabled)
                                            .build(),
                                    )
                                    .managed_termination_protection(
                                        ManagedTerminationProtection::Disabled,
                                    )
                                    .build()
                                    .expect("provider"),
                            )
                            .build(),
                    )
                    .build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&clusters, &providers]);
        let shape = EcsCapacityProviders::new(ecs)
            .shape("prod")
            .await
            .expect("shape");
        assert_eq!(
            shape.providers,
            [provider("prod-cp", "prod-hosts", true, false)]
        );
    }

    #[tokio::test]
    async fn a_cluster_ecs_does_not_find_is_an_error_never_an_empty_shape() {
        let clusters = mock!(aws_sdk_ecs::Client::describe_clusters).then_output(|| {
            aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder()
                .failures(
                    Failure::builder()
                        .arn("arn:aws:ecs:eu-west-1:1:cluster/prod")
                        .reason("MISSING")
                        .build(),
                )
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&clusters]);
        let err = EcsCapacityProviders::new(ecs)
            .shape("prod")
            .await
            .expect_err("not found");
        let text = err.to_string();
        assert!(
            text.contains("DescribeClusters") && text.contains("MISSING"),
            "{text}"
        );
        // An answer without the cluster and without failures is no shape either.
        let empty = mock!(aws_sdk_ecs::Client::describe_clusters).then_output(|| {
            aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder().build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&empty]);
        assert!(EcsCapacityProviders::new(ecs).shape("prod").await.is_err());
    }

    #[tokio::test]
    async fn states_go_ten_a_call_and_a_failure_names_the_instance() {
        let arns: Vec<String> = (0..12)
            .map(|i| format!("arn:aws:ecs:eu-west-1:1:container-instance/prod/{i}"))
            .collect();
        let update = mock!(aws_sdk_ecs::Client::update_container_instances_state)
            .match_requests(|r| {
                r.container_instances().len() <= STATES_PER_CALL
                    && r.status() == Some(&aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
            })
            .then_output(|| UpdateContainerInstancesStateOutput::builder().build());
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&update]);
        EcsCapacityProviders::new(ecs)
            .set_status("prod", &arns, TargetStatus::Draining)
            .await
            .expect("drained");
        assert_eq!(update.num_calls(), 2, "12 instances: 10 + 2");

        let refused =
            mock!(aws_sdk_ecs::Client::update_container_instances_state).then_output(|| {
                UpdateContainerInstancesStateOutput::builder()
                    .failures(
                        Failure::builder()
                            .arn("arn:aws:ecs:eu-west-1:1:container-instance/prod/7")
                            .reason("MISSING")
                            .build(),
                    )
                    .build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&refused]);
        let err = EcsCapacityProviders::new(ecs)
            .set_status("prod", &arns[..1], TargetStatus::Active)
            .await
            .expect_err("rejected");
        let text = err.to_string();
        assert!(
            text.contains("UpdateContainerInstancesState")
                && text.contains("prod/7")
                && text.contains("MISSING"),
            "{text}"
        );
    }
}
