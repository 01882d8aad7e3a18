//! Step 4: the figures, in one PutMetricData call.

use capacity_aws::{ClusterArn, Metric, MetricsPublisher, Unit};
use capacity_core::run::{Decision, Settled};
use capacity_core::{Assessment, Resource, ScaleDecision};

use crate::deps::Deps;
use crate::error::HandlerError;

/// Metric names, all with dimension `ClusterName`.
pub const CONTAINER_CAPACITY: &str = "ContainerCapacity";
pub const IDLE_HOST_CAPACITY: &str = "IdleHostCapacity";
/// Hosts of the largest type that hold every task waiting for room and keep the headroom (0
/// when there is room and nothing waits): the step scaling policy adds this many.
/// High-resolution, for the 10-second scale-out alarm.
pub const HOSTS_TO_ADD: &str = "HostsToAdd";
/// Tasks of the cluster's services that ECS found no room for (Σ over deployments of
/// desired − running − pending). High-resolution.
pub const UNPLACED_TASKS: &str = "UnplacedTasks";
/// Per-resource capacity, with a second dimension `Resource` (CPU, MEMORY, PORTS, …).
pub const RESOURCE_CAPACITY: &str = "ResourceCapacity";
/// ACTIVE container instances with a connected agent.
pub const ACTIVE_INSTANCES: &str = "ActiveContainerInstances";
/// The consolidation plan's size: hosts the cluster can do without, their tasks re-placed on
/// the hosts that stay with the headroom still free, within the disruption budget and
/// stability window (capacity-core's `plan_scale_in`). Published for observation: no alarm
/// of the template acts on it yet.
pub const HOSTS_TO_REMOVE: &str = "HostsToRemove";
/// The consolidation plan's size, bounded by what the group may lose: published in both
/// `CONSOLIDATION` settings (observing, it is the plan's whole output; nothing acts on it).
pub const HOSTS_REMOVABLE: &str = "HostsRemovable";
/// Capacity-provider mode: drains of this function given up this run (still tasks after
/// `DRAIN_GIVE_UP_SECONDS`, or the host can no longer be removed): set ACTIVE again.
pub const DRAINS_GIVEN_UP: &str = "DrainsGivenUp";
/// Capacity-provider mode: container instances this run set DRAINING.
pub const HOSTS_DRAINED: &str = "HostsDrained";
/// Capacity-provider mode: container instances this function had drained that this run set
/// ACTIVE again because tasks wait.
pub const HOSTS_REACTIVATED: &str = "HostsReactivated";
/// What today's tasks would strand on the type the group launches, packed first-fit
/// decreasing (capacity-core's `fit`): vCPUs free on hosts whose memory no task of the mix
/// fits in. Published when the group's types and a task listing were read.
pub const STRANDED_VCPU: &str = "StrandedVcpu";
/// The same for memory, GiB: free on hosts whose CPU no task of the mix fits in.
pub const STRANDED_MEMORY_GIB: &str = "StrandedMemoryGiB";
/// Capacity-provider mode: 1 when the cluster is not in the shape the mode needs (or it could
/// not be read) and nothing is drained, 0 when it is.
pub const CONSOLIDATION_REFUSED: &str = "ConsolidationRefused";

/// Every figure of the assessment and, as the run settled them, `HostsToRemove` (when known)
/// and capacity-provider mode's counts, in one PutMetricData call; how many were sent.
pub(crate) async fn publish<C, T, M, G, A, P, L>(
    cluster: &ClusterArn,
    decision: &Decision,
    settled: &Settled,
    capacity_provider_mode: Option<bool>,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Result<usize, HandlerError>
where
    M: MetricsPublisher,
{
    let count = |name, value: u32| Metric {
        name,
        value: f64::from(value),
        unit: Unit::Count,
        dimensions: vec![("ClusterName", cluster.name().to_owned())],
        high_resolution: false,
    };
    let mut metrics = metrics(cluster, &decision.assessment);
    metrics.push(count(HOSTS_REMOVABLE, settled.hosts_removable));
    if let Some(fit) = &decision.fit {
        for (name, value) in [
            (STRANDED_VCPU, fit.stranded_vcpu),
            (STRANDED_MEMORY_GIB, fit.stranded_memory_gib),
        ] {
            metrics.push(Metric {
                name,
                value,
                unit: Unit::None,
                dimensions: vec![("ClusterName", cluster.name().to_owned())],
                high_resolution: false,
            });
        }
    }
    if let Some(hosts) = settled.hosts_to_remove {
        metrics.push(count(HOSTS_TO_REMOVE, hosts));
    }
    // Capacity-provider mode: `Some(shape checked out)`.
    if let Some(checked) = capacity_provider_mode {
        metrics.push(count(HOSTS_DRAINED, settled.drained));
        metrics.push(count(HOSTS_REACTIVATED, settled.reactivated));
        metrics.push(count(DRAINS_GIVEN_UP, settled.given_up));
        metrics.push(count(CONSOLIDATION_REFUSED, u32::from(!checked)));
    }
    deps.metrics
        .publish(cluster, &deps.config.metric_namespace, &metrics)
        .await
        .map_err(|source| HandlerError::Publish {
            cluster: cluster.name().to_owned(),
            source,
        })?;
    let assessment = &decision.assessment;
    if assessment.decision == ScaleDecision::TaskDoesNotFit || assessment.unplaceable_tasks > 0 {
        tracing::warn!(cluster = %cluster.name(), reason = %assessment.explanation, "a task fits on no host");
    }
    Ok(metrics.len())
}

/// The metrics of one assessment: ContainerCapacity, IdleHostCapacity, HostsToAdd,
/// UnplacedTasks, ActiveContainerInstances and one ResourceCapacity per resource the worst
/// case needs, each with the dimension `ClusterName`. HostsToAdd and UnplacedTasks are
/// high-resolution (the scale-out alarm evaluates every 10 s); the others feed slow alarms
/// and stay at one-minute resolution.
///
/// IdleHostCapacity is [`Assessment::idle_host_capacity`]: the plain ratio at the default
/// headroom of 1, and never above 1 when a scale-in would break a larger headroom (so the
/// alarm on `> 1` never starts a scale-in/scale-out loop).
pub fn metrics(cluster_arn: &ClusterArn, assessment: &Assessment) -> Vec<Metric> {
    let cluster = || vec![("ClusterName", cluster_arn.name().to_owned())];
    let mut out = vec![
        Metric {
            name: CONTAINER_CAPACITY,
            value: assessment.container_capacity as f64,
            unit: Unit::Count,
            dimensions: cluster(),
            high_resolution: false,
        },
        Metric {
            name: IDLE_HOST_CAPACITY,
            value: assessment.idle_host_capacity,
            unit: Unit::None,
            dimensions: cluster(),
            high_resolution: false,
        },
        Metric {
            name: HOSTS_TO_ADD,
            value: f64::from(assessment.hosts_to_add),
            unit: Unit::Count,
            dimensions: cluster(),
            high_resolution: true,
        },
        Metric {
            name: UNPLACED_TASKS,
            value: assessment.unplaced_tasks as f64,
            unit: Unit::Count,
            dimensions: cluster(),
            high_resolution: true,
        },
        Metric {
            name: ACTIVE_INSTANCES,
            value: assessment.counted_instances as f64,
            unit: Unit::Count,
            dimensions: cluster(),
            high_resolution: false,
        },
    ];
    for resource in Resource::ALL {
        if let Some(total) = assessment.per_resource.get(resource) {
            let mut dimensions = cluster();
            dimensions.push(("Resource", resource.as_str().to_owned()));
            out.push(Metric {
                name: RESOURCE_CAPACITY,
                value: total as f64,
                unit: Unit::Count,
                dimensions,
                high_resolution: false,
            });
        }
    }
    out
}
