//! The handler: read the cluster, compute, publish. Generic over the I/O traits.
//!
//! A container instance state change, or a service action that is a placement failure, runs
//! the computation; any other service action is nothing to do (success, no AWS call).

use capacity_aws::attributes::InstanceAttributes;
use capacity_aws::capacity_provider::{CapacityProviderOps, ClusterShape, TargetStatus};
use capacity_aws::clock::{Clock, SystemClock};
use capacity_aws::group::{AutoScalingGroup, GroupReader};
use capacity_aws::{
    ClusterArn, ClusterReader, Metric, MetricsPublisher, TaskDefinitionReader, TaskShapeCache,
    Unit, error_chain,
};
use std::sync::Arc;

use capacity_core::{
    Assessment, PlacementFailure, Resource, ScaleDecision, ScaleInInput, ScaleInPlan, WorstCase,
    plan_scale_in,
};
use std::collections::BTreeMap;

use crate::acting::{self, Acting, Allowed};
use crate::config::{Config, ScalingMode};
use crate::consolidate::{self, MarkChanges};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::cache::{ClusterCache, ClusterView};
use crate::event::{self, EventError, Input};

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
/// Capacity-provider mode: container instances this run set DRAINING.
pub const HOSTS_DRAINED: &str = "HostsDrained";
/// Capacity-provider mode: container instances this function had drained that this run set
/// ACTIVE again because tasks wait.
pub const HOSTS_REACTIVATED: &str = "HostsReactivated";
/// Capacity-provider mode: 1 when the cluster is not in the shape the mode needs (or it could
/// not be read) and nothing is drained, 0 when it is.
pub const CONSOLIDATION_REFUSED: &str = "ConsolidationRefused";

/// How long a checked cluster shape is trusted: the capacity providers are read again after
/// 10 minutes (and on every cold start).
pub const SHAPE_CHECK_INTERVAL_SECS: u64 = 600;

/// What the plan keeps across warm invocations; a cold start begins it again.
#[derive(Debug, Clone, Default)]
pub struct PlanMemory {
    /// Since when each host has been removable (seconds since the Unix epoch), for the
    /// stability window.
    pub removable_since: BTreeMap<String, u64>,
    /// The last time the cluster was short, for the quiet period after a shortfall.
    pub last_shortfall: Option<u64>,
}

/// The last check of the cluster's shape (capacity-provider mode).
#[derive(Debug, Clone)]
struct ShapeCheck {
    at: u64,
    /// The provider's name, or why the mode refuses to act.
    verdict: Result<String, String>,
}

/// What the handler needs, built once per process and reused across warm invocations.
/// `G` reads the Auto Scaling group, `A` marks container instances; both default to
/// [`Unconfigured`] (every call fails, saying so), for a calculator run without a group.
pub struct Deps<C, T, M, G = Unconfigured, A = Unconfigured, P = Unconfigured> {
    pub cluster: C,
    pub task_shapes: TaskShapeCache<T>,
    pub metrics: M,
    pub group: G,
    pub attributes: A,
    /// Reads the capacity providers and sets hosts DRAINING or ACTIVE (capacity-provider
    /// mode).
    pub capacity_providers: P,
    pub config: Config,
    /// The last read of the cluster, brought up to date by the events.
    pub cache: ClusterCache,
    /// The wall clock, passed in so that tests pin it.
    pub clock: Arc<dyn Clock>,
    /// The plan's stability and quiet period, kept across warm invocations.
    pub memory: std::sync::Mutex<PlanMemory>,
    /// The last check of the cluster's shape (capacity-provider mode).
    shape: std::sync::Mutex<Option<ShapeCheck>>,
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
            cache: ClusterCache::new(config.cluster_refresh),
            config,
            clock: Arc::new(SystemClock),
            memory: std::sync::Mutex::default(),
            shape: std::sync::Mutex::default(),
        }
    }
}

impl<C, T, M, G, A, P> Deps<C, T, M, G, A, P> {
    /// The same dependencies reading the group with `group` and marking hosts with
    /// `attributes`.
    pub fn with_group<G2, A2>(self, group: G2, attributes: A2) -> Deps<C, T, M, G2, A2, P> {
        Deps {
            cluster: self.cluster,
            task_shapes: self.task_shapes,
            metrics: self.metrics,
            group,
            attributes,
            capacity_providers: self.capacity_providers,
            config: self.config,
            cache: self.cache,
            clock: self.clock,
            memory: self.memory,
            shape: self.shape,
        }
    }

    /// The same dependencies acting through `capacity_providers` (capacity-provider mode).
    pub fn with_capacity_providers<P2>(self, capacity_providers: P2) -> Deps<C, T, M, G, A, P2> {
        Deps {
            cluster: self.cluster,
            task_shapes: self.task_shapes,
            metrics: self.metrics,
            group: self.group,
            attributes: self.attributes,
            capacity_providers,
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

fn unconfigured(operation: &'static str, cluster: &str) -> capacity_aws::Error {
    capacity_aws::Error::Rejected {
        operation,
        cluster: cluster.to_owned(),
        failures: "no ECS attribute client configured".to_owned(),
    }
}

/// Why an invocation failed. Nothing was published when it did.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(
        "a scheduled event names no cluster and ECS_CLUSTER is not set: set it to the cluster's ARN"
    )]
    ScheduledWithoutCluster,
    #[error("reading cluster {cluster} failed, nothing published: {source}")]
    Read {
        cluster: String,
        #[source]
        source: capacity_aws::Error,
    },
    #[error("computing the capacity of cluster {cluster} failed, nothing published: {source}")]
    Capacity {
        cluster: String,
        #[source]
        source: capacity_core::CapacityError,
    },
    #[error("publishing the metrics of cluster {cluster} failed: {source}")]
    Publish {
        cluster: String,
        #[source]
        source: capacity_aws::Error,
    },
}

/// What one invocation did, as the function returns it: `{"outcome": "published", …the
/// [`Summary`]}` or `{"outcome": "nothing_to_do", "cluster": …, "reason": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Published(Box<Summary>),
    NothingToDo(NothingToDo),
}

impl Outcome {
    /// The summary, when the metrics were published.
    pub fn published(self) -> Option<Summary> {
        match self {
            Outcome::Published(summary) => Some(*summary),
            Outcome::NothingToDo(_) => None,
        }
    }
}

/// An event that asks for no computation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NothingToDo {
    pub cluster: String,
    pub reason: String,
}

/// What started a computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// "ECS Container Instance State Change".
    ContainerInstanceStateChange,
    /// "ECS Service Action" `SERVICE_TASK_PLACEMENT_FAILURE`: always a full read.
    PlacementFailure,
    /// The schedule (`CalculatorScheduleMinutes`): always a full read.
    Schedule,
}

/// The invocation's result, as the function returns it (and logs it): the cluster's
/// [`Assessment`] as capacity-core computed it (flattened: `container_capacity`,
/// `idle_host_capacity` as published, `hosts_to_add`, `unplaced_tasks`, `unplaced` per service
/// deployment, `decision`, `explanation`, …), and where its figures came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub cluster: String,
    #[serde(flatten)]
    pub assessment: Assessment,
    /// The consolidation plan: which hosts could go, why each, why the others stay.
    pub scale_in_plan: ScaleInPlan,
    pub scaling_mode: ScalingMode,
    /// `HostsToRemove` as published (the plan bounded by the group), or `None` when it was
    /// left out of the metrics.
    pub hosts_to_remove: Option<u32>,
    /// Why `HostsToRemove` was left out (the group read or the marks failed, no group set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts_to_remove_left_out: Option<String>,
    /// The group as read this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupSummary>,
    /// The planned-removal marks deleted and put this run (self-managed mode).
    pub marks: MarkChanges,
    /// What the run drained and set ACTIVE again (capacity-provider mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting: Option<ActingSummary>,
    pub instances: usize,
    /// The worst case the figures are in.
    pub worst_case: WorstCase,
    /// `configured`, or `discovered from N task definition(s)`.
    pub worst_case_source: String,
    pub namespace: String,
    pub metrics_published: usize,
    /// Where the instances came from: a full `read`, or the cached read updated by this `event`.
    pub source: Source,
    pub trigger: Trigger,
}

/// The Auto Scaling group as one run read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub name: String,
    pub min_size: u32,
    pub desired_capacity: u32,
    pub instances: usize,
    /// Container instances whose EC2 instance the group is terminating.
    pub leaving: Vec<String>,
}

/// What a capacity-provider-mode run did with its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActingSummary {
    /// The capacity provider found in the shape the mode needs, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<String>,
    /// Why nothing was drained (the shape check, the group read, tasks waiting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(flatten)]
    pub changes: Acting,
    /// How many hosts were set DRAINING / ACTIVE again (0 when the call failed).
    pub drained: u32,
    pub reactivated: u32,
    /// The first call that failed, when one did (what it left undone is retried next run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where one computation's instances came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Read,
    Event,
}

/// Handles one event in three steps: [`read`] the cluster (or apply the event to the cached
/// read), [`assess`] it with the tasks that wait, [`publish`] the figures in one call. Any
/// failed read returns an error before anything is published. Other service actions, and
/// events of a cluster other than `ECS_CLUSTER`, are [`Outcome::NothingToDo`] with no AWS
/// call. A scheduled run (which names no cluster) takes `ECS_CLUSTER` and always reads the
/// whole cluster: it is what keeps the metrics fresh.
pub async fn handle<C, T, M, G, A, P>(
    event: Value,
    deps: &Deps<C, T, M, G, A, P>,
) -> Result<Outcome, HandlerError>
where
    C: ClusterReader,
    T: TaskDefinitionReader,
    M: MetricsPublisher,
    G: GroupReader,
    A: InstanceAttributes,
    P: CapacityProviderOps,
{
    let input = event::parse_input(event)?;
    let cluster = match (input.cluster(), &deps.config.cluster) {
        (None, Some(configured)) => configured.clone(),
        (None, None) => return Err(HandlerError::ScheduledWithoutCluster),
        (Some(of_event), Some(configured)) if of_event != configured => {
            tracing::warn!(cluster = %of_event.name(), configured = %configured.name(), "event of another cluster: nothing to do");
            return Ok(Outcome::NothingToDo(NothingToDo {
                cluster: of_event.name().to_owned(),
                reason: format!(
                    "the event is about cluster {}, this function sizes {}",
                    of_event.as_str(),
                    configured.as_str()
                ),
            }));
        }
        (Some(of_event), _) => of_event.clone(),
    };
    let cluster_name = cluster.name().to_owned();
    let Some(trigger) = trigger(&input, &cluster_name) else {
        let Input::ServiceAction(action) = &input else {
            unreachable!("only a service action can be nothing to do")
        };
        let name = &action.event.detail.event_name;
        tracing::debug!(cluster = %cluster_name, event_name = %name, "service action: nothing to do");
        return Ok(Outcome::NothingToDo(NothingToDo {
            cluster: cluster_name,
            reason: format!(
                "service action {name}: only {} sizes the cluster",
                event::PLACEMENT_FAILURE
            ),
        }));
    };
    let (read, group) = tokio::join!(read(&input, &cluster, deps), read_group(deps));
    let (view, source) = read?;
    let assessment = assess_view(&view, &deps.config).map_err(|source| HandlerError::Capacity {
        cluster: cluster_name.clone(),
        source,
    })?;
    let (scale_in_plan, leaving) = plan(&view, group.as_ref().ok(), deps);
    let (removal, acting) = match (deps.config.scaling_mode, &group) {
        (ScalingMode::SelfManaged, Ok(group)) => (
            mark(&cluster, &view, &scale_in_plan, group, deps).await,
            None,
        ),
        (ScalingMode::SelfManaged, Err(why)) => (
            Removal::left_out(format!(
                "{why}; the planned-removal marks are left as they were"
            )),
            None,
        ),
        (ScalingMode::CapacityProvider, group) => {
            let tasks_wait = trigger == Trigger::PlacementFailure || assessment.unplaced_tasks > 0;
            let acting = act(
                &cluster,
                &view,
                &scale_in_plan,
                group.as_ref(),
                tasks_wait,
                deps,
            )
            .await;
            let removal = match group {
                Ok(group) => Removal {
                    hosts_to_remove: Some(consolidate::bound(&scale_in_plan, group.removable())),
                    left_out: None,
                    marks: MarkChanges::default(),
                },
                Err(why) => Removal::left_out(why.clone()),
            };
            (removal, Some(acting))
        }
    };
    if let Some(why) = &removal.left_out {
        tracing::warn!(cluster = %cluster_name, reason = %why, "HostsToRemove left out of the metrics");
    }
    let metrics_published = publish(
        &cluster,
        &assessment,
        removal.hosts_to_remove,
        acting.as_ref(),
        deps,
    )
    .await?;
    tracing::info!(
        cluster = %cluster_name,
        container_capacity = assessment.container_capacity,
        idle_host_capacity = assessment.idle_host_capacity,
        hosts_to_add = assessment.hosts_to_add,
        hosts_to_remove = ?removal.hosts_to_remove,
        planned = scale_in_plan.hosts_to_remove(),
        unplaced_tasks = assessment.unplaced_tasks,
        decision = %assessment.decision,
        instances = view.instances.len(),
        source = ?source,
        trigger = ?trigger,
        "published cluster capacity"
    );
    Ok(Outcome::Published(Box::new(Summary {
        cluster: cluster_name,
        assessment,
        scale_in_plan,
        scaling_mode: deps.config.scaling_mode,
        hosts_to_remove: removal.hosts_to_remove,
        hosts_to_remove_left_out: removal.left_out,
        group: group.ok().map(|g| GroupSummary {
            min_size: g.min_size,
            desired_capacity: g.desired_capacity,
            instances: g.instances.len(),
            name: g.name,
            leaving,
        }),
        marks: removal.marks,
        acting,
        instances: view.instances.len(),
        worst_case_source: if view.task_shapes == 0 {
            "configured".to_owned()
        } else {
            format!("discovered from {} task definition(s)", view.task_shapes)
        },
        worst_case: view.worst_case,
        source,
        trigger,
        namespace: deps.config.metric_namespace.clone(),
        metrics_published,
    })))
}

/// What the input asks for, or `None` for a service action other than a placement failure.
fn trigger(input: &Input, cluster: &str) -> Option<Trigger> {
    match input {
        Input::ServiceAction(action) if !action.is_placement_failure() => None,
        Input::ServiceAction(action) => {
            tracing::info!(
                cluster = %cluster,
                service = action.service().unwrap_or("?"),
                reason = action.event.detail.reason.as_deref().unwrap_or("?"),
                "placement failure: reading the cluster"
            );
            Some(Trigger::PlacementFailure)
        }
        Input::ContainerInstance(_) => Some(Trigger::ContainerInstanceStateChange),
        Input::Scheduled(_) => Some(Trigger::Schedule),
    }
}

/// Step 1: the cluster as it is now. A state change is applied to the cached read when the
/// cache can take it ([`ClusterCache::apply`]); a placement failure, a scheduled run, or an
/// event the cache cannot take reads the whole cluster (and replaces the cache).
async fn read<C, T, M, G, A, P>(
    input: &Input,
    cluster: &ClusterArn,
    deps: &Deps<C, T, M, G, A, P>,
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

/// Step 2: the one assessment of a reading (the same function `ecs-capacity report` uses).
pub fn assess_view(
    view: &ClusterView,
    config: &Config,
) -> Result<Assessment, capacity_core::CapacityError> {
    capacity_aws::assess_reading(
        &view.instances,
        &view.worst_case,
        &view.demand,
        &config.policy,
    )
}

/// Step 2b: the group (`AUTO_SCALING_GROUP_NAME`), read beside the cluster; why not, when
/// it could not be read.
async fn read_group<C, T, M, G: GroupReader, A, P>(
    deps: &Deps<C, T, M, G, A, P>,
) -> Result<AutoScalingGroup, String> {
    let Some(name) = &deps.config.auto_scaling_group else {
        return Err(format!(
            "{} is not set: the plan cannot be bounded by the group",
            crate::config::AUTO_SCALING_GROUP_NAME
        ));
    };
    deps.group
        .group(name)
        .await
        .map_err(|e| format!("reading the Auto Scaling group failed: {}", error_chain(&e)))
}

/// Step 2c: the consolidation plan of the same reading (capacity-core's `plan_scale_in`),
/// with the hosts' tasks as the read vouches for them (`capacity_aws::cluster_hosts`), the
/// group's view of them when it was read (`capacity_aws::hosts_in_group`: hosts it is
/// terminating are leaving, hosts outside it never planned, its instances not in the cluster
/// first), and the stability kept across warm invocations. Also the hosts found leaving.
fn plan<C, T, M, G, A, P>(
    view: &ClusterView,
    group: Option<&AutoScalingGroup>,
    deps: &Deps<C, T, M, G, A, P>,
) -> (ScaleInPlan, Vec<String>) {
    let (hosts, fit) = match group {
        Some(group) => capacity_aws::hosts_in_group(&view.instances, &view.placement, group),
        None => (
            capacity_aws::cluster_hosts(&view.instances, &view.placement),
            capacity_aws::GroupFit::default(),
        ),
    };
    let now = unix_now(deps);
    let mut memory = deps.memory.lock().unwrap_or_else(|p| p.into_inner());
    let mut plan = plan_scale_in(&ScaleInInput {
        not_in_cluster: &fit.not_in_cluster,
        policy: deps.config.policy,
        waiting: &view.demand.unplaced,
        budget: deps.config.disruption_budget,
        stability_window: deps.config.stability_window,
        last_shortfall: memory.last_shortfall,
        ..ScaleInInput::new(&hosts, &view.worst_case, now, &memory.removable_since)
    });
    memory.removable_since.clone_from(&plan.removable_since);
    memory.last_shortfall = plan.last_shortfall;
    capacity_aws::relabel(&mut plan, &fit);
    (plan, fit.leaving.into_keys().collect())
}

fn unix_now<C, T, M, G, A, P>(deps: &Deps<C, T, M, G, A, P>) -> u64 {
    deps.clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the run does with the plan's size.
struct Removal {
    hosts_to_remove: Option<u32>,
    left_out: Option<String>,
    marks: MarkChanges,
}

impl Removal {
    fn left_out(why: String) -> Removal {
        Removal {
            hosts_to_remove: None,
            left_out: Some(why),
            marks: MarkChanges::default(),
        }
    }
}

/// Step 2d (self-managed): bound the plan by the group, then make the planned-removal marks
/// say exactly the hosts `HostsToRemove` counts — before it is published, so the chooser
/// Auto Scaling calls on the alarm finds them. A failed write leaves `HostsToRemove` out (the
/// alarm then does not act on a plan the chooser cannot see) and forgets the cached read, so
/// the next run reads the marks as they are.
async fn mark<C, T, M, G, A, P>(
    cluster: &ClusterArn,
    view: &ClusterView,
    plan: &ScaleInPlan,
    group: &AutoScalingGroup,
    deps: &Deps<C, T, M, G, A, P>,
) -> Removal
where
    A: InstanceAttributes,
{
    let hosts_to_remove = consolidate::bound(plan, group.removable());
    let changes =
        consolidate::mark_changes(plan, hosts_to_remove, &view.placement.marks, unix_now(deps));
    for (arn, why) in &changes.invalid {
        tracing::warn!(cluster = %cluster.name(), container_instance_arn = %arn, reason = %why, "a planned-removal mark does not parse: replacing it");
    }
    let written = async {
        if !changes.delete.is_empty() {
            deps.attributes
                .delete(cluster.as_str(), &changes.delete)
                .await?;
        }
        if !changes.put.is_empty() {
            deps.attributes.put(cluster.as_str(), &changes.put).await?;
        }
        Ok::<(), capacity_aws::Error>(())
    }
    .await;
    match written {
        Ok(()) => {
            if !changes.is_empty() {
                deps.cache.set_marks(cluster, changes.after.clone());
            }
            Removal {
                hosts_to_remove: Some(hosts_to_remove),
                left_out: None,
                marks: changes,
            }
        }
        Err(e) => {
            deps.cache.invalidate();
            Removal {
                marks: changes,
                ..Removal::left_out(format!(
                    "writing the planned-removal marks failed: {}",
                    error_chain(&e)
                ))
            }
        }
    }
}

/// Step 2d (capacity-provider mode): check the cluster's shape (at most every
/// [`SHAPE_CHECK_INTERVAL_SECS`]), decide ([`acting::decide`]) and make the changes: hosts
/// this function drained set ACTIVE again first when tasks wait (then unmarked), stale marks
/// deleted, then each planned host marked and set DRAINING — never drained when its mark
/// could not be put. A failed call is logged and named in the summary; what it left undone
/// the next run decides again from what it reads.
async fn act<C, T, M, G, A, P>(
    cluster: &ClusterArn,
    view: &ClusterView,
    plan: &ScaleInPlan,
    group: Result<&AutoScalingGroup, &String>,
    tasks_wait: bool,
    deps: &Deps<C, T, M, G, A, P>,
) -> ActingSummary
where
    A: InstanceAttributes,
    P: CapacityProviderOps,
{
    let name = cluster.name();
    let verdict = shape_verdict(cluster, deps).await;
    if let Err(why) = &verdict {
        tracing::warn!(cluster = %name, reason = %why, "consolidation refused: nothing is drained");
    }
    let changes = acting::decide(
        plan,
        &view.instances,
        &view.placement.marks,
        tasks_wait,
        Allowed {
            drain: verdict.is_ok(),
            removable: group.ok().map(AutoScalingGroup::removable),
        },
    );
    let refused = match (&verdict, group, tasks_wait) {
        (Err(why), _, _) => Some(why.clone()),
        (_, Err(why), _) => Some(format!("{why}: nothing is drained")),
        (_, _, true) => Some("tasks wait for room: nothing is drained".to_owned()),
        _ => None,
    };
    let mut summary = ActingSummary {
        capacity_provider: verdict.ok(),
        refused,
        drained: 0,
        reactivated: 0,
        error: None,
        changes,
    };
    let fail = |summary: &mut ActingSummary, what: &str, e: capacity_aws::Error| {
        let text = format!("{what}: {}", error_chain(&e));
        tracing::warn!(cluster = %name, error = %text, "consolidation call failed");
        summary.error.get_or_insert(text);
    };
    let c = cluster.as_str();
    let changes = summary.changes.clone();
    if !changes.reactivate.is_empty() {
        match deps
            .capacity_providers
            .set_status(c, &changes.reactivate, TargetStatus::Active)
            .await
        {
            Ok(()) => {
                summary.reactivated = count(&changes.reactivate);
                tracing::info!(cluster = %name, hosts = ?changes.reactivate, "tasks wait: hosts this function drained are ACTIVE again");
                let unmark = changes.unmark_reactivated(&view.placement.marks);
                if let Err(e) = deps.attributes.delete(c, &unmark).await {
                    fail(
                        &mut summary,
                        "deleting the drained-by marks of the hosts set ACTIVE",
                        e,
                    );
                }
            }
            Err(e) => fail(
                &mut summary,
                "setting the hosts this function drained ACTIVE",
                e,
            ),
        }
    }
    if !changes.unmark.is_empty()
        && let Err(e) = deps.attributes.delete(c, &changes.unmark).await
    {
        fail(&mut summary, "deleting stale drained-by marks", e);
    }
    if !changes.drain.is_empty() {
        match deps.attributes.put(c, &changes.marks(unix_now(deps))).await {
            Err(e) => fail(
                &mut summary,
                "marking the planned hosts (nothing drained)",
                e,
            ),
            Ok(()) => match deps
                .capacity_providers
                .set_status(c, &changes.drain, TargetStatus::Draining)
                .await
            {
                Ok(()) => {
                    summary.drained = count(&changes.drain);
                    tracing::info!(cluster = %name, hosts = ?changes.drain, "consolidation: planned hosts set DRAINING");
                }
                Err(e) => fail(&mut summary, "setting the planned hosts DRAINING", e),
            },
        }
    }
    if !changes.drain.is_empty() || !changes.reactivate.is_empty() || !changes.unmark.is_empty() {
        // Statuses and marks changed: the next run reads them as they are.
        deps.cache.invalidate();
    }
    summary
}

fn count(hosts: &[String]) -> u32 {
    u32::try_from(hosts.len()).unwrap_or(u32::MAX)
}

/// The capacity provider behind `AUTO_SCALING_GROUP_NAME` in the shape the mode needs, or
/// why not: the last check when it is younger than [`SHAPE_CHECK_INTERVAL_SECS`], else a new
/// read. A failed read refuses this run and is not kept (the next run reads again).
async fn shape_verdict<C, T, M, G, A, P: CapacityProviderOps>(
    cluster: &ClusterArn,
    deps: &Deps<C, T, M, G, A, P>,
) -> Result<String, String> {
    let now = unix_now(deps);
    let cached = deps
        .shape
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .filter(|check| now.saturating_sub(check.at) < SHAPE_CHECK_INTERVAL_SECS);
    if let Some(check) = cached {
        return check.verdict;
    }
    let Some(group) = &deps.config.auto_scaling_group else {
        return Err(format!(
            "{} is not set: the capacity provider cannot be checked",
            crate::config::AUTO_SCALING_GROUP_NAME
        ));
    };
    match deps.capacity_providers.shape(cluster.as_str()).await {
        Ok(shape) => {
            let verdict = shape.check(group);
            *deps.shape.lock().unwrap_or_else(|p| p.into_inner()) = Some(ShapeCheck {
                at: now,
                verdict: verdict.clone(),
            });
            verdict
        }
        Err(e) => Err(format!(
            "reading the cluster's capacity providers failed: {}",
            error_chain(&e)
        )),
    }
}

/// Step 3: every figure of the assessment and `HostsToRemove` (when known) in one
/// PutMetricData call; how many were sent.
async fn publish<C, T, M, G, A, P>(
    cluster: &ClusterArn,
    assessment: &Assessment,
    hosts_to_remove: Option<u32>,
    acting: Option<&ActingSummary>,
    deps: &Deps<C, T, M, G, A, P>,
) -> Result<usize, HandlerError>
where
    M: MetricsPublisher,
{
    let mut metrics = metrics(cluster, assessment);
    if let Some(hosts) = hosts_to_remove {
        metrics.push(Metric {
            name: HOSTS_TO_REMOVE,
            value: f64::from(hosts),
            unit: Unit::Count,
            dimensions: vec![("ClusterName", cluster.name().to_owned())],
            high_resolution: false,
        });
    }
    if let Some(acting) = acting {
        for (name, value) in [
            (HOSTS_DRAINED, acting.drained),
            (HOSTS_REACTIVATED, acting.reactivated),
            (
                CONSOLIDATION_REFUSED,
                u32::from(acting.capacity_provider.is_none()),
            ),
        ] {
            metrics.push(Metric {
                name,
                value: f64::from(value),
                unit: Unit::Count,
                dimensions: vec![("ClusterName", cluster.name().to_owned())],
                high_resolution: false,
            });
        }
    }
    deps.metrics
        .publish(cluster, &deps.config.metric_namespace, &metrics)
        .await
        .map_err(|source| HandlerError::Publish {
            cluster: cluster.name().to_owned(),
            source,
        })?;
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

impl HandlerError {
    /// Whether the same event may succeed when retried: AWS failures (after the SDK's own
    /// retries) and partial answers may; a malformed event, inconsistent cluster data, or a
    /// cluster with nothing to size for will not until someone changes it.
    pub fn is_retryable(&self) -> bool {
        match self {
            HandlerError::Read { source, .. } | HandlerError::Publish { source, .. } => {
                source.is_retryable()
            }
            HandlerError::Event(_)
            | HandlerError::ScheduledWithoutCluster
            | HandlerError::Capacity { .. } => false,
        }
    }

    /// The Lambda error type: `Retryable.*` or `Permanent.*`.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(_) => "Permanent.InvalidEvent",
            HandlerError::ScheduledWithoutCluster => "Permanent.InvalidConfiguration",
            HandlerError::Capacity { .. } => "Permanent.InvalidClusterData",
            HandlerError::Read {
                source: capacity_aws::Error::NoTaskDefinitions { .. },
                ..
            } => "Permanent.NoTaskDefinitions",
            HandlerError::Read { source, .. } if !source.is_retryable() => {
                "Permanent.InvalidClusterData"
            }
            HandlerError::Read { .. } => "Retryable.ClusterReadFailed",
            HandlerError::Publish { .. } => "Retryable.PublishFailed",
        }
    }
}

impl capacity_aws::LambdaError for HandlerError {
    fn error_type(&self) -> &'static str {
        HandlerError::error_type(self)
    }
}

capacity_aws::impl_diagnostic!(HandlerError);
