//! Scenario files for `ecs-capacity simulate`: YAML or JSON (JSON is read as YAML), checked
//! field by field. Every error names the line and the field.
//!
//! The format is documented in the README; the two embedded scenarios are complete examples.

use std::collections::BTreeMap;

use capacity_core::{ScalePolicy, TaskShape};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use thiserror::Error;

use crate::duration::Secs;

/// The book's chapter 12 walk-through: one t2.micro, a service going 1 → 2 → 1.
pub const BOOK: &str = include_str!("../scenarios/book.yaml");
/// A day of diurnal load on mixed instance sizes, with a spike and a rolling deployment.
pub const DIURNAL: &str = include_str!("../scenarios/diurnal.yaml");

/// The embedded scenarios by name.
pub const EMBEDDED: [(&str, &str); 2] = [("book", BOOK), ("diurnal", DIURNAL)];

/// Why a scenario cannot be used.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}{}: {field}: {message}", at_line(*.line))]
    Invalid {
        file: String,
        line: u64,
        field: String,
        message: String,
    },
}

fn at_line(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

// ---------------------------------------------------------------------------------------
// The file format, as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seed")]
    seed: u64,
    duration: Spanned<Secs>,
    #[serde(default = "default_step")]
    step: Spanned<Secs>,
    instance_types: Spanned<BTreeMap<String, Spanned<InstanceTypeFile>>>,
    asg: Spanned<AsgFile>,
    #[serde(default)]
    ecs: EcsFile,
    services: Spanned<Vec<Spanned<ServiceFile>>>,
    #[serde(default = "default_unspanned")]
    scaling: Spanned<ScalingFile>,
    #[serde(default = "default_unspanned")]
    calculator: Spanned<CalculatorFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CalculatorFile {
    /// Also run on a schedule (an EventBridge rate rule); `0` for events only. Default 1m.
    schedule: Option<Secs>,
}

fn default_seed() -> u64 {
    1
}
fn default_step() -> Spanned<Secs> {
    unspanned(Secs(10))
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(value, Location::UNKNOWN, Location::UNKNOWN)
}

fn default_unspanned<T: Default>() -> Spanned<T> {
    unspanned(T::default())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceTypeFile {
    cpu: u32,
    memory: u32,
    #[serde(default)]
    gpus: u32,
    max_enis: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AsgFile {
    min: u32,
    max: u32,
    desired: u32,
    instance_types: Vec<Spanned<String>>,
    #[serde(default = "default_launch_delay")]
    launch_delay: Secs,
    #[serde(default)]
    lifecycle_hook: Option<HookFile>,
}

fn default_launch_delay() -> Secs {
    Secs::minutes(3)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookFile {
    #[serde(default = "default_hook_timeout")]
    timeout: Secs,
}

fn default_hook_timeout() -> Secs {
    Secs::minutes(60)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EcsFile {
    #[serde(default)]
    strategy: Strategy,
    #[serde(default)]
    task_start: Option<Secs>,
    #[serde(default)]
    task_stop: Option<Secs>,
}

/// The placement strategy of the simulated ECS scheduler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Fill the instance with the least free memory first.
    #[default]
    Binpack,
    /// Spread each service's tasks across instances.
    Spread,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    name: String,
    task: Spanned<TaskFile>,
    desired: u32,
    #[serde(default = "default_min_healthy")]
    minimum_healthy_percent: u32,
    #[serde(default = "default_max_percent")]
    maximum_percent: u32,
    #[serde(default)]
    changes: Vec<Spanned<ChangeFile>>,
}

fn default_min_healthy() -> u32 {
    100
}
fn default_max_percent() -> u32 {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    #[serde(default)]
    cpu: u32,
    #[serde(default)]
    memory: u32,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    udp_ports: Vec<u16>,
    #[serde(default)]
    gpus: u32,
    #[serde(default)]
    awsvpc: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeFile {
    at: Secs,
    desired: Option<u32>,
    ramp_to: Option<u32>,
    until: Option<Secs>,
    deploy: Option<Spanned<TaskFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScalingFile {
    #[serde(default)]
    policy: PolicyKind,
    #[serde(default = "default_headroom")]
    headroom: u32,
    #[serde(default = "default_unspanned")]
    scale_out: Spanned<AlarmFile>,
    #[serde(default = "default_unspanned")]
    scale_in: Spanned<AlarmFile>,
    #[serde(default)]
    flap_window: Option<Secs>,
}

fn default_headroom() -> u32 {
    1
}

impl Default for ScalingFile {
    fn default() -> Self {
        ScalingFile {
            policy: PolicyKind::default(),
            headroom: default_headroom(),
            scale_out: default_unspanned(),
            scale_in: default_unspanned(),
            flap_window: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AlarmFile {
    period: Option<Secs>,
    evaluation_periods: Option<u32>,
    datapoints_to_alarm: Option<u32>,
    statistic: Option<Statistic>,
    comparison: Option<Comparison>,
    threshold: Option<f64>,
    missing_data: Option<MissingData>,
    cooldown: Option<Secs>,
    warmup: Option<Secs>,
}

// ---------------------------------------------------------------------------------------
// The validated model the simulator runs.

/// Which scale-out policy the simulated Auto Scaling group has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// The book: alarm on ContainerCapacity below the headroom, simple policy +1, cooldown.
    #[default]
    Book,
    /// Alarm on HostsToAdd above 0, step policy adding that many hosts, instance warmup;
    /// HostsToAdd as capacity-calculator publishes it (hosts to restore the headroom).
    HostsToAdd,
    /// What-if: as `hosts-to-add`, but HostsToAdd also sizes for the tasks the services
    /// could not place (each counted as one worst-case task). Not what the calculator does.
    HostsToAddPending,
}

impl PolicyKind {
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Book => "book ±1",
            PolicyKind::HostsToAdd => "hosts-to-add",
            PolicyKind::HostsToAddPending => "hosts-to-add+pending",
        }
    }
}

/// How CloudWatch aggregates the datapoints of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Statistic {
    Minimum,
    Maximum,
    Average,
}

/// The alarm's comparison operator (CloudWatch's names, or the symbols).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Comparison {
    #[serde(rename = "GreaterThanThreshold", alias = ">")]
    Greater,
    #[serde(rename = "GreaterThanOrEqualToThreshold", alias = ">=")]
    GreaterOrEqual,
    #[serde(rename = "LessThanThreshold", alias = "<")]
    Less,
    #[serde(rename = "LessThanOrEqualToThreshold", alias = "<=")]
    LessOrEqual,
}

impl Comparison {
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Greater => value > threshold,
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::Less => value < threshold,
            Comparison::LessOrEqual => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }
}

/// CloudWatch's TreatMissingData.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    /// Keep the current state.
    Ignore,
    /// Missing: INSUFFICIENT_DATA when every period of the window is missing.
    Missing,
    Breaching,
    NotBreaching,
}

/// The metric an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ContainerCapacity,
    IdleHostCapacity,
    HostsToAdd,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::ContainerCapacity => "ContainerCapacity",
            Metric::IdleHostCapacity => "IdleHostCapacity",
            Metric::HostsToAdd => "HostsToAdd",
        }
    }
}

/// A CloudWatch alarm with the scaling policy it triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: &'static str,
    pub metric: Metric,
    pub period: u64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub statistic: Statistic,
    pub comparison: Comparison,
    pub threshold: f64,
    pub missing_data: MissingData,
    pub action: Action,
}

/// What an alarm in ALARM does to the Auto Scaling group's desired capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// A simple scaling policy: change by `adjustment`, then ignore alarms for `cooldown`.
    Simple { adjustment: i64, cooldown: u64 },
    /// A step policy adding as many hosts as the breaching metric value (HostsToAdd), with
    /// instances warming up for `warmup` counted as already added.
    StepByMetric { warmup: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    pub name: String,
    pub cpu: u32,
    pub memory_mib: u32,
    pub gpus: u32,
    pub max_enis: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Asg {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Indexes into [`Scenario::instance_types`], launched in turn.
    pub launch_types: Vec<usize>,
    pub launch_delay: u64,
    /// The termination lifecycle hook's timeout; `None`: no hook, instances die at once.
    pub hook_timeout: Option<u64>,
}

/// What happens to a service's desired count or task definition.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Step(u32),
    Ramp { to: u32, until: u64 },
    Deploy(TaskShape),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: u64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub shape: TaskShape,
    pub desired: u32,
    pub minimum_healthy_percent: u32,
    pub maximum_percent: u32,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: u64,
    pub step: u64,
    pub instance_types: Vec<InstanceType>,
    pub asg: Asg,
    pub strategy: Strategy,
    pub task_start: u64,
    pub task_stop: u64,
    pub services: Vec<Service>,
    pub policy: PolicyKind,
    pub headroom: ScalePolicy,
    pub scale_out: Alarm,
    pub scale_in: Alarm,
    pub flap_window: u64,
    /// The calculator also runs every this many seconds (0: on container instance events only).
    pub calculator_schedule: u64,
    /// The settings as written, so that `with_policy` can rebuild the alarms.
    scaling: ScalingSettings,
}

#[derive(Debug, Clone, PartialEq)]
struct ScalingSettings {
    out: AlarmSettings,
    r#in: AlarmSettings,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct AlarmSettings {
    period: u64,
    evaluation_periods: u32,
    datapoints_to_alarm: Option<u32>,
    statistic: Option<Statistic>,
    comparison: Option<Comparison>,
    threshold: Option<f64>,
    missing_data: MissingData,
    cooldown: u64,
    warmup: Option<u64>,
}

impl Scenario {
    /// The same scenario with another scale-out policy (for `--compare`).
    pub fn with_policy(&self, policy: PolicyKind) -> Scenario {
        let mut s = self.clone();
        s.policy = policy;
        s.scale_out = scale_out_alarm(policy, s.headroom, &s.scaling.out, s.asg.launch_delay);
        s
    }
}

fn scale_out_alarm(
    policy: PolicyKind,
    headroom: ScalePolicy,
    a: &AlarmSettings,
    launch_delay: u64,
) -> Alarm {
    let datapoints_to_alarm = a.datapoints_to_alarm.unwrap_or(a.evaluation_periods);
    match policy {
        PolicyKind::Book => Alarm {
            name: "scale-out",
            metric: Metric::ContainerCapacity,
            period: a.period,
            evaluation_periods: a.evaluation_periods,
            datapoints_to_alarm,
            statistic: a.statistic.unwrap_or(Statistic::Minimum),
            comparison: a.comparison.unwrap_or(Comparison::Less),
            threshold: a.threshold.unwrap_or(f64::from(headroom.headroom())),
            missing_data: a.missing_data,
            action: Action::Simple {
                adjustment: 1,
                cooldown: a.cooldown,
            },
        },
        PolicyKind::HostsToAdd | PolicyKind::HostsToAddPending => Alarm {
            name: "scale-out",
            metric: Metric::HostsToAdd,
            period: a.period,
            evaluation_periods: a.evaluation_periods,
            datapoints_to_alarm,
            // The alarm watches another metric, so the book's comparison and threshold
            // (on ContainerCapacity) do not carry over: HostsToAdd > 0, worst value.
            statistic: Statistic::Maximum,
            comparison: Comparison::Greater,
            threshold: 0.0,
            missing_data: a.missing_data,
            action: Action::StepByMetric {
                warmup: a.warmup.unwrap_or(launch_delay + 60),
            },
        },
    }
}

// ---------------------------------------------------------------------------------------
// Parsing and validation.

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
    let raw: ScenarioFile = serde_saphyr::from_str(text).map_err(|e| {
        let message = e.to_string();
        ScenarioError::Syntax {
            file: file.to_owned(),
            message: message
                .strip_prefix("error: ")
                .unwrap_or(&message)
                .to_owned(),
        }
    })?;
    let c = Checker { file };

    let step = raw.step.value.0;
    if step == 0 || step > 3600 {
        return Err(c.err(line(&raw.step), "step", "must be between 1s and 1h"));
    }
    let duration = raw.duration.value.0;
    if duration == 0 || duration > 31 * 86_400 {
        return Err(c.err(
            line(&raw.duration),
            "duration",
            "must be between 1s and 31 days",
        ));
    }
    if !duration.is_multiple_of(step) {
        return Err(c.err(
            line(&raw.duration),
            "duration",
            format!(
                "{} is not a multiple of step {}",
                Secs(duration),
                Secs(step)
            ),
        ));
    }

    let mut instance_types = Vec::new();
    for (name, spec) in &raw.instance_types.value {
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
            line(&raw.instance_types),
            "instance_types",
            "needs at least one instance type",
        ));
    }

    let asg = &raw.asg.value;
    let asg_line = line(&raw.asg);
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

    let task_start = raw.ecs.task_start.map_or(30, |s| s.0);
    let task_stop = raw.ecs.task_stop.map_or(30, |s| s.0);

    if raw.services.value.is_empty() {
        return Err(c.err(
            line(&raw.services),
            "services",
            "needs at least one service",
        ));
    }
    let mut services = Vec::new();
    for (i, s) in raw.services.value.iter().enumerate() {
        let svc_line = line(s);
        let s = &s.value;
        let base = format!("services[{i}]");
        if services.iter().any(|o: &Service| o.name == s.name) {
            return Err(c.err(
                svc_line,
                format!("{base}.name"),
                format!("service {:?} is defined twice", s.name),
            ));
        }
        let shape = task_shape(
            &c,
            &instance_types,
            line(&s.task),
            &format!("{base}.task"),
            &s.name,
            1,
            &s.task.value,
        )?;
        if s.maximum_percent < 100 || s.maximum_percent > 400 {
            return Err(c.err(
                svc_line,
                format!("{base}.maximum_percent"),
                "must be between 100 and 400",
            ));
        }
        if s.minimum_healthy_percent > 100 {
            return Err(c.err(
                svc_line,
                format!("{base}.minimum_healthy_percent"),
                "must be between 0 and 100",
            ));
        }
        let mut changes = Vec::new();
        let mut revision = 1;
        let mut last_at = 0;
        for (j, ch) in s.changes.iter().enumerate() {
            let ch_line = line(ch);
            let ch = &ch.value;
            let field = format!("{base}.changes[{j}]");
            if ch.at.0 > duration {
                return Err(c.err(
                    ch_line,
                    format!("{field}.at"),
                    format!("{} is after the end of the scenario", ch.at),
                ));
            }
            if ch.at.0 < last_at {
                return Err(c.err(
                    ch_line,
                    format!("{field}.at"),
                    "changes must be in time order",
                ));
            }
            last_at = ch.at.0;
            let kind = match (ch.desired, ch.ramp_to, &ch.deploy) {
                (Some(d), None, None) => {
                    if ch.until.is_some() {
                        return Err(c.err(
                            ch_line,
                            format!("{field}.until"),
                            "only a ramp (ramp_to) has an end",
                        ));
                    }
                    ChangeKind::Step(d)
                }
                (None, Some(to), None) => {
                    let until = ch.until.ok_or_else(|| {
                        c.err(
                            ch_line,
                            format!("{field}.until"),
                            "a ramp needs the time it ends",
                        )
                    })?;
                    if until.0 <= ch.at.0 || until.0 > duration {
                        return Err(c.err(
                            ch_line,
                            format!("{field}.until"),
                            "must be after `at` and within the scenario",
                        ));
                    }
                    last_at = until.0;
                    ChangeKind::Ramp { to, until: until.0 }
                }
                (None, None, Some(task)) => {
                    revision += 1;
                    ChangeKind::Deploy(task_shape(
                        &c,
                        &instance_types,
                        line(task),
                        &format!("{field}.deploy"),
                        &s.name,
                        revision,
                        &task.value,
                    )?)
                }
                _ => {
                    return Err(c.err(
                        ch_line,
                        field,
                        "needs exactly one of desired, ramp_to (with until) or deploy",
                    ));
                }
            };
            changes.push(Change { at: ch.at.0, kind });
        }
        services.push(Service {
            name: s.name.clone(),
            shape,
            desired: s.desired,
            minimum_healthy_percent: s.minimum_healthy_percent,
            maximum_percent: s.maximum_percent,
            changes,
        });
    }

    let sc = &raw.scaling.value;
    let sc_line = line(&raw.scaling);
    let headroom = ScalePolicy::new(sc.headroom)
        .map_err(|e| c.err(sc_line, "scaling.headroom", e.to_string()))?;
    let out = alarm_settings(&c, step, &sc.scale_out, "scaling.scale_out", 1)?;
    let r#in = alarm_settings(&c, step, &sc.scale_in, "scaling.scale_in", 5)?;
    if sc.scale_in.value.warmup.is_some() {
        return Err(c.err(
            line(&sc.scale_in),
            "scaling.scale_in.warmup",
            "only the scale-out step policy has an instance warmup",
        ));
    }
    let scale_in = Alarm {
        name: "scale-in",
        metric: Metric::IdleHostCapacity,
        period: r#in.period,
        evaluation_periods: r#in.evaluation_periods,
        datapoints_to_alarm: r#in.datapoints_to_alarm.unwrap_or(r#in.evaluation_periods),
        statistic: r#in.statistic.unwrap_or(Statistic::Minimum),
        comparison: r#in.comparison.unwrap_or(Comparison::Greater),
        threshold: r#in.threshold.unwrap_or(1.0),
        missing_data: r#in.missing_data,
        action: Action::Simple {
            adjustment: -1,
            cooldown: r#in.cooldown,
        },
    };
    let calculator_schedule = raw.calculator.value.schedule.map_or(60, |s| s.0);
    if !calculator_schedule.is_multiple_of(step) {
        return Err(c.err(
            line(&raw.calculator),
            "calculator.schedule",
            format!(
                "{} must be a multiple of the simulation step {}",
                Secs(calculator_schedule),
                Secs(step)
            ),
        ));
    }
    let launch_delay = asg.launch_delay.0;
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        duration,
        step,
        instance_types,
        asg: Asg {
            min: asg.min,
            max: asg.max,
            desired: asg.desired,
            launch_types,
            launch_delay,
            hook_timeout: asg.lifecycle_hook.as_ref().map(|h| h.timeout.0),
        },
        strategy: raw.ecs.strategy,
        task_start,
        task_stop,
        services,
        policy: sc.policy,
        headroom,
        scale_out: scale_out_alarm(sc.policy, headroom, &out, launch_delay),
        scale_in,
        flap_window: sc.flap_window.map_or(900, |s| s.0),
        calculator_schedule,
        scaling: ScalingSettings { out, r#in },
    })
}

fn alarm_settings(
    c: &Checker,
    step: u64,
    a: &Spanned<AlarmFile>,
    field: &str,
    default_evaluation_periods: u32,
) -> Result<AlarmSettings, ScenarioError> {
    let l = line(a);
    let a = &a.value;
    let period = a.period.map_or(60, |p| p.0);
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
        missing_data: a.missing_data.unwrap_or(MissingData::Ignore),
        cooldown: a.cooldown.map_or(300, |s| s.0),
        warmup: a.warmup.map(|s| s.0),
    })
}

fn task_shape(
    c: &Checker,
    types: &[InstanceType],
    line: u64,
    field: &str,
    service: &str,
    revision: u32,
    t: &TaskFile,
) -> Result<TaskShape, ScenarioError> {
    let fits = |ty: &InstanceType| {
        ty.cpu >= t.cpu
            && ty.memory_mib >= t.memory
            && ty.gpus >= t.gpus
            && (!t.awsvpc || ty.max_enis.is_none_or(|m| m >= 2))
    };
    if !types.iter().any(fits) {
        return Err(c.err(
            line,
            field,
            format!(
                "{} CPU units / {} MiB / {} GPU(s){} fits on no instance type of the scenario",
                t.cpu,
                t.memory,
                t.gpus,
                if t.awsvpc { " / 1 ENI" } else { "" }
            ),
        ));
    }
    if t.cpu == 0 && t.memory == 0 {
        return Err(c.err(
            line,
            field,
            "a task must reserve CPU units or memory (cpu, memory)",
        ));
    }
    if let Some(p) = t.ports.iter().chain(&t.udp_ports).find(|p| **p == 0) {
        return Err(c.err(
            line,
            format!("{field}.ports"),
            format!("{p} is not a static host port (leave dynamic ports out)"),
        ));
    }
    if t.awsvpc && !(t.ports.is_empty() && t.udp_ports.is_empty()) {
        return Err(c.err(
            line,
            format!("{field}.ports"),
            "awsvpc tasks take an ENI, not host ports",
        ));
    }
    let mut shape = TaskShape::new(format!("{service}:{revision}"), t.cpu, t.memory);
    shape.gpus = t.gpus;
    shape.ports_tcp.extend(t.ports.iter().copied());
    shape.ports_udp.extend(t.udp_ports.iter().copied());
    shape.awsvpc = t.awsvpc;
    Ok(shape)
}

/// Loads a scenario: the name of an embedded one, or a file path.
pub fn load(name_or_path: &str) -> Result<Scenario, LoadError> {
    if let Some((name, text)) = EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        return Ok(parse(&format!("<embedded {name}>"), text)?);
    }
    let text = std::fs::read_to_string(name_or_path).map_err(|source| LoadError::Read {
        file: name_or_path.to_owned(),
        source,
    })?;
    Ok(parse(name_or_path, &text)?)
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read scenario {file} (embedded scenarios: book, diurnal)")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}
