//! The handler: parses the event, then for each lifecycle notification executes the steps
//! [`decide`] returns and feeds their outcomes back, until one ends the drain. It holds no
//! rule of its own: every decision and every time limit is in [`crate::decide`] and
//! [`crate::timing`]. Generic over the drain traits and the clock, so tests run it against
//! fakes with a pinned clock.
//!
//! # Errors reported to Lambda
//!
//! The `errorType` of a failed invocation says whether a retry can help
//! ([`HandlerError::error_type`]):
//!
//! * `Retryable.DrainIncomplete`: some notification could not be handled to the end (the
//!   republish failed, the EventBridge form came without `REPUBLISH_TOPIC_ARN`, or the
//!   drain reached its deadline without being able to read the instance's tasks). Lambda
//!   retries the event (SNS and EventBridge invoke asynchronously); the records already
//!   handled are idempotent.
//! * `Permanent.InvalidEvent`: the input is not a lifecycle notification (the message
//!   names what is wrong and where); a retry would fail the same way.

use capacity_aws::drain::{
    ActionAnswer, DrainApi, DrainError, DrainingState, LifecycleActionRef, LifecycleActionResult,
    ObservedTask,
};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use tracing::Instrument;

use crate::Clock;
use crate::config::Config;
use crate::decide::{
    CompleteReason, DrainState, DrainStep, Outcome, SkipReason, Triage, decide, triage,
};
use crate::event::{EventError, LifecycleRequest, Notice, parse_event};
use crate::timing::{HookRead, TimingPolicy, known_deadline};

pub use crate::timing::{FALLBACK_HEARTBEAT_TIMEOUT, MAX_GLOBAL_TIMEOUT};

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
        source: DrainError,
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
    /// `error_type` reported to Lambda: `Retryable.DrainIncomplete` for a drain that should
    /// be retried, `Permanent.InvalidEvent` for an input never worth retrying (see the
    /// module docs).
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Records {
                retryable: true, ..
            } => "Retryable.DrainIncomplete",
            HandlerError::Event(_) | HandlerError::Records { .. } => "Permanent.InvalidEvent",
        }
    }
}

impl capacity_aws::LambdaError for HandlerError {
    fn error_type(&self) -> &'static str {
        HandlerError::error_type(self)
    }
}

capacity_aws::impl_diagnostic!(HandlerError);

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
    let deadline_ms = known_deadline(invocation_deadline_ms, clock.now_ms());
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
    let notified_at_ms = match &request.notice {
        Notice::Transition { started_at_ms, .. } => *started_at_ms,
        Notice::Test { .. } => None,
    };
    let span = tracing::info_span!(
        "drain",
        cluster = %config.cluster,
        ec2_instance_id = %action.ec2_instance_id,
        auto_scaling_group_name = %action.auto_scaling_group_name,
        lifecycle_hook_name = %action.lifecycle_hook_name,
        attempt = request.carried.attempt,
    );
    let state = DrainState::start(
        TimingPolicy::from(config),
        notified_at_ms,
        request.carried,
        deadline_ms,
        clock.now_ms(),
    );
    Shell {
        request,
        action,
        config,
        aws,
        clock,
        last_error: None,
        tasks_holding: None,
    }
    .run(state)
    .instrument(span)
    .await
}

/// Executes one drain's steps within this invocation. What it keeps is for its reports
/// only (logs and error messages), never for a decision.
struct Shell<'a, A, C> {
    request: &'a LifecycleRequest,
    action: &'a LifecycleActionRef,
    config: &'a Config,
    aws: &'a A,
    clock: &'a C,
    /// The last failed call, named when the drain gives up unobserved.
    last_error: Option<String>,
    /// Tasks holding the host at the last successful look (logged when it changes).
    tasks_holding: Option<usize>,
}

impl<A: DrainApi, C: Clock> Shell<'_, A, C> {
    async fn run(mut self, mut state: DrainState) -> Result<RecordOutcome, RecordError> {
        let mut announced = false;
        loop {
            if !announced && let Some(timing) = state.timing() {
                tracing::info!(
                    started_at_ms = state.started_at_ms(),
                    give_up_at_ms = timing.give_up_at_ms,
                    republish_at_ms = ?timing.republish_at_ms,
                    heartbeat_interval_s = timing.heartbeat_interval.as_secs(),
                    "draining before termination"
                );
                announced = true;
            }
            let outcome = match decide(&state, self.clock.now_ms()) {
                DrainStep::ReadHookTimeouts => Outcome::HookRead(self.read_hook().await),
                DrainStep::FindInstance => self.find().await,
                DrainStep::SetDraining {
                    container_instance_arn,
                } => self.set_draining(&container_instance_arn).await,
                DrainStep::ListTasks {
                    container_instance_arn,
                } => self.list_tasks(&container_instance_arn).await,
                DrainStep::Heartbeat => match self.aws.record_heartbeat(self.action).await {
                    Ok(ActionAnswer::Done) => {
                        tracing::debug!("lifecycle action heartbeat recorded");
                        Outcome::HeartbeatRecorded
                    }
                    Ok(ActionAnswer::NoActiveAction) => {
                        tracing::warn!(
                            container_instance_arn = ?state.container_instance_arn(),
                            "the lifecycle action is no longer active (completed elsewhere or timed out): stopping the drain"
                        );
                        return Ok(RecordOutcome::ActionGone {
                            ec2_instance_id: self.action.ec2_instance_id.clone(),
                        });
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "recording a heartbeat failed; will retry at the next poll");
                        self.last_error = Some(err.to_string());
                        Outcome::HeartbeatFailed
                    }
                },
                DrainStep::Wait { sleep } => {
                    self.clock.sleep(sleep).await;
                    Outcome::Slept
                }
                DrainStep::Republish => return self.republish(state.started_at_ms()).await,
                DrainStep::Complete {
                    result,
                    reason,
                    still_running,
                } => {
                    if reason == CompleteReason::DeadlineReached {
                        log_still_running(&still_running, &state, result);
                    }
                    match self
                        .aws
                        .complete_lifecycle_action(self.action, result)
                        .await
                    {
                        Ok(ActionAnswer::Done) => {
                            tracing::info!(%result, ?reason, container_instance_arn = ?state.container_instance_arn(), "lifecycle action completed");
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
                            self.last_error = Some(err.to_string());
                            Outcome::CompletionFailed
                        }
                    }
                }
                DrainStep::GiveUpUnobserved => {
                    return Err(RecordError::Unobserved {
                        ec2_instance_id: self.action.ec2_instance_id.clone(),
                        last_error: self
                            .last_error
                            .unwrap_or_else(|| "no error recorded".to_owned()),
                    });
                }
            };
            state.record(outcome, self.clock.now_ms());
        }
    }

    async fn read_hook(&self) -> HookRead {
        let answer = self
            .aws
            .hook_timeouts(
                &self.action.auto_scaling_group_name,
                &self.action.lifecycle_hook_name,
            )
            .await;
        match answer {
            Ok(Some(timeouts)) => HookRead::Read(timeouts),
            Ok(None) => {
                tracing::warn!(
                    "the lifecycle hook was not found; heartbeating every {} s",
                    FALLBACK_HEARTBEAT_TIMEOUT.as_secs() / 2
                );
                HookRead::NotFound
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the lifecycle hook; heartbeating every {} s", FALLBACK_HEARTBEAT_TIMEOUT.as_secs() / 2);
                HookRead::Unreadable
            }
        }
    }

    async fn find(&mut self) -> Outcome {
        let found = self
            .aws
            .find_container_instance(&self.config.cluster, &self.action.ec2_instance_id)
            .await;
        match found {
            Ok(Some(arn)) => Outcome::InstanceFound(Some(arn)),
            Ok(None) => {
                tracing::info!(
                    "the EC2 instance is not a container instance of the cluster: nothing to drain"
                );
                Outcome::InstanceFound(None)
            }
            Err(err) => self.unavailable(&err),
        }
    }

    async fn set_draining(&mut self, arn: &str) -> Outcome {
        match self.aws.set_draining(&self.config.cluster, arn).await {
            Ok(DrainingState::Draining) => {
                tracing::info!(container_instance_arn = %arn, "container instance set DRAINING");
                Outcome::DrainingSet(DrainingState::Draining)
            }
            Ok(DrainingState::NotInCluster) => {
                tracing::info!(container_instance_arn = %arn, "the container instance was deregistered: nothing to drain");
                Outcome::DrainingSet(DrainingState::NotInCluster)
            }
            Err(err) => self.unavailable(&err),
        }
    }

    async fn list_tasks(&mut self, arn: &str) -> Outcome {
        match self
            .aws
            .list_instance_tasks(&self.config.cluster, arn)
            .await
        {
            Ok(tasks) => {
                let holding = tasks.iter().filter(|t| t.holds_the_host()).count();
                // Info only when the count changes: a long drain polls thousands of times.
                if self.tasks_holding != Some(holding) {
                    tracing::info!(container_instance_arn = %arn, tasks_holding_the_host = holding, "tasks still on the draining instance");
                    self.tasks_holding = Some(holding);
                } else {
                    tracing::debug!(container_instance_arn = %arn, tasks_holding_the_host = holding, "polled the draining instance");
                }
                Outcome::TasksListed(tasks)
            }
            Err(err) => self.unavailable(&err),
        }
    }

    /// A call of the look failed: the state is unknown, never "not found".
    fn unavailable(&mut self, err: &DrainError) -> Outcome {
        tracing::warn!(error = %err, "cannot observe the instance; will retry at the next poll");
        self.last_error = Some(err.to_string());
        Outcome::LookFailed
    }

    async fn republish(&self, started_at_ms: u64) -> Result<RecordOutcome, RecordError> {
        let ec2_instance_id = self.action.ec2_instance_id.clone();
        let Some(republication) = self
            .request
            .republication(self.config.republish_topic_arn.as_deref(), started_at_ms)
        else {
            return Err(RecordError::NoTopic { ec2_instance_id });
        };
        let topic_arn = republication.topic_arn.clone();
        let next_attempt = self.request.carried.next_attempt();
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

fn log_still_running(
    still_running: &[ObservedTask],
    state: &DrainState,
    result: LifecycleActionResult,
) {
    let tasks: Vec<String> = still_running
        .iter()
        .map(|t| format!("{} ({})", t.task_arn, t.last_status))
        .collect();
    tracing::error!(
        container_instance_arn = ?state.container_instance_arn(),
        started_at_ms = state.started_at_ms(),
        %result,
        still_running = tasks.len(),
        tasks = %tasks.join(", "),
        "DRAIN DEADLINE REACHED: completing the lifecycle action with tasks still on the instance"
    );
}
