//! The loop as `infra/template.yaml` deploys it: one source of truth for the settings the
//! simulator's defaults take. `tests/contract/tests/loop_settings.rs` reads the template's
//! parameter defaults and alarms and fails when they and [`DEPLOYED`] disagree.
//!
//! A scenario may override any of these; the summary then lists the settings that differ
//! ([`super::Scenario::not_as_deployed`]).

use capacity_core::DisruptionBudget;

use super::alarm::MissingData;

/// `ScaleInAdjustment`: what the scale-in side of the self-managed loop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleInAdjustment {
    /// The consolidation plan: HostsToRemoveAlarm → ConsolidationScaleInPolicy removes
    /// HostsToRemove hosts in one step (the policy `hosts-to-add`).
    HostsToRemove,
    /// The book's: IdleHostCapacityAlarm → simple policy −1 with the scale-in cooldown (the
    /// policy `hosts-to-add −1`).
    MinusOne,
}

impl ScaleInAdjustment {
    /// The parameter's value in `infra/template.yaml`.
    pub fn cloudformation_name(self) -> &'static str {
        match self {
            ScaleInAdjustment::HostsToRemove => "HostsToRemove",
            ScaleInAdjustment::MinusOne => "MinusOne",
        }
    }
}

/// The loop's settings, as the template's parameter defaults and resources set them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopSettings {
    /// `ScaleOutHeadroom`: worst-case tasks that must always fit.
    pub headroom: u32,
    /// `ScaleOutAlarmPeriodSeconds` (the ContainerCapacity alarm, which scales out with
    /// `ScaleOutAdjustment=PlusOne`, the book's ±1).
    pub scale_out_period: u64,
    /// `ScaleOutEvaluationPeriods`.
    pub scale_out_evaluation_periods: u32,
    /// The ContainerCapacity alarm's `TreatMissingData`.
    pub scale_out_missing_data: MissingData,
    /// The HostsToAdd alarm's `Period` (high resolution).
    pub hosts_to_add_period: u64,
    /// The HostsToAdd alarm's `TreatMissingData`.
    pub hosts_to_add_missing_data: MissingData,
    /// `ScaleOutWarmupSeconds`: the step policy's `EstimatedInstanceWarmup`.
    pub scale_out_warmup: u64,
    /// `ScaleInAlarmPeriodSeconds`.
    pub scale_in_period: u64,
    /// `ScaleInEvaluationPeriods`.
    pub scale_in_evaluation_periods: u32,
    /// The IdleHostCapacity alarm's `TreatMissingData`.
    pub scale_in_missing_data: MissingData,
    /// `ScaleInCooldownSeconds`.
    pub scale_in_cooldown: u64,
    /// `CalculatorScheduleMinutes` × 60: the calculator's EventBridge schedule (0: off).
    pub calculator_schedule: u64,
    /// `ScaleInAdjustment`.
    pub scale_in_adjustment: ScaleInAdjustment,
    /// `DisruptionBudget` (the calculator's DISRUPTION_BUDGET).
    pub disruption_budget: DisruptionBudget,
    /// `ConsolidationStabilitySeconds` (the calculator's CONSOLIDATION_STABILITY_SECONDS).
    pub consolidation_stability: u64,
    /// The HostsToRemoveAlarm's `Threshold` (`GreaterThanOrEqualToThreshold`, `Minimum`,
    /// the scale-in period and evaluation periods).
    pub hosts_to_remove_threshold: f64,
    /// The HostsToRemoveAlarm's `TreatMissingData`.
    pub hosts_to_remove_missing_data: MissingData,
    /// The HostsToRemoveAlarm's `EvaluationPeriods` and `DatapointsToAlarm` (of the
    /// scale-in period): the waiting is the plan's stability window, host by host.
    pub hosts_to_remove_evaluation_periods: u32,
    /// The most hosts one step of ConsolidationScaleInPolicy removes (the simulator's
    /// `sim::alarms::remove_adjustment`).
    pub largest_removal: u32,
}

/// The template's defaults. The step tables are the simulator's `sim::alarms::HOSTS_TO_ADD_STEPS`
/// (scale-out) and `sim::alarms::remove_adjustment` (scale-in): the simulator reads these
/// settings, so they name it in plain text, not as links.
pub const DEPLOYED: LoopSettings = LoopSettings {
    headroom: 1,
    scale_out_period: 60,
    scale_out_evaluation_periods: 1,
    scale_out_missing_data: MissingData::NotBreaching,
    hosts_to_add_period: 10,
    hosts_to_add_missing_data: MissingData::NotBreaching,
    scale_out_warmup: 300,
    scale_in_period: 60,
    scale_in_evaluation_periods: 5,
    scale_in_missing_data: MissingData::NotBreaching,
    scale_in_cooldown: 300,
    calculator_schedule: 60,
    scale_in_adjustment: ScaleInAdjustment::HostsToRemove,
    disruption_budget: DisruptionBudget::Percent(10),
    consolidation_stability: 300,
    hosts_to_remove_threshold: 1.0,
    hosts_to_remove_missing_data: MissingData::NotBreaching,
    hosts_to_remove_evaluation_periods: 1,
    largest_removal: 20,
};

/// Seconds from the calculator's trigger (an ECS event, its schedule) to the moment its
/// datapoint can move an alarm, beyond the alarm's own period (which the simulator models):
/// EventBridge's delivery of the ECS event, the Lambda invocation and the calculator's read
/// of the cluster, PutMetricData and the datapoint becoming visible to the alarm ("a few
/// seconds delay for the data to become available to the alarm", AWS re:Post on
/// high-resolution alarms, which CloudWatch evaluates every 10 s: "If the alarm period is 10
/// seconds or 30 seconds, the alarm is evaluated every 10 seconds", CloudWatch user guide,
/// *Create a CloudWatch alarm based on a static threshold*), and Auto Scaling starting the
/// policy's activity. None of these has a published bound; their sum is a few seconds to
/// a few tens of seconds. The default takes 20 s, two simulation steps — the slow end, so
/// that our loop is not simulated faster than it can run; `--sweep` and the figures report
/// 0 s and 60 s beside it.
pub const REACTION_DELAY: u64 = 20;
