//! The built `lifecycle-drainer` binary, end to end: this test plays the Lambda Runtime API
//! (a few lines of HTTP on a loopback port) and moto plays AWS, so `main` — configuration
//! from the environment, SDK clients, `Context.deadline` in epoch milliseconds, the error
//! type reported to Lambda — runs exactly as it would in Lambda.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use moto_harness::MotoServer;
use moto_harness::lifecycle::{self, now_ms, terminating_notification};
use serde_json::{Value, json};

const CLUSTER: &str = "prod";
const GROUP: &str = "prod-hosts";
const HOOK: &str = "drain-before-terminate";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7ee35fa40";

/// What the function answered to the one invocation: (`response` or `error`, body).
type Answer = (String, Value);

/// A Runtime API that hands out one event with `deadline_ms`, then holds every later
/// `next` request open. Returns its `host:port` and where the answer arrives.
fn runtime_api(event: Value, deadline_ms: u64) -> (String, mpsc::Receiver<Answer>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API");
    let address = listener.local_addr().expect("address").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut served = false;
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            let event = event.clone();
            let first = !served;
            served = true;
            std::thread::spawn(move || serve(stream, first.then_some((event, deadline_ms)), &tx));
        }
    });
    (address, rx)
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, mut invocation: Option<(Value, u64)>, answers: &mpsc::Sender<Answer>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if path.ends_with("/invocation/next") {
            let Some((event, deadline_ms)) = invocation.take() else {
                // No second event: hold the request until the test kills the process.
                std::thread::sleep(Duration::from_secs(600));
                return;
            };
            let payload = event.to_string();
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: {deadline_ms}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:lifecycle-drainer\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            );
        } else {
            let kind = if path.ends_with("/error") {
                "error"
            } else {
                "response"
            };
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = answers.send((kind.to_owned(), body));
            let _ = write!(
                writer,
                "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{{}}"
            );
        }
        let _ = writer.flush();
    }
}

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary as Lambda would, against `runtime_api` and `endpoint` (moto).
fn start_function(runtime_api: &str, endpoint: &str, env: &[(&str, &str)]) -> Function {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifecycle-drainer"));
    command
        .env_clear()
        .env("AWS_LAMBDA_FUNCTION_NAME", "lifecycle-drainer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_REGION", moto_harness::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    Function(command.spawn().expect("start the lifecycle-drainer binary"))
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

fn wait_for(answers: &mpsc::Receiver<Answer>, seconds: u64) -> Answer {
    answers
        .recv_timeout(Duration::from_secs(seconds))
        .unwrap_or_else(|_| panic!("the function did not answer within {seconds} s"))
}

#[tokio::test]
async fn the_binary_completes_the_action_of_an_instance_outside_the_cluster() {
    let moto = MotoServer::start();
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .expect("cluster");
    let stranger = "i-0123456789abcdef0";
    open_action(&moto, stranger);
    let event = sns_event(
        "arn:aws:sns:us-east-1:123456789012:lifecycle",
        &notification(stranger),
    );
    let (api, answers) = runtime_api(event, now_ms() + 60_000);
    let _function = start_function(
        &api,
        moto.endpoint(),
        &[
            ("ECS_CLUSTER", CLUSTER),
            ("HEARTBEAT_TIMEOUT_SECONDS", "60"),
        ],
    );
    let (kind, body) = wait_for(&answers, 30);
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
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .expect("cluster");
    moto.post(
        "/_harness/state-transition",
        &json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}),
    );
    let hosts = moto.add_container_instances(CLUSTER, 1, &json!({}));
    let Some((arn, ec2)) = hosts.first().cloned() else {
        panic!("one host");
    };
    ecs.register_task_definition()
        .family("web")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("nginx:latest")
                .memory(256)
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    ecs.start_task()
        .cluster(CLUSTER)
        .task_definition("web")
        .container_instances(&arn)
        .send()
        .await
        .expect("start task");
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
    let (api, answers) = runtime_api(sns_event(&topic_arn, &notification(&ec2)), now_ms() + 8_000);
    let _function = start_function(
        &api,
        moto.endpoint(),
        &[
            ("ECS_CLUSTER", CLUSTER),
            ("POLL_INTERVAL_SECONDS", "1"),
            ("DEADLINE_MARGIN_SECONDS", "5"),
            ("HEARTBEAT_TIMEOUT_SECONDS", "60"),
        ],
    );
    let (kind, body) = wait_for(&answers, 30);
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
    let (api, answers) = runtime_api(json!({"hello": "world"}), now_ms() + 60_000);
    let _function = start_function(&api, moto.endpoint(), &[("ECS_CLUSTER", CLUSTER)]);
    let (kind, body) = wait_for(&answers, 30);
    assert_eq!(kind, "error");
    assert_eq!(body["errorType"], "Permanent.InvalidEvent");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("neither an SNS event"), "{message}");
}

#[test]
fn the_binary_refuses_to_start_with_an_invalid_setting_and_names_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle-drainer"))
        .env_clear()
        .env("AWS_LAMBDA_FUNCTION_NAME", "lifecycle-drainer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("ECS_CLUSTER", CLUSTER)
        .env("POLL_INTERVAL_SECONDS", "0")
        .output()
        .expect("run the binary");
    assert!(!output.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("POLL_INTERVAL_SECONDS=\"0\" is invalid: expected a whole number of seconds from 1 to 300"),
        "{text}"
    );
}
