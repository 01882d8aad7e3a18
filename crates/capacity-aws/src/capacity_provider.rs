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

/// One Auto Scaling group capacity provider of the cluster, as ECS describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProviderShape {
    pub name: String,
    /// `autoScalingGroupProvider.autoScalingGroupArn`: the group's ARN, or its name (ECS
    /// accepts either when the provider is created). `None` for a provider that is not of an
    /// Auto Scaling group (FARGATE, …).
    pub auto_scaling_group: Option<String>,
    /// `managedScaling.status == ENABLED`.
    pub managed_scaling: bool,
    /// `managedTerminationProtection == ENABLED`.
    pub managed_termination_protection: bool,
}

impl ProviderShape {
    /// Whether this provider is of the Auto Scaling group named `group`: its
    /// `autoScalingGroupArn` is that name, or an ARN ending in `autoScalingGroupName/<group>`.
    pub fn is_of_group(&self, group: &str) -> bool {
        self.auto_scaling_group.as_deref().is_some_and(|g| {
            g == group
                || g.rsplit_once(":autoScalingGroupName/")
                    .is_some_and(|(_, name)| name == group)
        })
    }
}

/// The cluster's capacity providers as one read saw them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ClusterShape {
    /// The capacity providers the cluster lists (`DescribeClusters` `capacityProviders`).
    pub providers: Vec<ProviderShape>,
}

impl ClusterShape {
    /// `Ok(provider name)` when the cluster is in the shape capacity-provider mode needs for
    /// `group`; otherwise why not, naming what to change.
    pub fn check(&self, group: &str) -> Result<String, String> {
        let Some(provider) = self.providers.iter().find(|p| p.is_of_group(group)) else {
            let listed: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "no capacity provider of the cluster is of Auto Scaling group {group} (the cluster lists {}): drained hosts would never be removed",
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            ));
        };
        let mut missing = Vec::new();
        if !provider.managed_scaling {
            missing.push("managed scaling");
        }
        if !provider.managed_termination_protection {
            missing.push("managed termination protection");
        }
        if missing.is_empty() {
            Ok(provider.name.clone())
        } else {
            Err(format!(
                "capacity provider {} of Auto Scaling group {group} has {} DISABLED: nothing would remove the hosts drained (turn it on, or deploy with ScalingMode self-managed)",
                provider.name,
                missing.join(" and ")
            ))
        }
    }
}

/// The status a container instance is set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetStatus {
    Draining,
    Active,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Draining => "DRAINING",
            TargetStatus::Active => "ACTIVE",
        }
    }
}

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

    #[test]
    fn the_shape_needs_the_groups_provider_with_both_managed_settings() {
        let arn =
            "arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:u-1:autoScalingGroupName/prod-hosts";
        let ok = ClusterShape {
            providers: vec![
                provider("other", "other-hosts", true, true),
                provider("prod", arn, true, true),
            ],
        };
        assert_eq!(ok.check("prod-hosts").as_deref(), Ok("prod"));
        // By name too, as ECS accepts it.
        let by_name = ClusterShape {
            providers: vec![provider("prod", "prod-hosts", true, true)],
        };
        assert!(by_name.check("prod-hosts").is_ok());
        // A group whose name only ends the same is not it.
        assert!(
            ClusterShape {
                providers: vec![provider(
                    "x",
                    "arn:...:autoScalingGroupName/old-prod-hosts",
                    true,
                    true
                )],
            }
            .check("prod-hosts")
            .is_err()
        );
        let no_protection = ClusterShape {
            providers: vec![provider("prod", arn, true, false)],
        };
        let why = no_protection.check("prod-hosts").expect_err("refused");
        assert!(
            why.contains("managed termination protection") && why.contains("prod"),
            "{why}"
        );
        let neither = ClusterShape {
            providers: vec![provider("prod", arn, false, false)],
        };
        let why = neither.check("prod-hosts").expect_err("refused");
        assert!(
            why.contains("managed scaling and managed termination protection"),
            "{why}"
        );
        let why = ClusterShape::default()
            .check("prod-hosts")
            .expect_err("refused");
        assert!(why.contains("lists none"), "{why}");
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
