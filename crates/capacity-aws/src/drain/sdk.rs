//! The drain traits on the AWS SDK clients.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{ContainerInstanceStatus, DesiredStatus};
use aws_sdk_sns::types::MessageAttributeValue;

use super::{
    ActionAnswer, AttributeValue, BoxError, DescribeLifecycleHook, DrainError, DrainingState,
    FindContainerInstance, HookTimeouts, LifecycleActionRef, LifecycleActionResult,
    LifecycleActions, ListInstanceTasks, ObservedTask, Republication, Republish, SetDraining,
};

use crate::cluster::DESCRIBE_TASKS_BATCH;
/// ListTasks' page size limit.
const LIST_TASKS_PAGE: i32 = 100;

/// The drain traits on the ECS, Auto Scaling and SNS clients. Clone is cheap (the clients
/// share their connection pools): build one per process and reuse it across invocations.
#[derive(Debug, Clone)]
pub struct AwsDrain {
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    sns: aws_sdk_sns::Client,
}

impl AwsDrain {
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        sns: aws_sdk_sns::Client,
    ) -> AwsDrain {
        AwsDrain {
            ecs,
            autoscaling,
            sns,
        }
    }

    /// The three clients from one SDK configuration (region, credentials, endpoints).
    pub fn from_conf(config: &aws_config::SdkConfig) -> AwsDrain {
        AwsDrain::new(
            aws_sdk_ecs::Client::new(config),
            aws_sdk_autoscaling::Client::new(config),
            aws_sdk_sns::Client::new(config),
        )
    }
}

fn ecs_error<E>(operation: &'static str, cluster: &str, subject: &str, err: E) -> DrainError
where
    E: std::error::Error + Send + Sync + 'static,
{
    DrainError::Ecs {
        operation,
        cluster: cluster.to_owned(),
        subject: subject.to_owned(),
        source: Box::new(err),
    }
}

fn autoscaling_error<E>(operation: &'static str, action: &LifecycleActionRef, err: E) -> DrainError
where
    E: std::error::Error + Send + Sync + 'static,
{
    DrainError::AutoScaling {
        operation,
        auto_scaling_group_name: action.auto_scaling_group_name.clone(),
        lifecycle_hook_name: action.lifecycle_hook_name.clone(),
        ec2_instance_id: action.ec2_instance_id.clone(),
        source: Box::new(err),
    }
}

/// AWS answers a completion or heartbeat for an action that is no longer waiting with
/// `ValidationError: No active Lifecycle Action found with token …` (or `… instance ID …`).
fn is_no_active_action<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ValidationError")
        && err
            .message()
            .is_some_and(|m| m.contains("No active Lifecycle Action found"))
}

impl FindContainerInstance for AwsDrain {
    async fn find_container_instance(
        &self,
        cluster: &str,
        ec2_instance_id: &str,
    ) -> Result<Option<String>, DrainError> {
        let answer = self
            .ecs
            .list_container_instances()
            .cluster(cluster)
            .filter(format!("ec2InstanceId == {ec2_instance_id}"))
            .send()
            .await
            .map_err(|e| ecs_error("ListContainerInstances", cluster, ec2_instance_id, e))?;
        let mut arns: Vec<&String> = answer.container_instance_arns().iter().collect();
        arns.sort();
        if arns.len() > 1 {
            tracing::warn!(
                cluster,
                ec2_instance_id,
                count = arns.len(),
                "several container instances on one EC2 instance; draining the first"
            );
        }
        Ok(arns.first().map(|arn| (*arn).clone()))
    }
}

impl SetDraining for AwsDrain {
    async fn set_draining(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<DrainingState, DrainError> {
        let answer = self
            .ecs
            .update_container_instances_state()
            .cluster(cluster)
            .container_instances(container_instance_arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(|e| {
                ecs_error(
                    "UpdateContainerInstancesState",
                    cluster,
                    container_instance_arn,
                    e,
                )
            })?;
        if let Some(failure) = answer.failures().first() {
            let reason = failure.reason().unwrap_or("no reason given");
            if reason == "MISSING" {
                return Ok(DrainingState::NotInCluster);
            }
            return Err(DrainError::DrainingRefused {
                cluster: cluster.to_owned(),
                container_instance_arn: container_instance_arn.to_owned(),
                reason: match failure.detail() {
                    Some(detail) => format!("{reason} ({detail})"),
                    None => reason.to_owned(),
                },
            });
        }
        if answer.container_instances().is_empty() {
            return Err(DrainError::MissingField {
                operation: "UpdateContainerInstancesState",
                cluster: cluster.to_owned(),
                subject: container_instance_arn.to_owned(),
                field: "containerInstances",
            });
        }
        Ok(DrainingState::Draining)
    }
}

impl ListInstanceTasks for AwsDrain {
    async fn list_instance_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<Vec<ObservedTask>, DrainError> {
        // ListTasks returns desired RUNNING tasks unless told otherwise; a task ECS is
        // stopping has desired STOPPED but may still hold connections, so ask for both.
        // (PENDING is accepted as a filter but never returns anything.)
        let mut arns = BTreeSet::new();
        for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let mut next_token: Option<String> = None;
            loop {
                let page = self
                    .ecs
                    .list_tasks()
                    .cluster(cluster)
                    .container_instance(container_instance_arn)
                    .desired_status(desired.clone())
                    .max_results(LIST_TASKS_PAGE)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(|e| ecs_error("ListTasks", cluster, container_instance_arn, e))?;
                arns.extend(page.task_arns().iter().cloned());
                match page.next_token() {
                    Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                    _ => break,
                }
            }
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
                if failure.reason() != Some("MISSING") {
                    return Err(DrainError::Ecs {
                        operation: "DescribeTasks",
                        cluster: cluster.to_owned(),
                        subject: failure.arn().unwrap_or(container_instance_arn).to_owned(),
                        source: format!(
                            "answered with failure {}",
                            failure.reason().unwrap_or("without a reason")
                        )
                        .into(),
                    });
                }
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
                    last_status: last_status.to_owned(),
                    desired_status: task.desired_status().map(str::to_owned),
                });
            }
        }
        Ok(tasks)
    }
}

impl LifecycleActions for AwsDrain {
    async fn complete_lifecycle_action(
        &self,
        action: &LifecycleActionRef,
        result: LifecycleActionResult,
    ) -> Result<ActionAnswer, DrainError> {
        let answer = self
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.auto_scaling_group_name)
            .lifecycle_hook_name(&action.lifecycle_hook_name)
            .instance_id(&action.ec2_instance_id)
            .set_lifecycle_action_token(action.token.clone())
            .lifecycle_action_result(result.as_str())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(ActionAnswer::Done),
            Err(err) if is_no_active_action(&err) => Ok(ActionAnswer::NoActiveAction),
            Err(err) => Err(autoscaling_error("CompleteLifecycleAction", action, err)),
        }
    }

    async fn record_heartbeat(
        &self,
        action: &LifecycleActionRef,
    ) -> Result<ActionAnswer, DrainError> {
        let answer = self
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.auto_scaling_group_name)
            .lifecycle_hook_name(&action.lifecycle_hook_name)
            .instance_id(&action.ec2_instance_id)
            .set_lifecycle_action_token(action.token.clone())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(ActionAnswer::Done),
            Err(err) if is_no_active_action(&err) => Ok(ActionAnswer::NoActiveAction),
            Err(err) => Err(autoscaling_error(
                "RecordLifecycleActionHeartbeat",
                action,
                err,
            )),
        }
    }
}

impl DescribeLifecycleHook for AwsDrain {
    async fn hook_timeouts(
        &self,
        auto_scaling_group_name: &str,
        lifecycle_hook_name: &str,
    ) -> Result<Option<HookTimeouts>, DrainError> {
        let answer = self
            .autoscaling
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(auto_scaling_group_name)
            .lifecycle_hook_names(lifecycle_hook_name)
            .send()
            .await
            .map_err(|err| DrainError::DescribeHook {
                auto_scaling_group_name: auto_scaling_group_name.to_owned(),
                lifecycle_hook_name: lifecycle_hook_name.to_owned(),
                source: Box::new(err),
            })?;
        let Some(hook) = answer
            .lifecycle_hooks()
            .iter()
            .find(|h| h.lifecycle_hook_name() == Some(lifecycle_hook_name))
        else {
            return Ok(None);
        };
        let seconds = |value: Option<i32>, field: &'static str| {
            value
                .and_then(|v| u64::try_from(v).ok())
                .map(Duration::from_secs)
                .ok_or_else(|| DrainError::DescribeHook {
                    auto_scaling_group_name: auto_scaling_group_name.to_owned(),
                    lifecycle_hook_name: lifecycle_hook_name.to_owned(),
                    source: format!("answered without a valid {field}").into(),
                })
        };
        Ok(Some(HookTimeouts {
            heartbeat_timeout: seconds(hook.heartbeat_timeout(), "HeartbeatTimeout")?,
            global_timeout: seconds(hook.global_timeout(), "GlobalTimeout")?,
        }))
    }
}

impl Republish for AwsDrain {
    async fn republish(&self, republication: &Republication) -> Result<String, DrainError> {
        let topic_arn = &republication.topic_arn;
        let publish_error = |source: BoxError| DrainError::Publish {
            topic_arn: topic_arn.clone(),
            source,
        };
        let mut request = self
            .sns
            .publish()
            .topic_arn(topic_arn)
            .message(&republication.message)
            .set_subject(republication.subject.clone());
        for (name, value) in &republication.attributes {
            let (data_type, text) = match value {
                AttributeValue::String(s) => ("String", s.clone()),
                AttributeValue::Number(n) => ("Number", n.to_string()),
            };
            let attribute = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(text)
                .build()
                .map_err(|e| publish_error(Box::new(e)))?;
            request = request.message_attributes(name, attribute);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| publish_error(Box::new(e)))?;
        Ok(answer.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::error::ErrorMetadata;

    #[test]
    fn no_active_action_is_recognised_by_code_and_message() {
        let gone = ErrorMetadata::builder()
            .code("ValidationError")
            .message("No active Lifecycle Action found with token 1234")
            .build();
        assert!(is_no_active_action(&gone));

        let other_validation = ErrorMetadata::builder()
            .code("ValidationError")
            .message("1 validation error detected")
            .build();
        assert!(!is_no_active_action(&other_validation));

        let throttled = ErrorMetadata::builder()
            .code("Throttling")
            .message("No active Lifecycle Action found")
            .build();
        assert!(!is_no_active_action(&throttled));
    }
}

/// The ECS side against the SDK's own mocks, for what moto cannot show: ListTasks paging
/// (moto never pages), DescribeTasks batches, and `failures` entries other than MISSING.
#[cfg(test)]
mod sdk_mock_tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::operation::update_container_instances_state::UpdateContainerInstancesStateOutput;
    use aws_sdk_ecs::types::{ContainerInstance, Failure, Task};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn drain_with(ecs: aws_sdk_ecs::Client) -> AwsDrain {
        // Never called in these tests.
        let autoscaling = aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::Config::builder()
                .behavior_version(aws_sdk_autoscaling::config::BehaviorVersion::latest())
                .region(aws_sdk_autoscaling::config::Region::new("us-east-1"))
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::Config::builder()
                .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
                .region(aws_sdk_sns::config::Region::new("us-east-1"))
                .build(),
        );
        AwsDrain::new(ecs, autoscaling, sns)
    }

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
            tasks.iter().filter(|t| t.last_status == "STOPPING").count(),
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
    async fn draining_reads_the_failures_list() {
        let cases = [
            (None, Some(DrainingState::Draining)),
            (Some("MISSING"), Some(DrainingState::NotInCluster)),
            (Some("INACTIVE"), None),
        ];
        for (reason, expected) in cases {
            let update = mock!(aws_sdk_ecs::Client::update_container_instances_state)
                .match_requests(|r| r.status() == Some(&ContainerInstanceStatus::Draining))
                .then_output(move || match reason {
                    None => UpdateContainerInstancesStateOutput::builder()
                        .container_instances(
                            ContainerInstance::builder()
                                .container_instance_arn("ci-1")
                                .status("DRAINING")
                                .build(),
                        )
                        .build(),
                    Some(reason) => UpdateContainerInstancesStateOutput::builder()
                        .failures(Failure::builder().arn("ci-1").reason(reason).build())
                        .build(),
                });
            let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&update]);
            let answer = drain_with(ecs).set_draining("prod", "ci-1").await;
            match (answer, expected) {
                (Ok(state), Some(expected)) => assert_eq!(state, expected),
                (
                    Err(DrainError::DrainingRefused {
                        container_instance_arn,
                        reason,
                        ..
                    }),
                    None,
                ) => {
                    assert_eq!(
                        (container_instance_arn.as_str(), reason.as_str()),
                        ("ci-1", "INACTIVE")
                    );
                }
                (other, _) => panic!("{reason:?}: unexpected {other:?}"),
            }
        }
    }
}
