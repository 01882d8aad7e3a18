//! The scaling policies a scenario runs under, and the two alarms each one gets (scale-out and
//! scale-in) from the scenario's alarm settings and the template's defaults.

use capacity_core::ScalePolicy;
use serde::Deserialize;

use super::alarm::{Action, Alarm, Comparison, Metric, MissingData, Statistic};
use super::deployed::DEPLOYED;

/// The largest step of the template's step table (`sim::alarms::HOSTS_TO_ADD_STEPS`).
pub const LARGEST_STEP: u32 = 80;

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
