//! The handler's behaviour over a drain: which calls, in which order, and how each
//! notification ends (nothing to do, drained, already completed, failures).

use std::time::Duration;

use capacity_aws::drain::LifecycleActionResult;
use capacity_aws::drain::fake::{DrainCall, Operation};
use serde_json::{Value, json};

use super::*;
use crate::handler::HandlerError;

// ------------------------------------------------------------------ nothing to do

#[tokio::test]
async fn a_test_notification_succeeds_without_any_aws_call() {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let aws = world(&clock, vec![]);
    let answer = run(
        fixture(SNS_TEST_NOTIFICATION),
        ACTION_STARTED + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [json!({"outcome": "skipped", "reason": "test notification"})]
    );
    assert_eq!(aws.calls(), []);
}

#[tokio::test]
async fn a_launch_transition_succeeds_without_any_aws_call() {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let aws = world(&clock, vec![]);
    let mut message = terminating_message(INSTANCE);
    message["LifecycleTransition"] = json!("autoscaling:EC2_INSTANCE_LAUNCHING");
    let answer = run(
        sns_with(&message, &json!({})),
        ACTION_STARTED + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [json!({"outcome": "skipped", "reason": "transition autoscaling:EC2_INSTANCE_LAUNCHING"})]
    );
    assert_eq!(aws.calls(), []);
}

#[tokio::test]
async fn a_message_that_is_not_a_lifecycle_notification_fails_clearly_without_any_aws_call() {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let aws = world(&clock, vec![]);
    let cases = [
        (
            sns_with(&json!("hello"), &json!({})),
            "is not a lifecycle notification: the message is not a JSON object",
        ),
        (
            sns_with(&json!({"Service": "AWS Auto Scaling"}), &json!({})),
            "is not a lifecycle notification: it has neither Event nor LifecycleTransition",
        ),
        (
            {
                let mut m = terminating_message(INSTANCE);
                m.as_object_mut().map(|o| o.remove("EC2InstanceId"));
                sns_with(&m, &json!({}))
            },
            "the autoscaling:EC2_INSTANCE_TERMINATING notification has no EC2InstanceId",
        ),
        (
            json!({"hello": "world"}),
            "neither an SNS event (\"Records\") nor an EventBridge lifecycle action (\"detail-type\"); it has keys [hello]",
        ),
        (
            json!({"detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling", "time": "2021-01-19T00:36:26Z", "resources": [], "detail": {}, "id": "e-1"}),
            "EventBridge event e-1 is not a lifecycle action",
        ),
    ];
    for (event, expected) in cases {
        let answer = run(
            event,
            ACTION_STARTED + FIFTEEN_MINUTES,
            &config(),
            &aws,
            &clock,
        )
        .await;
        let err = answer.err().map(|e| (e.to_string(), e.error_type()));
        let (message, error_type) = err.unwrap_or_else(|| panic!("{expected}: should fail"));
        assert!(message.contains(expected), "{message}");
        assert_eq!(error_type, "Permanent.InvalidEvent");
    }
    assert_eq!(aws.calls(), []);
}

#[tokio::test]
async fn an_instance_not_in_the_cluster_is_completed_at_once() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![]);
    let message = terminating_message("i-0000000000000000f");
    aws.state()
        .active_actions
        .insert("i-0000000000000000f".into());
    let answer = run(
        sns_with(&message, &json!({})),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": "i-0000000000000000f", "result": "CONTINUE", "reason": "NotInCluster"})
        ]
    );
    assert_eq!(
        operations(&aws),
        [
            Operation::DescribeLifecycleHook,
            Operation::FindContainerInstance,
            Operation::CompleteLifecycleAction
        ]
    );
    assert!(clock.slept().is_empty());
}

// ------------------------------------------------------------------ draining

#[tokio::test]
async fn the_drain_sets_draining_and_completes_on_the_third_poll() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(
        &clock,
        vec![
            vec![task(1, "RUNNING"), task(2, "RUNNING")],
            vec![task(1, "STOPPED"), task(2, "RUNNING")],
            vec![task(1, "STOPPED"), task(2, "STOPPED")],
        ],
    );
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": INSTANCE, "result": "CONTINUE", "reason": "Drained"})
        ]
    );
    assert_eq!(
        aws.calls(),
        [
            DrainCall::DescribeLifecycleHook {
                auto_scaling_group_name: "my-asg".into(),
                lifecycle_hook_name: "my-hook".into()
            },
            DrainCall::FindContainerInstance {
                cluster: "prod".into(),
                ec2_instance_id: INSTANCE.into()
            },
            DrainCall::SetDraining {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::ListInstanceTasks {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::ListInstanceTasks {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::ListInstanceTasks {
                cluster: "prod".into(),
                container_instance_arn: CONTAINER_INSTANCE.into()
            },
            DrainCall::CompleteLifecycleAction {
                action: the_action(),
                result: LifecycleActionResult::Continue,
                answer: Some(capacity_aws::drain::ActionAnswer::Done),
            },
        ]
    );
    assert_eq!(
        clock.slept(),
        [Duration::from_secs(5), Duration::from_secs(5)]
    );
    assert!(aws.state().draining.contains(CONTAINER_INSTANCE));
}

#[tokio::test]
async fn a_task_still_stopping_holds_the_drain_until_it_is_stopped() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(
        &clock,
        vec![
            vec![task(1, "RUNNING")],
            vec![task(1, "DEACTIVATING")],
            vec![task(1, "STOPPING")],
            vec![task(1, "DEPROVISIONING")],
            vec![task(1, "STOPPED")],
        ],
    );
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(outcomes(&answer).len(), 1);
    assert_eq!(aws.calls_of(Operation::ListInstanceTasks).len(), 5);
    let completions = aws.calls_of(Operation::CompleteLifecycleAction);
    let last_poll = aws
        .calls_of(Operation::ListInstanceTasks)
        .last()
        .map(|(at, _)| *at);
    assert_eq!(completions.len(), 1);
    assert_eq!(
        completions.first().map(|(at, _)| *at),
        last_poll,
        "completed right after the poll that saw it STOPPED"
    );
}

#[tokio::test]
async fn heartbeats_keep_the_hook_from_timing_out_during_a_long_drain() {
    // Heartbeat timeout 60 s; the tasks take 10 minutes to go.
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let polls_while_running = 600 / 5;
    let mut polls = vec![vec![task(1, "RUNNING")]; polls_while_running];
    polls.push(vec![task(1, "STOPPED")]);
    let aws = world(&clock, polls).with_hook("my-asg", "my-hook", hook(60));
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["outcome"].clone()),
        Some(json!("completed"))
    );

    let mut times: Vec<u64> = vec![ACTION_STARTED];
    times.extend(
        aws.calls_of(Operation::RecordHeartbeat)
            .iter()
            .map(|(at, _)| *at),
    );
    let completed_at = aws
        .calls_of(Operation::CompleteLifecycleAction)
        .first()
        .map(|(at, _)| *at);
    times.extend(completed_at);
    assert!(
        times.len() >= 12,
        "about one heartbeat every 30 s: {times:?}"
    );
    for pair in times.windows(2) {
        if let [a, b] = pair {
            assert!(b - a < 60_000, "{} ms without a heartbeat", b - a);
        }
    }
}

#[tokio::test]
async fn with_the_heartbeat_timeout_configured_the_hook_is_not_read() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]; 20]);
    let config = Config {
        heartbeat_timeout: Some(Duration::from_secs(30)),
        ..config()
    };
    let _ = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + 120_000,
        &config,
        &aws,
        &clock,
    )
    .await;
    assert!(aws.calls_of(Operation::DescribeLifecycleHook).is_empty());
    // Every 15 s over the first ~100 s.
    assert!(aws.calls_of(Operation::RecordHeartbeat).len() >= 6);
}

#[tokio::test]
async fn an_unreadable_hook_falls_back_to_the_most_frequent_heartbeat() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]; 10])
        .failing(Operation::DescribeLifecycleHook, 1);
    let _ = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + 120_000,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let beats: Vec<u64> = aws
        .calls_of(Operation::RecordHeartbeat)
        .iter()
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(beats.first().copied(), Some(ACTION_STARTED + 15_000));
    assert!(
        beats
            .windows(2)
            .all(|w| matches!(w, [a, b] if b - a <= 15_000)),
        "{beats:?}"
    );
}

// ------------------------------------------------------------------ failures and duplicates

#[tokio::test]
async fn a_duplicate_delivery_after_completion_succeeds_without_completing_twice() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]]);
    let first = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let second = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&first).first().map(|o| o["outcome"].clone()),
        Some(json!("completed"))
    );
    assert_eq!(
        outcomes(&second),
        [json!({"outcome": "already_completed", "ec2_instance_id": INSTANCE})]
    );
    assert_eq!(
        aws.completed(),
        [(INSTANCE.to_owned(), LifecycleActionResult::Continue)]
    );
}

#[tokio::test]
async fn an_action_that_disappears_mid_drain_stops_the_drain() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]]);
    aws.state().active_actions.clear();
    let event = sns_with(
        &terminating_message(INSTANCE),
        &json!({"DrainAttempt": {"Type": "Number", "Value": "2"}}),
    );
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [json!({"outcome": "action_gone", "ec2_instance_id": INSTANCE})]
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_at_the_next_poll() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]])
        .failing(Operation::FindContainerInstance, 1)
        .failing(Operation::SetDraining, 1)
        .failing(Operation::ListInstanceTasks, 1)
        .failing(Operation::CompleteLifecycleAction, 1);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["reason"].clone()),
        Some(json!("Drained"))
    );
    assert_eq!(aws.completed().len(), 1);
    assert_eq!(clock.slept(), [Duration::from_secs(5); 4]);
}

#[tokio::test]
async fn a_persistent_failure_never_completes_the_action_and_republishes_at_the_deadline() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "RUNNING")]])
        .failing(Operation::ListInstanceTasks, usize::MAX);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer).first().map(|o| o["outcome"].clone()),
        Some(json!("republished"))
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
    assert!(
        aws.calls_of(Operation::ListInstanceTasks).len() > 100,
        "kept trying every poll"
    );
}

#[tokio::test]
async fn a_persistent_failure_past_the_total_deadline_fails_without_completing() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 7_200_000);
    let aws = world(&clock, vec![]).failing(Operation::FindContainerInstance, usize::MAX);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = answer.err().map(|e| (e.error_type(), e.to_string()));
    assert!(
        matches!(&err, Some(("Retryable.DrainIncomplete", m)) if m.contains("without being able to read its tasks") && m.contains("injected failure")),
        "{err:?}"
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn a_failed_republish_fails_the_invocation_so_lambda_retries_it() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws =
        world(&clock, vec![vec![task(1, "RUNNING")]]).failing(Operation::Republish, usize::MAX);
    let answer = run(
        fixture(SNS_TERMINATING),
        clock.now_ms() + 60_000,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = answer.err().map(|e| (e.error_type(), e.to_string()));
    assert!(
        matches!(&err, Some(("Retryable.DrainIncomplete", m)) if m.contains("cannot republish")),
        "{err:?}"
    );
    assert!(aws.calls_of(Operation::CompleteLifecycleAction).is_empty());
}

#[tokio::test]
async fn every_record_of_an_event_is_handled() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]]);
    aws.state()
        .active_actions
        .insert("i-0000000000000000f".into());
    let mut event = fixture(SNS_TERMINATING);
    let first = event["Records"][0].clone();
    let mut gone = first.clone();
    gone["Sns"]["Message"] = Value::String(terminating_message("i-0000000000000000f").to_string());
    let test = fixture(SNS_TEST_NOTIFICATION)["Records"][0].clone();
    event["Records"] = json!([first, gone, test]);
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        [
            json!({"outcome": "completed", "ec2_instance_id": INSTANCE, "result": "CONTINUE", "reason": "Drained"}),
            json!({"outcome": "completed", "ec2_instance_id": "i-0000000000000000f", "result": "CONTINUE", "reason": "NotInCluster"}),
            json!({"outcome": "skipped", "reason": "test notification"}),
        ]
    );
    assert_eq!(aws.completed().len(), 2);
}

#[tokio::test]
async fn a_bad_record_fails_the_event_but_the_others_are_still_handled() {
    let clock = ManualClock::at_ms(ACTION_STARTED + 2_000);
    let aws = world(&clock, vec![vec![task(1, "STOPPED")]]);
    let mut event = fixture(SNS_TERMINATING);
    let good = event["Records"][0].clone();
    let mut bad = good.clone();
    bad["Sns"]["Message"] = json!("not json");
    event["Records"] = json!([bad, good]);
    let answer = run(
        event,
        clock.now_ms() + FIFTEEN_MINUTES,
        &config(),
        &aws,
        &clock,
    )
    .await;
    let err = answer.err();
    assert!(
        matches!(
            &err,
            Some(HandlerError::Records {
                failed: 1,
                total: 2,
                retryable: false,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(aws.completed().len(), 1);
}
