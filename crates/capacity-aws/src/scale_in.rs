//! What the scale-in chooser reads: the tasks on each EC2 instance Auto Scaling suggests.
//!
//! [`InstanceTasks`] maps EC2 instance ids to the running + pending tasks of the container
//! instance registered on each in one cluster, and to the planned-removal mark it carries
//! (the calculator's plan, [`capacity_core::mark`]); an id absent from the answer has no
//! container instance there (nothing to drain). [`EcsInstanceTasks`] implements it with ECS's cluster
//! query language: `ListContainerInstances` with `filter "ec2InstanceId in ['i-1', 'i-2']"`
//! (every page), then `DescribeContainerInstances` per 100 ARNs, reading `runningTasksCount`
//! and `pendingTasksCount`.
//!
//! The filter's length is not documented for ListContainerInstances; each expression is kept
//! under [`MAX_FILTER_CHARS`] (2,000, the documented limit of a placement-constraint
//! expression in the same language), so many ids take several filtered lists, run
//! [`LIST_CONCURRENCY`] at a time. An answer is checked against the ids asked for (moto ignores
//! the filter): a container instance on another EC2 instance is ignored.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use futures::{StreamExt, TryStreamExt};

use crate::Error;
use crate::batch::{self, DESCRIBE_INSTANCES_BATCH, Missing, in_batches};

/// Longest `filter` expression sent (characters).
pub const MAX_FILTER_CHARS: usize = 2_000;
/// Filtered lists (each followed by its describes) in flight at once.
pub const LIST_CONCURRENCY: usize = 4;

/// EC2 instance id -> tasks (running + pending) of its container instance in the cluster.
/// An id that is not a key has no container instance in the cluster.
pub type InstanceTaskCounts = BTreeMap<String, u32>;

/// What the chooser reads of some EC2 instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstancesTasks {
    /// Tasks per registered EC2 instance ([`InstanceTaskCounts`]).
    pub tasks: InstanceTaskCounts,
    /// EC2 instance id -> the attributes of this project its container instance carries
    /// (names starting with `ecs-capacity.`: the planned-removal and removable-since marks,
    /// do-not-disrupt), as read (not parsed).
    pub marks: BTreeMap<String, BTreeMap<String, String>>,
}

/// Reads how many tasks each of some EC2 instances runs in a cluster.
pub trait InstanceTasks: Send + Sync {
    /// For each of `ec2_instance_ids` registered in `cluster` (name or ARN), the tasks of its
    /// container instance, running + pending (several container instances on one EC2
    /// instance add up), and its planned-removal mark. Ids not registered are left out. A
    /// failed or partial read is an error, never a 0 or an absent key.
    fn instance_tasks(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> impl Future<Output = Result<InstancesTasks, Error>> + Send;
}

/// [`InstanceTasks`] on the ECS client. Clone is cheap.
#[derive(Debug, Clone)]
pub struct EcsInstanceTasks {
    ecs: aws_sdk_ecs::Client,
}

impl EcsInstanceTasks {
    pub fn new(ecs: aws_sdk_ecs::Client) -> EcsInstanceTasks {
        EcsInstanceTasks { ecs }
    }
}

/// `ec2InstanceId in ['i-1', 'i-2', ...]` expressions, each at most `max_chars` long, that
/// together name every id once. An id too long for one expression on its own gets one anyway.
pub fn filters(ec2_instance_ids: &[String], max_chars: usize) -> Vec<String> {
    const HEAD: &str = "ec2InstanceId in [";
    let mut out = Vec::new();
    let mut current = String::new();
    for id in ec2_instance_ids {
        let item = format!("'{id}'");
        // Closing "]" plus, when not the first item, the ", " before it.
        let grows_by = item.len() + if current.is_empty() { 1 } else { 3 };
        if !current.is_empty() && current.len() + grows_by > max_chars {
            current.push(']');
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(HEAD);
        } else {
            current.push_str(", ");
        }
        current.push_str(&item);
    }
    if !current.is_empty() {
        current.push(']');
        out.push(current);
    }
    out
}

impl InstanceTasks for EcsInstanceTasks {
    async fn instance_tasks(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> Result<InstancesTasks, Error> {
        let asked: HashSet<&str> = ec2_instance_ids.iter().map(String::as_str).collect();
        let parts: Vec<Vec<Registered>> =
            futures::stream::iter(filters(ec2_instance_ids, MAX_FILTER_CHARS))
                .map(|filter| self.read_filtered(cluster, filter, &asked))
                .buffer_unordered(LIST_CONCURRENCY)
                .try_collect()
                .await?;
        let mut read = InstancesTasks::default();
        let mut seen_arns = HashSet::new();
        for registered in parts.into_iter().flatten() {
            // moto answers every filter with the whole cluster: count each container
            // instance once.
            if seen_arns.insert(registered.container_instance_arn) {
                *read
                    .tasks
                    .entry(registered.ec2_instance_id.clone())
                    .or_insert(0) += registered.tasks;
                if !registered.marks.is_empty() {
                    read.marks
                        .entry(registered.ec2_instance_id)
                        .or_insert(registered.marks);
                }
            }
        }
        Ok(read)
    }
}

/// A container instance on an asked EC2 instance, as described.
struct Registered {
    container_instance_arn: String,
    ec2_instance_id: String,
    /// Running + pending.
    tasks: u32,
    marks: BTreeMap<String, String>,
}

impl EcsInstanceTasks {
    /// One filtered list (every page) and its describes: each container instance on an
    /// asked EC2 instance.
    async fn read_filtered(
        &self,
        cluster: &str,
        filter: String,
        asked: &HashSet<&str>,
    ) -> Result<Vec<Registered>, Error> {
        let arns = batch::list_container_instances(&self.ecs, cluster, Some(filter)).await?;
        in_batches(&arns, DESCRIBE_INSTANCES_BATCH, |batch| {
            self.describe(cluster, batch, asked)
        })
        .await
    }

    async fn describe(
        &self,
        cluster: &str,
        batch: Vec<String>,
        asked: &HashSet<&str>,
    ) -> Result<Vec<Registered>, Error> {
        // MISSING: deregistered between the list and the describe, so no longer in the
        // cluster; anything else leaves the read partial.
        let described =
            batch::describe_container_instances(&self.ecs, cluster, batch, Missing::IsGone).await?;
        let mut out = Vec::new();
        for instance in &described {
            let arn = instance
                .container_instance_arn()
                .ok_or_else(|| Error::MissingField {
                    what: "container instance",
                    id: "?".to_owned(),
                    field: "containerInstanceArn",
                })?;
            let ec2 = instance
                .ec2_instance_id()
                .ok_or_else(|| Error::MissingField {
                    what: "container instance",
                    id: arn.to_owned(),
                    field: "ec2InstanceId",
                })?;
            if !asked.contains(ec2) {
                continue;
            }
            let count = |field: &'static str, value: i32| {
                u32::try_from(value).map_err(|_| Error::InvalidField {
                    what: "container instance",
                    id: arn.to_owned(),
                    field,
                    value: value.to_string(),
                })
            };
            let tasks = count("runningTasksCount", instance.running_tasks_count())?
                .saturating_add(count("pendingTasksCount", instance.pending_tasks_count())?);
            let marks = instance
                .attributes()
                .iter()
                .filter(|a| a.name().starts_with(capacity_core::mark::OUR_PREFIX))
                .map(|a| {
                    (
                        a.name().to_owned(),
                        a.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            out.push(Registered {
                container_instance_arn: arn.to_owned(),
                ec2_instance_id: ec2.to_owned(),
                tasks,
                marks,
            });
        }
        Ok(out)
    }
}

/// An in-memory [`InstanceTasks`] for tests: answers from a map after an optional delay, or
/// fails; records each call.
#[cfg(any(test, feature = "fake"))]
#[derive(Debug, Default)]
pub struct FakeInstanceTasks {
    /// EC2 instance id -> tasks of its container instance; absent ids are not in the cluster.
    pub registered: InstanceTaskCounts,
    /// EC2 instance id -> the attributes of this project its container instance carries.
    pub marks: BTreeMap<String, BTreeMap<String, String>>,
    /// Wait this long (tokio's clock) before answering: a slow ECS.
    pub delay: Option<std::time::Duration>,
    /// Fail every read (as a throttled or denied call would, after the SDK's retries).
    pub fail: bool,
    /// `(cluster, ids asked)` of every call.
    pub calls: std::sync::Mutex<Vec<(String, Vec<String>)>>,
}

#[cfg(any(test, feature = "fake"))]
impl FakeInstanceTasks {
    /// A cluster with these `(EC2 instance id, tasks)`.
    pub fn with(registered: &[(&str, u32)]) -> FakeInstanceTasks {
        FakeInstanceTasks {
            registered: registered
                .iter()
                .map(|(id, tasks)| ((*id).to_owned(), *tasks))
                .collect(),
            ..FakeInstanceTasks::default()
        }
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<(String, Vec<String>)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[cfg(any(test, feature = "fake"))]
impl InstanceTasks for FakeInstanceTasks {
    async fn instance_tasks(
        &self,
        cluster: &str,
        ec2_instance_ids: &[String],
    ) -> Result<InstancesTasks, Error> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((cluster.to_owned(), ec2_instance_ids.to_vec()));
        }
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        if self.fail {
            return Err(Error::injected("ListContainerInstances", cluster));
        }
        let tasks: InstanceTaskCounts = ec2_instance_ids
            .iter()
            .filter_map(|id| Some((id.clone(), *self.registered.get(id)?)))
            .collect();
        let marks = self
            .marks
            .iter()
            .filter(|(id, _)| tasks.contains_key(*id))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        Ok(InstancesTasks { tasks, marks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
    use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
    use aws_sdk_ecs::types::{ContainerInstance, Failure};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i-{i:017x}")).collect()
    }

    #[test]
    fn filters_stay_under_the_limit_and_name_every_id_once() {
        let ids = ids(300);
        let filters = filters(&ids, MAX_FILTER_CHARS);
        assert!(filters.len() > 1, "300 ids need several expressions");
        let mut named = Vec::new();
        for f in &filters {
            assert!(f.len() <= MAX_FILTER_CHARS, "{} chars", f.len());
            let list = f
                .strip_prefix("ec2InstanceId in [")
                .and_then(|f| f.strip_suffix(']'))
                .expect("the in-list form");
            named.extend(list.split(", ").map(|i| i.trim_matches('\'').to_owned()));
        }
        assert_eq!(named, ids);
        assert_eq!(
            super::filters(&["i-1".into(), "i-2".into()], MAX_FILTER_CHARS),
            ["ec2InstanceId in ['i-1', 'i-2']"]
        );
        assert!(super::filters(&[], MAX_FILTER_CHARS).is_empty());
        // Tight limits still name each id, one per expression.
        assert_eq!(super::filters(&ids[..3], 10).len(), 3);
    }

    fn instance(arn: &str, ec2: &str, running: i32, pending: i32) -> ContainerInstance {
        ContainerInstance::builder()
            .container_instance_arn(arn)
            .ec2_instance_id(ec2)
            .running_tasks_count(running)
            .pending_tasks_count(pending)
            .build()
    }

    fn marked(mut instance: ContainerInstance, mark: &str) -> ContainerInstance {
        instance.attributes = Some(vec![
            aws_sdk_ecs::types::Attribute::builder()
                .name(capacity_core::mark::PLANNED_REMOVAL_ATTRIBUTE)
                .value(mark)
                .build()
                .expect("name set"),
        ]);
        instance
    }

    #[tokio::test]
    async fn counts_running_and_pending_of_asked_instances_only() {
        let list = mock!(aws_sdk_ecs::Client::list_container_instances).then_output(|| {
            ListContainerInstancesOutput::builder()
                .container_instance_arns("arn:ci/1")
                .container_instance_arns("arn:ci/2")
                .container_instance_arns("arn:ci/3")
                .build()
        });
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
            DescribeContainerInstancesOutput::builder()
                .container_instances(instance("arn:ci/1", "i-1", 2, 1))
                .container_instances(marked(instance("arn:ci/2", "i-2", 0, 0), "1/1800000000"))
                // Not asked for: a filter ignored (moto) must not make it count.
                .container_instances(marked(instance("arn:ci/3", "i-other", 9, 0), "1/1"))
                .failures(Failure::builder().arn("arn:ci/4").reason("MISSING").build())
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let reader = EcsInstanceTasks::new(ecs);
        let counts = reader
            .instance_tasks("prod", &["i-1".into(), "i-2".into(), "i-3".into()])
            .await
            .expect("read");
        assert_eq!(
            counts.tasks,
            InstanceTaskCounts::from([("i-1".into(), 3), ("i-2".into(), 0)])
        );
        assert_eq!(
            counts.marks,
            BTreeMap::from([(
                "i-2".into(),
                BTreeMap::from([(
                    capacity_core::mark::PLANNED_REMOVAL_ATTRIBUTE.to_owned(),
                    "1/1800000000".to_owned()
                )])
            )]),
            "the mark of an asked instance only"
        );
        assert_eq!(list.num_calls(), 1);
        assert_eq!(describe.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failure_other_than_missing_makes_the_read_an_error() {
        let list = mock!(aws_sdk_ecs::Client::list_container_instances).then_output(|| {
            ListContainerInstancesOutput::builder()
                .container_instance_arns("arn:ci/1")
                .build()
        });
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
            DescribeContainerInstancesOutput::builder()
                .failures(
                    Failure::builder()
                        .arn("arn:ci/1")
                        .reason("THROTTLED")
                        .build(),
                )
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let err = EcsInstanceTasks::new(ecs)
            .instance_tasks("prod", &["i-1".into()])
            .await
            .expect_err("partial");
        assert!(err.to_string().contains("THROTTLED"), "{err}");
    }

    #[tokio::test]
    async fn a_negative_count_is_an_error_not_a_number() {
        let list = mock!(aws_sdk_ecs::Client::list_container_instances).then_output(|| {
            ListContainerInstancesOutput::builder()
                .container_instance_arns("arn:ci/1")
                .build()
        });
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
            DescribeContainerInstancesOutput::builder()
                .container_instances(instance("arn:ci/1", "i-1", -1, 0))
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let err = EcsInstanceTasks::new(ecs)
            .instance_tasks("prod", &["i-1".into()])
            .await
            .expect_err("invalid");
        assert!(err.to_string().contains("runningTasksCount"), "{err}");
    }

    #[tokio::test]
    async fn many_ids_take_several_filtered_lists_and_count_each_instance_once() {
        // Every list answers the same instance, as moto does (it ignores the filter).
        let list = mock!(aws_sdk_ecs::Client::list_container_instances)
            .match_requests(|r| r.filter().is_some_and(|f| f.len() <= MAX_FILTER_CHARS))
            .then_output(|| {
                ListContainerInstancesOutput::builder()
                    .container_instance_arns("arn:ci/1")
                    .build()
            });
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
            DescribeContainerInstancesOutput::builder()
                .container_instances(instance("arn:ci/1", "i-00000000000000000", 2, 0))
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let ids = ids(250);
        let counts = EcsInstanceTasks::new(ecs)
            .instance_tasks("prod", &ids)
            .await
            .expect("read");
        assert_eq!(counts.tasks.get("i-00000000000000000"), Some(&2));
        assert_eq!(counts.tasks.len(), 1);
        assert_eq!(list.num_calls(), filters(&ids, MAX_FILTER_CHARS).len());
        assert!(list.num_calls() >= 3);
    }

    #[tokio::test]
    async fn an_instance_listed_but_not_described_is_unknown_not_absent() {
        // Absent from the answer means "not in the cluster", the cheapest to terminate: an
        // instance ECS listed but did not describe (nor list in `failures`) must fail the read
        // (the chooser then answers the group's own order), never be absent.
        let list = mock!(aws_sdk_ecs::Client::list_container_instances).then_output(|| {
            ListContainerInstancesOutput::builder()
                .container_instance_arns("arn:ci/1")
                .container_instance_arns("arn:ci/2")
                .build()
        });
        let describe = mock!(aws_sdk_ecs::Client::describe_container_instances).then_output(|| {
            DescribeContainerInstancesOutput::builder()
                .container_instances(instance("arn:ci/1", "i-1", 0, 0))
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
        let err = EcsInstanceTasks::new(ecs)
            .instance_tasks("prod", &["i-1".into(), "i-2".into()])
            .await
            .expect_err("i-2's host is unknown");
        assert!(err.to_string().contains("missing: arn:ci/2"), "{err}");
    }
}
