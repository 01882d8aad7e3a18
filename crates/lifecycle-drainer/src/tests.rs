//! Unit tests of the handler over the in-memory AWS, with a pinned clock: every branch of
//! the issue, no real sleeping.

use std::time::Duration;

use aws_lambda_events::event::autoscaling::AutoScalingEvent;
use aws_lambda_events::event::sns::SnsEvent;
use capacity_aws::drain::fake::{DrainCall, FakeDrainWorld, Operation};
use capacity_aws::drain::{
    AttributeValue, HookTimeouts, LifecycleActionRef, LifecycleActionResult, ObservedTask,
};
use serde_json::{Value, json};

use crate::event::{Carried, Delivery, EventError, LifecycleNotification, Notice, parse_event};
use crate::handler::HandlerError;
use crate::{Clock, Config, handle};
use moto_harness::clock::ManualClock;

const SNS_TERMINATING: &str = include_str!("../fixtures/sns-lifecycle-terminating.json");
const SNS_TEST_NOTIFICATION: &str = include_str!("../fixtures/sns-test-notification.json");
const EVENTBRIDGE_TERMINATE: &str =
    include_str!("../fixtures/eventbridge-terminate-lifecycle-action.json");

/// `Time` of the SNS fixture's notification, epoch ms.
const ACTION_STARTED: u64 = 1_611_016_586_533;
/// `time` of the EventBridge fixture.
const EVENTBRIDGE_STARTED: u64 = 1_611_016_586_000;
const INSTANCE: &str = "i-0598c7d356eba48d7";
const CONTAINER_INSTANCE: &str =
    "arn:aws:ecs:us-west-2:123456789012:container-instance/prod/0f9e8d7c";
const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:ecs-drain-topic";
/// Lambda's deadline for "invoked two seconds after the action started, 15 minutes timeout".
const FIFTEEN_MINUTES: u64 = 900_000;

fn config() -> Config {
    Config {
        cluster: "prod".into(),
        poll_interval: Duration::from_secs(5),
        max_drain: Duration::from_secs(7200),
        deadline_result: LifecycleActionResult::Continue,
        heartbeat_timeout: None,
        deadline_margin: Duration::from_secs(20),
        republish_topic_arn: None,
    }
}

fn task(n: u32, status: &str) -> ObservedTask {
    ObservedTask {
        task_arn: format!("arn:aws:ecs:us-west-2:123456789012:task/prod/{n}"),
        last_status: status.into(),
        desired_status: Some(
            if status == "RUNNING" {
                "RUNNING"
            } else {
                "STOPPED"
            }
            .into(),
        ),
    }
}

fn hook(heartbeat_s: u64) -> HookTimeouts {
    HookTimeouts {
        heartbeat_timeout: Duration::from_secs(heartbeat_s),
        global_timeout: Duration::from_secs(172_800.min(heartbeat_s * 100)),
    }
}

/// The SNS fixture's instance, registered and with an open action, whose tasks are seen by
/// successive polls as `polls`; the clock is shared so calls carry its time.
fn world(clock: &ManualClock, polls: Vec<Vec<ObservedTask>>) -> FakeDrainWorld {
    let c = clock.clone();
    FakeDrainWorld::new()
        .with_clock(move || c.now_ms())
        .with_instance(INSTANCE, CONTAINER_INSTANCE)
        .with_active_action(INSTANCE)
        .with_hook("my-asg", "my-hook", hook(300))
        .with_task_polls(CONTAINER_INSTANCE, polls)
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The SNS fixture with its message replaced (and attributes added).
fn sns_with(message: &Value, attributes: &Value) -> Value {
    let mut event = fixture(SNS_TERMINATING);
    event["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
    event["Records"][0]["Sns"]["MessageAttributes"] = attributes.clone();
    event
}

fn terminating_message(instance: &str) -> Value {
    let event = fixture(SNS_TERMINATING);
    let text = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap_or_default();
    let mut message: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    message["EC2InstanceId"] = Value::String(instance.into());
    message
}

fn the_action() -> LifecycleActionRef {
    LifecycleActionRef {
        auto_scaling_group_name: "my-asg".into(),
        lifecycle_hook_name: "my-hook".into(),
        ec2_instance_id: INSTANCE.into(),
        token: Some("71514b9d-6a40-4b26-8523-05e7ee35fa40".into()),
    }
}

async fn run(
    event: Value,
    deadline_ms: u64,
    config: &Config,
    aws: &FakeDrainWorld,
    clock: &ManualClock,
) -> Result<Value, HandlerError> {
    handle(event, deadline_ms, config, aws, clock).await
}

fn outcomes(answer: &Result<Value, HandlerError>) -> Vec<Value> {
    match answer {
        Ok(v) => v["records"].as_array().cloned().unwrap_or_default(),
        Err(e) => panic!("handler failed: {e}"),
    }
}

fn operations(aws: &FakeDrainWorld) -> Vec<Operation> {
    aws.calls().iter().map(DrainCall::operation).collect()
}

// ------------------------------------------------------------------ fixtures

#[test]
fn sns_lifecycle_fixture_round_trips_and_parses_into_a_termination() {
    let event: SnsEvent = serde_json::from_str(SNS_TERMINATING).unwrap_or_default();
    let again: SnsEvent = serde_json::from_str(&serde_json::to_string(&event).unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(event, again);
    assert_eq!(event.records.len(), 1);

    let message = event
        .records
        .first()
        .map(|r| r.sns.message.clone())
        .unwrap_or_default();
    let notification: Result<LifecycleNotification, _> = serde_json::from_str(&message);
    let notification = notification.unwrap_or_default();
    let original: Value = serde_json::from_str(&message).unwrap_or(Value::Null);
    assert_eq!(
        serde_json::to_value(&notification).ok(),
        Some(original),
        "every field kept"
    );

    let parsed = parse_event(fixture(SNS_TERMINATING)).unwrap_or_default();
    let request = parsed.into_iter().next().and_then(Result::ok);
    let request = request.unwrap_or_else(|| panic!("the fixture parses"));
    assert_eq!(
        request.notice,
        Notice::Transition {
            action: the_action(),
            transition: "autoscaling:EC2_INSTANCE_TERMINATING".into(),
            started_at_ms: Some(ACTION_STARTED),
        }
    );
    assert_eq!(request.carried, Carried::default());
    assert!(
        matches!(request.delivery, Delivery::Sns { ref topic_arn, ref message, .. } if topic_arn == TOPIC && message.contains(INSTANCE))
    );
}

#[test]
fn test_notification_fixture_round_trips_and_parses_into_a_test_notice() {
    let event: SnsEvent = serde_json::from_str(SNS_TEST_NOTIFICATION).unwrap_or_default();
    let again: SnsEvent = serde_json::from_str(&serde_json::to_string(&event).unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(event, again);
    let message = event
        .records
        .first()
        .map(|r| r.sns.message.clone())
        .unwrap_or_default();
    let notification: LifecycleNotification = serde_json::from_str(&message).unwrap_or_default();
    assert_eq!(
        serde_json::to_value(&notification).ok(),
        serde_json::from_str(&message).ok()
    );
    assert_eq!(
        notification.event.as_deref(),
        Some("autoscaling:TEST_NOTIFICATION")
    );
    assert_eq!(notification.lifecycle_transition, None);

    let parsed = parse_event(fixture(SNS_TEST_NOTIFICATION)).unwrap_or_default();
    let notice = parsed
        .into_iter()
        .next()
        .and_then(Result::ok)
        .map(|r| r.notice);
    assert_eq!(
        notice,
        Some(Notice::Test {
            auto_scaling_group_name: Some("my-asg".into())
        })
    );
}

#[test]
fn eventbridge_fixture_round_trips_and_parses_into_a_termination() {
    let event: Result<AutoScalingEvent<Value>, _> = serde_json::from_str(EVENTBRIDGE_TERMINATE);
    let event = event.unwrap_or_else(|e| panic!("fixture: {e}"));
    let text = serde_json::to_string(&event).unwrap_or_default();
    let again: Result<AutoScalingEvent<Value>, _> = serde_json::from_str(&text);
    assert_eq!(again.ok(), Some(event.clone()));
    let detail = Value::Object(event.detail.clone().into_iter().collect());
    let notification: LifecycleNotification =
        serde_json::from_value(detail.clone()).unwrap_or_default();
    assert_eq!(serde_json::to_value(&notification).ok(), Some(detail));

    let parsed = parse_event(fixture(EVENTBRIDGE_TERMINATE)).unwrap_or_default();
    let request = parsed.into_iter().next().and_then(Result::ok);
    let request = request.unwrap_or_else(|| panic!("the fixture parses"));
    assert_eq!(
        request.notice,
        Notice::Transition {
            action: LifecycleActionRef {
                auto_scaling_group_name: "my-asg".into(),
                lifecycle_hook_name: "my-lifecycle-hook".into(),
                ec2_instance_id: "i-1234567890abcdef0".into(),
                token: Some("87654321-4321-4321-4321-210987654321".into()),
            },
            transition: "autoscaling:EC2_INSTANCE_TERMINATING".into(),
            started_at_ms: Some(EVENTBRIDGE_STARTED),
        }
    );
    // Republished in the SNS form: the notification, with the event's time as its Time.
    let Delivery::EventBridge { message, .. } = &request.delivery else {
        panic!("delivered by EventBridge");
    };
    let republished: LifecycleNotification = serde_json::from_str(message).unwrap_or_default();
    assert_eq!(
        republished.ec2_instance_id.as_deref(),
        Some("i-1234567890abcdef0")
    );
    assert_eq!(republished.time.as_deref(), Some("2021-01-19T00:36:26Z"));
}

// ------------------------------------------------------------------ nothing to do

#[tokio::test]
async fn a_test_notification_succeeds_without_any_aws_call() {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let aws = world(&clock, vec![]);
    let answer = run(
        fixture(SNS_TEST_NOTIFICATION),
        ACTION_STARTED + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [json!({"outcome": "skipped", "reason": "test notification"})]
    );
    assert_eq!(aws.calls(), []);
}

#[tokio::test]
async fn a_launch_transition_succeeds_without_any_aws_call() {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let aws = world(&clock, vec![]);
    let mut message = terminating_message(INSTANCE);
    message["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_LAUNCHING");
    let answer = run(
        sns_with(&message, &json!({})),
        ACTION_STARTED + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [json!({"outcome": "skipped", "reason": "transition autoscaling:EC2_INSTANCE_LAUNCHING"})]
    );
    assert_eq!(aws.calls(), []);
}

#[tokio::test]
async fn a_message_that_is_not_a_lifecycle_notification_fails_clearly_without_any_aws_call() {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let aws = world(&clock, vec![]);
    let cases = [
        (
            sns_with(&json!("hello"), &json!({})),
            "is not a lifecycle notification: the message is not a JSON object",
        ),
        (
            sns_with(&json!({"Service": "AWS Auto Scaling"}), &json!({})),
            "is not a lifecycle notification: it has neither Event nor LifecycleTransition",
        ),
        (
            {
                let mut m = terminating_message(INSTANCE);
                m.as_object_mut().map(|o| o.remove("EC2InstanceId"));
                sns_with(&m, &json!({}))
            },
            "the autoscaling:EC2_INSTANCE_TERMINATING notification has no EC2InstanceId",
        ),
        (
            json!({"hello": "world"}),
            "neither an SNS event (\"Records\") nor an EventBridge lifecycle action (\"detail-type\"); it has keys [hello]",
        ),
        (
            json!({"detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling", "time": "2021-01-19T00:36:26Z", "resources": [], "detail": {}, "id": "e-1"}),
            "EventBridge event e-1 is not a lifecycle action",
        ),
    ];
    for (event, expected) in cases {
        let answer = run(
            event,
            ACTION_STARTED + FIFTEEN_MINUTES,
            &config(),
            &aws,
            &clock,
        )
        .await;
        let err = answer.err().map(|e| (e.to_string(), e.error_type()));
        let (message, error_type) = err.unwrap_or_else(|| panic!("{expected}: should fail"));
        assert!(message.contains(expected), "{message}");
        assert_eq!(error_type, "Permanent.InvalidEvent");
    }
    assert_eq!(aws.calls(), []);
}

#[tokio::test]
async fn an_instance_not_in_the_cluster_is_completed_at_once() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![]);
    let message = terminating_message("i-0000000000000000f");
    aws.state()
        .active_actions
        .insert("i-0000000000000000f".into());
    let answer = run(
        sns_with(&message, &json!({})),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": "i-0000000000000000f", "result": "CONTINUE", "reason": "NotInCluster"})
        ]
    );
    assert_eq!(
        operations(&aws),
        [
            Operation::DescribeLifecycleHook,
            Operation::FindContainerInstance,
            Operation::CompleteLifecycleAction
        ]
    );
    assert!(clock.slept().is_empty());
}

// ------------------------------------------------------------------ draining

#[tokio::test]
async fn the_drain_sets_draining_and_completes_on_the_third_poll() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(
        &clock,
        vec![
            vec![task(1, "RUNNING"), task(2, "RUNNING")],
            vec![task(1, "STOPPED"), task(2, "RUNNING")],
            vec![task(1, "STOPPED"), task(2, "STOPPED")],
        ],
    );
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": INSTANCE, "result": "CONTINUE", "reason": "Drained"})
        ]
    );
    assert_eq!(
        aws.calls(),
        [
            DrainCall::DescribeLifecycleHook {
                auto_scaling_group_name: "my-asg".into(),
                lifecycle_hook_name: "my-hook".into()
            },
            DrainCall::FindContainerInstance {
                cluster: "prod".into(),
                ec2_instance_id: INSTANCE.into()
            },
            DrainCall::SetDraining {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::ListInstanceTasks {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::ListInstanceTasks {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::ListInstanceTasks {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::CompleteLifecycleAction {
                action: the_action(),
                result: LifecycleActionResult::Continue,
                answer: Some(capacity_aws::drain::ActionAnswer::Done),
            },
        ]
    );
    assert_eq!(
        clock.slept(),
        [Duration::from_secs(5), Duration::from_secs(5)]
    );
    assert!(aws.state().draining.contains(CONTAINER_INSTANCE));
}

#[tokio::test]
async fn a_task_still_stopping_holds_the_drain_until_it_is_stopped() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(
        &clock,
        vec![
            vec![task(1, "RUNNING")],
            vec![task(1, "DEACTIVATING")],
            vec![task(1, "STOPPING")],
            vec![task(1, "DEPROVISIONING")],
            vec![task(1, "STOPPED")],
        ],
    );
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(outcomes(&answer).len(), 1);
    assert_eq!(aws.calls_of(Operation::ListInstanceTasks).len(), 5);
    let completions = aws.calls_of(Operation::CompleteLifecycleAction);
    let last_poll = aws
        .calls_of(Operation::ListInstanceTasks)
        .last()
        .map(|(at, _)| *at);
    assert_eq!(completions.len(), 1);
    assert_eq!(
        completions.first().map(|(at, _)| *at),
        last_poll,
        "completed right after the poll that saw it STOPPED"
    );
}

#[tokio::test]
async fn heartbeats_keep_the_hook_from_timing_out_during_a_long_drain() {
    // Heartbeat timeout 60 s; the tasks take 10 minutes to go.
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let polls_while_running = 600 / 5;
    let mut polls = vec![vec![task(1, "RUNNING")]; polls_while_running];
    polls.push(vec![task(1, "STOPPED")]);
    let aws = world(&clock, polls).with_hook("my-asg", "my-hook", hook(60));
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["outcome"].clone()),
        Some(json!("completed"))
    );

    let mut times: Vec<u64> = vec![ACTION_STARTED];
    times.extend(
        aws.calls_of(Operation::RecordHeartbeat)
            .iter()
            .map(|(at, _)| *at),
    );
    let completed_at = aws
        .calls_of(Operation::CompleteLifecycleAction)
        .first()
        .map(|(at, _)| *at);
    times.extend(completed_at);
    assert!(
        times.len() >= 12,
        "about one heartbeat every 30 s: {times:?}"
    );
    for pair in times.windows(2) {
        if let [a, b] = pair {
            assert!(b - a < 60_000, "{} ms without a heartbeat", b - a);
        }
    }
}

#[tokio::test]
async fn with_the_heartbeat_timeout_configured_the_hook_is_not_read() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]; 20]);
    let config = Config {
        heartbeat_timeout: Some(Duration::from_secs(30)),
        ..config()
    };
    let _ = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + 120_000,
        &config,
        &aws,
        &clock,
    )
    .await;
    assert!(aws.calls_of(Operation::DescribeLifecycleHook).is_empty());
    // Every 15 s over the first ~100 s.
    assert!(aws.calls_of(Operation::RecordHeartbeat).len() >= 6);
}

#[tokio::test]
async fn an_unreadable_hook_falls_back_to_the_most_frequent_heartbeat() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]; 10])
        .failing(Operation::DescribeLifecycleHook, 1);
    let _ = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + 120_000,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let beats: Vec<u64> = aws
        .calls_of(Operation::RecordHeartbeat)
        .iter()
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(beats.first().copied(), Some(ACTION_STARTED + 15_000));
    assert!(
        beats
            .windows(2)
            .all(|w| matches!(w, [a, b] if b - a <= 15_000)),
        "{beats:?}"
    );
}

// ------------------------------------------------------------------ deadlines

#[tokio::test]
async fn near_the_invocation_deadline_the_notification_is_republished_with_the_drain_progress() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]]);
    let deadline = clock.now_ms() + 60_000;
    let answer = run(fixture(SNS_TERMINATING), deadline, &config(), &aws, &clock).await;
    let message_id = outcomes(&answer).first().map(|o| o["message_id"].clone());
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "republished", "ec2_instance_id": INSTANCE, "topic_arn": TOPIC, "message_id": message_id, "next_attempt": 2})
        ]
    );
    let original = fixture(SNS_TERMINATING);
    let republished = aws.republished();
    assert_eq!(republished.len(), 1);
    let Some(r) = republished.first() else { return };
    assert_eq!(r.topic_arn, TOPIC, "to the record's own topic");
    assert_eq!(
        Some(r.message.as_str()),
        original["Records"][0]["Sns"]["Message"].as_str(),
        "the same message"
    );
    assert_eq!(
        r.subject.as_deref(),
        original["Records"][0]["Sns"]["Subject"].as_str()
    );
    assert_eq!(
        r.attributes,
        [
            (
                "DrainStartedAtMs".to_owned(),
                AttributeValue::Number(ACTION_STARTED as i64)
            ),
            ("DrainAttempt".to_owned(), AttributeValue::Number(2)),
        ]
    );
    // Republished within the margin before the deadline, never after it, and not completed.
    let published_at = aws
        .calls_of(Operation::Republish)
        .first()
        .map(|(at, _)| *at)
        .unwrap_or(u64::MAX);
    assert!(
        published_at >= deadline - 20_000 && published_at < deadline,
        "{published_at} vs {deadline}"
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn a_republished_notification_carries_its_start_and_the_drain_ends_at_the_total_deadline() {
    // Third invocation of a drain that started 7190 s ago, tasks still running.
    let started = ACTION_STARTED;
    let clock = ManualClock::at_ms(started + 7_190_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED"), task(7, "RUNNING")]]);
    let config = Config {
        deadline_result: LifecycleActionResult::Abandon,
        ..config()
    };
    let event = sns_with(
        &terminating_message(INSTANCE),
        &json!({
            "DrainStartedAtMs": {"Type": "Number", "Value": started.to_string()},
            "DrainAttempt": {"Type": "Number", "Value": "3"},
        }),
    );
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config,
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": INSTANCE, "result": "ABANDON", "reason": "DeadlineReached"})
        ]
    );
    let completed_at = aws
        .calls_of(Operation::CompleteLifecycleAction)
        .first()
        .map(|(at, _)| *at);
    assert_eq!(
        completed_at,
        Some(started + 7_200_000),
        "exactly at MAX_DRAIN_SECONDS"
    );
    assert!(aws.republished().is_empty());
    // A later invocation has no record of the last heartbeat: one is sent at once.
    assert_eq!(
        aws.calls_of(Operation::RecordHeartbeat)
            .first()
            .map(|(at, _)| *at),
        Some(started + 7_190_000)
    );
}

#[tokio::test]
async fn the_total_deadline_never_goes_past_the_hooks_global_timeout() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    // Heartbeat timeout 30 s → global timeout 3000 s, shorter than MAX_DRAIN_SECONDS.
    let aws =
        world(&clock, vec![vec![task(1, "RUNNING")]]).with_hook("my-asg", "my-hook", hook(30));
    let answer = run(fixture(SNS_TERMINATING), 600_000, &config(), &aws, &clock).await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["reason"].clone()),
        Some(json!("DeadlineReached"))
    );
    let completed_at = aws
        .calls_of(Operation::CompleteLifecycleAction)
        .first()
        .map(|(at, _)| *at);
    assert_eq!(
        completed_at,
        Some(ACTION_STARTED + 3_000_000 - 20_000),
        "the margin before the global timeout"
    );
}

#[tokio::test]
async fn a_deadline_in_the_past_is_unknown_and_never_republishes() {
    // `cargo lambda watch` sends 600000.
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let mut polls = vec![vec![task(1, "RUNNING")]; 400];
    polls.push(vec![task(1, "STOPPED")]);
    let aws = world(&clock, polls);
    let answer = run(fixture(SNS_TERMINATING), 600_000, &config(), &aws, &clock).await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["reason"].clone()),
        Some(json!("Drained"))
    );
    assert!(aws.republished().is_empty());
    assert!(
        clock.now_ms() > ACTION_STARTED + 1_000_000,
        "waited past any Lambda timeout (900 s)"
    );
}

#[tokio::test]
async fn an_eventbridge_delivery_is_republished_to_the_configured_topic_in_sns_form() {
    let clock = ManualClock::at_ms(EVENTBRIDGE_STARTED + 2_000);
    let c = clock.clone();
    let aws = FakeDrainWorld::new()
        .with_clock(move || c.now_ms())
        .with_instance("i-1234567890abcdef0", CONTAINER_INSTANCE)
        .with_active_action("i-1234567890abcdef0")
        .with_task_polls(CONTAINER_INSTANCE, vec![vec![task(1, "RUNNING")]]);
    let deadline = clock.now_ms() + 60_000;

    let without_topic = run(
        fixture(EVENTBRIDGE_TERMINATE),
        deadline,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = without_topic.err().map(|e| (e.error_type(), e.to_string()));
    assert!(
        matches!(&err, Some(("Retryable.DrainIncomplete", m)) if m.contains("set REPUBLISH_TOPIC_ARN")),
        "{err:?}"
    );

    let topic = "arn:aws:sns:us-west-2:123456789012:drain-continue";
    let config = Config {
        republish_topic_arn: Some(topic.into()),
        ..config()
    };
    let clock_now = clock.now_ms();
    let answer = run(
        fixture(EVENTBRIDGE_TERMINATE),
        clock_now + 60_000,
        &config,
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["topic_arn"].clone()),
        Some(json!(topic))
    );
    let republished = aws.republished();
    let message = republished
        .first()
        .map(|r| r.message.clone())
        .unwrap_or_default();
    let reparsed = parse_event(sns_with(
        &serde_json::from_str(&message).unwrap_or(Value::Null),
        &json!({}),
    ));
    let notice = reparsed
        .ok()
        .and_then(|r| r.into_iter().next())
        .and_then(Result::ok)
        .map(|r| r.notice);
    assert!(
        matches!(
            notice,
            Some(Notice::Transition {
                started_at_ms: Some(EVENTBRIDGE_STARTED),
                ..
            })
        ),
        "{notice:?}"
    );
}

// ------------------------------------------------------------------ failures and duplicates

#[tokio::test]
async fn a_duplicate_delivery_after_completion_succeeds_without_completing_twice() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]]);
    let first = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let second = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&first).first().map(|o| o["outcome"].clone()),
        Some(json!("completed"))
    );
    assert_eq!(
        outcomes(&second),
        [json!({"outcome": "already_completed", "ec2_instance_id": INSTANCE})]
    );
    assert_eq!(
        aws.completed(),
        [(INSTANCE.to_owned(), LifecycleActionResult::Continue)]
    );
}

#[tokio::test]
async fn an_action_that_disappears_mid_drain_stops_the_drain() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]]);
    aws.state().active_actions.clear();
    let event = sns_with(
        &terminating_message(INSTANCE),
        &json!({"DrainAttempt": {"Type": "Number", "Value": "2"}}),
    );
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [json!({"outcome": "action_gone", "ec2_instance_id": INSTANCE})]
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_at_the_next_poll() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]])
        .failing(Operation::FindContainerInstance, 1)
        .failing(Operation::SetDraining, 1)
        .failing(Operation::ListInstanceTasks, 1)
        .failing(Operation::CompleteLifecycleAction, 1);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["reason"].clone()),
        Some(json!("Drained"))
    );
    assert_eq!(aws.completed().len(), 1);
    assert_eq!(clock.slept(), [Duration::from_secs(5); 4]);
}

#[tokio::test]
async fn a_persistent_failure_never_completes_the_action_and_republishes_at_the_deadline() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]])
        .failing(Operation::ListInstanceTasks, usize::MAX);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["outcome"].clone()),
        Some(json!("republished"))
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
    assert!(
        aws.calls_of(Operation::ListInstanceTasks).len() > 100,
        "kept trying every poll"
    );
}

#[tokio::test]
async fn a_persistent_failure_past_the_total_deadline_fails_without_completing() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 7_200_000);
    let aws = world(&clock, vec![]).failing(Operation::FindContainerInstance, usize::MAX);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = answer.err().map(|e| (e.error_type(), e.to_string()));
    assert!(
        matches!(&err, Some(("Retryable.DrainIncomplete", m)) if m.contains("without being able to read its tasks") && m.contains("injected failure")),
        "{err:?}"
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn a_failed_republish_fails_the_invocation_so_lambda_retries_it() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws =
        world(&clock, vec![vec![task(1, "RUNNING")]]).failing(Operation::Republish, usize::MAX);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + 60_000,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = answer.err().map(|e| (e.error_type(), e.to_string()));
    assert!(
        matches!(&err, Some(("Retryable.DrainIncomplete", m)) if m.contains("cannot republish")),
        "{err:?}"
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn every_record_of_an_event_is_handled() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]]);
    aws.state()
        .active_actions
        .insert("i-0000000000000000f".into());
    let mut event = fixture(SNS_TERMINATING);
    let first = event["Records"][0].clone();
    let mut gone = first.clone();
    gone["Sns"]["Message"] = Value::String(terminating_message("i-0000000000000000f").to_string());
    let test = fixture(SNS_TEST_NOTIFICATION)["Records"][0].clone();
    event["Records"] = json!([first, gone, test]);
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": INSTANCE, "result": "CONTINUE", "reason": "Drained"}),
            json!({"outcome": "completed", "ec2_instance_id": "i-0000000000000000f", "result": "CONTINUE", "reason": "NotInCluster"}),
            json!({"outcome": "skipped", "reason": "test notification"}),
        ]
    );
    assert_eq!(aws.completed().len(), 2);
}

#[tokio::test]
async fn a_bad_record_fails_the_event_but_the_others_are_still_handled() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]]);
    let mut event = fixture(SNS_TERMINATING);
    let good = event["Records"][0].clone();
    let mut bad = good.clone();
    bad["Sns"]["Message"] = json!("not json");
    event["Records"] = json!([bad, good]);
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = answer.err();
    assert!(
        matches!(
            &err,
            Some(HandlerError::Records {
                failed: 1,
                total: 2,
                retryable: false,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(aws.completed().len(), 1);
}

#[test]
fn an_unparsable_carried_attribute_is_ignored() {
    let event = sns_with(
        &terminating_message(INSTANCE),
        &json!({
            "DrainStartedAtMs": {"Type": "String", "Value": "yesterday"},
            "DrainAttempt": {"Type": "Number", "Value": "0"},
        }),
    );
    let parsed = parse_event(event).unwrap_or_default();
    let carried = parsed
        .into_iter()
        .next()
        .and_then(Result::ok)
        .map(|r| r.carried);
    assert_eq!(carried, Some(Carried::default()));
}

#[test]
fn an_sns_event_of_the_wrong_shape_is_named() {
    let err = parse_event(json!({"Records": "nope"})).err();
    assert!(
        matches!(err, Some(EventError::MalformedSns { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_subject_sns_would_refuse_is_dropped_from_the_republished_message() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]]);
    let mut event = fixture(SNS_TERMINATING);
    event["Records"][0]["Sns"]["Subject"] = json!("x".repeat(101));
    let answer = run(event, clock.now_ms() + 60_000, &config(), &aws, &clock).await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["outcome"].clone()),
        Some(json!("republished"))
    );
    assert_eq!(
        aws.republished().first().map(|r| r.subject.clone()),
        Some(None)
    );
}

#[tokio::test]
async fn an_eventbridge_event_relayed_through_sns_is_drained_and_republished_as_it_came() {
    let clock = ManualClock::at_ms(EVENTBRIDGE_STARTED + 2_000);
    let c = clock.clone();
    let aws = FakeDrainWorld::new()
        .with_clock(move || c.now_ms())
        .with_instance("i-1234567890abcdef0", CONTAINER_INSTANCE)
        .with_active_action("i-1234567890abcdef0")
        .with_task_polls(CONTAINER_INSTANCE, vec![vec![task(1, "RUNNING")]]);
    let relayed = fixture(EVENTBRIDGE_TERMINATE);
    let event = sns_with(&relayed, &json!({}));
    let answer = run(event, clock.now_ms() + 60_000, &config(), &aws, &clock).await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["topic_arn"].clone()),
        Some(json!(TOPIC))
    );
    let republished = aws.republished();
    let message: Option<Value> = republished
        .first()
        .and_then(|r| serde_json::from_str(&r.message).ok());
    assert_eq!(message, Some(relayed));
    assert_eq!(
        aws.calls_of(Operation::FindContainerInstance).len(),
        1,
        "drained the instance the event names"
    );
}
