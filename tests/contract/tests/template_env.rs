//! `infra/template.yaml` against the binaries: every environment variable the template sets
//! is one the binary reads, every required one is set on every deployment, and every value a
//! deployment can give is one the binary's own config parser accepts.

use std::collections::BTreeSet;

use infra_contract::{Source, Template, check};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Each binary the template deploys, with what it reads from the environment.
const BINARIES: &[(&str, &[(&str, bool)])] = &[
    ("capacity-calculator", capacity_calculator::ENV_VARS),
    ("lifecycle-drainer", lifecycle_drainer::ENV_VARS),
    ("scale-in-chooser", scale_in_chooser::ENV_VARS),
];

fn template() -> Template {
    Template::parse(TEMPLATE).expect("infra/template.yaml parses")
}

#[test]
fn the_template_deploys_each_binary_exactly_once() {
    let deployed: Vec<_> = template()
        .functions()
        .into_iter()
        .map(|f| {
            f.binary
                .unwrap_or_else(|| format!("{} (no cargo-lambda CodeUri)", f.logical_id))
        })
        .collect();
    let unique: BTreeSet<_> = deployed.iter().map(String::as_str).collect();
    let expected: BTreeSet<_> = BINARIES.iter().map(|(b, _)| *b).collect();
    assert_eq!(
        deployed.len(),
        unique.len(),
        "a binary deployed twice: {deployed:?}"
    );
    assert_eq!(unique, expected);
}

#[test]
fn every_variable_set_is_read_and_every_required_one_is_always_set() {
    let mut breaches = Vec::new();
    for function in template().functions() {
        let Some(reads) = BINARIES
            .iter()
            .find(|(b, _)| Some(*b) == function.binary.as_deref())
            .map(|(_, reads)| *reads)
        else {
            continue; // reported by the_template_deploys_each_binary_exactly_once
        };
        breaches.extend(check(&function, reads));
    }
    let report: Vec<String> = breaches.iter().map(ToString::to_string).collect();
    assert!(
        report.is_empty(),
        "template/binary contract broken:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_binaries_list_each_variable_once() {
    for (binary, reads) in BINARIES {
        let names: BTreeSet<_> = reads.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), reads.len(), "{binary} lists a variable twice");
    }
}

/// Stands in for what the template does not fix: resource ARNs known at deploy time, and
/// parameters the user must give.
fn supplied(binary: Option<&str>, variable: &str) -> String {
    match (binary, variable) {
        (_, "REPUBLISH_TOPIC_ARN") => {
            "arn:aws:sns:eu-west-1:123456789012:ecs-capacity-LifecycleTopic".into()
        }
        // The template gives the calculator the cluster's ARN (`!Sub`), the others its name.
        (Some("capacity-calculator"), "ECS_CLUSTER") => {
            "arn:aws:ecs:eu-west-1:123456789012:cluster/my-cluster".into()
        }
        (_, "ECS_CLUSTER") => "my-cluster".into(),
        // A required parameter (MinLength 1): the group's name.
        (_, "AUTO_SCALING_GROUP_NAME") => "my-cluster-hosts".into(),
        (_, other) => panic!("no stand-in for {other}: add one"),
    }
}

#[test]
fn every_deployable_environment_is_accepted_by_the_binary() {
    let template = template();
    let mut refused = Vec::new();
    for function in template.functions() {
        for env in
            template.deployable_environments(&function, |v| supplied(function.binary.as_deref(), v))
        {
            let lookup = |key: &str| env.get(key).cloned();
            let result = match function.binary.as_deref() {
                Some("capacity-calculator") => capacity_calculator::Config::from_lookup(lookup)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Some("lifecycle-drainer") => lifecycle_drainer::Config::from_lookup(lookup)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Some("scale-in-chooser") => scale_in_chooser::Config::from_lookup(lookup)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                _ => continue,
            };
            if let Err(e) = result {
                refused.push(format!(
                    "{}: {e} (environment {env:?})",
                    function.logical_id
                ));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "the template can deploy settings the binary refuses:\n{}",
        refused.join("\n")
    );
}

#[test]
fn parameter_defaults_are_the_binaries_defaults() {
    let template = template();
    let default = |name: &str| {
        let values = template.notable_values(name);
        let parameter = template.parameter(name).expect("parameter exists");
        let default = parameter.default.as_ref().expect("parameter has a default");
        assert!(!values.is_empty());
        match default {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    use capacity_calculator::config as calculator;
    use lifecycle_drainer::config as drainer;
    assert_eq!(
        default("MetricNamespace"),
        calculator::DEFAULT_METRIC_NAMESPACE
    );
    assert_eq!(
        default("ScaleOutHeadroom"),
        calculator::DEFAULT_SCALE_OUT_HEADROOM.to_string()
    );
    assert_eq!(
        default("DrainPollIntervalSeconds"),
        drainer::DEFAULT_POLL_INTERVAL_SECONDS.to_string()
    );
    assert_eq!(
        default("DrainMaxSeconds"),
        drainer::DEFAULT_MAX_DRAIN_SECONDS.to_string()
    );
    assert_eq!(
        default("ChooserReadBudgetMs"),
        scale_in_chooser::config::DEFAULT_ECS_READ_BUDGET_MS.to_string()
    );
    assert_eq!(default("Consolidation"), calculator::DEFAULT_CONSOLIDATION);
    assert_eq!(
        default("DrainGiveUpSeconds"),
        calculator::DEFAULT_DRAIN_GIVE_UP_SECONDS.to_string()
    );
    assert_eq!(
        default("MinHostsPerZone"),
        calculator::DEFAULT_MIN_HOSTS_PER_ZONE.to_string()
    );
    assert_eq!(
        calculator::HeadroomTask::parse(&default("HeadroomTask")),
        Ok(calculator::HeadroomTask::default())
    );
}

/// The calculator's consolidation settings: each variable is its stack parameter on every
/// deployment (never a literal, never only under a condition).
const CONSOLIDATION_SETTINGS: &[(&str, &str)] = &[
    (capacity_calculator::config::CONSOLIDATION, "Consolidation"),
    (
        capacity_calculator::config::DRAIN_GIVE_UP_SECONDS,
        "DrainGiveUpSeconds",
    ),
    (
        capacity_calculator::config::MIN_HOSTS_PER_ZONE,
        "MinHostsPerZone",
    ),
];

#[test]
fn the_consolidation_settings_are_the_stacks_parameters() {
    let template = template();
    let calculator = template
        .functions()
        .into_iter()
        .find(|f| f.binary.as_deref() == Some("capacity-calculator"))
        .expect("the template deploys the calculator");
    for (variable, parameter) in CONSOLIDATION_SETTINGS {
        assert_eq!(
            calculator.variables.get(*variable),
            Some(&Source::Parameter((*parameter).to_owned())),
            "{variable} is !Ref {parameter}"
        );
    }
}

/// Whether the calculator starts with `variable` = `value` and nothing else set.
fn calculator_accepts(variable: &str, value: &str) -> bool {
    capacity_calculator::Config::from_lookup(|key| (key == variable).then(|| value.to_owned()))
        .is_ok()
}

#[test]
fn the_consolidation_parameters_span_exactly_what_the_calculator_accepts() {
    let template = template();
    for (variable, parameter) in CONSOLIDATION_SETTINGS {
        let p = template
            .parameter(parameter)
            .unwrap_or_else(|| panic!("parameter {parameter}"));
        if let Some(allowed) = &p.allowed_values {
            for value in allowed {
                let value = value.as_str().expect("a text AllowedValue");
                assert!(
                    calculator_accepts(variable, value),
                    "{parameter}={value} is refused by the calculator"
                );
            }
            assert!(
                !calculator_accepts(variable, "dry-run"),
                "{variable}: the calculator takes a value {parameter} does not allow"
            );
            continue;
        }
        let bound = |v: &Option<serde_json::Value>, what: &str| {
            v.as_ref()
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_else(|| panic!("{parameter} has a whole {what}"))
        };
        let (min, max) = (
            bound(&p.min_value, "MinValue"),
            bound(&p.max_value, "MaxValue"),
        );
        for inside in [min, max] {
            assert!(
                calculator_accepts(variable, &inside.to_string()),
                "{parameter}={inside} (within the parameter's range) is refused by the calculator"
            );
        }
        for outside in min.checked_sub(1).into_iter().chain([max + 1]) {
            assert!(
                !calculator_accepts(variable, &outside.to_string()),
                "{variable}={outside}: the calculator accepts what {parameter} refuses"
            );
        }
    }
}

#[test]
fn the_chooser_budget_parameter_spans_exactly_the_range_the_binary_accepts() {
    let template = template();
    let parameter = template
        .parameter("ChooserReadBudgetMs")
        .expect("ChooserReadBudgetMs parameter");
    let (min, max) = scale_in_chooser::config::ECS_READ_BUDGET_RANGE;
    assert_eq!(parameter.min_value, Some(serde_json::json!(min)));
    assert_eq!(parameter.max_value, Some(serde_json::json!(max)));
}

/// `HeadroomTask` is `HEADROOM_TASK` on every deployment, and its AllowedPattern admits only
/// values the calculator accepts: its forms at their edges, as a deployment can give them (no
/// default, minimum or maximum stands for a pattern, so `deployable_environments` tries only
/// the empty default).
#[test]
fn the_headroom_task_parameter_admits_only_what_the_calculator_accepts() {
    let template = template();
    let calculator = template
        .functions()
        .into_iter()
        .find(|f| f.binary.as_deref() == Some("capacity-calculator"))
        .expect("the template deploys the calculator");
    let variable = capacity_calculator::config::HEADROOM_TASK;
    assert_eq!(
        calculator.variables.get(variable),
        Some(&Source::Parameter("HeadroomTask".to_owned())),
        "{variable} is !Ref HeadroomTask"
    );
    let pattern = template
        .parameter("HeadroomTask")
        .and_then(|p| p.allowed_pattern.clone())
        .expect("HeadroomTask has an AllowedPattern");
    let pattern = regex_lite::Regex::new(&pattern).expect("the pattern is a regular expression");
    let longest_name = format!("service:{}", "a".repeat(255));
    let admitted = [
        "",
        "worst-case",
        "service:web",
        "service:My_app-2",
        &longest_name,
        "1/1",
        "512/1024",
        "99999/999999",
    ];
    for value in admitted {
        assert!(pattern.is_match(value), "the pattern refuses {value:?}");
        assert!(
            calculator_accepts(variable, value),
            "HeadroomTask={value:?} is refused by the calculator"
        );
    }
    // What the calculator refuses, the pattern refuses too (a stack never deploys a calculator
    // that cannot start); it also refuses a few the calculator would take (leading zeros,
    // 100000 CPU units and more, blanks, a service name with characters ECS does not allow).
    let refused = ["web", "service:", "512", "0/1024", "512/0", "512/x"];
    for value in refused {
        assert!(!calculator_accepts(variable, value), "{value:?}");
        assert!(!pattern.is_match(value), "the pattern admits {value:?}");
    }
    for stricter in [
        &format!("{longest_name}a"),
        "0512/1024",
        "100000/1",
        "1/1000000",
        "1024 / 2048",
        "service:a.b",
    ] {
        assert!(
            !pattern.is_match(stricter),
            "the pattern admits {stricter:?}"
        );
    }
}
