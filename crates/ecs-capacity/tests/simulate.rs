//! Known behaviours of the scaling loop, reproduced by the simulator.

use ecs_capacity::scenario::{self, PolicyKind, Scenario, Termination};
use ecs_capacity::sim::{self, Outcome};
use ecs_capacity::summary::Summary;

fn parse(text: &str) -> Scenario {
    scenario::parse("test.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn run(sc: &Scenario) -> Outcome {
    sim::run(sc, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn book() -> Scenario {
    parse(scenario::BOOK)
}

fn has_event(o: &Outcome, text: &str) -> bool {
    o.events.iter().any(|e| e.what.contains(text))
}

#[test]
fn the_book_scales_out_once_and_back_in_once() {
    let o = run(&book());
    let s = Summary::of(&o);
    assert_eq!(
        (s.scale_outs, s.scale_ins, s.flaps),
        (1, 1, 0),
        "{:#?}",
        o.events
    );
    assert_eq!(s.max_hosts, 2);
    // The second task still fits on the t2.micro: nothing ever waits.
    assert_eq!(s.task_minutes_pending, 0.0);
    let out = o.actions[0];
    let back = o.actions[1];
    assert_eq!((out.from, out.to, back.from, back.to), (1, 2, 2, 1));
    // Scale out one alarm period after the service grows at 5m (two tasks leave no room).
    assert_eq!(out.t, 6 * 60);
    // Scale in only after 5 evaluation periods above 1 once the service shrank at 30m.
    assert!(back.t >= 30 * 60 + 5 * 60, "scale-in at {}", back.t);
    assert_eq!(o.samples.last().map(|s| s.instances), Some(1));
}

#[test]
fn the_book_passes_through_idle_host_capacity_one_and_one_and_a_half() {
    let o = run(&book());
    let at = |t: u64| {
        o.samples
            .iter()
            .find(|s| s.t == t)
            .copied()
            .expect("sample")
    };
    // One task: 774 / 593 left → 1 slot of 2 → 0.5.
    assert_eq!(
        (at(60).container_capacity, at(60).idle_host_capacity),
        (1, 0.5)
    );
    // Two tasks on the first host, the second host empty: 0 + 2 → exactly 1.0.
    assert_eq!(
        (
            at(20 * 60).container_capacity,
            at(20 * 60).idle_host_capacity
        ),
        (2, 1.0)
    );
    // Back to one task: 1 + 2 → 1.5, above 1: scale in.
    assert_eq!(
        (
            at(33 * 60).container_capacity,
            at(33 * 60).idle_host_capacity
        ),
        (3, 1.5)
    );
}

#[test]
fn a_scale_in_threshold_at_exactly_one_flaps_and_the_strict_rule_does_not() {
    let strict = Summary::of(&run(&book()));
    let loose = parse(&scenario::BOOK.replace(
        "comparison: GreaterThanThreshold",
        "comparison: GreaterThanOrEqualToThreshold",
    ));
    let loose_run = run(&loose);
    let loose = Summary::of(&loose_run);
    assert_eq!(strict.flaps, 0);
    assert!(loose.flaps >= 2, "{:#?}", loose_run.events);
    assert!(loose.scale_outs >= 2 && loose.scale_ins >= 2);
    // Each scale-in at 1.0 removes the only spare room: the cluster spends time with none.
    assert!(loose.minutes_without_room > strict.minutes_without_room);
}

const BURST: &str = r#"
name: burst
description: a service jumps from 2 to 24 tasks on small hosts
duration: 2h
step: 10s
instance_types:
  small: { cpu: 2048, memory: 4096 }
asg:
  min: 2
  max: 20
  desired: 2
  instance_types: [small]
  launch_delay: 4m
  lifecycle_hook: { timeout: 15m }
# The sizing alone: ECS's placement back-off (tests/throttle.rs) is left out here.
ecs: { placement_backoff: none }
services:
  - name: web
    task: { cpu: 512, memory: 1024 }
    desired: 2
    changes:
      - { at: 10m, desired: 24 }
scaling:
  policy: book
  headroom: HEADROOM
  scale_in: { threshold: THRESHOLD }
"#;

fn burst(headroom: u32, scale_in_threshold: f64) -> Scenario {
    parse(
        &BURST
            .replace("HEADROOM", &headroom.to_string())
            .replace("THRESHOLD", &scale_in_threshold.to_string()),
    )
}

#[test]
fn a_hosts_to_add_policy_removes_pending_time_that_plus_one_leaves() {
    // A headroom of 8 tasks on hosts of 4 slots: HostsToAdd asks for the 3 hosts the 12
    // waiting tasks fill and 2 more for the headroom, at once.
    // Scale-in is kept out of the picture (threshold 100) to compare scale-out alone.
    let sc = burst(8, 100.0);
    let book = Summary::of(&run(&sc.with_policy(PolicyKind::Book)));
    let computed_run = run(&sc.with_policy(PolicyKind::HostsToAdd));
    let computed = Summary::of(&computed_run);
    assert!(book.task_minutes_pending > 0.0);
    assert!(
        computed.task_minutes_pending < book.task_minutes_pending,
        "hosts-to-add {} vs book {}",
        computed.task_minutes_pending,
        book.task_minutes_pending
    );
    assert!(
        has_event(&computed_run, "HostsToAdd 5"),
        "{:#?}",
        computed_run.events
    );
}

#[test]
fn at_a_headroom_of_one_hosts_to_add_sizes_for_the_waiting_tasks_in_one_round() {
    let sc = burst(1, 100.0);
    let book = Summary::of(&run(&sc.with_policy(PolicyKind::Book)));
    let computed_run = run(&sc.with_policy(PolicyKind::HostsToAdd));
    let computed = Summary::of(&computed_run);
    // 16 of the 24 tasks of 512 CPU wait (the two hosts hold 4 each): they need 4 hosts, and
    // the headroom one more — all added in one step, where the book adds one per cooldown.
    assert!(
        has_event(&computed_run, "HostsToAdd 5): desired capacity 2 -> 7"),
        "{:#?}",
        computed_run.events
    );
    assert_eq!(computed.scale_outs, 1);
    assert!(computed.task_minutes_pending < book.task_minutes_pending / 2.0);
    assert!(computed.p95_placement_wait_seconds < book.p95_placement_wait_seconds);
}

#[test]
fn a_placement_failure_reaches_the_group_after_the_reaction_delay_and_the_ten_second_alarm() {
    let o = run(&burst(1, 100.0).with_policy(PolicyKind::HostsToAdd));
    let action = o.actions.first().expect("a scale-out");
    // The service grows at 10m; the calculator runs at once on the placement failure, its
    // datapoint reaches the alarm after the reaction delay, and the 10-second alarm acts on
    // it at the end of its period.
    assert_eq!(
        action.t,
        10 * 60 + ecs_capacity::scenario::deployed::REACTION_DELAY + 10,
        "{:#?}",
        o.events
    );
}

const SHRINK: &str = r#"
name: shrink
duration: 90m
instance_types:
  m: { cpu: 4096, memory: 8192 }
asg: { min: 1, max: 6, desired: 3, instance_types: [m], zones: [sim-1a], launch_delay: 3m, lifecycle_hook: { timeout: 15m } }
ecs: { strategy: binpack }
services:
  - name: app
    task: { cpu: 1024, memory: 1024 }
    desired: 10
    changes:
      - { at: 10m, desired: 4 }
scaling:
  policy: POLICY
  scale_in: { evaluation_periods: 2, cooldown: 3m }
"#;

fn shrink(policy: &str) -> Scenario {
    parse(&SHRINK.replace("POLICY", policy))
}

#[test]
fn the_chooser_removes_the_empty_host_and_the_default_policy_a_busy_one() {
    // Binpack leaves 10 tasks as 4 + 4 + 2; at 10m the service drops to 4 tasks, and the
    // group has a host to spare. Which one goes decides how many tasks move.
    // The book's scale-in (IdleHostCapacity, −1): the chooser's own ranking, no plan.
    let sc = shrink("hosts-to-add-minus-one");
    let chooser = Summary::of(&run(&sc));
    assert_eq!(chooser.termination, "chooser");
    let default = Summary::of(&run(&sc.with_termination(Termination::Default)));
    assert_eq!(default.termination, "default");
    assert!(chooser.scale_ins >= 1 && default.scale_ins >= 1);
    assert_eq!(chooser.tasks_moved_by_scale_in, 0, "{chooser:#?}");
    assert!(
        default.tasks_moved_by_scale_in > 0,
        "the default policy ignores the tasks (seeded): {default:#?}"
    );
}

#[test]
fn managed_termination_protection_never_moves_a_task_and_waits_for_an_empty_host() {
    let o = run(&shrink("capacity-provider"));
    let s = Summary::of(&o);
    assert_eq!(s.termination, "managed protection");
    assert_eq!(s.tasks_moved_by_scale_in, 0);
    // Its scale-in waits 15 one-minute datapoints below the target.
    let first_in = o
        .actions
        .iter()
        .find(|a| a.to < a.from)
        .expect("a managed scale-in");
    assert!(first_in.t >= 10 * 60 + 15 * 60, "{:#?}", o.events);
    assert!(has_event(
        &o,
        "managed scaling, CapacityProviderReservation"
    ));
}

#[test]
fn managed_scaling_acts_at_the_end_of_the_minute_and_hosts_to_add_within_ten_seconds() {
    // The burst: 16 waiting tasks. Managed scaling sizes for them at the end of the minute
    // (M = N + 4 = 6, one step); hosts-to-add 10 seconds after the failure, headroom included.
    let sc = burst(1, 100.0);
    let cp_run = run(&sc.with_policy(PolicyKind::CapacityProvider));
    let cp = Summary::of(&cp_run);
    let ours = Summary::of(&run(&sc.with_policy(PolicyKind::HostsToAdd)));
    let out = cp_run.actions.first().expect("a managed scale-out");
    assert_eq!(
        (out.t, out.from, out.to),
        (11 * 60, 2, 6),
        "{:#?}",
        cp_run.events
    );
    assert!(ours.task_minutes_pending < cp.task_minutes_pending);
    assert!(ours.p95_placement_wait_seconds <= cp.p95_placement_wait_seconds);
}

#[test]
fn a_termination_setting_for_capacity_providers_is_refused_and_the_flag_cannot_override_it() {
    let err = scenario::parse(
        "t.yaml",
        &SHRINK.replace("POLICY", "book").replace(
            "launch_delay: 3m,",
            "launch_delay: 3m, termination: managed-termination-protection,",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("asg.termination"), "{err}");
    let sc = shrink("capacity-provider").with_termination(Termination::Chooser);
    assert_eq!(Summary::of(&run(&sc)).termination, "managed protection");
}

#[test]
fn a_headroom_above_one_host_does_not_make_the_idle_host_alarm_flap() {
    // With 8 tasks of headroom on hosts of 4 slots, the plain ratio ContainerCapacity / H
    // reached 1.5 where removing a host leaves 2 < 8, and the group scaled in and straight
    // out again. IdleHostCapacity is published beyond the headroom, (capacity - 7) / H, so
    // "> 1" only fires when the headroom survives the removal.
    let headroom_8 = Summary::of(&run(&burst(8, 1.0)));
    let headroom_1 = Summary::of(&run(&burst(1, 1.0)));
    assert_eq!(headroom_8.flaps, 0, "{headroom_8:#?}");
    assert_eq!(headroom_1.flaps, 0, "{headroom_1:#?}");
}

#[test]
fn a_scenario_and_a_seed_give_one_result() {
    let sc = parse(scenario::DIURNAL);
    let a = run(&sc.with_policy(PolicyKind::HostsToAdd));
    let b = run(&sc.with_policy(PolicyKind::HostsToAdd));
    assert_eq!(a.events, b.events);
    assert_eq!(a.samples, b.samples);
}

#[test]
fn the_diurnal_day_runs_a_rolling_deployment_that_briefly_doubles_the_service() {
    let o = run(&parse(scenario::DIURNAL));
    assert!(has_event(&o, "service api deploys api:2"));
    let during = o
        .samples
        .iter()
        .filter(|s| (15 * 3600..15 * 3600 + 600).contains(&s.t));
    // Old and new revisions overlap: more tasks hold resources than the services want, and
    // the new ones wait for room (the deployment is what asks for hosts here).
    assert!(during.into_iter().any(|s| s.placed_tasks > s.desired_tasks));
    assert!(has_event(&o, "task(s) pending: api"), "{:#?}", o.events);
    let s = Summary::of(&o);
    assert!(s.max_hosts > 10 && s.max_hosts <= 40, "{s:#?}");
    // By the night the group is back near its minimum.
    assert!(o.samples.last().is_some_and(|x| x.instances <= 5));
}

#[test]
fn the_lifecycle_hook_drains_before_terminating_and_without_it_tasks_are_killed() {
    // Shrink a busy group by hand: scale in with many tasks spread on every host.
    let text = r#"
name: shrink
duration: 1h
instance_types:
  m: { cpu: 4096, memory: 8192 }
asg: { min: 1, max: 6, desired: 4, instance_types: [m], launch_delay: 3m, HOOK }
ecs: { strategy: spread }
services:
  - name: app
    task: { cpu: 256, memory: 512 }
    desired: 8
    changes:
      - { at: 5m, desired: 4 }
scaling:
  scale_in: { evaluation_periods: 2, cooldown: 3m }
"#;
    let hooked = run(&parse(
        &text.replace("HOOK", "lifecycle_hook: { timeout: 15m }"),
    ));
    assert!(has_event(&hooked, "set DRAINING with"));
    assert!(has_event(&hooked, "drained: lifecycle action completed"));
    assert!(!has_event(&hooked, "killed"));
    assert_eq!(Summary::of(&hooked).task_minutes_pending, 0.0);

    let unhooked = run(&parse(&text.replace(", HOOK", "")));
    assert!(
        has_event(&unhooked, "no lifecycle hook"),
        "{:#?}",
        unhooked.events
    );
    assert!(
        unhooked
            .events
            .iter()
            .any(|e| e.what.contains("no lifecycle hook") && !e.what.contains(" 0 task(s) killed")),
        "{:#?}",
        unhooked.events
    );
}

#[test]
fn missing_data_treated_as_breaching_scales_out_a_quiet_cluster() {
    // The calculator runs on events only: a quiet cluster publishes nothing.
    let text = r#"
name: quiet
duration: 30m
instance_types:
  m: { cpu: 4096, memory: 8192 }
asg: { min: 1, max: 3, desired: 1, instance_types: [m] }
services:
  - { name: app, task: { cpu: 256, memory: 512 }, desired: 1 }
scaling:
  scale_out: { missing_data: MODE, cooldown: 10m }
calculator: { schedule: 0 }
"#;
    let ignore = Summary::of(&run(&parse(&text.replace("MODE", "ignore"))));
    let breaching = Summary::of(&run(&parse(&text.replace("MODE", "breaching"))));
    assert_eq!(ignore.scale_outs, 0);
    assert!(breaching.scale_outs >= 1);
}

#[test]
fn every_embedded_scenario_is_valid() {
    for (name, text) in scenario::EMBEDDED {
        scenario::parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn managed_scaling_sizes_for_the_largest_group_of_provisioning_tasks_not_their_sum() {
    // Two full hosts; at 10m 16 tasks of 512 CPU (4 a host: 4 hosts) and 3 of 2048 (one a
    // host: 3 hosts) wait. [CAS]: the instances "for each group", the largest count: M =
    // 2 + 4 = 6, not 2 + 7; the next minutes top it up once those hosts are warm.
    let sc = parse(
        r#"
name: two-groups
duration: 30m
instance_types:
  small: { cpu: 2048, memory: 4096 }
asg: { min: 2, max: 20, desired: 2, instance_types: [small], launch_delay: 4m }
services:
  - name: base
    task: { cpu: 2048, memory: 4096 }
    desired: 2
  - name: web
    task: { cpu: 512, memory: 1024 }
    desired: 0
    changes: [{ at: 10m, desired: 16 }]
  - name: big
    task: { cpu: 2048, memory: 4096 }
    desired: 0
    changes: [{ at: 10m, desired: 3 }]
scaling: { policy: capacity-provider }
"#,
    );
    let o = run(&sc);
    let first = o.actions.first().expect("a managed scale-out");
    assert_eq!(
        (first.t, first.from, first.to),
        (11 * 60, 2, 6),
        "{:#?}",
        o.events
    );
}

#[test]
fn the_calculator_never_sees_eni_limits_but_ecs_enforces_them() {
    // One host with 3 ENIs (2 for tasks), awsvpc tasks: ECS places 2 of the 4 wanted; the
    // calculator, which production never gives ENI limits, counts the CPU and memory left.
    let sc = parse(
        r#"
name: enis
duration: 1m
instance_types:
  m: { cpu: 4096, memory: 8192, max_enis: 3 }
asg: { min: 1, max: 1, desired: 1, instance_types: [m] }
services:
  - name: api
    task: { cpu: 256, memory: 512, awsvpc: true }
    desired: 4
scaling: { policy: hosts-to-add }
"#,
    );
    let o = run(&sc);
    let first = o.samples.first().expect("a sample");
    assert_eq!((first.placed_tasks, first.pending_tasks), (2, 2));
    // (4096 − 2 × 256) / 256 = 14, (8192 − 2 × 512) / 512 = 14.
    assert_eq!(first.container_capacity, 14);
}

#[test]
fn a_largest_step_below_the_tables_makes_the_batch_wait_longer() {
    use ecs_capacity::sim::alarms::HOSTS_TO_ADD_STEPS;
    assert_eq!(
        HOSTS_TO_ADD_STEPS.last().map(|s| s.1),
        Some(scenario::LARGEST_STEP)
    );
    let sc = scenario::load("batch")
        .expect("embedded")
        .with_policy(PolicyKind::HostsToAdd);
    let mut capped = sc.clone();
    capped.largest_step = 10;
    let table = Summary::of(&run(&sc));
    let ten = Summary::of(&run(&capped));
    assert!(
        ten.task_minutes_pending > table.task_minutes_pending,
        "capped {} vs table {}",
        ten.task_minutes_pending,
        table.task_minutes_pending
    );
    assert_eq!(
        capped.not_as_deployed(),
        vec!["largest step 10 (template 80)"]
    );
}
