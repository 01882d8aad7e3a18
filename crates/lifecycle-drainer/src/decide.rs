//! The drain's decisions, as pure functions of the notice, what was observed and the clock.
//! The handler only executes them.
//!
//! Order of precedence in [`decide`] (first match wins):
//! 1. the instance is not in the cluster → complete CONTINUE;
//! 2. nothing on it holds the host any more → complete CONTINUE;
//! 3. the total drain deadline has passed → give up: complete with `DEADLINE_RESULT` if the
//!    tasks are known, otherwise stop without completing (never complete blind);
//! 4. the invocation's deadline (minus the margin) has come → republish;
//! 5. otherwise wait: heartbeat first if one is due, then sleep until the next poll, the next
//!    heartbeat, the republish point or the total deadline, whichever is first.

use std::time::Duration;

use capacity_aws::drain::{LifecycleActionRef, LifecycleActionResult, ObservedTask};

use crate::event::{Notice, TERMINATING};

/// Why a notification needs no work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    TestNotification,
    /// A transition other than `autoscaling:EC2_INSTANCE_TERMINATING`.
    OtherTransition(String),
}

/// The first decision, from the notice alone: skip it, or drain for this action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage<'a> {
    Skip(SkipReason),
    Drain(&'a LifecycleActionRef),
}

/// Test notifications and other transitions are skipped, with no AWS call.
pub fn triage(notice: &Notice) -> Triage<'_> {
    match notice {
        Notice::Test { .. } => Triage::Skip(SkipReason::TestNotification),
        Notice::Transition { transition, .. } if transition != TERMINATING => {
            Triage::Skip(SkipReason::OtherTransition(transition.clone()))
        }
        Notice::Transition { action, .. } => Triage::Drain(action),
    }
}

/// What the last look at the container instance found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The cluster has no container instance on this EC2 instance.
    NotInCluster,
    /// The instance is DRAINING and these tasks are placed on it (stopped ones included).
    Tasks(Vec<ObservedTask>),
    /// The look failed (after the SDK's retries); the state is unknown.
    Unavailable,
}

/// Why the action is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteReason {
    /// No container instance on the EC2 instance: nothing to drain.
    NotInCluster,
    /// Every task on the instance is STOPPED.
    Drained,
    /// The total drain deadline passed with tasks still there.
    DeadlineReached,
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainStep {
    /// CompleteLifecycleAction with `result`.
    Complete {
        result: LifecycleActionResult,
        reason: CompleteReason,
        /// Tasks still holding the host (only when giving up at the deadline).
        still_running: Vec<ObservedTask>,
    },
    /// The total deadline passed and the instance's tasks could not be read: stop without
    /// completing, and let the hook's own timeout decide.
    GiveUpUnobserved,
    /// Republish the notification and end this invocation.
    Republish,
    /// Record a heartbeat first if `heartbeat`, then sleep `sleep` and look again.
    Wait { heartbeat: bool, sleep: Duration },
}

/// The time limits of one drain, in epoch milliseconds where they are instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub poll_interval: Duration,
    /// How often to record a heartbeat (well under the hook's heartbeat timeout).
    pub heartbeat_interval: Duration,
    /// When this invocation must stop waiting and republish; `None`: the invocation's
    /// deadline is unknown.
    pub republish_at_ms: Option<u64>,
    /// When the drain as a whole must end.
    pub give_up_at_ms: u64,
    /// The result of a completion at `give_up_at_ms`.
    pub deadline_result: LifecycleActionResult,
}

/// The next step from the last observation, the last heartbeat (`None`: none known, one is
/// due now) and the time now.
pub fn decide(
    observation: &Observation,
    last_heartbeat_at_ms: Option<u64>,
    now_ms: u64,
    timing: &Timing,
) -> DrainStep {
    let still_running: Option<Vec<ObservedTask>> = match observation {
        Observation::NotInCluster => {
            return complete(
                LifecycleActionResult::Continue,
                CompleteReason::NotInCluster,
                Vec::new(),
            );
        }
        Observation::Tasks(tasks) => {
            let holding: Vec<ObservedTask> = tasks
                .iter()
                .filter(|t| t.holds_the_host())
                .cloned()
                .collect();
            if holding.is_empty() {
                return complete(
                    LifecycleActionResult::Continue,
                    CompleteReason::Drained,
                    Vec::new(),
                );
            }
            Some(holding)
        }
        Observation::Unavailable => None,
    };

    if now_ms >= timing.give_up_at_ms {
        return match still_running {
            Some(tasks) => complete(
                timing.deadline_result,
                CompleteReason::DeadlineReached,
                tasks,
            ),
            None => DrainStep::GiveUpUnobserved,
        };
    }
    if timing.republish_at_ms.is_some_and(|at| now_ms >= at) {
        return DrainStep::Republish;
    }

    let interval = millis(timing.heartbeat_interval);
    let heartbeat_due_at =
        last_heartbeat_at_ms.map_or(now_ms, |last| last.saturating_add(interval));
    let heartbeat = now_ms >= heartbeat_due_at;
    let next_heartbeat_at = if heartbeat {
        now_ms.saturating_add(interval)
    } else {
        heartbeat_due_at
    };
    let mut wake_at = now_ms
        .saturating_add(millis(timing.poll_interval))
        .min(next_heartbeat_at)
        .min(timing.give_up_at_ms);
    if let Some(at) = timing.republish_at_ms {
        wake_at = wake_at.min(at);
    }
    DrainStep::Wait {
        heartbeat,
        sleep: Duration::from_millis(wake_at.saturating_sub(now_ms)),
    }
}

fn complete(
    result: LifecycleActionResult,
    reason: CompleteReason,
    still_running: Vec<ObservedTask>,
) -> DrainStep {
    DrainStep::Complete {
        result,
        reason,
        still_running,
    }
}

/// Whole milliseconds of `d`, saturating (durations here are at most days).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

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

    fn action() -> LifecycleActionRef {
        LifecycleActionRef {
            auto_scaling_group_name: "asg".into(),
            lifecycle_hook_name: "hook".into(),
            ec2_instance_id: "i-1".into(),
            token: None,
        }
    }

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

    #[test]
    fn an_instance_not_in_the_cluster_completes_at_once_even_past_every_deadline() {
        let step = decide(&Observation::NotInCluster, None, NOW + 9_000_000, &timing());
        assert_eq!(
            step,
            complete(
                LifecycleActionResult::Continue,
                CompleteReason::NotInCluster,
                vec![]
            )
        );
    }

    #[test]
    fn an_instance_whose_tasks_are_all_stopped_is_drained() {
        let observation = Observation::Tasks(vec![task("a", "STOPPED"), task("b", "STOPPED")]);
        assert_eq!(
            decide(&observation, Some(NOW), NOW, &timing()),
            complete(
                LifecycleActionResult::Continue,
                CompleteReason::Drained,
                vec![]
            )
        );
        assert_eq!(
            decide(&Observation::Tasks(vec![]), Some(NOW), NOW, &timing()),
            complete(
                LifecycleActionResult::Continue,
                CompleteReason::Drained,
                vec![]
            )
        );
    }

    #[test]
    fn a_task_still_stopping_holds_the_drain() {
        for status in ["RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"] {
            let observation = Observation::Tasks(vec![task("a", "STOPPED"), task("b", status)]);
            assert_eq!(
                decide(&observation, Some(NOW), NOW, &timing()),
                DrainStep::Wait {
                    heartbeat: false,
                    sleep: Duration::from_secs(5)
                },
                "{status}"
            );
        }
    }

    #[test]
    fn a_heartbeat_is_due_once_its_interval_has_passed_or_none_is_known() {
        let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
        assert_eq!(
            decide(&observation, Some(NOW - 60_000), NOW, &timing()),
            DrainStep::Wait {
                heartbeat: true,
                sleep: Duration::from_secs(5)
            }
        );
        assert_eq!(
            decide(&observation, None, NOW, &timing()),
            DrainStep::Wait {
                heartbeat: true,
                sleep: Duration::from_secs(5)
            }
        );
    }

    #[test]
    fn the_sleep_ends_at_the_next_heartbeat_republish_point_or_deadline() {
        let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
        // Heartbeat due in 2 s.
        assert_eq!(
            decide(&observation, Some(NOW - 58_000), NOW, &timing()),
            DrainStep::Wait {
                heartbeat: false,
                sleep: Duration::from_secs(2)
            }
        );
        // Republish point in 1.5 s.
        let t = Timing {
            republish_at_ms: Some(NOW + 1_500),
            ..timing()
        };
        assert_eq!(
            decide(&observation, Some(NOW), NOW, &t),
            DrainStep::Wait {
                heartbeat: false,
                sleep: Duration::from_millis(1_500)
            }
        );
        // Total deadline in 1 s.
        let t = Timing {
            give_up_at_ms: NOW + 1_000,
            ..timing()
        };
        assert_eq!(
            decide(&observation, Some(NOW), NOW, &t),
            DrainStep::Wait {
                heartbeat: false,
                sleep: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn near_the_invocation_deadline_the_drain_republishes() {
        let observation = Observation::Tasks(vec![task("a", "RUNNING")]);
        let t = Timing {
            republish_at_ms: Some(NOW),
            ..timing()
        };
        assert_eq!(
            decide(&observation, Some(NOW), NOW, &t),
            DrainStep::Republish
        );
        assert_eq!(
            decide(&Observation::Unavailable, Some(NOW), NOW, &t),
            DrainStep::Republish
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
            decide(&observation, Some(NOW), NOW + 3_600_000, &t),
            DrainStep::Wait {
                heartbeat: true,
                sleep: Duration::from_secs(5)
            }
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
            decide(&observation, Some(NOW), NOW, &t),
            complete(
                LifecycleActionResult::Abandon,
                CompleteReason::DeadlineReached,
                vec![task("b", "RUNNING")]
            )
        );
    }

    #[test]
    fn an_unreadable_instance_is_never_completed() {
        assert_eq!(
            decide(&Observation::Unavailable, Some(NOW), NOW, &timing()),
            DrainStep::Wait {
                heartbeat: false,
                sleep: Duration::from_secs(5)
            }
        );
        let t = Timing {
            give_up_at_ms: NOW,
            ..timing()
        };
        assert_eq!(
            decide(&Observation::Unavailable, Some(NOW), NOW, &t),
            DrainStep::GiveUpUnobserved
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
            decide(&observation, Some(NOW), NOW, &t),
            DrainStep::Complete {
                reason: CompleteReason::DeadlineReached,
                ..
            }
        ));
    }
}
