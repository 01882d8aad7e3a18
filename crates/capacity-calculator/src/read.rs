//! Step 1: what a run decides on, read — the cluster (or the cached read brought up to date by
//! the event), the Auto Scaling group beside it, and in capacity-provider mode the cluster's
//! capacity providers. A failed cluster read is an error (nothing is published); a failed group
//! or provider read is a reason the decision hears, never a made-up group.

use std::collections::BTreeMap;

use capacity_aws::attributes::InstanceAttributes;
use capacity_aws::capacity_provider::{CapacityProviderOps, ClusterShape};
use capacity_aws::group::{AutoScalingGroup, GroupReader};
use capacity_aws::instance_types::InstanceTypeReader;
use capacity_aws::{ClusterArn, ClusterReader, TaskDefinitionReader, error_chain};
use capacity_core::PlacementFailure;
use capacity_core::fit::GroupLaunch;

use crate::cache::ClusterView;
use crate::config::{AUTO_SCALING_GROUP_NAME, Consolidation};
use crate::deps::{Deps, SHAPE_CHECK_INTERVAL_SECS, ShapeRead};
use crate::error::HandlerError;
use crate::event::Input;
use crate::summary::Source;

/// The cluster as it is now. A state change is applied to the cached read when the cache can
/// take it ([`crate::cache::ClusterCache::apply`]); a placement failure, a scheduled run, or
/// an event the cache cannot take reads the whole cluster (and replaces the cache).
pub(crate) async fn cluster<C, T, M, G, A, P, L>(
    input: &Input,
    cluster: &ClusterArn,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Result<(ClusterView, Source), HandlerError>
where
    C: ClusterReader,
    T: TaskDefinitionReader,
{
    let now = deps.clock.now();
    if let Input::ContainerInstance(parsed) = input
        && let Some(view) = deps.cache.apply(parsed, now)
    {
        return Ok((view, Source::Event));
    }
    let snapshot = capacity_aws::snapshot(
        &deps.cluster,
        &deps.task_shapes,
        cluster.as_str(),
        deps.config.worst_case.clone(),
    )
    .await
    .map_err(|source| HandlerError::Read {
        cluster: cluster.name().to_owned(),
        source,
    })?;
    deps.cache.store(cluster, now, &snapshot);
    let mut view = ClusterView::from(snapshot);
    // ECS has just tried the room this read sees and found it short for the event's service:
    // its waiting tasks are sized on new hosts, not on that room (capacity-core's
    // Demand::placement_failures). For this run only: the cache keeps the plain reading.
    if let Input::ServiceAction(action) = input
        && let Some(service) = action.service()
    {
        let reason = action.event.detail.reason.as_deref().unwrap_or("unknown");
        view.demand
            .placement_failures
            .push(PlacementFailure::new(service, reason));
    }
    Ok((view, Source::Read))
}

/// The group (`AUTO_SCALING_GROUP_NAME`), read beside the cluster; why not, when it could not
/// be read.
pub(crate) async fn group<C, T, M, G: GroupReader, A, P, L>(
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Result<AutoScalingGroup, String> {
    let Some(name) = &deps.config.auto_scaling_group else {
        return Err(format!(
            "{AUTO_SCALING_GROUP_NAME} is not set: the plan cannot be bounded by the group"
        ));
    };
    deps.group
        .group(name)
        .await
        .map_err(|e| format!("reading the Auto Scaling group failed: {}", error_chain(&e)))
}

/// The group's instance types, when the group was read and names them: new hosts are then
/// sized on the type it launches. Read once per launch specification and kept an hour
/// (`capacity_aws::instance_types::GroupLaunchCache`). A failure is logged and the run sizes
/// new hosts on the largest registered host, as without the read: it never stops a run.
pub(crate) async fn launch<C, T, M, G, A, P, L: InstanceTypeReader>(
    cluster: &ClusterArn,
    group: &Result<AutoScalingGroup, String>,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Option<GroupLaunch> {
    let spec = group.as_ref().ok()?.launch.as_ref()?;
    match deps.instance_types.group_launch(spec).await {
        Ok(launch) => Some(launch),
        Err(e) => {
            tracing::warn!(cluster = %cluster.name(), error = %error_chain(&e), "reading the group's instance types failed: new hosts are sized on the largest registered host");
            None
        }
    }
}

/// The cluster's tags (the plan's memory the cluster holds), when consolidation acts with a
/// group to act on; otherwise nothing is read (the decision does not need them).
pub(crate) async fn cluster_tags<C, T, M, G, A: InstanceAttributes, P, L>(
    cluster: &ClusterArn,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Result<BTreeMap<String, String>, String> {
    if deps.config.consolidation != Consolidation::Act || deps.config.auto_scaling_group.is_none() {
        return Ok(BTreeMap::new());
    }
    deps.attributes
        .cluster_tags(cluster.as_str())
        .await
        .map_err(|e| format!("reading the cluster's tags failed: {}", error_chain(&e)))
}

/// The cluster's capacity providers: the last read when it is younger than
/// [`SHAPE_CHECK_INTERVAL_SECS`], else a new one. A failed read is why not, and is not kept
/// (the next run reads again).
pub(crate) async fn capacity_providers<C, T, M, G, A, P: CapacityProviderOps, L>(
    cluster: &ClusterArn,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Result<ClusterShape, String> {
    let now = deps.unix_now();
    let cached = deps
        .shape
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .filter(|read| now.saturating_sub(read.at) < SHAPE_CHECK_INTERVAL_SECS);
    if let Some(read) = cached {
        return Ok(read.shape);
    }
    if deps.config.auto_scaling_group.is_none() {
        return Err(format!(
            "{AUTO_SCALING_GROUP_NAME} is not set: the capacity provider cannot be checked"
        ));
    }
    match deps.capacity_providers.shape(cluster.as_str()).await {
        Ok(shape) => {
            *deps.shape.lock().unwrap_or_else(|p| p.into_inner()) = Some(ShapeRead {
                at: now,
                shape: shape.clone(),
            });
            Ok(shape)
        }
        Err(e) => Err(format!(
            "reading the cluster's capacity providers failed: {}",
            error_chain(&e)
        )),
    }
}
