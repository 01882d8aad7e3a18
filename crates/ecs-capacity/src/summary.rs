//! The text a simulation prints: the summaries side by side, the frontier and sensitivity
//! tables, the timeline. The figures themselves are scored in `sim::score` ([`Summary`]).

use std::fmt::Write as _;

use crate::duration::{Secs, clock};
use crate::report::table;
use crate::sim::Outcome;
pub use crate::sim::score::Summary;
use crate::sim::sweep::{Frontier, Sensitivity};

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
    row("ideal vCPU-hours (fluid)", &|s| {
        format!("{:.1}", s.ideal_vcpu_hours)
    });
    row("ideal vCPU-hours (whole hosts)", &|s| {
        format!("{:.1}", s.ideal_whole_vcpu_hours)
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
pub fn frontier_table(f: &Frontier) -> String {
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
pub fn sensitivity_tables(s: &Sensitivity) -> String {
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

/// The fit of a scenario's day on each allowed type (`--what-if recommended-types`).
pub fn day_fit_table(fits: &[crate::sim::what_if::DayFit]) -> String {
    let mut rows = vec![
        [
            "instance type",
            "vCPU-hours",
            "stranded vCPU-hours",
            "stranded GiB-hours",
            "tasks that fit on none",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for f in fits {
        rows.push(vec![
            f.instance_type.clone(),
            format!("{:.1}", f.vcpu_hours),
            format!("{:.1}", f.stranded_vcpu_hours),
            format!("{:.1}", f.stranded_memory_gib_hours),
            f.unplaceable.to_string(),
        ]);
    }
    table(&rows, &[1, 2, 3, 4])
}
