//! The simulator runs the loop `infra/template.yaml` deploys: the template's parameter
//! defaults and alarm settings are `ecs_capacity::scenario::deployed::DEPLOYED`, the one
//! source the simulator's defaults take, and a scenario that sets nothing runs exactly them.
//! (The step table: `alarms.rs`, `the_step_policy_adds_the_computed_number_of_hosts`.)

use ecs_capacity::scenario::deployed::DEPLOYED;
use ecs_capacity::scenario::{self, Action, PolicyKind};
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
    ] {
        assert_eq!(
            alarm_property(&t, alarm, "TreatMissingData").as_str(),
            Some(simulated.cloudformation_name()),
            "{alarm} TreatMissingData"
        );
    }
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
    for policy in [PolicyKind::Book, PolicyKind::HostsToAdd] {
        let sc = base.with_policy(policy);
        assert_eq!(sc.not_as_deployed(), Vec::<String>::new(), "{policy:?}");
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
