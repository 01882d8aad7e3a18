//! `infra/template.yaml`'s dashboard, rendered as CloudFormation would (every `${...}` of its
//! `!Sub` body replaced by a placeholder of what it names) and parsed: every metric it shows is
//! one the calculator publishes, one a metric filter of the template produces, or an AWS
//! service's metric of a resource of the template; every alarm it names is an alarm of the
//! template, and every alarm of the template is on it; the capacity widgets draw the alarms'
//! thresholds at the alarms' statistic and period.

use std::collections::{BTreeMap, BTreeSet};

use capacity_calculator::publish::{
    ACTIVE_INSTANCES, CONSOLIDATION_REFUSED, CONTAINER_CAPACITY, DRAINS_GIVEN_UP, HOSTS_DRAINED,
    HOSTS_REACTIVATED, HOSTS_REMOVABLE, HOSTS_TO_ADD, HOSTS_TO_REMOVE, IDLE_HOST_CAPACITY,
    RESOURCE_CAPACITY, STRANDED_MEMORY_GIB, STRANDED_VCPU, UNPLACED_TASKS,
};
use infra_contract::{Template, render_sub};
use serde_json::Value;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");
const DASHBOARD: &str = "Dashboard";

/// What the calculator publishes (crates/capacity-calculator/src/handler.rs).
const CALCULATOR_METRICS: &[&str] = &[
    CONTAINER_CAPACITY,
    IDLE_HOST_CAPACITY,
    HOSTS_TO_ADD,
    HOSTS_TO_REMOVE,
    HOSTS_REMOVABLE,
    UNPLACED_TASKS,
    ACTIVE_INSTANCES,
    RESOURCE_CAPACITY,
    HOSTS_DRAINED,
    HOSTS_REACTIVATED,
    DRAINS_GIVEN_UP,
    CONSOLIDATION_REFUSED,
    STRANDED_VCPU,
    STRANDED_MEMORY_GIB,
];

/// Published in capacity-provider mode only (crates/capacity-calculator/src/publish.rs).
const CAPACITY_PROVIDER_METRICS: &[&str] = &[
    HOSTS_DRAINED,
    HOSTS_REACTIVATED,
    DRAINS_GIVEN_UP,
    CONSOLIDATION_REFUSED,
];

/// AWS metrics the dashboard may show, per namespace, and the dimension that names the
/// resource (from the services' CloudWatch metric pages).
const AWS_METRICS: &[(&str, &str, &[&str])] = &[
    (
        "AWS/Lambda",
        "FunctionName",
        &[
            "Invocations",
            "Errors",
            "Duration",
            "Throttles",
            "ConcurrentExecutions",
            "AsyncEventsReceived",
            "AsyncEventAge",
            "AsyncEventsDropped",
            "DestinationDeliveryFailures",
            "DeadLetterErrors",
            "RecursiveInvocationsDropped",
        ],
    ),
    (
        "AWS/AutoScaling",
        "AutoScalingGroupName",
        &[
            "GroupMinSize",
            "GroupMaxSize",
            "GroupDesiredCapacity",
            "GroupInServiceInstances",
            "GroupPendingInstances",
            "GroupStandbyInstances",
            "GroupTerminatingInstances",
            "GroupTotalInstances",
        ],
    ),
    (
        "AWS/SQS",
        "QueueName",
        &[
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
            "NumberOfMessagesDeleted",
            "NumberOfEmptyReceives",
        ],
    ),
    (
        "AWS/SNS",
        "TopicName",
        &[
            "NumberOfMessagesPublished",
            "NumberOfNotificationsDelivered",
            "NumberOfNotificationsFailed",
        ],
    ),
];

fn template() -> Template {
    Template::parse(TEMPLATE).expect("infra/template.yaml parses")
}

/// Placeholders: a parameter renders as `overrides[name]`, else its default, else `<Name>`; a
/// resource's `Ref` as `ref:Id`, an attribute as `getatt:Id.Attribute`.
fn resolver<'a>(
    template: &'a Template,
    overrides: &'a BTreeMap<&str, &str>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| {
        let pseudo = match name {
            "AWS::Region" => Some("eu-west-1"),
            "AWS::StackName" => Some("ecs-capacity"),
            "AWS::AccountId" => Some("123456789012"),
            "AWS::Partition" => Some("aws"),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Some(value.to_owned());
        }
        if let Some(value) = overrides.get(name) {
            return Some((*value).to_owned());
        }
        if let Some(parameter) = template.parameter(name) {
            return Some(match &parameter.default {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => format!("<{name}>"),
            });
        }
        if template.resource_type(name).is_some() {
            return Some(format!("ref:{name}"));
        }
        let (id, _attribute) = name.split_once('.')?;
        template
            .resource_type(id)
            .is_some()
            .then(|| format!("getatt:{name}"))
    }
}

/// The dashboard body, rendered with the template's conditions from `conditions`.
fn render(template: &Template, conditions: &[&str], overrides: &BTreeMap<&str, &str>) -> Value {
    let body = template
        .resource(DASHBOARD)
        .and_then(|p| p.dashboard_body.as_ref())
        .expect("the template has a Dashboard with a DashboardBody");
    assert_eq!(body.1.as_deref(), Some("!Sub"), "the body is a !Sub");
    let text = render_sub(
        body,
        &|c| conditions.contains(&c),
        &resolver(template, overrides),
    )
    .unwrap_or_else(|e| panic!("the dashboard body renders: {e}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the rendered dashboard body is JSON: {e}\n{text}"))
}

/// The condition sets a deployment can choose that change the body.
const CONDITION_SETS: &[&[&str]] = &[
    // The defaults: self-managed, HostsToAdd out, HostsToRemove in, the schedule on.
    &[
        "SelfManaged",
        "ScalesOutByHostsToAdd",
        "ScalesInByHostsToRemove",
        "HasCalculatorSchedule",
    ],
    &["SelfManaged", "ScalesInByMinusOne", "HasCalculatorSchedule"],
    &["SelfManaged", "ScalesInByMinusOne"],
    &["OnCapacityProvider", "HasCalculatorSchedule"],
    &["OnCapacityProvider"],
];

/// One metric line of a widget: namespace, name and dimensions.
#[derive(Debug)]
struct MetricLine {
    widget: String,
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, String>,
}

fn widgets(body: &Value) -> &Vec<Value> {
    body["widgets"].as_array().expect("widgets is a list")
}

fn title(widget: &Value) -> String {
    widget["properties"]["title"]
        .as_str()
        .unwrap_or("(untitled)")
        .to_owned()
}

fn metric_lines(body: &Value) -> Vec<MetricLine> {
    let mut lines = Vec::new();
    for widget in widgets(body).iter().filter(|w| w["type"] == "metric") {
        let metrics = widget["properties"]["metrics"]
            .as_array()
            .unwrap_or_else(|| panic!("metric widget {} has metrics", title(widget)));
        for line in metrics {
            let items = line.as_array().expect("a metric line is a list");
            // A trailing object holds the line's options (label, stat, axis).
            let strings = match items.last() {
                Some(Value::Object(_)) => &items[..items.len() - 1],
                _ => &items[..],
            };
            let strings: Vec<&str> = strings
                .iter()
                .map(|v| {
                    v.as_str()
                        .expect("namespace, name and dimensions are strings")
                })
                .collect();
            assert!(
                !strings.iter().any(|s| *s == "." || *s == "..."),
                "{}: write every metric line in full (no '.' or '...' shorthand): {line}",
                title(widget)
            );
            let [namespace, name, dimensions @ ..] = strings.as_slice() else {
                panic!(
                    "{}: a metric line has a namespace and a name: {line}",
                    title(widget)
                );
            };
            assert!(
                dimensions.len() % 2 == 0,
                "{}: dimensions come in name/value pairs: {line}",
                title(widget)
            );
            lines.push(MetricLine {
                widget: title(widget),
                namespace: (*namespace).to_owned(),
                name: (*name).to_owned(),
                dimensions: dimensions
                    .chunks(2)
                    .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
                    .collect(),
            });
        }
    }
    lines
}

/// Every alarm ARN the body names: alarm widgets and alarm annotations.
fn alarms_named(body: &Value) -> Vec<String> {
    let mut named = Vec::new();
    for widget in widgets(body) {
        let properties = &widget["properties"];
        for list in [&properties["alarms"], &properties["annotations"]["alarms"]] {
            for arn in list.as_array().into_iter().flatten() {
                named.push(arn.as_str().expect("an alarm ARN is a string").to_owned());
            }
        }
    }
    named
}

/// Metric names the template's log metric filters produce.
fn metric_filter_metrics(template: &Template) -> BTreeSet<String> {
    template
        .ids_of_type("AWS::Logs::MetricFilter")
        .flat_map(|id| {
            let raw = template.raw_resource(id).expect("metric filter exists");
            raw["Properties"]["MetricTransformations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|t| t["MetricName"].as_str().map(str::to_owned))
        .collect()
}

fn condition_holds(template: &Template, id: &str, conditions: &[&str]) -> bool {
    match template.raw_resource(id).and_then(|r| r.get("Condition")) {
        Some(Value::String(c)) => conditions.contains(&c.as_str()),
        _ => true,
    }
}

#[test]
fn the_body_renders_to_json_with_every_reference_known() {
    let template = template();
    for conditions in CONDITION_SETS {
        let body = render(&template, conditions, &BTreeMap::new());
        assert!(!widgets(&body).is_empty(), "{conditions:?}: widgets");
        for widget in widgets(&body) {
            for key in ["x", "y", "width", "height"] {
                assert!(widget[key].is_u64(), "{}: {key} is placed", title(widget));
            }
        }
    }
}

#[test]
fn no_two_widgets_overlap_in_any_mode() {
    let template = template();
    for conditions in CONDITION_SETS {
        let body = render(&template, conditions, &BTreeMap::new());
        let placed: Vec<(String, [u64; 4])> = widgets(&body)
            .iter()
            .map(|w| {
                let at = |key: &str| w[key].as_u64().unwrap_or_default();
                (title(w), [at("x"), at("y"), at("width"), at("height")])
            })
            .collect();
        for (i, (a, [ax, ay, aw, ah])) in placed.iter().enumerate() {
            assert!(ax + aw <= 24, "{conditions:?}: {a} fits the 24 columns");
            for (b, [bx, by, bw, bh]) in &placed[i + 1..] {
                let apart = ax + aw <= *bx || bx + bw <= *ax || ay + ah <= *by || by + bh <= *ay;
                assert!(apart, "{conditions:?}: {a} and {b} overlap");
            }
        }
    }
}

#[test]
fn the_stranded_room_shows_both_figures_of_this_cluster_in_both_modes() {
    let template = template();
    for conditions in CONDITION_SETS {
        let body = render(&template, conditions, &BTreeMap::new());
        let shown: Vec<(String, String)> = metric_lines(&body)
            .into_iter()
            .filter(|l| l.name == STRANDED_VCPU || l.name == STRANDED_MEMORY_GIB)
            .map(|l| (l.widget, l.name))
            .collect();
        assert_eq!(
            shown,
            [
                ("Stranded room".to_owned(), STRANDED_VCPU.to_owned()),
                ("Stranded room".to_owned(), STRANDED_MEMORY_GIB.to_owned()),
            ],
            "{conditions:?}"
        );
    }
}

#[test]
fn every_metric_shown_is_published_here() {
    let template = template();
    let no_overrides = BTreeMap::new();
    let resolve = resolver(&template, &no_overrides);
    let namespace = resolve("MetricNamespace").expect("MetricNamespace parameter");
    let cluster = resolve("ClusterName").expect("ClusterName parameter");
    let filtered = metric_filter_metrics(&template);
    // The group the lifecycle hook and the scaling policies act on.
    let hook = template
        .raw_resource("TerminateLifecycleHook")
        .expect("the lifecycle hook");
    let group = hook["Properties"]["AutoScalingGroupName"]
        .as_str()
        .and_then(resolve)
        .expect("the hook names the group by a parameter");

    for conditions in CONDITION_SETS {
        let body = render(&template, conditions, &BTreeMap::new());
        let lines = metric_lines(&body);
        assert!(!lines.is_empty());
        for line in lines {
            let MetricLine {
                widget,
                namespace: ns,
                name,
                dimensions,
                ..
            } = &line;
            if *ns == namespace {
                assert!(
                    CALCULATOR_METRICS.contains(&name.as_str()) || filtered.contains(name),
                    "{widget}: {name} is neither published by the calculator nor by a metric filter"
                );
                assert_eq!(
                    dimensions.get("ClusterName"),
                    Some(&cluster),
                    "{widget}: {name} of this cluster"
                );
                continue;
            }
            let (_, dimension, names) = AWS_METRICS
                .iter()
                .find(|(n, _, _)| n == ns)
                .unwrap_or_else(|| {
                    panic!("{widget}: namespace {ns} is neither {namespace} nor a known AWS one")
                });
            assert!(
                names.contains(&name.as_str()),
                "{widget}: {ns} has no metric {name}"
            );
            let value = dimensions
                .get(*dimension)
                .unwrap_or_else(|| panic!("{widget}: {ns} {name} names its {dimension}"));
            assert_eq!(dimensions.len(), 1, "{widget}: {ns} {name}: one dimension");
            let expected_type = match ns.as_str() {
                "AWS/Lambda" => Some(("ref:", "AWS::Serverless::Function")),
                "AWS/SQS" => Some(("getatt:", "AWS::SQS::Queue")),
                "AWS/SNS" => Some(("getatt:", "AWS::SNS::Topic")),
                _ => None,
            };
            match expected_type {
                Some((prefix, kind)) => {
                    let target = value.strip_prefix(prefix).unwrap_or_else(|| {
                        panic!("{widget}: {ns} {name} of a resource of this template, got {value}")
                    });
                    let id = target.split('.').next().unwrap_or_default();
                    assert_eq!(
                        template.resource_type(id),
                        Some(kind),
                        "{widget}: {ns} {name} of {target}"
                    );
                    // capacity-provider mode has no drainer, chooser or lifecycle topic.
                    assert!(
                        condition_holds(&template, id, conditions),
                        "{conditions:?}: {widget} shows {ns} {name} of {id}, which is not created"
                    );
                    if prefix == "getatt:" {
                        // QueueName is !GetAtt Queue.QueueName, TopicName !GetAtt Topic.TopicName.
                        let attribute = target.split_once('.').map(|(_, a)| a);
                        assert_eq!(
                            attribute,
                            Some(*dimension),
                            "{widget}: {dimension} is the resource's attribute of that name"
                        );
                    }
                }
                None => assert_eq!(value, &group, "{widget}: {name} of the hooked group"),
            }
        }
    }
}

#[test]
fn every_alarm_named_exists_and_every_alarm_is_shown() {
    let template = template();
    let alarms: BTreeSet<&str> = template.ids_of_type("AWS::CloudWatch::Alarm").collect();
    for conditions in CONDITION_SETS {
        let body = render(&template, conditions, &BTreeMap::new());
        let named: Vec<String> = alarms_named(&body);
        let mut shown = BTreeSet::new();
        for arn in &named {
            let id = arn
                .strip_prefix("getatt:")
                .and_then(|t| t.strip_suffix(".Arn"))
                .unwrap_or_else(|| panic!("{conditions:?}: {arn} is not an alarm's Arn"));
            assert!(
                alarms.contains(id),
                "{conditions:?}: {id} is not an alarm of the template"
            );
            assert!(
                condition_holds(&template, id, conditions),
                "{conditions:?}: {id} is named but not created"
            );
            shown.insert(id);
        }
        let created: BTreeSet<&str> = alarms
            .iter()
            .copied()
            .filter(|id| condition_holds(&template, id, conditions))
            .collect();
        assert_eq!(
            shown, created,
            "{conditions:?}: the alarm widget shows every alarm created"
        );
    }
}

#[test]
fn each_function_shows_invocations_errors_duration_and_throttles() {
    let template = template();
    let body = render(&template, CONDITION_SETS[0], &BTreeMap::new());
    let lines = metric_lines(&body);
    for function in template.functions() {
        for metric in ["Invocations", "Errors", "Duration", "Throttles"] {
            let target = format!("ref:{}", function.logical_id);
            assert!(
                lines.iter().any(|l| l.namespace == "AWS/Lambda"
                    && l.name == metric
                    && l.dimensions.get("FunctionName") == Some(&target)),
                "no {metric} of {}",
                function.logical_id
            );
        }
    }
}

#[test]
fn the_loop_and_the_drains_are_on_the_dashboard() {
    let template = template();
    let body = render(&template, CONDITION_SETS[0], &BTreeMap::new());
    let shown: BTreeSet<(String, String)> = metric_lines(&body)
        .into_iter()
        .map(|l| (l.namespace, l.name))
        .collect();
    let no_overrides = BTreeMap::new();
    let namespace = resolver(&template, &no_overrides)("MetricNamespace").expect("parameter");
    for metric in [
        CONTAINER_CAPACITY,
        IDLE_HOST_CAPACITY,
        HOSTS_TO_ADD,
        UNPLACED_TASKS,
    ] {
        assert!(
            shown.contains(&(namespace.clone(), metric.to_owned())),
            "{metric}"
        );
    }
    for metric in metric_filter_metrics(&template) {
        assert!(
            shown.contains(&(namespace.clone(), metric.clone())),
            "drain outcome {metric}"
        );
    }
    for metric in ["GroupDesiredCapacity", "GroupInServiceInstances"] {
        assert!(
            shown.contains(&("AWS/AutoScaling".to_owned(), metric.to_owned())),
            "{metric}"
        );
    }
    assert!(shown.contains(&(
        "AWS/SQS".to_owned(),
        "ApproximateNumberOfMessagesVisible".to_owned()
    )));
}

/// A number as the template writes it: a literal, or `!Ref` of a parameter (read untagged as
/// the parameter's name), resolved with `overrides`.
fn number(template: &Template, value: &Value, overrides: &BTreeMap<&str, &str>) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().expect("a number"),
        Value::String(name) => {
            let resolved = resolver(template, overrides)(name).expect("a parameter");
            resolved
                .parse()
                .unwrap_or_else(|_| panic!("{name} = {resolved} is a number"))
        }
        other => panic!("not a number or a parameter: {other}"),
    }
}

#[test]
fn capacity_widgets_draw_each_alarms_threshold_at_its_statistic_and_period() {
    let template = template();
    // Values unlike every default and unlike each other, so a swapped reference shows.
    let overrides = BTreeMap::from([
        ("ScaleOutHeadroom", "7"),
        ("ScaleOutAlarmPeriodSeconds", "180"),
        ("ScaleInAlarmPeriodSeconds", "900"),
    ]);
    let body = render(&template, CONDITION_SETS[0], &overrides);
    let mut checked = 0;
    for id in template.ids_of_type("AWS::CloudWatch::Alarm") {
        let alarm = &template.raw_resource(id).expect("alarm")["Properties"];
        let metric = alarm["MetricName"].as_str().unwrap_or_default();
        // The calculator-silent alarm counts datapoints, the consolidation-refused alarm a 0/1
        // flag and the drains-given-up alarm a count of capacity-provider mode: operations
        // alarms, on the alarm widget.
        if !CALCULATOR_METRICS.contains(&metric)
            || alarm["Statistic"] == "SampleCount"
            || metric == CONSOLIDATION_REFUSED
            || metric == DRAINS_GIVEN_UP
        {
            continue;
        }
        let widget = widgets(&body)
            .iter()
            .find(|w| {
                w["properties"]["metrics"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|line| line[1] == metric))
            })
            .unwrap_or_else(|| panic!("{id}: no widget shows {metric}"));
        let properties = &widget["properties"];
        let threshold = number(&template, &alarm["Threshold"], &overrides);
        let drawn: Vec<f64> = properties["annotations"]["horizontal"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["value"].as_f64())
            .collect();
        assert!(
            drawn.contains(&threshold),
            "{id}: threshold {threshold} is drawn on {} (drawn: {drawn:?})",
            title(widget)
        );
        assert_eq!(
            properties["stat"],
            alarm["Statistic"],
            "{id}: {} shows the alarm's statistic",
            title(widget)
        );
        assert_eq!(
            properties["period"].as_f64(),
            Some(number(&template, &alarm["Period"], &overrides)),
            "{id}: {} shows the alarm's period",
            title(widget)
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "ContainerCapacity, IdleHostCapacity and HostsToAdd alarms checked"
    );
}

#[test]
fn the_consolidation_widget_shows_the_plan_in_both_modes_and_the_drains_on_a_capacity_provider() {
    let template = template();
    for conditions in CONDITION_SETS {
        let body = render(&template, conditions, &BTreeMap::new());
        let lines = metric_lines(&body);
        let widget_of = |metric: &str| -> Vec<String> {
            lines
                .iter()
                .filter(|l| l.name == metric)
                .map(|l| l.widget.clone())
                .collect()
        };
        // HostsRemovable beside HostsToRemove: what observe mode publishes, and the plan's
        // size in either mode.
        let plan = widget_of(HOSTS_TO_REMOVE);
        assert_eq!(
            plan.len(),
            1,
            "{conditions:?}: one line of {HOSTS_TO_REMOVE}"
        );
        assert_eq!(
            widget_of(HOSTS_REMOVABLE),
            plan,
            "{conditions:?}: {HOSTS_REMOVABLE} beside {HOSTS_TO_REMOVE}"
        );
        let on_capacity_provider = conditions.contains(&"OnCapacityProvider");
        for &metric in CAPACITY_PROVIDER_METRICS {
            let shown = widget_of(metric);
            if on_capacity_provider {
                assert_eq!(
                    shown, plan,
                    "{conditions:?}: {metric} beside {HOSTS_TO_REMOVE}"
                );
            } else {
                assert!(
                    shown.is_empty(),
                    "{conditions:?}: {metric} is not published in self-managed mode, yet shown in {shown:?}"
                );
            }
        }
    }
}
