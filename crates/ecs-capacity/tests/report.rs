//! `ecs-capacity report` on real `aws ecs` JSON dumps: golden outputs and errors that name
//! the file and the field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs the binary in the fixtures directory, so that file names in the output are short.
fn run(args: &[&str]) -> Output {
    run_with_stdin(args, None)
}

fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-capacity"))
        .args(args)
        .current_dir(fixtures())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(input).expect("stdin accepts the dump");
    }
    child.wait_with_output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Compares with `tests/golden/NAME`; `UPDATE_GOLDEN=1` rewrites it instead.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        actual,
        expected,
        "output differs from {} (run with UPDATE_GOLDEN=1 to accept)",
        path.display()
    );
}

const PROD: [&str; 7] = [
    "report",
    "--instances",
    "prod-page1.json",
    "prod-page2.json",
    "--task-definitions",
    "web-taskdef.json",
    "worker-taskdef.json",
];

#[test]
fn mixed_cluster_report_matches_golden_text() {
    let out = run(&PROD);
    assert!(out.status.success(), "{}", stderr(&out));
    golden("report-prod.txt", &stdout(&out));
}

#[test]
fn mixed_cluster_report_matches_golden_json() {
    let mut args = PROD.to_vec();
    args.extend(["--format", "json"]);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    golden("report-prod.json", &stdout(&out));
}

#[test]
fn mixed_cluster_figures_are_the_per_instance_minimum() {
    let mut args = PROD.to_vec();
    args.extend(["--format", "json"]);
    let out = run(&args);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    // Worst case: worker's 1024 CPU / 2048 MiB and web's static port 80.
    assert_eq!(json["worst_case"]["cpu"], 1024);
    assert_eq!(json["worst_case"]["memory_mib"], 2048);
    assert_eq!(json["worst_case"]["ports_tcp"], serde_json::json!([80]));
    // Port 80 taken on the first m5.large: 0; DRAINING and disconnected ones: excluded.
    let slots: Vec<u64> = json["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["slots"].as_u64().expect("slots"))
        .collect();
    assert_eq!(slots, [0, 1, 0, 0, 1]);
    assert_eq!(json["instances"][0]["binding"], "PORTS");
    assert_eq!(json["instances"][2]["binding"], "excluded: status DRAINING");
    assert_eq!(
        json["instances"][3]["binding"],
        "excluded: agent disconnected"
    );
    assert_eq!(json["container_capacity"], 2);
    assert_eq!(json["idle_host_capacity"], 2.0);
    assert_eq!(json["decision"]["action"], "scale_in");
}

#[test]
fn describe_failures_are_reported_as_warnings() {
    let out = run(&PROD);
    assert!(
        stderr(&out).contains("warning: ECS could not describe prod-page2.json: arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/5e6f7a8b9c0d4e1f2a3b4c5d6e7f8091: MISSING"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn book_example_one_with_the_task_shape_by_flags_matches_golden() {
    let out = run(&[
        "report",
        "--instances",
        "book-one-task.json",
        "--task-cpu",
        "250",
        "--task-memory",
        "400",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    golden("report-book.txt", &stdout(&out));
}

#[test]
fn instances_are_read_from_stdin() {
    let dump = std::fs::read(fixtures().join("book-one-task.json")).expect("fixture");
    let out = run_with_stdin(
        &[
            "report",
            "--instances",
            "-",
            "--task-cpu",
            "250",
            "--task-memory",
            "400",
            "--format",
            "json",
        ],
        Some(&dump),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json["cluster"], "offline, from <stdin>");
    assert_eq!(json["container_capacity"], 1);
    assert_eq!(json["idle_host_capacity"], 0.5);
    assert_eq!(json["instances"][0]["binding"], "MEMORY");
    assert_eq!(json["decision"]["action"], "hold");
}

#[test]
fn a_static_port_taken_everywhere_asks_for_a_host() {
    let out = run(&[
        "report",
        "--instances",
        "prod-page1.json",
        "--task-cpu",
        "512",
        "--task-memory",
        "1024",
        "--port",
        "80",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    // Port 80 is taken on the m5.large and the m5.xlarge is DRAINING: only the other
    // m5.xlarge has room, for one task (a static port admits one task per host).
    assert_eq!(json["container_capacity"], 1);
    assert_eq!(json["decision"]["action"], "hold");
    // A headroom of 3 needs two more hosts of one slot each.
    let out = run(&[
        "report",
        "--instances",
        "prod-page1.json",
        "--task-cpu",
        "512",
        "--task-memory",
        "1024",
        "--port",
        "80",
        "--headroom",
        "3",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json["hosts_to_add"], 2);
    assert_eq!(
        json["decision"],
        serde_json::json!({"action": "scale_out", "hosts": 2})
    );
}

fn fails_with(args: &[&str], expected: &[&str]) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for e in expected {
        assert!(err.contains(e), "stderr lacks {e:?}: {err}");
    }
}

#[test]
fn a_missing_integer_value_names_the_file_and_the_field() {
    fails_with(
        &[
            "report",
            "--instances",
            "bad-missing-integer.json",
            "--task-cpu",
            "1",
        ],
        &[
            "bad-missing-integer.json",
            "containerInstances[0].remainingResources[1].integerValue",
            "MEMORY",
        ],
    );
}

#[test]
fn a_field_of_the_wrong_type_names_the_file_the_path_and_the_line() {
    fails_with(
        &[
            "report",
            "--instances",
            "bad-agent-connected.json",
            "--task-cpu",
            "1",
        ],
        &[
            "bad-agent-connected.json",
            "containerInstances[0].agentConnected",
            "expected a boolean",
            "line 89",
        ],
    );
}

#[test]
fn remaining_above_registered_names_the_file_and_the_instance() {
    fails_with(
        &[
            "report",
            "--instances",
            "bad-remaining-above-registered.json",
            "--task-cpu",
            "1",
        ],
        &[
            "bad-remaining-above-registered.json",
            "7c1d3a1e9b2f4c58a0e6d4b3f2a1c0d9",
            "remaining CPU (2048) exceeds registered (1024)",
        ],
    );
}

#[test]
fn bad_task_definitions_name_the_file_and_the_field() {
    fails_with(
        &[
            "report",
            "--instances",
            "book-one-task.json",
            "--task-definitions",
            "bad-network-mode.json",
        ],
        &[
            "bad-network-mode.json",
            "taskDefinition.networkMode",
            "overlay",
        ],
    );
    fails_with(
        &[
            "report",
            "--instances",
            "book-one-task.json",
            "--task-definitions",
            "bad-container-without-memory.json",
        ],
        &[
            "bad-container-without-memory.json",
            "container app has neither memory nor memoryReservation",
        ],
    );
}

#[test]
fn a_dump_of_the_wrong_command_is_rejected_at_the_top_level() {
    fails_with(
        &[
            "report",
            "--instances",
            "web-taskdef.json",
            "--task-cpu",
            "1",
        ],
        &["web-taskdef.json", "missing field `containerInstances`"],
    );
}

#[test]
fn a_missing_file_and_a_missing_task_shape_are_clear() {
    fails_with(
        &["report", "--instances", "nope.json", "--task-cpu", "1"],
        &["cannot read nope.json"],
    );
    fails_with(
        &["report", "--instances", "book-one-task.json"],
        &["no task shape", "--task-definitions", "--task-cpu"],
    );
}

#[test]
fn cluster_and_instances_exclude_each_other() {
    let out = run(&[
        "report",
        "--cluster",
        "prod",
        "--instances",
        "book-one-task.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn free_gpus_bind_on_a_gpu_instance() {
    let out = run(&[
        "report",
        "--instances",
        "gpu-instance.json",
        "--task-cpu",
        "4096",
        "--task-memory",
        "16384",
        "--gpus",
        "2",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    // One of four GPUs is free: CPU would allow 6, memory 11, GPUs 0.
    assert_eq!(json["instances"][0]["remaining_gpus"], 1);
    assert_eq!(json["instances"][0]["binding"], "GPU");
    assert_eq!(json["instances"][0]["slots_when_empty"], 2);
    assert_eq!(json["container_capacity"], 0);
    assert_eq!(
        json["decision"],
        serde_json::json!({"action": "scale_out", "hosts": 1})
    );
}
