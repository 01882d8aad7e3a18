//! Consolidation: the deployed `hosts-to-add` (issue #19: HostsToRemove, the chooser) and
//! `capacity-provider+consolidation` (issue #20: the calculator drains): what the plan
//! removes, what it keeps, the undo, and the disruption budget over whole scenarios.

use ecs_capacity::scenario::{self, PolicyKind, Scenario};
use ecs_capacity::sim::{self, Outcome};
use ecs_capacity::summary::Summary;

fn parse(text: &str) -> Scenario {
    scenario::parse("test.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn run(sc: &Scenario) -> Outcome {
    sim::run(sc, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn events(o: &Outcome) -> String {
    o.events
        .iter()
        .map(|e| format!("{} {}\n", e.t, e.what))
        .collect()
}

/// Three 4 vCPU / 8 GiB hosts in one zone (three zones of one host each would keep every
/// host: a zone keeps one at least) and one service spread one task per host: no host is
/// empty, so managed scaling alone never removes one. `task` is the task's CPU / MiB; `changes`
/// the service's changes.
fn spread(task: (u32, u32), changes: &str) -> Scenario {
    parse(&format!(
        "name: spread-thirds
description: three hosts, one task on each
seed: 3
duration: 50m
step: 10s
instance_types:
  m5.xlarge: {{ cpu: 4096, memory: 8192 }}
asg:
  min: 1
  max: 6
  desired: 3
  instance_types: [m5.xlarge]
  zones: [sim-1a]
  launch_delay: 3m
  lifecycle_hook: {{ timeout: 30m }}
ecs:
  strategy: spread
  task_start: 30s
  task_stop: 30s
services:
  - name: web
    task: {{ cpu: {}, memory: {} }}
    desired: 3
    changes: [{changes}]
scaling:
  policy: capacity-provider
",
        task.0, task.1
    ))
}

#[test]
fn capacity_provider_consolidation_drains_a_host_whose_tasks_fit_elsewhere() {
    let sc = spread((1024, 2048), "");
    let base = run(&sc.with_policy(PolicyKind::CapacityProvider));
    let o = run(&sc.with_policy(PolicyKind::CapacityProviderConsolidation));
    let log = events(&o);
    // Managed scaling alone never removes a host with a task on it.
    assert_eq!(base.samples.last().map(|s| s.instances), Some(3));
    assert!(
        log.contains("consolidation: calculator sets i-"),
        "no drain:\n{log}"
    );
    // The drained host's one task moved; once empty, managed scaling removed the host. Not
    // the next one: three quarter-host tasks on one host would leave one worst-case task
    // free, the headroom but not the margin (capacity-core's DEFAULT_MARGIN).
    let s = Summary::of(&o);
    assert_eq!(s.tasks_moved_by_consolidation, 1, "{log}");
    assert_eq!(o.samples.last().map(|s| s.instances), Some(2), "{log}");
    assert_eq!(o.samples.last().map(|s| s.running_tasks), Some(3), "{log}");
    assert!(log.contains("drained: lifecycle action completed"), "{log}");
    // Not before the stability window (300 s) after the first plan.
    let drain = o
        .events
        .iter()
        .find(|e| e.what.starts_with("consolidation: calculator sets"))
        .map(|e| e.t);
    assert!(drain.is_some_and(|t| t >= 300), "{log}");
    // Budget: 10 % of 3 hosts is 1: never two hosts drained at once.
    assert_eq!(s.hosts_draining_at_peak, 1);
    assert!(s.vcpu_hours < Summary::of(&base).vcpu_hours);
}

#[test]
fn hosts_to_add_removes_exactly_the_planned_host() {
    let sc = spread((1024, 2048), "");
    let o = run(&sc.with_policy(PolicyKind::HostsToAdd));
    let log = events(&o);
    assert!(
        log.contains("scale in (step policy, HostsToRemove 1): desired capacity 3 -> 2"),
        "{log}"
    );
    let s = Summary::of(&o);
    // The planned host's task was moved by the drain, down to the two hosts that hold the
    // three tasks with the headroom and the margin free.
    assert_eq!(s.tasks_moved_by_consolidation, 1, "{log}");
    assert_eq!(s.tasks_moved_by_scale_in, 1, "{log}");
    assert_eq!(o.samples.last().map(|s| s.instances), Some(2), "{log}");
    assert_eq!(s.hosts_draining_at_peak, 1, "{log}");
    assert_eq!(s.task_minutes_pending, 0.0, "{log}");
    // The 5-minute stability window, then one minute of HostsToRemove ≥ 1 (the alarm does not
    // wait a window of its own again).
    let scale_in = o.actions.iter().find(|a| a.to < a.from).map(|a| a.t);
    assert!(
        scale_in.is_some_and(|t| (360..600).contains(&t)),
        "{scale_in:?}\n{log}"
    );
}

#[test]
fn nothing_is_consolidated_when_the_tasks_do_not_fit_elsewhere() {
    // 3 vCPU / 6 GiB tasks: one per host, the other hosts have 1 vCPU left.
    let sc = spread((3072, 6144), "");
    for policy in [
        PolicyKind::CapacityProviderConsolidation,
        PolicyKind::HostsToAdd,
    ] {
        let o = run(&sc.with_policy(policy));
        let log = events(&o);
        let s = Summary::of(&o);
        assert_eq!(s.tasks_moved_by_consolidation, 0, "{}:\n{log}", o.policy);
        assert!(
            !log.contains("consolidation: calculator sets") && !log.contains("HostsToRemove 1)"),
            "{}:\n{log}",
            o.policy
        );
        assert!(o.samples.iter().all(|s| s.instances >= 3), "{log}");
    }
}

#[test]
fn the_undo_sets_a_drained_host_back_to_active_when_tasks_wait() {
    // The host is drained at 5m; at 7m the service needs all three hosts' room (12 tasks of
    // a quarter host): tasks wait, and the drained host, still in the group, comes back.
    let sc = spread((1024, 2048), "{ at: 7m, desired: 12 }");
    let o = run(&sc.with_policy(PolicyKind::CapacityProviderConsolidation));
    let log = events(&o);
    let drain = o
        .events
        .iter()
        .find(|e| e.what.starts_with("consolidation: calculator sets"))
        .map(|e| e.t)
        .unwrap_or_else(|| panic!("no drain:\n{log}"));
    assert!(drain < 7 * 60, "drained too late for the test:\n{log}");
    let undo = o
        .events
        .iter()
        .find(|e| e.what.contains("set back to ACTIVE"))
        .map(|e| e.t)
        .unwrap_or_else(|| panic!("no undo:\n{log}"));
    // At once: the step the tasks first wait.
    assert_eq!(undo, 7 * 60, "{log}");
    let s = Summary::of(&o);
    assert_eq!(s.consolidation_undone, 1);
    // The host was never removed: the three hosts hold the twelve tasks.
    assert!(o.samples.iter().all(|s| s.instances >= 3), "{log}");
    assert_eq!(o.samples.last().map(|s| s.running_tasks), Some(12), "{log}");
}

#[test]
fn the_disruption_budget_is_never_exceeded_over_whole_scenarios() {
    for name in ["fragmented", "diurnal"] {
        let sc = scenario::load(name).expect("embedded");
        for policy in [
            PolicyKind::CapacityProviderConsolidation,
            PolicyKind::HostsToAdd,
        ] {
            let o = run(&sc.with_policy(policy));
            let s = Summary::of(&o);
            // The test means something only if consolidation acted.
            assert!(s.tasks_moved_by_consolidation > 0, "{name} {}", o.policy);
            for sample in &o.samples {
                assert!(
                    sample.draining_instances <= sample.disruption_budget,
                    "{name} {}: {} hosts draining at {} > budget {}",
                    o.policy,
                    sample.draining_instances,
                    sample.t,
                    sample.disruption_budget
                );
            }
            assert_eq!(s.steps_over_budget, 0);
        }
    }
}
