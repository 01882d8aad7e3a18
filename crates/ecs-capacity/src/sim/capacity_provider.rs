//! ECS capacity providers' managed scaling, modelled from AWS's documentation, rule by rule.
//!
//! Sources (each rule below cites one):
//! * [CAS] Amazon ECS Developer Guide, "Automatically manage Amazon ECS capacity with cluster
//!   auto scaling" (`cluster-auto-scaling`): the metric, managed scale-out and scale-in
//!   behaviour, managed termination protection, their considerations.
//! * [API] Amazon ECS API Reference, `ManagedScaling`: `targetCapacity`,
//!   `minimumScalingStepSize` (default 1), `maximumScalingStepSize` (default 10,000),
//!   `instanceWarmupPeriod` (default 300 s).
//! * [BLOG] AWS Containers blog, "Deep dive on Amazon ECS cluster auto scaling" (linked from
//!   [CAS]): `CapacityProviderReservation = M / N × 100`, M the instances needed, N the
//!   instances running; `M > 0, N = 0` gives 200.
//! * [ROADMAP] aws/containers-roadmap#2381, quoting [BLOG]: "a maximum of 100 tasks can be in
//!   the provisioning state for any cluster, and provisioning tasks will wait for capacity for
//!   between 10 and 30 minutes before transitioning to “stopped.”"
//!
//! The documented rules the model follows:
//! * tasks that find no room wait in PROVISIONING, at most [`PROVISIONING_LIMIT`] in the
//!   cluster ([ROADMAP]), and only those count for scaling ([CAS] scale-out step 2: "Group
//!   all of the provisioning tasks");
//! * the instances they need: "for each group of tasks" with "the same exact resource
//!   requirements", "the number of instances that are required" by a `binpack`, "the values
//!   for the largest instance types are treated as the maximum calculated instance count",
//!   and the step is "the lower value of either the `maximumScalingStepSize` or the maximum
//!   calculated instance count" ([CAS] steps 2–5): the largest group's count, not the sum —
//!   a lower bound on what all groups need together, which a later minute tops up;
//!
//! Where the documentation leaves a choice open, the model takes the one that favours
//! managed scaling, and says so (*favour*):
//! * CloudWatch treats its alarms as it treats ours: a one-minute alarm acts at the end of
//!   the minute whose datapoint breaches (a datapoint at 01:00:00 belongs to the minute that
//!   ends at 01:01:00, exactly as our 10-second alarm acts on it at 01:00:10). The datapoint is
//!   the state at the last step of that minute, the freshest it could be, and the action
//!   follows at once, with no publication or evaluation lag (*favour*);
//! * each group's `binpack` ([CAS] scale-out step 4) is `capacity_core::plan_scale_out`'s
//!   first-fit decreasing on the largest registered type — the very packing our calculator's
//!   HostsToAdd uses, whatever capacity-core makes of it (the documentation names the rule,
//!   not its algorithm; *favour*: as good as ours);
//! * tasks beyond the 100 in PROVISIONING are retried every step, placed as soon as there is
//!   room, and enter PROVISIONING as it frees (the documentation does not say how the
//!   service scheduler retries them; *favour*: no throttle);
//! * a provisioning task's timeout of 10–30 minutes ([ROADMAP]) is not modelled: the service
//!   scheduler would replace the stopped task at once, into PROVISIONING again (*favour*: no
//!   gap between the two);
//! * the scale-out alarm needs one datapoint ([CAS] says only that the alarm raises the desired
//!   capacity; target tracking's default high alarm needs three: *favour*);
//! * `instanceWarmupPeriod` defaults to the scenario's launch delay, not AWS's 300 s
//!   ([CAS] advises setting it just long enough for an instance to register: *favour*);
//! * a scale-in removes every empty instance it may, up to half of the instances each minute
//!   ([CAS]: "greater than one instance and less than 50% each minute": *favour*, the most
//!   it allows).

use capacity_core::{
    ClusterCapacity, Demand, PlacementFailure, TaskShape, UnplacedTasks, plan_scale_out,
};

use super::{InstState, ScaleAction, Sim};

/// [ROADMAP]: "a maximum of 100 tasks can be in the provisioning state for any cluster".
pub(super) const PROVISIONING_LIMIT: u32 = 100;

/// [CAS]: "Every minute, Amazon ECS collects information" and publishes the metric.
pub(super) const METRIC_PERIOD: u64 = 60;
/// [CAS] "CloudWatch scale-in alarms require 15 data points (15 minutes)".
pub(super) const SCALE_IN_DATAPOINTS: u32 = 15;

/// What managed scaling remembers between minutes.
#[derive(Debug, Default)]
pub(super) struct State {
    /// Consecutive minutes with the metric below the target.
    below_target: u32,
    /// The metric's inputs as of the latest step: the datapoint of the minute under way.
    latest: Option<Reading>,
}

/// One computation of the metric: M, N and `CapacityProviderReservation`.
#[derive(Debug, Clone, Copy)]
struct Reading {
    needed: u32,
    running: u32,
    metric: f64,
}

/// `CapacityProviderReservation` = M / N × 100 ([BLOG]); with no instance, 200 when any is
/// needed ([CAS]: "when a scale-out process is required and there are no available
/// container instances … Amazon ECS always scales-out to 200% (two instances)"), else 100.
pub(super) fn reservation(needed: u32, running: u32) -> f64 {
    match (needed, running) {
        (0, 0) => 100.0,
        (_, 0) => 200.0,
        (m, n) => f64::from(m) / f64::from(n) * 100.0,
    }
}

/// The desired capacity a target tracking policy sets for the metric: the instances that
/// bring it back to the target, `ceil(M × 100 / target)`; two from no instance ([CAS]).
pub(super) fn tracked_capacity(needed: u32, running: u32, target_capacity: u32) -> u32 {
    if running == 0 && needed > 0 {
        return 2;
    }
    (u64::from(needed) * 100)
        .div_ceil(u64::from(target_capacity.max(1)))
        .try_into()
        .unwrap_or(u32::MAX)
}

/// The tasks in PROVISIONING — the first [`PROVISIONING_LIMIT`] of those waiting, in the
/// services' order — grouped by their exact resource requirements ([CAS] step 2), one
/// [`Demand`] per group.
pub(super) fn provisioning_groups(waiting: &Demand) -> Vec<Demand> {
    type Key = (u32, u32, u32, bool, Vec<u16>, Vec<u16>);
    let key = |s: &TaskShape| -> Key {
        (
            s.cpu,
            s.memory_mib,
            s.gpus,
            s.awsvpc,
            s.ports_tcp.iter().copied().collect(),
            s.ports_udp.iter().copied().collect(),
        )
    };
    let mut left = PROVISIONING_LIMIT;
    let mut groups: Vec<(Key, Demand)> = Vec::new();
    for u in &waiting.unplaced {
        let count = u.count.min(left);
        left -= count;
        if count == 0 {
            continue;
        }
        let task = UnplacedTasks { count, ..u.clone() };
        // A task in PROVISIONING found no room on the registered instances ([CAS]: it is
        // placed only as capacity registers), so its group is sized on new instances alone,
        // never on the room plan_scale_out would otherwise try first.
        let provisioning = PlacementFailure::new(u.service.clone(), "PROVISIONING");
        let k = key(&u.shape);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, d)) => {
                d.unplaced.push(task);
                d.placement_failures.push(provisioning);
            }
            None => groups.push((
                k,
                Demand {
                    unplaced: vec![task],
                    daemons: waiting.daemons.clone(),
                    placement_failures: vec![provisioning],
                },
            )),
        }
    }
    groups.into_iter().map(|(_, d)| d).collect()
}

impl Sim<'_> {
    /// Managed scaling, each step: at a minute's end, the alarms act on that minute's
    /// datapoint; then the datapoint of the minute under way is updated from this step.
    pub(super) fn managed_scaling(&mut self, cap: Option<&ClusterCapacity>) {
        if self.t > 0
            && self.t.is_multiple_of(METRIC_PERIOD)
            && let Some(reading) = self.managed.latest
        {
            self.act_on(reading);
        }
        self.managed.latest = Some(self.reading(cap));
    }

    /// `CapacityProviderReservation` and its inputs for the cluster as it is now.
    fn reading(&self, cap: Option<&ClusterCapacity>) -> Reading {
        let ms = self.sc.managed_scaling;
        // N: the container instances running in the group ([BLOG]); instances still
        // launching are not registered yet.
        // An instance the calculator set DRAINING (`capacity-provider+consolidation`) still
        // runs in the group, and counts (*favour*: the documentation does not say how a
        // DRAINING instance counts; counting it, empty once its tasks left, is what lets
        // managed scaling remove it).
        let in_group = |i: &&super::Instance| {
            !i.outside_group
                && matches!(
                    i.state,
                    InstState::Active | InstState::Draining { deadline: None }
                )
        };
        let running = self.instances.iter().filter(in_group).count() as u32;
        // [CAS] scale-in: "A container instance is considered empty even when daemon tasks
        // are running".
        let empty = self
            .instances
            .iter()
            .filter(in_group)
            .filter(|i| !self.runs_non_daemon_tasks(i.id))
            .count() as u32;
        // [CAS] scale-out steps 2–4: the instances each group of provisioning tasks needs
        // (binpacked, the largest type's count), the largest of them; step 5: bounded by the
        // minimum and maximum scaling step sizes.
        let groups = provisioning_groups(&self.provisioning());
        let for_waiting = match cap {
            Some(cap) if !groups.is_empty() => groups
                .iter()
                .map(|g| plan_scale_out(cap, g, &self.sc.headroom).hosts_for_unplaced)
                .max()
                .unwrap_or(0),
            // No instance registered yet: at least one is needed to place anything.
            None if !groups.is_empty() => 1,
            _ => 0,
        };
        let needed = if for_waiting > 0 {
            running + for_waiting.clamp(ms.minimum_scaling_step_size, ms.maximum_scaling_step_size)
        } else {
            // [CAS] scale-in: the metric drops by the empty instances.
            running - empty
        };
        Reading {
            needed,
            running,
            metric: reservation(needed, running),
        }
    }

    /// The scale-out or scale-in one minute's datapoint causes.
    fn act_on(&mut self, reading: Reading) {
        let ms = self.sc.managed_scaling;
        let Reading {
            needed,
            running,
            metric,
        } = reading;
        let target = f64::from(ms.target_capacity);
        let from = self.desired_capacity;
        if metric > target {
            // [CAS] "When Amazon ECS requests a scale-out … while a scale-in process is in
            // progress, the scale-in process is stopped and starts from the beginning".
            self.managed.below_target = 0;
            // [CAS] scale-out step 7: "The scale-out is blocked for Instances that are
            // within the instanceWarmupPeriod".
            let t = self.t;
            let warming = self.instances.iter().any(|i| {
                i.state != InstState::Terminated
                    && i.launched_at.is_some_and(|at| at + ms.instance_warmup > t)
            });
            if warming {
                return;
            }
            let to = tracked_capacity(needed, running, ms.target_capacity)
                .max(from)
                .min(self.sc.asg.max);
            self.set_desired(from, to, metric);
        } else if metric < target {
            self.managed.below_target += 1;
            if self.managed.below_target < SCALE_IN_DATAPOINTS {
                return;
            }
            // Target tracking's answer, removing at least one and at most half the
            // instances a minute ([CAS] scale-in considerations).
            let floor = from.saturating_sub((running / 2).max(1));
            let to = tracked_capacity(needed, running, ms.target_capacity)
                .max(floor)
                .max(self.sc.asg.min)
                .min(from);
            self.set_desired(from, to, metric);
        } else {
            self.managed.below_target = 0;
        }
    }

    fn set_desired(&mut self, from: u32, to: u32, metric: f64) {
        if to == from {
            return;
        }
        self.desired_capacity = to;
        self.actions.push(ScaleAction {
            t: self.t,
            from,
            to,
        });
        self.log(format!(
            "{} (managed scaling, CapacityProviderReservation {metric:.0}%): desired capacity {from} -> {to}",
            if to > from { "scale out" } else { "scale in" }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_of_the_metric() {
        // [BLOG]/[CAS]: tasks wait and no instance runs: 200.
        assert_eq!(reservation(1, 0), 200.0);
        assert_eq!(reservation(0, 0), 100.0);
        // Every instance busy, nothing waits: 100, no scaling.
        assert_eq!(reservation(4, 4), 100.0);
        // Two instances needed beyond four: 150; one of four empty: 75.
        assert_eq!(reservation(6, 4), 150.0);
        assert_eq!(reservation(3, 4), 75.0);
    }

    fn waiting(service: &str, cpu: u32, memory: u32, count: u32) -> UnplacedTasks {
        UnplacedTasks {
            service: service.to_owned(),
            shape: TaskShape::new(format!("{service}:1"), cpu, memory),
            count,
        }
    }

    #[test]
    fn at_most_one_hundred_tasks_wait_in_provisioning_in_the_cluster() {
        // [ROADMAP]: 160 + 120 tasks waiting, 100 provisioning, the first service's first.
        let demand = Demand {
            unplaced: vec![waiting("a", 1024, 3072, 160), waiting("b", 512, 1024, 120)],
            ..Demand::default()
        };
        let groups = provisioning_groups(&demand);
        let counts: Vec<Vec<u32>> = groups
            .iter()
            .map(|g| g.unplaced.iter().map(|u| u.count).collect())
            .collect();
        assert_eq!(counts, vec![vec![100]]);
    }

    #[test]
    fn tasks_of_the_same_exact_requirements_form_one_group_whatever_their_service() {
        // [CAS] step 2: grouped by "the same exact resource requirements".
        let demand = Demand {
            unplaced: vec![
                waiting("a", 512, 1024, 3),
                waiting("b", 1024, 1024, 4),
                waiting("c", 512, 1024, 5),
            ],
            ..Demand::default()
        };
        let groups = provisioning_groups(&demand);
        let counts: Vec<Vec<u32>> = groups
            .iter()
            .map(|g| g.unplaced.iter().map(|u| u.count).collect())
            .collect();
        assert_eq!(counts, vec![vec![3, 5], vec![4]]);
        let mut with_port = waiting("d", 512, 1024, 1);
        with_port.shape.ports_tcp.insert(80);
        let demand = Demand {
            unplaced: vec![waiting("a", 512, 1024, 1), with_port],
            ..Demand::default()
        };
        assert_eq!(
            provisioning_groups(&demand).len(),
            2,
            "a port makes another group"
        );
    }

    #[test]
    fn target_tracking_brings_the_metric_back_to_the_target() {
        assert_eq!(tracked_capacity(6, 4, 100), 6);
        assert_eq!(tracked_capacity(3, 4, 100), 3);
        // A 90 % target keeps spare instances: 9 needed -> 10.
        assert_eq!(tracked_capacity(9, 10, 90), 10);
        // From no instance: two ([CAS]).
        assert_eq!(tracked_capacity(5, 0, 100), 2);
    }
}
