//! Reading what still runs on a container instance.

use std::collections::BTreeSet;
use std::future::Future;

use aws_sdk_ecs::types::DesiredStatus;

use super::client::{AwsDrain, ecs_error};
use super::{DrainError, ObservedTask};
use crate::batch::{DESCRIBE_TASKS_BATCH, is_missing, list_all, name_some, unanswered};

/// ListTasks' page size limit.
const LIST_TASKS_PAGE: i32 = 100;

/// Reads what still runs on a container instance.
pub trait ListInstanceTasks: Send + Sync {
    /// Every task placed on the container instance whose desired status is RUNNING or
    /// STOPPED (so tasks still stopping are included), with its last status. Tasks already
    /// STOPPED may be listed too; [`ObservedTask::holds_the_host`] tells them apart.
    fn list_instance_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> impl Future<Output = Result<Vec<ObservedTask>, DrainError>> + Send;
}

impl ListInstanceTasks for AwsDrain {
    async fn list_instance_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<Vec<ObservedTask>, DrainError> {
        // ListTasks returns desired RUNNING tasks unless told otherwise; a task ECS is
        // stopping has desired STOPPED but may still hold connections, so ask for both.
        // (PENDING is accepted as a filter but never returns anything.) Every page: a failed
        // page fails the whole read, never a partial list.
        let mut arns = BTreeSet::new();
        for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let pages = self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .container_instance(container_instance_arn)
                .desired_status(desired)
                .into_paginator()
                .page_size(LIST_TASKS_PAGE)
                .items()
                .send();
            arns.extend(
                list_all(pages, |e| {
                    ecs_error("ListTasks", cluster, container_instance_arn, e)
                })
                .await?,
            );
        }

        let arns: Vec<String> = arns.into_iter().collect();
        let mut tasks = Vec::with_capacity(arns.len());
        for batch in arns.chunks(DESCRIBE_TASKS_BATCH) {
            let answer = self
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| ecs_error("DescribeTasks", cluster, container_instance_arn, e))?;
            for failure in answer.failures() {
                // A task listed a moment ago and gone now (MISSING) holds nothing; any
                // other failure leaves the task's state unknown.
                if !is_missing(failure) {
                    let message = format!(
                        "answered with failure {}",
                        failure.reason().unwrap_or("without a reason")
                    );
                    return Err(DrainError::Ecs {
                        operation: "DescribeTasks",
                        cluster: cluster.to_owned(),
                        subject: failure.arn().unwrap_or(container_instance_arn).to_owned(),
                        source: message.clone().into(),
                        message,
                    });
                }
            }
            // A task listed but neither described nor in `failures` has an unknown state:
            // counting it as gone could complete the drain with it still running.
            let unanswered = unanswered(
                batch,
                answer.tasks().iter().filter_map(|t| t.task_arn()),
                answer.failures(),
            );
            if !unanswered.is_empty() {
                let message = format!(
                    "answered for {} of {} tasks; missing: {}",
                    batch.len() - unanswered.len(),
                    batch.len(),
                    name_some(&unanswered)
                );
                return Err(DrainError::Ecs {
                    operation: "DescribeTasks",
                    cluster: cluster.to_owned(),
                    subject: container_instance_arn.to_owned(),
                    source: message.clone().into(),
                    message,
                });
            }
            for task in answer.tasks() {
                let task_arn = task.task_arn().ok_or_else(|| DrainError::MissingField {
                    operation: "DescribeTasks",
                    cluster: cluster.to_owned(),
                    subject: container_instance_arn.to_owned(),
                    field: "taskArn",
                })?;
                let last_status = task.last_status().ok_or_else(|| DrainError::MissingField {
                    operation: "DescribeTasks",
                    cluster: cluster.to_owned(),
                    subject: task_arn.to_owned(),
                    field: "lastStatus",
                })?;
                tasks.push(ObservedTask {
                    task_arn: task_arn.to_owned(),
                    last_status: last_status.into(),
                    desired_status: task.desired_status().map(str::to_owned),
                });
            }
        }
        Ok(tasks)
    }
}

#[cfg(any(test, feature = "fake"))]
impl ListInstanceTasks for super::fake::FakeDrainWorld {
    async fn list_instance_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<Vec<ObservedTask>, DrainError> {
        self.record(super::fake::DrainCall::ListInstanceTasks {
            cluster: cluster.to_owned(),
            container_instance_arn: container_instance_arn.to_owned(),
        })?;
        let mut state = self.state();
        let Some(polls) = state.task_polls.get_mut(container_instance_arn) else {
            return Ok(Vec::new());
        };
        let answer = if polls.len() > 1 {
            polls.pop_front()
        } else {
            polls.front().cloned()
        };
        Ok(answer.unwrap_or_default())
    }
}

/// Against the SDK's own mocks, for what moto cannot show: ListTasks paging (moto never
/// pages), DescribeTasks batches, and `failures` entries other than MISSING.
#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::{Failure, Task};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use capacity_core::drain::TaskStatus;

    use super::super::client::with_ecs as drain_with;

    fn arns(range: std::ops::Range<u32>) -> Vec<String> {
        range
            .map(|i| format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{i}"))
            .collect()
    }

    #[tokio::test]
    async fn tasks_are_listed_page_by_page_for_both_desired_statuses_and_described_by_100() {
        let running_first = mock!(aws_sdk_ecs::Client::list_tasks)
            .match_requests(|r| {
                r.desired_status() == Some(&DesiredStatus::Running) && r.next_token().is_none()
            })
            .then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns(0..100)))
                    .next_token("page-2")
                    .build()
            });
        let running_second = mock!(aws_sdk_ecs::Client::list_tasks)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns(100..150)))
                    .build()
            });
        let stopped = mock!(aws_sdk_ecs::Client::list_tasks)
            .match_requests(|r| r.desired_status() == Some(&DesiredStatus::Stopped))
            .then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns(150..151)))
                    .build()
            });
        let describe = mock!(aws_sdk_ecs::Client::describe_tasks)
            .match_requests(|r| r.tasks().len() <= 100)
            .then_compute_output(|r| {
                let tasks = r.tasks().iter().map(|arn| {
                    let status = if arn.ends_with("/150") {
                        "STOPPING"
                    } else {
                        "RUNNING"
                    };
                    Task::builder().task_arn(arn).last_status(status).build()
                });
                DescribeTasksOutput::builder()
                    .set_tasks(Some(tasks.collect()))
                    .build()
            });
        let ecs = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &[&running_first, &running_second, &stopped, &describe]
        );

        let tasks = drain_with(ecs).list_instance_tasks("prod", "ci-1").await;
        let tasks = tasks.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tasks.len(), 151);
        assert_eq!(
            tasks
                .iter()
                .filter(|t| t.last_status == TaskStatus::Stopping)
                .count(),
            1,
            "the task ECS is stopping is seen"
        );
        assert_eq!(running_first.num_calls(), 1);
        assert_eq!(running_second.num_calls(), 1);
        assert_eq!(stopped.num_calls(), 1);
        assert_eq!(
            describe.num_calls(),
            2,
            "151 tasks: two DescribeTasks calls"
        );
    }

    #[tokio::test]
    async fn a_task_missing_at_describe_time_is_gone_but_another_failure_is_an_error() {
        for (reason, fails) in [("MISSING", false), ("ACCESS_DENIED", true)] {
            let list = mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| {
                ListTasksOutput::builder()
                    .set_task_arns(Some(arns(0..1)))
                    .build()
            });
            let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(move || {
                DescribeTasksOutput::builder()
                    .failures(
                        Failure::builder()
                            .arn("arn:aws:ecs:us-east-1:123456789012:task/prod/0")
                            .reason(reason)
                            .build(),
                    )
                    .build()
            });
            let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&list, &describe]);
            let answer = drain_with(ecs).list_instance_tasks("prod", "ci-1").await;
            match answer {
                Ok(tasks) => {
                    assert!(!fails, "{reason} should fail");
                    assert!(tasks.is_empty());
                }
                Err(err) => {
                    assert!(fails, "{reason}: {err}");
                    let text = err.to_string();
                    assert!(
                        text.contains("task/prod/0")
                            && text.contains("ACCESS_DENIED")
                            && text.contains("cluster prod"),
                        "{text}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_task_listed_but_not_described_is_an_error_not_gone() {
        let list = mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .set_task_arns(Some(arns(0..2)))
                .build()
        });
        // ECS answers for task 0 only: task 1 is neither described nor in `failures`.
        let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    Task::builder()
                        .task_arn("arn:aws:ecs:us-east-1:123456789012:task/prod/0")
                        .last_status("RUNNING")
                        .build(),
                )
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&list, &describe]);
        let err = drain_with(ecs)
            .list_instance_tasks("prod", "ci-1")
            .await
            .expect_err("a task of unknown state must not count as gone");
        let text = err.to_string();
        assert!(
            text.contains("answered for 1 of 2 tasks") && text.contains("task/prod/1"),
            "{text}"
        );
    }
}
