//! The built `scale-in-chooser` binary, as Lambda runs it: this test plays the Lambda
//! Runtime API (a few lines of HTTP on a loopback port) and moto plays ECS, so `main` —
//! configuration from the environment, the SDK client and its timeouts, the answer posted
//! back, the error type — runs exactly as in Lambda. Auto Scaling waits 2 s for the answer:
//! every test checks it came sooner.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use moto_harness::MotoServer;
use serde_json::{Value, json};

const CLUSTER: &str = "prod";
/// What Auto Scaling waits for a custom termination policy.
const AUTO_SCALING_WAITS: Duration = Duration::from_millis(2000);

/// What the function answered: `response` or `error`, the body, and how long after the
/// event was handed over.
struct Answer {
    kind: String,
    body: Value,
    after: Duration,
}

/// A Runtime API that hands out one event, then holds every later `next` request open.
fn runtime_api(event: Value) -> (String, mpsc::Receiver<Answer>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API");
    let address = listener.local_addr().expect("address").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut served = false;
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            let event = (!served).then(|| event.clone());
            served = true;
            std::thread::spawn(move || serve(stream, event, &tx));
        }
    });
    (address, rx)
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, mut invocation: Option<Value>, answers: &mpsc::Sender<Answer>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut writer = stream;
    let mut handed_over = Instant::now();
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
        let path = request_line.split_whitespace().nth(1).unwrap_or_default();
        if path.ends_with("/invocation/next") {
            let Some(event) = invocation.take() else {
                std::thread::sleep(Duration::from_secs(600));
                return;
            };
            let payload = event.to_string();
            let deadline_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 2_000)
                .unwrap_or(0);
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: {deadline_ms}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:scale-in-chooser:7\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            );
            handed_over = Instant::now();
        } else {
            let kind = if path.ends_with("/error") {
                "error"
            } else {
                "response"
            };
            let _ = answers.send(Answer {
                kind: kind.to_owned(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                after: handed_over.elapsed(),
            });
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

/// Starts the binary as Lambda would, against `runtime_api` and the AWS `endpoint`.
fn start_function(runtime_api: &str, endpoint: &str, env: &[(&str, &str)]) -> Function {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scale-in-chooser"));
    command
        .env_clear()
        .env("AWS_LAMBDA_FUNCTION_NAME", "scale-in-chooser")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "7")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_REGION", moto_harness::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("ECS_CLUSTER", CLUSTER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    Function(command.spawn().expect("start the scale-in-chooser binary"))
}

fn wait_for(answers: &mpsc::Receiver<Answer>) -> Answer {
    answers
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the function did not answer within 30 s"))
}

fn payload(ids: &[String], capacity: u32) -> Value {
    let instances: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"AvailabilityZone": "us-east-1a", "InstanceId": id, "InstanceType": "m5.large", "InstanceMarketOption": "on-demand"})
        })
        .collect();
    json!({
        "AutoScalingGroupARN": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:5f3d1c2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f:autoScalingGroupName/prod-hosts",
        "AutoScalingGroupName": "prod-hosts",
        "CapacityToTerminate": [{"AvailabilityZone": "us-east-1a", "Capacity": capacity, "InstanceMarketOption": "on-demand"}],
        "Instances": instances,
        "Cause": "SCALE_IN",
        "HasMoreInstances": false
    })
}

/// Three EC2-backed container instances (one task, empty, deregistered), in that order.
async fn cluster(moto: &MotoServer) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .expect("cluster");
    let hosts = moto.add_container_instances(CLUSTER, 3, &json!({}));
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
        .container_instances(&hosts[0].0)
        .send()
        .await
        .expect("start task");
    ecs.deregister_container_instance()
        .cluster(CLUSTER)
        .container_instance(&hosts[2].0)
        .force(true)
        .send()
        .await
        .expect("deregister");
    hosts.into_iter().map(|(_, ec2)| ec2).collect()
}

#[tokio::test]
async fn the_binary_picks_the_unregistered_and_the_empty_instances() {
    let moto = MotoServer::start();
    let ids = cluster(&moto).await;
    let (api, answers) = runtime_api(payload(&ids, 2));
    let _function = start_function(&api, moto.endpoint(), &[]);
    let answer = wait_for(&answers);
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
    let (api, answers) = runtime_api(payload(&ids, 2));
    let _function = start_function(&api, moto.endpoint(), &[("ECS_READ_BUDGET_MS", "800")]);
    let answer = wait_for(&answers);
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
    let (api, answers) = runtime_api(payload(&ids, 3));
    let _function = start_function(&api, &endpoint, &[("ECS_READ_BUDGET_MS", "500")]);
    let answer = wait_for(&answers);
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
    let (api, answers) = runtime_api(json!({"hello": "world"}));
    let _function = start_function(&api, "http://127.0.0.1:9", &[]);
    let answer = wait_for(&answers);
    assert_eq!(answer.kind, "error");
    assert_eq!(answer.body["errorType"], "Permanent.InvalidEvent");
    let message = answer.body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("custom termination policy"), "{message}");
}

#[test]
fn the_binary_refuses_to_start_with_an_invalid_setting_and_names_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_scale-in-chooser"))
        .env_clear()
        .env("AWS_LAMBDA_FUNCTION_NAME", "scale-in-chooser")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "7")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("ECS_CLUSTER", CLUSTER)
        .env("ECS_READ_BUDGET_MS", "2000")
        .output()
        .expect("run the binary");
    assert!(!output.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("ECS_READ_BUDGET_MS=\"2000\" is invalid: expected a whole number of milliseconds from 100 to 1800"),
        "{text}"
    );
}
