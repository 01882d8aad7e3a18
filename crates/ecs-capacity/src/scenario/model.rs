//! The validated model the simulator runs: the scenario, its group, services and changes,
//! ECS's placement settings, and which of the template's settings a run differs from.

use capacity_core::fit::{AllowedType, GroupLaunch, InstanceTypeInfo, LaunchOrder};
use capacity_core::{ScalePolicy, TaskShape};
use serde::Deserialize;

use super::alarm::{Action, Alarm};
use super::deployed::{DEPLOYED, REACTION_DELAY, ScaleInAdjustment};
use super::policy::{
    LARGEST_STEP, PolicyKind, ScalingSettings, Termination, scale_in_alarm, scale_out_alarm,
    termination,
};

/// The placement strategy of the simulated ECS scheduler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Fill the instance with the least free memory first.
    #[default]
    Binpack,
    /// Spread each service's tasks across instances.
    Spread,
}

/// ECS capacity provider managed scaling settings (`ManagedScaling` in ECS's API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedScaling {
    /// `targetCapacity`, percent (1–100; AWS's default 100).
    pub target_capacity: u32,
    /// `minimumScalingStepSize` (AWS's default 1).
    pub minimum_scaling_step_size: u32,
    /// `maximumScalingStepSize` (AWS's default 10,000).
    pub maximum_scaling_step_size: u32,
    /// `instanceWarmupPeriod`, seconds: a scale-out waits until every instance launched
    /// within it is older (AWS's default 300; the simulator's default is the scenario's
    /// launch delay, in the model's favour).
    pub instance_warmup: u64,
}

/// ECS's service throttle logic for a service without a capacity provider strategy: the
/// seconds between placement attempts after each consecutive failed one (the last entry
/// repeats). Sources, each rule in `sim/scheduler.rs`:
/// * [THROTTLE] ECS developer guide, "Amazon ECS service throttle logic": if tasks
///   "repeatedly fail to start", the "time between subsequent restart attempts is
///   incrementally increased up to a maximum of 15 minutes" (the 2023 text; today's text says
///   27 minutes); "a lack of resources with which to host your task, such as ports, memory,
///   or CPU units" is one of the causes; updating the service to a new task definition
///   returns it "to a normal, non-throttled state immediately".
/// * [AGENT] aws/amazon-ecs-agent#1160, an AWS engineer: "The 15 minute delay here was a
///   result of the ECS scheduler unable to find a candidate instance in 3 successive
///   placement attempts".
/// * [REPRO] reproio/ecs_deploy#53, measured: services "try to start tasks after about 5
///   minutes if they fail to start tasks due to lack of resources for about 50 seconds".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementBackoff {
    pub name: &'static str,
    /// Seconds to the next attempt after the 1st, 2nd, … consecutive failed attempt.
    pub after_failures: Vec<u64>,
}

impl PlacementBackoff {
    /// No throttle: the scheduler retries every step (the simulator before this model).
    pub fn none() -> Self {
        PlacementBackoff {
            name: "none",
            after_failures: Vec::new(),
        }
    }

    /// The default: retries every 10 s for about 50 s (five failed attempts), then 5 minutes
    /// ([REPRO]), then
    /// growing, 10 and 15 minutes ([THROTTLE]'s "incrementally increased up to 15
    /// minutes"). Where the sources are vague — how many quick retries, the steps between
    /// 5 and 15 minutes — the choice follows the one measurement ([REPRO]) and the 2023
    /// maximum, the milder of the two documented maxima.
    pub fn default_schedule() -> Self {
        PlacementBackoff {
            name: "default",
            after_failures: vec![10, 10, 10, 10, 300, 600, 900],
        }
    }

    /// The slowest the sources allow: 15 minutes after 3 failed attempts ([AGENT]), then
    /// today's documented maximum of 27 minutes ([THROTTLE]).
    pub fn slowest() -> Self {
        PlacementBackoff {
            name: "slowest",
            after_failures: vec![10, 10, 900, 1620],
        }
    }

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::none()),
            "default" => Some(Self::default_schedule()),
            "slowest" => Some(Self::slowest()),
            _ => None,
        }
    }

    /// Seconds to the next attempt after `failures` consecutive failed attempts (≥ 1); 0
    /// without a throttle.
    pub fn delay_after(&self, failures: u32) -> u64 {
        let index = (failures.max(1) - 1) as usize;
        self.after_failures
            .get(index)
            .or(self.after_failures.last())
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    pub name: String,
    pub cpu: u32,
    pub memory_mib: u32,
    pub gpus: u32,
    pub max_enis: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Asg {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Indexes into [`Scenario::instance_types`], launched in turn.
    pub launch_types: Vec<usize>,
    pub launch_delay: u64,
    /// The termination lifecycle hook's timeout; `None`: no hook, instances die at once.
    pub hook_timeout: Option<u64>,
    /// `asg.termination` as the scenario sets it; `None`: the policy's own
    /// ([`PolicyKind::default_termination`]).
    pub termination: Option<Termination>,
    /// The group's Availability Zones (at least one).
    pub zones: Vec<String>,
    /// Container instances of the cluster the group does not own.
    pub outside_group: u32,
    /// How the group picks the type of its next instance.
    pub launch_order: LaunchOrderSetting,
}

/// How the simulated group picks the type of its next instance (`asg.launch_order`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LaunchOrderSetting {
    /// The types in turn (a group that picks by price or spreads its types: which comes
    /// next is not known to the calculator, which sizes on the type that holds fewest
    /// tasks per unit).
    #[default]
    RoundRobin,
    /// Always the first type (a mixed instances policy with `prioritized` On-Demand
    /// instances, or a single type).
    Prioritized,
}

/// The zones a scenario's group spans when it names none.
pub const DEFAULT_ZONES: [&str; 3] = ["sim-1a", "sim-1b", "sim-1c"];

/// What kind of tasks a service (or job) runs.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceKind {
    /// A REPLICA service: `desired` tasks, replaced when they stop.
    Replica,
    /// A DAEMON service: one task on every ACTIVE instance.
    Daemon,
    /// A standalone job: tasks started by RunTask, each running to completion, never
    /// replaced, and not moved off a DRAINING instance.
    Job(Vec<JobRun>),
}

/// One batch of a job: `count` tasks wanted from `at`, each running `duration` once placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRun {
    pub at: u64,
    pub count: u32,
    pub duration: u64,
}

/// What happens to a service's desired count or task definition.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Step(u32),
    Ramp { to: u32, until: u64 },
    Deploy(TaskShape),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: u64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub shape: TaskShape,
    pub desired: u32,
    pub minimum_healthy_percent: u32,
    pub maximum_percent: u32,
    pub changes: Vec<Change>,
    pub kind: ServiceKind,
    /// Its strategy spreads by zone first (re-placed tasks stay balanced across zones).
    pub spread_by_zone: bool,
    /// `distinctInstance`.
    pub distinct_instance: bool,
}

impl Service {
    pub fn is_daemon(&self) -> bool {
        self.kind == ServiceKind::Daemon
    }

    pub fn is_job(&self) -> bool {
        matches!(self.kind, ServiceKind::Job(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: u64,
    pub step: u64,
    pub instance_types: Vec<InstanceType>,
    pub asg: Asg,
    pub strategy: Strategy,
    pub task_start: u64,
    pub task_stop: u64,
    pub services: Vec<Service>,
    pub policy: PolicyKind,
    /// How this run's group picks instances on a scale-in.
    pub termination: Termination,
    /// The `capacity-provider` policy's managed scaling settings.
    pub managed_scaling: ManagedScaling,
    pub headroom: ScalePolicy,
    pub scale_out: Alarm,
    pub scale_in: Alarm,
    pub flap_window: u64,
    /// The calculator also runs every this many seconds (0: on container instance events only).
    pub calculator_schedule: u64,
    /// Seconds from the calculator's trigger to its datapoint reaching the alarm
    /// ([`REACTION_DELAY`]).
    pub reaction_delay: u64,
    /// ECS's placement back-off for services without a capacity provider (the `book` and
    /// `hosts-to-add` policies).
    pub placement_backoff: PlacementBackoff,
    /// The most hosts one step of the hosts-to-add policy adds: the template's table
    /// ([`LARGEST_STEP`]) unless a run caps it lower (`--largest-step`, to measure what the
    /// table's large steps buy).
    pub largest_step: u32,
    /// The consolidation plan's disruption budget (`DisruptionBudget`; the template's 10 %).
    pub disruption_budget: capacity_core::DisruptionBudget,
    /// The plan's stability window, seconds (`ConsolidationStabilitySeconds`; 300).
    pub consolidation_stability: u64,
    /// What the plan's margin is counted in (the calculator's default: the largest task
    /// that moves).
    pub margin_task: capacity_core::consolidation::MarginTask,
    /// What the headroom is counted in (the calculator's `HEADROOM_TASK`; default the worst
    /// case).
    pub headroom_task: capacity_core::run::HeadroomTask,
    /// The settings as written, so that `with_policy` can rebuild the alarms.
    pub(super) scaling: ScalingSettings,
}

impl Scenario {
    /// The group's instance types as the calculator reads them (`capacity_core::fit`): each
    /// allowed type once, in the group's order, with what its instances register; the order
    /// as [`Asg::launch_order`] says.
    pub fn group_launch(&self) -> GroupLaunch {
        let mut seen: Vec<usize> = Vec::new();
        for &i in &self.asg.launch_types {
            if !seen.contains(&i) {
                seen.push(i);
            }
        }
        GroupLaunch {
            types: seen
                .into_iter()
                .filter_map(|i| self.instance_types.get(i))
                .map(|t| AllowedType {
                    info: InstanceTypeInfo {
                        name: t.name.clone(),
                        vcpus: t.cpu.div_ceil(1024),
                        memory_mib: t.memory_mib,
                        max_enis: t.max_enis,
                        gpus: t.gpus,
                        registered: Some(capacity_core::Resources {
                            gpus: t.gpus,
                            ..capacity_core::Resources::new(t.cpu, t.memory_mib)
                        }),
                    },
                    weight: 1,
                })
                .collect(),
            order: match (self.asg.launch_order, self.asg.launch_types.len()) {
                (_, 0 | 1) => LaunchOrder::OneType,
                (LaunchOrderSetting::Prioritized, _) => LaunchOrder::Prioritized,
                (LaunchOrderSetting::RoundRobin, _) => LaunchOrder::ByPrice,
            },
        }
    }

    /// The same scenario whose group launches `types` (indexes into
    /// [`Scenario::instance_types`]) prioritized: the first always.
    pub fn with_launch_order(&self, types: Vec<usize>) -> Scenario {
        let mut s = self.clone();
        s.asg.launch_types = types;
        s.asg.launch_order = LaunchOrderSetting::Prioritized;
        s
    }

    /// The same scenario with another scale-out policy (for `--compare`).
    pub fn with_policy(&self, policy: PolicyKind) -> Scenario {
        let mut s = self.clone();
        s.policy = policy;
        s.termination = termination(policy, s.asg.termination);
        s.scale_out = scale_out_alarm(policy, s.headroom, &s.scaling.out, s.step);
        s.scale_in = scale_in_alarm(policy, &s.scaling.r#in);
        s
    }

    /// The same scenario with another headroom (for `--sweep`): HostsToAdd's target, and the
    /// book's threshold unless the scenario sets one.
    pub fn with_headroom(&self, headroom: ScalePolicy) -> Scenario {
        let mut s = self.clone();
        s.headroom = headroom;
        s.scale_out = scale_out_alarm(s.policy, headroom, &s.scaling.out, s.step);
        s
    }

    /// The settings of this run that differ from the loop `infra/template.yaml` deploys
    /// ([`DEPLOYED`]), as `name value (template value)`; only those the run's policy uses.
    pub fn not_as_deployed(&self) -> Vec<String> {
        let d = DEPLOYED;
        let mut out = Vec::new();
        match self.policy {
            PolicyKind::CapacityProviderConsolidation => {
                out.push("ScalingMode capacity-provider (template default self-managed)".to_owned())
            }
            PolicyKind::HostsToAddMinusOne => out.push(format!(
                "ScaleInAdjustment {} (template {})",
                ScaleInAdjustment::MinusOne.cloudformation_name(),
                d.scale_in_adjustment.cloudformation_name()
            )),
            _ => {}
        }
        let mut check = |name: &str, value: String, deployed: String| {
            if value != deployed {
                out.push(format!("{name} {value} (template {deployed})"));
            }
        };
        let secs = |s: u64| crate::duration::Secs(s).to_string();
        if self.policy.consolidates() {
            check(
                "plan margin",
                format!("{:?}", self.margin_task),
                format!("{:?}", capacity_core::consolidation::MarginTask::default()),
            );
            check(
                "disruption budget",
                self.disruption_budget.to_string(),
                d.disruption_budget.to_string(),
            );
            check(
                "consolidation stability",
                secs(self.consolidation_stability),
                secs(d.consolidation_stability),
            );
        }
        if self.policy.consolidates() || !self.policy.is_capacity_provider() {
            // The headroom's unit binds the consolidation plan in both modes.
            check(
                "headroom task",
                self.headroom_task.to_string(),
                capacity_core::run::HeadroomTask::default().to_string(),
            );
        }
        if self.policy.is_capacity_provider() {
            return out;
        }
        check(
            "headroom",
            self.headroom.headroom().to_string(),
            d.headroom.to_string(),
        );

        let r#in = &self.scale_in;
        check(
            "scale-in period",
            secs(r#in.period),
            secs(d.scale_in_period),
        );
        // HostsToRemoveAlarm has one period of its own; the IdleHostCapacity alarm the
        // scale-in window.
        let evaluations = if r#in.action == Action::RemoveByMetric {
            d.hosts_to_remove_evaluation_periods
        } else {
            d.scale_in_evaluation_periods
        };
        check(
            "scale-in evaluation periods",
            r#in.evaluation_periods.to_string(),
            evaluations.to_string(),
        );
        check(
            "scale-in missing data",
            format!("{:?}", r#in.missing_data),
            format!("{:?}", d.scale_in_missing_data),
        );
        if let Action::Simple { cooldown, .. } = r#in.action {
            check(
                "scale-in cooldown",
                secs(cooldown),
                secs(d.scale_in_cooldown),
            );
        }
        let out_alarm = &self.scale_out;
        match (self.policy, out_alarm.action) {
            (
                PolicyKind::HostsToAddMinusOne | PolicyKind::HostsToAdd,
                Action::StepByMetric { warmup },
            ) => {
                check("scale-out warmup", secs(warmup), secs(d.scale_out_warmup));
                check(
                    "largest step",
                    self.largest_step.to_string(),
                    LARGEST_STEP.to_string(),
                );
            }
            (PolicyKind::Book, Action::Simple { cooldown, .. }) => {
                check(
                    "scale-out period",
                    secs(out_alarm.period),
                    secs(d.scale_out_period),
                );
                check(
                    "scale-out evaluation periods",
                    out_alarm.evaluation_periods.to_string(),
                    d.scale_out_evaluation_periods.to_string(),
                );
                check(
                    "scale-out missing data",
                    format!("{:?}", out_alarm.missing_data),
                    format!("{:?}", d.scale_out_missing_data),
                );
                check(
                    "scale-out cooldown",
                    secs(cooldown),
                    secs(d.scale_out_warmup),
                );
            }
            _ => {}
        }
        check(
            "calculator schedule",
            secs(self.calculator_schedule),
            secs(d.calculator_schedule),
        );
        if self.reaction_delay != REACTION_DELAY {
            out.push(format!(
                "reaction delay {} (the simulator's default {})",
                secs(self.reaction_delay),
                secs(REACTION_DELAY)
            ));
        }
        if self.placement_backoff.name != "default" {
            out.push(format!(
                "ECS placement back-off {} (the simulator's default: default)",
                self.placement_backoff.name
            ));
        }
        out
    }

    /// The same scenario with the group's scale-in choice set (for `--termination`).
    pub fn with_termination(&self, termination: Termination) -> Scenario {
        let mut s = self.clone();
        s.asg.termination = Some(termination);
        s.termination = self::termination(s.policy, Some(termination));
        s
    }
}
