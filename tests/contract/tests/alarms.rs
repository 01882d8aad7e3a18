//! `infra/template.yaml` against the calculator's metrics: the alarms watch the metric names,
//! namespace and dimension it publishes, and the scale-out step policy adds exactly the number
//! of hosts it computed, the scale-in step policy removes the plan's size, never more.

use capacity_calculator::publish::{
    CONSOLIDATION_REFUSED, CONTAINER_CAPACITY, DRAINS_GIVEN_UP, HOSTS_TO_ADD, HOSTS_TO_REMOVE,
    IDLE_HOST_CAPACITY,
};
use infra_contract::{Properties, Template};
use serde_json::{Value, json};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

fn template() -> Template {
    Template::parse(TEMPLATE).expect("infra/template.yaml parses")
}

/// The one scaling alarm on `metric` (the calculator-silent alarm watches ContainerCapacity's
/// sample count, not its value, and drives no policy).
fn alarm<'a>(template: &'a Template, metric: &str) -> &'a Properties {
    let mut found = template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .filter(|(_, p)| p.metric_name.as_ref().and_then(Value::as_str) == Some(metric))
        .filter(|(_, p)| p.statistic != Some(json!("SampleCount")));
    let (_, alarm) = found
        .next()
        .unwrap_or_else(|| panic!("no alarm on {metric}"));
    assert!(found.next().is_none(), "two alarms on {metric}");
    alarm
}

/// Metric names the template's log metric filters (drain outcomes) put in MetricNamespace.
fn metric_filter_metrics(template: &Template) -> Vec<String> {
    template
        .ids_of_type("AWS::Logs::MetricFilter")
        .filter_map(|id| template.raw_resource(id))
        .flat_map(|r| {
            r["Properties"]["MetricTransformations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|t| t["MetricName"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_alarms_watch_what_the_calculator_publishes() {
    let template = template();
    let from_logs = metric_filter_metrics(&template);
    let mut checked = 0;
    for (id, alarm) in template.resources_of_type("AWS::CloudWatch::Alarm") {
        let namespace = alarm.namespace.as_ref().expect("alarm has a namespace");
        // AWS/ namespaces (the failure queue, the functions' errors): tests/operations.rs.
        if namespace.0.as_str().is_some_and(|n| n.starts_with("AWS/")) {
            continue;
        }
        checked += 1;
        let metric = alarm.metric_name.as_ref().and_then(Value::as_str);
        assert!(
            [
                CONTAINER_CAPACITY,
                IDLE_HOST_CAPACITY,
                HOSTS_TO_ADD,
                HOSTS_TO_REMOVE,
                CONSOLIDATION_REFUSED,
                DRAINS_GIVEN_UP
            ]
            .contains(&metric.unwrap_or(""))
                || from_logs.iter().any(|m| Some(m.as_str()) == metric),
            "{id} watches {metric:?}, which neither the calculator nor a metric filter publishes"
        );
        assert_eq!(
            (namespace.1.as_deref(), &namespace.0),
            (Some("!Ref"), &json!("MetricNamespace")),
            "{id}: the namespace the calculator is given"
        );
        // `!Ref` inside the list is read without its tag: the parameter's name.
        assert_eq!(
            alarm.dimensions,
            Some(json!([{ "Name": "ClusterName", "Value": "ClusterName" }])),
            "{id}: one dimension, ClusterName = the cluster's name"
        );
        assert!(alarm.threshold.is_some(), "{id} has a threshold");
    }
    assert!(checked >= 4, "the capacity alarms were checked");
}

#[test]
fn statistics_take_the_worst_case_within_the_period() {
    let template = template();
    let stat = |metric| alarm(&template, metric).statistic.clone();
    assert_eq!(stat(CONTAINER_CAPACITY), Some(json!("Minimum")));
    assert_eq!(stat(IDLE_HOST_CAPACITY), Some(json!("Minimum")));
    assert_eq!(stat(HOSTS_TO_ADD), Some(json!("Maximum")));
    // The smallest plan of each period: one that shrank within it counts as the smaller one.
    assert_eq!(stat(HOSTS_TO_REMOVE), Some(json!("Minimum")));
    let op = |metric| alarm(&template, metric).comparison_operator.clone();
    assert_eq!(op(CONTAINER_CAPACITY), Some(json!("LessThanThreshold")));
    assert_eq!(op(IDLE_HOST_CAPACITY), Some(json!("GreaterThanThreshold")));
    assert_eq!(
        op(HOSTS_TO_ADD),
        Some(json!("GreaterThanOrEqualToThreshold"))
    );
    let threshold = |metric| {
        alarm(&template, metric)
            .threshold
            .clone()
            .map(|t| (t.1, t.0))
    };
    assert_eq!(
        threshold(IDLE_HOST_CAPACITY),
        Some((None, json!(1))),
        "strictly above 1"
    );
    assert_eq!(threshold(HOSTS_TO_ADD), Some((None, json!(1))));
    assert_eq!(threshold(HOSTS_TO_REMOVE), Some((None, json!(1))));
    assert_eq!(
        op(HOSTS_TO_REMOVE),
        Some(json!("GreaterThanOrEqualToThreshold"))
    );
    assert_eq!(
        threshold(CONTAINER_CAPACITY),
        Some((Some("!Ref".into()), json!("ScaleOutHeadroom")))
    );
}

/// One step adjustment: `[lower, upper)` relative to the alarm threshold, and the change.
#[derive(Debug)]
struct Step {
    lower: Option<f64>,
    upper: Option<f64>,
    change: i64,
}

fn steps(list: &Value) -> Vec<Step> {
    list.as_array()
        .expect("a list of step adjustments")
        .iter()
        .map(|s| Step {
            lower: s.get("MetricIntervalLowerBound").and_then(Value::as_f64),
            upper: s.get("MetricIntervalUpperBound").and_then(Value::as_f64),
            change: s
                .get("ScalingAdjustment")
                .and_then(Value::as_i64)
                .expect("a whole ScalingAdjustment"),
        })
        .collect()
}

/// The change a step policy makes when its alarm's metric is `value` (above the threshold:
/// lower bound inclusive, upper exclusive; below it: the other way round).
fn change(steps: &[Step], threshold: f64, value: f64) -> Option<i64> {
    let d = value - threshold;
    let matching: Vec<_> = steps
        .iter()
        .filter(|s| {
            let lower = s.lower.unwrap_or(f64::NEG_INFINITY);
            let upper = s.upper.unwrap_or(f64::INFINITY);
            if d >= 0.0 {
                lower <= d && d < upper
            } else {
                lower < d && d <= upper
            }
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "steps overlap at {value}: {matching:?}"
    );
    matching.first().map(|s| s.change)
}

#[test]
fn the_step_policy_adds_the_computed_number_of_hosts() {
    let template = template();
    let policy = template
        .resource("ScaleOutPolicy")
        .expect("ScaleOutPolicy exists");
    assert_eq!(policy.policy_type, Some(json!("StepScaling")));
    let adjustments = policy.step_adjustments.as_ref().expect("step adjustments");
    // !If [ScalesOutByHostsToAdd, <HostsToAdd steps>, <PlusOne steps>]
    assert_eq!(adjustments.1.as_deref(), Some("!If"));
    let branches = adjustments.0.as_array().expect("!If has three items");
    let [condition, by_hosts_to_add, plus_one] = branches.as_slice() else {
        panic!("!If has three items: {branches:?}");
    };
    assert_eq!(condition, &json!("ScalesOutByHostsToAdd"));

    // The simulator's table is the template's: every HostsToAdd value adds what the simulated
    // group adds, exactly n up to 12 and never fewer than asked up to 80.
    let by_hosts_to_add = steps(by_hosts_to_add);
    assert_eq!(
        by_hosts_to_add.len(),
        20,
        "Auto Scaling allows 20 steps per policy"
    );
    for hosts in 1..=200u32 {
        let added = change(&by_hosts_to_add, 1.0, f64::from(hosts));
        assert_eq!(
            added,
            Some(i64::from(ecs_capacity::sim::alarms::step_adjustment(
                f64::from(hosts)
            ))),
            "HostsToAdd = {hosts}"
        );
        let added = added.unwrap_or(0);
        if hosts <= 12 {
            assert_eq!(added, i64::from(hosts));
        } else if hosts <= 80 {
            assert!(
                added >= i64::from(hosts) && added * 3 <= i64::from(hosts) * 4 + 3,
                "{hosts} -> {added}"
            );
        } else {
            assert_eq!(added, 80);
        }
    }

    let plus_one = steps(plus_one);
    for capacity in [0.0, 1.0, 2.0] {
        assert_eq!(
            change(&plus_one, 3.0, capacity),
            Some(1),
            "capacity {capacity} < headroom 3"
        );
    }
}

#[test]
fn the_scale_in_step_policy_removes_the_plans_size_and_never_more() {
    let template = template();
    let alarm = template
        .raw_resource("HostsToRemoveAlarm")
        .expect("the HostsToRemove alarm");
    assert_eq!(alarm["Condition"], "ScalesInByHostsToRemove");
    assert_eq!(
        alarm["Properties"]["AlarmActions"],
        json!(["ConsolidationScaleInPolicy"])
    );
    let policy = template
        .raw_resource("ConsolidationScaleInPolicy")
        .expect("the consolidation scale-in policy");
    assert_eq!(policy["Condition"], "ScalesInByHostsToRemove");
    let props = &policy["Properties"];
    assert_eq!(props["PolicyType"], "StepScaling");
    assert_eq!(props["AdjustmentType"], "ChangeInCapacity");
    assert_eq!(props["MetricAggregationType"], "Minimum");
    let table = steps(&props["StepAdjustments"]);
    assert!(table.len() <= 20, "Auto Scaling allows 20 steps per policy");
    for planned in 1..=200u32 {
        let removed = change(&table, 1.0, f64::from(planned))
            .unwrap_or_else(|| panic!("HostsToRemove = {planned} matches a step"));
        assert!(removed < 0, "{planned}: a scale-in");
        let removed = -removed;
        assert!(
            removed <= i64::from(planned),
            "{planned}: never more hosts than planned, removed {removed}"
        );
        assert_eq!(
            removed,
            i64::from(planned.min(20)),
            "HostsToRemove = {planned}"
        );
    }
    // The book's one-at-a-time policy exists only with MinusOne, and then the IdleHostCapacity
    // alarm drives it.
    let book = template
        .raw_resource("ScaleInPolicy")
        .expect("the book's scale-in policy");
    assert_eq!(book["Condition"], "ScalesInByMinusOne");
    assert_eq!(book["Properties"]["ScalingAdjustment"], json!(-1));
    let idle = template
        .raw_resource("IdleHostCapacityAlarm")
        .expect("the IdleHostCapacity alarm");
    // `!If [ScalesInByMinusOne, [!Ref ScaleInPolicy], !Ref AWS::NoValue]`, read untagged.
    assert_eq!(
        idle["Properties"]["AlarmActions"],
        json!(["ScalesInByMinusOne", ["ScaleInPolicy"], "AWS::NoValue"])
    );
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

#[test]
fn the_scale_out_alarm_is_fast_and_the_scale_in_alarm_slow() {
    let template = template();
    let raw = |metric: &str| {
        template
            .ids_of_type("AWS::CloudWatch::Alarm")
            .filter_map(|id| template.raw_resource(id))
            .find(|r| {
                r["Properties"]["MetricName"] == metric
                    && r["Properties"]["Statistic"] != "SampleCount"
            })
            .map(|r| r["Properties"].clone())
            .unwrap_or_else(|| panic!("no alarm on {metric}"))
    };
    // HostsToAdd is published at StorageResolution 1: a 10 s alarm on one datapoint, missing
    // data not breaching (each publication is one episode; a stale value never repeats).
    let fast = raw(HOSTS_TO_ADD);
    assert_eq!(number(fast.get("Period")), Some(10.0));
    assert_eq!(number(fast.get("EvaluationPeriods")), Some(1.0));
    assert_eq!(fast["TreatMissingData"], "notBreaching");
    // The scale-in alarms stay on standard resolution, periods of at least a minute: the
    // IdleHostCapacity one over the scale-in window, the HostsToRemove one over a single
    // period, as the plan has already waited its stability window for each host it names.
    for metric in [IDLE_HOST_CAPACITY, HOSTS_TO_REMOVE] {
        assert_eq!(
            raw(metric)["Period"],
            "ScaleInAlarmPeriodSeconds",
            "{metric}"
        );
    }
    assert_eq!(
        raw(IDLE_HOST_CAPACITY)["EvaluationPeriods"],
        "ScaleInEvaluationPeriods"
    );
    let plan = raw(HOSTS_TO_REMOVE);
    assert_eq!(number(plan.get("EvaluationPeriods")), Some(1.0));
    assert_eq!(number(plan.get("DatapointsToAlarm")), Some(1.0));
    let periods = template
        .parameter("ScaleInAlarmPeriodSeconds")
        .and_then(|p| p.allowed_values.clone())
        .expect("allowed periods");
    assert!(
        periods
            .iter()
            .all(|p| p.as_f64().is_some_and(|p| p >= 60.0)),
        "{periods:?}"
    );
    let evaluations = template
        .parameter("ScaleInEvaluationPeriods")
        .and_then(|p| p.default.as_ref())
        .and_then(Value::as_f64);
    assert!(evaluations >= Some(5.0), "{evaluations:?}");
}

#[test]
fn a_placement_failure_of_this_cluster_runs_the_calculator() {
    let template = template();
    let function = template
        .raw_resource("CapacityCalculatorFunction")
        .expect("the calculator");
    let rule = &function["Properties"]["Events"]["ServiceTaskPlacementFailure"];
    assert_eq!(rule["Type"], "EventBridgeRule");
    let pattern = &rule["Properties"]["Pattern"];
    assert_eq!(pattern["source"], json!(["aws.ecs"]));
    assert_eq!(pattern["detail-type"], json!(["ECS Service Action"]));
    assert_eq!(
        pattern["detail"]["eventName"],
        json!(["SERVICE_TASK_PLACEMENT_FAILURE"])
    );
    // The same cluster filter as the state-change rule.
    let state_change = &function["Properties"]["Events"]["ContainerInstanceStateChange"];
    assert_eq!(
        pattern["detail"]["clusterArn"],
        state_change["Properties"]["Pattern"]["detail"]["clusterArn"]
    );
    assert!(
        pattern["detail"]["clusterArn"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    );
}

/// Logical ids of the template's Auto Scaling policies.
fn scaling_policies(template: &Template) -> Vec<String> {
    template
        .ids_of_type("AWS::AutoScaling::ScalingPolicy")
        .map(str::to_owned)
        .collect()
}

/// Whether `actions` (an alarm's AlarmActions, `!If`s included) can name one of `policies`.
fn names_a_policy(actions: &Value, policies: &[String]) -> bool {
    match actions {
        Value::String(s) => policies.iter().any(|p| p == s),
        Value::Array(items) => items.iter().any(|a| names_a_policy(a, policies)),
        Value::Object(map) => map.values().any(|a| names_a_policy(a, policies)),
        _ => false,
    }
}

#[test]
fn missing_data_never_repeats_a_scaling_action() {
    // CloudWatch re-runs an alarm's Auto Scaling action every period while the alarm stays in
    // ALARM: an alarm that drives a policy must go to OK, not stay, when data stops.
    let template = template();
    let policies = scaling_policies(&template);
    assert!(policies.len() >= 2, "{policies:?}");
    let mut scaling = Vec::new();
    for id in template.ids_of_type("AWS::CloudWatch::Alarm") {
        let props = &template.raw_resource(id).expect("alarm")["Properties"];
        if names_a_policy(&props["AlarmActions"], &policies) {
            assert_eq!(
                props["TreatMissingData"], "notBreaching",
                "{id} drives a scaling policy: missing data must not keep it in ALARM"
            );
            scaling.push(id.to_owned());
        }
    }
    scaling.sort();
    assert_eq!(
        scaling,
        [
            "ContainerCapacityAlarm",
            "HostsToAddAlarm",
            "HostsToRemoveAlarm",
            "IdleHostCapacityAlarm"
        ],
        "every scaling alarm was checked"
    );
}

#[test]
fn the_calculator_runs_every_minute_and_its_silence_is_alarmed() {
    let template = template();
    let schedule = template
        .parameter("CalculatorScheduleMinutes")
        .expect("schedule parameter");
    assert_eq!(schedule.default, Some(json!(1)));
    let rule = template
        .raw_resource("CalculatorScheduleRule")
        .expect("the schedule rule");
    assert_eq!(rule["Condition"], "HasCalculatorSchedule");
    let expression = &rule["Properties"]["ScheduleExpression"];
    assert!(
        expression.to_string().contains("rate(1 minute)"),
        "{expression}"
    );
    assert_eq!(
        rule["Properties"]["Targets"][0]["Arn"], "CapacityCalculatorFunction.Arn",
        "the schedule runs the calculator"
    );
    let permission = template
        .raw_resource("CalculatorScheduleInvokePermission")
        .expect("EventBridge may invoke the calculator");
    assert_eq!(
        permission["Properties"]["Principal"],
        "events.amazonaws.com"
    );
    // A scheduled event names no cluster: the function is told which.
    let calculator = template
        .raw_resource("CapacityCalculatorFunction")
        .expect("the calculator");
    let cluster = &calculator["Properties"]["Environment"]["Variables"]["ECS_CLUSTER"];
    assert!(
        cluster.to_string().contains("cluster/${ClusterName}"),
        "{cluster}"
    );

    let silent = template
        .raw_resource("CalculatorSilentAlarm")
        .expect("the calculator-silent alarm");
    let props = &silent["Properties"];
    assert_eq!(silent["Condition"], "HasCalculatorSchedule");
    assert_eq!(props["MetricName"], CONTAINER_CAPACITY);
    assert_eq!(props["Statistic"], "SampleCount");
    assert_eq!(props["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(number(props.get("Threshold")), Some(1.0));
    assert_eq!(number(props.get("Period")), Some(60.0));
    assert_eq!(
        props["TreatMissingData"], "breaching",
        "no datapoint is what it watches for"
    );
    assert!(
        !names_a_policy(&props["AlarmActions"], &scaling_policies(&template)),
        "it notifies; it never scales"
    );
}

#[test]
fn a_given_up_drain_is_alarmed_on_a_capacity_provider_and_never_scales() {
    let template = template();
    let given_up = template
        .raw_resource("DrainsGivenUpAlarm")
        .expect("the drains-given-up alarm");
    // The calculator publishes DrainsGivenUp in capacity-provider mode only, as it does
    // ConsolidationRefused.
    assert_eq!(given_up["Condition"], "OnCapacityProvider");
    assert_eq!(
        template
            .raw_resource("ConsolidationRefusedAlarm")
            .map(|r| &r["Condition"]),
        Some(&json!("OnCapacityProvider"))
    );
    let props = &given_up["Properties"];
    assert_eq!(props["MetricName"], DRAINS_GIVEN_UP);
    // One give-up in a period is one drain that could not finish: any one is worth a look.
    assert_eq!(props["Statistic"], "Sum");
    assert_eq!(number(props.get("Threshold")), Some(1.0));
    assert_eq!(props["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(number(props.get("EvaluationPeriods")), Some(1.0));
    assert!(number(props.get("Period")).is_some_and(|p| p >= 60.0));
    assert_eq!(props["TreatMissingData"], "notBreaching");
    assert!(
        !names_a_policy(&props["AlarmActions"], &scaling_policies(&template)),
        "it notifies; it never scales"
    );
    assert!(
        props["AlarmActions"].to_string().contains("AlarmTopic"),
        "it notifies the alarm topics: {}",
        props["AlarmActions"]
    );
}
