//! `--what-if recommended-types`: the scenario rerun with the launch order the fit recommends
//! for its tasks ([`capacity_core::fit::recommend`]) — what `ecs-capacity report --cluster`
//! would tell the team to put first in its mixed instances policy.

use capacity_core::WorstCase;
use capacity_core::fit::{TypeFit, fit, recommend};

use super::ideal::{daemon_shapes, for_each_step, launch_templates};
use crate::scenario::Scenario;

/// How often the day's tasks are sampled for the recommendation.
const SAMPLE_EVERY: u64 = 900;

/// The fit of the day's tasks on each allowed type: the tasks that must run every 15
/// minutes (see `sim::ideal`), packed on whole instances of the type, summed as vCPU-hours
/// (and stranded vCPU-hours) over the day.
pub fn day_fits(sc: &Scenario) -> Vec<TypeFit> {
    let templates = launch_templates(sc);
    let daemons = daemon_shapes(sc);
    let mut totals: Vec<TypeFit> = templates
        .iter()
        .map(|t| TypeFit {
            instance_type: t.instance_type.clone().unwrap_or_default(),
            hosts: 0,
            vcpus: 0,
            stranded_vcpu: 0.0,
            stranded_memory_gib: 0.0,
            unplaceable: 0,
        })
        .collect();
    let every = SAMPLE_EVERY.max(sc.step);
    for_each_step(sc, |t, tasks| {
        if t % every != 0 {
            return;
        }
        let Ok(worst) = WorstCase::of(tasks.iter().map(|(s, _)| s)) else {
            return;
        };
        for (total, template) in totals.iter_mut().zip(&templates) {
            let f = fit(&tasks, &daemons, template, &worst);
            total.hosts = total.hosts.saturating_add(f.hosts);
            total.vcpus = total.vcpus.saturating_add(f.vcpus);
            total.stranded_vcpu += f.stranded_vcpu;
            total.stranded_memory_gib += f.stranded_memory_gib;
            total.unplaceable += f.unplaceable;
        }
    });
    totals
}

/// One type's [`day_fits`] in hours: what `--what-if recommended-types` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DayFit {
    pub instance_type: String,
    /// vCPU-hours of whole instances of the type holding the day's tasks.
    pub vcpu_hours: f64,
    /// Of those, vCPU-hours no task of the mix could use (memory full).
    pub stranded_vcpu_hours: f64,
    /// GiB-hours of memory no task of the mix could use (CPU full).
    pub stranded_memory_gib_hours: f64,
    /// Task-samples that fit on no instance of the type.
    pub unplaceable: u64,
}

/// [`day_fits`] in hours, in the order the fit recommends.
pub fn day_fit_table(sc: &Scenario) -> Vec<DayFit> {
    let fits = day_fits(sc);
    let hours = SAMPLE_EVERY.max(sc.step) as f64 / 3600.0;
    let round = |x: f64| (x * 10.0).round() / 10.0;
    recommend(&fits, None)
        .order
        .iter()
        .filter_map(|name| fits.iter().find(|f| &f.instance_type == name))
        .map(|f| DayFit {
            instance_type: f.instance_type.clone(),
            vcpu_hours: round(f64::from(f.vcpus) * hours),
            stranded_vcpu_hours: round(f.stranded_vcpu * hours),
            stranded_memory_gib_hours: round(f.stranded_memory_gib * hours),
            unplaceable: f.unplaceable,
        })
        .collect()
}

/// The allowed types (indexes into [`Scenario::instance_types`]) in the order the fit
/// recommends for the day's tasks: fewest vCPUs first.
pub fn recommended_types(sc: &Scenario) -> Vec<usize> {
    let fits = day_fits(sc);
    let order = recommend(&fits, None).order;
    order
        .iter()
        .filter_map(|name| sc.instance_types.iter().position(|t| &t.name == name))
        .collect()
}

/// `sc` rerun with its group launching the recommended order, prioritized.
pub fn with_recommended_types(sc: &Scenario) -> Scenario {
    let mut s = sc.with_launch_order(recommended_types(sc));
    let names: Vec<&str> = s
        .asg
        .launch_types
        .iter()
        .filter_map(|&i| s.instance_types.get(i).map(|t| t.name.as_str()))
        .collect();
    s.description = format!(
        "{} — what if the group launched {} (prioritized, as the fit recommends)",
        s.description,
        names.join(" then ")
    );
    s
}
