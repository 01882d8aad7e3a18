//! `ecs-capacity simulate` from the command line: summary, --compare, chart, JSON, errors.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-capacity"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_default_scenario_is_the_book_with_its_timeline_and_summary() {
    let out = run(&["simulate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Scenario book-chapter-12:"), "{stdout}");
    assert!(stdout.contains("Timeline (book ±1):"));
    assert!(stdout.contains("00:06:00  scale out (simple policy +1): desired capacity 1 -> 2"));
    assert!(stdout.contains("lifecycle hook, set DRAINING"));
    assert!(
        stdout.contains("scale actions (out/in)           2 (1/1)"),
        "{stdout}"
    );
    // Progress goes to a terminal only: none in a pipe.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn compare_prints_one_column_per_policy_and_writes_a_chart() {
    let dir = std::env::temp_dir().join(format!("ecs-capacity-test-{}", std::process::id()));
    let chart = dir.join("nested/book.svg");
    let chart_arg = chart.to_string_lossy().into_owned();
    let out = run(&["simulate", "book", "--compare", "--chart", &chart_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Summary:"))
        .nth(1)
        .unwrap_or_default();
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        ["book ±1", "capacity-provider", "hosts-to-add"],
        "{stdout}"
    );
    for row in [
        "p95 placement wait",
        "tasks moved by scale-in",
        "vCPU-hours",
    ] {
        assert!(stdout.contains(row), "summary lacks {row}: {stdout}");
    }
    assert!(
        !stdout.contains("Timeline"),
        "compare hides timelines unless asked"
    );
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.starts_with("<svg"));
    for caption in [
        "ContainerCapacity",
        "IdleHostCapacity",
        "Tasks pending",
        "hosts-to-add",
    ] {
        assert!(svg.contains(caption), "chart lacks {caption}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_output_carries_the_summary_figures() {
    let out = run(&[
        "simulate",
        "book",
        "--format",
        "json",
        "--policy",
        "hosts-to-add",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let run = &json[0];
    assert_eq!(run["policy"], "hosts-to-add");
    assert_eq!(run["scale_outs"], 1);
    assert_eq!(run["scale_ins"], 1);
    assert_eq!(run["max_hosts"], 2);
    assert_eq!(run["task_minutes_pending"], 0.0);
}

#[test]
fn print_scenario_prints_the_embedded_source() {
    let out = run(&["simulate", "diurnal", "--print-scenario"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), ecs_capacity::scenario::DIURNAL);
}

#[test]
fn a_bad_scenario_file_fails_with_its_line_and_field() {
    let path = std::env::temp_dir().join(format!("bad-scenario-{}.yaml", std::process::id()));
    let bad = ecs_capacity::scenario::BOOK.replace("  max: 4", "  max: 0");
    std::fs::write(&path, bad).expect("scenario written");
    let out = run(&["simulate", &path.to_string_lossy()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(":14: asg.max: must be between 1 and 1000"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_scenario_names_the_embedded_ones() {
    let out = run(&["simulate", "weekly"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("embedded scenarios: book, diurnal, batch, deploy"));
}

#[test]
fn sweep_prints_the_frontier_as_json_and_draws_it() {
    let dir = std::env::temp_dir().join(format!("ecs-capacity-sweep-{}", std::process::id()));
    let chart = dir.join("frontier.svg");
    let out = run(&[
        "simulate",
        "batch",
        "--sweep",
        "--format",
        "json",
        "--chart",
        chart.to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(11));
    assert!(json["ideal_vcpu_hours"].as_f64().is_some_and(|v| v > 0.0));
    assert!(json["runs"][1]["summary"]["p95_placement_wait_seconds"].is_u64());
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.contains("vCPU-hours"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_reaction_delay_names_the_flag_and_the_step() {
    let out = run(&["simulate", "batch", "--reaction-delay", "15s"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--reaction-delay 15s") && err.contains("10s"),
        "{err}"
    );
    let out = run(&["simulate", "batch", "--reaction-delay", "soon"]);
    assert!(text(&out.stderr).contains("not a duration"));
}

#[test]
fn compare_with_consolidation_adds_the_templates_other_modes_and_names_them() {
    let out = run(&[
        "simulate",
        "fragmented",
        "--compare",
        "--with-consolidation",
        "--no-timeline",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Summary:"))
        .nth(1)
        .unwrap_or_default();
    for label in [
        "book ±1",
        "capacity-provider",
        "hosts-to-add",
        "capacity-provider+consolidation",
        "hosts-to-add −1",
    ] {
        assert!(header.contains(label), "{header}");
    }
    for row in [
        "ideal vCPU-hours",
        "hosts draining at peak",
        "tasks moved by consolidation",
        "hosts set back to ACTIVE",
        "steps over the 10 % budget",
    ] {
        assert!(stdout.contains(row), "{row}: {stdout}");
    }
    assert!(
        stdout.contains(
            "hosts-to-add −1: not as deployed: ScaleInAdjustment MinusOne (template HostsToRemove)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "capacity-provider+consolidation: not as deployed: ScalingMode capacity-provider"
        ),
        "{stdout}"
    );
    // Without the flag, the table is the three default policies.
    let plain = text(&run(&["simulate", "book", "--compare", "--no-timeline"]).stdout);
    assert!(
        !plain.contains("capacity-provider+consolidation"),
        "{plain}"
    );
    assert!(!plain.contains("hosts-to-add −1"), "{plain}");
}

#[test]
fn with_consolidation_needs_compare_and_a_consolidation_policy_runs_alone() {
    let out = run(&["simulate", "book", "--with-consolidation"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--compare"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[
        "simulate",
        "book",
        "--policy",
        "capacity-provider+consolidation",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Timeline (capacity-provider+consolidation):"));
}
