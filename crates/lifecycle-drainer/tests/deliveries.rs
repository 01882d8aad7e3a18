//! Duplicate and concurrent deliveries of one lifecycle action (issue 7, promise 2): SNS and
//! Lambda deliver at least once, so two invocations may drain the same instance at the same
//! time, and a delivery may come again after the action was completed. Still exactly one
//! completion counts, and none comes while a task runs.
//!
//! Against the in-memory AWS (two spawned handlers on a multi-threaded runtime, sharing one
//! fake) and against moto with the harness's lifecycle shim, which answers "No active
//! Lifecycle Action found" once an action is completed and records every call. (A redelivery
//! after completion through moto is in `moto.rs`,
//! `drains_the_right_host_waits_for_its_tasks_and_completes_the_action_once`; here it comes
//! after a concurrent pair.)

use std::sync::Arc;
use std::time::Duration;

use capacity_aws::drain::fake::{DrainCall, FakeDrainWorld, Operation};
use capacity_aws::drain::{
    ActionAnswer, AwsDrain, HookTimeouts, LifecycleActionResult, ObservedTask,
};
use lifecycle_drainer::{Clock, Config, SystemClock, handle};
use moto_harness::MotoServer;
use moto_harness::clock::ManualClock;
use moto_harness::ecs::HostWithTasks;
use moto_harness::lifecycle::{self, now_ms, terminating_notification};
use serde_json::{Value, json};

const GROUP: &str = "my-asg";
const HOOK: &str = "my-hook";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7ee35fa40";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:lifecycle";

fn sns_event(instance: &str, started_ms: u64) -> Value {
    let message = terminating_notification(GROUP, HOOK, TOKEN, instance, started_ms);
    lifecycle::sns_event(TOPIC, &message, json!({}))
}

fn outcome(answer: &Value) -> String {
    answer["records"][0]["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ------------------------------------------------------------------ in memory

const INSTANCE: &str = "i-0598c7d356eba48d7";
const CONTAINER_INSTANCE: &str =
    "arn:aws:ecs:us-west-2:123456789012:container-instance/prod/0f9e8d7c";
const STARTED: u64 = 1_700_000_000_000;

fn task(status: &str) -> ObservedTask {
    ObservedTask {
        task_arn: "arn:aws:ecs:us-west-2:123456789012:task/prod/1".into(),
        last_status: status.into(),
        desired_status: Some("STOPPED".into()),
    }
}

fn config() -> Config {
    Config {
        cluster: "prod".into(),
        poll_interval: Duration::from_secs(5),
        max_drain: Duration::from_secs(7200),
        deadline_result: LifecycleActionResult::Continue,
        heartbeat_timeout: None,
        deadline_margin: Duration::from_secs(20),
        republish_topic_arn: None,
    }
}

/// How the two deliveries run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtOnce {
    /// `tokio::spawn`ed on two worker threads: truly parallel, interleaving by chance.
    Spawned,
    /// Joined in one task: they take turns at every wait, so both are always mid-drain
    /// together (deterministic).
    Interleaved,
}

/// Runs two handlers for the same notification at once over one fake whose polls see
/// `running_polls` looks with the task running, one DEPROVISIONING, then STOPPED.
async fn two_at_once(running_polls: usize, mode: AtOnce) -> (Arc<FakeDrainWorld>, Vec<String>) {
    // Shared by both drains; a sleep moves it and yields, so they interleave at every wait.
    let clock = ManualClock::at_ms(STARTED + 1_000).yielding();
    let now = clock.clone();
    let mut polls = vec![vec![task("RUNNING")]; running_polls];
    polls.push(vec![task("DEPROVISIONING")]);
    polls.push(vec![task("STOPPED")]);
    let aws = Arc::new(
        FakeDrainWorld::new()
            .with_clock(move || now.now_ms())
            .with_instance(INSTANCE, CONTAINER_INSTANCE)
            .with_active_action(INSTANCE)
            .with_hook(
                GROUP,
                HOOK,
                HookTimeouts {
                    heartbeat_timeout: Duration::from_secs(60),
                    global_timeout: Duration::from_secs(6000),
                },
            )
            .with_task_polls(CONTAINER_INSTANCE, polls),
    );
    let drain = |aws: Arc<FakeDrainWorld>, clock: ManualClock| async move {
        let deadline = clock.now_ms() + 900_000;
        handle(
            sns_event(INSTANCE, STARTED),
            deadline,
            &config(),
            aws.as_ref(),
            &clock,
        )
        .await
    };
    let answers = match mode {
        AtOnce::Spawned => {
            let a = tokio::spawn(drain(Arc::clone(&aws), clock.clone()));
            let b = tokio::spawn(drain(Arc::clone(&aws), clock.clone()));
            let (a, b) = tokio::join!(a, b);
            match (a, b) {
                (Ok(a), Ok(b)) => [a, b],
                _ => panic!("a delivery panicked"),
            }
        }
        AtOnce::Interleaved => {
            let (a, b) = tokio::join!(
                drain(Arc::clone(&aws), clock.clone()),
                drain(Arc::clone(&aws), clock.clone())
            );
            [a, b]
        }
    };
    let mut outcomes = Vec::new();
    for answer in answers {
        match answer {
            Ok(answer) => outcomes.push(outcome(&answer)),
            Err(e) => panic!("a delivery failed: {e}"),
        }
    }
    outcomes.sort();
    (aws, outcomes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliveries_at_once_complete_the_action_once_and_only_after_the_tasks_stop() {
    for running_polls in 0..6 {
        for mode in [AtOnce::Spawned, AtOnce::Interleaved] {
            let (aws, outcomes) = two_at_once(running_polls, mode).await;
            let case = format!("{running_polls} running polls, {mode:?}");
            assert_eq!(
                aws.completed(),
                [(INSTANCE.to_owned(), LifecycleActionResult::Continue)],
                "{case}"
            );
            // One drain completed; the other found the action gone when it heartbeat or
            // tried to complete. Both succeed: neither is retried by Lambda.
            assert_eq!(outcomes.len(), 2, "{case}");
            assert!(
                outcomes.contains(&"completed".to_owned())
                    && outcomes
                        .iter()
                        .filter(|o| *o == "already_completed" || *o == "action_gone")
                        .count()
                        == 1,
                "{case}: {outcomes:?}"
            );
            // Never a completion before a look saw the task STOPPED: every completion call
            // (accepted or not) comes after the poll that answered STOPPED.
            let calls = aws.calls();
            if mode == AtOnce::Interleaved {
                let found_before_completion = calls
                    .iter()
                    .take_while(|c| c.operation() != Operation::CompleteLifecycleAction)
                    .filter(|c| c.operation() == Operation::SetDraining)
                    .count();
                assert_eq!(found_before_completion, 2, "{case}: both were draining");
            }
            let polls_before_first_completion = calls
                .iter()
                .take_while(|c| c.operation() != Operation::CompleteLifecycleAction)
                .filter(|c| c.operation() == Operation::ListInstanceTasks)
                .count();
            assert!(
                polls_before_first_completion >= running_polls + 2,
                "{case}: completed after {polls_before_first_completion} looks"
            );
            // No heartbeat or completion was accepted after the completion.
            let accepted_after: usize = calls
                .iter()
                .skip_while(|c| {
                    !matches!(
                        c,
                        DrainCall::CompleteLifecycleAction {
                            answer: Some(ActionAnswer::Done),
                            ..
                        }
                    )
                })
                .skip(1)
                .filter(|c| {
                    matches!(
                        c,
                        DrainCall::CompleteLifecycleAction {
                            answer: Some(ActionAnswer::Done),
                            ..
                        } | DrainCall::RecordHeartbeat {
                            answer: Some(ActionAnswer::Done),
                            ..
                        }
                    )
                })
                .count();
            assert_eq!(accepted_after, 0, "{case}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_after_a_concurrent_pair_changes_nothing() {
    let (aws, _) = two_at_once(2, AtOnce::Interleaved).await;
    let clock = ManualClock::at_ms(STARTED + 600_000).yielding();
    let answer = handle(
        sns_event(INSTANCE, STARTED),
        clock.now_ms() + 900_000,
        &config(),
        aws.as_ref(),
        &clock,
    )
    .await;
    assert_eq!(
        answer.ok(),
        Some(json!({"records": [{"outcome": "already_completed", "ec2_instance_id": INSTANCE}]}))
    );
    assert_eq!(aws.completed().len(), 1);
}

// ------------------------------------------------------------------ moto

const CLUSTER: &str = "prod";

fn moto_config() -> Config {
    Config {
        cluster: CLUSTER.into(),
        poll_interval: Duration::from_secs(1),
        heartbeat_timeout: Some(Duration::from_secs(60)),
        deadline_margin: Duration::from_secs(5),
        ..config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliveries_at_once_through_the_sdk_complete_once_and_a_redelivery_after_is_refused() {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    // Tasks stay RUNNING until StopTask, as on ECS.
    moto.freeze_tasks();
    let Some(HostWithTasks {
        container_instance_arn: _,
        ec2_instance_id: ec2,
        task_arns: tasks,
    }) = moto
        .cluster_with_tasks(&ecs, CLUSTER, 1, 1)
        .await
        .into_iter()
        .next()
    else {
        panic!("one host");
    };
    assert_eq!(tasks.len(), 1);
    moto.open_lifecycle_action(GROUP, HOOK, &ec2, TOKEN);

    let event = sns_event(&ec2, now_ms());
    let drains: Vec<_> = (0..2)
        .map(|_| {
            let event = event.clone();
            let aws = AwsDrain::from_conf(&sdk);
            tokio::spawn(async move {
                handle(event, now_ms() + 60_000, &moto_config(), &aws, &SystemClock).await
            })
        })
        .collect();
    // "ECS" stops the task a while after both drains are waiting on it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let completed_early = moto
        .lifecycle_calls()
        .iter()
        .any(|c| c["operation"] == "CompleteLifecycleAction");
    for task in &tasks {
        ecs.stop_task()
            .cluster(CLUSTER)
            .task(task)
            .send()
            .await
            .expect("stop task");
    }
    let mut outcomes = Vec::new();
    for drain in drains {
        match drain.await {
            Ok(Ok(answer)) => outcomes.push(outcome(&answer)),
            Ok(Err(e)) => panic!("a delivery failed: {e}"),
            Err(e) => panic!("a delivery panicked: {e}"),
        }
    }
    outcomes.sort();
    assert!(!completed_early, "completed while the task was running");
    assert!(
        outcomes.first().map(String::as_str) == Some("action_gone")
            || outcomes.first().map(String::as_str) == Some("already_completed"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.get(1).map(String::as_str), Some("completed"));
    let accepted = |calls: &[Value]| {
        calls
            .iter()
            .filter(|c| c["operation"] == "CompleteLifecycleAction" && c["outcome"] == "ok")
            .count()
    };
    assert_eq!(accepted(&moto.lifecycle_calls()), 1);

    // SNS delivers the same message once more, after the drain: refused by Auto Scaling,
    // which is success, and still one completion.
    let again = handle(
        event,
        now_ms() + 60_000,
        &moto_config(),
        &AwsDrain::from_conf(&sdk),
        &SystemClock,
    )
    .await;
    assert_eq!(
        again.ok(),
        Some(json!({"records": [{"outcome": "already_completed", "ec2_instance_id": ec2}]}))
    );
    let calls = moto.lifecycle_calls();
    assert_eq!(accepted(&calls), 1, "{calls:?}");
    assert_eq!(
        calls
            .last()
            .map(|c| (c["operation"].clone(), c["outcome"].clone())),
        Some((
            json!("CompleteLifecycleAction"),
            json!("no active lifecycle action")
        ))
    );
}
