//! The simulator runs the loop `infra/template.yaml` deploys: the template's parameter
//! defaults and alarm settings are `ecs_capacity::scenario::deployed::DEPLOYED`, the one
//! source the simulator's defaults take, and a scenario that sets nothing runs exactly them.
//! (The scale-out step table: `alarms.rs`, `the_step_policy_adds_the_computed_number_of_hosts`;
//! the scale-in one is checked here against the simulator's, `remove_adjustment`.)

use capacity_core::DisruptionBudget;
use ecs_capacity::scenario::deployed::{DEPLOYED, ScaleInAdjustment};
use ecs_capacity::scenario::{self, Action, Comparison, Metric, PolicyKind, Statistic};
use infra_contract::Template;
use serde_json::Value;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

fn template() -> Template {
    Template::parse(TEMPLATE).expect("infra/template.yaml parses")
}

/// A parameter's default as a whole number; the message names the parameter.
fn default_of(template: &Template, name: &str) -> u64 {
    let parameter = template
        .parameter(name)
        .unwrap_or_else(|| panic!("infra/template.yaml has no parameter {name}"));
    parameter
        .default
        .as_ref()
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or_else(|| panic!("{name} has no whole-number Default"))
}

fn alarm_property<'a>(template: &'a Template, alarm: &str, property: &str) -> &'a Value {
    template
        .raw_resource(alarm)
        .map(|r| &r["Properties"][property])
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| panic!("{alarm} has no {property}"))
}

#[test]
fn the_template_defaults_are_the_simulators_deployed_settings() {
    let t = template();
    let d = DEPLOYED;
    let pairs = [
        ("ScaleOutHeadroom", u64::from(d.headroom)),
        ("ScaleOutAlarmPeriodSeconds", d.scale_out_period),
        (
            "ScaleOutEvaluationPeriods",
            u64::from(d.scale_out_evaluation_periods),
        ),
        ("ScaleInAlarmPeriodSeconds", d.scale_in_period),
        (
            "ScaleInEvaluationPeriods",
            u64::from(d.scale_in_evaluation_periods),
        ),
        ("ScaleOutWarmupSeconds", d.scale_out_warmup),
        ("ScaleInCooldownSeconds", d.scale_in_cooldown),
        ("ConsolidationStabilitySeconds", d.consolidation_stability),
    ];
    for (parameter, simulated) in pairs {
        assert_eq!(
            default_of(&t, parameter),
            simulated,
            "{parameter}: template default vs the simulator's (scenario/deployed.rs)"
        );
    }
    assert_eq!(
        alarm_property(&t, "HostsToAddAlarm", "Period").as_u64(),
        Some(d.hosts_to_add_period),
        "HostsToAddAlarm Period"
    );
}

#[test]
fn every_scaling_alarm_treats_missing_data_as_the_simulator_does() {
    let t = template();
    let d = DEPLOYED;
    for (alarm, simulated) in [
        ("ContainerCapacityAlarm", d.scale_out_missing_data),
        ("HostsToAddAlarm", d.hosts_to_add_missing_data),
        ("IdleHostCapacityAlarm", d.scale_in_missing_data),
        ("HostsToRemoveAlarm", d.hosts_to_remove_missing_data),
    ] {
        assert_eq!(
            alarm_property(&t, alarm, "TreatMissingData").as_str(),
            Some(simulated.cloudformation_name()),
            "{alarm} TreatMissingData"
        );
    }
}

/// A parameter's default as text; the message names the parameter.
fn text_default_of(template: &Template, name: &str) -> String {
    template
        .parameter(name)
        .unwrap_or_else(|| panic!("infra/template.yaml has no parameter {name}"))
        .default
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name} has no text Default"))
        .to_owned()
}

/// The scale-in the template deploys by default is the consolidation plan's, with the
/// simulator's budget and stability.
#[test]
fn the_consolidation_settings_are_the_simulators() {
    let t = template();
    let d = DEPLOYED;
    assert_eq!(
        text_default_of(&t, "ScaleInAdjustment"),
        d.scale_in_adjustment.cloudformation_name(),
        "ScaleInAdjustment"
    );
    assert_eq!(d.scale_in_adjustment, ScaleInAdjustment::HostsToRemove);
    let budget = text_default_of(&t, "DisruptionBudget");
    assert_eq!(
        DisruptionBudget::parse(&budget).ok(),
        Some(d.disruption_budget),
        "DisruptionBudget {budget}"
    );
    // The simulator's loop acts on its plan (it has no observe mode), and so does a stack
    // deployed with the defaults: Consolidation=observe is a deployment's choice, not the loop
    // the figures measure.
    assert_eq!(
        text_default_of(&t, "Consolidation"),
        capacity_calculator::config::DEFAULT_CONSOLIDATION,
        "Consolidation"
    );
    assert_eq!(capacity_calculator::config::DEFAULT_CONSOLIDATION, "act");
}

/// HostsToRemoveAlarm as the simulator evaluates it: Minimum over one scale-in period,
/// HostsToRemove ≥ 1; ConsolidationScaleInPolicy removes what the
/// simulator's `remove_adjustment` removes, with no cooldown.
#[test]
fn the_hosts_to_remove_alarm_and_policy_are_the_simulators() {
    let t = template();
    let d = DEPLOYED;
    let alarm = |p: &str| alarm_property(&t, "HostsToRemoveAlarm", p).clone();
    assert_eq!(alarm("MetricName"), "HostsToRemove");
    assert_eq!(alarm("Statistic"), "Minimum");
    // `!Ref P` reads untagged as "P": the scale-in alarm's own parameters.
    assert_eq!(alarm("Period"), "ScaleInAlarmPeriodSeconds");
    assert_eq!(
        alarm("EvaluationPeriods").as_f64(),
        Some(f64::from(d.hosts_to_remove_evaluation_periods))
    );
    assert_eq!(
        alarm("DatapointsToAlarm").as_f64(),
        Some(f64::from(d.hosts_to_remove_evaluation_periods))
    );
    assert_eq!(
        alarm("Threshold").as_f64(),
        Some(d.hosts_to_remove_threshold)
    );
    assert_eq!(alarm("ComparisonOperator"), "GreaterThanOrEqualToThreshold");

    let sim = scenario::load("diurnal")
        .expect("embedded")
        .with_policy(PolicyKind::HostsToAdd)
        .scale_in;
    assert_eq!(sim.metric, Metric::HostsToRemove);
    assert_eq!(sim.statistic, Statistic::Minimum);
    assert_eq!(sim.comparison, Comparison::GreaterOrEqual);
    assert_eq!(sim.threshold, d.hosts_to_remove_threshold);
    assert_eq!(sim.period, d.scale_in_period);
    assert_eq!(sim.evaluation_periods, d.hosts_to_remove_evaluation_periods);
    assert_eq!(
        sim.datapoints_to_alarm,
        d.hosts_to_remove_evaluation_periods
    );
    assert_eq!(sim.missing_data, d.hosts_to_remove_missing_data);
    assert_eq!(sim.action, Action::RemoveByMetric);

    let policy = t
        .raw_resource("ConsolidationScaleInPolicy")
        .map(|r| &r["Properties"])
        .expect("ConsolidationScaleInPolicy");
    assert_eq!(policy["PolicyType"], "StepScaling");
    assert!(
        policy.get("Cooldown").is_none(),
        "a step policy has no cooldown: the simulator acts on every evaluation in ALARM"
    );
    let steps = policy["StepAdjustments"]
        .as_array()
        .expect("a list of step adjustments");
    let bound = |s: &Value, key: &str| s.get(key).and_then(Value::as_f64);
    for planned in 0..=200u32 {
        // Bounds are relative to the threshold; lower inclusive, upper exclusive.
        let v = f64::from(planned) - d.hosts_to_remove_threshold;
        let removed = steps
            .iter()
            .find(|s| {
                bound(s, "MetricIntervalLowerBound").is_none_or(|l| l <= v)
                    && bound(s, "MetricIntervalUpperBound").is_none_or(|u| v < u)
            })
            .and_then(|s| s.get("ScalingAdjustment").and_then(Value::as_i64))
            .map_or(0, |a| -a);
        let simulated = ecs_capacity::sim::alarms::remove_adjustment(f64::from(planned));
        assert_eq!(
            removed,
            i64::from(simulated),
            "HostsToRemove = {planned}: template vs the simulator"
        );
    }
    assert_eq!(
        ecs_capacity::sim::alarms::remove_adjustment(1000.0),
        d.largest_removal
    );
}

/// Satisfied once the calculator's schedule (issue 17) is in the template; the parameter is
/// read, never assumed.
#[test]
fn the_calculator_schedule_is_the_simulators() {
    let t = template();
    assert_eq!(
        default_of(&t, "CalculatorScheduleMinutes") * 60,
        DEPLOYED.calculator_schedule,
        "CalculatorScheduleMinutes × 60 vs the simulator's calculator schedule"
    );
}

/// A scenario that sets no scaling field runs the deployed settings, under either of our
/// policies; so do the embedded diurnal, batch and deploy scenarios.
#[test]
fn a_scenario_without_settings_runs_the_deployed_loop() {
    let minimal = r#"
name: minimal
duration: 10m
instance_types: { m5.large: { cpu: 2048, memory: 7680 } }
asg: { min: 1, max: 2, desired: 1, instance_types: [m5.large] }
services: [{ name: web, task: { cpu: 256, memory: 512 }, desired: 1 }]
"#;
    let base = scenario::parse("minimal", minimal).expect("valid");
    let d = DEPLOYED;
    let deployed = base.with_policy(PolicyKind::HostsToAdd);
    assert_eq!(deployed.not_as_deployed(), Vec::<String>::new());
    assert_eq!(deployed.scale_in.action, Action::RemoveByMetric);
    assert_eq!(deployed.disruption_budget, d.disruption_budget);
    assert_eq!(deployed.consolidation_stability, d.consolidation_stability);
    assert_eq!(
        base.with_policy(PolicyKind::HostsToAddMinusOne)
            .not_as_deployed(),
        vec!["ScaleInAdjustment MinusOne (template HostsToRemove)".to_owned()]
    );
    // The book's scale-in, under the book and under ScaleInAdjustment=MinusOne.
    for policy in [PolicyKind::Book, PolicyKind::HostsToAddMinusOne] {
        let sc = base.with_policy(policy);
        if policy == PolicyKind::Book {
            assert_eq!(sc.not_as_deployed(), Vec::<String>::new(), "{policy:?}");
        }
        assert_eq!(sc.headroom.headroom(), d.headroom);
        assert_eq!(sc.scale_in.period, d.scale_in_period);
        assert_eq!(
            sc.scale_in.evaluation_periods,
            d.scale_in_evaluation_periods
        );
        assert_eq!(sc.scale_in.missing_data, d.scale_in_missing_data);
        assert_eq!(
            sc.scale_in.action,
            Action::Simple {
                adjustment: -1,
                cooldown: d.scale_in_cooldown
            }
        );
        assert_eq!(sc.calculator_schedule, d.calculator_schedule);
    }
    let hosts_to_add = base.with_policy(PolicyKind::HostsToAdd);
    assert_eq!(hosts_to_add.scale_out.period, d.hosts_to_add_period);
    assert_eq!(
        hosts_to_add.scale_out.missing_data,
        d.hosts_to_add_missing_data
    );
    assert_eq!(
        hosts_to_add.scale_out.action,
        Action::StepByMetric {
            warmup: d.scale_out_warmup
        }
    );
    let book = base.with_policy(PolicyKind::Book);
    assert_eq!(book.scale_out.period, d.scale_out_period);
    assert_eq!(
        book.scale_out.evaluation_periods,
        d.scale_out_evaluation_periods
    );
    assert_eq!(book.scale_out.missing_data, d.scale_out_missing_data);
    for name in ["diurnal", "batch", "deploy"] {
        let sc = scenario::load(name).expect("embedded");
        for policy in [PolicyKind::Book, PolicyKind::HostsToAdd] {
            assert_eq!(
                sc.with_policy(policy).not_as_deployed(),
                Vec::<String>::new(),
                "{name} under {policy:?} runs as deployed"
            );
        }
    }
}
