//! Unit tests of the alarms' evaluation and the seeded random picks.

use super::alarms::aggregate;
use super::*;
use crate::scenario::{Action, Alarm, Comparison, Metric, MissingData, Scenario, Statistic, parse};

fn scale_in_alarm(
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
    missing: MissingData,
) -> Alarm {
    Alarm {
        name: "scale-in",
        metric: Metric::IdleHostCapacity,
        period: 60,
        evaluation_periods,
        datapoints_to_alarm,
        statistic: Statistic::Minimum,
        comparison: Comparison::Greater,
        threshold: 1.0,
        missing_data: missing,
        action: Action::Simple {
            adjustment: -1,
            cooldown: 300,
        },
    }
}

/// A simulation at `t` with IdleHostCapacity datapoints `(t, value)`.
fn with_points<'a>(sc: &'a Scenario, t: u64, points: &[(u64, f64)]) -> Sim<'a> {
    let mut sim = Sim::new(sc);
    sim.t = t;
    sim.alarm_states = [AlarmState::Ok, AlarmState::Ok];
    sim.datapoints = points
        .iter()
        .map(|&(t, v)| Datapoint {
            t,
            container_capacity: 0.0,
            idle_host_capacity: v,
            hosts_to_add: 0.0,
            hosts_to_remove: 0.0,
        })
        .collect();
    sim
}

#[test]
fn statistics_aggregate_one_period() {
    let v = [1.5, 0.5, 1.0];
    assert_eq!(aggregate(Statistic::Minimum, &v), Some(0.5));
    assert_eq!(aggregate(Statistic::Maximum, &v), Some(1.5));
    assert_eq!(aggregate(Statistic::Average, &v), Some(1.0));
    assert_eq!(aggregate(Statistic::Minimum, &[]), None);
}

#[test]
fn the_minimum_of_a_period_decides_so_one_dip_keeps_the_alarm_ok() {
    let sc = parse("book", crate::scenario::BOOK).expect("valid");
    let alarm = scale_in_alarm(1, 1, MissingData::Ignore);
    // Period [60, 120): 1.5 then a dip to 1.0 → Minimum 1.0, not above 1.
    let sim = with_points(&sc, 120, &[(60, 1.5), (90, 1.0)]);
    assert_eq!(sim.evaluate(&alarm, 1), (AlarmState::Ok, Some(1.0)));
    // A datapoint at the boundary itself belongs to the next period.
    let sim = with_points(&sc, 120, &[(60, 1.5), (120, 1.0)]);
    assert_eq!(sim.evaluate(&alarm, 1), (AlarmState::Alarm, Some(1.5)));
}

#[test]
fn m_out_of_n_needs_m_breaching_periods() {
    let sc = parse("book", crate::scenario::BOOK).expect("valid");
    let alarm = scale_in_alarm(3, 2, MissingData::Ignore);
    let points = [(0, 1.5), (60, 0.5), (120, 1.5)];
    assert_eq!(
        with_points(&sc, 180, &points).evaluate(&alarm, 1).0,
        AlarmState::Alarm
    );
    let points = [(0, 0.5), (60, 0.5), (120, 1.5)];
    assert_eq!(
        with_points(&sc, 180, &points).evaluate(&alarm, 1).0,
        AlarmState::Ok
    );
}

#[test]
fn missing_data_follows_its_treatment() {
    let sc = parse("book", crate::scenario::BOOK).expect("valid");
    let state = |missing| {
        with_points(&sc, 300, &[])
            .evaluate(&scale_in_alarm(2, 2, missing), 1)
            .0
    };
    assert_eq!(
        state(MissingData::Ignore),
        AlarmState::Ok,
        "keeps its state"
    );
    assert_eq!(state(MissingData::Missing), AlarmState::InsufficientData);
    assert_eq!(state(MissingData::Breaching), AlarmState::Alarm);
    assert_eq!(state(MissingData::NotBreaching), AlarmState::Ok);
}

#[test]
fn the_same_seed_picks_the_same_instances() {
    let (mut a, mut b) = (Rng(7), Rng(7));
    let picks: Vec<usize> = (0..10).map(|_| a.below(5)).collect();
    assert_eq!(picks, (0..10).map(|_| b.below(5)).collect::<Vec<_>>());
    assert!(picks.iter().all(|p| *p < 5));
}
