//! One assessment of a cluster: every figure the programs publish or print, computed once.

use crate::scale_out::{Demand, UnplacedTasks, plan_scale_out};
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
    /// Worst-case tasks that fit now.
    pub container_capacity: u64,
    /// IdleHostCapacity **as published** for the scale-in alarm: spare hosts beyond the
    /// headroom, `(ContainerCapacity − (headroom − 1)) / H` — the plain ratio
    /// ContainerCapacity / H at the default headroom of 1, and above 1 exactly when
    /// [`Assessment::decision`] is a scale-in (0 when there is no ACTIVE host).
    pub idle_host_capacity: f64,
    /// H: the most worst-case slots any single ACTIVE host has when empty.
    pub largest_host_slots: u32,
    /// ACTIVE container instances with a connected agent.
    pub counted_instances: usize,
    /// Worst-case tasks that must always fit.
    pub headroom: u32,
    /// Hosts of the largest type the scale-out step adds (0 when there is room and nothing
    /// waits): every unplaced task packed, and the headroom kept.
    pub hosts_to_add: u32,
    /// Tasks ECS found no room for, in all (the `UnplacedTasks` metric).
    pub unplaced_tasks: u64,
    /// Those tasks per service deployment.
    pub unplaced: Vec<UnplacedTasks>,
    /// Unplaced tasks that fit on no empty host of the largest registered type.
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
/// Tasks that wait always scale out (or, when none fits on the largest host type, say
/// [`ScaleDecision::TaskDoesNotFit`]) and never scale in: the published IdleHostCapacity is
/// then at most 1, so the scale-in alarm stays quiet while the cluster grows.
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
    let mut idle_host_capacity = capacity.idle_host_capacity_beyond_headroom(policy);
    let (decision, explanation) = if unplaced_tasks == 0 {
        let decision = capacity.decide(policy);
        (decision, capacity.explain(decision, policy))
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
        container_capacity: capacity.container_capacity,
        idle_host_capacity,
        largest_host_slots: capacity.largest_host_slots,
        counted_instances: capacity.counted_instances,
        headroom: policy.headroom(),
        hosts_to_add: plan.hosts,
        unplaced_tasks,
        unplaced: demand
            .unplaced
            .iter()
            .filter(|u| u.count > 0)
            .cloned()
            .collect(),
        unplaceable_tasks: plan.unplaceable,
        explanation,
        decision,
        per_resource: capacity.per_resource,
    }
}

fn explain_waiting(
    capacity: &ClusterCapacity,
    demand: &Demand,
    plan: crate::scale_out::ScaleOutPlan,
    policy: &ScalePolicy,
) -> String {
    let waiting = demand.unplaced_count();
    let host = capacity
        .largest_host
        .as_ref()
        .and_then(|h| h.instance_type.as_deref())
        .unwrap_or("the largest registered type");
    let mut out = if capacity.largest_host.is_none() {
        format!(
            "{waiting} task(s) wait for room and no ACTIVE container instance: add {} host to place anything",
            plan.hosts
        )
    } else {
        format!(
            "{waiting} task(s) wait for room: {} new host(s) of {host} hold them",
            plan.hosts_for_unplaced
        )
    };
    let for_headroom = plan.hosts.saturating_sub(plan.hosts_for_unplaced);
    if capacity.largest_host.is_some() && for_headroom > 0 {
        out.push_str(&format!(
            ", and {for_headroom} more keep the headroom of {}",
            policy.headroom()
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

impl ClusterCapacity {
    /// [`assess`] with nothing waiting ([`Demand::none`]).
    pub fn assess(&self, policy: &ScalePolicy) -> Assessment {
        assess(self, policy, &Demand::none())
    }
}
