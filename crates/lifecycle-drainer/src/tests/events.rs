//! Parsing: the captured fixtures round-trip and parse into lifecycle requests; what a
//! republished notification carries.

use aws_lambda_events::event::autoscaling::AutoScalingEvent;
use aws_lambda_events::event::sns::SnsEvent;
use capacity_aws::drain::{AttributeValue, LifecycleActionRef};
use serde_json::{Value, json};

use super::*;
use crate::event::{Carried, Delivery, EventError, LifecycleNotification, Notice, parse_event};

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

#[test]
fn a_republication_carries_the_start_and_the_next_attempt_to_the_right_topic() {
    let parsed = parse_event(fixture(SNS_TERMINATING)).unwrap_or_default();
    let Some(Ok(request)) = parsed.into_iter().next() else {
        panic!("the fixture parses");
    };
    let r = request.republication(None, ACTION_STARTED);
    let r = r.unwrap_or_else(|| panic!("an SNS delivery always has a topic"));
    assert_eq!(r.topic_arn, TOPIC, "the topic it came from");
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
    let configured = "arn:aws:sns:us-west-2:123456789012:drain-continue";
    assert_eq!(
        request
            .republication(Some(configured), ACTION_STARTED)
            .map(|r| r.topic_arn),
        Some(configured.to_owned()),
        "REPUBLISH_TOPIC_ARN overrides it"
    );

    let parsed = parse_event(fixture(EVENTBRIDGE_TERMINATE)).unwrap_or_default();
    let Some(Ok(eventbridge)) = parsed.into_iter().next() else {
        panic!("the fixture parses");
    };
    assert_eq!(
        eventbridge.republication(None, ACTION_STARTED),
        None,
        "EventBridge has no topic"
    );
    assert_eq!(
        eventbridge
            .republication(Some(configured), ACTION_STARTED)
            .map(|r| (r.topic_arn, r.subject)),
        Some((configured.to_owned(), None))
    );
}

#[test]
fn a_subject_over_100_characters_or_empty_is_not_republished() {
    for (subject, kept) in [
        ("x".repeat(100), true),
        ("x".repeat(101), false),
        (String::new(), false),
    ] {
        let mut event = fixture(SNS_TERMINATING);
        event["Records"][0]["Sns"]["Subject"] = json!(subject);
        let parsed = parse_event(event).unwrap_or_default();
        let Some(Ok(request)) = parsed.into_iter().next() else {
            panic!("the fixture parses");
        };
        let republished = request
            .republication(None, ACTION_STARTED)
            .and_then(|r| r.subject);
        assert_eq!(republished, kept.then_some(subject));
    }
}
