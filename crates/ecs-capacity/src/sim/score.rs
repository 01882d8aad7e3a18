//! The figures a run is judged by: its `Summary`, scored from the `Outcome` alone (the
//! printing is `crate::summary`'s).

use serde::Serialize;

use super::{Outcome, ScaleAction};

/// What one run cost and how it behaved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub policy: String,
    /// How the group picked instances on scale-in.
    pub termination: String,
    /// Σ over time of tasks a service wanted but could not place, in task-minutes.
    pub task_minutes_pending: f64,
    pub peak_pending_tasks: u32,
    /// The 95th percentile, over every task placed, of the seconds from its service wanting
    /// it to its placement (0 for tasks placed at once).
    pub p95_placement_wait_seconds: u64,
    /// Σ over time of instances in the group (launching and draining included).
    pub instance_hours: f64,
    /// The same weighted by size: Σ over time of the instances' vCPUs (1024 CPU units
    /// each). With mixed instance types, what the bill follows.
    pub vcpu_hours: f64,
    pub scale_outs: usize,
    pub scale_ins: usize,
    /// Direction reversals (out then in, or in then out) within the flap window.
    pub flaps: usize,
    pub flap_window_seconds: u64,
    /// Tasks on the instances the group chose to terminate, when it chose them.
    pub tasks_moved_by_scale_in: u64,
    /// Tasks ECS moved off the hosts the consolidation plan drained (0 without it).
    pub tasks_moved_by_consolidation: u64,
    /// Hosts a consolidation policy set back to ACTIVE because tasks waited.
    pub consolidation_undone: u64,
    /// The most instances DRAINING at once (lifecycle hook or consolidation).
    pub hosts_draining_at_peak: u32,
    /// Steps with more instances DRAINING than the default disruption budget (10 % of the
    /// registered instances, at least 1) allows.
    pub steps_over_budget: usize,
    /// The scenario's floor: its tasks packed perfectly, no boot ([`super::ideal::ideal`]).
    pub ideal_vcpu_hours: f64,
    /// The floor at whole instances of the best type at each step.
    pub ideal_whole_vcpu_hours: f64,
    /// Of the vCPU-hours, those of instances still booting.
    pub booting_vcpu_hours: f64,
    /// Of the vCPU-hours, those of registered instances with no task on them.
    pub empty_host_vcpu_hours: f64,
    pub max_hosts: u32,
    /// Time with ContainerCapacity 0 (no room for one more worst-case task), minutes.
    pub minutes_without_room: f64,
    /// The run's settings that differ from what `infra/template.yaml` deploys.
    pub not_as_deployed: Vec<String>,
    /// ECS's placement back-off (services without a capacity provider).
    pub placement_backoff: String,
    pub reaction_delay_seconds: u64,
}

impl Summary {
    pub fn of(o: &Outcome) -> Summary {
        let step = o.step as f64;
        let pending: u64 = o.samples.iter().map(|s| u64::from(s.pending_tasks)).sum();
        let instances: u64 = o.samples.iter().map(|s| u64::from(s.instances)).sum();
        let without_room = o
            .samples
            .iter()
            .filter(|s| s.container_capacity == 0)
            .count();
        let flaps = o
            .actions
            .windows(2)
            .filter(|w| match w {
                [a, b] => {
                    let up = |x: &ScaleAction| x.to > x.from;
                    up(a) != up(b) && b.t - a.t <= o.flap_window
                }
                _ => false,
            })
            .count();
        Summary {
            scenario: o.scenario.clone(),
            policy: o.policy.to_owned(),
            termination: o.termination.to_owned(),
            task_minutes_pending: round1(pending as f64 * step / 60.0),
            peak_pending_tasks: o.samples.iter().map(|s| s.pending_tasks).max().unwrap_or(0),
            p95_placement_wait_seconds: percentile(&o.placement_waits, 95),
            instance_hours: round1(instances as f64 * step / 3600.0),
            vcpu_hours: round1(
                o.samples.iter().map(|s| s.billed_cpu).sum::<u64>() as f64 / 1024.0 * step / 3600.0,
            ),
            scale_outs: o.actions.iter().filter(|a| a.to > a.from).count(),
            scale_ins: o.actions.iter().filter(|a| a.to < a.from).count(),
            flaps,
            flap_window_seconds: o.flap_window,
            tasks_moved_by_scale_in: o.tasks_moved_by_scale_in,
            tasks_moved_by_consolidation: o.tasks_moved_by_consolidation,
            consolidation_undone: o.consolidation_undone,
            hosts_draining_at_peak: o
                .samples
                .iter()
                .map(|s| s.draining_instances)
                .max()
                .unwrap_or(0),
            steps_over_budget: o
                .samples
                .iter()
                .filter(|s| s.draining_instances > s.disruption_budget)
                .count(),
            ideal_vcpu_hours: o.ideal_vcpu_hours,
            ideal_whole_vcpu_hours: o.ideal_whole_vcpu_hours,
            booting_vcpu_hours: round1(
                o.samples.iter().map(|s| s.booting_cpu).sum::<u64>() as f64 / 1024.0 * step
                    / 3600.0,
            ),
            empty_host_vcpu_hours: round1(
                o.samples.iter().map(|s| s.empty_cpu).sum::<u64>() as f64 / 1024.0 * step / 3600.0,
            ),
            max_hosts: o.samples.iter().map(|s| s.instances).max().unwrap_or(0),
            minutes_without_room: round1(without_room as f64 * step / 60.0),
            not_as_deployed: o.not_as_deployed.clone(),
            placement_backoff: o.placement_backoff.to_owned(),
            reaction_delay_seconds: o.reaction_delay,
        }
    }
}

/// The nearest-rank `p`th percentile of `values` (0 for none).
fn percentile(values: &[u64], p: usize) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or(0)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_the_nearest_rank() {
        assert_eq!(percentile(&[], 95), 0);
        assert_eq!(percentile(&[7], 95), 7);
        let waits: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&waits, 95), 95);
        let mostly_at_once: Vec<u64> = std::iter::repeat_n(0, 96)
            .chain([60, 120, 180, 240])
            .collect();
        assert_eq!(percentile(&mostly_at_once, 95), 0);
        assert_eq!(percentile(&mostly_at_once, 99), 180);
    }
}
