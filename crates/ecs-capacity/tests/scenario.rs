//! Scenario files: YAML or JSON, and errors that name the line and the field.

use ecs_capacity::scenario::{self, ScenarioError};

fn error_of(text: &str) -> String {
    match scenario::parse("s.yaml", text) {
        Ok(_) => panic!("the scenario should be rejected:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn book_with(from: &str, to: &str) -> String {
    assert!(
        scenario::BOOK.contains(from),
        "the book scenario has {from:?}"
    );
    scenario::BOOK.replacen(from, to, 1)
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "{message:?} lacks {p:?}");
    }
}

#[test]
fn an_unknown_field_names_its_line_and_the_fields_allowed() {
    let e = error_of(&book_with(
        "  launch_delay: 3m\n",
        "  launch_delay: 3m\n  lunch_delay: 3m\n",
    ));
    assert_mentions(
        &e,
        &[
            "s.yaml",
            "line 20",
            "unknown field `lunch_delay`",
            "launch_delay",
        ],
    );
}

#[test]
fn a_bad_duration_names_its_line_and_the_accepted_forms() {
    let e = error_of(&book_with("duration: 1h", "duration: 1 hour"));
    assert_mentions(&e, &["line 9", "invalid duration \"1 hour\"", "1h30m"]);
}

#[test]
fn an_unknown_statistic_lists_the_known_ones() {
    let e = error_of(&book_with("statistic: Minimum", "statistic: Median"));
    assert_mentions(&e, &["line 38", "Median", "Minimum, Maximum, Average"]);
}

#[test]
fn desired_outside_min_and_max_is_rejected() {
    let e = error_of(&book_with(
        "  desired: 1\n  instance_types",
        "  desired: 7\n  instance_types",
    ));
    assert_eq!(
        e,
        "s.yaml:14: asg.desired: 7 is outside asg.min..asg.max (1..4)"
    );
}

#[test]
fn an_undefined_instance_type_names_the_list_entry() {
    let e = error_of(&book_with("[t2.micro]", "[t2.micro, t3.micro]"));
    assert_eq!(
        e,
        "s.yaml:17: asg.instance_types[1]: unknown instance type \"t3.micro\" (defined: t2.micro)"
    );
}

#[test]
fn a_change_must_be_exactly_one_kind() {
    let e = error_of(&book_with(
        "{ at: 30m, desired: 1 }",
        "{ at: 30m, desired: 1, ramp_to: 3 }",
    ));
    assert_eq!(
        e,
        "s.yaml:31: services[0].changes[1]: needs exactly one of desired, ramp_to (with until) or deploy"
    );
    let e = error_of(&book_with(
        "{ at: 30m, desired: 1 }",
        "{ at: 30m, ramp_to: 3 }",
    ));
    assert_mentions(
        &e,
        &["s.yaml:31", "services[0].changes[1].until", "a ramp needs"],
    );
    let e = error_of(&book_with(
        "{ at: 30m, desired: 1 }",
        "{ at: 2m, desired: 1 }",
    ));
    assert_mentions(&e, &["services[0].changes[1].at", "time order"]);
    let e = error_of(&book_with(
        "{ at: 30m, desired: 1 }",
        "{ at: 2h, desired: 1 }",
    ));
    assert_mentions(&e, &["services[0].changes[1].at", "after the end"]);
}

#[test]
fn alarm_periods_must_suit_cloudwatch_and_the_step() {
    let e = error_of(&book_with("    period: 1m", "    period: 45s"));
    assert_mentions(
        &e,
        &[
            "s.yaml:36",
            "scaling.scale_out.period",
            "multiple of the simulation step 10s",
        ],
    );
    let e = error_of(&book_with("    period: 1m", "    period: 90s"));
    assert_mentions(
        &e,
        &["scaling.scale_out.period", "10s, 30s or a multiple of 60s"],
    );
    let e = error_of(&book_with(
        "evaluation_periods: 5",
        "evaluation_periods: 5\n    datapoints_to_alarm: 6",
    ));
    assert_mentions(
        &e,
        &[
            "scaling.scale_in.datapoints_to_alarm",
            "between 1 and evaluation_periods (5)",
        ],
    );
}

#[test]
fn an_empty_task_and_a_zero_headroom_are_rejected() {
    let e = error_of(&book_with(
        "task: { cpu: 250, memory: 400 }",
        "task: { ports: [80] }",
    ));
    assert_mentions(
        &e,
        &[
            "s.yaml:27",
            "services[0].task",
            "reserve CPU units or memory",
        ],
    );
    let e = error_of(&book_with("  headroom: 1", "  headroom: 0"));
    assert_mentions(&e, &["scaling.headroom", "at least 1"]);
}

#[test]
fn a_task_larger_than_every_instance_type_is_rejected() {
    let e = error_of(&book_with(
        "task: { cpu: 250, memory: 400 }",
        "task: { cpu: 250, memory: 1024 }",
    ));
    assert_eq!(
        e,
        "s.yaml:27: services[0].task: 250 CPU units / 1024 MiB / 0 GPU(s) fits on no instance type of the scenario"
    );
}

#[test]
fn syntax_errors_are_syntax_errors() {
    let e = scenario::parse("s.yaml", "name: [unclosed\n").expect_err("bad YAML");
    assert!(matches!(e, ScenarioError::Syntax { .. }), "{e}");
    assert!(e.to_string().starts_with("s.yaml: "), "{e}");
}

#[test]
fn a_json_scenario_is_read_like_the_same_yaml() {
    let json = r#"{
  "name": "book-chapter-12",
  "description": "one t2.micro, a 250 CPU / 400 MiB service going 1 -> 2 -> 1",
  "seed": 1, "duration": "1h", "step": "10s",
  "instance_types": { "t2.micro": { "cpu": 1024, "memory": 993 } },
  "asg": { "min": 1, "max": 4, "desired": 1, "instance_types": ["t2.micro"], "zones": ["sim-1a"],
           "launch_delay": "3m", "lifecycle_hook": { "timeout": "15m" } },
  "ecs": { "strategy": "binpack", "task_start": "30s", "task_stop": "30s" },
  "services": [ { "name": "web", "task": { "cpu": 250, "memory": 400 }, "desired": 1,
                  "changes": [ { "at": "5m", "desired": 2 }, { "at": 1800, "desired": 1 } ] } ],
  "scaling": { "policy": "book", "headroom": 1,
               "scale_out": { "period": 60, "evaluation_periods": 1, "statistic": "Minimum", "cooldown": "5m" },
               "scale_in": { "period": "1m", "evaluation_periods": 5, "statistic": "Minimum",
                             "comparison": ">", "threshold": 1.0, "cooldown": "5m" } },
  "calculator": { "schedule": "1m" }
}"#;
    let from_json = scenario::parse("book.json", json).expect("valid JSON scenario");
    let from_yaml = scenario::parse("book.yaml", scenario::BOOK).expect("valid YAML scenario");
    assert_eq!(from_json, from_yaml);
}

#[test]
fn a_missing_scenario_file_names_the_embedded_ones() {
    let e = scenario::load("no-such-scenario.yaml").expect_err("missing file");
    assert_mentions(&e.to_string(), &["no-such-scenario.yaml", "book, diurnal"]);
}

#[test]
fn a_placement_back_off_is_a_preset_or_a_list_of_pauses() {
    let e = error_of(&book_with(
        "  strategy: binpack\n",
        "  strategy: binpack\n  placement_backoff: fastest\n",
    ));
    assert_mentions(
        &e,
        &[
            "ecs.placement_backoff",
            "\"fastest\"",
            "none, default, slowest",
        ],
    );
    let e = error_of(&book_with(
        "  strategy: binpack\n",
        "  strategy: binpack\n  placement_backoff: [10s, 0s]\n",
    ));
    assert_mentions(&e, &["ecs.placement_backoff", "between 1s and 1h"]);
    let sc = scenario::parse(
        "s.yaml",
        &book_with(
            "  strategy: binpack\n",
            "  strategy: binpack\n  placement_backoff: [10s, 2m]\n",
        ),
    )
    .expect("valid");
    assert_eq!(sc.placement_backoff.after_failures, vec![10, 120]);
    assert_eq!(sc.placement_backoff.delay_after(5), 120);
}

#[test]
fn a_setting_the_template_does_not_deploy_is_named_with_the_templates_value() {
    let sc = scenario::parse(
        "s.yaml",
        &book_with(
            "    evaluation_periods: 5\n",
            "    evaluation_periods: 10\n",
        ),
    )
    .expect("valid");
    assert_eq!(
        sc.not_as_deployed(),
        vec!["scale-in evaluation periods 10 (template 5)"]
    );
    let e = error_of(&book_with(
        "calculator:\n  schedule: 1m\n",
        "calculator:\n  schedule: 1m\n  reaction_delay: 15s\n",
    ));
    assert_mentions(
        &e,
        &[
            "calculator.reaction_delay",
            "multiple of the simulation step",
        ],
    );
}

#[test]
fn hosts_to_add_scales_in_on_hosts_to_remove_with_the_deployed_window() {
    use ecs_capacity::scenario::deployed::DEPLOYED;
    use ecs_capacity::scenario::{Action, Comparison, Metric, PolicyKind, Statistic};
    let sc = scenario::parse(
        "s.yaml",
        &book_with("policy: book", "policy: hosts-to-add+consolidation"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.policy, PolicyKind::HostsToAdd);
    let deployed = sc.with_policy(PolicyKind::HostsToAdd);
    let a = &deployed.scale_in;
    assert_eq!(a.metric, Metric::HostsToRemove);
    assert_eq!(
        (a.comparison, a.threshold),
        (Comparison::GreaterOrEqual, 1.0)
    );
    assert_eq!(a.statistic, Statistic::Minimum);
    assert_eq!(a.action, Action::RemoveByMetric);
    // The book scenario sets its own scale-in window; a scenario that sets none gets the
    // template's: the scale-in period and missing data, and HostsToRemoveAlarm's own single
    // period (the plan's stability window does the waiting).
    let fragmented = scenario::load("fragmented").expect("embedded");
    let a = fragmented.with_policy(PolicyKind::HostsToAdd).scale_in;
    assert_eq!(
        (a.period, a.evaluation_periods, a.missing_data),
        (
            DEPLOYED.scale_in_period,
            DEPLOYED.hosts_to_remove_evaluation_periods,
            DEPLOYED.scale_in_missing_data
        )
    );
    assert_eq!(
        a.datapoints_to_alarm,
        DEPLOYED.hosts_to_remove_evaluation_periods
    );
    // The old name reads as the deployed loop; ScaleInAdjustment=MinusOne is the
    // IdleHostCapacity alarm again.
    let back = fragmented
        .with_policy(PolicyKind::HostsToAddMinusOne)
        .scale_in;
    assert_eq!(back.metric, Metric::IdleHostCapacity);
    assert!(matches!(back.action, Action::Simple { adjustment: -1, .. }));
}
