//! Hosts to remove (consolidation): the largest set of hosts that can go, cheapest first.
//!
//! [`plan_scale_in`] takes the cluster as read — every container instance with its
//! registered and remaining resources and the shapes of the tasks on it — the tasks that
//! wait, the headroom, a [`DisruptionBudget`] and the stability state, and returns a
//! [`ScaleInPlan`]: the hosts that go, in order, each with why, and every other host with a
//! typed reason it stays ([`Unconsolidatable`], after Karpenter's word for it).
//!
//! A host can go only if every task on it — and every task moved onto it by a host chosen
//! before it — is re-placed first-fit decreasing onto the room left on the hosts that stay
//! (all resources at once, static ports per host: the packer of [`crate::plan_scale_out`]),
//! **and** the headroom of worst-case tasks is still free after that. Before any host is
//! tried, the tasks already moving are placed: the tasks that wait, and the tasks of the
//! hosts already DRAINING (ECS re-places them); if they do not all fit, nothing goes.
//!
//! Candidates are tried in one order: hosts of the group not in the cluster (nothing to
//! drain), then container instances by tasks to move per vCPU saved (empty ones first), the
//! input order among equals. A host is chosen when it is removable, has been removable for
//! the stability window, and the budget has room: at most the budget leaving at once,
//! counting the hosts already DRAINING. Hosts marked do-not-disrupt
//! ([`DO_NOT_DISRUPT_ATTRIBUTE`]) are never chosen (their room still takes tasks).
//!
//! The plan is pure: the caller passes the time now and, per host, since when it has been
//! removable ([`ScaleInInput::removable_since`]), and stores the plan's updated
//! [`ScaleInPlan::removable_since`] for the next run.
//!
//! ```
//! use std::collections::BTreeMap;
//! use capacity_core::{plan_scale_in, ClusterHost, ContainerInstance, Resources, ScaleInInput,
//!                     TaskShape, WorstCase};
//!
//! let web = TaskShape::new("web:1", 1024, 2048);
//! let worst = WorstCase::of([&web])?;
//! let host = |id: &str, tasks: usize| {
//!     let used = tasks as u32;
//!     let instance = ContainerInstance::active(id, Resources::new(4096, 8192),
//!         Resources::new(4096 - 1024 * used, 8192 - 2048 * used));
//!     ClusterHost::new(instance, vec![web.clone(); tasks])
//! };
//! let hosts = [host("a", 1), host("b", 1), host("c", 0)];
//! let since = BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 0), ("c".to_owned(), 0)]);
//! let plan = plan_scale_in(&ScaleInInput::new(&hosts, &worst, 3600, &since));
//! // The 10 % budget of 3 hosts is 1: the empty host goes first.
//! assert_eq!(plan.ids(), ["c"]);
//! # Ok::<(), capacity_core::CapacityError>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::packing::{Packer, size_key, sort_decreasing};
use crate::{
    CapacityError, ContainerInstance, HostRoom, InstanceStatus, Resources, ScalePolicy, TaskShape,
    UnplacedTasks, WorstCase,
};

/// The container-instance attribute that keeps a host out of every consolidation plan: set
/// it with `aws ecs put-attributes --cluster C --attributes
/// name=ecs-capacity.do-not-disrupt,value=true,targetType=container-instance,targetId=ARN`
/// (see [`marks_do_not_disrupt`] for the values that count).
pub const DO_NOT_DISRUPT_ATTRIBUTE: &str = "ecs-capacity.do-not-disrupt";

/// How long a host must have been removable before it is planned: the scale-in alarm's
/// evaluation window as deployed (5 periods of 60 s), so a dip between two bursts does not
/// churn hosts.
pub const DEFAULT_STABILITY_WINDOW: Duration = Duration::from_secs(300);

/// How long after the cluster was last short no host is planned
/// ([`ScaleInInput::quiet_after_shortfall`]): the simulator's flap window, 15 minutes, so
/// that a scale-in never undoes a scale-out the cluster needed within it.
pub const DEFAULT_QUIET_AFTER_SHORTFALL: Duration = Duration::from_secs(900);

/// Worst-case tasks beyond the headroom that the hosts that stay must keep free when a host's
/// tasks move ([`ScaleInInput::margin`]): scale-out adds a host when fewer than `headroom`
/// are free, consolidation empties one only if `headroom + margin` stay free.
pub const DEFAULT_MARGIN: u32 = 1;

/// Whether a [`DO_NOT_DISRUPT_ATTRIBUTE`] with this value (ECS attributes may have none)
/// marks the host: present with no value, or any value but `false`, `no`, `0` (any case).
pub fn marks_do_not_disrupt(value: Option<&str>) -> bool {
    value.is_none_or(|v| {
        !["false", "no", "0"]
            .iter()
            .any(|off| v.trim().eq_ignore_ascii_case(off))
    })
}

/// At most how many hosts may be leaving at once (DRAINING or planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum DisruptionBudget {
    /// A fixed number of hosts (0 stops consolidation).
    Hosts(u32),
    /// A percentage of the cluster's hosts, 1 to 100, rounded up, at least 1.
    Percent(u32),
}

impl Default for DisruptionBudget {
    /// 10 % of the cluster.
    fn default() -> Self {
        DisruptionBudget::Percent(10)
    }
}

impl DisruptionBudget {
    /// `N` hosts, or `N%` of the cluster (1 to 100).
    pub fn parse(s: &str) -> Result<DisruptionBudget, CapacityError> {
        let invalid = || CapacityError::InvalidDisruptionBudget(s.to_owned());
        let s = s.trim();
        match s.strip_suffix('%') {
            Some(p) => {
                let p: u32 = p.trim().parse().map_err(|_| invalid())?;
                if (1..=100).contains(&p) {
                    Ok(DisruptionBudget::Percent(p))
                } else {
                    Err(invalid())
                }
            }
            None => s
                .parse()
                .map(DisruptionBudget::Hosts)
                .map_err(|_| invalid()),
        }
    }

    /// Hosts allowed to be leaving at once in a cluster of `hosts` hosts.
    pub fn hosts_allowed(&self, hosts: usize) -> u32 {
        match *self {
            DisruptionBudget::Hosts(n) => n,
            DisruptionBudget::Percent(p) => {
                let scaled = (hosts as u64 * u64::from(p.min(100))).div_ceil(100);
                u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
            }
        }
    }
}

impl fmt::Display for DisruptionBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisruptionBudget::Hosts(n) => write!(f, "{n} host(s)"),
            DisruptionBudget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// One container instance as read, with the shapes of its tasks (running and pending).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHost {
    pub instance: ContainerInstance,
    /// One shape per task on the host.
    pub tasks: Vec<TaskShape>,
    /// The host carries [`DO_NOT_DISRUPT_ATTRIBUTE`].
    pub do_not_disrupt: bool,
    /// Whether `tasks` are all of the host's tasks, as read. A host whose tasks the caller
    /// could not vouch for (a listing older than the host's last change) keeps its room for
    /// the others but is never planned ([`Unconsolidatable::TasksUnknown`]).
    pub tasks_known: bool,
}

impl ClusterHost {
    pub fn new(instance: ContainerInstance, tasks: Vec<TaskShape>) -> ClusterHost {
        ClusterHost {
            instance,
            tasks,
            do_not_disrupt: false,
            tasks_known: true,
        }
    }
}

/// Everything [`plan_scale_in`] decides on.
#[derive(Debug, Clone)]
pub struct ScaleInInput<'a> {
    /// The container instances of the cluster, in the group's order.
    pub hosts: &'a [ClusterHost],
    /// EC2 instance ids of the group that are not container instances of the cluster.
    pub not_in_cluster: &'a [String],
    /// The worst case the headroom is counted in.
    pub worst_case: &'a WorstCase,
    pub policy: ScalePolicy,
    /// Tasks that wait for room (each placed before any host is tried).
    pub waiting: &'a [UnplacedTasks],
    pub budget: DisruptionBudget,
    /// Seconds since the Unix epoch.
    pub now_unix_secs: u64,
    pub stability_window: Duration,
    /// Per host id (container instance id, or EC2 id for a host not in the cluster), since
    /// when it has been removable, in seconds since the Unix epoch: the previous plan's
    /// [`ScaleInPlan::removable_since`].
    pub removable_since: &'a BTreeMap<String, u64>,
    /// Hysteresis, in worst-case tasks: a host whose tasks must move goes only if the hosts
    /// that stay keep `headroom + margin` worst-case tasks free, where scale-out adds a host
    /// below `headroom`. Without it a host is emptied the moment a rising demand leaves
    /// exactly the headroom once repacked, and added back minutes later. An empty host (or
    /// one not in the cluster) needs the headroom only, as the book's scale-in.
    pub margin: u32,
    /// Hysteresis in time: no host is planned until this long after the cluster was last
    /// short — tasks already moving (waiting, or on DRAINING hosts) that do not fit, or the
    /// headroom not free before any host is removed (what makes HostsToAdd above 0). While
    /// it lasts every stability window starts again.
    pub quiet_after_shortfall: Duration,
    /// When the cluster was last found short (seconds since the Unix epoch): the previous
    /// plan's [`ScaleInPlan::last_shortfall`]; `None` when not known (a cold start).
    pub last_shortfall: Option<u64>,
}

impl<'a> ScaleInInput<'a> {
    /// The defaults: no strangers, nothing waiting, headroom 1, 10 % budget, stable for 5
    /// minutes, a margin of 1 worst-case task, quiet for 15 minutes after a shortfall (none
    /// known).
    pub fn new(
        hosts: &'a [ClusterHost],
        worst_case: &'a WorstCase,
        now_unix_secs: u64,
        removable_since: &'a BTreeMap<String, u64>,
    ) -> ScaleInInput<'a> {
        ScaleInInput {
            hosts,
            not_in_cluster: &[],
            worst_case,
            policy: ScalePolicy::default(),
            waiting: &[],
            budget: DisruptionBudget::default(),
            now_unix_secs,
            stability_window: DEFAULT_STABILITY_WINDOW,
            removable_since,
            margin: DEFAULT_MARGIN,
            quiet_after_shortfall: DEFAULT_QUIET_AFTER_SHORTFALL,
            last_shortfall: None,
        }
    }
}

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
    /// tasks free (the scale-out headroom, plus [`ScaleInInput::margin`] when tasks move).
    WouldBreakHeadroom { left: u64, headroom: u32 },
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
        }
    }
}

/// A host the plan removes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PlannedHost {
    /// The container instance id (or the EC2 id of a host not in the cluster).
    pub id: String,
    pub ec2_instance_id: Option<String>,
    pub why: Removal,
}

/// A host the plan keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KeptHost {
    pub id: String,
    pub ec2_instance_id: Option<String>,
    pub why: Unconsolidatable,
}

/// Where one task goes once the plan is carried out: a task of a planned or DRAINING host,
/// or a task that waits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Placement {
    /// The task's shape name.
    pub shape: String,
    /// The host it leaves, or `waiting: <service>`.
    pub from: String,
    /// The host that stays and takes it.
    pub onto: String,
}

/// The consolidation plan: which hosts go, in order, why each, and why the others stay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ScaleInPlan {
    /// The hosts to remove, cheapest first.
    pub remove: Vec<PlannedHost>,
    /// Every other host: first the candidates in the order tried, then the rest.
    pub keep: Vec<KeptHost>,
    /// Hosts allowed to be leaving at once.
    pub budget: u32,
    /// Hosts DRAINING already (counted against the budget).
    pub draining: u32,
    pub headroom: u32,
    /// Worst-case tasks still free on the hosts that stay once the plan is carried out.
    pub free_after: u64,
    /// Tasks already moving (waiting, or on DRAINING hosts) that fit on no room: when above
    /// 0 nothing is removed.
    pub moving_short: u64,
    /// Where every moved task goes, so a report (or a test) can check it.
    pub placements: Vec<Placement>,
    /// Per host found removable in this run, since when (seconds since the Unix epoch): the
    /// caller stores it for the next run. A host not found removable, or not tried because
    /// the budget was spent, is not in it: its window starts again when it is next found
    /// removable (strict on purpose: a host is planned only after a whole window of runs
    /// that found it removable). Hosts not in the cluster and empty hosts beyond the budget
    /// are the exception: checking them costs nothing, so they keep their window while
    /// they wait for the budget.
    pub removable_since: BTreeMap<String, u64>,
    /// When the cluster was last found short, this run or before (seconds since the Unix
    /// epoch): the caller stores it for the next run's [`ScaleInInput::last_shortfall`].
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub last_shortfall: Option<u64>,
}

impl ScaleInPlan {
    /// `HostsToRemove`: the plan's size.
    pub fn hosts_to_remove(&self) -> u32 {
        u32::try_from(self.remove.len()).unwrap_or(u32::MAX)
    }

    /// The ids of the planned hosts, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.remove.iter().map(|h| h.id.as_str()).collect()
    }

    /// Why `id` stays, if the plan keeps it.
    pub fn why_kept(&self, id: &str) -> Option<&Unconsolidatable> {
        self.keep.iter().find(|k| k.id == id).map(|k| &k.why)
    }
}

impl fmt::Display for ScaleInPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "remove {} host(s) (budget {} leaving at once, {} DRAINING already; {} of the {} worst-case task(s) of headroom free after)",
            self.remove.len(),
            self.budget,
            self.draining,
            self.free_after,
            self.headroom
        )?;
        for h in &self.remove {
            writeln!(f, "  - {}: {}", h.id, h.why)?;
        }
        for h in &self.keep {
            writeln!(f, "  keep {}: {}", h.id, h.why)?;
        }
        Ok(())
    }
}

/// A task to place, with where it comes from.
#[derive(Clone, Copy)]
struct Moving<'a> {
    shape: &'a TaskShape,
    /// Host index, or `None` for a waiting task (then `service` names it).
    from: Option<usize>,
    service: &'a str,
}

enum Candidate {
    Stranger(usize),
    Host(usize),
}

/// The consolidation plan for `input`; see the module.
///
/// **Greedy, by design.** Each candidate is tried once, in rank order, against the packing
/// state the hosts chosen before it left (their tasks stay where they were placed; a failed
/// or not yet stable try is undone). The plan is therefore the largest set this order finds,
/// not the largest possible one — that is bin packing, NP-hard.
///
/// **Bound.** A try moves the candidate's k tasks (its own and those moved onto it) with the
/// packer's first-fit search: O(k log k + k·log B) on B hosts typically, O(k·B) at worst (the
/// tree's frontier folded too coarsely). Once the budget is spent the remaining candidates
/// are not tried, so the tries are the hosts chosen (at most the budget) plus those that
/// failed before it was spent; every task moves at most once per host that takes it and is
/// then chosen too. Setting up is O(B + T) for T tasks (reading the rooms, placing the
/// waiting and draining tasks). For 5,000 instances and 50,000 tasks the `capacity` bench
/// measures the default 10 % budget and a 100 % one, where every host is tried.
pub fn plan_scale_in(input: &ScaleInInput<'_>) -> ScaleInPlan {
    let hosts = input.hosts;
    let worst = input.worst_case;
    let headroom = input.policy.headroom();
    let budget = input
        .budget
        .hosts_allowed(hosts.len() + input.not_in_cluster.len());
    let draining = hosts
        .iter()
        .filter(|h| h.instance.status == InstanceStatus::Draining)
        .count();
    let draining = u32::try_from(draining).unwrap_or(u32::MAX);
    let may_leave = budget.saturating_sub(draining);
    let mut plan = ScaleInPlan {
        budget,
        draining,
        headroom,
        last_shortfall: input.last_shortfall,
        ..ScaleInPlan::default()
    };

    // The room of every counted host; the order of the rooms is the group's order.
    let mut room_of: Vec<Option<usize>> = vec![None; hosts.len()];
    let mut rooms = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        if h.instance.accepts_tasks() {
            room_of[i] = Some(rooms.len());
            rooms.push(HostRoom::of(i, &h.instance));
        }
    }
    let size = largest_registered(hosts);
    let mut packer = Packer::watching(
        rooms.into_iter().map(Cow::Owned),
        worst,
        hosts
            .iter()
            .flat_map(|h| &h.tasks)
            .chain(input.waiting.iter().map(|u| &u.shape)),
    );
    // What has been moved onto each room, so it moves on if that host goes too.
    let mut moved_in: Vec<Vec<Moving<'_>>> = vec![Vec::new(); packer.len()];

    // The tasks already moving go first.
    let mut must: Vec<(&TaskShape, Moving<'_>)> = Vec::new();
    for u in input.waiting {
        let m = Moving {
            shape: &u.shape,
            from: None,
            service: &u.service,
        };
        must.extend(std::iter::repeat_n((&u.shape, m), u.count as usize));
    }
    for (i, h) in hosts.iter().enumerate() {
        if h.instance.status == InstanceStatus::Draining {
            must.extend(h.tasks.iter().map(|t| {
                (
                    t,
                    Moving {
                        shape: t,
                        from: Some(i),
                        service: "",
                    },
                )
            }));
        }
    }
    sort_decreasing(&mut must, &size);
    let mut short = 0u64;
    for (shape, m) in must {
        match packer.place(shape) {
            Some(r) => moved_in[r].push(m),
            None => short += 1,
        }
    }

    // Who is not a candidate at all.
    let mut candidates = Vec::new();
    let mut others = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let status = &h.instance.status;
        let why = if *status == InstanceStatus::Draining {
            Some(Unconsolidatable::Draining)
        } else if *status != InstanceStatus::Active {
            Some(Unconsolidatable::NotActive {
                status: status.to_string(),
            })
        } else if !h.instance.agent_connected {
            Some(Unconsolidatable::AgentDisconnected)
        } else if h.do_not_disrupt {
            Some(Unconsolidatable::DoNotDisrupt)
        } else if !h.tasks_known {
            Some(Unconsolidatable::TasksUnknown)
        } else {
            None
        };
        match why {
            Some(why) => others.push(kept(&h.instance, why)),
            None => candidates.push(Candidate::Host(i)),
        }
    }
    // Cheapest first: the group's hosts not in the cluster, then by tasks to move per vCPU
    // saved (empty hosts first); the sort is stable, so the group's order among equals. A
    // host's tasks to move include the waiting or draining tasks just placed on it.
    let cost = |i: usize| Cost {
        tasks: (hosts[i].tasks.len() + room_of[i].map_or(0, |r| moved_in[r].len())) as u64,
        cpu: u64::from(hosts[i].instance.registered.cpu),
    };
    candidates.sort_by(|a, b| match (a, b) {
        (Candidate::Host(a), Candidate::Host(b)) => cost(*a).cmp_per_cpu(&cost(*b)),
        _ => std::cmp::Ordering::Equal,
    });
    let mut ordered: Vec<Candidate> = (0..input.not_in_cluster.len())
        .map(Candidate::Stranger)
        .collect();
    ordered.extend(candidates);

    plan.moving_short = short;
    let now = input.now_unix_secs;
    // Short now: what HostsToAdd above 0 means, before any host is removed.
    if short > 0 || packer.free_slots() < u64::from(headroom) {
        plan.last_shortfall = Some(now);
    }
    let quiet = plan.last_shortfall.and_then(|at| {
        let until = at.saturating_add(input.quiet_after_shortfall.as_secs());
        (now < until).then_some(Unconsolidatable::QuietAfterShortfall {
            short_at: at,
            until,
        })
    });
    if short > 0 || quiet.is_some() {
        for c in ordered {
            let why = match &quiet {
                Some(q) if short == 0 => q.clone(),
                _ => Unconsolidatable::WaitingTasksDoNotFit { tasks: short },
            };
            plan.keep.push(match c {
                Candidate::Stranger(s) => stranger_kept(&input.not_in_cluster[s], why),
                Candidate::Host(i) => kept(&hosts[i].instance, why),
            });
        }
        plan.keep.extend(others);
        plan.free_after = packer.free_slots();
        plan.placements = placements(hosts, &packer, &moved_in, &room_of);
        return plan;
    }

    let window = input.stability_window.as_secs();
    let keep_free = u64::from(headroom.saturating_add(input.margin));
    // Empty hosts beyond the budget found removable: their rooms are closed while the rest
    // is checked, then opened again.
    let mut tracked: Vec<usize> = Vec::new();
    let mut chosen = 0u32;
    let mut log: Vec<(usize, Moving<'_>)> = Vec::new();
    for c in ordered {
        let (id, ec2) = match &c {
            Candidate::Stranger(s) => (&input.not_in_cluster[*s], Some(&input.not_in_cluster[*s])),
            Candidate::Host(i) => (
                &hosts[*i].instance.id,
                hosts[*i].instance.ec2_instance_id.as_ref(),
            ),
        };
        // With the budget spent nothing more can go: the rest are not tried, which bounds
        // the work by the candidates tried until then (see the bound above). Only their
        // stability is kept for the hosts that cost nothing to check — not in the cluster, or
        // empty with nothing moved onto them (O(1) each): so that once the budget frees they
        // go at once, not a whole window later.
        if chosen >= may_leave {
            let removable = match &c {
                Candidate::Stranger(_) => true,
                Candidate::Host(i) => match room_of[*i] {
                    Some(r) if hosts[*i].tasks.is_empty() && moved_in[r].is_empty() => {
                        packer.set_open(r, false);
                        if packer.free_slots() >= u64::from(headroom) {
                            tracked.push(r);
                            true
                        } else {
                            packer.set_open(r, true);
                            false
                        }
                    }
                    _ => false,
                },
            };
            if removable {
                let since = input
                    .removable_since
                    .get(id)
                    .copied()
                    .map_or(now, |s| s.min(now));
                plan.removable_since.insert(id.clone(), since);
            }
            plan.keep.push(KeptHost {
                id: id.clone(),
                ec2_instance_id: ec2.cloned(),
                why: Unconsolidatable::BudgetReached { budget },
            });
            continue;
        }
        // Try: close the host's room and move everything on it.
        log.clear();
        let mut tried = None;
        let mut why_not = None;
        if let Candidate::Host(i) = c {
            // Every candidate accepts tasks, so it has a room.
            let Some(r) = room_of[i] else { continue };
            packer.set_open(r, false);
            let mut moving: Vec<(&TaskShape, Moving<'_>)> = hosts[i]
                .tasks
                .iter()
                .map(|t| {
                    (
                        t,
                        Moving {
                            shape: t,
                            from: Some(i),
                            service: "",
                        },
                    )
                })
                .chain(moved_in[r].iter().map(|m| (m.shape, *m)))
                .collect();
            moving.sort_by_cached_key(|(shape, _)| std::cmp::Reverse(size_key(shape, &size)));
            let tasks = u32::try_from(moving.len()).unwrap_or(u32::MAX);
            for (shape, m) in &moving {
                match packer.place(shape) {
                    Some(onto) => log.push((onto, *m)),
                    None => {
                        why_not = Some(Unconsolidatable::TasksDoNotFit {
                            tasks,
                            shape: shape.name.clone(),
                        });
                        break;
                    }
                }
            }
            // The margin guards the moves: an empty host leaves with the headroom free, as
            // the book's scale-in removes one.
            let keep_free = if tasks == 0 {
                u64::from(headroom)
            } else {
                keep_free
            };
            if why_not.is_none() && packer.free_slots() < keep_free {
                why_not = Some(Unconsolidatable::WouldBreakHeadroom {
                    left: packer.free_slots(),
                    headroom: u32::try_from(keep_free).unwrap_or(u32::MAX),
                });
            }
            tried = Some((r, tasks));
        }
        if why_not.is_none() {
            let since = input
                .removable_since
                .get(id)
                .copied()
                .map_or(now, |s| s.min(now));
            plan.removable_since.insert(id.clone(), since);
            let until = since.saturating_add(window);
            if now < until {
                why_not = Some(Unconsolidatable::NotYetStable { since, until });
            }
        }
        match why_not {
            Some(why) => {
                if let Some((r, _)) = tried {
                    for (onto, m) in log.iter().rev() {
                        packer.give(*onto, m.shape);
                    }
                    packer.set_open(r, true);
                }
                plan.keep.push(KeptHost {
                    id: id.clone(),
                    ec2_instance_id: ec2.cloned(),
                    why,
                });
            }
            None => {
                chosen += 1;
                let why = match tried {
                    None => Removal::NotInCluster,
                    Some((_, 0)) => Removal::Empty,
                    Some((r, tasks)) => {
                        moved_in[r].clear();
                        let onto: BTreeSet<usize> = log.iter().map(|(onto, _)| *onto).collect();
                        for (onto, m) in &log {
                            moved_in[*onto].push(*m);
                        }
                        Removal::TasksMove {
                            tasks,
                            onto: u32::try_from(onto.len()).unwrap_or(u32::MAX),
                        }
                    }
                };
                plan.remove.push(PlannedHost {
                    id: id.clone(),
                    ec2_instance_id: ec2.cloned(),
                    why,
                });
            }
        }
    }
    for r in tracked {
        packer.set_open(r, true);
    }
    plan.keep.extend(others);
    plan.free_after = packer.free_slots();
    plan.placements = placements(hosts, &packer, &moved_in, &room_of);
    plan
}

/// The tasks to move per vCPU saved, compared without division.
struct Cost {
    tasks: u64,
    cpu: u64,
}

impl Cost {
    /// Empty hosts first, then tasks / CPU ascending (a host of no CPU with tasks last).
    fn cmp_per_cpu(&self, other: &Cost) -> std::cmp::Ordering {
        let class = |c: &Cost| match (c.tasks, c.cpu) {
            (0, _) => 0,
            (_, 0) => 2,
            _ => 1,
        };
        class(self).cmp(&class(other)).then_with(|| {
            if class(self) == 1 {
                (self.tasks * other.cpu).cmp(&(other.tasks * self.cpu))
            } else {
                std::cmp::Ordering::Equal
            }
        })
    }
}

/// Per resource the most any host registers: the size tasks are ordered against.
fn largest_registered(hosts: &[ClusterHost]) -> Resources {
    let mut out = Resources::default();
    for h in hosts {
        let r = &h.instance.registered;
        out.cpu = out.cpu.max(r.cpu);
        out.memory_mib = out.memory_mib.max(r.memory_mib);
        out.gpus = out.gpus.max(r.gpus);
    }
    out
}

fn kept(instance: &ContainerInstance, why: Unconsolidatable) -> KeptHost {
    KeptHost {
        id: instance.id.clone(),
        ec2_instance_id: instance.ec2_instance_id.clone(),
        why,
    }
}

fn stranger_kept(id: &str, why: Unconsolidatable) -> KeptHost {
    KeptHost {
        id: id.to_owned(),
        ec2_instance_id: Some(id.to_owned()),
        why,
    }
}

fn placements(
    hosts: &[ClusterHost],
    packer: &Packer<'_>,
    moved_in: &[Vec<Moving<'_>>],
    room_of: &[Option<usize>],
) -> Vec<Placement> {
    let mut out = Vec::new();
    for (i, r) in room_of.iter().enumerate() {
        let Some(r) = *r else { continue };
        if !packer.is_open(r) {
            continue;
        }
        for m in &moved_in[r] {
            out.push(Placement {
                shape: m.shape.name.clone(),
                from: match m.from {
                    Some(from) => hosts[from].instance.id.clone(),
                    None => format!("waiting: {}", m.service),
                },
                onto: hosts[i].instance.id.clone(),
            });
        }
    }
    out
}
