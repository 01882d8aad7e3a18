//! The functions' built binaries as Lambda runs them: [`LambdaFunction::serve_one`] plays the
//! Lambda Runtime API (a few lines of HTTP on a loopback port) and hands out one event, and
//! [`LambdaFunction::start`] starts the binary against it with Lambda's environment, so
//! `main` — configuration from the environment, the SDK clients and their timeouts, the
//! deadline, the answer or the error type posted back — runs exactly as in Lambda.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::REGION;

/// A function binary and the name and version Lambda gives it.
#[derive(Debug, Clone, Copy)]
pub struct LambdaFunction {
    /// The built binary (`env!("CARGO_BIN_EXE_…")`).
    pub binary: &'static str,
    pub name: &'static str,
    /// `AWS_LAMBDA_FUNCTION_VERSION`: a number, or `$LATEST`.
    pub version: &'static str,
}

/// The invocation's deadline, as the Runtime API hands it over (`Lambda-Runtime-Deadline-Ms`).
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// At these Unix epoch milliseconds.
    AtMs(u64),
    /// This long after the event is handed over.
    After(Duration),
}

/// What the function posted back: `kind` is `response` or `error`; `after` is the time since
/// the event was handed over.
#[derive(Debug, Clone)]
pub struct Answer {
    pub kind: String,
    pub body: Value,
    pub after: Duration,
}

/// A Runtime API serving one event; later `next` requests are held open.
pub struct RuntimeApi {
    address: String,
    answers: mpsc::Receiver<Answer>,
}

impl RuntimeApi {
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The function's answer; panics when none comes `within`.
    pub fn wait_for(&self, within: Duration) -> Answer {
        self.answers
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("the function did not answer within {within:?}"))
    }
}

/// A started function process, killed on drop.
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl LambdaFunction {
    /// The ARN Lambda invokes it by (with its version unless `$LATEST`).
    pub fn arn(&self) -> String {
        let arn = format!(
            "arn:aws:lambda:{REGION}:123456789012:function:{}",
            self.name
        );
        if self.version == "$LATEST" {
            arn
        } else {
            format!("{arn}:{}", self.version)
        }
    }

    /// A Runtime API on a loopback port that hands out `event` once, with `deadline`.
    pub fn serve_one(&self, event: Value, deadline: Deadline) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API");
        let address = listener.local_addr().expect("address").to_string();
        let (tx, answers) = mpsc::channel();
        let function_arn = self.arn();
        std::thread::spawn(move || {
            let mut served = false;
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                let invocation = (!served).then(|| (event.clone(), deadline, function_arn.clone()));
                served = true;
                std::thread::spawn(move || serve(stream, invocation, &tx));
            }
        });
        RuntimeApi { address, answers }
    }

    /// Starts the binary as Lambda would, against `api` and the AWS `endpoint` (moto), with
    /// test credentials and `env` on top.
    pub fn start(&self, api: &RuntimeApi, endpoint: &str, env: &[(&str, &str)]) -> Running {
        let mut command = self.command(api.address());
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", endpoint)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Running(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("start the {} binary: {e}", self.name)),
        )
    }

    /// Runs the binary with `env` and no reachable Runtime API until it exits: whether it
    /// succeeded, and what it printed (stdout, then stderr).
    pub fn run_to_exit(&self, env: &[(&str, &str)]) -> (bool, String) {
        let output = self
            .command("127.0.0.1:9")
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("run the {} binary: {e}", self.name));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    /// The binary with Lambda's own environment only.
    fn command(&self, runtime_api: &str) -> Command {
        let mut command = Command::new(self.binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_FUNCTION_NAME", self.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", self.version)
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_REGION", REGION);
        command
    }
}

/// Serves one keep-alive connection: the event to the first `next` (if this connection has
/// it), the answer posted back to `answers`.
fn serve(
    stream: TcpStream,
    mut invocation: Option<(Value, Deadline, String)>,
    answers: &mpsc::Sender<Answer>,
) {
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
            let Some((event, deadline, function_arn)) = invocation.take() else {
                // No second event: hold the request until the test kills the process.
                std::thread::sleep(Duration::from_secs(600));
                return;
            };
            let payload = event.to_string();
            let deadline_ms = match deadline {
                Deadline::AtMs(ms) => u128::from(ms),
                Deadline::After(after) => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| (d + after).as_millis())
                    .unwrap_or(0),
            };
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: {deadline_ms}\r\nLambda-Runtime-Invoked-Function-Arn: {function_arn}\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\nContent-Length: {}\r\n\r\n{payload}",
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
