//! `infra/template.yaml` in production (issue 14): no lifecycle notification is lost unseen.
//! The drainer's failures go to an encrypted queue kept 14 days with an alarm on it, its
//! retries fit the lifecycle hook's timeouts, the calculator keeps no stale events, and the
//! log metric filters match the JSON lines the drainer writes.

use std::path::Path;

use infra_contract::{Template, filter_matches, select};
use serde_json::{Value, json};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Log lines as the drainer writes them under Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`):
/// lambda_runtime's default subscriber is tracing-subscriber's JSON format without time or
/// target, so the message and the event's fields are under `fields`, the current span's
/// fields under `span`, all spans under `spans`. Produced by tracing-subscriber 0.3.23 with
/// the drainer's span and event fields (crates/lifecycle-drainer/src/handler.rs).
fn deadline_line() -> Value {
    json!({
        "level": "ERROR",
        "fields": {
            "message": "DRAIN DEADLINE REACHED: completing the lifecycle action with tasks still on the instance",
            "container_instance_arn": "Some(\"arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/0f9e\")",
            "started_at_ms": 1_611_016_586_533_u64,
            "result": "CONTINUE",
            "still_running": 2,
            "tasks": "arn:aws:ecs:eu-west-1:123456789012:task/prod/1 (RUNNING), arn:aws:ecs:eu-west-1:123456789012:task/prod/2 (STOPPING)"
        },
        "span": drain_span(),
        "spans": [invoke_span(), drain_span()]
    })
}

fn completed_line() -> Value {
    json!({
        "level": "INFO",
        "fields": {
            "message": "lifecycle action completed",
            "result": "CONTINUE",
            "reason": "Drained",
            "container_instance_arn": "Some(\"arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/0f9e\")"
        },
        "span": drain_span(),
        "spans": [invoke_span(), drain_span()]
    })
}

fn not_handled_line() -> Value {
    json!({
        "level": "ERROR",
        "fields": {
            "message": "lifecycle notification not handled",
            "cluster": "prod",
            "error": "cannot republish the drain of instance i-0598c7d356eba48d7: service error"
        },
        "span": invoke_span(),
        "spans": [invoke_span()]
    })
}

fn progress_line() -> Value {
    json!({
        "level": "INFO",
        "fields": {
            "message": "tasks still on the draining instance",
            "container_instance_arn": "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/0f9e",
            "tasks_holding_the_host": 2
        },
        "span": drain_span(),
        "spans": [invoke_span(), drain_span()]
    })
}

fn drain_span() -> Value {
    json!({
        "attempt": 3,
        "auto_scaling_group_name": "prod-hosts",
        "cluster": "prod",
        "ec2_instance_id": "i-0598c7d356eba48d7",
        "lifecycle_hook_name": "drain-hook",
        "name": "drain"
    })
}

fn invoke_span() -> Value {
    json!({"requestId": "8f2b1c9e-0d4a-4c55-9a43-6f1e2b7c8d90", "name": "Lambda runtime invoke"})
}

fn template() -> Template {
    Template::parse(TEMPLATE).expect("infra/template.yaml parses")
}

fn raw<'a>(template: &'a Template, id: &str) -> &'a Value {
    template
        .raw_resource(id)
        .unwrap_or_else(|| panic!("{id} exists"))
}

fn parameter_default(template: &Template, name: &str) -> u64 {
    template
        .parameter(name)
        .and_then(|p| p.default.as_ref())
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{name} has a whole default"))
}

/// `!GetAtt Id.Arn` reads untagged as `"Id.Arn"`.
fn get_att_arn(value: &Value) -> &str {
    value
        .as_str()
        .and_then(|s| s.strip_suffix(".Arn"))
        .unwrap_or_else(|| panic!("a !GetAtt of an Arn: {value}"))
}

#[test]
fn the_drainer_sends_what_fails_to_an_encrypted_queue_kept_14_days() {
    let template = template();
    let config = &raw(&template, "LifecycleDrainerFunction")["Properties"]["EventInvokeConfig"];
    let on_failure = &config["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"], "SQS");
    let queue = get_att_arn(&on_failure["Destination"]);
    assert_eq!(template.resource_type(queue), Some("AWS::SQS::Queue"));
    let properties = &raw(&template, queue)["Properties"];
    assert_eq!(properties["MessageRetentionPeriod"], 14 * 24 * 3600);
    assert_eq!(properties["SqsManagedSseEnabled"], true);

    // Lambda sends the record with the function's role: it may send there, and only there.
    let statements =
        raw(&template, "DrainerRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .clone();
    let send: Vec<_> = statements
        .iter()
        .filter(|s| s["Action"] == "sqs:SendMessage")
        .collect();
    assert_eq!(send.len(), 1, "one statement sends to SQS");
    assert_eq!(get_att_arn(&send[0]["Resource"]), queue);
}

#[test]
fn the_drainers_retries_fit_the_hooks_timeouts() {
    let template = template();
    let function = &raw(&template, "LifecycleDrainerFunction")["Properties"];
    let config = &function["EventInvokeConfig"];
    let retries = config["MaximumRetryAttempts"]
        .as_u64()
        .expect("explicit retries");
    let max_age = config["MaximumEventAgeInSeconds"]
        .as_u64()
        .expect("explicit event age");
    let timeout = function["Timeout"].as_u64().expect("a fixed timeout");
    assert_eq!(retries, 2, "a transient failure gets Lambda's two retries");
    // Every attempt can start: full-length attempts, and Lambda's 1 and 2 minute pauses.
    assert!(
        max_age >= (retries + 1) * timeout + 60 + 120,
        "{max_age} s lets all {retries} retries of {timeout} s attempts run"
    );
    // Past the hook's default heartbeat timeout the lifecycle action has applied its default
    // result: an older event is moot and belongs in the failure queue.
    let heartbeat = parameter_default(&template, "LifecycleHeartbeatTimeout");
    assert!(
        max_age >= heartbeat,
        "{max_age} s outlives the default hook"
    );
    assert!(
        max_age <= 2 * heartbeat,
        "{max_age} s: not hours of retrying moot events"
    );
}

#[test]
fn the_calculator_keeps_no_stale_events_and_says_why_it_has_no_destination() {
    let template = template();
    let resource = raw(&template, "CapacityCalculatorFunction");
    let config = &resource["Properties"]["EventInvokeConfig"];
    let max_age = config["MaximumEventAgeInSeconds"]
        .as_u64()
        .expect("explicit event age");
    let retries = config["MaximumRetryAttempts"]
        .as_u64()
        .expect("explicit retries");
    assert!(
        config.get("DestinationConfig").is_none(),
        "no destination for stale capacity events"
    );
    assert!(max_age <= 300, "{max_age} s: a short event age");
    assert!(retries <= 1);
    // The one retry (about a minute after a failure) still fits with the default timeout.
    let timeout = parameter_default(&template, "CalculatorTimeoutSeconds");
    assert!(
        max_age >= timeout + 60 + 30,
        "{max_age} s lets the retry run"
    );
    let why = resource["Metadata"]["NoOnFailureDestinationBecause"]
        .as_str()
        .unwrap_or_default();
    assert!(why.len() > 40, "the template says why: {why:?}");
}

/// The drainer's source, every file (the messages may move between modules).
fn drainer_source() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/lifecycle-drainer/src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

#[test]
fn the_metric_filters_match_the_lines_the_drainer_writes() {
    let template = template();
    let source = drainer_source();
    let lines = [
        ("LifecycleActionsCompleted", completed_line()),
        ("DrainsAtDeadline", deadline_line()),
        ("DrainsFailed", not_handled_line()),
    ];
    let mut seen = 0;
    for id in template.ids_of_type("AWS::Logs::MetricFilter") {
        let properties = &raw(&template, id)["Properties"];
        assert_eq!(
            properties["LogGroupName"], "DrainerLogGroup",
            "{id}: on the drainer's logs"
        );
        let pattern = properties["FilterPattern"].as_str().expect("a pattern");
        let [transformation] = properties["MetricTransformations"]
            .as_array()
            .expect("transformations")
            .as_slice()
        else {
            panic!("{id}: one transformation");
        };
        let metric = transformation["MetricName"].as_str().expect("a name");
        assert_eq!(transformation["MetricNamespace"], "MetricNamespace");
        let (_, line) = lines
            .iter()
            .find(|(m, _)| *m == metric)
            .unwrap_or_else(|| panic!("{id}: no sample line for {metric}"));
        for (other, other_line) in lines.iter().chain([&("progress", progress_line())]) {
            let expected = other == &metric;
            assert_eq!(
                filter_matches(pattern, other_line),
                Ok(expected),
                "{id} on the {other} line"
            );
        }
        // The dimension is the cluster the drainer logs (ECS_CLUSTER = ClusterName).
        let dimensions = transformation["Dimensions"].as_array().expect("dimensions");
        assert_eq!(dimensions.len(), 1);
        assert_eq!(dimensions[0]["Key"], "ClusterName");
        let selector = dimensions[0]["Value"].as_str().expect("a selector");
        assert_eq!(
            select(line, selector),
            Some(&json!("prod")),
            "{id}: {selector}"
        );
        // What the pattern relies on is what the drainer writes: the message and field names.
        let message = line["fields"]["message"].as_str().expect("a message");
        assert!(
            source.contains(&format!("\"{message}\"")),
            "{id}: the drainer no longer logs {message:?}"
        );
        for field in pattern
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'))
            .filter_map(|w| w.strip_prefix("$.fields."))
            .chain(selector.strip_prefix("$.fields."))
            .filter(|f| *f != "message")
        {
            assert!(
                source.contains(&format!("{field} =")),
                "{id}: the drainer no longer logs the field {field}"
            );
        }
        if selector == "$.span.cluster" {
            let span = source
                .find("info_span!(")
                .map(|at| &source[at..source.len().min(at + 200)])
                .unwrap_or_default();
            assert!(
                span.contains("\"drain\"") && span.contains("cluster ="),
                "{id}: the drain span carries the cluster: {span}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, lines.len(), "one filter per drain outcome");
}

/// The two optional notification targets, as `!If`s read untagged.
fn notifies_the_optional_topics(actions: &Value) -> bool {
    actions
        == &json!([
            ["CreatesAlarmTopic", "AlarmTopic", "AWS::NoValue"],
            ["HasAlarmTopicArn", "AlarmTopicArn", "AWS::NoValue"]
        ])
}

#[test]
fn a_message_in_the_failure_queue_and_a_drain_at_its_deadline_raise_alarms_that_notify() {
    let template = template();
    let queue_alarm = &raw(&template, "DrainerFailureQueueAlarm")["Properties"];
    assert_eq!(queue_alarm["Namespace"], "AWS/SQS");
    assert_eq!(
        queue_alarm["MetricName"],
        "ApproximateNumberOfMessagesVisible"
    );
    assert_eq!(
        queue_alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": "DrainerFailureQueue.QueueName"}])
    );
    assert_eq!(queue_alarm["Threshold"], 0);
    assert_eq!(queue_alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(queue_alarm["TreatMissingData"], "notBreaching");
    assert!(notifies_the_optional_topics(&queue_alarm["AlarmActions"]));
    assert!(notifies_the_optional_topics(&queue_alarm["OKActions"]));

    let deadline_alarm = &raw(&template, "DrainsAtDeadlineAlarm")["Properties"];
    assert_eq!(deadline_alarm["MetricName"], "DrainsAtDeadline");
    assert_eq!(deadline_alarm["Statistic"], "Sum");
    assert_eq!(deadline_alarm["Threshold"], 1);
    assert_eq!(
        deadline_alarm["ComparisonOperator"],
        "GreaterThanOrEqualToThreshold"
    );
    assert!(notifies_the_optional_topics(
        &deadline_alarm["AlarmActions"]
    ));

    let calculator_alarm = &raw(&template, "CalculatorErrorsAlarm")["Properties"];
    assert_eq!(
        calculator_alarm["Dimensions"],
        json!([{"Name": "FunctionName", "Value": "CapacityCalculatorFunction"}])
    );
    assert!(notifies_the_optional_topics(
        &calculator_alarm["AlarmActions"]
    ));
}

#[test]
fn the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() {
    let template = template();
    let topic = raw(&template, "AlarmTopic");
    assert_eq!(topic["Condition"], "CreatesAlarmTopic");
    assert_eq!(topic["Properties"]["KmsMasterKeyId"], "AlarmTopicKey");
    let key = raw(&template, "AlarmTopicKey");
    assert_eq!(key["Condition"], "CreatesAlarmTopic");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    let statements = key["Properties"]["KeyPolicy"]["Statement"]
        .as_array()
        .expect("key policy");
    assert!(statements.iter().any(|s| {
        s["Principal"]["Service"] == "cloudwatch.amazonaws.com"
            && s["Action"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("kms:GenerateDataKey*")))
    }));
    // The lifecycle topic: the AWS managed key (Auto Scaling and the drainer publish as
    // principals of the account; no alarm publishes there).
    assert_eq!(
        raw(&template, "LifecycleTopic")["Properties"]["KmsMasterKeyId"],
        "alias/aws/sns"
    );
}

#[test]
fn the_example_collects_the_group_metrics_the_dashboard_shows() {
    let example = Template::parse(include_str!("../../../infra/example-stack.yaml"))
        .expect("infra/example-stack.yaml parses");
    let group = &raw(&example, "AutoScalingGroup")["Properties"];
    // No `Metrics` list: every group metric, so a widget added later needs no change here.
    assert_eq!(
        group["MetricsCollection"],
        json!([{"Granularity": "1Minute"}])
    );
}

/// The calculator's source, every file under src/ (the messages may move between modules).
fn calculator_source() -> String {
    fn read(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                read(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/capacity-calculator/src"),
        &mut files,
    );
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

/// The calculator's operations alarms send the reader to a log line by its message: each
/// message they quote is one the calculator logs.
#[test]
fn the_calculators_alarms_quote_log_lines_it_writes() {
    let template = template();
    let source = calculator_source();
    let mut quoted = 0;
    for id in ["ConsolidationRefusedAlarm", "DrainsGivenUpAlarm"] {
        let description = raw(&template, id)["Properties"]["AlarmDescription"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has a description"));
        let messages: Vec<&str> = description.split('"').skip(1).step_by(2).collect();
        assert!(!messages.is_empty(), "{id} quotes the log line to look for");
        for message in messages {
            assert!(
                source.contains(&format!("\"{message}")),
                "{id} quotes {message:?}, which the calculator no longer logs"
            );
            quoted += 1;
        }
    }
    assert!(quoted >= 2);
    // The drains-given-up alarm notifies as the drain-deadline alarm does.
    let given_up = &raw(&template, "DrainsGivenUpAlarm")["Properties"];
    assert!(notifies_the_optional_topics(&given_up["AlarmActions"]));
}
