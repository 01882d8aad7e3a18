//! The drain's decisions, as pure functions: what is known so far ([`DrainState`]) and the
//! time now give the next step ([`decide`]); the step's outcome is fed back
//! ([`DrainState::record`]). The handler only executes the steps.
//!
//! A drain, within one invocation:
//! 1. read the hook's timeouts, unless configured ([`DrainStep::ReadHookTimeouts`]);
//! 2. look at the instance: find it, set it DRAINING (once), list its tasks
//!    ([`DrainStep::FindInstance`], [`DrainStep::SetDraining`], [`DrainStep::ListTasks`]).
//!    A failed call ends the look as [`Observation::Unavailable`], never "not found"; so
//!    does a failed completion (a back-off: the next look comes after a wait);
//! 3. decide, at the time the look ended (first match wins):
//!    1. the instance is not in the cluster → complete CONTINUE;
//!    2. nothing on it holds the host any more → complete CONTINUE;
//!    3. the total drain deadline has passed → complete with `DEADLINE_RESULT` if the tasks
//!       are known, otherwise give up without completing (never complete blind);
//!    4. the republish point has come → republish;
//!    5. otherwise wait: heartbeat first if one is due, then sleep until the next poll, the
//!       next heartbeat, the republish point or the total deadline, whichever is first. The
//!       wake-up is an instant: a slow heartbeat shortens the sleep, never delays it.
//!
//! The timing rules themselves are in [`crate::timing`].

use std::time::Duration;

use capacity_aws::drain::{DrainingState, LifecycleActionRef, LifecycleActionResult, ObservedTask};

use crate::event::{Carried, Notice, TERMINATING};
use crate::timing::{
    HookRead, Timing, TimingPolicy, drain_started_at, heartbeat_known_at_start, millis,
};

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
    /// The look failed (after the SDK's retries), or a completion did: the state is unknown.
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
    /// DescribeLifecycleHooks: the hook's timeouts decide the heartbeats and the deadline.
    ReadHookTimeouts,
    /// Find the container instance on the EC2 instance.
    FindInstance,
    /// Set the container instance DRAINING.
    SetDraining { container_instance_arn: String },
    /// Read the tasks placed on the container instance.
    ListTasks { container_instance_arn: String },
    /// RecordLifecycleActionHeartbeat, then ask again (the wait follows).
    Heartbeat,
    /// Sleep, then look again.
    Wait { sleep: Duration },
    /// Republish the notification and end this invocation.
    Republish,
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
}

/// What a step's call answered, fed back with [`DrainState::record`]. The answers that end
/// the drain (a completion accepted or refused, a heartbeat refused, a republish) are not
/// fed back: the handler returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    HookRead(HookRead),
    /// The container instance's ARN, or `None`: not in the cluster.
    InstanceFound(Option<String>),
    DrainingSet(DrainingState),
    TasksListed(Vec<ObservedTask>),
    /// A call of the look failed: the state is unknown.
    LookFailed,
    HeartbeatRecorded,
    /// The heartbeat call failed; it is tried again at the next look's wait.
    HeartbeatFailed,
    /// The completion call failed: back off, look again after a wait.
    CompletionFailed,
    Slept,
}

/// What the drain knows about the container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Instance {
    Unknown,
    Found {
        container_instance_arn: String,
        /// Set DRAINING in this invocation.
        draining: bool,
    },
}

/// Where the drain is in its current poll.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Round {
    /// Looking at the instance: some of the look's calls remain.
    Looking,
    /// The look ended at `at_ms` with `observation`; the decisions of this round are taken
    /// at that time.
    Looked {
        at_ms: u64,
        observation: Observation,
        heartbeat_tried: bool,
    },
}

/// What one invocation knows of the drain so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainState {
    policy: TimingPolicy,
    started_at_ms: u64,
    deadline_ms: Option<u64>,
    /// Known once the hook's timeouts are.
    timing: Option<Timing>,
    instance: Instance,
    last_heartbeat_at_ms: Option<u64>,
    round: Round,
}

impl DrainState {
    /// A drain starting now in an invocation whose deadline is `deadline_ms` (`None`:
    /// unknown, never republish), for a notification that says the action started at
    /// `notified_at_ms` and carried `carried` over from earlier invocations.
    pub fn start(
        policy: TimingPolicy,
        notified_at_ms: Option<u64>,
        carried: Carried,
        deadline_ms: Option<u64>,
        now_ms: u64,
    ) -> DrainState {
        let started_at_ms = drain_started_at(carried.drain_started_at_ms, notified_at_ms, now_ms);
        let timing = policy
            .configured_hook()
            .map(|hook| Timing::plan(&policy, hook, started_at_ms, deadline_ms));
        DrainState {
            policy,
            started_at_ms,
            deadline_ms,
            timing,
            instance: Instance::Unknown,
            last_heartbeat_at_ms: heartbeat_known_at_start(carried.attempt, started_at_ms),
            round: Round::Looking,
        }
    }

    /// When the drain started (epoch ms), across invocations.
    pub fn started_at_ms(&self) -> u64 {
        self.started_at_ms
    }

    /// The drain's time limits, once the hook's timeouts are known.
    pub fn timing(&self) -> Option<&Timing> {
        self.timing.as_ref()
    }

    /// The container instance, once found.
    pub fn container_instance_arn(&self) -> Option<&str> {
        match &self.instance {
            Instance::Found {
                container_instance_arn,
                ..
            } => Some(container_instance_arn),
            Instance::Unknown => None,
        }
    }

    /// Learns what the last step's call answered, at `now_ms` (the time it returned).
    pub fn record(&mut self, outcome: Outcome, now_ms: u64) {
        let looked = |observation| Round::Looked {
            at_ms: now_ms,
            observation,
            heartbeat_tried: false,
        };
        match outcome {
            Outcome::HookRead(read) => {
                self.timing = Some(Timing::plan(
                    &self.policy,
                    read.timeouts(),
                    self.started_at_ms,
                    self.deadline_ms,
                ));
            }
            Outcome::InstanceFound(Some(container_instance_arn)) => {
                self.instance = Instance::Found {
                    container_instance_arn,
                    draining: false,
                };
            }
            Outcome::InstanceFound(None) | Outcome::DrainingSet(DrainingState::NotInCluster) => {
                self.round = looked(Observation::NotInCluster);
            }
            Outcome::DrainingSet(DrainingState::Draining) => {
                if let Instance::Found { draining, .. } = &mut self.instance {
                    *draining = true;
                }
            }
            Outcome::TasksListed(tasks) => self.round = looked(Observation::Tasks(tasks)),
            Outcome::LookFailed | Outcome::CompletionFailed => {
                self.round = looked(Observation::Unavailable);
            }
            Outcome::HeartbeatRecorded | Outcome::HeartbeatFailed => {
                if let Round::Looked {
                    at_ms,
                    heartbeat_tried,
                    ..
                } = &mut self.round
                {
                    *heartbeat_tried = true;
                    if outcome == Outcome::HeartbeatRecorded {
                        self.last_heartbeat_at_ms = Some(*at_ms);
                    }
                }
            }
            Outcome::Slept => self.round = Round::Looking,
        }
    }
}

/// The next step, from what is known and the time now (which only sets how long to sleep:
/// the decisions of a poll are taken at the time its look ended).
pub fn decide(state: &DrainState, now_ms: u64) -> DrainStep {
    let Some(timing) = &state.timing else {
        return DrainStep::ReadHookTimeouts;
    };
    match &state.round {
        Round::Looking => match &state.instance {
            Instance::Unknown => DrainStep::FindInstance,
            Instance::Found {
                container_instance_arn,
                draining: false,
            } => DrainStep::SetDraining {
                container_instance_arn: container_instance_arn.clone(),
            },
            Instance::Found {
                container_instance_arn,
                draining: true,
            } => DrainStep::ListTasks {
                container_instance_arn: container_instance_arn.clone(),
            },
        },
        Round::Looked {
            at_ms,
            observation,
            heartbeat_tried,
        } => after_look(
            observation,
            state.last_heartbeat_at_ms,
            *heartbeat_tried,
            *at_ms,
            now_ms,
            timing,
        ),
    }
}

/// The decision of a poll whose look ended at `at_ms` with `observation`.
fn after_look(
    observation: &Observation,
    last_heartbeat_at_ms: Option<u64>,
    heartbeat_tried: bool,
    at_ms: u64,
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

    if at_ms >= timing.give_up_at_ms {
        return match still_running {
            Some(tasks) => complete(
                timing.deadline_result,
                CompleteReason::DeadlineReached,
                tasks,
            ),
            None => DrainStep::GiveUpUnobserved,
        };
    }
    if timing.republish_at_ms.is_some_and(|at| at_ms >= at) {
        return DrainStep::Republish;
    }

    let interval = millis(timing.heartbeat_interval);
    let heartbeat_due_at = last_heartbeat_at_ms.map_or(at_ms, |last| last.saturating_add(interval));
    let heartbeat_due = at_ms >= heartbeat_due_at;
    if heartbeat_due && !heartbeat_tried {
        return DrainStep::Heartbeat;
    }
    let next_heartbeat_at = if heartbeat_due {
        at_ms.saturating_add(interval)
    } else {
        heartbeat_due_at
    };
    let mut wake_at = at_ms
        .saturating_add(millis(timing.poll_interval))
        .min(next_heartbeat_at)
        .min(timing.give_up_at_ms);
    if let Some(at) = timing.republish_at_ms {
        wake_at = wake_at.min(at);
    }
    DrainStep::Wait {
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

#[cfg(test)]
mod tests;
