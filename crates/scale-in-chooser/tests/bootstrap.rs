//! The built `scale-in-chooser` binary, as Lambda runs it: the harness plays the Lambda
//! Runtime API (`moto_harness::runtime_api`) and moto plays ECS, so `main` —
//! configuration from the environment, the SDK client and its timeouts, the answer posted
//! back, the error type — runs exactly as in Lambda. Auto Scaling waits 2 s for the answer:
//! every test checks it came sooner.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use moto_harness::MotoServer;
use moto_harness::ecs::{container, deregister, register_task_definition, start_task};
use moto_harness::runtime_api::{Answer, Deadline, LambdaFunction, Running, RuntimeApi};
use moto_harness::scale_in::termination_request;
use serde_json::{Value, json};

const CLUSTER: &str = "prod";
/// What Auto Scaling waits for a custom termination policy.
const AUTO_SCALING_WAITS: Duration = Duration::from_millis(2000);

const FUNCTION: LambdaFunction = LambdaFunction {
    binary: env!("CARGO_BIN_EXE_scale-in-chooser"),
    name: "scale-in-chooser",
    version: "7",
};

/// A Runtime API that hands out `event` with Auto Scaling's 2 s to answer.
fn runtime_api(event: Value) -> RuntimeApi {
    FUNCTION.serve_one(event, Deadline::After(AUTO_SCALING_WAITS))
}

/// Starts the binary as Lambda would, against `api` and the AWS `endpoint`.
fn start_function(api: &RuntimeApi, endpoint: &str, env: &[(&str, &str)]) -> Running {
    let mut env = env.to_vec();
    env.insert(0, ("ECS_CLUSTER", CLUSTER));
    FUNCTION.start(api, endpoint, &env)
}

fn wait_for(api: &RuntimeApi) -> Answer {
    api.wait_for(Duration::from_secs(30))
}

/// Three EC2-backed container instances (one task, empty, deregistered), in that order.
async fn cluster(moto: &MotoServer) -> Vec<String> {
    let ecs = moto.ecs_cluster(CLUSTER).await;
    let hosts = moto.add_container_instances(CLUSTER, 3, &json!({}));
    let web = register_task_definition(&ecs, "web", container("web", None, 256).build()).await;
    start_task(&ecs, CLUSTER, &web, &hosts[0].0).await;
    deregister(&ecs, CLUSTER, &hosts[2].0).await;
    hosts.into_iter().map(|(_, ec2)| ec2).collect()
}

#[tokio::test]
async fn the_binary_picks_the_unregistered_and_the_empty_instances() {
    let moto = MotoServer::start();
    let ids = cluster(&moto).await;
    let api = runtime_api(termination_request(&ids, 2));
    let _function = start_function(&api, moto.endpoint(), &[]);
    let answer = wait_for(&api);
    assert_eq!(answer.kind, "response", "{}", answer.body);
    assert_eq!(answer.body, json!({"InstanceIDs": [ids[2], ids[1]]}));
    assert!(answer.after < AUTO_SCALING_WAITS, "{:?}", answer.after);
}

#[tokio::test]
async fn with_ecs_failing_the_binary_answers_the_groups_own_suggestions_in_time() {
    let moto = MotoServer::start();
    let ids = cluster(&moto).await;
    // Every ECS call from now on fails (seed 3: HTTP 500, throttling, dropped connections).
    moto.post("/_harness/fault-rate", &json!({"rate": 1.0, "seed": 3}));
    let api = runtime_api(termination_request(&ids, 2));
    let _function = start_function(&api, moto.endpoint(), &[("ECS_READ_BUDGET_MS", "800")]);
    let answer = wait_for(&api);
    assert_eq!(answer.kind, "response", "{}", answer.body);
    assert_eq!(answer.body, json!({"InstanceIDs": [ids[0], ids[1]]}));
    assert!(answer.after < AUTO_SCALING_WAITS, "{:?}", answer.after);
    let stats = moto.get("/_harness/stats");
    assert!(
        stats["calls_by_operation"]["ListContainerInstances"].as_u64() > Some(0),
        "the function did try ECS: {stats}"
    );
}

#[tokio::test]
async fn with_ecs_hung_the_budget_cuts_the_read_and_the_binary_answers_in_time() {
    // An endpoint that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = silent.incoming().flatten().collect();
        drop(held);
    });
    let ids: Vec<String> = (1..=4).map(|n| format!("i-0000000000000000{n}")).collect();
    let api = runtime_api(termination_request(&ids, 3));
    let _function = start_function(&api, &endpoint, &[("ECS_READ_BUDGET_MS", "500")]);
    let answer = wait_for(&api);
    assert_eq!(answer.kind, "response", "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"InstanceIDs": [ids[0], ids[1], ids[2]]})
    );
    assert!(
        answer.after >= Duration::from_millis(500),
        "{:?}",
        answer.after
    );
    assert!(answer.after < AUTO_SCALING_WAITS, "{:?}", answer.after);
}

#[tokio::test]
async fn the_binary_reports_a_payload_that_is_not_auto_scalings_as_invalid() {
    let api = runtime_api(json!({"hello": "world"}));
    let _function = start_function(&api, "http://127.0.0.1:9", &[]);
    let answer = wait_for(&api);
    assert_eq!(answer.kind, "error");
    assert_eq!(answer.body["errorType"], "Permanent.InvalidEvent");
    let message = answer.body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("custom termination policy"), "{message}");
}

#[test]
fn the_binary_refuses_to_start_with_an_invalid_setting_and_names_it() {
    let (success, text) =
        FUNCTION.run_to_exit(&[("ECS_CLUSTER", CLUSTER), ("ECS_READ_BUDGET_MS", "2000")]);
    assert!(!success);
    assert!(
        text.contains("ECS_READ_BUDGET_MS=\"2000\" is invalid: expected a whole number of milliseconds from 100 to 1800"),
        "{text}"
    );
}
