//! The built `lifecycle-drainer` binary, end to end: the harness plays the Lambda Runtime API
//! (`moto_harness::runtime_api`) and moto plays AWS, so `main` — configuration
//! from the environment, SDK clients, `Context.deadline` in epoch milliseconds, the error
//! type reported to Lambda — runs exactly as it would in Lambda.

use std::time::{Duration, Instant};

use moto_harness::MotoServer;
use moto_harness::ecs::{container, register_task_definition, start_task};
use moto_harness::lifecycle::{self, now_ms, terminating_notification};
use moto_harness::runtime_api::{Answer, Deadline, LambdaFunction, RuntimeApi};
use serde_json::{Value, json};

const CLUSTER: &str = "prod";
const GROUP: &str = "prod-hosts";
const HOOK: &str = "drain-before-terminate";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7ee35fa40";

const FUNCTION: LambdaFunction = LambdaFunction {
    binary: env!("CARGO_BIN_EXE_lifecycle-drainer"),
    name: "lifecycle-drainer",
    version: "$LATEST",
};

/// A Runtime API that hands out `event` with `deadline_ms`.
fn runtime_api(event: Value, deadline_ms: u64) -> RuntimeApi {
    FUNCTION.serve_one(event, Deadline::AtMs(deadline_ms))
}

fn notification(instance: &str) -> String {
    terminating_notification(GROUP, HOOK, TOKEN, instance, now_ms())
}

fn sns_event(topic_arn: &str, message: &str) -> Value {
    lifecycle::sns_event(topic_arn, message, json!({}))
}

fn open_action(moto: &MotoServer, instance: &str) {
    moto.open_lifecycle_action(
        GROUP,
        HOOK,
        instance,
        "71514b9d-6a40-4b26-8523-05e7ee35fa40",
    );
}

fn wait_for(api: &RuntimeApi, seconds: u64) -> Answer {
    api.wait_for(Duration::from_secs(seconds))
}

#[tokio::test]
async fn the_binary_completes_the_action_of_an_instance_outside_the_cluster() {
    let moto = MotoServer::start();
    moto.ecs_cluster(CLUSTER).await;
    let stranger = "i-0123456789abcdef0";
    open_action(&moto, stranger);
    let event = sns_event(
        "arn:aws:sns:us-east-1:123456789012:lifecycle",
        &notification(stranger),
    );
    let api = runtime_api(event, now_ms() + 60_000);
    let _function = FUNCTION.start(
        &api,
        moto.endpoint(),
        &[
            ("ECS_CLUSTER", CLUSTER),
            ("HEARTBEAT_TIMEOUT_SECONDS", "60"),
        ],
    );
    let Answer { kind, body, .. } = wait_for(&api, 30);
    assert_eq!(kind, "response", "{body}");
    assert_eq!(
        body,
        json!({"records": [{"outcome": "completed", "ec2_instance_id": stranger, "result": "CONTINUE", "reason": "NotInCluster"}]})
    );
    let calls = moto.get("/_harness/lifecycle-calls")["calls"].clone();
    assert_eq!(calls[0]["operation"], "CompleteLifecycleAction");
    assert_eq!(calls[0]["outcome"], "ok");
}

#[tokio::test]
async fn the_binary_republishes_before_the_deadline_lambda_gives_it() {
    let moto = MotoServer::start();
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let ecs = moto.ecs_cluster(CLUSTER).await;
    moto.freeze_tasks();
    let hosts = moto.add_container_instances(CLUSTER, 1, &json!({}));
    let Some((arn, ec2)) = hosts.first().cloned() else {
        panic!("one host");
    };
    let web = register_task_definition(&ecs, "web", container("web", None, 256).build()).await;
    start_task(&ecs, CLUSTER, &web, &arn).await;
    open_action(&moto, &ec2);
    let topic = sns
        .create_topic()
        .name("lifecycle")
        .send()
        .await
        .expect("topic");
    let topic_arn = topic.topic_arn().unwrap_or_default().to_owned();

    // Lambda gives the invocation 8 s; with a 5 s margin the function must republish and
    // answer within about 3 s, long before the deadline.
    let started = Instant::now();
    let api = runtime_api(sns_event(&topic_arn, &notification(&ec2)), now_ms() + 8_000);
    let _function = FUNCTION.start(
        &api,
        moto.endpoint(),
        &[
            ("ECS_CLUSTER", CLUSTER),
            ("POLL_INTERVAL_SECONDS", "1"),
            ("DEADLINE_MARGIN_SECONDS", "5"),
            ("HEARTBEAT_TIMEOUT_SECONDS", "60"),
        ],
    );
    let Answer { kind, body, .. } = wait_for(&api, 30);
    assert_eq!(kind, "response", "{body}");
    assert_eq!(body["records"][0]["outcome"], "republished", "{body}");
    assert_eq!(body["records"][0]["topic_arn"], json!(topic_arn));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered before the deadline"
    );
    let lifecycle_calls = moto.get("/_harness/lifecycle-calls")["calls"].clone();
    assert_eq!(
        lifecycle_calls,
        json!([]),
        "nothing completed while the task runs"
    );
}

#[tokio::test]
async fn the_binary_reports_an_invalid_event_as_such() {
    let moto = MotoServer::start();
    let api = runtime_api(json!({"hello": "world"}), now_ms() + 60_000);
    let _function = FUNCTION.start(&api, moto.endpoint(), &[("ECS_CLUSTER", CLUSTER)]);
    let Answer { kind, body, .. } = wait_for(&api, 30);
    assert_eq!(kind, "error");
    assert_eq!(body["errorType"], "Permanent.InvalidEvent");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("neither an SNS event"), "{message}");
}

#[test]
fn the_binary_refuses_to_start_with_an_invalid_setting_and_names_it() {
    let (success, text) =
        FUNCTION.run_to_exit(&[("ECS_CLUSTER", CLUSTER), ("POLL_INTERVAL_SECONDS", "0")]);
    assert!(!success);
    assert!(
        text.contains("POLL_INTERVAL_SECONDS=\"0\" is invalid: expected a whole number of seconds from 1 to 300"),
        "{text}"
    );
}
