//! Test-only harness: starts the moto AWS emulator (`tests/moto_server.py`) on a free
//! loopback port and talks to its set-up API.
//!
//! Every test that needs AWS starts its own [`MotoServer`]: the emulator's state is then the
//! test's own, and the process ends with the test (on drop, or when this process dies: the
//! server exits when its standard input closes).
//!
//! The Python interpreter is `$MOTO_PYTHON`, else the project's `.venv/bin/python`, which
//! `make test` creates with moto installed.
//!
//! What the functions' tests share beside it, instead of each test file keeping a copy:
//! [`ecs`] (a cluster, hosts, task definitions, tasks), [`runtime_api`] (a built binary run
//! as Lambda runs it), [`lifecycle`] (the drainer's notifications and the lifecycle-action
//! shim), [`scale_in`] (Auto Scaling's termination-policy request) and [`clock`] (a test
//! clock).

pub mod autoscaling;
pub mod clock;
pub mod ecs;
pub mod lifecycle;
pub mod logs;
pub mod runtime_api;
pub mod scale_in;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A running emulator; stopped on drop.
pub struct MotoServer {
    endpoint: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

/// The region every test uses.
pub const REGION: &str = "us-east-1";

impl MotoServer {
    /// Starts the emulator with no fault injection. Panics with a message that says how to
    /// fix the set-up when Python or moto is missing.
    pub fn start() -> MotoServer {
        MotoServer::start_with(&[])
    }

    /// Starts the emulator with extra arguments (e.g. `["--fault-rate", "0.2", "--seed", "7"]`).
    pub fn start_with(args: &[&str]) -> MotoServer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = std::env::var_os("MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        let script = root.join("tests/moto_server.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the moto emulator with {}: {e}; run `make test` (it installs moto into .venv) or set MOTO_PYTHON",
                    python.display()
                )
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(endpoint) = line.trim().strip_prefix("READY ") else {
            let _ = child.kill();
            panic!(
                "the moto emulator did not start (printed {line:?}); is moto installed in {}? run `make test`",
                python.display()
            );
        };
        MotoServer {
            endpoint: endpoint.to_owned(),
            stdin: child.stdin.take(),
            child,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration that sends every client to the emulator, with test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            // As in production: a dropped connection (an injected fault) fails the attempt
            // instead of hanging the test.
            .timeout_config(capacity_aws::sdk_timeouts())
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "moto-harness",
            ))
            .load()
            .await
    }

    /// POSTs JSON to the harness API (`/_harness/...`); panics on an error answer.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        self.request("POST", path, Some(body))
    }

    /// GETs from the harness API (`/_harness/...`); panics on an error answer.
    pub fn get(&self, path: &str) -> Value {
        self.request("GET", path, None)
    }

    /// Creates `count` container instances in `cluster` (which must exist), backed by
    /// running EC2 instances, with the given resources, e.g.
    /// `json!({"registered": {"CPU": 1024, "MEMORY": 993}, "remaining": {...}})`.
    /// Returns `(container_instance_arn, ec2_instance_id)` pairs.
    pub fn add_container_instances(
        &self,
        cluster: &str,
        count: usize,
        resources: &Value,
    ) -> Vec<(String, String)> {
        let mut body = resources.clone();
        body["cluster"] = cluster.into();
        body["count"] = count.into();
        let answer = self.post("/_harness/container-instances", &body);
        answer["instances"]
            .as_array()
            .expect("instances in the harness answer")
            .iter()
            .map(|i| {
                (
                    i["container_instance_arn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    i["ec2_instance_id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Metrics stored in the emulator's CloudWatch for `namespace`.
    pub fn metrics(&self, namespace: &str) -> Vec<Value> {
        let answer = self.get(&format!("/_harness/metrics?namespace={namespace}"));
        answer["metrics"].as_array().cloned().unwrap_or_default()
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let host = self
            .endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(host).expect("connect to the emulator");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        )
        .expect("write to the emulator");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read from the emulator");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let value: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("harness {method} {path}: {e}: {response}"));
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "harness {method} {path} failed: {value}"
        );
        value
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The published samples of what AWS sends and prints whose file names start with `prefix`
/// (`../shared/fixtures/real/` beside the project, provenance in its SOURCES.md), sorted.
/// `None` where `../shared` is not beside the project — but under CI (`CI` set to anything but
/// `false`), where it always is, its absence fails the test instead of skipping it silently.
pub fn real_samples(prefix: &str) -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "{} is missing: CI lays ../shared beside the project, so the real samples must be read",
            dir.display()
        );
        eprintln!("{} not found: skipped", dir.display());
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    Some(files)
}
