//! One assessment of a cluster: every figure the programs publish or print, computed once.

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
    /// Hosts of the largest type the scale-out step adds (0 when there is room).
    pub hosts_to_add: u32,
    pub decision: ScaleDecision,
    /// One sentence on why.
    pub explanation: String,
    /// Worst-case slots per resource, summed over the counted instances (only the resources
    /// the worst case needs).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub per_resource: ResourceTotals,
}

/// Assesses `capacity` under `policy`: the decision, the hosts to add, the IdleHostCapacity
/// to publish and the reason, each computed once.
///
/// ```
/// use capacity_core::{assess, cluster_capacity, ContainerInstance, Resources, ScaleDecision,
///                     ScalePolicy, TaskShape, WorstCase};
///
/// let worst = WorstCase::of(&[TaskShape::new("web:1", 250, 400)])?;
/// let full = ContainerInstance::active("i-1", Resources::new(1024, 993), Resources::new(524, 193));
/// let a = assess(&cluster_capacity(&[full], &worst)?, &ScalePolicy::default());
/// assert_eq!((a.container_capacity, a.hosts_to_add), (0, 1));
/// assert_eq!(a.decision, ScaleDecision::ScaleOut { hosts: 1 });
/// assert!(a.explanation.contains("below the headroom of 1"));
/// # Ok::<(), capacity_core::CapacityError>(())
/// ```
pub fn assess(capacity: &ClusterCapacity, policy: &ScalePolicy) -> Assessment {
    let decision = capacity.decide(policy);
    Assessment {
        container_capacity: capacity.container_capacity,
        idle_host_capacity: capacity.idle_host_capacity_beyond_headroom(policy),
        largest_host_slots: capacity.largest_host_slots,
        counted_instances: capacity.counted_instances,
        headroom: policy.headroom(),
        hosts_to_add: capacity.hosts_to_add(policy),
        explanation: capacity.explain(decision, policy),
        decision,
        per_resource: capacity.per_resource.clone(),
    }
}

impl ClusterCapacity {
    /// [`assess`] as a method.
    pub fn assess(&self, policy: &ScalePolicy) -> Assessment {
        assess(self, policy)
    }
}
