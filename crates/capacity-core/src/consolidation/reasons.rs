//! Why a host goes ([`Removal`]) or stays ([`Unconsolidatable`]): one typed reason per host,
//! as the plan reports it.

use std::fmt;

use super::DO_NOT_DISRUPT_ATTRIBUTE;

/// Why a planned host may go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "reason", rename_all = "snake_case")
)]
pub enum Removal {
    /// An instance of the group with no container instance: nothing to drain.
    NotInCluster,
    /// No task on it.
    Empty,
    /// Its tasks fit on `onto` hosts that stay, with the headroom still free.
    TasksMove { tasks: u32, onto: u32 },
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Removal::NotInCluster => f.write_str("not in the cluster: nothing to drain"),
            Removal::Empty => f.write_str("empty: no task to move"),
            Removal::TasksMove { tasks, onto } => write!(
                f,
                "its {tasks} task(s) fit on {onto} host(s) that stay, the headroom still free"
            ),
        }
    }
}

/// Why a host is not planned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "reason", rename_all = "snake_case")
)]
pub enum Unconsolidatable {
    /// Marked with [`DO_NOT_DISRUPT_ATTRIBUTE`].
    DoNotDisrupt,
    /// Its tasks are not known as a whole ([`ClusterHost::tasks_known`]): what would have to
    /// move is unknown.
    TasksUnknown,
    /// Already DRAINING: leaving, and counted against the budget.
    Draining,
    /// Neither ACTIVE nor DRAINING (REGISTERING, …): not a candidate.
    NotActive { status: String },
    /// ACTIVE with the agent disconnected: its tasks cannot be read as moved; not a
    /// candidate.
    AgentDisconnected,
    /// Tasks that wait or that leave DRAINING hosts do not all fit on the room there is: the
    /// cluster needs room, not fewer hosts.
    WaitingTasksDoNotFit { tasks: u64 },
    /// A task of the host (`shape`, one of its `tasks`) fits on no host that stays.
    TasksDoNotFit { tasks: u32, shape: String },
    /// Its tasks fit, but the hosts that stay would keep `left` of `headroom` worst-case
    /// tasks free (the scale-out headroom, plus [`ScaleInInput::margin`] when tasks move and
    /// the margin is in worst-case tasks).
    WouldBreakHeadroom { left: u64, headroom: u32 },
    /// Its tasks fit, but the hosts that stay would have no room for `tasks` more of `shape`,
    /// its largest task, with the headroom still free: the plan's margin
    /// ([`ScaleInInput::margin`]).
    NoRoomForMargin { shape: String, tasks: u32 },
    /// Removable since `since`; planned from `until` (seconds since the Unix epoch).
    NotYetStable { since: u64, until: u64 },
    /// Not tried: `budget` hosts are leaving already (DRAINING or planned before it).
    BudgetReached { budget: u32 },
    /// Its EC2 instance is being terminated by the Auto Scaling group (`lifecycle_state`
    /// Terminating, Terminating:Wait, …): leaving, planned like a DRAINING host (its tasks
    /// move, it counts against the budget). Set by the caller that read the group.
    Leaving { lifecycle_state: String },
    /// Its EC2 instance is not in the Auto Scaling group the plan is for: the group cannot
    /// remove it. Set by the caller that read the group.
    NotInGroup,
    /// Not tried: the cluster was short at `short_at`; hosts are planned again from `until`
    /// ([`ScaleInInput::quiet_after_shortfall`]; seconds since the Unix epoch).
    QuietAfterShortfall { short_at: u64, until: u64 },
    /// The cluster is short this run (HostsToAdd above 0, or ECS could not place a task on
    /// this cluster's EC2 capacity): nothing is planned, and the quiet period starts.
    ShortNow,
    /// It runs a standalone task (started by RunTask or StartTask; its `group`): ECS does not
    /// move it, so the host would stay DRAINING until the task ends.
    StandaloneTask { group: String },
    /// A task of `service` is bound by a placement constraint the plan cannot check
    /// (`expression`): it would not be moved with confidence, so its host stays.
    TaskCannotMove { service: String, expression: String },
    /// Its zone has `hosts`, at the minimum a zone keeps.
    ZoneAtMinimum { zone: String, hosts: u32 },
    /// Auto Scaling shrinks the zone with the most hosts first: its zone has `hosts`, another
    /// `most`.
    ZoneNotLargest { zone: String, hosts: u32, most: u32 },
    /// Not tried: Auto Scaling may shrink `zone`, tied for the most hosts, and no host there
    /// can go, so no more hosts are planned (the chooser would have none checked to fit).
    TiedZoneWithoutHost { zone: String },
    /// Capacity-provider mode: empty (or running only daemon tasks). Managed scaling removes
    /// it, or keeps it as the spare its target capacity asks for; no task is moved onto it.
    LeftToManagedScaling,
    /// This function drained it and gave the drain up, or an operator set it ACTIVE again
    /// after our drain: not planned until `until` (seconds since the Unix epoch).
    GivenUp { until: u64 },
}

impl fmt::Display for Unconsolidatable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unconsolidatable::DoNotDisrupt => {
                write!(f, "marked do-not-disrupt ({DO_NOT_DISRUPT_ATTRIBUTE})")
            }
            Unconsolidatable::TasksUnknown => {
                f.write_str("its tasks are not known as a whole: not a candidate")
            }
            Unconsolidatable::Draining => f.write_str("already DRAINING"),
            Unconsolidatable::NotActive { status } => {
                write!(f, "status {status}: not a candidate")
            }
            Unconsolidatable::AgentDisconnected => {
                f.write_str("agent disconnected: not a candidate")
            }
            Unconsolidatable::WaitingTasksDoNotFit { tasks } => write!(
                f,
                "{tasks} waiting or draining task(s) fit nowhere: the cluster needs room, not fewer hosts"
            ),
            Unconsolidatable::TasksDoNotFit { tasks, shape } => write!(
                f,
                "unconsolidatable: a task of {shape} (of its {tasks}) fits on no host that stays"
            ),
            Unconsolidatable::WouldBreakHeadroom { left, headroom } => write!(
                f,
                "unconsolidatable: the hosts that stay would keep {left} of the {headroom} worst-case task(s) of headroom"
            ),
            Unconsolidatable::NoRoomForMargin { shape, tasks } => write!(
                f,
                "unconsolidatable: its tasks fit, but the hosts that stay would have no room for {tasks} more {shape} beside the headroom (the margin)"
            ),
            Unconsolidatable::NotYetStable { since, until } => write!(
                f,
                "removable since {since}, planned from {until} (stability window)"
            ),
            Unconsolidatable::QuietAfterShortfall { short_at, until } => write!(
                f,
                "not tried: the cluster was short at {short_at}, quiet until {until}"
            ),
            Unconsolidatable::BudgetReached { budget } => write!(
                f,
                "not tried: the disruption budget of {budget} host(s) leaving at once is reached"
            ),
            Unconsolidatable::Leaving { lifecycle_state } => write!(
                f,
                "leaving: the Auto Scaling group is terminating it ({lifecycle_state})"
            ),
            Unconsolidatable::NotInGroup => {
                f.write_str("not in the Auto Scaling group: the group cannot remove it")
            }
            Unconsolidatable::ShortNow => f.write_str(
                "not tried: the cluster is short now (hosts to add, or a placement failure of its EC2 capacity)",
            ),
            Unconsolidatable::StandaloneTask { group } => write!(
                f,
                "runs a standalone task ({group}) that ECS does not move: it would stay DRAINING until the task ends"
            ),
            Unconsolidatable::TaskCannotMove { service, expression } => write!(
                f,
                "a task of {service} is bound by a constraint the plan cannot check ({expression}): not moved"
            ),
            Unconsolidatable::ZoneAtMinimum { zone, hosts } => write!(
                f,
                "its zone {zone} has {hosts} host(s), the minimum a zone keeps"
            ),
            Unconsolidatable::ZoneNotLargest { zone, hosts, most } => write!(
                f,
                "its zone {zone} has {hosts} host(s) and another {most}: Auto Scaling shrinks the largest zone first"
            ),
            Unconsolidatable::TiedZoneWithoutHost { zone } => write!(
                f,
                "not tried: Auto Scaling may shrink zone {zone} (tied for the most hosts), where no host can go"
            ),
            Unconsolidatable::LeftToManagedScaling => f.write_str(
                "empty: managed scaling removes it or keeps it as its spare; no task moves onto it",
            ),
            Unconsolidatable::GivenUp { until } => write!(
                f,
                "a drain of it was given up (or undone by an operator): not planned until {until}"
            ),
        }
    }
}
