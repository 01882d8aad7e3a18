//! The handler: parse → read → decide → execute → publish. Generic over the I/O traits.
//!
//! A container instance state change, a placement failure and the schedule run the
//! computation; any other service action, or an event of a cluster other than `ECS_CLUSTER`,
//! is nothing to do (success, no AWS call). Every rule of the run is capacity-core's
//! [`capacity_core::run::decide`]; this file only wires the steps together:
//!
//! 1. **read** ([`crate::read`]): the cluster (a full read, or the cached one brought up to date
//!    by the event), the Auto Scaling group beside it and, in capacity-provider mode, the
//!    cluster's capacity providers — concurrently. A failed cluster read ends the run before
//!    anything is published;
//! 2. **decide**: one [`capacity_core::run::Decision`] from the reading (its worst case
//!    replaced by `HEADROOM_TASK`'s task, [`crate::headroom`]), the group, the shape, the
//!    plan's memory and the settings;
//! 3. **execute** ([`crate::execute`]): its steps in order (marks before drains), each failure
//!    logged;
//! 4. **publish** ([`crate::publish`]): every figure in one PutMetricData call, settled on what
//!    the steps did (`HostsToRemove` only when its hosts' marks were written).

use capacity_aws::attributes::InstanceAttributes;
use capacity_aws::capacity_provider::CapacityProviderOps;
use capacity_aws::group::GroupReader;
use capacity_aws::instance_types::InstanceTypeReader;
use capacity_aws::{ClusterArn, ClusterReader, MetricsPublisher, TaskDefinitionReader};
use capacity_core::run::{RunInput, ScalingMode, Trigger, decide};
use serde_json::Value;

use crate::config::Consolidation;
use crate::deps::Deps;
use crate::error::HandlerError;
use crate::event::{self, Input};
use crate::summary::{ActingSummary, GroupSummary, NothingToDo, Outcome, Summary};
use crate::{execute, headroom, publish, read};

/// Handles one event; see the module. A scheduled run (which names no cluster) takes
/// `ECS_CLUSTER` and always reads the whole cluster: it is what keeps the metrics fresh.
pub async fn handle<C, T, M, G, A, P, L>(
    event: Value,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Result<Outcome, HandlerError>
where
    C: ClusterReader,
    T: TaskDefinitionReader,
    M: MetricsPublisher,
    G: GroupReader,
    A: InstanceAttributes,
    P: CapacityProviderOps,
    L: InstanceTypeReader,
{
    let input = event::parse_input(event)?;
    let (cluster, trigger) = match what_to_size(&input, deps) {
        Asked::Size(cluster, trigger) => (cluster, trigger),
        Asked::Nothing(nothing) => return Ok(Outcome::NothingToDo(nothing)),
        Asked::NoCluster => return Err(HandlerError::ScheduledWithoutCluster),
    };
    let cluster_name = cluster.name().to_owned();
    let mode = deps.config.scaling_mode;
    let providers = async {
        match mode {
            ScalingMode::CapacityProvider => Some(read::capacity_providers(&cluster, deps).await),
            ScalingMode::SelfManaged => None,
        }
    };
    let (read, group, shape, tags) = tokio::join!(
        read::cluster(&input, &cluster, deps),
        read::group(deps),
        providers,
        read::cluster_tags(&cluster, deps)
    );
    let (mut view, source) = read?;
    let counted_in = headroom::count_in(&deps.config.headroom_task, &mut view, &cluster_name);
    let launch = read::launch(&cluster, &group, deps).await;

    let settings = deps.config.settings();
    let decision = {
        let mut memory = deps.memory.lock().unwrap_or_else(|p| p.into_inner());
        let decision = decide(&RunInput {
            instances: &view.instances,
            worst_case: &view.worst_case,
            demand: &view.demand,
            placement: &view.placement,
            services: &view.placement_rules,
            group: group.as_ref().map_err(String::as_str),
            launch: launch.as_ref(),
            provider: shape.as_ref().map(|s| s.as_ref().map_err(String::as_str)),
            memory: &memory,
            cluster_tags: tags.as_ref().map_err(String::as_str),
            settings: &settings,
            trigger,
            now_unix_secs: deps.unix_now(),
        })
        .map_err(|source| HandlerError::Capacity {
            cluster: cluster_name.clone(),
            source,
        })?;
        memory.clone_from(&decision.memory);
        decision
    };
    for (arn, why) in &decision.marks.invalid {
        tracing::warn!(cluster = %cluster_name, container_instance_arn = %arn, reason = %why, "a planned-removal mark does not parse: replacing it");
    }
    if let Some(acting) = &decision.acting
        && acting.capacity_provider.is_none()
    {
        let why = acting.refused.as_deref().unwrap_or_default();
        tracing::warn!(cluster = %cluster_name, reason = %why, "consolidation refused: nothing is drained");
    }

    let executed = execute::execute(&cluster, &decision, deps).await;
    let settled = decision.settle(&executed);
    if let Some(why) = &settled.left_out {
        tracing::warn!(cluster = %cluster_name, reason = %why, "HostsToRemove left out of the metrics");
    }
    let checked = decision
        .acting
        .as_ref()
        .map(|a| a.capacity_provider.is_some());
    if deps.config.consolidation == Consolidation::Observe {
        tracing::info!(cluster = %cluster_name, hosts_removable = settled.hosts_removable, plan = %decision.plan, "consolidation observes: the plan, acted on by nothing");
    }
    let metrics_published = publish::publish(&cluster, &decision, &settled, checked, deps).await?;

    let assessment = &decision.assessment;
    tracing::info!(
        cluster = %cluster_name,
        container_capacity = assessment.container_capacity,
        idle_host_capacity = assessment.idle_host_capacity,
        hosts_to_add = assessment.hosts_to_add,
        hosts_to_remove = ?settled.hosts_to_remove,
        planned = decision.plan.hosts_to_remove(),
        unplaced_tasks = assessment.unplaced_tasks,
        decision = %assessment.decision,
        instances = view.instances.len(),
        source = ?source,
        trigger = ?trigger,
        "published cluster capacity"
    );
    let acting = decision.acting.map(|a| ActingSummary {
        capacity_provider: a.capacity_provider,
        refused: a.refused,
        changes: a.changes,
        drained: settled.drained,
        reactivated: settled.reactivated,
        drains_given_up: settled.given_up,
        error: settled.error.clone(),
    });
    Ok(Outcome::Published(Box::new(Summary {
        cluster: cluster_name,
        assessment: decision.assessment,
        fit: decision.fit,
        scale_in_plan: decision.plan,
        scaling_mode: mode,
        hosts_removable: settled.hosts_removable,
        hosts_to_remove: settled.hosts_to_remove,
        hosts_to_remove_left_out: settled.left_out,
        group: group.ok().map(|g| GroupSummary {
            min_size: g.min_size,
            desired_capacity: g.desired_capacity,
            instances: g.instances.len(),
            name: g.name,
            leaving: decision.leaving,
        }),
        marks: decision.marks,
        acting,
        instances: view.instances.len(),
        worst_case_source: counted_in.source(view.task_shapes),
        worst_case: view.worst_case,
        source,
        trigger,
        namespace: deps.config.metric_namespace.clone(),
        metrics_published,
    })))
}

/// What the input asks for.
enum Asked {
    /// Size this cluster.
    Size(ClusterArn, Trigger),
    /// Nothing to do: an event of another cluster than `ECS_CLUSTER`, or a service action
    /// other than a placement failure.
    Nothing(NothingToDo),
    /// A scheduled run with no `ECS_CLUSTER` to size.
    NoCluster,
}

/// The cluster the input asks to size and what started the run, or why not.
fn what_to_size<C, T, M, G, A, P, L>(input: &Input, deps: &Deps<C, T, M, G, A, P, L>) -> Asked {
    let cluster = match (input.cluster(), &deps.config.cluster) {
        (None, Some(configured)) => configured.clone(),
        (None, None) => return Asked::NoCluster,
        (Some(of_event), Some(configured)) if of_event != configured => {
            tracing::warn!(cluster = %of_event.name(), configured = %configured.name(), "event of another cluster: nothing to do");
            return Asked::Nothing(NothingToDo {
                cluster: of_event.name().to_owned(),
                reason: format!(
                    "the event is about cluster {}, this function sizes {}",
                    of_event.as_str(),
                    configured.as_str()
                ),
            });
        }
        (Some(of_event), _) => of_event.clone(),
    };
    let trigger = match input {
        Input::ServiceAction(action) if !action.is_placement_failure() => {
            let name = &action.event.detail.event_name;
            tracing::debug!(cluster = %cluster.name(), event_name = %name, "service action: nothing to do");
            return Asked::Nothing(NothingToDo {
                cluster: cluster.name().to_owned(),
                reason: format!(
                    "service action {name}: only {} sizes the cluster",
                    event::PLACEMENT_FAILURE
                ),
            });
        }
        Input::ServiceAction(action) => {
            tracing::info!(
                cluster = %cluster.name(),
                service = action.service().unwrap_or("?"),
                reason = action.event.detail.reason.as_deref().unwrap_or("?"),
                "placement failure: reading the cluster"
            );
            Trigger::PlacementFailure
        }
        Input::ContainerInstance(_) => Trigger::ContainerInstanceStateChange,
        Input::Scheduled(_) => Trigger::Schedule,
    };
    Asked::Size(cluster, trigger)
}
