//! One run of the capacity calculator, decided: [`decide`].
//!
//! The Lambda and the simulator both read the cluster, build a [`RunInput`] and carry out the
//! [`Decision`] it gives; nothing that decides lives anywhere else. A run:
//!
//! 1. **assesses** the reading ([`assess_reading`]): ContainerCapacity, IdleHostCapacity,
//!    HostsToAdd, the tasks that wait;
//! 2. **recalls** the plan's memory ([`memory`]: from the cluster's marks when acting, the
//!    process's own when observing, with the gap rule);
//! 3. **plans** the consolidation ([`crate::plan_scale_in`]) on the cluster as it is: the hosts
//!    as the reading vouches for their tasks and their owners ([`cluster_hosts`]: only service
//!    tasks move, daemon tasks stay, a standalone task keeps its host), as the Auto Scaling
//!    group sees them ([`hosts_in_group`]), its zones ([`crate::consolidation::ZonePolicy`]),
//!    the services' placement rules; nothing while the cluster is short (HostsToAdd ≥ 1 or a
//!    placement failure of this cluster's EC2 capacity) nor for the quiet period after;
//! 4. **acts** by the mode, unless it only observes: self-managed ([`self_managed`]) bounds the
//!    plan by the group and marks the hosts the scale-in chooser must remove before
//!    `HostsToRemove` is published; capacity-provider ([`capacity_provider`]) checks the
//!    cluster's shape, drains the planned partly used hosts itself, undoes its drains when
//!    this cluster's EC2 tasks wait, and gives a drain up that does not finish;
//! 5. **remembers**: the memory to keep, and (acting) the marks and tag that hold it.
//!
//! The changes come back as [`Chain`]s of [`Step`]s, in the order they must be made (a mark
//! before the drain it announces). The shell carries them out ([`Execution`]) and
//! [settles](Decision::settle) what it publishes on what was done: `HostsToRemove` only when
//! the marks that name its hosts were written, the hosts drained and reactivated as done.
//!
//! ```
//! use std::time::Duration;
//! use capacity_core::run::{decide, AutoScalingGroup, PlanMemory, RunInput, Settings, TaskPlacement};
//! use capacity_core::{ContainerInstance, Demand, Resources, WorstCase};
//!
//! let host = |id: &str| ContainerInstance {
//!     ec2_instance_id: Some(format!("i-{id}")),
//!     ..ContainerInstance::active(id, Resources::new(4096, 8192), Resources::new(4096, 8192))
//! };
//! let instances = [host("a"), host("b"), host("c")];
//! let placement = TaskPlacement {
//!     task_counts: [("a", 0), ("b", 0), ("c", 0)].map(|(id, n)| (id.to_owned(), n)).into(),
//!     ..TaskPlacement::default()
//! };
//! let group = AutoScalingGroup::with("hosts", 1, 3,
//!     &[("i-a", "InService"), ("i-b", "InService"), ("i-c", "InService")]);
//! let worst = WorstCase::cpu_memory(1024, 2048)?;
//! let settings = Settings { stability_window: Duration::ZERO, ..Settings::default() };
//! let tags = Default::default();
//! let decision = decide(&RunInput {
//!     instances: &instances,
//!     worst_case: &worst,
//!     demand: &Demand::none(),
//!     placement: &placement,
//!     services: &[],
//!     group: Ok(&group),
//!     launch: None,
//!     provider: None,
//!     memory: &PlanMemory::default(),
//!     cluster_tags: Ok(&tags),
//!     settings: &settings,
//!     trigger: capacity_core::run::Trigger::Schedule,
//!     now_unix_secs: 1_800_000_000,
//! })?;
//! // Three empty hosts, a budget of one: one goes, marked for the chooser first.
//! assert_eq!(decision.hosts_to_remove, Some(1));
//! assert_eq!(decision.hosts_removable, 1);
//! # Ok::<(), capacity_core::CapacityError>(())
//! ```

mod capacity_provider;
mod group;
mod headroom;
mod memory;
mod reading;
pub mod self_managed;
mod shape;
mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub use capacity_provider::{Acting, Allowed, GaveUp};
pub use group::{
    AutoScalingGroup, GroupFit, GroupInstance, LEAVING_STATES, hosts_in_group, relabel,
};
pub use headroom::HeadroomTask;
pub use reading::{TaskPlacement, assess_reading, cluster_hosts, marks_of, tasks_to_fit};
pub use self_managed::MarkChanges;
pub use shape::{ClusterShape, ProviderShape, TargetStatus};
pub use steps::{Action, Chain, Executed, Execution, Step, StepKind};

use crate::consolidation::{
    DEFAULT_MIN_HOSTS_PER_ZONE, DEFAULT_QUIET_AFTER_SHORTFALL, MarginTask, ZonePolicy,
};
use crate::fit::{GroupLaunch, TypeFit, fit, next_type};
use crate::placement::ServicePlacement;
use crate::{
    Assessment, CapacityError, ContainerInstance, Demand, DisruptionBudget, InstanceStatus,
    ScaleInInput, ScaleInPlan, ScalePolicy, WorstCase, plan_scale_in,
};

/// How the calculator acts on its consolidation plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum ScalingMode {
    /// Our alarms and step policies drive the group: publish `HostsToRemove`, mark the
    /// planned hosts for the scale-in chooser.
    #[default]
    SelfManaged,
    /// ECS managed scaling drives the group: drain the planned hosts ourselves.
    CapacityProvider,
}

impl ScalingMode {
    /// `self-managed` or `capacity-provider` (any case, surrounding blanks allowed).
    pub fn parse(value: &str) -> Option<ScalingMode> {
        match value.trim().to_ascii_lowercase().as_str() {
            "self-managed" => Some(ScalingMode::SelfManaged),
            "capacity-provider" => Some(ScalingMode::CapacityProvider),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScalingMode::SelfManaged => "self-managed",
            ScalingMode::CapacityProvider => "capacity-provider",
        }
    }
}

/// Whether consolidation acts on its plan or only reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum Consolidation {
    /// Mark, drain and remove the planned hosts.
    #[default]
    Act,
    /// Plan and publish `HostsRemovable` with the plan in the log; mark, drain and remove
    /// nothing (what a team runs before it lets consolidation act).
    Observe,
}

impl Consolidation {
    /// `act` or `observe` (any case, surrounding blanks allowed).
    pub fn parse(value: &str) -> Option<Consolidation> {
        match value.trim().to_ascii_lowercase().as_str() {
            "act" => Some(Consolidation::Act),
            "observe" => Some(Consolidation::Observe),
            _ => None,
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Trigger {
    /// "ECS Container Instance State Change".
    ContainerInstanceStateChange,
    /// "ECS Service Action" `SERVICE_TASK_PLACEMENT_FAILURE`: always a full read.
    PlacementFailure,
    /// The schedule (`CalculatorScheduleMinutes`): always a full read.
    Schedule,
}

/// The default time after which a drain this function started and that still has tasks is
/// given up: 15 minutes.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(900);

/// The settings a run decides with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub mode: ScalingMode,
    pub consolidation: Consolidation,
    pub policy: ScalePolicy,
    /// The consolidation plan's disruption budget.
    pub budget: DisruptionBudget,
    /// How long a host must have been removable before it is planned.
    pub stability_window: Duration,
    /// How long nothing is planned after the cluster was short.
    pub quiet_after_shortfall: Duration,
    /// The Auto Scaling group's name (`AUTO_SCALING_GROUP_NAME`): the capacity provider of
    /// capacity-provider mode must be of it.
    pub auto_scaling_group: Option<String>,
    /// Hosts a zone keeps at least.
    pub min_hosts_per_zone: u32,
    /// Capacity-provider mode: how long a drain of ours may keep tasks before it is given up.
    pub give_up_after: Duration,
    /// What the plan's margin is counted in ([`MarginTask`]).
    pub margin_task: MarginTask,
}

impl Default for Settings {
    /// Self-managed, acting, headroom 1, 10 % budget, stable for 5 minutes, quiet for 15
    /// after a shortfall, one host per zone at least, a drain given up after 15 minutes, a
    /// margin of the largest task that moves, no group named.
    fn default() -> Settings {
        Settings {
            mode: ScalingMode::SelfManaged,
            consolidation: Consolidation::Act,
            policy: ScalePolicy::default(),
            budget: DisruptionBudget::default(),
            stability_window: crate::DEFAULT_STABILITY_WINDOW,
            quiet_after_shortfall: DEFAULT_QUIET_AFTER_SHORTFALL,
            auto_scaling_group: None,
            min_hosts_per_zone: DEFAULT_MIN_HOSTS_PER_ZONE,
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            margin_task: MarginTask::LargestMoving,
        }
    }
}

/// What the plan keeps from one run to the next in the process ([`memory`] says where else).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanMemory {
    /// Since when each host has been removable (seconds since the Unix epoch), for the
    /// stability window.
    pub removable_since: BTreeMap<String, u64>,
    /// The last time the cluster was short, for the quiet period after a shortfall.
    pub last_shortfall: Option<u64>,
    /// The last run that planned with the group read: the process's removable times count
    /// only when it is within the stability window.
    pub last_run: Option<u64>,
}

/// Everything one run decides on.
#[derive(Debug, Clone, Copy)]
pub struct RunInput<'a> {
    /// Every container instance of the cluster, as read, with its attributes.
    pub instances: &'a [ContainerInstance],
    /// The worst case the figures are in.
    pub worst_case: &'a WorstCase,
    /// What waits for room, the daemons, and this run's placement failure.
    pub demand: &'a Demand,
    /// Which tasks ran where at the read (with their owners) and the task counts.
    pub placement: &'a TaskPlacement,
    /// The services' placement rules and capacity providers.
    pub services: &'a [ServicePlacement],
    /// The Auto Scaling group as read, or why it was not (not configured, the read failed).
    pub group: Result<&'a AutoScalingGroup, &'a str>,
    /// The group's instance types, when read ([`crate::fit`]): new hosts are sized on the
    /// type it launches, and the fit of today's tasks on it is published.
    pub launch: Option<&'a GroupLaunch>,
    /// Capacity-provider mode: the cluster's capacity providers as read, or why not.
    /// `None` in self-managed mode.
    pub provider: Option<Result<&'a ClusterShape, &'a str>>,
    /// The process's own memory of the last runs.
    pub memory: &'a PlanMemory,
    /// The cluster's tags as read (acting: the memory the cluster holds), or why not.
    pub cluster_tags: Result<&'a BTreeMap<String, String>, &'a str>,
    pub settings: &'a Settings,
    pub trigger: Trigger,
    /// Seconds since the Unix epoch.
    pub now_unix_secs: u64,
}

/// What capacity-provider mode decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingDecision {
    /// The capacity provider found in the shape the mode needs, when it was.
    pub capacity_provider: Option<String>,
    /// Why nothing is drained this run, when nothing may be.
    pub refused: Option<String>,
    /// The changes, as decided.
    pub changes: Acting,
}

/// The decision of one run; carry out [`Decision::steps`], then [`Decision::settle`].
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub assessment: Assessment,
    /// Today's tasks packed on the type the group launches: the stranded CPU and memory
    /// published (`None` without the group's types or a task listing).
    pub fit: Option<TypeFit>,
    /// The consolidation plan: which hosts could go, why each, why the others stay.
    pub plan: ScaleInPlan,
    /// Container instances whose EC2 instance the group is terminating.
    pub leaving: Vec<String>,
    /// What to keep for the next run.
    pub memory: PlanMemory,
    /// `HostsRemovable`: the plan's size, bounded by what the group may lose when it was
    /// read. Published in both consolidation settings (observing, it is the whole output).
    pub hosts_removable: u32,
    /// `HostsToRemove` to publish once the steps are done (the plan bounded by the group), or
    /// `None` when it is left out.
    pub hosts_to_remove: Option<u32>,
    /// Why `HostsToRemove` is left out.
    pub left_out: Option<String>,
    /// Self-managed: the planned-removal marks deleted and put.
    pub marks: MarkChanges,
    /// Capacity-provider mode: what it drains, sets ACTIVE again and gives up.
    pub acting: Option<ActingDecision>,
    /// The changes, in order.
    pub steps: Vec<Chain>,
}

/// What a run publishes and reports once its steps are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub hosts_removable: u32,
    pub hosts_to_remove: Option<u32>,
    pub left_out: Option<String>,
    /// Capacity-provider mode: hosts set DRAINING, hosts set ACTIVE again because tasks wait,
    /// drains given up.
    pub drained: u32,
    pub reactivated: u32,
    pub given_up: u32,
    /// The first failed step, as `<what>: <error>`.
    pub error: Option<String>,
}

impl Decision {
    /// Whether the steps change a container instance's status (the next run must read the
    /// cluster again).
    pub fn changes_status(&self) -> bool {
        self.steps
            .iter()
            .flat_map(|c| &c.0)
            .any(|s| s.action.changes_status())
    }

    /// The figures once the steps were carried out as `executed` says: `HostsToRemove` only
    /// when the marks naming its hosts were written (self-managed mode), the hosts drained,
    /// reactivated and given up only as far as their calls succeeded.
    pub fn settle(&self, executed: &Executed) -> Settled {
        let count = |hosts: usize| u32::try_from(hosts).unwrap_or(u32::MAX);
        let mut settled = Settled {
            hosts_removable: self.hosts_removable,
            hosts_to_remove: self.hosts_to_remove,
            left_out: self.left_out.clone(),
            drained: 0,
            reactivated: 0,
            given_up: 0,
            error: executed.first_failure(),
        };
        match &self.acting {
            None => {
                let marks_failed = executed.failed.iter().find(|(kind, _, _)| {
                    matches!(kind, StepKind::UnmarkPlanned | StepKind::MarkPlanned)
                });
                if let Some((_, _, error)) = marks_failed {
                    settled.hosts_to_remove = None;
                    settled.left_out =
                        Some(format!("writing the planned-removal marks failed: {error}"));
                }
            }
            Some(acting) => {
                if executed.completed(StepKind::Drain) {
                    settled.drained = count(acting.changes.drain.len());
                }
                if executed.completed(StepKind::Reactivate) {
                    settled.reactivated = count(acting.changes.reactivate.len());
                    settled.given_up = count(acting.changes.given_up.len());
                }
            }
        }
        settled
    }
}

/// Decides one run; see the module. Fails only when the reading is inconsistent (an instance
/// with more remaining than registered, an empty worst case): then nothing is published.
pub fn decide(input: &RunInput<'_>) -> Result<Decision, CapacityError> {
    let settings = input.settings;
    let assessment = assess_reading(
        input.instances,
        input.worst_case,
        input.demand,
        &settings.policy,
        input.launch,
    )?;
    let fit = launched_fit(input);
    let recalled = memory::recall(input);
    let short_now = assessment.hosts_to_add > 0 || our_placement_failure(input).is_some();
    let (plan, leaving) = plan(input, &recalled, short_now);
    let (memory, remember) = memory::remember(input, &recalled, &plan, input.group.is_ok());
    let hosts_removable = match input.group {
        Ok(group) => self_managed::bound(&plan, group.removable()),
        Err(_) => plan.hosts_to_remove(),
    };
    let mut decision = Decision {
        assessment,
        fit,
        plan,
        leaving,
        memory,
        hosts_removable,
        hosts_to_remove: None,
        left_out: None,
        marks: MarkChanges::default(),
        acting: None,
        steps: Vec::new(),
    };
    match settings.mode {
        ScalingMode::SelfManaged => self_managed::act(input, &mut decision),
        ScalingMode::CapacityProvider => capacity_provider::act(input, &mut decision),
    }
    if settings.consolidation == Consolidation::Observe {
        decision.steps.clear();
        decision.hosts_to_remove = None;
        decision.left_out = Some(
            "consolidation observes: the plan is published as HostsRemovable, nothing acts on it"
                .to_owned(),
        );
    } else if let (Err(why), true) = (input.cluster_tags, input.group.is_ok()) {
        // Without the cluster's memory the quiet period is not known: act on nothing.
        decision.hosts_to_remove = None;
        decision.left_out = Some(format!("{why}: the plan's memory is not known"));
        if let Some(acting) = &mut decision.acting {
            acting.changes.drain.clear();
            acting.refused = Some(format!("{why}: nothing is drained"));
        }
        decision.steps = acting_steps(&decision, input);
    } else {
        decision.steps.extend(remember);
    }
    Ok(decision)
}

/// Today's tasks ([`tasks_to_fit`]) packed on the type the group launches next.
fn launched_fit(input: &RunInput<'_>) -> Option<TypeFit> {
    let (host, _) = next_type(input.launch?, input.instances, input.worst_case)?;
    let tasks = tasks_to_fit(input.placement, input.demand)?;
    Some(fit(&tasks, &input.demand.daemons, &host, input.worst_case))
}

/// The steps of `decision` once its drains were withdrawn (capacity-provider mode's undo and
/// give-ups still run; self-managed mode writes nothing).
fn acting_steps(decision: &Decision, input: &RunInput<'_>) -> Vec<Chain> {
    match &decision.acting {
        Some(acting) => capacity_provider::steps(&acting.changes, input),
        None => Vec::new(),
    }
}

/// A placement failure of this run that is about this cluster's EC2 capacity: not about
/// Fargate, of a service that runs on the capacity this run sizes ([`uses_our_capacity`]).
/// The cluster is short when there is one.
fn our_placement_failure<'i>(input: &'i RunInput<'_>) -> Option<&'i crate::PlacementFailure> {
    let ours = our_provider(input);
    input.demand.placement_failures.iter().find(|f| {
        f.rules_out_existing_room() && uses_our_capacity(input, &f.service, ours.as_deref())
    })
}

/// Capacity-provider mode: the name of the capacity provider this run sizes, when the
/// cluster's shape checks out.
fn our_provider(input: &RunInput<'_>) -> Option<String> {
    let shape = input.provider?.ok()?;
    shape
        .check(input.settings.auto_scaling_group.as_deref()?)
        .ok()
}

/// Whether `service` (a name or ARN) runs on the capacity this run sizes: in self-managed
/// mode every service of the cluster on EC2; in capacity-provider mode one whose strategy
/// names no provider (the cluster's default) or `ours`. A service the reading does not
/// describe is taken to (the careful side: its tasks wait on this cluster).
pub(super) fn uses_our_capacity(input: &RunInput<'_>, service: &str, ours: Option<&str>) -> bool {
    let name = service.rsplit('/').next().unwrap_or(service);
    let Some(rules) = input.services.iter().find(|s| s.service == name) else {
        return true;
    };
    match input.settings.mode {
        ScalingMode::SelfManaged => true,
        ScalingMode::CapacityProvider => {
            rules.capacity_providers.is_empty()
                || ours.is_none_or(|ours| rules.capacity_providers.iter().any(|p| p == ours))
        }
    }
}

/// The consolidation plan of the reading, on the cluster as it is; the hosts found leaving.
fn plan(input: &RunInput<'_>, memory: &PlanMemory, short_now: bool) -> (ScaleInPlan, Vec<String>) {
    let settings = input.settings;
    let daemons = &input.demand.daemons;
    let (mut hosts, fit) = match input.group {
        Ok(group) => hosts_in_group(input.instances, input.placement, group, daemons),
        Err(_) => (
            cluster_hosts(input.instances, input.placement, daemons),
            GroupFit::default(),
        ),
    };
    let cp = settings.mode == ScalingMode::CapacityProvider;
    capacity_provider::hold_given_up(&mut hosts, settings, input.now_unix_secs);
    let zones = input
        .group
        .ok()
        .and_then(|g| zone_policy(g, &fit, &hosts, settings));
    // Capacity-provider mode: the group's instances not in the cluster are managed scaling's.
    let strangers: &[String] = if cp { &[] } else { &fit.not_in_cluster };
    let mut plan = plan_scale_in(&ScaleInInput {
        not_in_cluster: strangers,
        policy: settings.policy,
        waiting: &input.demand.unplaced,
        budget: settings.budget,
        stability_window: settings.stability_window,
        quiet_after_shortfall: settings.quiet_after_shortfall,
        last_shortfall: memory.last_shortfall,
        short_now,
        services: input.services,
        zones: zones.as_ref(),
        leave_empty_hosts: cp,
        margin_task: settings.margin_task,
        ..ScaleInInput::new(
            &hosts,
            input.worst_case,
            input.now_unix_secs,
            &memory.removable_since,
        )
    });
    relabel(&mut plan, &fit);
    (plan, fit.leaving.into_keys().collect())
}

/// How the group's zones bind the plan: its instances per zone that stay (InService, not
/// leaving, not DRAINING), the zone of its instances not in the cluster, the minimum, and —
/// self-managed — that Auto Scaling picks among tied zones. `None` when the group names no
/// zone (zone-blind).
fn zone_policy(
    group: &AutoScalingGroup,
    fit: &GroupFit,
    hosts: &[crate::ClusterHost],
    settings: &Settings,
) -> Option<ZonePolicy> {
    let draining: BTreeSet<&str> = hosts
        .iter()
        .filter(|h| h.instance.status == InstanceStatus::Draining)
        .filter_map(|h| h.instance.ec2_instance_id.as_deref())
        .collect();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for instance in &group.instances {
        let Some(zone) = &instance.availability_zone else {
            continue;
        };
        let entry = counts.entry(zone.clone()).or_default();
        if instance.is_in_service() && !draining.contains(instance.instance_id.as_str()) {
            *entry += 1;
        }
    }
    if counts.is_empty() {
        return None;
    }
    let stranger_zones = fit
        .not_in_cluster
        .iter()
        .filter_map(|id| {
            let zone = group.instance(id)?.availability_zone.clone()?;
            Some((id.clone(), zone))
        })
        .collect();
    Some(ZonePolicy {
        counts,
        stranger_zones,
        min_per_zone: settings.min_hosts_per_zone,
        each_tied_zone: settings.mode == ScalingMode::SelfManaged,
    })
}
