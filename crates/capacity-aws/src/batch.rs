//! What every ECS read shares: the APIs' batch and page limits, the bounded concurrent
//! describe (`in_batches`) and the check of ECS's `failures` list (`check_failures`).
//! Used by the cluster read ([`crate::cluster`]), the services ([`crate::services`]), the
//! scale-in chooser's read ([`crate::scale_in`]) and the drainer's task list.

use std::future::Future;

use futures::{StreamExt, TryStreamExt, stream};

use crate::Error;

/// AWS limit: DescribeContainerInstances takes at most 100 ARNs.
pub const DESCRIBE_INSTANCES_BATCH: usize = 100;
/// AWS limit: DescribeTasks takes at most 100 ARNs.
pub const DESCRIBE_TASKS_BATCH: usize = 100;
/// AWS limit: DescribeServices takes at most 10 services.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// AWS limit: the List* calls return at most 100 ARNs a page (ListServices defaults to 10).
pub const LIST_PAGE_SIZE: i32 = 100;
/// Describe calls in flight at once per kind: enough to read 5,000 instances in a few round
/// trips, few enough to stay within a token bucket's burst of 100 (see [`crate::cluster`]).
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

/// ECS's `failures` lists entries it could not describe; any of `failures` makes the read
/// partial. (A caller to whom `MISSING` means "no longer there" filters those out first.)
pub(crate) fn check_failures<'a>(
    operation: &'static str,
    cluster: &str,
    failures: impl IntoIterator<Item = &'a aws_sdk_ecs::types::Failure>,
) -> Result<(), Error> {
    let failures: Vec<String> = failures
        .into_iter()
        .map(|f| {
            format!(
                "{} ({})",
                f.arn().unwrap_or("?"),
                f.reason().or(f.detail()).unwrap_or("no reason")
            )
        })
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::PartialRead {
        operation,
        cluster: cluster.to_owned(),
        failures: failures.join(", "),
    })
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
    client
        .list_container_instances()
        .cluster(cluster)
        .set_filter(filter)
        .max_results(LIST_PAGE_SIZE)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("ListContainerInstances", cluster, e))
}

/// One DescribeContainerInstances call (at most [`DESCRIBE_INSTANCES_BATCH`] ARNs); any entry
/// of its `failures` (but a `MISSING` one, when `missing` says it is gone) fails the read.
pub(crate) async fn describe_container_instances(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    batch: Vec<String>,
    missing: Missing,
) -> Result<Vec<aws_sdk_ecs::types::ContainerInstance>, Error> {
    const OP: &str = "DescribeContainerInstances";
    let out = client
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(batch))
        .send()
        .await
        .map_err(|e| Error::aws(OP, cluster, e))?;
    check_failures(
        OP,
        cluster,
        out.failures()
            .iter()
            .filter(|f| missing == Missing::IsPartial || !is_missing(f)),
    )?;
    Ok(out.container_instances.unwrap_or_default())
}
