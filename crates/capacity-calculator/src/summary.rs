//! What one invocation did, as the function returns it and logs it.

use capacity_core::run::{Acting, MarkChanges, ScalingMode, Trigger};
use capacity_core::{Assessment, ScaleInPlan, WorstCase};
use serde::Serialize;

/// What one invocation did, as the function returns it: `{"outcome": "published", …the
/// [`Summary`]}` or `{"outcome": "nothing_to_do", "cluster": …, "reason": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Published(Box<Summary>),
    NothingToDo(NothingToDo),
}

impl Outcome {
    /// The summary, when the metrics were published.
    pub fn published(self) -> Option<Summary> {
        match self {
            Outcome::Published(summary) => Some(*summary),
            Outcome::NothingToDo(_) => None,
        }
    }
}

/// An event that asks for no computation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NothingToDo {
    pub cluster: String,
    pub reason: String,
}

/// The invocation's result, as the function returns it (and logs it): the cluster's
/// [`Assessment`] as capacity-core computed it (flattened: `container_capacity`,
/// `idle_host_capacity` as published, `hosts_to_add`, `unplaced_tasks`, `unplaced` per service
/// deployment, `decision`, `explanation`, …), and where its figures came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub cluster: String,
    #[serde(flatten)]
    pub assessment: Assessment,
    /// Today's tasks packed on the type the group launches (`StrandedVcpu`,
    /// `StrandedMemoryGiB`), when its types and a task listing were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<capacity_core::fit::TypeFit>,
    /// The consolidation plan: which hosts could go, why each, why the others stay.
    pub scale_in_plan: ScaleInPlan,
    pub scaling_mode: ScalingMode,
    /// `HostsRemovable` as published: the plan's size, bounded by the group when read.
    pub hosts_removable: u32,
    /// `HostsToRemove` as published (the plan bounded by the group), or `None` when it was
    /// left out of the metrics.
    pub hosts_to_remove: Option<u32>,
    /// Why `HostsToRemove` was left out (the group read or the marks failed, no group set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts_to_remove_left_out: Option<String>,
    /// The group as read this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupSummary>,
    /// The planned-removal marks deleted and put this run (self-managed mode).
    pub marks: MarkChanges,
    /// What the run drained and set ACTIVE again (capacity-provider mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting: Option<ActingSummary>,
    pub instances: usize,
    /// The task the figures are in: the worst case, or `HEADROOM_TASK`'s task.
    pub worst_case: WorstCase,
    /// `configured`, or `discovered from N task definition(s)`; `headroom task service:web`
    /// (or `CPU/MEMORY`) when `HEADROOM_TASK` applied, and why not, after the first two, when
    /// the reading did not show its service.
    pub worst_case_source: String,
    pub namespace: String,
    pub metrics_published: usize,
    /// Where the instances came from: a full `read`, or the cached read updated by this `event`.
    pub source: Source,
    pub trigger: Trigger,
}

/// The Auto Scaling group as one run read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub name: String,
    pub min_size: u32,
    pub desired_capacity: u32,
    pub instances: usize,
    /// Container instances whose EC2 instance the group is terminating.
    pub leaving: Vec<String>,
}

/// What a capacity-provider-mode run did with its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActingSummary {
    /// The capacity provider found in the shape the mode needs, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<String>,
    /// Why nothing was drained (the shape check, the group read, tasks waiting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(flatten)]
    pub changes: Acting,
    /// How many hosts were set DRAINING / ACTIVE again because tasks wait / ACTIVE again
    /// because their drain was given up (0 when the call failed).
    pub drained: u32,
    pub reactivated: u32,
    pub drains_given_up: u32,
    /// The first call that failed, when one did (what it left undone is retried next run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where one computation's instances came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Read,
    Event,
}
