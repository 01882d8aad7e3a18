//! Marking container instances: [`InstanceAttributes`] (ECS custom attributes put and
//! deleted), its implementation on the ECS client ([`EcsAttributes`]) and, for tests,
//! `FakeAttributes`.
//!
//! The calculator marks the hosts its plan removes ([`capacity_core::mark`]) so that the
//! scale-in chooser removes exactly those. `PutAttributes` and `DeleteAttributes` take at
//! most [`ATTRIBUTES_PER_CALL`] (10) attributes a call; a longer list goes in several calls,
//! one after the other, and the first failure stops it (a retry puts or deletes the same
//! values again, which changes nothing: both calls are idempotent). Each attribute names its
//! container instance by full ARN (`targetId`, no `targetType`: AWS wants the type only with
//! a short id). A delete names the value it read: ECS deletes an attribute by name, but moto
//! only when the value matches too, and naming it makes the delete exact on both.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_ecs::types::Attribute;

use crate::Error;

/// AWS limit: PutAttributes and DeleteAttributes take at most 10 attributes a call.
pub const ATTRIBUTES_PER_CALL: usize = 10;

pub use capacity_core::mark::{InstanceAttribute, InstanceMarks, OUR_PREFIX};

/// Puts and deletes custom attributes of container instances.
pub trait InstanceAttributes: Send + Sync {
    /// Puts every attribute of `attributes` in `cluster` (name or ARN).
    fn put(
        &self,
        cluster: &str,
        attributes: &[InstanceAttribute],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Deletes every attribute of `attributes` (name and value as read) in `cluster`.
    fn delete(
        &self,
        cluster: &str,
        attributes: &[InstanceAttribute],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The tags of `cluster` (its ARN): where the plan keeps what no container instance can
    /// hold (ListTagsForResource).
    fn cluster_tags(
        &self,
        cluster: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, Error>> + Send;

    /// Tags `cluster` (its ARN) with `key` = `value` (TagResource; an existing key is
    /// overwritten, so a retry changes nothing).
    fn tag_cluster(
        &self,
        cluster: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// [`InstanceAttributes`] on the ECS SDK client. Clone is cheap.
#[derive(Debug, Clone)]
pub struct EcsAttributes {
    client: aws_sdk_ecs::Client,
}

impl EcsAttributes {
    pub fn new(client: aws_sdk_ecs::Client) -> EcsAttributes {
        EcsAttributes { client }
    }
}

fn sdk_attributes(
    operation: &'static str,
    attributes: &[InstanceAttribute],
) -> Result<Vec<Attribute>, Error> {
    attributes
        .iter()
        .map(|a| {
            Attribute::builder()
                .name(&a.name)
                .set_value(a.value.clone())
                .target_id(&a.container_instance_arn)
                .build()
                .map_err(|e| Error::InvalidField {
                    what: "container instance attribute",
                    id: a.container_instance_arn.clone(),
                    field: operation,
                    value: format!("{}: {e}", a.name),
                })
        })
        .collect()
}

impl InstanceAttributes for EcsAttributes {
    async fn put(&self, cluster: &str, attributes: &[InstanceAttribute]) -> Result<(), Error> {
        const OP: &str = "PutAttributes";
        for chunk in attributes.chunks(ATTRIBUTES_PER_CALL) {
            self.client
                .put_attributes()
                .cluster(cluster)
                .set_attributes(Some(sdk_attributes(OP, chunk)?))
                .send()
                .await
                .map_err(|e| Error::aws(OP, cluster, e))?;
        }
        Ok(())
    }

    async fn delete(&self, cluster: &str, attributes: &[InstanceAttribute]) -> Result<(), Error> {
        const OP: &str = "DeleteAttributes";
        for chunk in attributes.chunks(ATTRIBUTES_PER_CALL) {
            self.client
                .delete_attributes()
                .cluster(cluster)
                .set_attributes(Some(sdk_attributes(OP, chunk)?))
                .send()
                .await
                .map_err(|e| Error::aws(OP, cluster, e))?;
        }
        Ok(())
    }

    async fn cluster_tags(&self, cluster: &str) -> Result<BTreeMap<String, String>, Error> {
        const OP: &str = "ListTagsForResource";
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(cluster)
            .send()
            .await
            .map_err(|e| Error::aws(OP, cluster, e))?;
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect())
    }

    async fn tag_cluster(&self, cluster: &str, key: &str, value: &str) -> Result<(), Error> {
        const OP: &str = "TagResource";
        self.client
            .tag_resource()
            .resource_arn(cluster)
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws(OP, cluster, e))?;
        Ok(())
    }
}

/// An in-memory [`InstanceAttributes`] for tests: keeps the attributes in a shared store
/// (give a `FakeCluster` the same [`FakeAttributes::store`] and its reads see them), records
/// each call, fails the operations chosen.
#[cfg(any(test, feature = "fake"))]
#[derive(Debug, Default, Clone)]
pub struct FakeAttributes {
    pub store: std::sync::Arc<std::sync::Mutex<InstanceMarks>>,
    /// Fail every PutAttributes.
    pub fail_put: bool,
    /// Fail every DeleteAttributes.
    pub fail_delete: bool,
    /// `(operation, attributes)` of every call, in order, one entry per AWS call (at most
    /// [`ATTRIBUTES_PER_CALL`] attributes each).
    pub calls: std::sync::Arc<std::sync::Mutex<Vec<AttributeCall>>>,
    /// The cluster's tags.
    pub tags: std::sync::Arc<std::sync::Mutex<BTreeMap<String, String>>>,
    /// Fail every ListTagsForResource and TagResource.
    pub fail_tags: bool,
}

/// One call a `FakeAttributes` recorded: the operation and its attributes.
#[cfg(any(test, feature = "fake"))]
pub type AttributeCall = (&'static str, Vec<InstanceAttribute>);

#[cfg(any(test, feature = "fake"))]
impl FakeAttributes {
    /// The calls made so far.
    pub fn calls(&self) -> Vec<AttributeCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The value of `name` on `arn`, if it carries it.
    pub fn value(&self, arn: &str, name: &str) -> Option<String> {
        let store = self.store.lock().ok()?;
        store.get(arn)?.get(name).cloned()
    }

    fn record(&self, operation: &'static str, chunk: &[InstanceAttribute]) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((operation, chunk.to_vec()));
        }
    }
}

#[cfg(any(test, feature = "fake"))]
impl InstanceAttributes for FakeAttributes {
    async fn put(&self, cluster: &str, attributes: &[InstanceAttribute]) -> Result<(), Error> {
        for chunk in attributes.chunks(ATTRIBUTES_PER_CALL) {
            self.record("PutAttributes", chunk);
            if self.fail_put {
                return Err(Error::injected("PutAttributes", cluster));
            }
            let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
            for a in chunk {
                store
                    .entry(a.container_instance_arn.clone())
                    .or_default()
                    .insert(a.name.clone(), a.value.clone().unwrap_or_default());
            }
        }
        Ok(())
    }

    async fn delete(&self, cluster: &str, attributes: &[InstanceAttribute]) -> Result<(), Error> {
        for chunk in attributes.chunks(ATTRIBUTES_PER_CALL) {
            self.record("DeleteAttributes", chunk);
            if self.fail_delete {
                return Err(Error::injected("DeleteAttributes", cluster));
            }
            let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
            for a in chunk {
                if let Some(marks) = store.get_mut(&a.container_instance_arn) {
                    marks.remove(&a.name);
                }
            }
        }
        Ok(())
    }

    async fn cluster_tags(&self, cluster: &str) -> Result<BTreeMap<String, String>, Error> {
        if self.fail_tags {
            return Err(Error::injected("ListTagsForResource", cluster));
        }
        Ok(self.tags.lock().map(|t| t.clone()).unwrap_or_default())
    }

    async fn tag_cluster(&self, cluster: &str, key: &str, value: &str) -> Result<(), Error> {
        self.record(
            "TagResource",
            &[InstanceAttribute::new(cluster, key, Some(value))],
        );
        if self.fail_tags {
            return Err(Error::injected("TagResource", cluster));
        }
        self.tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::put_attributes::PutAttributesOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn marks(n: usize) -> Vec<InstanceAttribute> {
        (0..n)
            .map(|i| {
                InstanceAttribute::new(
                    &format!("arn:aws:ecs:eu-west-1:1:container-instance/prod/{i}"),
                    "ecs-capacity.planned-removal",
                    Some(&format!("{}/1800000000", i + 1)),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn puts_go_at_most_ten_a_call_naming_each_instance_by_arn() {
        let put = mock!(aws_sdk_ecs::Client::put_attributes)
            .match_requests(|r| {
                r.cluster() == Some("prod")
                    && r.attributes().len() <= ATTRIBUTES_PER_CALL
                    && r.attributes().iter().all(|a| {
                        a.target_id()
                            .is_some_and(|t| t.contains(":container-instance/"))
                            && a.target_type().is_none()
                    })
            })
            .then_output(|| PutAttributesOutput::builder().build());
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&put]);
        EcsAttributes::new(ecs)
            .put("prod", &marks(23))
            .await
            .expect("put");
        assert_eq!(put.num_calls(), 3, "23 attributes: 10 + 10 + 3");
    }

    #[tokio::test]
    async fn a_failed_call_is_an_error_naming_the_operation_and_cluster() {
        let put = mock!(aws_sdk_ecs::Client::put_attributes).then_error(|| {
            aws_sdk_ecs::operation::put_attributes::PutAttributesError::TargetNotFoundException(
                aws_sdk_ecs::types::error::TargetNotFoundException::builder()
                    .message("Could not find arn:...:container-instance/prod/0")
                    .build(),
            )
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&put]);
        let err = EcsAttributes::new(ecs)
            .put("prod", &marks(1))
            .await
            .expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("PutAttributes")
                && text.contains("prod")
                && text.contains("Could not find"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_fake_keeps_what_was_put_and_deletes_it() {
        let fake = FakeAttributes::default();
        fake.put("prod", &marks(12)).await.unwrap();
        assert_eq!(fake.calls().len(), 2);
        let arn = &marks(1)[0].container_instance_arn;
        assert_eq!(
            fake.value(arn, "ecs-capacity.planned-removal").as_deref(),
            Some("1/1800000000")
        );
        fake.delete("prod", &marks(1)).await.unwrap();
        assert_eq!(fake.value(arn, "ecs-capacity.planned-removal"), None);
    }
}
