use std::fmt;

use crate::{CapacityError, ClusterCapacity};

/// How much room the cluster keeps for the worst-case task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalePolicy {
    headroom: u32,
}

impl Default for ScalePolicy {
    fn default() -> Self {
        ScalePolicy { headroom: 1 }
    }
}

impl ScalePolicy {
    /// A policy that scales out when fewer than `headroom` worst-case tasks fit (≥ 1).
    pub fn new(headroom: u32) -> Result<ScalePolicy, CapacityError> {
        if headroom == 0 {
            return Err(CapacityError::InvalidHeadroom(headroom));
        }
        Ok(ScalePolicy { headroom })
    }

    /// Worst-case tasks that must always fit.
    pub fn headroom(&self) -> u32 {
        self.headroom
    }
}

/// What the cluster should do now. With the `serde` feature it serializes as
/// `{"action": "scale_out", "hosts": 2}`, `{"action": "hold"}`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "action", rename_all = "snake_case")
)]
pub enum ScaleDecision {
    /// Fewer than `headroom` worst-case tasks fit: add `hosts` hosts of the largest type.
    ScaleOut { hosts: u32 },
    /// Enough room, and removing a host would leave too little.
    Hold,
    /// Even without its largest host the cluster keeps the headroom: remove one host.
    ScaleIn { hosts: u32 },
    /// The worst case does not fit even on an empty ACTIVE host: more hosts of these types
    /// will not help (a task shape or an instance type must change).
    TaskDoesNotFit,
}

impl fmt::Display for ScaleDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleDecision::ScaleOut { hosts } => write!(f, "scale out by {hosts}"),
            ScaleDecision::Hold => f.write_str("hold"),
            ScaleDecision::ScaleIn { hosts } => write!(f, "scale in by {hosts}"),
            ScaleDecision::TaskDoesNotFit => f.write_str("task does not fit"),
        }
    }
}

impl ClusterCapacity {
    /// The fewest new hosts, each with [`ClusterCapacity::new_host_slots`] slots (the type
    /// the group launches next when known, else the largest registered), that bring
    /// ContainerCapacity back to `headroom`. 0 when there is room already, or when the worst
    /// case fits on no new host; 1 when there is no ACTIVE host at all and the group's types
    /// are not known (its size is unknown until it registers, and the next run refines the
    /// figure).
    pub fn hosts_to_add(&self, policy: &ScalePolicy) -> u32 {
        let headroom = u64::from(policy.headroom);
        if self.container_capacity() >= headroom {
            return 0;
        }
        let per_host = self.new_host_slots();
        if self.counted_instances() == 0 && self.launched.is_none() {
            return 1;
        }
        if per_host == 0 {
            return 0;
        }
        let missing = headroom - self.container_capacity();
        u32::try_from(missing.div_ceil(u64::from(per_host))).unwrap_or(u32::MAX)
    }

    /// The scale decision for this capacity.
    ///
    /// Scale out when ContainerCapacity < headroom. Scale in only when IdleHostCapacity
    /// beyond the headroom (the value published, see [`crate::Assessment::idle_host_capacity`])
    /// is strictly above 1, i.e. the capacity left after removing the largest host still
    /// meets the headroom: at exactly 1.0 removing a host leaves no room and the next run
    /// scales out again — the flapping loop this rule exists to prevent.
    pub fn decide(&self, policy: &ScalePolicy) -> ScaleDecision {
        Spare::of(self).decide(policy, self.hosts_to_add(policy))
    }
}

/// What a decision is taken on: worst-case slots free, H, and how many hosts are counted.
/// [`ClusterCapacity::decide`] takes it on the room as read; [`crate::assess`] on the room
/// left once the tasks that wait took theirs. One value, [`Spare::idle_host_capacity`], is
/// both published and decided on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spare {
    pub(crate) free: u64,
    pub(crate) largest_host_slots: u32,
    pub(crate) counted_instances: usize,
}

impl Spare {
    pub(crate) fn of(capacity: &ClusterCapacity) -> Spare {
        Spare {
            free: capacity.container_capacity(),
            largest_host_slots: capacity.largest_host_slots(),
            counted_instances: capacity.counted_instances(),
        }
    }

    /// IdleHostCapacity as the calculator publishes it for the scale-in alarm, and as
    /// [`Spare::decide`] decides on it: spare capacity in whole hosts **beyond the
    /// headroom**, `(free − (headroom − 1)) / H`; 0 when H is 0.
    ///
    /// At the default headroom of 1 it is the plain ratio free / H
    /// ([`ClusterCapacity::idle_host_capacity`] on the room as read). With a larger headroom
    /// the plain ratio can exceed 1 while removing a host would leave less than the
    /// headroom, and the group would scale in and straight out again; with this one, "above
    /// 1" holds exactly when the decision scales in, so an alarm on `> 1` agrees with it.
    pub(crate) fn idle_host_capacity(&self, policy: &ScalePolicy) -> f64 {
        if self.largest_host_slots == 0 {
            return 0.0;
        }
        let spare = self.free.saturating_sub(u64::from(policy.headroom) - 1);
        spare as f64 / f64::from(self.largest_host_slots)
    }

    /// Scale out by `hosts_to_add` below the headroom (or [`ScaleDecision::TaskDoesNotFit`]
    /// when the worst case fits on no counted host); scale in by one exactly when
    /// [`Spare::idle_host_capacity`] is above 1 — which, in integers, is
    /// `free − H ≥ headroom`: the headroom survives the removal of the largest host.
    pub(crate) fn decide(&self, policy: &ScalePolicy, hosts_to_add: u32) -> ScaleDecision {
        let headroom = u64::from(policy.headroom);
        if self.free < headroom {
            if self.counted_instances > 0 && self.largest_host_slots == 0 {
                return ScaleDecision::TaskDoesNotFit;
            }
            return ScaleDecision::ScaleOut {
                hosts: hosts_to_add,
            };
        }
        if self.idle_host_capacity(policy) > 1.0 {
            ScaleDecision::ScaleIn { hosts: 1 }
        } else {
            ScaleDecision::Hold
        }
    }

    /// One sentence on why [`Spare::decide`] decided `decision`; `what` names the free
    /// slots ("ContainerCapacity", or the room left after the tasks that wait).
    pub(crate) fn explain(
        &self,
        what: &str,
        decision: ScaleDecision,
        policy: &ScalePolicy,
    ) -> String {
        let headroom = policy.headroom;
        let (cap, h) = (self.free, self.largest_host_slots);
        let idle = self.idle_host_capacity(policy);
        let beyond = if headroom > 1 {
            format!(" (beyond the headroom of {headroom})")
        } else {
            String::new()
        };
        match decision {
            ScaleDecision::ScaleOut { hosts } if self.counted_instances == 0 => {
                format!("no ACTIVE container instance: add {hosts} host to place anything")
            }
            ScaleDecision::ScaleOut { hosts } => format!(
                "{what} {cap} is below the headroom of {headroom}: {hosts} host(s) of {h} slots bring it back"
            ),
            ScaleDecision::TaskDoesNotFit => format!(
                "{what} {cap} is below the headroom of {headroom}, but the worst-case task fits on no empty ACTIVE host: adding hosts of these types will not help"
            ),
            ScaleDecision::ScaleIn { .. } => format!(
                "IdleHostCapacity{beyond} {idle:.2} > 1: without its largest host ({h} slots) the cluster still fits {} worst-case task(s)",
                cap.saturating_sub(u64::from(h))
            ),
            ScaleDecision::Hold if cap > u64::from(h) => format!(
                "IdleHostCapacity{beyond} {idle:.2} is not above 1: removing a host of {h} slots would leave {} of the {headroom} task(s) of headroom",
                cap.saturating_sub(u64::from(h))
            ),
            ScaleDecision::Hold => format!(
                "{what} {cap} meets the headroom of {headroom} and IdleHostCapacity{beyond} {idle:.2} is not above 1"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceTotals;

    fn capacity(container_capacity: u64, largest_host_slots: u32) -> ClusterCapacity {
        ClusterCapacity {
            container_capacity,
            largest_host_slots,
            idle_host_capacity: if largest_host_slots == 0 {
                0.0
            } else {
                container_capacity as f64 / f64::from(largest_host_slots)
            },
            counted_instances: 3,
            per_resource: ResourceTotals::default(),
            instances: Vec::new(),
            worst_case: crate::WorstCase::default(),
            largest_host: None,
            launched: None,
            rooms: Vec::new(),
        }
    }

    #[test]
    fn idle_beyond_headroom_above_1_exactly_when_the_decision_scales_in() {
        for headroom in 1..=12 {
            let policy = ScalePolicy::new(headroom).unwrap();
            for h in 0..=10 {
                for cap in 0..=60 {
                    let c = capacity(cap, h);
                    let alarm = Spare::of(&c).idle_host_capacity(&policy) > 1.0;
                    let scales_in = matches!(c.decide(&policy), ScaleDecision::ScaleIn { .. });
                    assert_eq!(alarm, scales_in, "cap {cap}, H {h}, headroom {headroom}");
                    if headroom == 1 {
                        assert_eq!(
                            Spare::of(&c).idle_host_capacity(&policy),
                            c.idle_host_capacity()
                        );
                    }
                }
            }
        }
    }
}
