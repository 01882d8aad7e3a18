//! One run of the capacity calculator, decided: [`decide`].
//!
//! The Lambda and the simulator both read the cluster, build a [`RunInput`] and carry out the
//! [`Decision`] it gives; nothing that decides lives anywhere else. A run:
//!
//! 1. **assesses** the reading ([`assess_reading`]): ContainerCapacity, IdleHostCapacity,
//!    HostsToAdd, the tasks that wait;
//! 2. **plans** the consolidation ([`crate::plan_scale_in`]) on the hosts as the reading vouches
//!    for their tasks ([`cluster_hosts`]) and as the Auto Scaling group sees them
//!    ([`hosts_in_group`]: hosts it terminates are leaving, hosts outside it never planned, its
//!    instances not in the cluster first), with the plan's memory ([`PlanMemory`]);
//! 3. **acts** by the mode: self-managed ([`self_managed`]) bounds the plan by the group and
//!    marks the hosts the scale-in chooser must remove, before `HostsToRemove` is published;
//!    capacity-provider ([`capacity_provider`]) checks the cluster's shape and drains the
//!    planned hosts itself, undoing its drains when tasks wait.
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
//! let decision = decide(&RunInput {
//!     instances: &instances,
//!     worst_case: &worst,
//!     demand: &Demand::none(),
//!     placement: &placement,
//!     group: Ok(&group),
//!     provider: None,
//!     memory: &PlanMemory::default(),
//!     settings: &settings,
//!     trigger: capacity_core::run::Trigger::Schedule,
//!     now_unix_secs: 1_800_000_000,
//! })?;
//! // Three empty hosts, a budget of one: one goes, marked for the chooser first.
//! assert_eq!(decision.hosts_to_remove, Some(1));
//! assert_eq!(decision.steps.len(), 1);
//! # Ok::<(), capacity_core::CapacityError>(())
//! ```

mod capacity_provider;
mod group;
mod reading;
pub mod self_managed;
mod steps;

use std::collections::BTreeMap;
use std::time::Duration;

pub use capacity_provider::{Acting, Allowed, ClusterShape, ProviderShape, TargetStatus};
pub use group::{
    AutoScalingGroup, GroupFit, GroupInstance, LEAVING_STATES, hosts_in_group, relabel,
};
pub use reading::{TaskPlacement, assess_reading, cluster_hosts};
pub use self_managed::MarkChanges;
pub use steps::{Action, Chain, Executed, Execution, Step, StepKind};

use crate::mark::InstanceMarks;
use crate::{
    Assessment, CapacityError, ContainerInstance, Demand, DisruptionBudget, ScaleInInput,
    ScaleInPlan, ScalePolicy, WorstCase, plan_scale_in,
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

/// The settings a run decides with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub mode: ScalingMode,
    pub policy: ScalePolicy,
    /// The consolidation plan's disruption budget.
    pub budget: DisruptionBudget,
    /// How long a host must have been removable before it is planned.
    pub stability_window: Duration,
    /// The Auto Scaling group's name (`AUTO_SCALING_GROUP_NAME`): the capacity provider of
    /// capacity-provider mode must be of it.
    pub auto_scaling_group: Option<String>,
}

impl Default for Settings {
    /// Self-managed, headroom 1, 10 % budget, stable for 5 minutes, no group named.
    fn default() -> Settings {
        Settings {
            mode: ScalingMode::SelfManaged,
            policy: ScalePolicy::default(),
            budget: DisruptionBudget::default(),
            stability_window: crate::DEFAULT_STABILITY_WINDOW,
            auto_scaling_group: None,
        }
    }
}

/// What the plan keeps from one run to the next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanMemory {
    /// Since when each host has been removable (seconds since the Unix epoch), for the
    /// stability window.
    pub removable_since: BTreeMap<String, u64>,
    /// The last time the cluster was short, for the quiet period after a shortfall.
    pub last_shortfall: Option<u64>,
}

/// Everything one run decides on.
#[derive(Debug, Clone, Copy)]
pub struct RunInput<'a> {
    /// Every container instance of the cluster, as read.
    pub instances: &'a [ContainerInstance],
    /// The worst case the figures are in.
    pub worst_case: &'a WorstCase,
    /// What waits for room, the daemons, and this run's placement failure.
    pub demand: &'a Demand,
    /// Which tasks ran where at the read, the task counts, the hosts' marks.
    pub placement: &'a TaskPlacement,
    /// The Auto Scaling group as read, or why it was not (not configured, the read failed).
    pub group: Result<&'a AutoScalingGroup, &'a str>,
    /// Capacity-provider mode: the cluster's capacity providers as read, or why not.
    /// `None` in self-managed mode.
    pub provider: Option<Result<&'a ClusterShape, &'a str>>,
    pub memory: &'a PlanMemory,
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
    /// The consolidation plan: which hosts could go, why each, why the others stay.
    pub plan: ScaleInPlan,
    /// Container instances whose EC2 instance the group is terminating.
    pub leaving: Vec<String>,
    /// What to keep for the next run.
    pub memory: PlanMemory,
    /// `HostsToRemove` to publish once the steps are done (the plan bounded by the group),
    /// or `None` when it is left out.
    pub hosts_to_remove: Option<u32>,
    /// Why `HostsToRemove` is left out.
    pub left_out: Option<String>,
    /// Self-managed: the planned-removal marks deleted and put.
    pub marks: MarkChanges,
    /// Capacity-provider mode: what it drains and sets ACTIVE again.
    pub acting: Option<ActingDecision>,
    /// The changes, in order.
    pub steps: Vec<Chain>,
}

/// What a run publishes and reports once its steps are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub hosts_to_remove: Option<u32>,
    pub left_out: Option<String>,
    /// Capacity-provider mode: hosts set DRAINING, hosts set ACTIVE again.
    pub drained: u32,
    pub reactivated: u32,
    /// The first failed step, as `<what>: <error>`.
    pub error: Option<String>,
}

impl Decision {
    /// The marks once every step is done, when the steps change marks only (the cached
    /// reading can then take them); `None` when a status changes or nothing changes.
    pub fn marks_after(&self) -> Option<&InstanceMarks> {
        (self.acting.is_none() && !self.marks.is_empty()).then_some(&self.marks.after)
    }

    /// Whether the steps change a container instance's status or a mark the cached reading
    /// cannot take: the next run must read the cluster again.
    pub fn rereads(&self) -> bool {
        self.acting.as_ref().is_some_and(|a| {
            !a.changes.drain.is_empty()
                || !a.changes.reactivate.is_empty()
                || !a.changes.unmark.is_empty()
        })
    }

    /// The figures once the steps were carried out as `executed` says: `HostsToRemove` only
    /// when the marks naming its hosts were written (self-managed mode), the hosts drained and
    /// reactivated only as far as their calls succeeded.
    pub fn settle(&self, executed: &Executed) -> Settled {
        let count = |hosts: &[String]| u32::try_from(hosts.len()).unwrap_or(u32::MAX);
        let mut settled = Settled {
            hosts_to_remove: self.hosts_to_remove,
            left_out: self.left_out.clone(),
            drained: 0,
            reactivated: 0,
            error: executed.first_failure(),
        };
        match &self.acting {
            None => {
                if let Some((_, _, error)) = executed.failed.first() {
                    settled.hosts_to_remove = None;
                    settled.left_out =
                        Some(format!("writing the planned-removal marks failed: {error}"));
                }
            }
            Some(acting) => {
                if executed.completed(StepKind::Drain) {
                    settled.drained = count(&acting.changes.drain);
                }
                if executed.completed(StepKind::Reactivate) {
                    settled.reactivated = count(&acting.changes.reactivate);
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
    )?;
    let (plan, memory, leaving) = plan(input);
    let mut decision = Decision {
        assessment,
        plan,
        leaving,
        memory,
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
    Ok(decision)
}

/// The consolidation plan of the reading, with the hosts as the group sees them when it was
/// read; the memory to keep; the hosts found leaving.
fn plan(input: &RunInput<'_>) -> (ScaleInPlan, PlanMemory, Vec<String>) {
    let (hosts, fit) = match input.group {
        Ok(group) => hosts_in_group(input.instances, input.placement, group),
        Err(_) => (
            cluster_hosts(input.instances, input.placement),
            GroupFit::default(),
        ),
    };
    let settings = input.settings;
    let mut plan = plan_scale_in(&ScaleInInput {
        not_in_cluster: &fit.not_in_cluster,
        policy: settings.policy,
        waiting: &input.demand.unplaced,
        budget: settings.budget,
        stability_window: settings.stability_window,
        last_shortfall: input.memory.last_shortfall,
        ..ScaleInInput::new(
            &hosts,
            input.worst_case,
            input.now_unix_secs,
            &input.memory.removable_since,
        )
    });
    let memory = PlanMemory {
        removable_since: plan.removable_since.clone(),
        last_shortfall: plan.last_shortfall,
    };
    relabel(&mut plan, &fit);
    (plan, memory, fit.leaving.into_keys().collect())
}
