//! What the handler needs, built once per process and reused across warm invocations.

use std::sync::Arc;

use capacity_aws::TaskDefinitionReader;
use capacity_aws::TaskShapeCache;
use capacity_aws::attributes::InstanceAttributes;
use capacity_aws::capacity_provider::{CapacityProviderOps, ClusterShape, TargetStatus};
use capacity_aws::clock::{Clock, SystemClock};
use capacity_aws::group::{AutoScalingGroup, GroupReader};
use capacity_aws::instance_types::InstanceTypeReader;
use capacity_core::fit::{GroupLaunch, LaunchSpec};
use capacity_core::run::PlanMemory;

use crate::cache::ClusterCache;
use crate::config::Config;

/// How long a read of the cluster's capacity providers is trusted: they are read again after
/// 10 minutes (and on every cold start).
pub const SHAPE_CHECK_INTERVAL_SECS: u64 = 600;

/// The last read of the cluster's capacity providers (capacity-provider mode).
#[derive(Debug, Clone)]
pub(crate) struct ShapeRead {
    pub(crate) at: u64,
    pub(crate) shape: ClusterShape,
}

/// What the handler needs, built once per process and reused across warm invocations.
/// `G` reads the Auto Scaling group, `A` marks container instances; both default to
/// [`Unconfigured`] (every call fails, saying so), for a calculator run without a group.
pub struct Deps<C, T, M, G = Unconfigured, A = Unconfigured, P = Unconfigured, L = Unconfigured> {
    pub cluster: C,
    pub task_shapes: TaskShapeCache<T>,
    pub metrics: M,
    pub group: G,
    pub attributes: A,
    /// Reads the capacity providers and sets hosts DRAINING or ACTIVE (capacity-provider
    /// mode).
    pub capacity_providers: P,
    /// Reads the group's instance types (cached per launch specification): new hosts are
    /// sized on the type it launches.
    pub instance_types: L,
    pub config: Config,
    /// The last read of the cluster, brought up to date by the events.
    pub cache: ClusterCache,
    /// The wall clock, passed in so that tests pin it.
    pub clock: Arc<dyn Clock>,
    /// The plan's stability and quiet period, kept across warm invocations.
    pub memory: std::sync::Mutex<PlanMemory>,
    /// The last read of the cluster's capacity providers (capacity-provider mode).
    pub(crate) shape: std::sync::Mutex<Option<ShapeRead>>,
}

impl<C, T: TaskDefinitionReader, M> Deps<C, T, M> {
    /// Dependencies with empty caches and the system clock, and no group: add it with
    /// [`Deps::with_group`].
    pub fn new(cluster: C, task_definitions: T, metrics: M, config: Config) -> Deps<C, T, M> {
        Deps {
            cluster,
            task_shapes: TaskShapeCache::new(task_definitions),
            metrics,
            group: Unconfigured,
            attributes: Unconfigured,
            capacity_providers: Unconfigured,
            instance_types: Unconfigured,
            cache: ClusterCache::new(config.cluster_refresh),
            config,
            clock: Arc::new(SystemClock),
            memory: std::sync::Mutex::default(),
            shape: std::sync::Mutex::default(),
        }
    }
}

impl<C, T, M, G, A, P, L> Deps<C, T, M, G, A, P, L> {
    /// The same dependencies reading the group with `group` and marking hosts with
    /// `attributes`.
    pub fn with_group<G2, A2>(self, group: G2, attributes: A2) -> Deps<C, T, M, G2, A2, P, L> {
        Deps {
            cluster: self.cluster,
            task_shapes: self.task_shapes,
            metrics: self.metrics,
            group,
            attributes,
            capacity_providers: self.capacity_providers,
            instance_types: self.instance_types,
            config: self.config,
            cache: self.cache,
            clock: self.clock,
            memory: self.memory,
            shape: self.shape,
        }
    }

    /// The same dependencies reading the group's instance types with `instance_types`.
    pub fn with_instance_types<L2>(self, instance_types: L2) -> Deps<C, T, M, G, A, P, L2> {
        Deps {
            cluster: self.cluster,
            task_shapes: self.task_shapes,
            metrics: self.metrics,
            group: self.group,
            attributes: self.attributes,
            capacity_providers: self.capacity_providers,
            instance_types,
            config: self.config,
            cache: self.cache,
            clock: self.clock,
            memory: self.memory,
            shape: self.shape,
        }
    }

    /// The same dependencies acting through `capacity_providers` (capacity-provider mode).
    pub fn with_capacity_providers<P2>(self, capacity_providers: P2) -> Deps<C, T, M, G, A, P2, L> {
        Deps {
            cluster: self.cluster,
            task_shapes: self.task_shapes,
            metrics: self.metrics,
            group: self.group,
            attributes: self.attributes,
            capacity_providers,
            instance_types: self.instance_types,
            config: self.config,
            cache: self.cache,
            clock: self.clock,
            memory: self.memory,
            shape: self.shape,
        }
    }
}

/// The group reader and host marker of a calculator given none: every call fails, naming
/// what is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconfigured;

impl GroupReader for Unconfigured {
    async fn group(&self, name: &str) -> Result<AutoScalingGroup, capacity_aws::Error> {
        Err(capacity_aws::Error::GroupNotFound {
            group: format!("{name} (no Auto Scaling client configured)"),
        })
    }
}

impl InstanceAttributes for Unconfigured {
    async fn put(
        &self,
        cluster: &str,
        _: &[capacity_aws::attributes::InstanceAttribute],
    ) -> Result<(), capacity_aws::Error> {
        Err(unconfigured("PutAttributes", cluster))
    }

    async fn delete(
        &self,
        cluster: &str,
        _: &[capacity_aws::attributes::InstanceAttribute],
    ) -> Result<(), capacity_aws::Error> {
        Err(unconfigured("DeleteAttributes", cluster))
    }

    async fn cluster_tags(
        &self,
        cluster: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, capacity_aws::Error> {
        Err(Unconfigured::no_tags(cluster))
    }

    async fn tag_cluster(
        &self,
        cluster: &str,
        _: &str,
        _: &str,
    ) -> Result<(), capacity_aws::Error> {
        Err(unconfigured("TagResource", cluster))
    }
}

impl Unconfigured {
    fn no_tags(cluster: &str) -> capacity_aws::Error {
        unconfigured("ListTagsForResource", cluster)
    }
}

impl CapacityProviderOps for Unconfigured {
    async fn shape(&self, cluster: &str) -> Result<ClusterShape, capacity_aws::Error> {
        Err(unconfigured("DescribeCapacityProviders", cluster))
    }

    async fn set_status(
        &self,
        cluster: &str,
        _: &[String],
        _: TargetStatus,
    ) -> Result<(), capacity_aws::Error> {
        Err(unconfigured("UpdateContainerInstancesState", cluster))
    }
}

impl InstanceTypeReader for Unconfigured {
    async fn group_launch(&self, _: &LaunchSpec) -> Result<GroupLaunch, capacity_aws::Error> {
        Err(capacity_aws::Error::LaunchNotFound {
            what: "the group's instance types",
            id: "(no EC2 client configured)".to_owned(),
        })
    }
}

fn unconfigured(operation: &'static str, cluster: &str) -> capacity_aws::Error {
    capacity_aws::Error::Rejected {
        operation,
        cluster: cluster.to_owned(),
        failures: "no ECS attribute client configured".to_owned(),
    }
}

impl<C, T, M, G, A, P, L> Deps<C, T, M, G, A, P, L> {
    /// Seconds since the Unix epoch on the deps' clock.
    pub(crate) fn unix_now(&self) -> u64 {
        self.clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
