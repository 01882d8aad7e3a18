//! Comparing at equal cost: the frontier (`--sweep`), the ideal floor, the sensitivity.

use ecs_capacity::scenario::{self, PolicyKind};
use ecs_capacity::sim::sweep::{self, HEADROOMS, TARGET_CAPACITIES};

#[test]
fn the_ideal_of_the_batch_is_its_reserved_cpu_on_the_fewest_hosts() {
    // m5.2xlarge (8192 CPU units, 31,600 MiB): CPU binds. 160 tasks of 1024 units for an
    // hour are 20 hosts (160 vCPU-hours), 120 for 40 minutes 15 hosts (80), the scheduler's 2
    // tasks of 512 units for 4 hours one vCPU (4): 244 vCPU-hours.
    let sc = scenario::load("batch").expect("embedded");
    assert_eq!(sweep::ideal_vcpu_hours(&sc), 244.0);
}

#[test]
fn the_frontier_runs_each_policy_across_its_spare_capacity() {
    let sc = scenario::load("batch").expect("embedded");
    let f = sweep::frontier(&sc).expect("runs");
    let settings: Vec<(String, String)> = f
        .runs
        .iter()
        .map(|r| (r.summary.policy.clone(), r.setting.clone()))
        .collect();
    let mut expected = vec![("book ±1".to_owned(), "headroom 1".to_owned())];
    expected.extend(
        TARGET_CAPACITIES
            .iter()
            .map(|t| ("capacity-provider".to_owned(), format!("target {t}"))),
    );
    expected.extend(
        HEADROOMS
            .iter()
            .map(|h| ("hosts-to-add".to_owned(), format!("headroom {h}"))),
    );
    assert_eq!(settings, expected);
    let vcpu = |policy: &str, setting: &str| {
        f.runs
            .iter()
            .find(|r| r.summary.policy == policy && r.setting == setting)
            .map(|r| r.summary.vcpu_hours)
            .expect("the run")
    };
    // Spare capacity costs: a lower target and a larger headroom spend more.
    assert!(vcpu("capacity-provider", "target 60") > vcpu("capacity-provider", "target 100"));
    assert!(vcpu("hosts-to-add", "headroom 16") > vcpu("hosts-to-add", "headroom 1"));
    // Every run that places every task in the end costs at least the ideal.
    for r in f.runs.iter().filter(|r| r.summary.policy != "book ±1") {
        assert!(
            r.summary.vcpu_hours >= f.ideal_vcpu_hours,
            "{} {}: {} below the ideal {}",
            r.summary.policy,
            r.setting,
            r.summary.vcpu_hours,
            f.ideal_vcpu_hours
        );
    }
}

#[test]
fn the_sweep_works_on_every_embedded_scenario() {
    for (name, _) in scenario::EMBEDDED {
        let sc = scenario::load(name).expect("embedded");
        let f = sweep::frontier(&sc).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(f.runs.len(), 1 + TARGET_CAPACITIES.len() + HEADROOMS.len());
        assert!(f.ideal_vcpu_hours > 0.0, "{name}");
        let svg = ecs_capacity::chart::render_frontier(name, &f).expect("drawn");
        assert!(
            svg.contains("ideal (") && svg.contains("headroom 16"),
            "{name}"
        );
    }
}

#[test]
fn the_slowest_back_off_never_shortens_the_wait() {
    let sc = scenario::load("deploy").expect("embedded");
    let s = sweep::sensitivity(&sc).expect("runs");
    let pending: Vec<f64> = s
        .backoff
        .iter()
        .map(|r| r.summary.task_minutes_pending)
        .collect();
    // [capacity-provider, none, default, slowest]
    assert_eq!(s.backoff.len(), 4);
    assert!(
        pending[1] <= pending[2] && pending[2] <= pending[3],
        "{pending:?}"
    );
    assert_eq!(
        s.backoff[0].summary.policy,
        PolicyKind::CapacityProvider.label()
    );
    assert!(
        s.backoff
            .iter()
            .skip(1)
            .all(|r| r.summary.policy == "hosts-to-add")
    );
    assert_eq!(s.reaction_delay.len(), 3);
}

#[test]
fn the_frontier_with_consolidation_adds_the_templates_other_modes_after_the_default_ones() {
    let sc = scenario::load("deploy").expect("embedded");
    let plain = sweep::frontier(&sc).expect("runs");
    let f = sweep::frontier_with(&sc, true).expect("runs");
    assert_eq!(f.runs.len(), plain.runs.len() + 1 + HEADROOMS.len());
    // The deployed policies' runs are the same runs.
    for (a, b) in plain.runs.iter().zip(&f.runs) {
        assert_eq!(a.summary, b.summary);
    }
    let added: Vec<(String, String)> = f.runs[plain.runs.len()..]
        .iter()
        .map(|r| (r.summary.policy.clone(), r.setting.clone()))
        .collect();
    let mut expected = vec![(
        PolicyKind::CapacityProviderConsolidation.label().to_owned(),
        "target 100".to_owned(),
    )];
    expected.extend(HEADROOMS.iter().map(|h| {
        (
            PolicyKind::HostsToAddMinusOne.label().to_owned(),
            format!("headroom {h}"),
        )
    }));
    assert_eq!(added, expected);
    // More headroom keeps more spare room: the plan removes less.
    let h2a: Vec<f64> = f
        .runs
        .iter()
        .filter(|r| r.summary.policy == PolicyKind::HostsToAdd.label())
        .map(|r| r.summary.vcpu_hours)
        .collect();
    assert!(h2a.first() < h2a.last(), "{h2a:?}");
}
