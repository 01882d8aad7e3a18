//! The handler: parses the event, then for each lifecycle notification observes the
//! instance and executes the steps [`decide`] returns. Generic over the drain traits and
//! the clock, so unit tests run it against fakes with a pinned clock.

use std::time::Duration;

use capacity_aws::drain::{
    ActionAnswer, AttributeValue, DrainApi, DrainingState, HookTimeouts, LifecycleActionRef,
    LifecycleActionResult, ObservedTask, Republication,
};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use tracing::Instrument;

use crate::Clock;
use crate::config::Config;
use crate::decide::{
    CompleteReason, DrainStep, Observation, SkipReason, Timing, Triage, decide, millis, triage,
};
use crate::event::{
    ATTR_DRAIN_ATTEMPT, ATTR_DRAIN_STARTED_AT, Delivery, EventError, LifecycleRequest, Notice,
    parse_event,
};

/// Used when the hook's heartbeat timeout is neither configured nor readable: Auto Scaling's
/// minimum, so heartbeats are never too rare.
pub const FALLBACK_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// Auto Scaling's ceiling on a hook's global timeout.
pub const MAX_GLOBAL_TIMEOUT: Duration = Duration::from_secs(48 * 3600);

/// How one notification ended (the function's response lists one per record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RecordOutcome {
    /// Nothing to do (test notification, other transition).
    Skipped { reason: String },
    /// CompleteLifecycleAction was accepted.
    Completed {
        ec2_instance_id: String,
        result: String,
        reason: String,
    },
    /// Completion answered "No active Lifecycle Action found": an earlier delivery already
    /// completed it.
    AlreadyCompleted { ec2_instance_id: String },
    /// A heartbeat answered "No active Lifecycle Action found": someone else completed the
    /// action, or it timed out. Nothing is left to wait for.
    ActionGone { ec2_instance_id: String },
    /// The invocation's deadline came first; the notification was published again.
    Republished {
        ec2_instance_id: String,
        topic_arn: String,
        message_id: String,
        next_attempt: u32,
    },
}

/// A notification that could not be handled to the end.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error(transparent)]
    Invalid(#[from] EventError),
    #[error("cannot republish the drain of instance {ec2_instance_id}: {source}")]
    Republish {
        ec2_instance_id: String,
        #[source]
        source: capacity_aws::drain::DrainError,
    },
    #[error(
        "cannot continue the drain of instance {ec2_instance_id} past this invocation: the EventBridge form has no topic to republish to; set REPUBLISH_TOPIC_ARN"
    )]
    NoTopic { ec2_instance_id: String },
    #[error(
        "the drain of instance {ec2_instance_id} reached its deadline without being able to read its tasks ({last_error}); not completing the lifecycle action: the hook's timeout will apply"
    )]
    Unobserved {
        ec2_instance_id: String,
        last_error: String,
    },
}

impl RecordError {
    /// Retrying the invocation can help (not so for an event that is not a notification).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, RecordError::Invalid(_))
    }
}

/// The invocation failed: the input is unusable, or some records were not handled. Lambda
/// retries the event (SNS and EventBridge invoke asynchronously); records already handled
/// are idempotent.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{failed} of {total} lifecycle notifications failed: {messages}")]
    Records {
        failed: usize,
        total: usize,
        messages: String,
        retryable: bool,
    },
}

impl HandlerError {
    /// `error_type` reported to Lambda: tells an input never worth retrying from a drain
    /// that should be retried.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Records {
                retryable: true, ..
            } => "DrainIncomplete",
            HandlerError::Event(_) | HandlerError::Records { .. } => "InvalidEvent",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Handles one invocation. `invocation_deadline_ms` is Lambda's `Context.deadline` (epoch
/// ms); a deadline not in the future counts as unknown (`cargo lambda watch` sends 600000),
/// and then the drain never republishes.
pub async fn handle<A, C>(
    event: Value,
    invocation_deadline_ms: u64,
    config: &Config,
    aws: &A,
    clock: &C,
) -> Result<Value, HandlerError>
where
    A: DrainApi,
    C: Clock,
{
    let records = parse_event(event)?;
    let now = clock.now_ms();
    let deadline_ms = (invocation_deadline_ms > now).then_some(invocation_deadline_ms);
    if deadline_ms.is_none() {
        tracing::info!(
            invocation_deadline_ms,
            "the invocation's deadline is in the past: treating it as unknown, the drain will not republish"
        );
    }
    let total = records.len();
    let mut outcomes = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for record in records {
        let result = match record {
            Ok(request) => drain_record(&request, deadline_ms, config, aws, clock).await,
            Err(err) => Err(RecordError::Invalid(err)),
        };
        match result {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                tracing::error!(cluster = %config.cluster, error = %err, "lifecycle notification not handled");
                failures.push(err);
            }
        }
    }
    if !failures.is_empty() {
        return Err(HandlerError::Records {
            failed: failures.len(),
            total,
            retryable: failures.iter().any(RecordError::is_retryable),
            messages: failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    Ok(serde_json::json!({ "records": outcomes }))
}

async fn drain_record<A, C>(
    request: &LifecycleRequest,
    deadline_ms: Option<u64>,
    config: &Config,
    aws: &A,
    clock: &C,
) -> Result<RecordOutcome, RecordError>
where
    A: DrainApi,
    C: Clock,
{
    let action = match triage(&request.notice) {
        Triage::Skip(reason) => {
            let reason = match reason {
                SkipReason::TestNotification => {
                    tracing::info!("test notification: nothing to drain");
                    "test notification".to_owned()
                }
                SkipReason::OtherTransition(transition) => {
                    tracing::info!(%transition, "not a termination: nothing to drain");
                    format!("transition {transition}")
                }
            };
            return Ok(RecordOutcome::Skipped { reason });
        }
        Triage::Drain(action) => action,
    };
    let span = tracing::info_span!(
        "drain",
        cluster = %config.cluster,
        ec2_instance_id = %action.ec2_instance_id,
        auto_scaling_group_name = %action.auto_scaling_group_name,
        lifecycle_hook_name = %action.lifecycle_hook_name,
        attempt = request.carried.attempt,
    );
    Drain {
        request,
        action,
        deadline_ms,
        config,
        aws,
        clock,
    }
    .run()
    .instrument(span)
    .await
}

/// One drain in progress, within this invocation.
struct Drain<'a, A, C> {
    request: &'a LifecycleRequest,
    action: &'a LifecycleActionRef,
    deadline_ms: Option<u64>,
    config: &'a Config,
    aws: &'a A,
    clock: &'a C,
}

/// What the loop has learnt so far in this invocation.
#[derive(Debug, Default)]
struct Progress {
    container_instance_arn: Option<String>,
    draining: bool,
    last_error: Option<String>,
    /// The last call failed: skip the next look, wait first.
    back_off: bool,
    /// Tasks holding the host at the last successful look.
    tasks_holding: Option<usize>,
}

impl<A: DrainApi, C: Clock> Drain<'_, A, C> {
    async fn run(self) -> Result<RecordOutcome, RecordError> {
        let now = self.clock.now_ms();
        let notice_started = match &self.request.notice {
            Notice::Transition { started_at_ms, .. } => *started_at_ms,
            Notice::Test { .. } => None,
        };
        // The carried start survives republishing; the notification's own time is when the
        // hook's global timeout started. Never in the future (clock skew).
        let started_at_ms = self
            .request
            .carried
            .drain_started_at_ms
            .or(notice_started)
            .map_or(now, |t| t.min(now));
        let hook = self.hook_timeouts().await;
        let mut limit = self.config.max_drain;
        if let Some(global) = hook.global_timeout {
            limit = limit.min(global.saturating_sub(self.config.deadline_margin));
        }
        let timing = Timing {
            poll_interval: self.config.poll_interval,
            heartbeat_interval: hook.heartbeat_timeout / 2,
            republish_at_ms: self
                .deadline_ms
                .map(|d| d.saturating_sub(millis(self.config.deadline_margin))),
            give_up_at_ms: started_at_ms.saturating_add(millis(limit)),
            deadline_result: self.config.deadline_result,
        };
        // The first delivery comes as the action starts, with its heartbeat timeout fresh;
        // a later one cannot know when the last heartbeat was, so one is due at once.
        let mut last_heartbeat_at_ms = (self.request.carried.attempt == 1).then_some(started_at_ms);
        tracing::info!(
            started_at_ms,
            give_up_at_ms = timing.give_up_at_ms,
            republish_at_ms = ?timing.republish_at_ms,
            heartbeat_interval_s = timing.heartbeat_interval.as_secs(),
            "draining before termination"
        );

        let mut progress = Progress::default();
        loop {
            let observation = if progress.back_off {
                progress.back_off = false;
                Observation::Unavailable
            } else {
                self.observe(&mut progress).await
            };
            let now = self.clock.now_ms();
            match decide(&observation, last_heartbeat_at_ms, now, &timing) {
                DrainStep::Complete {
                    result,
                    reason,
                    still_running,
                } => {
                    if reason == CompleteReason::DeadlineReached {
                        log_still_running(&still_running, &progress, started_at_ms, result);
                    }
                    match self
                        .aws
                        .complete_lifecycle_action(self.action, result)
                        .await
                    {
                        Ok(ActionAnswer::Done) => {
                            tracing::info!(%result, ?reason, container_instance_arn = ?progress.container_instance_arn, "lifecycle action completed");
                            return Ok(RecordOutcome::Completed {
                                ec2_instance_id: self.action.ec2_instance_id.clone(),
                                result: result.to_string(),
                                reason: format!("{reason:?}"),
                            });
                        }
                        Ok(ActionAnswer::NoActiveAction) => {
                            tracing::info!(
                                "no active lifecycle action: an earlier delivery already completed it"
                            );
                            return Ok(RecordOutcome::AlreadyCompleted {
                                ec2_instance_id: self.action.ec2_instance_id.clone(),
                            });
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "completing the lifecycle action failed; will retry");
                            progress.last_error = Some(err.to_string());
                            progress.back_off = true;
                        }
                    }
                }
                DrainStep::GiveUpUnobserved => {
                    return Err(RecordError::Unobserved {
                        ec2_instance_id: self.action.ec2_instance_id.clone(),
                        last_error: progress
                            .last_error
                            .unwrap_or_else(|| "no error recorded".to_owned()),
                    });
                }
                DrainStep::Republish => return self.republish(started_at_ms).await,
                DrainStep::Wait { heartbeat, sleep } => {
                    // The wake-up is an instant: a slow heartbeat call must not push it past
                    // the next poll, the republish point or the deadline.
                    let wake_at_ms = now.saturating_add(millis(sleep));
                    if heartbeat {
                        match self.aws.record_heartbeat(self.action).await {
                            Ok(ActionAnswer::Done) => {
                                tracing::debug!("lifecycle action heartbeat recorded");
                                last_heartbeat_at_ms = Some(now);
                            }
                            Ok(ActionAnswer::NoActiveAction) => {
                                tracing::warn!(
                                    container_instance_arn = ?progress.container_instance_arn,
                                    "the lifecycle action is no longer active (completed elsewhere or timed out): stopping the drain"
                                );
                                return Ok(RecordOutcome::ActionGone {
                                    ec2_instance_id: self.action.ec2_instance_id.clone(),
                                });
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "recording a heartbeat failed; will retry at the next poll");
                                progress.last_error = Some(err.to_string());
                            }
                        }
                    }
                    let left = wake_at_ms.saturating_sub(self.clock.now_ms());
                    self.clock.sleep(Duration::from_millis(left)).await;
                }
            }
        }
    }

    /// The hook's timeouts: configured, else read from the hook, else the safest guess
    /// (heartbeat as often as the shortest timeout allows, and end the drain within the
    /// shortest global timeout a hook can have).
    async fn hook_timeouts(&self) -> KnownTimeouts {
        if let Some(heartbeat_timeout) = self.config.heartbeat_timeout {
            return KnownTimeouts {
                heartbeat_timeout,
                global_timeout: Some(MAX_GLOBAL_TIMEOUT.min(heartbeat_timeout * 100)),
            };
        }
        let answer = self
            .aws
            .hook_timeouts(
                &self.action.auto_scaling_group_name,
                &self.action.lifecycle_hook_name,
            )
            .await;
        match answer {
            Ok(Some(HookTimeouts {
                heartbeat_timeout,
                global_timeout,
            })) => KnownTimeouts {
                heartbeat_timeout,
                global_timeout: Some(global_timeout),
            },
            Ok(None) => {
                tracing::warn!(
                    "the lifecycle hook was not found; heartbeating every {} s",
                    FALLBACK_HEARTBEAT_TIMEOUT.as_secs() / 2
                );
                KnownTimeouts::fallback()
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the lifecycle hook; heartbeating every {} s", FALLBACK_HEARTBEAT_TIMEOUT.as_secs() / 2);
                KnownTimeouts::fallback()
            }
        }
    }

    /// Finds the container instance, sets it DRAINING (once per invocation) and reads its
    /// tasks. A failed call is [`Observation::Unavailable`], never "not found".
    async fn observe(&self, progress: &mut Progress) -> Observation {
        let cluster = &self.config.cluster;
        let arn = match &progress.container_instance_arn {
            Some(arn) => arn.clone(),
            None => match self
                .aws
                .find_container_instance(cluster, &self.action.ec2_instance_id)
                .await
            {
                Ok(Some(arn)) => {
                    progress.container_instance_arn = Some(arn.clone());
                    arn
                }
                Ok(None) => {
                    tracing::info!(
                        "the EC2 instance is not a container instance of the cluster: nothing to drain"
                    );
                    return Observation::NotInCluster;
                }
                Err(err) => return unavailable(progress, err),
            },
        };
        if !progress.draining {
            match self.aws.set_draining(cluster, &arn).await {
                Ok(DrainingState::Draining) => {
                    tracing::info!(container_instance_arn = %arn, "container instance set DRAINING");
                    progress.draining = true;
                }
                Ok(DrainingState::NotInCluster) => {
                    tracing::info!(container_instance_arn = %arn, "the container instance was deregistered: nothing to drain");
                    return Observation::NotInCluster;
                }
                Err(err) => return unavailable(progress, err),
            }
        }
        match self.aws.list_instance_tasks(cluster, &arn).await {
            Ok(tasks) => {
                let holding = tasks.iter().filter(|t| t.holds_the_host()).count();
                // Info only when the count changes: a long drain polls thousands of times.
                if progress.tasks_holding != Some(holding) {
                    tracing::info!(container_instance_arn = %arn, tasks_holding_the_host = holding, "tasks still on the draining instance");
                    progress.tasks_holding = Some(holding);
                } else {
                    tracing::debug!(container_instance_arn = %arn, tasks_holding_the_host = holding, "polled the draining instance");
                }
                Observation::Tasks(tasks)
            }
            Err(err) => unavailable(progress, err),
        }
    }

    async fn republish(&self, started_at_ms: u64) -> Result<RecordOutcome, RecordError> {
        let ec2_instance_id = self.action.ec2_instance_id.clone();
        let (topic_arn, message, subject) = match &self.request.delivery {
            Delivery::Sns {
                topic_arn,
                message,
                subject,
                ..
            } => (
                self.config
                    .republish_topic_arn
                    .clone()
                    .unwrap_or_else(|| topic_arn.clone()),
                message.clone(),
                // SNS refuses a subject over 100 characters; the message is what matters.
                subject
                    .clone()
                    .filter(|s| !s.is_empty() && s.chars().count() <= 100),
            ),
            Delivery::EventBridge { message, .. } => match &self.config.republish_topic_arn {
                Some(topic) => (topic.clone(), message.clone(), None),
                None => return Err(RecordError::NoTopic { ec2_instance_id }),
            },
        };
        let next_attempt = self.request.carried.attempt.saturating_add(1);
        let republication = Republication {
            topic_arn: topic_arn.clone(),
            message,
            subject,
            attributes: vec![
                (
                    ATTR_DRAIN_STARTED_AT.to_owned(),
                    AttributeValue::Number(i64::try_from(started_at_ms).unwrap_or(i64::MAX)),
                ),
                (
                    ATTR_DRAIN_ATTEMPT.to_owned(),
                    AttributeValue::Number(i64::from(next_attempt)),
                ),
            ],
        };
        match self.aws.republish(&republication).await {
            Ok(message_id) => {
                tracing::info!(%topic_arn, %message_id, next_attempt, "invocation deadline near: republished the notification to continue the drain");
                Ok(RecordOutcome::Republished {
                    ec2_instance_id,
                    topic_arn,
                    message_id,
                    next_attempt,
                })
            }
            Err(source) => Err(RecordError::Republish {
                ec2_instance_id,
                source,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct KnownTimeouts {
    heartbeat_timeout: Duration,
    global_timeout: Option<Duration>,
}

impl KnownTimeouts {
    /// The hook could not be read: assume the shortest timeouts any hook can have. Its
    /// global timeout is min(48 h, 100 × heartbeat timeout), so at least 100 × 30 s; waiting
    /// longer than that (MAX_DRAIN_SECONDS defaults to 2 h) would let the hook expire with
    /// its default result while tasks still run, instead of completing at the deadline.
    fn fallback() -> KnownTimeouts {
        KnownTimeouts {
            heartbeat_timeout: FALLBACK_HEARTBEAT_TIMEOUT,
            global_timeout: Some(MAX_GLOBAL_TIMEOUT.min(FALLBACK_HEARTBEAT_TIMEOUT * 100)),
        }
    }
}

fn unavailable(progress: &mut Progress, err: capacity_aws::drain::DrainError) -> Observation {
    tracing::warn!(error = %err, "cannot observe the instance; will retry at the next poll");
    progress.last_error = Some(err.to_string());
    Observation::Unavailable
}

fn log_still_running(
    still_running: &[ObservedTask],
    progress: &Progress,
    started_at_ms: u64,
    result: LifecycleActionResult,
) {
    let tasks: Vec<String> = still_running
        .iter()
        .map(|t| format!("{} ({})", t.task_arn, t.last_status))
        .collect();
    tracing::error!(
        container_instance_arn = ?progress.container_instance_arn,
        started_at_ms,
        %result,
        still_running = tasks.len(),
        tasks = %tasks.join(", "),
        "DRAIN DEADLINE REACHED: completing the lifecycle action with tasks still on the instance"
    );
}
