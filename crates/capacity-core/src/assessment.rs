//! One assessment of a cluster: every figure the programs publish or print, computed once.

use crate::decision::Spare;
use crate::scale_out::{Demand, ScaleOutPlan, UnplacedTasks, plan_scale_out};
use crate::{ClusterCapacity, ResourceTotals, ScaleDecision, ScalePolicy};

/// What the cluster's capacity means under a [`ScalePolicy`]: the figures the calculator
/// publishes, the CLI reports and the simulator feeds its alarms — computed in one place by
/// [`assess`], so that they cannot disagree.
///
/// With the `serde` feature it serializes flat (`container_capacity`, `idle_host_capacity`,
/// …, `decision: {"action": "scale_out", "hosts": 2}`, `explanation`), so a program can
/// `#[serde(flatten)]` it into its own output.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Assessment {
    /// Worst-case tasks that fit now, on the room as read.
    pub container_capacity: u64,
    /// IdleHostCapacity **as published** for the scale-in alarm, and the one value
    /// [`Assessment::decision`] is taken on: spare hosts beyond the headroom,
    /// `(room − (headroom − 1)) / H`, where room is [`Assessment::room_after_waiting`] — the
    /// plain ratio ContainerCapacity / H at the default headroom with nothing waiting. Above
    /// 1 exactly when the decision is a scale-in; at most 1 while a waiting task needs a new
    /// host; 0 when there is no ACTIVE host.
    pub idle_host_capacity: f64,
    /// Worst-case slots left on the counted hosts once the tasks that wait and fit there
    /// took their room (ContainerCapacity when nothing waits).
    pub room_after_waiting: u64,
    /// H: the most worst-case slots any single ACTIVE host has when empty.
    pub largest_host_slots: u32,
    /// ACTIVE container instances with a connected agent.
    pub counted_instances: usize,
    /// Worst-case tasks that must always fit.
    pub headroom: u32,
    /// What the scale-out step adds (0 when there is room and nothing waits beyond the room
    /// already free): every waiting task placed, and the headroom kept — in the group's
    /// capacity units, the hosts of the type it launches ([`ClusterCapacity::new_host`])
    /// times that type's weight (1 without weights).
    pub hosts_to_add: u32,
    /// The type those hosts are sized on, when known.
    pub new_host_type: Option<String>,
    /// Tasks that wait, in all (the `UnplacedTasks` metric).
    pub unplaced_tasks: u64,
    /// Those tasks per service deployment.
    pub unplaced: Vec<UnplacedTasks>,
    /// Of those, the tasks placed on the room already free on ACTIVE hosts.
    pub waiting_on_existing_room: u64,
    /// Waiting tasks that fit nowhere: not on the room already free, not on an empty host
    /// of the type added.
    pub unplaceable_tasks: u64,
    pub decision: ScaleDecision,
    /// One sentence on why.
    pub explanation: String,
    /// Worst-case slots per resource, summed over the counted instances (only the resources
    /// the worst case needs).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub per_resource: ResourceTotals,
}

/// Assesses `capacity` under `policy` with the tasks that wait (`demand`): the decision, the
/// hosts to add ([`plan_scale_out`]), the IdleHostCapacity to publish and the reason, each
/// computed once.
///
/// **The rule for tasks that wait.** They are placed first-fit decreasing onto the room
/// already free on the counted hosts; the tasks placed there consume that room, and the
/// decision and IdleHostCapacity are taken on the room left ([`Assessment::room_after_waiting`]).
/// So a crash-looping service, or tasks ECS has simply not started yet, whose tasks fit,
/// lower IdleHostCapacity by the room they need and no more: the cluster keeps their room,
/// and scales in when it has a host to spare beyond it. Only tasks that fit on no existing
/// room (packed onto new hosts, or fitting on none) block scale-in: then the decision is a
/// scale-out (or [`ScaleDecision::TaskDoesNotFit`] when no new host of the type added
/// would hold them) and the published IdleHostCapacity is at most 1.
///
/// ```
/// use capacity_core::{assess, cluster_capacity, ContainerInstance, Resources, ScaleDecision,
///                     ScalePolicy, TaskShape, WorstCase};
///
/// let worst = WorstCase::of(&[TaskShape::new("web:1", 250, 400)])?;
/// let full = ContainerInstance::active("i-1", Resources::new(1024, 993), Resources::new(524, 193));
/// let a = assess(&cluster_capacity(&[full], &worst)?, &ScalePolicy::default(), &Default::default());
/// assert_eq!((a.container_capacity, a.hosts_to_add), (0, 1));
/// assert_eq!(a.decision, ScaleDecision::ScaleOut { hosts: 1 });
/// assert!(a.explanation.contains("below the headroom of 1"));
/// # Ok::<(), capacity_core::CapacityError>(())
/// ```
pub fn assess(capacity: &ClusterCapacity, policy: &ScalePolicy, demand: &Demand) -> Assessment {
    let plan = plan_scale_out(capacity, demand, policy);
    let unplaced_tasks = demand.unplaced_count();
    let spare = Spare {
        free: plan.room_left,
        ..Spare::of(capacity)
    };
    let mut idle_host_capacity = spare.idle_host_capacity(policy);
    let beyond_existing = plan.waiting_beyond_existing_room(demand);
    let (decision, explanation) = if unplaced_tasks == 0 {
        let decision = spare.decide(policy, plan.hosts);
        (
            decision,
            spare.explain("ContainerCapacity", decision, policy),
        )
    } else if beyond_existing == 0 && capacity.counted_instances() > 0 {
        let decision = spare.decide(policy, plan.hosts);
        let mut why = format!(
            "{unplaced_tasks} waiting task(s) fit in the room free on ACTIVE hosts; with them placed, "
        );
        why.push_str(&spare.explain("the room left", decision, policy));
        (decision, why)
    } else {
        idle_host_capacity = idle_host_capacity.min(1.0);
        let decision = if plan.hosts > 0 {
            ScaleDecision::ScaleOut { hosts: plan.hosts }
        } else {
            ScaleDecision::TaskDoesNotFit
        };
        (decision, explain_waiting(capacity, demand, plan, policy))
    };
    Assessment {
        container_capacity: capacity.container_capacity(),
        idle_host_capacity,
        room_after_waiting: plan.room_left,
        largest_host_slots: capacity.largest_host_slots(),
        counted_instances: capacity.counted_instances(),
        headroom: policy.headroom(),
        hosts_to_add: plan.hosts.saturating_mul(capacity.new_host_weight()),
        new_host_type: capacity.new_host().and_then(|h| h.instance_type.clone()),
        unplaced_tasks,
        unplaced: demand
            .unplaced
            .iter()
            .filter(|u| u.count > 0)
            .cloned()
            .collect(),
        waiting_on_existing_room: plan.placed_on_existing,
        unplaceable_tasks: plan.unplaceable,
        explanation,
        decision,
        per_resource: capacity.per_resource(),
    }
}

fn explain_waiting(
    capacity: &ClusterCapacity,
    demand: &Demand,
    plan: ScaleOutPlan,
    policy: &ScalePolicy,
) -> String {
    let waiting = demand.unplaced_count();
    let host = capacity
        .new_host()
        .and_then(|h| h.instance_type.as_deref())
        .unwrap_or("the largest registered type");
    let mut out = if capacity.new_host().is_none() {
        format!(
            "{waiting} task(s) wait for room and no ACTIVE container instance: add {} host to place anything",
            plan.hosts
        )
    } else if capacity.counted_instances() == 0 {
        format!(
            "{waiting} task(s) wait for room and no ACTIVE container instance: {} new host(s) of {host} hold them",
            plan.hosts_for_unplaced
        )
    } else if plan.placed_on_existing == 0 {
        format!(
            "{waiting} task(s) wait for room: {} new host(s) of {host} hold them",
            plan.hosts_for_unplaced
        )
    } else {
        format!(
            "{waiting} task(s) wait for room: {} fit in the room free on ACTIVE hosts, {} new host(s) of {host} hold the other {}",
            plan.placed_on_existing,
            plan.hosts_for_unplaced,
            waiting - plan.placed_on_existing - plan.unplaceable,
        )
    };
    let for_headroom = plan.hosts.saturating_sub(plan.hosts_for_unplaced);
    let weight = capacity.new_host_weight();
    if weight > 1 {
        out.push_str(&format!(
            " (each counts {weight} capacity units of the group)"
        ));
    }
    if capacity.new_host().is_some() && for_headroom > 0 {
        out.push_str(&format!(
            ", and {for_headroom} more keep the headroom of {}",
            policy.headroom()
        ));
    }
    if plan.kept_off_existing > 0 {
        let reasons: Vec<String> = demand
            .placement_failures
            .iter()
            .filter(|f| f.rules_out_existing_room())
            .map(|f| format!("{} ({})", service_name(&f.service), f.reason))
            .collect();
        out.push_str(&format!(
            "; {} of them sized for on new hosts only, as ECS reported no room for {}",
            plan.kept_off_existing,
            reasons.join(", ")
        ));
    }
    if plan.unplaceable > 0 {
        out.push_str(&format!(
            "; {} fit on no empty host of {host}: adding hosts of this type will not place them",
            plan.unplaceable
        ));
    }
    out
}

fn service_name(service: &str) -> &str {
    service.rsplit('/').next().unwrap_or(service)
}

impl ClusterCapacity {
    /// [`assess`] with nothing waiting ([`Demand::none`]).
    pub fn assess(&self, policy: &ScalePolicy) -> Assessment {
        assess(self, policy, &Demand::none())
    }
}
