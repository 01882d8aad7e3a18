//! Promise 4 of issue 7 for the drainer's input: no event, however malformed, panics the
//! function, and each rejected one gets an error that names the problem.
//!
//! Inputs: arbitrary JSON (a recursive `serde_json::Value` strategy whose object keys are
//! often the events' own field names), and the real fixtures — the SNS event, the lifecycle
//! notification inside its `Message`, and the EventBridge form — with fields dropped,
//! replaced or retyped. Each goes through the whole handler (`handle`, over the in-memory
//! AWS with a pinned clock), not only the parser. A short run (proptest's default case
//! count) is part of `make test`; `make fuzz` runs the same tests with `PROPTEST_CASES`
//! raised, in release.

use std::time::Duration;

use capacity_aws::drain::LifecycleActionResult;
use capacity_aws::drain::fake::FakeDrainWorld;
use json_fuzz::{Mutation, chain, mutate};
use lifecycle_drainer::event::parse_event;
use lifecycle_drainer::{Config, HandlerError, handle};
use moto_harness::clock::ManualClock;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

const SNS_TERMINATING: &str = include_str!("../fixtures/sns-lifecycle-terminating.json");
const SNS_TEST_NOTIFICATION: &str = include_str!("../fixtures/sns-test-notification.json");
const EVENTBRIDGE_TERMINATE: &str =
    include_str!("../fixtures/eventbridge-terminate-lifecycle-action.json");
const FIXTURES: [&str; 3] = [
    SNS_TERMINATING,
    SNS_TEST_NOTIFICATION,
    EVENTBRIDGE_TERMINATE,
];

/// Field names of the events, so generated objects reach past the first check.
const KEYS: &[&str] = &[
    "Records",
    "EventSource",
    "EventVersion",
    "EventSubscriptionArn",
    "Sns",
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertUrl",
    "UnsubscribeUrl",
    "MessageAttributes",
    "Value",
    "DrainStartedAtMs",
    "DrainAttempt",
    "Origin",
    "Time",
    "LifecycleActionToken",
    "AutoScalingGroupName",
    "LifecycleHookName",
    "EC2InstanceId",
    "LifecycleTransition",
    "Event",
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// Values the parser gives meaning to.
const WORDS: &[&str] = &[
    "",
    "aws:sns",
    "Notification",
    "String",
    "Number",
    "arn:aws:sns:us-west-2:123456789012:ecs-drain-topic",
    "autoscaling:EC2_INSTANCE_TERMINATING",
    "autoscaling:EC2_INSTANCE_LAUNCHING",
    "autoscaling:TEST_NOTIFICATION",
    "aws.autoscaling",
    "EC2 Instance-terminate Lifecycle Action",
    "EC2 Instance-launch Lifecycle Action",
    "i-0598c7d356eba48d7",
    "my-asg",
    "my-hook",
    "2021-01-19T00:36:26.533Z",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "18446744073709551615",
    "0",
    "-1",
    "{}",
    "[]",
    "{\"LifecycleTransition\":\"autoscaling:EC2_INSTANCE_TERMINATING\"}",
];

fn json() -> impl Strategy<Value = Value> {
    json_fuzz::json(KEYS, WORDS)
}

fn mutations() -> impl Strategy<Value = Vec<(Index, Mutation)>> {
    json_fuzz::mutations(KEYS, WORDS)
}

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

/// What an error message must mention to name the problem: the kind of event expected, or
/// the notification and what is wrong with it.
const NAMES: &[&str] = &[
    "SNS",
    "EventBridge",
    "lifecycle",
    "Records",
    "detail-type",
    "LifecycleTransition",
];

/// Runs the handler on `event` (a panic fails the test) over an AWS where the instance is
/// in no cluster, so a valid termination completes at once; a refused event must carry a
/// message that names the problem.
fn check(event: Value) -> Result<(), TestCaseError> {
    // The parser alone, each record's error included.
    match parse_event(event.clone()) {
        Ok(records) => {
            for err in records.into_iter().filter_map(Result::err) {
                let text = chain(&err);
                prop_assert!(
                    NAMES.iter().any(|n| text.contains(n)),
                    "a record's error does not name the problem: {text}"
                );
            }
        }
        Err(err) => {
            let text = chain(&err);
            prop_assert!(
                NAMES.iter().any(|n| text.contains(n)),
                "the error does not name the problem: {text}"
            );
        }
    }
    // The whole function.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| TestCaseError::fail(format!("tokio runtime: {e}")))?;
    let clock = ManualClock::at_ms(1_700_000_000_000);
    let aws = FakeDrainWorld::new().with_active_action("i-0598c7d356eba48d7");
    let answer = runtime.block_on(handle(event, 1_700_000_900_000, &config(), &aws, &clock));
    if let Err(err) = answer {
        let text = chain(&err);
        prop_assert!(
            NAMES.iter().any(|n| text.contains(n)),
            "the handler's error does not name the problem: {text}"
        );
        if let HandlerError::Records { failed, total, .. } = err {
            prop_assert!(failed >= 1 && failed <= total, "{text}");
        }
    }
    Ok(())
}

fn fixture(n: usize) -> Value {
    let text = FIXTURES[n % FIXTURES.len()];
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {n}: {e}"))
}

/// Where the mutations apply.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The event as delivered.
    Event,
    /// The notification inside the SNS record's `Message` string.
    Message,
    /// The EventBridge event relayed through SNS, inside `Message`.
    RelayedEventBridge,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Event),
        Just(Target::Message),
        Just(Target::RelayedEventBridge)
    ]
}

fn mutated(n: usize, target: Target, changes: &[(Index, Mutation)]) -> Value {
    match target {
        Target::Event => {
            let mut event = fixture(n);
            mutate(&mut event, changes);
            event
        }
        Target::Message | Target::RelayedEventBridge => {
            let mut event = fixture(n % 2);
            let mut message = match target {
                Target::Message => event
                    .pointer("/Records/0/Sns/Message")
                    .and_then(Value::as_str)
                    .and_then(|m| serde_json::from_str(m).ok())
                    .unwrap_or(Value::Null),
                _ => fixture(2),
            };
            mutate(&mut message, changes);
            if let Some(slot) = event.pointer_mut("/Records/0/Sns/Message") {
                *slot = Value::String(message.to_string());
            }
            event
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics_the_drainer(event in json()) {
        check(event)?;
    }

    #[test]
    fn an_sns_event_with_an_arbitrary_message_never_panics_the_drainer(message in json()) {
        let mut event = fixture(0);
        if let Some(slot) = event.pointer_mut("/Records/0/Sns/Message") {
            *slot = Value::String(message.to_string());
        }
        check(event)?;
    }

    #[test]
    fn mutated_fixtures_never_panic_the_drainer(
        n in 0..FIXTURES.len(),
        target in target(),
        changes in mutations(),
    ) {
        check(mutated(n, target, &changes))?;
    }
}

#[test]
fn the_unmutated_fixtures_are_handled() {
    for n in 0..FIXTURES.len() {
        let event = fixture(n);
        let records = parse_event(event).unwrap_or_else(|e| panic!("fixture {n}: {e}"));
        assert!(records.iter().all(Result::is_ok), "fixture {n}");
    }
}

#[test]
fn a_dropped_field_of_the_notification_is_named() {
    let mut event = fixture(0);
    let message = event
        .pointer("/Records/0/Sns/Message")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str::<Value>(m).ok());
    let Some(Value::Object(mut message)) = message else {
        panic!("the fixture's message is an object");
    };
    message.remove("EC2InstanceId");
    if let Some(slot) = event.pointer_mut("/Records/0/Sns/Message") {
        *slot = Value::String(Value::Object(message).to_string());
    }
    let records = parse_event(event).unwrap_or_default();
    let text = records
        .into_iter()
        .find_map(Result::err)
        .map(|e| chain(&e))
        .unwrap_or_default();
    assert!(text.contains("has no EC2InstanceId"), "{text}");
}
