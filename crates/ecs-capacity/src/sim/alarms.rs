//! CloudWatch alarms and Auto Scaling policies: each alarm period, the alarms evaluate
//! their last periods' datapoints, and an alarm in ALARM runs its scaling policy on the
//! group's desired capacity (simple policy with cooldown, or step policy with warmup).

use super::{AlarmState, Event, InstState, ScaleAction, Sim};
use crate::scenario::{Action, Alarm, Metric, MissingData, Statistic};

impl Sim<'_> {
    pub(super) fn evaluate_alarms(&mut self) {
        // Only the alarms' windows are ever read: keep the datapoints bounded on long runs.
        let window = [&self.sc.scale_out, &self.sc.scale_in]
            .iter()
            .map(|a| a.period * u64::from(a.evaluation_periods))
            .max()
            .unwrap_or(0);
        let oldest = self.t.saturating_sub(window);
        self.datapoints.retain(|d| d.t >= oldest);
        for (index, alarm) in [&self.sc.scale_out, &self.sc.scale_in]
            .into_iter()
            .enumerate()
        {
            if self.t == 0 || !self.t.is_multiple_of(alarm.period) {
                continue;
            }
            let (state, latest) = self.evaluate(alarm, index);
            let previous = self
                .alarm_states
                .get(index)
                .copied()
                .unwrap_or(AlarmState::Ok);
            if state != previous {
                let value = latest.map_or("no data".to_owned(), |v| format!("{v:.2}"));
                self.events.push(Event {
                    t: self.t,
                    what: format!(
                        "alarm {} ({} {} {}): {} -> {} (last {value})",
                        alarm.name,
                        alarm.metric.name(),
                        alarm.comparison.symbol(),
                        alarm.threshold,
                        previous.as_str(),
                        state.as_str()
                    ),
                });
                if let Some(s) = self.alarm_states.get_mut(index) {
                    *s = state;
                }
            }
            // Alarms invoke Auto Scaling actions on every evaluation while in ALARM.
            if state == AlarmState::Alarm {
                self.act(alarm, latest.unwrap_or(0.0));
            }
        }
    }

    /// The alarm's new state over its last `evaluation_periods` periods, and the latest
    /// period's statistic.
    pub(super) fn evaluate(&self, alarm: &Alarm, index: usize) -> (AlarmState, Option<f64>) {
        let mut breaching = 0;
        let mut present = 0;
        let mut latest = None;
        for k in 0..alarm.evaluation_periods {
            let end = self.t.saturating_sub(u64::from(k) * alarm.period);
            let start = end.saturating_sub(alarm.period);
            let values: Vec<f64> = self
                .datapoints
                .iter()
                // A period is [start, end): datapoints of this very step count next period.
                .filter(|d| d.t >= start && d.t < end)
                .map(|d| match alarm.metric {
                    Metric::ContainerCapacity => d.container_capacity,
                    Metric::IdleHostCapacity => d.idle_host_capacity,
                    Metric::HostsToAdd => d.hosts_to_add,
                    Metric::HostsToRemove => d.hosts_to_remove,
                })
                .collect();
            let value = aggregate(alarm.statistic, &values);
            if k == 0 {
                latest = value;
            }
            match (value, alarm.missing_data) {
                (Some(v), _) => {
                    present += 1;
                    if alarm.comparison.breaches(v, alarm.threshold) {
                        breaching += 1;
                    }
                }
                (None, MissingData::Breaching) => {
                    present += 1;
                    breaching += 1;
                }
                (None, MissingData::NotBreaching) => present += 1,
                (None, MissingData::Ignore | MissingData::Missing) => {}
            }
        }
        let current = self
            .alarm_states
            .get(index)
            .copied()
            .unwrap_or(AlarmState::Ok);
        let state = if breaching >= alarm.datapoints_to_alarm {
            AlarmState::Alarm
        } else if present == 0 {
            match alarm.missing_data {
                MissingData::Missing => AlarmState::InsufficientData,
                _ => current,
            }
        } else {
            AlarmState::Ok
        };
        (state, latest)
    }

    fn act(&mut self, alarm: &Alarm, value: f64) {
        let t = self.t;
        let from = self.desired_capacity;
        let (min, max) = (self.sc.asg.min, self.sc.asg.max);
        let launching = self
            .instances
            .iter()
            .any(|i| matches!(i.state, InstState::Launching { .. }));
        let to = match alarm.action {
            Action::Simple {
                adjustment,
                cooldown,
            } => {
                if t < self.cooldown_until || (adjustment < 0 && launching) {
                    return;
                }
                let to = (i64::from(from) + adjustment).clamp(i64::from(min), i64::from(max));
                let to = u32::try_from(to).unwrap_or(from);
                if to != from {
                    self.cooldown_until = t + cooldown;
                }
                to
            }
            Action::StepByMetric { warmup } => {
                let warming = self
                    .instances
                    .iter()
                    .filter(|i| {
                        i.state != InstState::Terminated
                            && i.launched_at.is_some_and(|at| at + warmup > t)
                    })
                    .count() as u32;
                // The template's step policy (the same table).
                let adjustment = step_adjustment(value).min(self.sc.largest_step);
                let target = from.saturating_sub(warming).saturating_add(adjustment);
                if target <= from {
                    return;
                }
                target.min(max)
            }
            // The plan's size, removed in one step (the chooser picks the planned hosts); no
            // cooldown: it acts on every evaluation in ALARM.
            Action::RemoveByMetric => from.saturating_sub(remove_adjustment(value)).max(min),
        };
        if to == from {
            return;
        }
        self.desired_capacity = to;
        self.actions.push(ScaleAction { t, from, to });
        let how = match alarm.action {
            Action::Simple { adjustment, .. } => format!("simple policy {adjustment:+}"),
            Action::StepByMetric { .. } => format!("step policy, HostsToAdd {value}"),
            Action::RemoveByMetric => format!("step policy, HostsToRemove {value}"),
        };
        self.log(format!(
            "{} ({how}): desired capacity {from} -> {to}",
            if to > from { "scale out" } else { "scale in" }
        ));
    }
}

/// The scale-out step policy's step adjustments, as `infra/template.yaml` declares them:
/// `(smallest HostsToAdd of the step, hosts added)`, each step up to the next one's smallest
/// value, the last one open (in the template the bounds are relative to the alarm's
/// threshold of 1). Auto Scaling allows 20 steps per policy, so the policy adds exactly
/// HostsToAdd hosts up to 12 and rounds up beyond — at most a third more than asked, which
/// the scale-in side returns — so that a burst is met in one step, never a second round.
pub const HOSTS_TO_ADD_STEPS: [(u32, u32); 20] = [
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 6),
    (7, 7),
    (8, 8),
    (9, 9),
    (10, 10),
    (11, 11),
    (12, 12),
    (13, 16),
    (17, 20),
    (21, 25),
    (26, 32),
    (33, 40),
    (41, 50),
    (51, 64),
    (65, 80),
];

/// Hosts the step policy adds for a HostsToAdd value: the step whose range holds it; 0 below
/// 1 (the alarm does not breach).
pub fn step_adjustment(value: f64) -> u32 {
    HOSTS_TO_ADD_STEPS
        .iter()
        .rev()
        .find(|(smallest, _)| value >= f64::from(*smallest))
        .map_or(0, |(_, add)| *add)
}

/// Hosts ConsolidationScaleInPolicy removes for a HostsToRemove value, as the template's
/// step table declares it: a value in [n, n+1) removes n for n = 1..19, 20 or more removes 20
/// (Auto Scaling allows 20 steps), never more than the plan asked; 0 below 1.
pub fn remove_adjustment(value: f64) -> u32 {
    if value < 1.0 {
        return 0;
    }
    (value.floor() as u32).min(crate::scenario::deployed::DEPLOYED.largest_removal)
}

pub(super) fn aggregate(statistic: Statistic, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match statistic {
        Statistic::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
        Statistic::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Statistic::Average => values.iter().sum::<f64>() / values.len() as f64,
    })
}
