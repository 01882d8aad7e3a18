//! The scenario file format, as written: what serde reads, with the defaults of omitted
//! fields. `parse` checks it and turns it into the model.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::alarm::{Comparison, MissingData, Statistic};
use super::model::Strategy;
use super::policy::{PolicyKind, Termination};
use crate::duration::Secs;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    pub(super) duration: Spanned<Secs>,
    #[serde(default = "default_step")]
    pub(super) step: Spanned<Secs>,
    pub(super) instance_types: Spanned<BTreeMap<String, Spanned<InstanceTypeFile>>>,
    pub(super) asg: Spanned<AsgFile>,
    #[serde(default)]
    pub(super) ecs: EcsFile,
    pub(super) services: Spanned<Vec<Spanned<ServiceFile>>>,
    /// Standalone jobs: batches of tasks started by RunTask that run to completion.
    #[serde(default)]
    pub(super) jobs: Vec<Spanned<JobFile>>,
    #[serde(default = "default_unspanned")]
    pub(super) scaling: Spanned<ScalingFile>,
    #[serde(default = "default_unspanned")]
    pub(super) calculator: Spanned<CalculatorFile>,
    #[serde(default = "default_unspanned")]
    pub(super) capacity_provider: Spanned<CapacityProviderFile>,
}

/// The `capacity-provider` policy's managed scaling settings, as ECS's `ManagedScaling`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CapacityProviderFile {
    /// Percent, 1–100 (default 100).
    pub(super) target_capacity: Option<u32>,
    /// Default 1.
    pub(super) minimum_scaling_step_size: Option<u32>,
    /// Default 10000.
    pub(super) maximum_scaling_step_size: Option<u32>,
    /// Default: the group's launch delay.
    pub(super) instance_warmup_period: Option<Secs>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CalculatorFile {
    /// Also run on a schedule (an EventBridge rate rule); `0` for events only. Default: the
    /// template's (1m).
    pub(super) schedule: Option<Secs>,
    /// Trigger to datapoint visible to the alarm. Default 20s.
    pub(super) reaction_delay: Option<Secs>,
}

/// `ecs.placement_backoff`: `none`, `default`, `slowest` or a list of pauses.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum BackoffFile {
    Schedule(Vec<Secs>),
    Preset(String),
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
pub(super) struct InstanceTypeFile {
    pub(super) cpu: u32,
    pub(super) memory: u32,
    #[serde(default)]
    pub(super) gpus: u32,
    pub(super) max_enis: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AsgFile {
    pub(super) min: u32,
    pub(super) max: u32,
    pub(super) desired: u32,
    pub(super) instance_types: Vec<Spanned<String>>,
    #[serde(default = "default_launch_delay")]
    pub(super) launch_delay: Secs,
    #[serde(default)]
    pub(super) lifecycle_hook: Option<HookFile>,
    /// How the group picks instances on a scale-in (`default` or `chooser`); unset: the
    /// policy's own.
    #[serde(default)]
    pub(super) termination: Option<Termination>,
    /// The group's Availability Zones; unset: three (`sim-1a`, `sim-1b`, `sim-1c`).
    #[serde(default)]
    pub(super) zones: Option<Spanned<Vec<String>>>,
    /// Container instances of the cluster that the group does not own (registered from
    /// elsewhere), of the first instance type, spread over the zones.
    #[serde(default)]
    pub(super) outside_group: u32,
    /// `round-robin` (the types in turn; default) or `prioritized` (always the first).
    #[serde(default)]
    pub(super) launch_order: super::model::LaunchOrderSetting,
}

fn default_launch_delay() -> Secs {
    Secs::minutes(3)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HookFile {
    #[serde(default = "default_hook_timeout")]
    pub(super) timeout: Secs,
}

fn default_hook_timeout() -> Secs {
    Secs::minutes(60)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct EcsFile {
    #[serde(default)]
    pub(super) strategy: Strategy,
    #[serde(default)]
    pub(super) task_start: Option<Secs>,
    #[serde(default)]
    pub(super) task_stop: Option<Secs>,
    #[serde(default)]
    pub(super) placement_backoff: Option<BackoffFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceFile {
    pub(super) name: String,
    pub(super) task: Spanned<TaskFile>,
    /// Tasks wanted (a DAEMON service runs one on every instance instead).
    #[serde(default)]
    pub(super) desired: u32,
    /// `schedulingStrategy: DAEMON`.
    #[serde(default)]
    pub(super) daemon: bool,
    /// Its placement strategy spreads by `attribute:ecs.availability-zone` first.
    #[serde(default)]
    pub(super) spread_by_zone: bool,
    /// The `distinctInstance` constraint: at most one of its tasks per instance.
    #[serde(default)]
    pub(super) distinct_instance: bool,
    #[serde(default = "default_min_healthy")]
    pub(super) minimum_healthy_percent: u32,
    #[serde(default = "default_max_percent")]
    pub(super) maximum_percent: u32,
    #[serde(default)]
    pub(super) changes: Vec<Spanned<ChangeFile>>,
}

fn default_min_healthy() -> u32 {
    100
}
fn default_max_percent() -> u32 {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskFile {
    #[serde(default)]
    pub(super) cpu: u32,
    #[serde(default)]
    pub(super) memory: u32,
    #[serde(default)]
    pub(super) ports: Vec<u16>,
    #[serde(default)]
    pub(super) udp_ports: Vec<u16>,
    #[serde(default)]
    pub(super) gpus: u32,
    #[serde(default)]
    pub(super) awsvpc: bool,
}

/// A standalone job: its task, and when how many of them start and for how long they run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobFile {
    pub(super) name: String,
    pub(super) task: Spanned<TaskFile>,
    pub(super) runs: Vec<Spanned<JobRunFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobRunFile {
    pub(super) at: Secs,
    pub(super) count: u32,
    #[serde(rename = "for")]
    pub(super) duration: Secs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeFile {
    pub(super) at: Secs,
    pub(super) desired: Option<u32>,
    pub(super) ramp_to: Option<u32>,
    pub(super) until: Option<Secs>,
    pub(super) deploy: Option<Spanned<TaskFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScalingFile {
    #[serde(default)]
    pub(super) policy: PolicyKind,
    #[serde(default = "default_headroom")]
    pub(super) headroom: u32,
    #[serde(default = "default_unspanned")]
    pub(super) scale_out: Spanned<AlarmFile>,
    #[serde(default = "default_unspanned")]
    pub(super) scale_in: Spanned<AlarmFile>,
    #[serde(default)]
    pub(super) flap_window: Option<Secs>,
    /// What the headroom is counted in: `worst-case` (default), `service:NAME` or
    /// `CPU/MEMORY` (the calculator's `HEADROOM_TASK`).
    #[serde(default)]
    pub(super) headroom_task: Option<String>,
}

fn default_headroom() -> u32 {
    super::deployed::DEPLOYED.headroom
}

impl Default for ScalingFile {
    fn default() -> Self {
        ScalingFile {
            policy: PolicyKind::default(),
            headroom: default_headroom(),
            scale_out: default_unspanned(),
            scale_in: default_unspanned(),
            flap_window: None,
            headroom_task: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AlarmFile {
    pub(super) period: Option<Secs>,
    pub(super) evaluation_periods: Option<u32>,
    pub(super) datapoints_to_alarm: Option<u32>,
    pub(super) statistic: Option<Statistic>,
    pub(super) comparison: Option<Comparison>,
    pub(super) threshold: Option<f64>,
    pub(super) missing_data: Option<MissingData>,
    pub(super) cooldown: Option<Secs>,
    pub(super) warmup: Option<Secs>,
}
