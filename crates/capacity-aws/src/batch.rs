//! What every ECS read shares: the APIs' batch and page limits, the bounded concurrent
//! describe (`in_batches`) and the check of ECS's `failures` list (`check_failures`).
//! Used by the cluster read (`cluster`), the services (`services`), the scale-in chooser's
//! read (`scale_in`) and the drainer's task list (`drain`); it names none of them, so that
//! they import it and not the other way round.

use std::future::Future;

use std::collections::HashSet;

use aws_smithy_async::future::pagination_stream::PaginationStream;
use futures::{StreamExt, TryStreamExt, stream};

use crate::Error;
use crate::wire::RequiredFields;

/// AWS limit: DescribeContainerInstances takes at most 100 ARNs.
pub const DESCRIBE_INSTANCES_BATCH: usize = 100;
/// AWS limit: DescribeTasks takes at most 100 ARNs.
pub const DESCRIBE_TASKS_BATCH: usize = 100;
/// AWS limit: DescribeServices takes at most 10 services.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// AWS limit: the List* calls return at most 100 ARNs a page (ListServices defaults to 10).
pub const LIST_PAGE_SIZE: i32 = 100;
/// Describe calls in flight at once per kind: enough to read 5,000 instances in a few round
/// trips, few enough to stay within a token bucket's burst of 100 (see "What a read costs"
/// in the `cluster` module).
pub const DESCRIBE_CONCURRENCY: usize = 8;

/// Calls `describe` on `arns` in batches of `size` (the API's limit), at most
/// [`DESCRIBE_CONCURRENCY`] at once, and concatenates the answers in order; the first
/// failure fails the whole read.
pub(crate) async fn in_batches<T, F, Fut>(
    arns: &[String],
    size: usize,
    describe: F,
) -> Result<Vec<T>, Error>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, Error>>,
{
    let per_batch: Vec<Vec<T>> = stream::iter(arns.chunks(size).map(<[String]>::to_vec))
        .map(describe)
        .buffered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(per_batch.into_iter().flatten().collect())
}

/// Checks one batched describe's answer: every identifier `asked` for came back, either
/// `described` (by the identifier ECS answers with, which is the ARN it listed) or in
/// `failures`. An entry of `failures` makes the read partial, but a `MISSING` one where
/// `missing` says the resource is simply gone; an identifier neither described nor in
/// `failures` makes it incomplete ([`Error::Incomplete`], naming them). A decision is never
/// taken on part of the cluster.
pub(crate) fn check_answer<'a>(
    operation: &'static str,
    cluster: &str,
    asked: &[String],
    described: impl IntoIterator<Item = &'a str>,
    failures: &'a [aws_sdk_ecs::types::Failure],
    missing: Missing,
) -> Result<(), Error> {
    let partial: Vec<String> = failures
        .iter()
        .filter(|f| missing == Missing::IsPartial || !is_missing(f))
        .map(|f| {
            format!(
                "{} ({})",
                f.arn().unwrap_or("?"),
                f.reason().or(f.detail()).unwrap_or("no reason")
            )
        })
        .collect();
    if !partial.is_empty() {
        return Err(Error::PartialRead {
            operation,
            cluster: cluster.to_owned(),
            failures: partial.join(", "),
        });
    }
    let unanswered = unanswered(asked, described, failures);
    if unanswered.is_empty() {
        return Ok(());
    }
    Err(Error::Incomplete {
        operation,
        cluster: cluster.to_owned(),
        asked: asked.len(),
        answered: asked.len() - unanswered.len(),
        missing: name_some(&unanswered),
    })
}

/// The identifiers of `asked` that are neither `described` nor in `failures`, in the order
/// asked.
pub(crate) fn unanswered<'a>(
    asked: &[String],
    described: impl IntoIterator<Item = &'a str>,
    failures: &'a [aws_sdk_ecs::types::Failure],
) -> Vec<String> {
    let answered: HashSet<&str> = described
        .into_iter()
        .chain(failures.iter().filter_map(|f| f.arn()))
        .collect();
    asked
        .iter()
        .filter(|id| !answered.contains(id.as_str()))
        .cloned()
        .collect()
}

/// The first few of `ids`, then how many more: an error message stays readable on a
/// 5,000-instance cluster.
pub(crate) fn name_some(ids: &[String]) -> String {
    const NAMED: usize = 5;
    let mut text = ids
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > NAMED {
        text.push_str(&format!(" and {} more", ids.len() - NAMED));
    }
    text
}

/// Every item of a paginated List* call, every page, each once in the order ECS listed it;
/// `on_error` maps a failed page (which fails the whole list: never a partial one).
pub(crate) async fn list_all<E, Err>(
    items: PaginationStream<Result<String, E>>,
    on_error: impl FnOnce(E) -> Err,
) -> Result<Vec<String>, Err> {
    let listed: Vec<String> = items.try_collect().await.map_err(on_error)?;
    let mut seen = HashSet::with_capacity(listed.len());
    Ok(listed
        .into_iter()
        .filter(|arn| seen.insert(arn.clone()))
        .collect())
}

/// Whether a failure says the resource is gone (deregistered or stopped between the list
/// and the describe): not a partial read, the resource is simply no longer there.
pub(crate) fn is_missing(failure: &aws_sdk_ecs::types::Failure) -> bool {
    failure.reason() == Some("MISSING")
}

/// What a `MISSING` entry of ECS's `failures` means to a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The read must be whole: a missing entry makes it partial.
    IsPartial,
    /// Deregistered between the list and the describe: no longer in the cluster.
    IsGone,
}

/// The ARNs of the container instances of `cluster`, every page ([`LIST_PAGE_SIZE`] a page),
/// narrowed by `filter` (ECS's cluster query language) when given.
pub(crate) async fn list_container_instances(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    filter: Option<String>,
) -> Result<Vec<String>, Error> {
    let pages = client
        .list_container_instances()
        .cluster(cluster)
        .set_filter(filter)
        .max_results(LIST_PAGE_SIZE)
        .into_paginator()
        .items()
        .send();
    list_all(pages, |e| Error::aws("ListContainerInstances", cluster, e)).await
}

/// One DescribeContainerInstances call (at most [`DESCRIBE_INSTANCES_BATCH`] ARNs), checked
/// by [`check_answer`]: every ARN described or in `failures` (`missing` says what a MISSING
/// one means).
pub(crate) async fn describe_container_instances(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    batch: Vec<String>,
    missing: Missing,
) -> Result<Vec<aws_sdk_ecs::types::ContainerInstance>, Error> {
    const OP: &str = "DescribeContainerInstances";
    let required = RequiredFields::default();
    let out = client
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(batch.clone()))
        .customize()
        .interceptor(required.clone())
        .send()
        .await
        .map_err(|e| Error::aws(OP, cluster, e))?;
    // What the SDK's types would have defaulted (see crate::wire).
    required.result().map_err(|source| Error::InvalidInstance {
        id: format!("in {OP} of cluster {cluster}"),
        source,
    })?;
    let described = out.container_instances();
    check_answer(
        OP,
        cluster,
        &batch,
        described
            .iter()
            .filter_map(|ci| ci.container_instance_arn()),
        out.failures(),
        missing,
    )?;
    Ok(described.to_vec())
}

/// What moto cannot show: ECS answering a describe for fewer identifiers than asked, with no
/// `failures` entry for the rest (the SDK's mocks).
#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
    use aws_sdk_ecs::operation::list_services::ListServicesOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::types::{self as ecs, Failure};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::{ClusterReader, EcsReader};

    fn failure(arn: &str, reason: &str) -> Failure {
        Failure::builder().arn(arn).reason(reason).build()
    }

    #[test]
    fn every_identifier_must_come_back_described_or_failed() {
        let asked: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let gone = [failure("c", "MISSING")];
        assert!(check_answer("Op", "prod", &asked, ["a", "b"], &gone, Missing::IsGone).is_ok());
        let err = check_answer("Op", "prod", &asked, ["a", "b"], &gone, Missing::IsPartial)
            .expect_err("MISSING is partial here");
        assert!(err.to_string().contains("c (MISSING)"), "{err}");
        let err = check_answer("Op", "prod", &asked, ["a"], &gone, Missing::IsGone)
            .expect_err("b is unanswered");
        assert_eq!(
            err.to_string(),
            "Op for cluster prod answered for 2 of 3 identifiers; missing: b"
        );
        assert!(err.is_retryable());
        let many: Vec<String> = (0..8).map(|i| format!("ci/{i}")).collect();
        assert_eq!(name_some(&many), "ci/0, ci/1, ci/2, ci/3, ci/4 and 3 more");
    }

    fn instance(arn: &str) -> ecs::ContainerInstance {
        let cpu = |v| {
            ecs::Resource::builder()
                .name("CPU")
                .r#type("INTEGER")
                .integer_value(v)
                .build()
        };
        let memory = |v| {
            ecs::Resource::builder()
                .name("MEMORY")
                .r#type("INTEGER")
                .integer_value(v)
                .build()
        };
        ecs::ContainerInstance::builder()
            .container_instance_arn(arn)
            .ec2_instance_id("i-1")
            .status("ACTIVE")
            .agent_connected(true)
            .registered_resources(cpu(1024))
            .registered_resources(memory(2048))
            .remaining_resources(cpu(1024))
            .remaining_resources(memory(2048))
            .build()
    }

    #[tokio::test]
    async fn an_instance_listed_but_not_described_fails_the_cluster_read() {
        let list = mock!(aws_sdk_ecs::Client::list_container_instances).then_output(|| {
            ListContainerInstancesOutput::builder()
                .container_instance_arns("arn:ci/1")
                .container_instance_arns("arn:ci/2")
                .build()
        });
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
            DescribeContainerInstancesOutput::builder()
                .container_instances(instance("arn:ci/1"))
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let err = EcsReader::new(ecs)
            .container_instances("prod")
            .await
            .expect_err("one host of two is no reading of the cluster");
        assert!(
            matches!(&err, crate::Error::Incomplete { asked: 2, answered: 1, missing, .. } if missing == "arn:ci/2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_service_listed_but_not_described_fails_the_read_and_a_deleted_one_is_gone() {
        let list = mock!(aws_sdk_ecs::Client::list_services).then_output(|| {
            ListServicesOutput::builder()
                .service_arns("arn:svc/web")
                .service_arns("arn:svc/api")
                .service_arns("arn:svc/old")
                .build()
        });
        let web = || {
            ecs::Service::builder()
                .service_arn("arn:svc/web")
                .service_name("web")
                .status("ACTIVE")
                .build()
        };
        let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
            DescribeServicesOutput::builder()
                .services(web())
                .failures(failure("arn:svc/old", "MISSING"))
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let err = crate::services::describe(&ecs, "prod")
            .await
            .expect_err("api was not answered for");
        assert!(err.to_string().contains("missing: arn:svc/api"), "{err}");
        assert!(!err.to_string().contains("arn:svc/old"), "{err}");
    }

    #[tokio::test]
    async fn a_task_listed_but_not_described_leaves_its_shape_unknown() {
        let list = mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:task/1")
                .task_arns("arn:task/2")
                .build()
        });
        let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    ecs::Task::builder()
                        .task_arn("arn:task/1")
                        .task_definition_arn("arn:td/web:1")
                        .build(),
                )
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let err = EcsReader::new(ecs)
            .running_task_definitions("prod")
            .await
            .expect_err("a shape may be missing");
        assert!(err.to_string().contains("missing: arn:task/2"), "{err}");
    }

    #[tokio::test]
    async fn a_field_ecs_left_out_is_an_error_not_the_sdk_default() {
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;
        // The JSON ECS would send, without agentConnected: the SDK's type says `false`.
        let body = r#"{"containerInstances": [{
            "containerInstanceArn": "arn:ci/1", "ec2InstanceId": "i-1", "status": "ACTIVE",
            "runningTasksCount": 1, "pendingTasksCount": 0,
            "registeredResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                                    {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048}],
            "remainingResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 512},
                                   {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024}]
        }], "failures": []}"#;
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_http_response(
            move || {
                Response::new(
                    StatusCode::try_from(200).expect("status"),
                    SdkBody::from(body),
                )
            },
        );
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe]);
        let err =
            describe_container_instances(&ecs, "prod", vec!["arn:ci/1".into()], Missing::IsPartial)
                .await
                .expect_err("agentConnected is missing");
        assert!(
            err.to_string()
                .contains("containerInstances[0].agentConnected: missing"),
            "{err}"
        );
        assert!(!err.is_retryable(), "ECS will answer the same again");
    }
}
