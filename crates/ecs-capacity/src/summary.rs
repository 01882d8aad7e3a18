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
    /// Σ over time of tasks a service wanted but could not place, in task-minutes.
    pub task_minutes_pending: f64,
    pub peak_pending_tasks: u32,
    /// Σ over time of instances in the group (launching and draining included).
    pub instance_hours: f64,
    pub scale_outs: usize,
    pub scale_ins: usize,
    /// Direction reversals (out then in, or in then out) within the flap window.
    pub flaps: usize,
    pub flap_window_seconds: u64,
    pub max_hosts: u32,
    /// Time with ContainerCapacity 0 (no room for one more worst-case task), minutes.
    pub minutes_without_room: f64,
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
            task_minutes_pending: round1(pending as f64 * step / 60.0),
            peak_pending_tasks: o.samples.iter().map(|s| s.pending_tasks).max().unwrap_or(0),
            instance_hours: round1(instances as f64 * step / 3600.0),
            scale_outs: o.actions.iter().filter(|a| a.to > a.from).count(),
            scale_ins: o.actions.iter().filter(|a| a.to < a.from).count(),
            flaps,
            flap_window_seconds: o.flap_window,
            max_hosts: o.samples.iter().map(|s| s.instances).max().unwrap_or(0),
            minutes_without_room: round1(without_room as f64 * step / 60.0),
        }
    }
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
    row("instance-hours", &|s| format!("{:.1}", s.instance_hours));
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
    row("max hosts", &|s| s.max_hosts.to_string());
    row("minutes with no room for a task", &|s| {
        format!("{:.1}", s.minutes_without_room)
    });
    let right: Vec<usize> = (1..=summaries.len()).collect();
    table(&rows, &right)
}

/// The timeline of one run.
pub fn timeline(o: &Outcome) -> String {
    let mut out = String::new();
    for e in &o.events {
        let _ = writeln!(out, "{}  {}", clock(e.t), e.what);
    }
    out
}
