//! ECS's service throttle logic and the reaction delay, on their documented cases
//! (sources in `ecs_capacity::scenario::PlacementBackoff`).

use ecs_capacity::scenario::{self, PlacementBackoff, PolicyKind, Scenario};
use ecs_capacity::sim::{self, Outcome};

/// One host that holds one task, empty; the service wants two at 1m: one is placed, the
/// other waits for the host hosts-to-add adds, which registers after a 1-minute launch delay.
/// `BACKOFF` and `DELAY` are filled in.
const ONE_MORE: &str = r#"
name: one-more
duration: 40m
instance_types:
  m: { cpu: 1024, memory: 1000 }
asg: { min: 1, max: 2, desired: 1, instance_types: [m], launch_delay: 1m }
ecs: { task_start: 10s, placement_backoff: BACKOFF }
services:
  - name: app
    task: { cpu: 1024, memory: 1000 }
    desired: 0
    changes:
      - { at: 1m, desired: 2 }
      - { at: 30m, deploy: { cpu: 1024, memory: 1000 } }
scaling: { policy: hosts-to-add }
calculator: { reaction_delay: DELAY }
"#;

fn scenario(backoff: &str, delay: &str) -> Scenario {
    let text = ONE_MORE.replace("BACKOFF", backoff).replace("DELAY", delay);
    scenario::parse("one-more.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn run(sc: &Scenario) -> Outcome {
    sim::run(sc, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// The wait of the second task (the first was placed at once).
fn second_wait(o: &Outcome) -> u64 {
    *o.placement_waits
        .get(1)
        .unwrap_or_else(|| panic!("{:#?}", o.events))
}

fn registered_at(o: &Outcome) -> u64 {
    o.events
        .iter()
        .find(|e| e.what.contains("registered ACTIVE"))
        .map(|e| e.t)
        .unwrap_or_else(|| panic!("no host registered: {:#?}", o.events))
}

#[test]
fn the_documented_back_off_schedules() {
    // [REPRO]: about 50 s of failures, then about 5 minutes.
    let d = PlacementBackoff::default_schedule();
    let quick: u64 = (1..=4).map(|n| d.delay_after(n)).sum();
    assert_eq!((quick, d.delay_after(5)), (40, 300));
    // [THROTTLE]: increased up to 15 minutes, and stays there.
    assert_eq!(d.delay_after(7), 900);
    assert_eq!(d.delay_after(50), 900);
    // [AGENT]: 15 minutes after 3 failed attempts; then today's 27-minute maximum.
    let s = PlacementBackoff::slowest();
    assert_eq!((s.delay_after(3), s.delay_after(9)), (900, 1620));
    assert_eq!(PlacementBackoff::none().delay_after(3), 0);
}

#[test]
fn without_a_throttle_the_task_is_placed_when_the_new_host_registers() {
    let o = run(&scenario("none", "0s"));
    assert_eq!(60 + second_wait(&o), registered_at(&o), "{:#?}", o.events);
}

#[test]
fn the_default_back_off_waits_five_minutes_after_fifty_seconds_of_failures() {
    let o = run(&scenario("default", "0s"));
    // Failed attempts at 60, 70, 80, 90 and 100 s; the next one at 100 + 300 s, although the
    // host registered long before.
    assert!(registered_at(&o) < 400, "{:#?}", o.events);
    assert_eq!(second_wait(&o), 400 - 60);
}

#[test]
fn the_slowest_back_off_waits_fifteen_minutes_after_three_failures() {
    let o = run(&scenario("slowest", "0s"));
    // Failed attempts at 60, 70 and 80 s; the next at 80 + 900 s.
    assert_eq!(second_wait(&o), 980 - 60);
}

#[test]
fn a_new_task_definition_ends_the_throttle_at_once() {
    // The slowest back-off holds the waiting task until 980 s; a deployment at 5m is
    // attempted at once, onto the host that registered meanwhile.
    let mut sc = scenario("slowest", "0s");
    if let Some(deploy) = sc.services.first_mut().and_then(|s| s.changes.get_mut(1)) {
        deploy.at = 300;
    }
    let o = run(&sc);
    assert!(registered_at(&o) < 300);
    assert_eq!(second_wait(&o), 300 - 60, "{:#?}", o.events);
}

#[test]
fn the_reaction_delay_postpones_the_scale_out_by_as_much() {
    let fast = run(&scenario("none", "0s").with_policy(PolicyKind::HostsToAdd));
    let slow = run(&scenario("none", "30s"));
    let first = |o: &Outcome| o.actions.first().map(|a| a.t).expect("a scale-out");
    assert_eq!(first(&slow), first(&fast) + 30);
}

#[test]
fn a_capacity_providers_task_waits_in_provisioning_and_is_placed_when_the_host_registers() {
    // The same world under managed scaling: no throttle, whatever the back-off says.
    let o = run(&scenario("slowest", "0s").with_policy(PolicyKind::CapacityProvider));
    assert_eq!(60 + second_wait(&o), registered_at(&o), "{:#?}", o.events);
}
