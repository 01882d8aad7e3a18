//! `report --cluster` through the real SDK over HTTP, against the moto emulator (started per
//! test by `moto-harness`). The binary gets the emulator the standard way, through
//! `AWS_ENDPOINT_URL`, exactly as a user points it at any endpoint.
//!
//! moto's gaps shape the set-up: container instances are created through the harness API
//! (moto's RegisterContainerInstance needs a running EC2 instance and ignores
//! `totalResources`), and moto deducts a container's hard `memory` limit when it places a task.

use std::process::{Command, Output};

use moto_harness::ecs::{container, register_task_definition, run_tasks};
use moto_harness::{MotoServer, REGION};
use serde_json::Value;

const CLUSTER: &str = "report-cluster";

fn report(moto: &MotoServer, extra: &[&str]) -> Output {
    ecs_capacity(
        moto,
        &["report", "--cluster", CLUSTER, "--format", "json"],
        extra,
    )
}

/// The binary with `args` then `extra`, pointed at the emulator the standard way.
fn ecs_capacity(moto: &MotoServer, args: &[&str], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-capacity"))
        .args(args)
        .args(extra)
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the binary runs")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

async fn cluster_with_hosts(count: usize) -> (MotoServer, aws_sdk_ecs::Client) {
    let moto = MotoServer::start();
    let ecs = moto.ecs_cluster(CLUSTER).await;
    moto.add_hosts(CLUSTER, count, 2048, 4096);
    (moto, ecs)
}

#[tokio::test]
async fn a_live_cluster_with_the_task_shape_given_by_flags() {
    let (moto, _ecs) = cluster_with_hosts(2).await;
    let json = json_of(&report(
        &moto,
        &["--task-cpu", "512", "--task-memory", "1024"],
    ));
    assert_eq!(json["cluster"], CLUSTER);
    assert_eq!(json["instances"].as_array().map(Vec::len), Some(2));
    // 2 hosts × min(2048/512, 4096/1024) = 8; H = 4.
    assert_eq!(json["container_capacity"], 8);
    assert_eq!(json["largest_host_slots"], 4);
    assert_eq!(json["idle_host_capacity"], 2.0);
    assert_eq!(json["decision"]["action"], "scale_in");
}

#[tokio::test]
async fn a_live_cluster_discovers_the_worst_case_from_its_running_tasks() {
    let (moto, ecs) = cluster_with_hosts(2).await;
    let arn =
        register_task_definition(&ecs, "api", container("app", Some(1024), 2048).build()).await;
    run_tasks(&ecs, CLUSTER, &arn, 1).await;

    let json = json_of(&report(&moto, &[]));
    assert_eq!(json["worst_case"]["cpu"], 1024);
    assert_eq!(json["worst_case"]["memory_mib"], 2048);
    assert_eq!(
        json["task_shapes"][0]["name"], "api:1",
        "the ARN is shortened"
    );
    // One host has one slot left, the other two: 3, H = 2 → 1.5.
    assert_eq!(json["container_capacity"], 3);
    assert_eq!(json["idle_host_capacity"], 1.5);
}

#[test]
fn an_unreachable_endpoint_is_an_error_that_names_the_call_and_the_cluster() {
    // Port 1 on the loopback: nothing listens there. No number is printed for a failed read.
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-capacity"))
        .args([
            "report",
            "--cluster",
            CLUSTER,
            "--task-cpu",
            "512",
            "--task-memory",
            "1024",
        ])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot read the cluster: "),
        "{stderr}"
    );
    assert!(stderr.contains(CLUSTER), "{stderr}");
}

/// A group launching c5.xlarge first, then m5.xlarge, whose three c5.xlarge hosts each run one
/// memory-heavy service task (1 vCPU / 6 GiB): each c5.xlarge holds one, an m5.xlarge two.
async fn memory_heavy_on_c5() -> MotoServer {
    use moto_harness::autoscaling::{launch_template, mixed_instances_group, template};
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = moto.ecs_cluster(CLUSTER).await;
    launch_template(&sdk, "hosts", "c5.xlarge").await;
    mixed_instances_group(
        &sdk,
        "report-hosts",
        template(None, Some("hosts"), "$Default"),
        &[("c5.xlarge", None), ("m5.xlarge", None)],
        None,
    )
    .await;
    let hosts = moto.add_hosts(CLUSTER, 3, 4096, 7418);
    let arn =
        register_task_definition(&ecs, "cache", container("app", Some(1024), 6144).build()).await;
    moto.service(&ecs, CLUSTER, "cache", &arn, 3, false).await;
    for (host, _) in &hosts {
        moto_harness::ecs::start_service_task(&ecs, CLUSTER, &arn, host, "cache").await;
    }
    moto
}

#[tokio::test]
async fn the_report_recommends_the_type_that_holds_todays_tasks_on_fewest_vcpus() {
    let moto = memory_heavy_on_c5().await;
    let json = json_of(&report(&moto, &["--auto-scaling-group", "report-hosts"]));
    let fit = &json["fit"];
    assert_eq!(
        fit["recommendation"]["order"],
        serde_json::json!(["m5.xlarge", "c5.xlarge"])
    );
    let advice = fit["advice"].as_str().unwrap_or_default();
    assert!(
        advice.starts_with(
            "launch m5.xlarge first: 33 % fewer vCPUs for today's tasks than c5.xlarge"
        ),
        "{advice}"
    );
    // New hosts are sized on the type the group launches today, as the calculator does.
    assert_eq!(json["new_host_type"], "c5.xlarge");
    // The text says the same, with the table.
    let out = report_text(&moto, &["--auto-scaling-group", "report-hosts"]);
    assert!(out.contains("Today's tasks on each instance type"), "{out}");
    assert!(out.contains(advice), "{out}");
}

#[tokio::test]
async fn types_the_group_does_not_have_and_their_prices_are_compared_too() {
    let moto = memory_heavy_on_c5().await;
    // r5.large: 2 vCPU / 16 GiB holds two cache tasks on 2 vCPUs: fewest vCPUs of the three.
    let json = json_of(&report(
        &moto,
        &[
            "--auto-scaling-group",
            "report-hosts",
            "--instance-types",
            "r5.large",
        ],
    ));
    assert_eq!(json["fit"]["recommendation"]["order"][0], "r5.large");
    // Priced so that two m5.xlarge cost less than two r5.large: by cost, m5.xlarge first.
    let json = json_of(&report(
        &moto,
        &[
            "--auto-scaling-group",
            "report-hosts",
            "--instance-types",
            "r5.large",
            "--prices",
            "c5.xlarge=0.17,m5.xlarge=0.10,r5.large=0.126",
        ],
    ));
    assert_eq!(json["fit"]["recommendation"]["by_cost"], true);
    assert_eq!(json["fit"]["recommendation"]["order"][0], "m5.xlarge");
    // A type without a price is a clear error, and nothing is printed.
    let out = report(
        &moto,
        &[
            "--auto-scaling-group",
            "report-hosts",
            "--prices",
            "c5.xlarge=0.17",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no price for m5.xlarge"), "{stderr}");
    // An unknown type names itself.
    let out = report(&moto, &["--instance-types", "m5.larg"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("m5.larg"), "{stderr}");
}

fn report_text(moto: &MotoServer, extra: &[&str]) -> String {
    let out = ecs_capacity(moto, &["report", "--cluster", CLUSTER], extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
