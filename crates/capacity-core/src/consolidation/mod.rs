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

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::placement::ServicePlacement;
use crate::{ContainerInstance, InstanceStatus, ScalePolicy, TaskShape, UnplacedTasks, WorstCase};

mod budget;
mod candidates;
mod choose;
mod reasons;
mod trial;

pub use budget::DisruptionBudget;
pub use reasons::{Removal, Unconsolidatable};

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

/// Tasks beyond the headroom that the hosts that stay must keep room for when a host's tasks
/// move ([`ScaleInInput::margin`]): scale-out adds a host when fewer than `headroom`
/// worst-case tasks fit, consolidation empties one only if `margin` more tasks (of
/// [`ScaleInInput::margin_task`]) fit beside them.
pub const DEFAULT_MARGIN: u32 = 1;

/// The task the plan's margin is counted in ([`ScaleInInput::margin_task`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum MarginTask {
    /// The largest task that moves off the host (its dominant share of the largest host):
    /// what the repacking may be short of if the cluster's room shifts under it.
    #[default]
    LargestMoving,
    /// The cluster's worst-case task, as before issue 27: on a cluster whose worst case is a
    /// large job, a host of small service tasks goes only with a large job's room to spare.
    WorstCase,
}

impl MarginTask {
    /// `largest-moving` or `worst-case` (any case, surrounding blanks allowed).
    pub fn parse(value: &str) -> Option<MarginTask> {
        match value.trim().to_ascii_lowercase().as_str() {
            "largest-moving" => Some(MarginTask::LargestMoving),
            "worst-case" => Some(MarginTask::WorstCase),
            _ => None,
        }
    }
}

/// Whether a [`DO_NOT_DISRUPT_ATTRIBUTE`] with this value (ECS attributes may have none)
/// marks the host: present with no value, or any value but `false`, `no`, `0` (any case).
pub fn marks_do_not_disrupt(value: Option<&str>) -> bool {
    value.is_none_or(|v| {
        !["false", "no", "0"]
            .iter()
            .any(|off| v.trim().eq_ignore_ascii_case(off))
    })
}
/// Who a task belongs to: what ECS does with it when its host is set DRAINING
/// (UpdateContainerInstancesState: "Any PENDING or RUNNING tasks that do not belong to a
/// service aren't affected").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "owner", content = "name", rename_all = "snake_case")
)]
pub enum TaskOwner {
    /// A task of this (REPLICA) service: ECS starts a replacement elsewhere.
    Service(String),
    /// A task of this DAEMON service: never moved. Every host that stays runs its own, and a
    /// host whose only tasks are daemon tasks is empty (as managed scaling counts it).
    Daemon(String),
    /// A task started by RunTask or StartTask (its `group`, e.g. `family:nightly-report`):
    /// ECS leaves it running on a DRAINING host until it stops.
    Standalone(String),
}

/// One task on a host: its shape and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTask {
    pub shape: TaskShape,
    pub owner: TaskOwner,
}

impl HostTask {
    /// A task of `service`.
    pub fn of_service(shape: TaskShape, service: &str) -> HostTask {
        HostTask {
            shape,
            owner: TaskOwner::Service(service.to_owned()),
        }
    }

    /// Whether ECS moves it off a DRAINING host (a service's task).
    pub fn moves(&self) -> bool {
        matches!(self.owner, TaskOwner::Service(_))
    }

    /// The service whose placement rules bind it, when it moves.
    pub fn service(&self) -> Option<&str> {
        match &self.owner {
            TaskOwner::Service(name) => Some(name),
            _ => None,
        }
    }
}

/// One container instance as read, with its tasks (running and pending).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHost {
    pub instance: ContainerInstance,
    /// Every task on the host, with its owner.
    pub tasks: Vec<HostTask>,
    /// The host carries [`DO_NOT_DISRUPT_ATTRIBUTE`].
    pub do_not_disrupt: bool,
    /// Whether `tasks` are all of the host's tasks, as read. A host whose tasks the caller
    /// could not vouch for (a listing older than the host's last change) keeps its room for
    /// the others but is never planned ([`Unconsolidatable::TasksUnknown`]).
    pub tasks_known: bool,
    /// Not planned until then (seconds since the Unix epoch): this function drained it and
    /// gave the drain up, or an operator set it ACTIVE again after our drain
    /// ([`Unconsolidatable::GivenUp`]).
    pub given_up_until: Option<u64>,
}

impl ClusterHost {
    /// A host whose tasks are all known, each a task of a service named after its shape (no
    /// placement rule binds it).
    pub fn new(instance: ContainerInstance, shapes: Vec<TaskShape>) -> ClusterHost {
        ClusterHost::with_tasks(
            instance,
            shapes
                .into_iter()
                .map(|shape| {
                    let service = shape.name.clone();
                    HostTask::of_service(shape, &service)
                })
                .collect(),
        )
    }

    /// A host whose tasks are all known.
    pub fn with_tasks(instance: ContainerInstance, tasks: Vec<HostTask>) -> ClusterHost {
        ClusterHost {
            instance,
            tasks,
            do_not_disrupt: false,
            tasks_known: true,
            given_up_until: None,
        }
    }

    /// The tasks ECS would move off it.
    pub fn moving_tasks(&self) -> impl Iterator<Item = &HostTask> {
        self.tasks.iter().filter(|t| t.moves())
    }

    /// Empty as managed scaling counts it: its tasks are known and every one is a DAEMON
    /// service's ("When all non-daemon tasks are stopped on an instance, Amazon ECS initiates
    /// the scale-in process"). A standalone task keeps a host from being empty although it
    /// does not move.
    pub fn runs_only_daemons(&self) -> bool {
        self.tasks_known
            && self
                .tasks
                .iter()
                .all(|t| matches!(t.owner, TaskOwner::Daemon(_)))
    }

    /// Its first standalone task's group, if it runs one.
    pub fn standalone_task(&self) -> Option<&str> {
        self.tasks.iter().find_map(|t| match &t.owner {
            TaskOwner::Standalone(group) => Some(group.as_str()),
            _ => None,
        })
    }
}

/// How Auto Scaling's zones bind the plan. Auto Scaling shrinks the Availability Zone with the
/// most instances first (and rebalances the zones after a scale-in that left them uneven):
/// the plan removes hosts only from the zones with the most, one at a time, and never leaves
/// a zone below `min_per_zone`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZonePolicy {
    /// The group's instances per zone that stay unless the plan removes them (InService, not
    /// leaving, not DRAINING).
    pub counts: BTreeMap<String, u32>,
    /// The zone of each group instance not in the cluster, by EC2 id.
    pub stranger_zones: BTreeMap<String, String>,
    /// Hosts a zone keeps at least.
    pub min_per_zone: u32,
    /// Auto Scaling, not the plan, picks among the zones tied for the most hosts
    /// (self-managed mode): a host is planned only when every tied zone has one that can go,
    /// so that whichever zone Auto Scaling shrinks, the chooser finds a host checked to fit.
    pub each_tied_zone: bool,
}

/// The default minimum of hosts per Availability Zone.
pub const DEFAULT_MIN_HOSTS_PER_ZONE: u32 = 1;

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
    /// Hysteresis, in tasks of [`ScaleInInput::margin_task`]: a host whose tasks must move
    /// goes only if the hosts that stay keep `headroom` worst-case tasks free (where
    /// scale-out adds a host) with room for `margin` such tasks placed besides. Without it a
    /// host is emptied the moment a rising demand leaves exactly the headroom once repacked,
    /// and added back minutes later. An empty host (or one not in the cluster) needs the
    /// headroom only, as the book's scale-in.
    pub margin: u32,
    /// What the margin is counted in: by default the largest task that moves off the host.
    pub margin_task: MarginTask,
    /// Hysteresis in time: no host is planned until this long after the cluster was last
    /// short — tasks already moving (waiting, or on DRAINING hosts) that do not fit, or the
    /// headroom not free before any host is removed (what makes HostsToAdd above 0). While
    /// it lasts every stability window starts again.
    pub quiet_after_shortfall: Duration,
    /// When the cluster was last found short (seconds since the Unix epoch): the previous
    /// plan's [`ScaleInPlan::last_shortfall`]; `None` when not known (a cold start).
    pub last_shortfall: Option<u64>,
    /// The cluster is short this run for a reason the plan does not see itself: HostsToAdd
    /// above 0, or ECS could not place a task on this cluster's EC2 capacity. Nothing is
    /// planned and the quiet period starts ([`Unconsolidatable::ShortNow`]).
    pub short_now: bool,
    /// The placement rules of the services whose tasks move (constraints, zone spread).
    pub services: &'a [ServicePlacement],
    /// How the group's zones bind the plan; `None`: zone-blind (one zone, or none known).
    pub zones: Option<&'a ZonePolicy>,
    /// Capacity-provider mode: empty hosts are managed scaling's (it removes them, or keeps
    /// them as the spare its target capacity asks for). They are not candidates, and no task
    /// is moved onto them.
    pub leave_empty_hosts: bool,
}

impl<'a> ScaleInInput<'a> {
    /// The defaults: no strangers, nothing waiting, headroom 1, 10 % budget, stable for 5
    /// minutes, a margin of the largest task that moves, quiet for 15 minutes after a shortfall (none
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
            margin_task: MarginTask::LargestMoving,
            quiet_after_shortfall: DEFAULT_QUIET_AFTER_SHORTFALL,
            last_shortfall: None,
            short_now: false,
            services: &[],
            zones: None,
            leave_empty_hosts: false,
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

/// The consolidation plan for `input`; see the module. Four steps, each in its own module:
/// the tasks already moving are placed (`trial`), the candidates are ordered cheapest first
/// (`candidates`), a shortfall stops the plan (here), and each candidate is tried within the
/// budget and the stability window (`choose`).
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
    let headroom = input.policy.headroom();
    let budget = input
        .budget
        .hosts_allowed(hosts.len() + input.not_in_cluster.len());
    let draining = hosts
        .iter()
        .filter(|h| h.instance.status == InstanceStatus::Draining)
        .count();
    let draining = u32::try_from(draining).unwrap_or(u32::MAX);
    let mut plan = ScaleInPlan {
        budget,
        draining,
        headroom,
        last_shortfall: input.last_shortfall,
        ..ScaleInPlan::default()
    };
    let mut trial = trial::Trial::new(input);
    plan.moving_short = trial.place_moving(input);
    let (ordered, others) = candidates::ordered(input, &trial);
    let short = shortfall(input, &mut plan, trial.free_slots());
    if input.leave_empty_hosts {
        for (i, h) in hosts.iter().enumerate() {
            if h.instance.accepts_tasks() && h.runs_only_daemons() {
                trial.close_empty(i);
            }
        }
    }
    match short {
        Some(why) => plan
            .keep
            .extend(ordered.iter().map(|c| c.kept(input, why.clone()))),
        None => choose::choose(
            input,
            &mut trial,
            &ordered,
            budget.saturating_sub(draining),
            &mut plan,
        ),
    }
    plan.keep.extend(others);
    plan.free_after = trial.free_slots();
    plan.placements = trial.placements();
    plan
}

/// Records a shortfall of this run (tasks already moving that fit nowhere, or the headroom
/// not free before any host goes: what makes HostsToAdd above 0) and returns why no host is
/// tried, if any: the shortfall itself, or the quiet period after the last one.
fn shortfall(
    input: &ScaleInInput<'_>,
    plan: &mut ScaleInPlan,
    free_slots: u64,
) -> Option<Unconsolidatable> {
    let now = input.now_unix_secs;
    let short = plan.moving_short;
    if short > 0 || input.short_now || free_slots < u64::from(plan.headroom) {
        plan.last_shortfall = Some(now);
    }
    if short > 0 {
        return Some(Unconsolidatable::WaitingTasksDoNotFit { tasks: short });
    }
    if input.short_now {
        return Some(Unconsolidatable::ShortNow);
    }
    plan.last_shortfall.and_then(|at| {
        let until = at.saturating_add(input.quiet_after_shortfall.as_secs());
        (now < until).then_some(Unconsolidatable::QuietAfterShortfall {
            short_at: at,
            until,
        })
    })
}
