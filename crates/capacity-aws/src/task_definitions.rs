//! Task definitions by ARN: [`TaskDefinitionReader`] and the [`TaskShapeCache`] that keeps
//! each revision's shape across warm invocations. The reader is implemented beside the
//! cluster read, which imports this module (on `EcsReader` in `cluster`, and for tests on
//! `FakeCluster` in `cluster::fake`); this module names neither.
//!
//! DescribeTaskDefinition has its own token bucket (50 requests, refilled at 20 per second):
//! a revision is immutable once registered, so each is described once per process.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use capacity_core::{TaskDefinition, TaskShape};
use futures::{StreamExt, TryStreamExt, stream};

use crate::Error;
use crate::batch::DESCRIBE_CONCURRENCY;

/// Reads task definitions by ARN.
pub trait TaskDefinitionReader: Send + Sync {
    /// The task definition `arn` (a revision: immutable once registered).
    fn task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<TaskDefinition, Error>> + Send;
}

/// Task shapes by task-definition ARN, kept across warm invocations: a revision never
/// changes once registered, so each is described once per process.
#[derive(Debug)]
pub struct TaskShapeCache<R> {
    reader: R,
    shapes: Arc<Mutex<HashMap<String, TaskShape>>>,
}

impl<R: TaskDefinitionReader> TaskShapeCache<R> {
    pub fn new(reader: R) -> TaskShapeCache<R> {
        TaskShapeCache {
            reader,
            shapes: Arc::default(),
        }
    }

    /// The shapes of `arns`, describing only those not seen before (concurrently, bounded).
    pub async fn shapes(&self, arns: &BTreeSet<String>) -> Result<Vec<TaskShape>, Error> {
        let by_arn = self.shapes_by_arn(arns).await?;
        Ok(arns.iter().filter_map(|a| by_arn.get(a).cloned()).collect())
    }

    /// [`TaskShapeCache::shapes`] by task definition ARN.
    pub async fn shapes_by_arn(
        &self,
        arns: &BTreeSet<String>,
    ) -> Result<HashMap<String, TaskShape>, Error> {
        let missing: Vec<&String> = {
            let cache = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
            arns.iter().filter(|a| !cache.contains_key(*a)).collect()
        };
        // Each shape is kept as it arrives: a read that fails or times out half-way (1,000
        // revisions take 47.5 s of DescribeTaskDefinition refill) still spares the next one
        // what it described.
        stream::iter(missing)
            .map(|arn| async move {
                let def = self.reader.task_definition(arn).await?;
                let shape = TaskShape::from_definition(&def)?;
                self.shapes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(arn.clone(), shape);
                Ok::<_, Error>(())
            })
            .buffer_unordered(DESCRIBE_CONCURRENCY)
            .try_collect::<()>()
            .await?;
        let cache = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        Ok(arns
            .iter()
            .filter_map(|a| Some((a.clone(), cache.get(a)?.clone())))
            .collect())
    }

    /// The reader behind the cache.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// How many task definitions are cached.
    pub fn len(&self) -> usize {
        self.shapes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
