//! Integration tests through the real AWS SDK against the moto emulator
//! (`tests/moto_server.py`, started per test by `moto-harness`).
//!
//! moto has no CompleteLifecycleAction / RecordLifecycleActionHeartbeat and ignores
//! ListContainerInstances' `filter`: the emulator's harness adds them (a table of active
//! lifecycle actions, opened with POST /_harness/lifecycle-actions, that answers like AWS,
//! including "No active Lifecycle Action found", and records every call; the
//! `ec2InstanceId == …` filter applied). Everything else here is moto itself: ECS clusters,
//! container instances, task definitions, tasks, UpdateContainerInstancesState, ListTasks,
//! DescribeTasks; Auto Scaling PutLifecycleHook / DescribeLifecycleHooks; SNS → SQS.

use std::time::Duration;

use capacity_aws::drain::{AwsDrain, DescribeLifecycleHook, HookTimeouts};
use lifecycle_drainer::{Config, SystemClock, handle};
use moto_harness::MotoServer;
use moto_harness::lifecycle::{now_ms, sns_event, terminating_notification};
use serde_json::{Value, json};

const CLUSTER: &str = "prod";
const GROUP: &str = "prod-hosts";
const HOOK: &str = "drain-before-terminate";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7ee35fa40";

fn config() -> Config {
    Config {
        cluster: CLUSTER.into(),
        poll_interval: Duration::from_secs(1),
        max_drain: Duration::from_secs(7200),
        deadline_result: capacity_aws::drain::LifecycleActionResult::Continue,
        heartbeat_timeout: None,
        deadline_margin: Duration::from_secs(5),
        republish_topic_arn: None,
    }
}

/// The lifecycle notification Auto Scaling publishes for `instance`, started now.
fn notification(instance: &str) -> String {
    terminating_notification(GROUP, HOOK, TOKEN, instance, now_ms())
}

/// A cluster of `hosts` container instances, each running `tasks_per_host` tasks.
/// Returns (container instance ARN, EC2 id, task ARNs) per host.
async fn cluster_with_tasks(
    moto: &MotoServer,
    ecs: &aws_sdk_ecs::Client,
    hosts: usize,
    tasks_per_host: usize,
) -> Vec<(String, String, Vec<String>)> {
    moto.cluster_with_tasks(ecs, CLUSTER, hosts, tasks_per_host)
        .await
        .into_iter()
        .map(|h| (h.container_instance_arn, h.ec2_instance_id, h.task_arns))
        .collect()
}

async fn instance_status(ecs: &aws_sdk_ecs::Client, arn: &str) -> String {
    let answer = ecs
        .describe_container_instances()
        .cluster(CLUSTER)
        .container_instances(arn)
        .send()
        .await
        .expect("describe container instances");
    answer
        .container_instances()
        .first()
        .and_then(|ci| ci.status())
        .unwrap_or_default()
        .to_owned()
}

async fn task_statuses(ecs: &aws_sdk_ecs::Client, tasks: &[String]) -> Vec<String> {
    let answer = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(tasks.to_vec()))
        .send()
        .await
        .expect("describe tasks");
    answer
        .tasks()
        .iter()
        .map(|t| t.last_status().unwrap_or_default().to_owned())
        .collect()
}

async fn put_hook(autoscaling: &aws_sdk_autoscaling::Client, heartbeat_timeout: i32) {
    autoscaling
        .put_lifecycle_hook()
        .auto_scaling_group_name(GROUP)
        .lifecycle_hook_name(HOOK)
        .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
        .heartbeat_timeout(heartbeat_timeout)
        .default_result("ABANDON")
        .send()
        .await
        .expect("put lifecycle hook");
}

fn open_action(moto: &MotoServer, instance: &str) {
    moto.open_lifecycle_action(GROUP, HOOK, instance, TOKEN);
}

#[tokio::test]
async fn drains_the_right_host_waits_for_its_tasks_and_completes_the_action_once() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    moto.freeze_tasks();
    let hosts = cluster_with_tasks(&moto, &ecs, 3, 2).await;
    put_hook(&autoscaling, 60).await;
    let Some((victim_arn, victim_ec2, victim_tasks)) = hosts.get(1).cloned() else {
        panic!("three hosts");
    };
    open_action(&moto, &victim_ec2);
    let topic = "arn:aws:sns:us-east-1:123456789012:lifecycle";
    let event = sns_event(topic, &notification(&victim_ec2), json!({}));
    let aws = AwsDrain::from_conf(&sdk);
    let config = config();

    // The function drains while "ECS" (this test) stops the victim's tasks once it sees the
    // host DRAINING, as ECS would for service tasks.
    let drain = handle(
        event.clone(),
        now_ms() + 60_000,
        &config,
        &aws,
        &SystemClock,
    );
    let ecs_side = async {
        let mut waited = 0;
        while instance_status(&ecs, &victim_arn).await != "DRAINING" {
            assert!(waited < 100, "the host was never set DRAINING");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        // Still waiting: the tasks run, so nothing was completed yet.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let completed_early = moto
            .lifecycle_calls()
            .iter()
            .any(|c| c["operation"] == "CompleteLifecycleAction");
        for task in &victim_tasks {
            ecs.stop_task()
                .cluster(CLUSTER)
                .task(task)
                .reason("drain")
                .send()
                .await
                .expect("stop task");
        }
        completed_early
    };
    let (answer, completed_early) = tokio::join!(drain, ecs_side);
    assert!(!completed_early, "completed while tasks were running");
    let answer = answer.unwrap_or_else(|e| panic!("drain failed: {e}"));
    assert_eq!(
        answer,
        json!({"records": [{"outcome": "completed", "ec2_instance_id": victim_ec2, "result": "CONTINUE", "reason": "Drained"}]})
    );

    // Only the victim is DRAINING; the others' tasks never stopped.
    for (arn, _, tasks) in &hosts {
        let expected = if *arn == victim_arn {
            "DRAINING"
        } else {
            "ACTIVE"
        };
        assert_eq!(instance_status(&ecs, arn).await, expected, "{arn}");
        let statuses = task_statuses(&ecs, tasks).await;
        let expected = if *arn == victim_arn {
            "STOPPED"
        } else {
            "RUNNING"
        };
        assert!(
            statuses.iter().all(|s| s == expected),
            "{arn}: {statuses:?}"
        );
    }
    assert_eq!(
        moto.calls_of("ListContainerInstances"),
        1,
        "one filtered call, no scan"
    );
    assert_eq!(moto.calls_of("DescribeLifecycleHooks"), 1);
    let calls = moto.lifecycle_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls.first().map(|c| (
            &c["operation"],
            &c["result"],
            &c["token"],
            &c["instance_id"],
            &c["outcome"]
        )),
        Some((
            &json!("CompleteLifecycleAction"),
            &json!("CONTINUE"),
            &json!(TOKEN),
            &json!(victim_ec2),
            &json!("ok")
        ))
    );

    // The same notification delivered again: AWS says no action is active; that is success.
    let again = handle(event, now_ms() + 60_000, &config, &aws, &SystemClock).await;
    assert_eq!(
        again.ok(),
        Some(json!({"records": [{"outcome": "already_completed", "ec2_instance_id": victim_ec2}]}))
    );
    let calls = moto.lifecycle_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls.last().map(|c| c["outcome"].clone()),
        Some(json!("no active lifecycle action"))
    );
}

#[tokio::test]
async fn an_instance_outside_the_cluster_is_completed_without_draining_anything() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let hosts = cluster_with_tasks(&moto, &ecs, 2, 1).await;
    let stranger = "i-0123456789abcdef0";
    open_action(&moto, stranger);
    let aws = AwsDrain::from_conf(&sdk);
    let config = Config {
        heartbeat_timeout: Some(Duration::from_secs(60)),
        ..config()
    };
    let event = sns_event(
        "arn:aws:sns:us-east-1:123456789012:lifecycle",
        &notification(stranger),
        json!({}),
    );
    let answer = handle(event, now_ms() + 60_000, &config, &aws, &SystemClock).await;
    assert_eq!(
        answer.ok(),
        Some(
            json!({"records": [{"outcome": "completed", "ec2_instance_id": stranger, "result": "CONTINUE", "reason": "NotInCluster"}]})
        )
    );
    assert_eq!(moto.calls_of("UpdateContainerInstancesState"), 0);
    assert_eq!(
        moto.calls_of("DescribeLifecycleHooks"),
        0,
        "configured, not read"
    );
    for (arn, _, _) in &hosts {
        assert_eq!(instance_status(&ecs, arn).await, "ACTIVE");
    }
}

#[tokio::test]
async fn near_the_deadline_the_notification_is_republished_to_its_topic_and_the_next_invocation_finishes()
 {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    moto.freeze_tasks();
    let hosts = cluster_with_tasks(&moto, &ecs, 2, 1).await;
    put_hook(&autoscaling, 60).await;
    let Some((_, victim_ec2, victim_tasks)) = hosts.first().cloned() else {
        panic!("two hosts");
    };
    open_action(&moto, &victim_ec2);

    // The lifecycle topic, with a queue subscribed to see what reaches it.
    let topic = sns
        .create_topic()
        .name("lifecycle")
        .send()
        .await
        .expect("topic");
    let topic_arn = topic.topic_arn().unwrap_or_default().to_owned();
    let queue = sqs
        .create_queue()
        .queue_name("lifecycle-copy")
        .send()
        .await
        .expect("queue");
    let queue_url = queue.queue_url().unwrap_or_default().to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe");

    // First invocation: 7 s left, 5 s margin; the task keeps running.
    let message = notification(&victim_ec2);
    let first_started = now_ms();
    let answer = handle(
        sns_event(&topic_arn, &message, json!({})),
        first_started + 7_000,
        &config(),
        &AwsDrain::from_conf(&sdk),
        &SystemClock,
    )
    .await;
    let answer = answer.unwrap_or_else(|e| panic!("first invocation failed: {e}"));
    assert_eq!(answer["records"][0]["outcome"], "republished");
    assert_eq!(answer["records"][0]["topic_arn"], json!(topic_arn));
    assert!(
        now_ms() < first_started + 7_000,
        "returned before the deadline"
    );
    assert!(moto.lifecycle_calls().is_empty(), "nothing completed");

    // What reached the topic: the same message, with the drain's progress as attributes.
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive");
    let envelope: Value = received
        .messages()
        .first()
        .and_then(|m| m.body())
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_else(|| panic!("the republished message reached the queue"));
    assert_eq!(envelope["TopicArn"], json!(topic_arn));
    assert_eq!(envelope["Message"], json!(message));
    let attributes = envelope["MessageAttributes"].clone();
    assert_eq!(
        attributes["DrainAttempt"],
        json!({"Type": "Number", "Value": "2"})
    );
    let carried_start = attributes["DrainStartedAtMs"]["Value"]
        .as_str()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        carried_start <= first_started && carried_start + 5_000 > first_started,
        "started when the action did: {carried_start} vs {first_started}"
    );

    // The next invocation gets that message from SNS. It cannot know when the last heartbeat
    // was, so it records one at once; then the tasks go and it completes.
    let redelivered = sns_event(
        &topic_arn,
        envelope["Message"].as_str().unwrap_or_default(),
        attributes,
    );
    let aws = AwsDrain::from_conf(&sdk);
    let config = config();
    let drain = handle(redelivered, now_ms() + 60_000, &config, &aws, &SystemClock);
    let ecs_side = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for task in &victim_tasks {
            ecs.stop_task()
                .cluster(CLUSTER)
                .task(task)
                .send()
                .await
                .expect("stop task");
        }
    };
    let (answer, ()) = tokio::join!(drain, ecs_side);
    assert_eq!(
        answer.ok(),
        Some(
            json!({"records": [{"outcome": "completed", "ec2_instance_id": victim_ec2, "result": "CONTINUE", "reason": "Drained"}]})
        )
    );
    let operations: Vec<Value> = moto
        .lifecycle_calls()
        .iter()
        .map(|c| json!([c["operation"], c["outcome"]]))
        .collect();
    assert_eq!(
        operations,
        [
            json!(["RecordLifecycleActionHeartbeat", "ok"]),
            json!(["CompleteLifecycleAction", "ok"])
        ]
    );
}

#[tokio::test]
async fn lifecycle_hook_timeouts_are_read_through_the_sdk() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    put_hook(&aws_sdk_autoscaling::Client::new(&sdk), 120).await;
    let aws = AwsDrain::from_conf(&sdk);
    let timeouts = aws
        .hook_timeouts(GROUP, HOOK)
        .await
        .expect("describe hooks");
    // moto reports a fixed GlobalTimeout of 172800 s; AWS would say min(48 h, 100 × 120 s).
    assert_eq!(
        timeouts,
        Some(HookTimeouts {
            heartbeat_timeout: Duration::from_secs(120),
            global_timeout: Duration::from_secs(172_800),
        })
    );
    assert_eq!(
        aws.hook_timeouts(GROUP, "no-such-hook").await.ok(),
        Some(None)
    );
}

#[tokio::test]
async fn tasks_deactivating_stopping_or_deprovisioning_hold_the_drain_until_stopped() {
    // Here moto's own task lifecycle plays ECS: each DescribeTasks moves the task one status
    // on, RUNNING -> DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED, so the drainer's
    // polls see each of them in turn through the real SDK.
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let hosts = cluster_with_tasks(&moto, &ecs, 1, 1).await;
    let Some((_, ec2, _)) = hosts.first().cloned() else {
        panic!("one host");
    };
    open_action(&moto, &ec2);
    let config = Config {
        heartbeat_timeout: Some(Duration::from_secs(60)),
        ..config()
    };
    let event = sns_event(
        "arn:aws:sns:us-east-1:123456789012:lifecycle",
        &notification(&ec2),
        json!({}),
    );
    let answer = handle(
        event,
        now_ms() + 60_000,
        &config,
        &AwsDrain::from_conf(&sdk),
        &SystemClock,
    )
    .await;
    assert_eq!(
        answer.ok(),
        Some(
            json!({"records": [{"outcome": "completed", "ec2_instance_id": ec2, "result": "CONTINUE", "reason": "Drained"}]})
        )
    );
    assert_eq!(
        moto.calls_of("DescribeTasks"),
        4,
        "completed only on the poll that saw STOPPED, not on DEACTIVATING, STOPPING or DEPROVISIONING"
    );
    assert_eq!(
        moto.calls_of("ListTasks"),
        8,
        "desired RUNNING and STOPPED, each poll"
    );
}

/// Retries `call` until it succeeds (the test's own calls go through the same faults).
async fn until_ok<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(
    what: &str,
    call: impl Fn() -> F,
) -> T {
    for _ in 0..50 {
        if let Ok(value) = call().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} kept failing");
}

#[tokio::test]
async fn under_injected_faults_the_drain_still_completes_once_and_never_before_the_tasks_stop() {
    let moto = MotoServer::start();
    // The production bounds on each call: a dropped connection must not hang the drain.
    let sdk = moto
        .sdk_config()
        .await
        .into_builder()
        .timeout_config(lifecycle_drainer::sdk_timeouts())
        .build();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    moto.freeze_tasks();
    let hosts = cluster_with_tasks(&moto, &ecs, 2, 2).await;
    put_hook(&aws_sdk_autoscaling::Client::new(&sdk), 60).await;
    let Some((victim_arn, victim_ec2, victim_tasks)) = hosts.first().cloned() else {
        panic!("two hosts");
    };
    open_action(&moto, &victim_ec2);
    // From here on, 40% of AWS calls are throttled, fail with 500, are slow or dropped.
    moto.post("/_harness/fault-rate", &json!({"rate": 0.4, "seed": 11}));

    let event = sns_event(
        "arn:aws:sns:us-east-1:123456789012:lifecycle",
        &notification(&victim_ec2),
        json!({}),
    );
    let aws = AwsDrain::from_conf(&sdk);
    let config = config();
    let drain = handle(event, now_ms() + 120_000, &config, &aws, &SystemClock);
    let ecs_side = async {
        loop {
            let status = until_ok("describe container instance", || {
                ecs.describe_container_instances()
                    .cluster(CLUSTER)
                    .container_instances(&victim_arn)
                    .send()
            })
            .await;
            if status
                .container_instances()
                .first()
                .and_then(|c| c.status())
                == Some("DRAINING")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let completed_early = moto
            .lifecycle_calls()
            .iter()
            .any(|c| c["operation"] == "CompleteLifecycleAction");
        for task in &victim_tasks {
            until_ok("stop task", || {
                ecs.stop_task().cluster(CLUSTER).task(task).send()
            })
            .await;
        }
        completed_early
    };
    let (answer, completed_early) = tokio::join!(drain, ecs_side);
    assert!(!completed_early, "completed while tasks were running");
    assert_eq!(
        answer.ok(),
        Some(
            json!({"records": [{"outcome": "completed", "ec2_instance_id": victim_ec2, "result": "CONTINUE", "reason": "Drained"}]})
        )
    );
    let accepted: Vec<Value> = moto
        .lifecycle_calls()
        .into_iter()
        .filter(|c| c["operation"] == "CompleteLifecycleAction" && c["outcome"] == "ok")
        .collect();
    assert_eq!(accepted.len(), 1);
    let faults = moto.get("/_harness/stats")["faults"].clone();
    let injected: u64 = ["throttle", "http500", "slow", "drop"]
        .iter()
        .map(|k| faults[k].as_u64().unwrap_or(0))
        .sum();
    assert!(injected > 0, "faults were injected: {faults}");
}
