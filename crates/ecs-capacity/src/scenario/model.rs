//! The validated model the simulator runs: the scenario, its group, services and changes,
//! and the alarms with the scaling policies they trigger.

use capacity_core::{ScalePolicy, TaskShape};
use serde::Deserialize;

use super::deployed::{DEPLOYED, REACTION_DELAY};

/// The largest step of the template's step table (`sim::alarms::HOSTS_TO_ADD_STEPS`).
pub const LARGEST_STEP: u32 = 80;

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

/// Which scaling the simulated Auto Scaling group has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// The book: alarm on ContainerCapacity below the headroom, simple policy +1, cooldown;
    /// scale-in on IdleHostCapacity, -1.
    #[default]
    Book,
    /// ECS capacity providers' managed scaling with managed termination protection, as AWS
    /// documents it (see `sim/capacity_provider.rs`, rule by rule).
    CapacityProvider,
    /// The loop `infra/template.yaml` deploys (self-managed mode, `ScaleInAdjustment` =
    /// `HostsToRemove`): scale-out on HostsToAdd (every unplaced task packed, plus the
    /// headroom) at high resolution, a 10-second alarm, a step policy adding that many hosts
    /// with instance warmup; scale-in by capacity-core's consolidation plan: the calculator
    /// publishes HostsToRemove (the plan's size, at most desired − min), the
    /// HostsToRemoveAlarm (Minimum ≥ 1 over the scale-in window) runs a step policy removing
    /// that many hosts on every evaluation in ALARM, and the chooser terminates exactly the
    /// planned hosts (`sim/consolidation.rs`). `hosts-to-add+consolidation`, its name while
    /// it was a what-if, is read as it.
    #[serde(alias = "hosts-to-add+consolidation")]
    HostsToAdd,
    /// `capacity-provider`'s managed scaling unchanged, plus the calculator acting on
    /// capacity-core's consolidation plan each minute by setting the planned hosts DRAINING
    /// (within the disruption budget), and setting a host it drained back to ACTIVE when
    /// tasks wait (`sim/consolidation.rs`): the template's `ScalingMode=capacity-provider`
    /// (issue #20).
    #[serde(rename = "capacity-provider+consolidation")]
    CapacityProviderConsolidation,
    /// `hosts-to-add`'s scale-out with the book's scale-in, as the template deploys it with
    /// `ScaleInAdjustment=MinusOne`: IdleHostCapacity above 1 for the scale-in window, simple
    /// policy −1 with the scale-in cooldown, the chooser picking the fewest tasks.
    #[serde(rename = "hosts-to-add-minus-one")]
    HostsToAddMinusOne,
}

impl PolicyKind {
    /// The label in reports and in the JSON `policy` field.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Book => "book ±1",
            PolicyKind::CapacityProvider => "capacity-provider",
            PolicyKind::HostsToAdd => "hosts-to-add",
            PolicyKind::CapacityProviderConsolidation => "capacity-provider+consolidation",
            PolicyKind::HostsToAddMinusOne => "hosts-to-add −1",
        }
    }

    /// ECS's managed scaling sizes the group (and its tasks wait in PROVISIONING).
    pub fn is_capacity_provider(self) -> bool {
        matches!(
            self,
            PolicyKind::CapacityProvider | PolicyKind::CapacityProviderConsolidation
        )
    }

    /// The calculator computes capacity-core's consolidation plan (`plan_scale_in`).
    pub fn consolidates(self) -> bool {
        matches!(
            self,
            PolicyKind::CapacityProviderConsolidation | PolicyKind::HostsToAdd
        )
    }

    /// The policy without consolidation: the scale-out side both share (`hosts-to-add` and
    /// `hosts-to-add −1` scale out alike).
    pub fn scale_out_kind(self) -> PolicyKind {
        match self {
            PolicyKind::CapacityProviderConsolidation => PolicyKind::CapacityProvider,
            PolicyKind::HostsToAdd => PolicyKind::HostsToAddMinusOne,
            p => p,
        }
    }

    /// How the group picks instances on a scale-in under this policy, unless the scenario
    /// sets `asg.termination`.
    pub fn default_termination(self) -> Termination {
        match self {
            PolicyKind::Book => Termination::Default,
            PolicyKind::CapacityProvider => Termination::ManagedTerminationProtection,
            PolicyKind::HostsToAddMinusOne | PolicyKind::HostsToAdd => Termination::Chooser,
            PolicyKind::CapacityProviderConsolidation => Termination::ManagedTerminationProtection,
        }
    }
}

/// How the group picks the instances a scale-in terminates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Termination {
    /// EC2 Auto Scaling's default termination policy: Availability Zone balance, the oldest
    /// launch template, the instance closest to its next billing hour, then at random.
    Default,
    /// The scale-in chooser (a custom termination policy): not-yet-registered instances
    /// first, then the fewest tasks, the default policy's order among equals.
    Chooser,
    /// ECS managed termination protection (capacity providers only): every instance with a
    /// task is protected from scale-in; only empty ones are terminated, and a scale-in that
    /// finds none waits.
    ManagedTerminationProtection,
}

impl Termination {
    pub fn label(self) -> &'static str {
        match self {
            Termination::Default => "default",
            Termination::Chooser => "chooser",
            Termination::ManagedTerminationProtection => "managed protection",
        }
    }
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

/// How CloudWatch aggregates the datapoints of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Statistic {
    Minimum,
    Maximum,
    Average,
}

/// The alarm's comparison operator (CloudWatch's names, or the symbols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Comparison {
    #[serde(rename = "GreaterThanThreshold", alias = ">")]
    Greater,
    #[serde(rename = "GreaterThanOrEqualToThreshold", alias = ">=")]
    GreaterOrEqual,
    #[serde(rename = "LessThanThreshold", alias = "<")]
    Less,
    #[serde(rename = "LessThanOrEqualToThreshold", alias = "<=")]
    LessOrEqual,
}

impl Comparison {
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Greater => value > threshold,
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::Less => value < threshold,
            Comparison::LessOrEqual => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }
}

/// CloudWatch's TreatMissingData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    /// Keep the current state.
    Ignore,
    /// Missing: INSUFFICIENT_DATA when every period of the window is missing.
    Missing,
    Breaching,
    NotBreaching,
}

impl MissingData {
    /// The alarm's `TreatMissingData` value, as a template writes it.
    pub fn cloudformation_name(self) -> &'static str {
        match self {
            MissingData::Ignore => "ignore",
            MissingData::Missing => "missing",
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
        }
    }
}

/// The metric an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ContainerCapacity,
    IdleHostCapacity,
    HostsToAdd,
    /// The consolidation plan's size (`hosts-to-add+consolidation` only).
    HostsToRemove,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::ContainerCapacity => "ContainerCapacity",
            Metric::IdleHostCapacity => "IdleHostCapacity",
            Metric::HostsToAdd => "HostsToAdd",
            Metric::HostsToRemove => "HostsToRemove",
        }
    }
}

/// A CloudWatch alarm with the scaling policy it triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: &'static str,
    pub metric: Metric,
    pub period: u64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub statistic: Statistic,
    pub comparison: Comparison,
    pub threshold: f64,
    pub missing_data: MissingData,
    pub action: Action,
}

/// What an alarm in ALARM does to the Auto Scaling group's desired capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// A simple scaling policy: change by `adjustment`, then ignore alarms for `cooldown`.
    Simple { adjustment: i64, cooldown: u64 },
    /// A step policy adding as many hosts as the breaching metric value (HostsToAdd), with
    /// instances warming up for `warmup` counted as already added.
    StepByMetric { warmup: u64 },
    /// A step policy removing as many hosts as the breaching metric value (HostsToRemove)
    /// in one step; the chooser terminates the planned hosts.
    RemoveByMetric,
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
    /// ([`super::deployed::REACTION_DELAY`]).
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
    /// The settings as written, so that `with_policy` can rebuild the alarms.
    pub(super) scaling: ScalingSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ScalingSettings {
    pub(super) out: AlarmSettings,
    pub(super) r#in: AlarmSettings,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct AlarmSettings {
    pub(super) period: u64,
    pub(super) evaluation_periods: u32,
    pub(super) datapoints_to_alarm: Option<u32>,
    pub(super) statistic: Option<Statistic>,
    pub(super) comparison: Option<Comparison>,
    pub(super) threshold: Option<f64>,
    pub(super) missing_data: MissingData,
    pub(super) cooldown: u64,
    pub(super) warmup: Option<u64>,
}

impl Scenario {
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
                super::deployed::ScaleInAdjustment::MinusOne.cloudformation_name(),
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

/// The scale-in choice of a run: managed termination protection belongs to capacity
/// providers (ECS sets it on the instances), so `capacity-provider` keeps it whatever the
/// scenario says; the other policies use `asg.termination` when set, else their own.
pub(super) fn termination(policy: PolicyKind, set: Option<Termination>) -> Termination {
    match (policy, set) {
        (PolicyKind::CapacityProvider | PolicyKind::CapacityProviderConsolidation, _) => {
            Termination::ManagedTerminationProtection
        }
        (_, Some(Termination::ManagedTerminationProtection)) | (_, None) => {
            policy.default_termination()
        }
        (_, Some(t)) => t,
    }
}

/// The period of the template's high-resolution scale-out alarm on HostsToAdd, seconds.
pub const HOSTS_TO_ADD_ALARM_PERIOD: u64 = DEPLOYED.hosts_to_add_period;

pub(super) fn scale_out_alarm(
    policy: PolicyKind,
    headroom: ScalePolicy,
    a: &AlarmSettings,
    step: u64,
) -> Alarm {
    let datapoints_to_alarm = a.datapoints_to_alarm.unwrap_or(a.evaluation_periods);
    match policy.scale_out_kind() {
        PolicyKind::Book => Alarm {
            name: "scale-out",
            metric: Metric::ContainerCapacity,
            period: a.period,
            evaluation_periods: a.evaluation_periods,
            datapoints_to_alarm,
            statistic: a.statistic.unwrap_or(Statistic::Minimum),
            comparison: a.comparison.unwrap_or(Comparison::Less),
            threshold: a.threshold.unwrap_or(f64::from(headroom.headroom())),
            missing_data: a.missing_data,
            action: Action::Simple {
                adjustment: 1,
                cooldown: a.cooldown,
            },
        },
        // Managed scaling has its own alarms (sim/capacity_provider.rs); this one is not
        // evaluated for it.
        PolicyKind::CapacityProvider | PolicyKind::CapacityProviderConsolidation => Alarm {
            name: "scale-out",
            metric: Metric::HostsToAdd,
            period: a.period,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            statistic: Statistic::Maximum,
            comparison: Comparison::Greater,
            threshold: 0.0,
            missing_data: a.missing_data,
            action: Action::StepByMetric { warmup: 0 },
        },
        // As the template sets it: HostsToAdd is published at high resolution and the alarm
        // has a 10-second period (or the simulation step, when coarser), one datapoint.
        PolicyKind::HostsToAddMinusOne | PolicyKind::HostsToAdd => Alarm {
            name: "scale-out",
            metric: Metric::HostsToAdd,
            period: HOSTS_TO_ADD_ALARM_PERIOD.div_ceil(step.max(1)) * step.max(1),
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            // The alarm watches another metric, so the book's comparison and threshold
            // (on ContainerCapacity) do not carry over: HostsToAdd > 0, worst value.
            statistic: Statistic::Maximum,
            comparison: Comparison::Greater,
            threshold: 0.0,
            missing_data: DEPLOYED.hosts_to_add_missing_data,
            action: Action::StepByMetric {
                warmup: a.warmup.unwrap_or(DEPLOYED.scale_out_warmup),
            },
        },
    }
}

/// The scale-in alarm. Under `hosts-to-add` (as deployed) the template's
/// HostsToRemoveAlarm: one period of the scale-in period ([`DEPLOYED`]'s
/// `hosts_to_remove_evaluation_periods`: the plan's stability window does the waiting), the
/// scale-in missing data, Minimum, HostsToRemove ≥ 1, and ConsolidationScaleInPolicy removing
/// HostsToRemove hosts (its threshold, comparison and periods are the template's own, so the
/// IdleHostCapacity ones do not carry over).
/// Under every other policy the book's: IdleHostCapacity above 1 (by default), simple
/// policy −1 with cooldown (the template's IdleHostCapacityAlarm with `MinusOne`).
pub(super) fn scale_in_alarm(policy: PolicyKind, a: &AlarmSettings) -> Alarm {
    if policy == PolicyKind::HostsToAdd {
        return Alarm {
            name: "scale-in",
            metric: Metric::HostsToRemove,
            period: a.period,
            evaluation_periods: DEPLOYED.hosts_to_remove_evaluation_periods,
            datapoints_to_alarm: DEPLOYED.hosts_to_remove_evaluation_periods,
            statistic: a.statistic.unwrap_or(Statistic::Minimum),
            comparison: Comparison::GreaterOrEqual,
            threshold: DEPLOYED.hosts_to_remove_threshold,
            missing_data: a.missing_data,
            action: Action::RemoveByMetric,
        };
    }
    Alarm {
        name: "scale-in",
        metric: Metric::IdleHostCapacity,
        period: a.period,
        evaluation_periods: a.evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm.unwrap_or(a.evaluation_periods),
        statistic: a.statistic.unwrap_or(Statistic::Minimum),
        comparison: a.comparison.unwrap_or(Comparison::Greater),
        threshold: a.threshold.unwrap_or(1.0),
        missing_data: a.missing_data,
        action: Action::Simple {
            adjustment: -1,
            cooldown: a.cooldown,
        },
    }
}
