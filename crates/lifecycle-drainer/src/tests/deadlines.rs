//! The handler's behaviour against the clock: the invocation's deadline (republishing),
//! the drain's total deadline and the hook's global timeout.

use capacity_aws::drain::fake::{FakeDrainWorld, Operation};
use capacity_aws::drain::{AttributeValue, LifecycleActionResult};
use serde_json::{Value, json};

use super::*;
use crate::event::{Notice, parse_event};

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
async fn a_replayed_message_with_an_early_start_does_not_end_the_drain_with_tasks_running() {
    // A notification of a minute ago, replayed with a DrainStartedAtMs of three hours before
    // it (a stale message, or a bad attribute): the drain's start is the notification's time,
    // so the total deadline is hours away and the running task keeps the host.
    let clock = ManualClock::at_ms(ACTION_STARTED + 60_000);
    let aws = world(&clock, vec![vec![task(7, "RUNNING")]]);
    let event = sns_with(
        &terminating_message(INSTANCE),
        &json!({
            "DrainStartedAtMs": {"Type": "Number", "Value": (ACTION_STARTED - 3 * 3_600_000).to_string()},
            "DrainAttempt": {"Type": "Number", "Value": "2"},
        }),
    );
    let answer = run(event, clock.now_ms() + 30_000, &config(), &aws, &clock).await;
    assert!(
        aws.calls_of(Operation::CompleteLifecycleAction).is_empty(),
        "completed with a task running: {answer:?}"
    );
    assert_eq!(outcomes(&answer)[0]["outcome"], "republished", "{answer:?}");
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

#[tokio::test]
async fn a_drain_that_misses_its_deadline_is_logged_as_the_drains_at_deadline_filter_reads_it() {
    // The template's DrainsAtDeadlineMetricFilter counts the line
    // { $.fields.message = "DRAIN DEADLINE REACHED: ..." && $.fields.still_running > 0 }
    // with the dimension ClusterName = $.span.cluster: the line must carry all three.
    let lines = moto_harness::logs::LogLines::capture();

    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    // Heartbeat timeout 30 s: global timeout 3000 s; the task never stops.
    let aws =
        world(&clock, vec![vec![task(1, "RUNNING")]]).with_hook("my-asg", "my-hook", hook(30));
    let answer = run(fixture(SNS_TERMINATING), 600_000, &config(), &aws, &clock).await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["reason"].clone()),
        Some(json!("DeadlineReached")),
        "the function's answer names the missed deadline"
    );
    let reported: Vec<Value> = lines
        .json()
        .into_iter()
        .filter(|l| {
            l["fields"]["message"]
                == "DRAIN DEADLINE REACHED: completing the lifecycle action with tasks still on the instance"
        })
        .collect();
    assert_eq!(reported.len(), 1, "{:?}", lines.json());
    let line = &reported[0];
    assert_eq!(line["level"], "ERROR");
    assert!(line["fields"]["still_running"].as_u64() > Some(0), "{line}");
    assert_eq!(line["span"]["cluster"], "prod", "{line}");
    assert_eq!(line["span"]["ec2_instance_id"], INSTANCE, "{line}");
    assert!(
        line["fields"]["tasks"]
            .as_str()
            .is_some_and(|t| t.contains("task/prod/1 (RUNNING)")),
        "the tasks still there are named: {line}"
    );
}
