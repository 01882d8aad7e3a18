//! Table tests of the decisions: each drives a [`DrainState`] with outcomes and checks the
//! steps [`decide`] returns.

use super::*;
use capacity_aws::drain::HookTimeouts;

const NOW: u64 = 1_700_000_000_000;
const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/1";

fn task(arn: &str, status: &str) -> ObservedTask {
    ObservedTask {
        task_arn: arn.into(),
        last_status: status.into(),
        desired_status: Some("STOPPED".into()),
    }
}

fn timing() -> Timing {
    Timing {
        poll_interval: Duration::from_secs(5),
        heartbeat_interval: Duration::from_secs(60),
        republish_at_ms: Some(NOW + 600_000),
        give_up_at_ms: NOW + 7_200_000,
        deadline_result: LifecycleActionResult::Continue,
    }
}

fn policy() -> TimingPolicy {
    TimingPolicy {
        poll_interval: Duration::from_secs(5),
        max_drain: Duration::from_secs(7200),
        deadline_margin: Duration::from_secs(20),
        deadline_result: LifecycleActionResult::Continue,
        heartbeat_timeout: None,
    }
}

fn action() -> LifecycleActionRef {
    LifecycleActionRef {
        auto_scaling_group_name: "asg".into(),
        lifecycle_hook_name: "hook".into(),
        ec2_instance_id: "i-1".into(),
        token: None,
    }
}

fn wait(ms: u64) -> DrainStep {
    DrainStep::Wait {
        sleep: Duration::from_millis(ms),
    }
}

/// A drain of a DRAINING instance whose look ended at `at_ms` with `observation`.
fn looked(
    observation: Observation,
    last_heartbeat_at_ms: Option<u64>,
    at_ms: u64,
    timing: Timing,
) -> DrainState {
    DrainState {
        policy: policy(),
        started_at_ms: NOW,
        deadline_ms: None,
        timing: Some(timing),
        instance: Instance::Found {
            container_instance_arn: ARN.into(),
            draining: true,
        },
        last_heartbeat_at_ms,
        round: Round::Looked {
            at_ms,
            observation,
            heartbeat_tried: false,
        },
    }
}

/// The steps of one poll after its look, at `now_ms` throughout: a heartbeat (recorded) if
/// one is due, then the step that ends the poll.
fn poll(
    observation: &Observation,
    last_heartbeat_at_ms: Option<u64>,
    now_ms: u64,
    timing: &Timing,
) -> Vec<DrainStep> {
    let mut state = looked(observation.clone(), last_heartbeat_at_ms, now_ms, *timing);
    let mut steps = vec![decide(&state, now_ms)];
    if steps.last() == Some(&DrainStep::Heartbeat) {
        state.record(Outcome::HeartbeatRecorded, now_ms);
        steps.push(decide(&state, now_ms));
    }
    steps
}

fn complete(result: LifecycleActionResult, reason: CompleteReason) -> DrainStep {
    super::complete(result, reason, vec![])
}

// ------------------------------------------------------------------ triage

#[test]
fn test_notifications_and_other_transitions_are_skipped() {
    assert_eq!(
        triage(&Notice::Test {
            auto_scaling_group_name: None
        }),
        Triage::Skip(SkipReason::TestNotification)
    );
    let launching = Notice::Transition {
        action: action(),
        transition: "autoscaling:EC2_INSTANCE_LAUNCHING".into(),
        started_at_ms: None,
    };
    assert_eq!(
        triage(&launching),
        Triage::Skip(SkipReason::OtherTransition(
            "autoscaling:EC2_INSTANCE_LAUNCHING".into()
        ))
    );
    let terminating = Notice::Transition {
        action: action(),
        transition: TERMINATING.into(),
        started_at_ms: None,
    };
    assert_eq!(triage(&terminating), Triage::Drain(&action()));
}

// ------------------------------------------------------------------ the look

#[test]
fn the_hook_is_read_first_unless_its_heartbeat_timeout_is_configured() {
    let read = DrainState::start(policy(), Some(NOW), Carried::default(), None, NOW);
    assert_eq!(decide(&read, NOW), DrainStep::ReadHookTimeouts);
    assert_eq!(read.timing(), None);

    let configured = TimingPolicy {
        heartbeat_timeout: Some(Duration::from_secs(30)),
        ..policy()
    };
    let state = DrainState::start(configured, Some(NOW), Carried::default(), None, NOW);
    assert_eq!(decide(&state, NOW), DrainStep::FindInstance);
    assert_eq!(
        state
            .timing()
            .map(|t| (t.heartbeat_interval, t.give_up_at_ms)),
        Some((Duration::from_secs(15), NOW + 2_980_000)),
        "global timeout 100 × 30 s, less the margin"
    );
}

#[test]
fn an_unreadable_hook_plans_with_the_fallback_timeouts() {
    let mut state = DrainState::start(policy(), Some(NOW), Carried::default(), None, NOW);
    state.record(Outcome::HookRead(HookRead::Unreadable), NOW + 100);
    assert_eq!(
        state
            .timing()
            .map(|t| (t.heartbeat_interval, t.give_up_at_ms)),
        Some((Duration::from_secs(15), NOW + 2_980_000))
    );
    let mut read = DrainState::start(policy(), Some(NOW), Carried::default(), None, NOW);
    let hook = HookTimeouts {
        heartbeat_timeout: Duration::from_secs(300),
        global_timeout: Duration::from_secs(30_000),
    };
    read.record(Outcome::HookRead(HookRead::Read(hook)), NOW + 100);
    assert_eq!(
        read.timing()
            .map(|t| (t.heartbeat_interval, t.give_up_at_ms)),
        Some((Duration::from_secs(150), NOW + 7_200_000))
    );
}

#[test]
fn a_look_finds_the_instance_sets_it_draining_once_and_lists_its_tasks() {
    let mut state = DrainState::start(policy(), Some(NOW), Carried::default(), None, NOW);
    state.record(Outcome::HookRead(HookRead::NotFound), NOW);
    assert_eq!(decide(&state, NOW), DrainStep::FindInstance);
    state.record(Outcome::InstanceFound(Some(ARN.into())), NOW);
    assert_eq!(state.container_instance_arn(), Some(ARN));
    assert_eq!(
        decide(&state, NOW),
        DrainStep::SetDraining {
            container_instance_arn: ARN.into()
        }
    );
    state.record(Outcome::DrainingSet(DrainingState::Draining), NOW);
    let list = DrainStep::ListTasks {
        container_instance_arn: ARN.into(),
    };
    assert_eq!(decide(&state, NOW), list);
    state.record(Outcome::TasksListed(vec![task("a", "RUNNING")]), NOW);
    assert_eq!(decide(&state, NOW), wait(5_000));
    state.record(Outcome::Slept, NOW + 5_000);
    assert_eq!(
        decide(&state, NOW + 5_000),
        list,
        "found and DRAINING already"
    );
}

#[test]
fn an_instance_not_found_or_deregistered_while_draining_completes_at_once() {
    let mut not_found = DrainState::start(policy(), Some(NOW), Carried::default(), None, NOW);
    not_found.record(Outcome::HookRead(HookRead::NotFound), NOW);
    not_found.record(Outcome::InstanceFound(None), NOW);
    let expected = complete(
        LifecycleActionResult::Continue,
        CompleteReason::NotInCluster,
    );
    assert_eq!(decide(&not_found, NOW), expected);

    let mut deregistered = not_found.clone();
    deregistered.record(Outcome::Slept, NOW);
    deregistered.record(Outcome::InstanceFound(Some(ARN.into())), NOW);
    deregistered.record(Outcome::DrainingSet(DrainingState::NotInCluster), NOW);
    assert_eq!(decide(&deregistered, NOW), expected);
}

#[test]
fn a_failed_call_of_the_look_ends_it_unobserved_and_the_next_look_starts_over() {
    let mut state = DrainState::start(policy(), Some(NOW), Carried::default(), None, NOW);
    state.record(Outcome::HookRead(HookRead::NotFound), NOW);
    state.record(Outcome::LookFailed, NOW);
    assert_eq!(decide(&state, NOW), wait(5_000));
    state.record(Outcome::Slept, NOW + 5_000);
    assert_eq!(decide(&state, NOW + 5_000), DrainStep::FindInstance);
    state.record(Outcome::InstanceFound(Some(ARN.into())), NOW + 5_000);
    state.record(Outcome::LookFailed, NOW + 5_000);
    state.record(Outcome::Slept, NOW + 10_000);
    assert_eq!(
        decide(&state, NOW + 10_000),
        DrainStep::SetDraining {
            container_instance_arn: ARN.into()
        },
        "until it is DRAINING"
    );
}

#[test]
fn a_failed_completion_backs_off_and_looks_again() {
    let drained = Observation::Tasks(vec![task("a", "STOPPED")]);
    let mut state = looked(drained, Some(NOW), NOW, timing());
    assert_eq!(
        decide(&state, NOW),
        complete(LifecycleActionResult::Continue, CompleteReason::Drained)
    );
    state.record(Outcome::CompletionFailed, NOW + 1_000);
    assert_eq!(decide(&state, NOW + 1_000), wait(5_000));
    state.record(Outcome::Slept, NOW + 6_000);
    assert_eq!(
        decide(&state, NOW + 6_000),
        DrainStep::ListTasks {
            container_instance_arn: ARN.into()
        }
    );
}

// ------------------------------------------------------------------ after the look

#[test]
fn an_instance_not_in_the_cluster_completes_at_once_even_past_every_deadline() {
    let steps = poll(&Observation::NotInCluster, None, NOW + 9_000_000, &timing());
    assert_eq!(
        steps,
        [complete(
            LifecycleActionResult::Continue,
            CompleteReason::NotInCluster
        )]
    );
}

#[test]
fn an_instance_whose_tasks_are_all_stopped_is_drained() {
    let observation = Observation::Tasks(vec![task("a", "STOPPED"), task("b", "STOPPED")]);
    assert_eq!(
        poll(&observation, Some(NOW), NOW, &timing()),
        [complete(
            LifecycleActionResult::Continue,
            CompleteReason::Drained
        )]
    );
    assert_eq!(
        poll(&Observation::Tasks(vec![]), Some(NOW), NOW, &timing()),
        [complete(
            LifecycleActionResult::Continue,
            CompleteReason::Drained
        )]
    );
}

#[test]
fn a_task_still_stopping_holds_the_drain() {
    for status in ["RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"] {
        let observation = Observation::Tasks(vec![task("a", "STOPPED"), task("b", status)]);
        assert_eq!(
            poll(&observation, Some(NOW), NOW, &timing()),
            [wait(5_000)],
            "{status}"
        );
    }
}

#[test]
fn a_heartbeat_is_due_once_its_interval_has_passed_or_none_is_known() {
    let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
    assert_eq!(
        poll(&observation, Some(NOW - 60_000), NOW, &timing()),
        [DrainStep::Heartbeat, wait(5_000)]
    );
    assert_eq!(
        poll(&observation, None, NOW, &timing()),
        [DrainStep::Heartbeat, wait(5_000)]
    );
}

#[test]
fn the_sleep_ends_at_the_next_heartbeat_republish_point_or_deadline() {
    let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
    // Heartbeat due in 2 s.
    assert_eq!(
        poll(&observation, Some(NOW - 58_000), NOW, &timing()),
        [wait(2_000)]
    );
    // Republish point in 1.5 s.
    let t = Timing {
        republish_at_ms: Some(NOW + 1_500),
        ..timing()
    };
    assert_eq!(poll(&observation, Some(NOW), NOW, &t), [wait(1_500)]);
    // Total deadline in 1 s.
    let t = Timing {
        give_up_at_ms: NOW + 1_000,
        ..timing()
    };
    assert_eq!(poll(&observation, Some(NOW), NOW, &t), [wait(1_000)]);
}

#[test]
fn a_slow_heartbeat_shortens_the_sleep_and_never_moves_the_wake_up() {
    let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
    let t = Timing {
        republish_at_ms: Some(NOW + 3_000),
        ..timing()
    };
    let mut state = looked(observation, None, NOW, t);
    assert_eq!(decide(&state, NOW), DrainStep::Heartbeat);
    state.record(Outcome::HeartbeatRecorded, NOW + 2_000);
    assert_eq!(decide(&state, NOW + 2_000), wait(1_000));
    assert_eq!(
        decide(&state, NOW + 4_000),
        wait(0),
        "past the point: at once"
    );
    assert_eq!(
        state.last_heartbeat_at_ms,
        Some(NOW),
        "the heartbeat counts from the poll's time"
    );
}

#[test]
fn a_failed_heartbeat_is_not_retried_before_the_next_look() {
    let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
    let mut state = looked(observation, None, NOW, timing());
    assert_eq!(decide(&state, NOW), DrainStep::Heartbeat);
    state.record(Outcome::HeartbeatFailed, NOW + 500);
    assert_eq!(decide(&state, NOW + 500), wait(4_500));
    assert_eq!(state.last_heartbeat_at_ms, None, "still due");
    state.record(Outcome::Slept, NOW + 5_000);
    state.record(
        Outcome::TasksListed(vec![task("a", "RUNNING")]),
        NOW + 5_000,
    );
    assert_eq!(decide(&state, NOW + 5_000), DrainStep::Heartbeat);
}

#[test]
fn near_the_invocation_deadline_the_drain_republishes() {
    let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
    let t = Timing {
        republish_at_ms: Some(NOW),
        ..timing()
    };
    assert_eq!(
        poll(&observation, Some(NOW), NOW, &t),
        [DrainStep::Republish]
    );
    assert_eq!(
        poll(&Observation::Unavailable, Some(NOW), NOW, &t),
        [DrainStep::Republish]
    );
}

#[test]
fn an_unknown_invocation_deadline_never_republishes() {
    let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
    let t = Timing {
        republish_at_ms: None,
        ..timing()
    };
    assert_eq!(
        poll(&observation, Some(NOW), NOW + 3_600_000, &t),
        [DrainStep::Heartbeat, wait(5_000)]
    );
}

#[test]
fn past_the_total_deadline_the_action_completes_with_the_deadline_result_and_names_the_tasks() {
    let observation = Observation::Tasks(vec![task("a", "STOPPED"), task("b", "RUNNING")]);
    let t = Timing {
        give_up_at_ms: NOW,
        deadline_result: LifecycleActionResult::Abandon,
        ..timing()
    };
    assert_eq!(
        poll(&observation, Some(NOW), NOW, &t),
        [super::complete(
            LifecycleActionResult::Abandon,
            CompleteReason::DeadlineReached,
            vec![task("b", "RUNNING")]
        )]
    );
}

#[test]
fn an_unreadable_instance_is_never_completed() {
    assert_eq!(
        poll(&Observation::Unavailable, Some(NOW), NOW, &timing()),
        [wait(5_000)]
    );
    let t = Timing {
        give_up_at_ms: NOW,
        ..timing()
    };
    assert_eq!(
        poll(&Observation::Unavailable, Some(NOW), NOW, &t),
        [DrainStep::GiveUpUnobserved]
    );
}

#[test]
fn the_total_deadline_comes_before_the_republish_point() {
    let observation = Observation::Tasks(vec![task("b", "RUNNING")]);
    let t = Timing {
        give_up_at_ms: NOW,
        republish_at_ms: Some(NOW),
        ..timing()
    };
    assert!(matches!(
        poll(&observation, Some(NOW), NOW, &t).as_slice(),
        [DrainStep::Complete {
            reason: CompleteReason::DeadlineReached,
            ..
        }]
    ));
}

#[test]
fn a_later_delivery_carries_its_start_and_heartbeats_at_once() {
    let carried = Carried {
        drain_started_at_ms: Some(NOW - 3_600_000),
        attempt: 3,
    };
    let configured = TimingPolicy {
        heartbeat_timeout: Some(Duration::from_secs(300)),
        ..policy()
    };
    // A republished message keeps the notification's own time, before the carried start.
    let notified = Some(NOW - 3_600_010);
    let mut state = DrainState::start(configured, notified, carried, Some(NOW + 60_000), NOW);
    assert_eq!(state.started_at_ms(), NOW - 3_600_000);
    assert_eq!(
        state.timing().map(|t| (t.give_up_at_ms, t.republish_at_ms)),
        Some((NOW + 3_600_000, Some(NOW + 40_000)))
    );
    state.record(Outcome::InstanceFound(Some(ARN.into())), NOW);
    state.record(Outcome::DrainingSet(DrainingState::Draining), NOW);
    state.record(Outcome::TasksListed(vec![task("a", "RUNNING")]), NOW);
    assert_eq!(decide(&state, NOW), DrainStep::Heartbeat);
}
