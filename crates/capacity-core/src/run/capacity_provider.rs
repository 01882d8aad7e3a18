//! Acting on the consolidation plan in capacity-provider mode (`SCALING_MODE =
//! capacity-provider`): the calculator sets the planned, partly used container instances
//! DRAINING itself, and ECS does the rest (moves their service tasks; managed termination
//! protection releases the emptied host; managed scaling removes it). Pure decisions
//! ([`changes`]); the shell carries them out.
//!
//! * **Drain** the first planned hosts whose tasks move (empty hosts, and the spare the
//!   provider's target capacity keeps, are managed scaling's), at most `DesiredCapacity −
//!   MinSize − hosts already leaving` (the plan is within the disruption budget, counting every
//!   DRAINING host): each first gets [`DRAINED_BY_ATTRIBUTE`] = `<unix seconds>`, then
//!   `UpdateContainerInstancesState DRAINING`. Only when the cluster's shape checked out
//!   ([`ClusterShape::check`]) and no task of this cluster's EC2 capacity waits.
//! * **Undo**: when such tasks wait (a placement failure not about Fargate nor another
//!   provider, or tasks ECS found no room for), every host still DRAINING that carries the mark
//!   and that the group is not terminating is set ACTIVE again at once (a host that runs is
//!   cheaper than a new one), then loses the mark. A DRAINING host without the mark was drained
//!   by someone else (an operator, Spot interruption handling, a deployment tool): never
//!   touched.
//! * **Give up**: a drain of ours that still has tasks (beside daemon tasks) after
//!   [`Settings::give_up_after`] — a task ECS will not move, a service at 100 % minimum healthy
//!   and maximum, a missed failure event — or whose host can no longer be removed (the shape no
//!   longer checks out, the group at its minimum) is set ACTIVE again and marked
//!   [`GIVEN_UP_ATTRIBUTE`]: not planned for the quiet period. A host with our mark found
//!   ACTIVE (an operator set it so, or the drain call failed after the mark) is marked given up
//!   too: the operator's word stands for the quiet period.
//!
//! A retry decides the same or less: a host already DRAINING is not planned again (it counts
//! against the budget), and setting a status a host has changes nothing.

use std::collections::BTreeSet;

use super::{
    ActingDecision, Action, AutoScalingGroup, Chain, Decision, RunInput, Settings, Step, StepKind,
    Trigger,
};
use crate::consolidation::{Removal, TaskOwner};
use crate::mark::{
    DRAINED_BY_ATTRIBUTE, DrainedBy, GIVEN_UP_ATTRIBUTE, GivenUp, InstanceAttribute,
};
use crate::{ClusterHost, InstanceStatus, ScaleInPlan};

pub use super::shape::TargetStatus;

/// What one run is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// The cluster's shape checked out: hosts may be drained.
    pub drain: bool,
    /// Hosts the group may still lose (`DesiredCapacity − MinSize`), when the group was read.
    pub removable: Option<u32>,
}

/// A drain given up, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GaveUp {
    pub host: String,
    pub why: String,
}

/// The changes one run makes, in the order the shell makes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Acting {
    /// Marks deleted: drained-by marks of hosts not DRAINING (then marked given up), given-up
    /// marks whose quiet period is over.
    pub unmark: Vec<InstanceAttribute>,
    /// Hosts set DRAINING (each marked first), plan order.
    pub drain: Vec<String>,
    /// Hosts this function drained that are set ACTIVE again because tasks wait.
    pub reactivate: Vec<String>,
    /// Drains of ours given up: set ACTIVE again and marked given up.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub given_up: Vec<GaveUp>,
    /// Hosts found ACTIVE with our drained-by mark (an operator's undo): marked given up.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub undone_by_others: Vec<String>,
    /// DRAINING hosts without the mark: drained by someone else, left alone.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub drained_by_others: Vec<String>,
    /// Marks whose value does not parse (ARN → why): still the mark, named in the summary.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub invalid: Vec<(String, String)>,
}

impl Acting {
    /// The marks to put before draining: [`DRAINED_BY_ATTRIBUTE`] = `now` on each host drained.
    pub fn marks(&self, now: u64) -> Vec<InstanceAttribute> {
        let value = DrainedBy { at_unix_secs: now }.to_string();
        self.drain
            .iter()
            .map(|arn| InstanceAttribute::new(arn, DRAINED_BY_ATTRIBUTE, Some(&value)))
            .collect()
    }

    /// Every host set ACTIVE again: the undone drains, then the given-up ones.
    fn set_active(&self) -> Vec<String> {
        self.reactivate
            .iter()
            .cloned()
            .chain(self.given_up.iter().map(|g| g.host.clone()))
            .collect()
    }
}

/// Capacity-provider mode's part of a run: check the cluster's shape, decide the changes
/// ([`changes`]) and order them ([`steps`]). `HostsToRemove` (the plan bounded by the group)
/// is published for observation when the group was read.
pub(super) fn act(input: &RunInput<'_>, decision: &mut Decision) {
    let verdict = match (input.provider, &input.settings.auto_scaling_group) {
        (Some(Ok(shape)), Some(group)) => shape.check(group),
        (Some(Ok(_)), None) => Err(
            "no Auto Scaling group is named: the capacity provider cannot be checked".to_owned(),
        ),
        (Some(Err(why)), _) => Err(why.to_owned()),
        (None, _) => Err("the cluster's capacity providers were not read".to_owned()),
    };
    let tasks_wait = tasks_wait(input, verdict.as_deref().ok());
    let acting = changes(
        &decision.plan,
        input,
        &decision.leaving,
        tasks_wait,
        Allowed {
            drain: verdict.is_ok(),
            removable: input.group.ok().map(AutoScalingGroup::removable),
        },
    );
    let refused = match (&verdict, input.group, tasks_wait) {
        (Err(why), _, _) => Some(why.clone()),
        (_, Err(why), _) => Some(format!("{why}: nothing is drained")),
        (_, _, true) => Some("tasks wait for room: nothing is drained".to_owned()),
        _ => None,
    };
    decision.steps = steps(&acting, input);
    match input.group {
        Ok(group) => {
            decision.hosts_to_remove = Some(super::self_managed::bound(
                &decision.plan,
                group.removable(),
            ));
        }
        Err(why) => decision.left_out = Some(why.to_owned()),
    }
    decision.acting = Some(ActingDecision {
        capacity_provider: verdict.ok(),
        refused,
        changes: acting,
    });
}

/// Whether tasks of this cluster's EC2 capacity wait: this run's placement failure is one
/// (not Fargate, of a service on the cluster's hosts or on `ours`), or tasks of such services
/// wait for room.
fn tasks_wait(input: &RunInput<'_>, ours: Option<&str>) -> bool {
    let on_ours = |service: &str| super::uses_our_capacity(input, service, ours);
    let failed = input.trigger == Trigger::PlacementFailure
        && input
            .demand
            .placement_failures
            .iter()
            .any(|f| f.rules_out_existing_room() && on_ours(&f.service));
    failed || input.demand.unplaced.iter().any(|u| on_ours(&u.service))
}

/// The changes and their order: set ACTIVE again (undo and give-ups) first, then unmarked and
/// marked given up; the marks of an operator's undo and the expired given-up marks; then each
/// planned host marked and set DRAINING — never drained when its mark could not be put.
pub(super) fn steps(acting: &Acting, input: &RunInput<'_>) -> Vec<Chain> {
    let now = input.now_unix_secs;
    let given_up = GivenUp { at_unix_secs: now }.to_string();
    let drained_mark = |arn: &str| {
        let value = input
            .instances
            .iter()
            .find(|i| i.id == arn)
            .and_then(|i| i.attribute(DRAINED_BY_ATTRIBUTE));
        InstanceAttribute::new(arn, DRAINED_BY_ATTRIBUTE, value)
    };
    let active = acting.set_active();
    vec![
        Chain(vec![
            Step {
                kind: StepKind::Reactivate,
                what: "setting the hosts this function drained ACTIVE",
                action: Action::SetStatus {
                    arns: active.clone(),
                    status: TargetStatus::Active,
                },
            },
            Step {
                kind: StepKind::UnmarkReactivated,
                what: "deleting the drained-by marks of the hosts set ACTIVE",
                action: Action::DeleteMarks(active.iter().map(|a| drained_mark(a)).collect()),
            },
            Step {
                kind: StepKind::MarkGivenUp,
                what: "marking the drains given up",
                action: Action::PutMarks(
                    acting
                        .given_up
                        .iter()
                        .map(|g| {
                            InstanceAttribute::new(&g.host, GIVEN_UP_ATTRIBUTE, Some(&given_up))
                        })
                        .collect(),
                ),
            },
        ]),
        Chain(vec![
            Step {
                kind: StepKind::UnmarkStale,
                what: "deleting stale drained-by and given-up marks",
                action: Action::DeleteMarks(acting.unmark.clone()),
            },
            Step {
                kind: StepKind::MarkGivenUp,
                what: "marking the hosts an operator set ACTIVE after our drain",
                action: Action::PutMarks(
                    acting
                        .undone_by_others
                        .iter()
                        .map(|h| InstanceAttribute::new(h, GIVEN_UP_ATTRIBUTE, Some(&given_up)))
                        .collect(),
                ),
            },
        ]),
        Chain(vec![
            Step {
                kind: StepKind::MarkDrained,
                what: "marking the planned hosts (nothing drained)",
                action: Action::PutMarks(acting.marks(now)),
            },
            Step {
                kind: StepKind::Drain,
                what: "setting the planned hosts DRAINING",
                action: Action::SetStatus {
                    arns: acting.drain.clone(),
                    status: TargetStatus::Draining,
                },
            },
        ]),
    ]
}

/// Hosts whose drain was given up lately are not planned until the quiet period after it is
/// over ([`ClusterHost::given_up_until`]), from their [`GIVEN_UP_ATTRIBUTE`]; so are the hosts
/// ACTIVE with our drained-by mark (an operator's undo, marked given up this run).
pub(super) fn hold_given_up(hosts: &mut [ClusterHost], settings: &Settings, now: u64) {
    let quiet = settings.quiet_after_shortfall.as_secs();
    for h in hosts {
        let given_up = h
            .instance
            .attribute(GIVEN_UP_ATTRIBUTE)
            .and_then(|v| GivenUp::parse(v).ok())
            .map(|g| g.at_unix_secs);
        let undone = h.instance.status == InstanceStatus::Active
            && h.instance.attribute(DRAINED_BY_ATTRIBUTE).is_some();
        let at = if undone { Some(now) } else { given_up };
        h.given_up_until = at.map(|at| at.saturating_add(quiet)).filter(|u| now < *u);
    }
}

/// What to change, from the cluster as read (`input.instances` with their marks), the `plan`
/// of that reading, the hosts the group is `leaving`, whether this cluster's EC2 tasks wait,
/// and what this run is `allowed` to do.
pub fn changes(
    plan: &ScaleInPlan,
    input: &RunInput<'_>,
    leaving: &[String],
    tasks_wait: bool,
    allowed: Allowed,
) -> Acting {
    let now = input.now_unix_secs;
    let settings = input.settings;
    let leaving: BTreeSet<&str> = leaving.iter().map(String::as_str).collect();
    let mut acting = Acting::default();
    // Ours DRAINING and not leaving, oldest drain first: those that may still be removed.
    let mut ours: Vec<(u64, &str)> = Vec::new();
    for instance in input.instances {
        let id = instance.id.as_str();
        if let Some(value) = instance.attribute(GIVEN_UP_ATTRIBUTE)
            && GivenUp::parse(value).is_ok_and(|g| {
                now >= g
                    .at_unix_secs
                    .saturating_add(settings.quiet_after_shortfall.as_secs())
            })
        {
            acting
                .unmark
                .push(InstanceAttribute::new(id, GIVEN_UP_ATTRIBUTE, Some(value)));
        }
        let Some(value) = instance.attribute(DRAINED_BY_ATTRIBUTE) else {
            if instance.status == InstanceStatus::Draining {
                acting.drained_by_others.push(id.to_owned());
            }
            continue;
        };
        let at = match DrainedBy::parse(value) {
            Ok(mark) => mark.at_unix_secs,
            Err(e) => {
                acting.invalid.push((id.to_owned(), e.to_string()));
                // An unreadable time: the drain is as old as can be.
                0
            }
        };
        match instance.status {
            InstanceStatus::Draining if leaving.contains(id) => {}
            InstanceStatus::Draining if tasks_wait => acting.reactivate.push(id.to_owned()),
            InstanceStatus::Draining => ours.push((at, id)),
            _ => {
                acting.unmark.push(InstanceAttribute::new(
                    id,
                    DRAINED_BY_ATTRIBUTE,
                    Some(value),
                ));
                acting.undone_by_others.push(id.to_owned());
            }
        }
    }
    ours.sort();
    let removable = allowed.removable.unwrap_or(0);
    let may_stay = if allowed.drain {
        usize::try_from(removable).unwrap_or(usize::MAX)
    } else {
        0
    };
    for (n, (at, id)) in ours.iter().enumerate() {
        let why = if !allowed.drain {
            Some("the cluster's shape no longer lets a drained host be removed".to_owned())
        } else if n >= may_stay {
            Some(format!(
                "the group may lose {removable} host(s): this one can no longer be removed"
            ))
        } else {
            let tasks = tasks_left(input, id);
            let age = now.saturating_sub(*at);
            (tasks > 0 && age >= settings.give_up_after.as_secs()).then(|| {
                format!(
                    "still runs {tasks} task(s) after {age} s of draining (given up after {} s)",
                    settings.give_up_after.as_secs()
                )
            })
        };
        if let Some(why) = why {
            acting.given_up.push(GaveUp {
                host: (*id).to_owned(),
                why,
            });
        }
    }
    if tasks_wait || !allowed.drain {
        return acting;
    }
    // A drain starts only on a run that read every container instance afresh (the schedule,
    // a placement failure): a run on a container instance's event reuses the last full read,
    // whose attributes may miss a do-not-disrupt mark put since (PutAttributes raises no
    // event). It delays a drain by at most the schedule's minute.
    if input.trigger == Trigger::ContainerInstanceStateChange {
        return acting;
    }
    let Some(removable) = allowed.removable else {
        return acting;
    };
    let room = removable.saturating_sub(plan.draining);
    // Once, not per planned host: a cluster has up to 5,000 instances.
    let active: std::collections::HashSet<&str> = input
        .instances
        .iter()
        .filter(|i| i.status == InstanceStatus::Active)
        .map(|i| i.id.as_str())
        .collect();
    acting.drain = plan
        .remove
        .iter()
        .filter(|h| matches!(h.why, Removal::TasksMove { .. }) && active.contains(h.id.as_str()))
        .take(usize::try_from(room).unwrap_or(usize::MAX))
        .map(|h| h.id.clone())
        .collect();
    acting
}

/// The tasks still on a DRAINING host besides its daemon tasks (which end with the host): the
/// listed ones when the reading vouches for them, else ECS's count less one task of every
/// DAEMON service.
fn tasks_left(input: &RunInput<'_>, id: &str) -> u64 {
    let listed = input
        .placement
        .tasks
        .as_ref()
        .and_then(|t| t.get(id))
        .map(|tasks| {
            tasks
                .iter()
                .filter(|t| !matches!(t.owner, TaskOwner::Daemon(_)))
                .count() as u64
        });
    let counted = input
        .placement
        .task_counts
        .get(id)
        .map(|n| n.saturating_sub(input.demand.daemons.len() as u64));
    // ECS's count is the fresher; nothing known counts as a task still there.
    counted.or(listed).unwrap_or(1)
}

#[cfg(test)]
mod tests;
