//! The figures a simulation is judged by, and the text it prints.

use std::fmt::Write as _;

use serde::Serialize;

use crate::duration::{Secs, clock};
use crate::report::table;
use crate::sim::Outcome;

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
    /// The scenario's floor: its tasks packed perfectly, no boot ([`crate::sim::sweep::ideal_vcpu_hours`]).
    pub ideal_vcpu_hours: f64,
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
                    let up = |x: &crate::sim::ScaleAction| x.to > x.from;
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

/// The summaries side by side, one column per run.
pub fn summary_table(summaries: &[Summary]) -> String {
    let mut rows = vec![
        std::iter::once("".to_owned())
            .chain(summaries.iter().map(|s| s.policy.clone()))
            .collect::<Vec<_>>(),
    ];
    let mut row = |label: &str, f: &dyn Fn(&Summary) -> String| {
        rows.push(
            std::iter::once(label.to_owned())
                .chain(summaries.iter().map(f))
                .collect(),
        );
    };
    row("task-minutes pending", &|s| {
        format!("{:.1}", s.task_minutes_pending)
    });
    row("peak pending tasks", &|s| s.peak_pending_tasks.to_string());
    row("p95 placement wait", &|s| {
        Secs(s.p95_placement_wait_seconds).to_string()
    });
    row("instance-hours", &|s| format!("{:.1}", s.instance_hours));
    row("vCPU-hours", &|s| format!("{:.1}", s.vcpu_hours));
    row("ideal vCPU-hours", &|s| {
        format!("{:.1}", s.ideal_vcpu_hours)
    });
    row("scale actions (out/in)", &|s| {
        format!(
            "{} ({}/{})",
            s.scale_outs + s.scale_ins,
            s.scale_outs,
            s.scale_ins
        )
    });
    let window = summaries
        .first()
        .map_or(String::new(), |s| Secs(s.flap_window_seconds).to_string());
    row(&format!("flaps (reversals within {window})"), &|s| {
        s.flaps.to_string()
    });
    row("tasks moved by scale-in", &|s| {
        s.tasks_moved_by_scale_in.to_string()
    });
    row("hosts draining at peak", &|s| {
        s.hosts_draining_at_peak.to_string()
    });
    if summaries
        .iter()
        .any(|s| s.policy.ends_with("+consolidation"))
    {
        row("tasks moved by consolidation", &|s| {
            s.tasks_moved_by_consolidation.to_string()
        });
        row("hosts set back to ACTIVE", &|s| {
            s.consolidation_undone.to_string()
        });
        row("steps over the 10 % budget", &|s| {
            s.steps_over_budget.to_string()
        });
        row("vCPU-hours booting", &|s| {
            format!("{:.1}", s.booting_vcpu_hours)
        });
        row("vCPU-hours on empty hosts", &|s| {
            format!("{:.1}", s.empty_host_vcpu_hours)
        });
    }
    row("scale-in choice", &|s| s.termination.clone());
    row("max hosts", &|s| s.max_hosts.to_string());
    row("minutes with no room for a task", &|s| {
        format!("{:.1}", s.minutes_without_room)
    });
    let right: Vec<usize> = (1..=summaries.len()).collect();
    table(&rows, &right)
}

/// Under the table: the settings of each run that are not the template's.
pub fn not_as_deployed_note(summaries: &[Summary]) -> String {
    let mut out = String::new();
    for s in summaries.iter().filter(|s| !s.not_as_deployed.is_empty()) {
        let _ = writeln!(
            out,
            "{}: not as deployed: {}",
            s.policy,
            s.not_as_deployed.join(", ")
        );
    }
    out
}

fn short_row(label: &str, setting: &str, s: &Summary) -> Vec<String> {
    vec![
        label.to_owned(),
        setting.to_owned(),
        format!("{:.1}", s.task_minutes_pending),
        Secs(s.p95_placement_wait_seconds).to_string(),
        format!("{:.1}", s.vcpu_hours),
    ]
}

const SHORT_HEADER: [&str; 5] = [
    "policy",
    "setting",
    "task-minutes pending",
    "p95 placement wait",
    "vCPU-hours",
];

/// The frontier (`--sweep`): one row per run, and the ideal first.
pub fn frontier_table(f: &crate::sim::sweep::Frontier) -> String {
    let mut rows = vec![SHORT_HEADER.iter().map(|h| (*h).to_owned()).collect()];
    rows.push(vec![
        "ideal".to_owned(),
        "perfect packing, no boot".to_owned(),
        "0.0".to_owned(),
        "0s".to_owned(),
        format!("{:.1}", f.ideal_vcpu_hours),
    ]);
    for r in &f.runs {
        rows.push(short_row(&r.summary.policy, &r.setting, &r.summary));
    }
    table(&rows, &[2, 3, 4])
}

/// The sensitivity (`--sensitivity`): the back-off, then the reaction delay.
pub fn sensitivity_tables(s: &crate::sim::sweep::Sensitivity) -> String {
    let mut out = String::new();
    for (title, runs) in [
        ("ECS's placement back-off", &s.backoff),
        ("Our reaction delay (hosts-to-add)", &s.reaction_delay),
    ] {
        let mut rows = vec![SHORT_HEADER.iter().map(|h| (*h).to_owned()).collect()];
        for r in runs {
            rows.push(short_row(&r.summary.policy, &r.setting, &r.summary));
        }
        let _ = writeln!(out, "{title}:");
        out.push_str(&table(&rows, &[2, 3, 4]));
        out.push('\n');
    }
    out
}

/// The timeline of one run.
pub fn timeline(o: &Outcome) -> String {
    let mut out = String::new();
    for e in &o.events {
        let _ = writeln!(out, "{}  {}", clock(e.t), e.what);
    }
    out
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
