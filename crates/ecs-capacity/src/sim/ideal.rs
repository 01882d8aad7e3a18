//! The ideal: the physical floor of a scenario's cost, which no policy can beat — in two rows.
//!
//! * **fluid**: at every step, the CPU units and MiB the tasks that must run reserve, packed
//!   without loss onto fractional instances of whichever type the group launches needs the
//!   fewest vCPUs for them;
//! * **whole instances**: the same tasks packed first-fit decreasing ([`capacity_core::fit`])
//!   onto whole instances of the type that needs the fewest vCPUs at that step — the floor
//!   any policy with whole hosts meets (first-fit decreasing is within a few hosts of the
//!   optimum, see `capacity_core::scale_out`; it is the packing every policy here uses).
//!
//! Both count, at every step, the tasks that must run ([`tasks_at`]): every REPLICA service's
//! desired tasks, the jobs' running tasks, one task of every DAEMON service per instance, and
//! **a rolling deployment's surge**: with `minimumHealthyPercent` 100 ECS starts new tasks
//! (up to `maximumPercent`) before it stops old ones, so for the `task_start` seconds each
//! batch takes to start, the old tasks and the starting new ones run at once. Neither row
//! has boot time or waiting.

use capacity_core::fit::fit;
use capacity_core::{HostTemplate, Resources, TaskShape, WorstCase};

use super::Sim;
use crate::scenario::{ChangeKind, Scenario, ServiceKind};

/// The two floors, vCPU-hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ideal {
    pub fluid: f64,
    pub whole_instances: f64,
}

/// Both floors of `sc` (see the module).
pub fn ideal(sc: &Scenario) -> Ideal {
    let types: Vec<HostTemplate> = launch_templates(sc);
    let daemons = daemon_shapes(sc);
    let (daemon_cpu, daemon_memory) = daemons.iter().fold((0.0, 0.0), |(c, m), s| {
        (c + f64::from(s.cpu), m + f64::from(s.memory_mib))
    });
    let mut fluid = 0.0;
    let mut whole = 0.0;
    let mut last: Option<(Vec<(TaskShape, u32)>, f64)> = None;
    for_each_step(sc, |_, tasks| {
        let (cpu, memory) = tasks.iter().fold((0.0, 0.0), |(c, m), (shape, n)| {
            (
                c + f64::from(*n) * f64::from(shape.cpu),
                m + f64::from(*n) * f64::from(shape.memory_mib),
            )
        });
        let vcpus = types
            .iter()
            .map(|t| &t.registered)
            .filter(|r| f64::from(r.cpu) > daemon_cpu && f64::from(r.memory_mib) > daemon_memory)
            .map(|r| {
                let instances = (cpu / (f64::from(r.cpu) - daemon_cpu))
                    .max(memory / (f64::from(r.memory_mib) - daemon_memory));
                instances * f64::from(r.cpu) / 1024.0
            })
            .fold(f64::INFINITY, f64::min);
        if vcpus.is_finite() {
            fluid += vcpus * sc.step as f64;
        }
        // The whole-instance packing changes only when the tasks do.
        let packed = match &last {
            Some((previous, v)) if *previous == tasks => *v,
            _ => {
                let v = fewest_vcpus(&tasks, &daemons, &types);
                last = Some((tasks, v));
                v
            }
        };
        whole += packed * sc.step as f64;
    });
    let hours = |s: f64| (s / 3600.0 * 10.0).round() / 10.0;
    Ideal {
        fluid: hours(fluid),
        whole_instances: hours(whole),
    }
}

/// The fluid floor alone (what `--sweep` prints as "ideal").
pub fn ideal_vcpu_hours(sc: &Scenario) -> f64 {
    ideal(sc).fluid
}

/// The fewest vCPUs any one of `types` holds `tasks` on, whole instances packed first-fit
/// decreasing, each first running `daemons`; 0 with no task.
fn fewest_vcpus(tasks: &[(TaskShape, u32)], daemons: &[TaskShape], types: &[HostTemplate]) -> f64 {
    if tasks.iter().all(|(_, n)| *n == 0) {
        return 0.0;
    }
    let Ok(worst) = WorstCase::of(tasks.iter().map(|(s, _)| s)) else {
        return 0.0;
    };
    types
        .iter()
        .map(|t| fit(tasks, daemons, t, &worst))
        .filter(|f| f.unplaceable == 0)
        .map(|f| f64::from(f.vcpus))
        .fold(f64::INFINITY, f64::min)
        .min(f64::MAX)
}

/// One task of every DAEMON service: what each host runs first.
pub(crate) fn daemon_shapes(sc: &Scenario) -> Vec<TaskShape> {
    sc.services
        .iter()
        .filter(|s| s.is_daemon())
        .map(|s| s.shape.clone())
        .collect()
}

/// The group's allowed types as what an instance of each registers.
pub(crate) fn launch_templates(sc: &Scenario) -> Vec<HostTemplate> {
    let mut seen = Vec::new();
    for &i in &sc.asg.launch_types {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen.into_iter()
        .filter_map(|i| sc.instance_types.get(i))
        .map(|t| HostTemplate {
            instance_type: Some(t.name.clone()),
            registered: Resources {
                gpus: t.gpus,
                ..Resources::new(t.cpu, t.memory_mib)
            },
            eni_task_slots: None,
        })
        .collect()
}

/// Calls `f(t, tasks)` at every step of `sc` with the tasks that must run then
/// ([`tasks_at`]).
pub(crate) fn for_each_step(sc: &Scenario, mut f: impl FnMut(u64, Vec<(TaskShape, u32)>)) {
    let mut sim = Sim::new(sc);
    let steps = sc.duration / sc.step;
    for i in 1..=steps {
        let t = i * sc.step;
        sim.t = t;
        sim.apply_service_changes();
        f(t, tasks_at(&sim, sc, t));
    }
}

/// The tasks that must run at `t` (the DAEMON services' aside): each REPLICA service's desired
/// tasks of its current revision — during a rolling deployment with `minimumHealthyPercent`
/// ≥ 100, the old revision's tasks not yet replaced and the batch of new ones starting beside
/// them —, and the jobs' running tasks.
fn tasks_at(sim: &Sim<'_>, sc: &Scenario, t: u64) -> Vec<(TaskShape, u32)> {
    let mut out: Vec<(TaskShape, u32)> = Vec::new();
    let mut add = |shape: &TaskShape, n: u32| {
        if n == 0 {
            return;
        }
        match out.iter_mut().find(|(s, _)| s == shape) {
            Some((_, count)) => *count += n,
            None => out.push((shape.clone(), n)),
        }
    };
    for (state, def) in sim.services.iter().zip(&sc.services) {
        let Some(current) = state.revisions.last() else {
            continue;
        };
        match &def.kind {
            ServiceKind::Daemon => {}
            ServiceKind::Job(runs) => add(
                current,
                runs.iter()
                    .filter(|r| r.at <= t && t < r.at + r.duration)
                    .map(|r| r.count)
                    .sum(),
            ),
            ServiceKind::Replica => {
                let desired = state.desired;
                let deployed_at = def.changes.iter().rev().find_map(|c| match c.kind {
                    ChangeKind::Deploy(_) if c.at <= t => Some(c.at),
                    _ => None,
                });
                let previous = state
                    .revisions
                    .len()
                    .checked_sub(2)
                    .map(|i| &state.revisions[i]);
                let surge =
                    u64::from(desired) * u64::from(def.maximum_percent.saturating_sub(100)) / 100;
                let batch = u32::try_from(surge).unwrap_or(u32::MAX).min(desired);
                match (deployed_at, previous) {
                    (Some(at), Some(old)) if def.minimum_healthy_percent >= 100 && batch > 0 => {
                        let round = (t - at) / sc.task_start.max(1);
                        let replaced = u32::try_from(round)
                            .unwrap_or(u32::MAX)
                            .saturating_mul(batch)
                            .min(desired);
                        let starting = batch.min(desired - replaced);
                        add(old, desired - replaced);
                        add(current, replaced + starting);
                    }
                    _ => add(current, desired),
                }
            }
        }
    }
    out
}
