//! CloudWatch alarms as the simulator models them: the metric, the statistic, the comparison,
//! TreatMissingData, and the scaling policy action an alarm in ALARM runs.

use serde::Deserialize;

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

impl MissingData {
    /// The alarm's `TreatMissingData` value, as a template writes it.
    pub fn cloudformation_name(self) -> &'static str {
        match self {
            MissingData::Ignore => "ignore",
            MissingData::Missing => "missing",
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
        }
    }
}

/// The metric an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ContainerCapacity,
    IdleHostCapacity,
    HostsToAdd,
    /// The consolidation plan's size (`hosts-to-add+consolidation` only).
    HostsToRemove,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::ContainerCapacity => "ContainerCapacity",
            Metric::IdleHostCapacity => "IdleHostCapacity",
            Metric::HostsToAdd => "HostsToAdd",
            Metric::HostsToRemove => "HostsToRemove",
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
    /// A step policy removing as many hosts as the breaching metric value (HostsToRemove)
    /// in one step; the chooser terminates the planned hosts.
    RemoveByMetric,
}
