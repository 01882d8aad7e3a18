//! The cluster as last read, kept across warm invocations and brought up to date by the
//! events themselves.
//!
//! A rolling deployment on a 1,000-instance cluster fires hundreds of state-change events in
//! minutes; reading the whole cluster for each costs 2·⌈N/100⌉ ECS calls (20 here) plus the
//! task-definition discovery, and soon meets ECS's throttling. But each event carries the
//! changed container instance exactly as DescribeContainerInstances returns it, with ECS's
//! `version`. So the calculator reads the cluster once per `CLUSTER_REFRESH_SECONDS` and, in
//! between, applies each event's instance to the view it read:
//!
//! * an event whose `version` is not above the instance's version in the read (or the last
//!   event applied to it) is already reflected — a redelivery, an event older than the read,
//!   or one that arrived out of order — and changes nothing. ECS's own per-instance counter
//!   decides, never a comparison of ECS's `updatedAt` with this function's clock (the two
//!   clocks differ, and a read takes time);
//! * an event that lacks any figure, an instance the read gave no version for, a view of
//!   another cluster, or an old view: full read;
//! * while the last read found tasks waiting for room, every event reads the cluster: the
//!   services' counts are what changes then (ECS places the waiting tasks as hosts join), and
//!   no event carries them. A stale count would ask for the same hosts twice.
//!
//! A service action (a placement failure) always reads the cluster and replaces the view: the
//! demand changed, and no event says by how much. The refresh bounds how long a lost event can
//! leave the view wrong (and picks up newly deployed task definitions and service counts).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use capacity_aws::cluster::TaskPlacement;
use capacity_aws::{ClusterArn, ClusterSnapshot};
use capacity_core::mark::InstanceAttribute;
use capacity_core::placement::ServicePlacement;
use capacity_core::{ContainerInstance, Demand, WorstCase};

use crate::event::ParsedEvent;

/// The cluster's instances and worst case, from a read or from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    pub instances: Vec<ContainerInstance>,
    pub worst_case: WorstCase,
    /// How many task shapes the worst case was taken from (0: configured).
    pub task_shapes: usize,
    /// What waited for room at the read, and the daemons.
    pub demand: Demand,
    /// Which tasks ran where at the read (for the consolidation plan; an instance an event
    /// changed since shows as a difference and is never planned).
    pub placement: TaskPlacement,
    /// The services' placement rules at the read.
    pub placement_rules: Vec<ServicePlacement>,
}

impl From<ClusterSnapshot> for ClusterView {
    fn from(snapshot: ClusterSnapshot) -> ClusterView {
        ClusterView {
            instances: snapshot.instances,
            worst_case: snapshot.worst_case,
            task_shapes: snapshot.task_shapes.len(),
            demand: snapshot.demand,
            placement: snapshot.placement,
            placement_rules: snapshot.placement_rules,
        }
    }
}

#[derive(Debug)]
struct Cached {
    cluster: ClusterArn,
    read_started: SystemTime,
    view: ClusterView,
    index: HashMap<String, usize>,
    /// Per instance, ECS's version as read or as the last event applied carried it.
    applied_versions: HashMap<String, i64>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct ClusterCache {
    refresh: Duration,
    cached: Mutex<Option<Cached>>,
}

impl ClusterCache {
    /// A cache whose reads stay valid for `refresh`; `Duration::ZERO` reads every time.
    pub fn new(refresh: Duration) -> ClusterCache {
        ClusterCache {
            refresh,
            cached: Mutex::new(None),
        }
    }

    /// The cached view of `cluster` with the event applied, or `None` when the cluster must
    /// be read (see the module documentation).
    pub fn apply(&self, event: &ParsedEvent, now: SystemTime) -> Option<ClusterView> {
        if self.refresh.is_zero() {
            return None;
        }
        let mut guard = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        let cached = guard.as_mut().filter(|c| c.cluster == event.cluster)?;
        let age = now.duration_since(cached.read_started).ok()?;
        if age >= self.refresh || cached.view.demand.unplaced_count() > 0 {
            return None;
        }
        let detail = &event.event.detail;
        let instance = match event.container_instance() {
            Ok(instance) => instance,
            Err(why) => {
                tracing::debug!(reason = %why, "event carries no full figures: reading the cluster");
                return None;
            }
        };
        let version = detail.version?;
        match cached.applied_versions.get(&instance.id) {
            Some(applied) if *applied >= version => return Some(cached.view.clone()),
            Some(_) => {}
            // In the read without a version: whether the event is newer is unknown.
            None if cached.index.contains_key(&instance.id) => return None,
            // Registered since the read: the event is all there is.
            None => {}
        }
        cached.applied_versions.insert(instance.id.clone(), version);
        match cached.index.get(&instance.id) {
            Some(&i) => {
                if let Some(slot) = cached.view.instances.get_mut(i) {
                    *slot = instance;
                }
            }
            None => {
                cached
                    .index
                    .insert(instance.id.clone(), cached.view.instances.len());
                cached.view.instances.push(instance);
            }
        }
        Some(cached.view.clone())
    }

    /// Keeps a fresh read of `cluster`, started at `read_started`.
    pub fn store(
        &self,
        cluster: &ClusterArn,
        read_started: SystemTime,
        snapshot: &ClusterSnapshot,
    ) {
        if self.refresh.is_zero() {
            return;
        }
        let view = ClusterView::from(snapshot.clone());
        let index = view
            .instances
            .iter()
            .enumerate()
            .map(|(i, ci)| (ci.id.clone(), i))
            .collect();
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            cluster: cluster.clone(),
            read_started,
            view,
            index,
            applied_versions: snapshot.versions.clone(),
        });
    }

    /// Applies the attributes just deleted and put to the cached view of `cluster`: the next
    /// event applied to it sees them (and never deletes a mark by a value it no longer has).
    pub fn apply_marks(
        &self,
        cluster: &ClusterArn,
        deleted: &[InstanceAttribute],
        put: &[InstanceAttribute],
    ) {
        let mut guard = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        let Some(cached) = guard.as_mut().filter(|c| &c.cluster == cluster) else {
            return;
        };
        for (a, value) in deleted.iter().map(|a| (a, None)).chain(
            put.iter()
                .map(|a| (a, Some(a.value.clone().unwrap_or_default()))),
        ) {
            let Some(&i) = cached.index.get(&a.container_instance_arn) else {
                continue;
            };
            if let Some(instance) = cached.view.instances.get_mut(i) {
                match value {
                    Some(v) => instance.attributes.insert(a.name.clone(), v),
                    None => instance.attributes.remove(&a.name),
                };
            }
        }
    }

    /// Forgets the cached read: the next run reads the whole cluster (after a write whose
    /// effect is not known, e.g. marks half written).
    pub fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
