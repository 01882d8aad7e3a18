//! Parsing and validation: the file format read by serde, then checked section by section
//! into the model. Every error names the line and the field. This module checks the timing,
//! the instance types, the group, the capacity provider, the scaling section (the policy and
//! its alarms), the calculator and ECS's placement back-off; `services` the services.

mod services;

use std::collections::BTreeMap;

use capacity_core::ScalePolicy;
use capacity_core::run::HeadroomTask;
use serde_saphyr::Spanned;

use super::ScenarioError;
use super::alarm::{Alarm, MissingData};
use super::deployed::{DEPLOYED, REACTION_DELAY};
use super::file::{
    AlarmFile, AsgFile, BackoffFile, CalculatorFile, CapacityProviderFile, EcsFile,
    InstanceTypeFile, ScalingFile, ScenarioFile,
};
use super::model::{
    Asg, DEFAULT_ZONES, InstanceType, ManagedScaling, PlacementBackoff, Scenario, Service,
};
use super::policy::{
    AlarmSettings, LARGEST_STEP, PolicyKind, ScalingSettings, Termination, scale_in_alarm,
    scale_out_alarm, termination,
};
use crate::duration::Secs;

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn err(
        &self,
        line: u64,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_owned(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

fn line<T>(s: &Spanned<T>) -> u64 {
    s.referenced.line()
}

/// Parses and validates a scenario. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let raw = syntax(file, text)?;
    let c = Checker { file };
    let (step, duration) = timing(&c, &raw.step, &raw.duration)?;
    let instance_types = instance_types(&c, &raw.instance_types)?;
    let asg = asg(&c, &raw.asg, &instance_types)?;
    let mut services = services::services(&c, &raw.services, &instance_types, duration)?;
    services.extend(services::jobs(
        &c,
        &raw.jobs,
        &instance_types,
        duration,
        &services,
    )?);
    let scaling = scaling(&c, &raw.scaling, step, &services)?;
    let (calculator_schedule, reaction_delay) = calculator(&c, &raw.calculator, step)?;
    let placement_backoff = placement_backoff(&c, &raw.ecs)?;
    let managed_scaling = managed_scaling(&c, &raw.capacity_provider, asg.launch_delay)?;
    let termination = termination(scaling.policy, asg.termination);
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        duration,
        step,
        instance_types,
        asg,
        strategy: raw.ecs.strategy,
        task_start: raw.ecs.task_start.map_or(30, |s| s.0),
        task_stop: raw.ecs.task_stop.map_or(30, |s| s.0),
        services,
        policy: scaling.policy,
        termination,
        managed_scaling,
        headroom: scaling.headroom,
        scale_out: scaling.scale_out,
        scale_in: scaling.scale_in,
        flap_window: scaling.flap_window,
        calculator_schedule,
        reaction_delay,
        placement_backoff,
        largest_step: LARGEST_STEP,
        disruption_budget: DEPLOYED.disruption_budget,
        consolidation_stability: DEPLOYED.consolidation_stability,
        margin_task: capacity_core::consolidation::MarginTask::default(),
        headroom_task: scaling.headroom_task,
        scaling: scaling.settings,
    })
}

/// The file as serde reads it; a syntax error (or an unknown or mistyped field) names the
/// file only, as the message has the line.
fn syntax(file: &str, text: &str) -> Result<ScenarioFile, ScenarioError> {
    serde_saphyr::from_str(text).map_err(|e| {
        let message = e.to_string();
        ScenarioError::Syntax {
            file: file.to_owned(),
            message: message
                .strip_prefix("error: ")
                .unwrap_or(&message)
                .to_owned(),
        }
    })
}

/// The simulation step and the scenario's duration, a whole number of steps.
fn timing(
    c: &Checker,
    step: &Spanned<Secs>,
    duration: &Spanned<Secs>,
) -> Result<(u64, u64), ScenarioError> {
    let step_line = line(step);
    let step = step.value.0;
    if step == 0 || step > 3600 {
        return Err(c.err(step_line, "step", "must be between 1s and 1h"));
    }
    let duration_line = line(duration);
    let duration = duration.value.0;
    if duration == 0 || duration > 31 * 86_400 {
        return Err(c.err(duration_line, "duration", "must be between 1s and 31 days"));
    }
    if !duration.is_multiple_of(step) {
        return Err(c.err(
            duration_line,
            "duration",
            format!(
                "{} is not a multiple of step {}",
                Secs(duration),
                Secs(step)
            ),
        ));
    }
    Ok((step, duration))
}

fn instance_types(
    c: &Checker,
    raw: &Spanned<BTreeMap<String, Spanned<InstanceTypeFile>>>,
) -> Result<Vec<InstanceType>, ScenarioError> {
    let mut instance_types = Vec::new();
    for (name, spec) in &raw.value {
        let field = format!("instance_types.{name}");
        if spec.value.cpu == 0 || spec.value.memory == 0 {
            return Err(c.err(
                line(spec),
                field,
                "cpu and memory must both be above 0 (CPU units and MiB ECS registers)",
            ));
        }
        if spec.value.max_enis == Some(0) {
            return Err(c.err(
                line(spec),
                format!("{field}.max_enis"),
                "must be at least 1 (the primary ENI)",
            ));
        }
        instance_types.push(InstanceType {
            name: name.clone(),
            cpu: spec.value.cpu,
            memory_mib: spec.value.memory,
            gpus: spec.value.gpus,
            max_enis: spec.value.max_enis,
        });
    }
    if instance_types.is_empty() {
        return Err(c.err(
            line(raw),
            "instance_types",
            "needs at least one instance type",
        ));
    }
    Ok(instance_types)
}

fn asg(
    c: &Checker,
    raw: &Spanned<AsgFile>,
    instance_types: &[InstanceType],
) -> Result<Asg, ScenarioError> {
    let asg = &raw.value;
    let asg_line = line(raw);
    if asg.max == 0 || asg.max > 1000 {
        return Err(c.err(asg_line, "asg.max", "must be between 1 and 1000"));
    }
    if asg.min > asg.max {
        return Err(c.err(
            asg_line,
            "asg.min",
            format!("{} is above asg.max {}", asg.min, asg.max),
        ));
    }
    if asg.desired < asg.min || asg.desired > asg.max {
        return Err(c.err(
            asg_line,
            "asg.desired",
            format!(
                "{} is outside asg.min..asg.max ({}..{})",
                asg.desired, asg.min, asg.max
            ),
        ));
    }
    if asg.instance_types.is_empty() {
        return Err(c.err(
            asg_line,
            "asg.instance_types",
            "needs at least one instance type",
        ));
    }
    let mut launch_types = Vec::new();
    for (i, t) in asg.instance_types.iter().enumerate() {
        let index = instance_types
            .iter()
            .position(|it| it.name == t.value)
            .ok_or_else(|| {
                let known: Vec<&str> = instance_types.iter().map(|it| it.name.as_str()).collect();
                c.err(
                    line(t),
                    format!("asg.instance_types[{i}]"),
                    format!(
                        "unknown instance type {:?} (defined: {})",
                        t.value,
                        known.join(", ")
                    ),
                )
            })?;
        launch_types.push(index);
    }
    if let Some(hook) = &asg.lifecycle_hook
        && !(30..=7200).contains(&hook.timeout.0)
    {
        return Err(c.err(
            asg_line,
            "asg.lifecycle_hook.timeout",
            "must be between 30s and 2h (Auto Scaling's heartbeat timeout range)",
        ));
    }
    let zones: Vec<String> = match &asg.zones {
        None => DEFAULT_ZONES.iter().map(|z| (*z).to_owned()).collect(),
        Some(z) if z.value.is_empty() => {
            return Err(c.err(line(z), "asg.zones", "needs at least one zone"));
        }
        Some(z) => {
            let mut seen = std::collections::BTreeSet::new();
            for name in &z.value {
                if !seen.insert(name) {
                    return Err(c.err(
                        line(z),
                        "asg.zones",
                        format!("zone {name:?} is listed twice"),
                    ));
                }
            }
            z.value.clone()
        }
    };
    if asg.outside_group > asg.max {
        return Err(c.err(
            asg_line,
            "asg.outside_group",
            format!("{} is above asg.max {}", asg.outside_group, asg.max),
        ));
    }
    Ok(Asg {
        zones,
        outside_group: asg.outside_group,
        launch_order: asg.launch_order,
        min: asg.min,
        max: asg.max,
        desired: asg.desired,
        launch_types,
        launch_delay: asg.launch_delay.0,
        hook_timeout: asg.lifecycle_hook.as_ref().map(|h| h.timeout.0),
        termination: match asg.termination {
            Some(Termination::ManagedTerminationProtection) => {
                return Err(c.err(
                    asg_line,
                    "asg.termination",
                    "managed-termination-protection belongs to the capacity-provider policy; choose default or chooser",
                ));
            }
            other => other,
        },
    })
}

/// The capacity provider's managed scaling settings, checked against ECS's ranges.
fn managed_scaling(
    c: &Checker,
    raw: &Spanned<CapacityProviderFile>,
    launch_delay: u64,
) -> Result<ManagedScaling, ScenarioError> {
    let cp = &raw.value;
    let at = line(raw);
    let target_capacity = cp.target_capacity.unwrap_or(100);
    if !(1..=100).contains(&target_capacity) {
        return Err(c.err(
            at,
            "capacity_provider.target_capacity",
            "must be between 1 and 100 (percent)",
        ));
    }
    let minimum_scaling_step_size = cp.minimum_scaling_step_size.unwrap_or(1);
    let maximum_scaling_step_size = cp.maximum_scaling_step_size.unwrap_or(10_000);
    for (field, v) in [
        (
            "capacity_provider.minimum_scaling_step_size",
            minimum_scaling_step_size,
        ),
        (
            "capacity_provider.maximum_scaling_step_size",
            maximum_scaling_step_size,
        ),
    ] {
        if !(1..=10_000).contains(&v) {
            return Err(c.err(at, field, "must be between 1 and 10000"));
        }
    }
    if minimum_scaling_step_size > maximum_scaling_step_size {
        return Err(c.err(
            at,
            "capacity_provider.minimum_scaling_step_size",
            "is above maximum_scaling_step_size",
        ));
    }
    let instance_warmup = cp.instance_warmup_period.map_or(launch_delay, |s| s.0);
    if instance_warmup > 10_000 {
        return Err(c.err(
            at,
            "capacity_provider.instance_warmup_period",
            "must be at most 10000s",
        ));
    }
    Ok(ManagedScaling {
        target_capacity,
        minimum_scaling_step_size,
        maximum_scaling_step_size,
        instance_warmup,
    })
}

/// The scaling section, checked: the policy, the headroom and both alarms.
struct Scaling {
    policy: PolicyKind,
    headroom: ScalePolicy,
    headroom_task: HeadroomTask,
    scale_out: Alarm,
    scale_in: Alarm,
    flap_window: u64,
    settings: ScalingSettings,
}

fn scaling(
    c: &Checker,
    raw: &Spanned<ScalingFile>,
    step: u64,
    services: &[Service],
) -> Result<Scaling, ScenarioError> {
    let sc = &raw.value;
    let headroom = ScalePolicy::new(sc.headroom)
        .map_err(|e| c.err(line(raw), "scaling.headroom", e.to_string()))?;
    let headroom_task = HeadroomTask::parse(sc.headroom_task.as_deref().unwrap_or_default())
        .map_err(|e| c.err(line(raw), "scaling.headroom_task", e))?;
    if let HeadroomTask::Service(name) = &headroom_task
        && !services.iter().any(|s| &s.name == name)
    {
        return Err(c.err(
            line(raw),
            "scaling.headroom_task",
            format!("no service named {name:?}"),
        ));
    }
    let d = DEPLOYED;
    let out = alarm_settings(
        c,
        step,
        &sc.scale_out,
        "scaling.scale_out",
        (d.scale_out_period, d.scale_out_evaluation_periods),
        (d.scale_out_missing_data, d.scale_out_warmup),
    )?;
    let r#in = alarm_settings(
        c,
        step,
        &sc.scale_in,
        "scaling.scale_in",
        (d.scale_in_period, d.scale_in_evaluation_periods),
        (d.scale_in_missing_data, d.scale_in_cooldown),
    )?;
    if sc.scale_in.value.warmup.is_some() {
        return Err(c.err(
            line(&sc.scale_in),
            "scaling.scale_in.warmup",
            "only the scale-out step policy has an instance warmup",
        ));
    }
    Ok(Scaling {
        policy: sc.policy,
        headroom,
        headroom_task,
        scale_out: scale_out_alarm(sc.policy, headroom, &out, step),
        scale_in: scale_in_alarm(sc.policy, &r#in),
        flap_window: sc.flap_window.map_or(900, |s| s.0),
        settings: ScalingSettings { out, r#in },
    })
}

/// How often the calculator also runs on its schedule, and its reaction delay, each a whole
/// number of steps.
fn calculator(
    c: &Checker,
    raw: &Spanned<CalculatorFile>,
    step: u64,
) -> Result<(u64, u64), ScenarioError> {
    let schedule = raw
        .value
        .schedule
        .map_or(DEPLOYED.calculator_schedule, |s| s.0);
    let delay = raw.value.reaction_delay.map_or(REACTION_DELAY, |s| s.0);
    for (field, value) in [
        ("calculator.schedule", schedule),
        ("calculator.reaction_delay", delay),
    ] {
        if !value.is_multiple_of(step) {
            return Err(c.err(
                line(raw),
                field,
                format!(
                    "{} must be a multiple of the simulation step {}",
                    Secs(value),
                    Secs(step)
                ),
            ));
        }
    }
    if delay > 600 {
        return Err(c.err(
            line(raw),
            "calculator.reaction_delay",
            "must be at most 10m",
        ));
    }
    Ok((schedule, delay))
}

/// `ecs.placement_backoff`: a preset name or the seconds after each failed attempt.
fn placement_backoff(c: &Checker, ecs: &EcsFile) -> Result<PlacementBackoff, ScenarioError> {
    match &ecs.placement_backoff {
        None => Ok(PlacementBackoff::default_schedule()),
        Some(BackoffFile::Preset(name)) => PlacementBackoff::preset(name).ok_or_else(|| {
            c.err(
                0,
                "ecs.placement_backoff",
                format!(
                    "unknown back-off {name:?} (none, default, slowest, or a list of durations)"
                ),
            )
        }),
        Some(BackoffFile::Schedule(list)) => {
            if list.iter().any(|s| s.0 == 0 || s.0 > 3600) {
                return Err(c.err(
                    0,
                    "ecs.placement_backoff",
                    "each pause must be between 1s and 1h",
                ));
            }
            Ok(PlacementBackoff {
                name: "custom",
                after_failures: list.iter().map(|s| s.0).collect(),
            })
        }
    }
}

fn alarm_settings(
    c: &Checker,
    step: u64,
    a: &Spanned<AlarmFile>,
    field: &str,
    (default_period, default_evaluation_periods): (u64, u32),
    (default_missing_data, default_cooldown): (MissingData, u64),
) -> Result<AlarmSettings, ScenarioError> {
    let l = line(a);
    let a = &a.value;
    let period = a.period.map_or(default_period, |p| p.0);
    if period < step || !period.is_multiple_of(step) {
        return Err(c.err(
            l,
            format!("{field}.period"),
            format!(
                "{} must be a multiple of the simulation step {}",
                Secs(period),
                Secs(step)
            ),
        ));
    }
    if ![10, 30].contains(&period) && !period.is_multiple_of(60) {
        return Err(c.err(
            l,
            format!("{field}.period"),
            "CloudWatch takes 10s, 30s or a multiple of 60s",
        ));
    }
    let evaluation_periods = a.evaluation_periods.unwrap_or(default_evaluation_periods);
    if evaluation_periods == 0 || evaluation_periods > 100 {
        return Err(c.err(
            l,
            format!("{field}.evaluation_periods"),
            "must be between 1 and 100",
        ));
    }
    if let Some(m) = a.datapoints_to_alarm
        && (m == 0 || m > evaluation_periods)
    {
        return Err(c.err(
            l,
            format!("{field}.datapoints_to_alarm"),
            format!("must be between 1 and evaluation_periods ({evaluation_periods})"),
        ));
    }
    if let Some(t) = a.threshold
        && !t.is_finite()
    {
        return Err(c.err(l, format!("{field}.threshold"), "must be a finite number"));
    }
    Ok(AlarmSettings {
        period,
        evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm,
        statistic: a.statistic,
        comparison: a.comparison,
        threshold: a.threshold,
        missing_data: a.missing_data.unwrap_or(default_missing_data),
        cooldown: a.cooldown.map_or(default_cooldown, |s| s.0),
        warmup: a.warmup.map(|s| s.0),
    })
}
