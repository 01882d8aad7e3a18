//! Unit tests of the function over the in-memory AWS, with a pinned clock: every branch of
//! the issue, no real sleeping. Event parsing in [`events`]; the handler's behaviour in
//! [`drain`] (what it calls, in which order, and how it ends) and [`deadlines`] (heartbeats,
//! the total deadline and republishing).

use std::time::Duration;

use capacity_aws::drain::fake::{DrainCall, FakeDrainWorld, Operation};
use capacity_aws::drain::{HookTimeouts, LifecycleActionRef, LifecycleActionResult, ObservedTask};
use moto_harness::clock::ManualClock;
use serde_json::Value;

use crate::handler::HandlerError;
use crate::{Clock, Config, handle};

mod deadlines;
mod drain;
mod events;

pub(super) const SNS_TERMINATING: &str =
    include_str!("../../fixtures/sns-lifecycle-terminating.json");
pub(super) const SNS_TEST_NOTIFICATION: &str =
    include_str!("../../fixtures/sns-test-notification.json");
pub(super) const EVENTBRIDGE_TERMINATE: &str =
    include_str!("../../fixtures/eventbridge-terminate-lifecycle-action.json");

/// `Time` of the SNS fixture's notification, epoch ms.
pub(super) const ACTION_STARTED: u64 = 1_611_016_586_533;
/// `time` of the EventBridge fixture.
pub(super) const EVENTBRIDGE_STARTED: u64 = 1_611_016_586_000;
pub(super) const INSTANCE: &str = "i-0598c7d356eba48d7";
pub(super) const CONTAINER_INSTANCE: &str =
    "arn:aws:ecs:us-west-2:123456789012:container-instance/prod/0f9e8d7c";
pub(super) const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:ecs-drain-topic";
/// Lambda's deadline for "invoked two seconds after the action started, 15 minutes timeout".
pub(super) const FIFTEEN_MINUTES: u64 = 900_000;

pub(super) fn config() -> Config {
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

pub(super) fn task(n: u32, status: &str) -> ObservedTask {
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

pub(super) fn hook(heartbeat_s: u64) -> HookTimeouts {
    HookTimeouts {
        heartbeat_timeout: Duration::from_secs(heartbeat_s),
        global_timeout: Duration::from_secs(172_800.min(heartbeat_s * 100)),
    }
}

/// The SNS fixture's instance, registered and with an open action, whose tasks are seen by
/// successive polls as `polls`; the clock is shared so calls carry its time.
pub(super) fn world(clock: &ManualClock, polls: Vec<Vec<ObservedTask>>) -> FakeDrainWorld {
    let c = clock.clone();
    FakeDrainWorld::new()
        .with_clock(move || c.now_ms())
        .with_instance(INSTANCE, CONTAINER_INSTANCE)
        .with_active_action(INSTANCE)
        .with_hook("my-asg", "my-hook", hook(300))
        .with_task_polls(CONTAINER_INSTANCE, polls)
}

pub(super) fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The SNS fixture with its message replaced (and attributes added).
pub(super) fn sns_with(message: &Value, attributes: &Value) -> Value {
    let mut event = fixture(SNS_TERMINATING);
    event["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
    event["Records"][0]["Sns"]["MessageAttributes"] = attributes.clone();
    event
}

pub(super) fn terminating_message(instance: &str) -> Value {
    let event = fixture(SNS_TERMINATING);
    let text = event["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap_or_default();
    let mut message: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    message["EC2InstanceId"] = Value::String(instance.into());
    message
}

pub(super) fn the_action() -> LifecycleActionRef {
    LifecycleActionRef {
        auto_scaling_group_name: "my-asg".into(),
        lifecycle_hook_name: "my-hook".into(),
        ec2_instance_id: INSTANCE.into(),
        token: Some("71514b9d-6a40-4b26-8523-05e7ee35fa40".into()),
    }
}

pub(super) async fn run(
    event: Value,
    deadline_ms: u64,
    config: &Config,
    aws: &FakeDrainWorld,
    clock: &ManualClock,
) -> Result<Value, HandlerError> {
    handle(event, deadline_ms, config, aws, clock).await
}

pub(super) fn outcomes(answer: &Result<Value, HandlerError>) -> Vec<Value> {
    match answer {
        Ok(v) => v["records"].as_array().cloned().unwrap_or_default(),
        Err(e) => panic!("handler failed: {e}"),
    }
}

pub(super) fn operations(aws: &FakeDrainWorld) -> Vec<Operation> {
    aws.calls().iter().map(DrainCall::operation).collect()
}
