//! Model-based tests of the drain (issue 7, promises 1 and 2): random worlds drive the real
//! handler over the in-memory AWS of `capacity_aws::drain::fake` with a pinned clock, and every
//! run is checked against invariants.
//!
//! Why a hand-rolled proptest over generated scripts, not `proptest-state-machine`: the
//! handler is a closed loop that chooses its own next call, so the test cannot pick
//! "transitions" for it. What the test generates is the *world's* side — what each call
//! answers (fail or not, how long it takes), how the instance's tasks evolve between polls,
//! the hook's timeouts, the invocation deadlines and the delays between deliveries — and the
//! handler consumes that script reactively. The invariants are then checked on the recorded
//! calls against the world's ground truth at the time of each call. No extra dependency.
//!
//! The world:
//! * tasks change only when the drainer looks (each ListInstanceTasks applies the next
//!   scripted change), and a task moves towards STOPPED only once the instance is DRAINING;
//!   new tasks may appear at any time;
//! * each AWS call takes a scripted latency (0–1 s: the margin before the invocation's
//!   deadline is at least 5 s, and a look plus a publish is at most four calls) and may fail;
//! * the lifecycle action expires, as on AWS, when no heartbeat came within the hook's
//!   heartbeat timeout, or at its global timeout;
//! * a republished notification is delivered again (after 0–5 s) as the next invocation;
//!   a failed invocation ends the run (Lambda's retry is out of the model).
//!
//! Invariants:
//! 1. no CompleteLifecycleAction before the drain's earliest total deadline unless every task
//!    on the instance is STOPPED (or the instance is not in the cluster), and then only with
//!    CONTINUE;
//! 2. at most one completion is accepted; every invocation that succeeds either completed
//!    the action, found it already gone, or republished the notification before its
//!    deadline; no invocation runs past its deadline; the action never expires and no gap
//!    between accepted heartbeats exceeds the heartbeat timeout while it waits, unless a
//!    heartbeat call failed in that gap; with no failure injected, the drain ends with
//!    exactly one accepted completion.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use capacity_aws::drain::fake::{DrainCall, FakeDrainWorld, Operation};
use capacity_aws::drain::{
    ActionAnswer, AttributeValue, DescribeLifecycleHook, DrainError, DrainingState,
    FindContainerInstance, HookTimeouts, LifecycleActionRef, LifecycleActionResult,
    LifecycleActions, ListInstanceTasks, ObservedTask, Republication, Republish, SetDraining,
};
use lifecycle_drainer::{Clock, Config, handle};
use moto_harness::clock::ManualClock;
use moto_harness::lifecycle::{sns_event, terminating_notification};
use proptest::prelude::*;
use serde_json::{Value, json};

const INSTANCE: &str = "i-0598c7d356eba48d7";
const CONTAINER_INSTANCE: &str =
    "arn:aws:ecs:us-west-2:123456789012:container-instance/prod/0f9e8d7c";
const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:ecs-drain-topic";
const GROUP: &str = "my-asg";
const HOOK: &str = "my-hook";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7ee35fa40";
/// When the lifecycle action started (epoch ms).
const ACTION_STARTED: u64 = 1_700_000_000_000;
/// More invocations than any generated drain needs (the longest is 3600 s, each invocation
/// waits at least 10 s before it republishes).
const MAX_INVOCATIONS: usize = 1000;

// ------------------------------------------------------------------ the generated world

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Provisioning => "PROVISIONING",
            Status::Pending => "PENDING",
            Status::Activating => "ACTIVATING",
            Status::Running => "RUNNING",
            Status::Deactivating => "DEACTIVATING",
            Status::Stopping => "STOPPING",
            Status::Deprovisioning => "DEPROVISIONING",
            Status::Stopped => "STOPPED",
        }
    }

    fn next(self) -> Status {
        match self {
            Status::Provisioning => Status::Pending,
            Status::Pending => Status::Activating,
            Status::Activating => Status::Running,
            Status::Running => Status::Deactivating,
            Status::Deactivating => Status::Stopping,
            Status::Stopping => Status::Deprovisioning,
            Status::Deprovisioning | Status::Stopped => Status::Stopped,
        }
    }
}

/// What happens to the instance's tasks before one look.
#[derive(Debug, Clone, Copy)]
enum Change {
    Nothing,
    /// One task (index modulo the count) moves one status on, if the instance is DRAINING.
    Advance(usize),
    /// Every task moves one status on, if the instance is DRAINING.
    AdvanceAll,
    /// A task is placed on the instance.
    Appear(Status),
}

/// How one AWS call goes.
#[derive(Debug, Clone, Copy)]
struct CallScript {
    fail: bool,
    latency_ms: u64,
}

/// Where the drainer learns the hook's heartbeat timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookSource {
    Configured,
    Read,
    NotFound,
}

/// One Lambda invocation: its timeout (`None`: the deadline is unknown, as under
/// `cargo lambda watch`) and the delay before it starts.
#[derive(Debug, Clone, Copy)]
struct Invocation {
    timeout_s: Option<u64>,
    delay_ms: u64,
}

#[derive(Debug, Clone)]
struct Scenario {
    in_cluster: bool,
    initial: Vec<Status>,
    changes: Vec<Change>,
    /// Once the scripted changes run out: tasks stay as they are (else every look advances all).
    stuck: bool,
    /// Cycled over the calls, in order.
    calls: Vec<CallScript>,
    poll_s: u64,
    max_drain_s: u64,
    margin_s: u64,
    abandon_at_deadline: bool,
    heartbeat_timeout_s: u64,
    hook_source: HookSource,
    invocations: Vec<Invocation>,
}

impl Scenario {
    fn any_failure(&self) -> bool {
        self.calls.iter().any(|c| c.fail)
    }

    fn global_timeout_ms(&self) -> u64 {
        172_800_000u64.min(self.heartbeat_timeout_s * 100_000)
    }

    /// The earliest the drain may give up: the action's start plus MAX_DRAIN_SECONDS, capped
    /// by the hook's global timeout less the margin.
    /// (When the hook cannot be read — not found, or the call fails in some invocation —
    /// the drainer assumes the shortest global timeout any hook has, 100 × 30 s.)
    fn earliest_give_up_ms(&self) -> u64 {
        let global = match self.hook_source {
            HookSource::Configured => self.global_timeout_ms(),
            HookSource::Read | HookSource::NotFound => self.global_timeout_ms().min(3_000_000),
        };
        let limit = (self.max_drain_s * 1000).min(global.saturating_sub(self.margin_s * 1000));
        ACTION_STARTED + limit
    }

    fn config(&self) -> Config {
        Config {
            cluster: "prod".into(),
            poll_interval: Duration::from_secs(self.poll_s),
            max_drain: Duration::from_secs(self.max_drain_s),
            deadline_result: if self.abandon_at_deadline {
                LifecycleActionResult::Abandon
            } else {
                LifecycleActionResult::Continue
            },
            heartbeat_timeout: (self.hook_source == HookSource::Configured)
                .then(|| Duration::from_secs(self.heartbeat_timeout_s)),
            deadline_margin: Duration::from_secs(self.margin_s),
            republish_topic_arn: None,
        }
    }
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Provisioning),
        Just(Status::Pending),
        Just(Status::Activating),
        Just(Status::Running),
        Just(Status::Deactivating),
        Just(Status::Stopping),
        Just(Status::Deprovisioning),
        Just(Status::Stopped),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => Just(Change::Nothing),
        3 => (0usize..8).prop_map(Change::Advance),
        3 => Just(Change::AdvanceAll),
        1 => status().prop_map(Change::Appear),
    ]
}

fn calls() -> impl Strategy<Value = Vec<CallScript>> {
    prop_oneof![Just(0.0), Just(0.1), Just(0.3)].prop_flat_map(|rate| {
        prop::collection::vec(
            (prop::bool::weighted(rate), 0u64..=1000)
                .prop_map(|(fail, latency_ms)| CallScript { fail, latency_ms }),
            1..64,
        )
    })
}

fn invocation() -> impl Strategy<Value = Invocation> {
    (
        prop_oneof![4 => (30u64..=900).prop_map(Some), 1 => Just(None)],
        0u64..=5000,
    )
        .prop_map(|(timeout_s, delay_ms)| Invocation {
            timeout_s,
            delay_ms,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (
            prop::bool::weighted(0.9),
            prop::collection::vec(status(), 0..5),
            prop::collection::vec(change(), 0..40),
            prop::bool::weighted(0.15),
            calls(),
        ),
        (
            1u64..=30,
            60u64..=3600,
            5u64..=60,
            any::<bool>(),
            30u64..=600,
            prop_oneof![
                Just(HookSource::Configured),
                Just(HookSource::Read),
                Just(HookSource::NotFound)
            ],
            prop::collection::vec(invocation(), 1..6),
        ),
    )
        .prop_map(
            |(
                (in_cluster, initial, changes, stuck, calls),
                (
                    poll_s,
                    max_drain_s,
                    margin_s,
                    abandon_at_deadline,
                    heartbeat_timeout_s,
                    hook_source,
                    invocations,
                ),
            )| Scenario {
                in_cluster,
                initial,
                changes,
                stuck,
                calls,
                poll_s,
                max_drain_s,
                margin_s,
                abandon_at_deadline,
                heartbeat_timeout_s,
                hook_source,
                invocations,
            },
        )
}

// ------------------------------------------------------------------ clock and world

/// A completion attempt, with the ground truth when it was made.
#[derive(Debug, Clone)]
struct CompletionSeen {
    at_ms: u64,
    result: LifecycleActionResult,
    tasks_holding: usize,
}

#[derive(Debug)]
struct Truth {
    tasks: Vec<Status>,
    changes: VecDeque<Change>,
    stuck: bool,
    calls: Vec<CallScript>,
    next_call: usize,
    heartbeat_timeout_ms: u64,
    global_timeout_ms: u64,
    /// Last time the action was known alive: its start, then each accepted heartbeat.
    last_alive_ms: u64,
    heartbeat_failed_since_alive: bool,
    /// When the action expired, and whether a failed heartbeat excuses it.
    expired: Option<(u64, bool)>,
    completions: Vec<CompletionSeen>,
}

/// The fake AWS, wrapped so each call first lets the world move: time passes, the hook may
/// expire, tasks change, the call may be made to fail. The fake itself records every call.
struct World {
    fake: FakeDrainWorld,
    clock: ManualClock,
    truth: Mutex<Truth>,
}

impl World {
    fn new(scenario: &Scenario, clock: &ManualClock) -> World {
        let now = clock.clone();
        let mut fake = FakeDrainWorld::new()
            .with_clock(move || now.now_ms())
            .with_active_action(INSTANCE);
        if scenario.in_cluster {
            fake = fake.with_instance(INSTANCE, CONTAINER_INSTANCE);
        }
        if scenario.hook_source == HookSource::Read {
            fake = fake.with_hook(
                GROUP,
                HOOK,
                HookTimeouts {
                    heartbeat_timeout: Duration::from_secs(scenario.heartbeat_timeout_s),
                    global_timeout: Duration::from_millis(scenario.global_timeout_ms()),
                },
            );
        }
        World {
            fake,
            clock: clock.clone(),
            truth: Mutex::new(Truth {
                tasks: if scenario.in_cluster {
                    scenario.initial.clone()
                } else {
                    Vec::new()
                },
                changes: scenario.changes.iter().copied().collect(),
                stuck: scenario.stuck,
                calls: scenario.calls.clone(),
                next_call: 0,
                heartbeat_timeout_ms: scenario.heartbeat_timeout_s * 1000,
                global_timeout_ms: scenario.global_timeout_ms(),
                last_alive_ms: ACTION_STARTED,
                heartbeat_failed_since_alive: false,
                expired: None,
                completions: Vec::new(),
            }),
        }
    }

    fn truth(&self) -> MutexGuard<'_, Truth> {
        self.truth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The world's move before a call of `operation`.
    fn before(&self, operation: Operation) {
        let script = {
            let mut truth = self.truth();
            let len = truth.calls.len().max(1);
            let script = truth.calls.get(truth.next_call % len).copied();
            truth.next_call += 1;
            script.unwrap_or(CallScript {
                fail: false,
                latency_ms: 0,
            })
        };
        self.clock.advance(Duration::from_millis(script.latency_ms));
        self.expire_if_due();
        let mut state = self.fake.state();
        if script.fail {
            state.failures.insert(operation, 1);
        } else {
            state.failures.remove(&operation);
        }
    }

    /// Auto Scaling's side: the action ends on its own past a timeout.
    fn expire_if_due(&self) {
        let now = self.clock.now_ms();
        let mut truth = self.truth();
        let due = now > truth.last_alive_ms + truth.heartbeat_timeout_ms
            || now > ACTION_STARTED + truth.global_timeout_ms;
        if due && self.fake.state().active_actions.remove(INSTANCE) {
            truth.expired = Some((now, truth.heartbeat_failed_since_alive));
        }
    }

    fn tasks_holding(&self) -> usize {
        self.truth()
            .tasks
            .iter()
            .filter(|s| **s != Status::Stopped)
            .count()
    }

    /// The tasks change as scripted; what the fake answers is the new truth.
    fn evolve_tasks(&self) {
        let draining = self.fake.state().draining.contains(CONTAINER_INSTANCE);
        let mut truth = self.truth();
        let change = match truth.changes.pop_front() {
            Some(change) => change,
            None if truth.stuck => Change::Nothing,
            None => Change::AdvanceAll,
        };
        match change {
            Change::Nothing => {}
            Change::Advance(i) if draining => {
                let len = truth.tasks.len();
                if let Some(task) = truth.tasks.get_mut(i % len.max(1)) {
                    *task = task.next();
                }
            }
            Change::AdvanceAll if draining => {
                for task in &mut truth.tasks {
                    *task = task.next();
                }
            }
            Change::Advance(_) | Change::AdvanceAll => {}
            Change::Appear(status) => truth.tasks.push(status),
        }
        let observed: Vec<ObservedTask> = truth
            .tasks
            .iter()
            .enumerate()
            .map(|(n, s)| ObservedTask {
                task_arn: format!("arn:aws:ecs:us-west-2:123456789012:task/prod/{n}"),
                last_status: s.as_str().into(),
                desired_status: Some("STOPPED".to_owned()),
            })
            .collect();
        drop(truth);
        self.fake
            .state()
            .task_polls
            .insert(CONTAINER_INSTANCE.to_owned(), VecDeque::from([observed]));
    }
}

impl FindContainerInstance for World {
    async fn find_container_instance(
        &self,
        cluster: &str,
        ec2_instance_id: &str,
    ) -> Result<Option<String>, DrainError> {
        self.before(Operation::FindContainerInstance);
        self.fake
            .find_container_instance(cluster, ec2_instance_id)
            .await
    }
}

impl SetDraining for World {
    async fn set_draining(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<DrainingState, DrainError> {
        self.before(Operation::SetDraining);
        self.fake
            .set_draining(cluster, container_instance_arn)
            .await
    }
}

impl ListInstanceTasks for World {
    async fn list_instance_tasks(
        &self,
        cluster: &str,
        container_instance_arn: &str,
    ) -> Result<Vec<ObservedTask>, DrainError> {
        self.before(Operation::ListInstanceTasks);
        self.evolve_tasks();
        self.fake
            .list_instance_tasks(cluster, container_instance_arn)
            .await
    }
}

impl LifecycleActions for World {
    async fn complete_lifecycle_action(
        &self,
        action: &LifecycleActionRef,
        result: LifecycleActionResult,
    ) -> Result<ActionAnswer, DrainError> {
        self.before(Operation::CompleteLifecycleAction);
        let seen = CompletionSeen {
            at_ms: self.clock.now_ms(),
            result,
            tasks_holding: self.tasks_holding(),
        };
        self.truth().completions.push(seen);
        self.fake.complete_lifecycle_action(action, result).await
    }

    async fn record_heartbeat(
        &self,
        action: &LifecycleActionRef,
    ) -> Result<ActionAnswer, DrainError> {
        self.before(Operation::RecordHeartbeat);
        let answer = self.fake.record_heartbeat(action).await;
        let mut truth = self.truth();
        match answer {
            Ok(ActionAnswer::Done) => {
                truth.last_alive_ms = self.clock.now_ms();
                truth.heartbeat_failed_since_alive = false;
            }
            Ok(ActionAnswer::NoActiveAction) => {}
            Err(_) => truth.heartbeat_failed_since_alive = true,
        }
        answer
    }
}

impl DescribeLifecycleHook for World {
    async fn hook_timeouts(
        &self,
        auto_scaling_group_name: &str,
        lifecycle_hook_name: &str,
    ) -> Result<Option<HookTimeouts>, DrainError> {
        self.before(Operation::DescribeLifecycleHook);
        self.fake
            .hook_timeouts(auto_scaling_group_name, lifecycle_hook_name)
            .await
    }
}

impl Republish for World {
    async fn republish(&self, republication: &Republication) -> Result<String, DrainError> {
        self.before(Operation::Republish);
        self.fake.republish(republication).await
    }
}

// ------------------------------------------------------------------ events

fn notification() -> String {
    terminating_notification(GROUP, HOOK, TOKEN, INSTANCE, ACTION_STARTED)
}

/// What SNS delivers for a republication.
fn delivered(republication: &Republication) -> Value {
    let attributes: serde_json::Map<String, Value> = republication
        .attributes
        .iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::Number(n) => json!({"Type": "Number", "Value": n.to_string()}),
                AttributeValue::String(s) => json!({"Type": "String", "Value": s}),
            };
            (name.clone(), value)
        })
        .collect();
    sns_event(
        &republication.topic_arn,
        &republication.message,
        Value::Object(attributes),
    )
}

// ------------------------------------------------------------------ running and checking

/// How the chain of invocations ended, and what was seen on the way.
#[derive(Debug)]
struct Run {
    outcomes: Vec<String>,
    violations: Vec<String>,
}

fn run_drain(scenario: &Scenario) -> Run {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    runtime.block_on(drive(scenario))
}

async fn drive(scenario: &Scenario) -> Run {
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let world = World::new(scenario, &clock);
    let config = scenario.config();
    let mut violations = Vec::new();
    let mut outcomes = Vec::new();
    let mut event = sns_event(TOPIC, &notification(), json!({}));
    let mut ended = false;
    for n in 0..MAX_INVOCATIONS {
        let invocation = scenario
            .invocations
            .get(n % scenario.invocations.len().max(1))
            .copied()
            .unwrap_or(Invocation {
                timeout_s: Some(900),
                delay_ms: 0,
            });
        clock.advance(Duration::from_millis(invocation.delay_ms));
        let start = clock.now_ms();
        // A Lambda timeout not longer than DEADLINE_MARGIN_SECONDS would republish at once,
        // forever: a misconfiguration, outside the model (see the report of issue 7).
        let deadline = invocation
            .timeout_s
            .map(|s| start + s.max(scenario.margin_s + 10) * 1000);
        let calls_before = world.fake.calls().len();
        let completed_before = world.fake.completed().len();
        let answer = handle(
            event.clone(),
            deadline.unwrap_or(600_000),
            &config,
            &world,
            &clock,
        )
        .await;
        let end = clock.now_ms();
        if let Some(deadline) = deadline
            && end > deadline
        {
            violations.push(format!(
                "invocation {n} ran {} ms past its deadline",
                end - deadline
            ));
        }
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                let message = err.to_string();
                if message.is_empty() || err.error_type() != "Retryable.DrainIncomplete" {
                    violations.push(format!(
                        "invocation {n} failed without a retryable, named error: {} {message:?}",
                        err.error_type()
                    ));
                }
                outcomes.push(format!("error: {message}"));
                ended = true;
                break;
            }
        };
        let outcome = answer["records"][0]["outcome"]
            .as_str()
            .unwrap_or("none")
            .to_owned();
        match answer["records"][0]["reason"].as_str() {
            Some(reason) => outcomes.push(format!("{outcome} {reason}")),
            None => outcomes.push(outcome.clone()),
        }
        let completed_here = world.fake.completed().len() - completed_before;
        let republished_here: Vec<Republication> = world
            .fake
            .calls()
            .into_iter()
            .skip(calls_before)
            .filter_map(|c| match c {
                DrainCall::Republish(r) => Some(r),
                _ => None,
            })
            .collect();
        let action_active = world.fake.state().active_actions.contains(INSTANCE);
        match outcome.as_str() {
            "completed" if completed_here == 1 && !action_active => {
                ended = true;
                break;
            }
            "already_completed" | "action_gone" if !action_active => {
                ended = true;
                break;
            }
            "republished" if action_active || world.truth().expired.is_some() => {
                // The fake fails a call by recording it and returning an error, so the last
                // recorded publish is the one that succeeded.
                let Some(republication) = republished_here.last() else {
                    violations.push(format!("invocation {n} said republished without a publish"));
                    break;
                };
                // If the action expired meanwhile (excused or not, checked below), the next
                // delivery finds it gone.
                event = delivered(republication);
            }
            other => {
                violations.push(format!(
                    "invocation {n} succeeded as {other:?} while the action is {} and {completed_here} completion(s) were accepted in it: left to expire silently",
                    if action_active { "still active" } else { "gone" }
                ));
                ended = true;
                break;
            }
        }
    }
    if !ended {
        violations.push(format!(
            "the drain was still going after {MAX_INVOCATIONS} invocations"
        ));
    }
    check_promises(scenario, &world, &mut violations);
    Run {
        outcomes,
        violations,
    }
}

fn check_promises(scenario: &Scenario, world: &World, violations: &mut Vec<String>) {
    let truth = world.truth();
    let give_up = scenario.earliest_give_up_ms();

    // Promise 1: no completion before the deadline while a task is not STOPPED.
    for c in &truth.completions {
        if c.at_ms < give_up && (c.tasks_holding > 0 || c.result != LifecycleActionResult::Continue)
        {
            violations.push(format!(
                "{} at +{} ms, before the total deadline (+{} ms), with {} task(s) not STOPPED",
                c.result,
                c.at_ms - ACTION_STARTED,
                give_up - ACTION_STARTED,
                c.tasks_holding
            ));
        }
    }

    // Promise 2: one accepted completion at most, and the hook kept alive while waiting.
    let accepted = world.fake.completed();
    if accepted.len() > 1 {
        violations.push(format!("{} completions accepted", accepted.len()));
    }
    if let Some((at, excused)) = truth.expired
        && !excused
    {
        violations.push(format!(
            "the lifecycle action expired at +{} ms with no failed heartbeat to excuse it",
            at - ACTION_STARTED
        ));
    }
    let mut alive_since = ACTION_STARTED;
    let mut failed_in_gap = false;
    for (at, call) in &world.fake.state().calls {
        match call {
            DrainCall::RecordHeartbeat {
                answer: Some(ActionAnswer::Done),
                ..
            } => {
                let gap = at - alive_since;
                if gap > truth.heartbeat_timeout_ms && !failed_in_gap {
                    violations.push(format!(
                        "a gap of {gap} ms between heartbeats at +{} ms (timeout {} ms)",
                        at - ACTION_STARTED,
                        truth.heartbeat_timeout_ms
                    ));
                }
                alive_since = *at;
                failed_in_gap = false;
            }
            DrainCall::RecordHeartbeat { answer: None, .. } => failed_in_gap = true,
            DrainCall::CompleteLifecycleAction {
                answer: Some(ActionAnswer::Done),
                ..
            } => break,
            _ => {}
        }
    }
    if !scenario.any_failure() && accepted.len() != 1 {
        violations.push(format!(
            "with no failure injected the drain ended with {} accepted completions",
            accepted.len()
        ));
    }
}

proptest! {
    #[test]
    fn the_drain_never_completes_early_and_never_loses_the_action(scenario in scenario()) {
        let run = run_drain(&scenario);
        prop_assert!(
            run.violations.is_empty(),
            "violations: {:#?}\noutcomes: {:?}",
            run.violations,
            run.outcomes
        );
    }
}

// ------------------------------------------------------------------ the checker can fail

/// The invariants are not vacuous: a world that hides a running task from one look (as a
/// broken observation would) is caught by promise 1.
#[test]
fn a_completion_while_a_task_runs_is_reported() {
    let scenario = Scenario {
        in_cluster: true,
        initial: vec![Status::Running],
        changes: vec![],
        stuck: true,
        calls: vec![CallScript {
            fail: false,
            latency_ms: 0,
        }],
        poll_s: 5,
        max_drain_s: 600,
        margin_s: 20,
        abandon_at_deadline: false,
        heartbeat_timeout_s: 60,
        hook_source: HookSource::Configured,
        invocations: vec![Invocation {
            timeout_s: Some(900),
            delay_ms: 0,
        }],
    };
    let clock = ManualClock::at_ms(ACTION_STARTED + 1000);
    let world = World::new(&scenario, &clock);
    world.truth().completions.push(CompletionSeen {
        at_ms: ACTION_STARTED + 1000,
        result: LifecycleActionResult::Continue,
        tasks_holding: 1,
    });
    let mut violations = Vec::new();
    check_promises(&scenario, &world, &mut violations);
    assert!(
        violations
            .iter()
            .any(|v| v.contains("1 task(s) not STOPPED")),
        "{violations:?}"
    );

    // And the same world, driven for real, ends at the deadline with CONTINUE, not before.
    let run = run_drain(&scenario);
    assert!(run.violations.is_empty(), "{:?}", run.violations);
    assert_eq!(
        run.outcomes.last().map(String::as_str),
        Some("completed DeadlineReached")
    );
}

/// A hook that times out between heartbeats is caught by promise 2.
#[test]
fn a_heartbeat_gap_longer_than_the_timeout_is_reported() {
    let scenario = Scenario {
        in_cluster: true,
        initial: vec![Status::Running],
        changes: vec![],
        stuck: true,
        calls: vec![CallScript {
            fail: false,
            latency_ms: 0,
        }],
        poll_s: 5,
        max_drain_s: 600,
        margin_s: 20,
        abandon_at_deadline: false,
        heartbeat_timeout_s: 60,
        hook_source: HookSource::Configured,
        invocations: vec![],
    };
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let world = World::new(&scenario, &clock);
    clock.advance(Duration::from_secs(61));
    world.expire_if_due();
    let mut violations = Vec::new();
    check_promises(&scenario, &world, &mut violations);
    assert!(
        violations
            .iter()
            .any(|v| v.contains("expired at +61000 ms")),
        "{violations:?}"
    );
}

/// The generated worlds reach every ending: completion when drained, at the deadline and
/// outside the cluster, a hand-over by republishing, an action already gone, and a loud
/// failure. (A generator that never reaches one would check nothing about it.)
#[test]
fn the_generated_worlds_reach_every_ending() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;

    let mut runner = TestRunner::deterministic();
    let mut endings: BTreeMap<String, usize> = BTreeMap::new();
    let mut republished = 0;
    for _ in 0..300 {
        let Ok(tree) = scenario().new_tree(&mut runner) else {
            panic!("scenario strategy");
        };
        let run = run_drain(&tree.current());
        assert!(run.violations.is_empty(), "{:?}", run.violations);
        if run.outcomes.iter().any(|o| o.starts_with("republished")) {
            republished += 1;
        }
        let last = run.outcomes.last().cloned().unwrap_or_default();
        let ending = if last.starts_with("error") {
            "error".to_owned()
        } else {
            last
        };
        *endings.entry(ending).or_default() += 1;
    }
    eprintln!("endings over 300 worlds: {endings:?}; {republished} republished at least once");
    for ending in [
        "completed Drained",
        "completed DeadlineReached",
        "completed NotInCluster",
        "error",
    ] {
        assert!(endings.contains_key(ending), "{endings:?}");
    }
    assert!(republished > 0, "{endings:?}");
}

/// The case the model found: the hook cannot be read, its heartbeat timeout is 30 s, so it
/// expires 3000 s after the action started. The drain must end before that, at the deadline,
/// not wait for MAX_DRAIN_SECONDS (7200 s) and let the hook's default result apply.
#[test]
fn an_unreadable_hook_ends_the_drain_before_the_shortest_global_timeout() {
    let scenario = Scenario {
        in_cluster: true,
        initial: vec![Status::Running],
        changes: vec![],
        stuck: true,
        calls: vec![CallScript {
            fail: false,
            latency_ms: 0,
        }],
        poll_s: 5,
        max_drain_s: 7200,
        margin_s: 20,
        abandon_at_deadline: true,
        heartbeat_timeout_s: 30,
        hook_source: HookSource::NotFound,
        invocations: vec![Invocation {
            timeout_s: None,
            delay_ms: 0,
        }],
    };
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let world = World::new(&scenario, &clock);
    let run = tokio::runtime::Builder::new_current_thread()
        .build()
        .map(|rt| {
            rt.block_on(handle(
                sns_event(TOPIC, &notification(), json!({})),
                600_000,
                &scenario.config(),
                &world,
                &clock,
            ))
        });
    let answer = match run {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => panic!("drain failed: {e}"),
        Err(e) => panic!("tokio runtime: {e}"),
    };
    assert_eq!(answer["records"][0]["reason"], "DeadlineReached");
    assert_eq!(
        world.fake.completed(),
        [(INSTANCE.to_owned(), LifecycleActionResult::Abandon)]
    );
    assert_eq!(world.truth().expired, None);
    let completed_at = world
        .fake
        .calls_of(Operation::CompleteLifecycleAction)
        .first()
        .map(|(at, _)| at - ACTION_STARTED);
    assert_eq!(completed_at, Some(2_980_000), "3000 s less the 20 s margin");
}

/// A slow heartbeat must not delay the wake-up: the sleep that follows it ends when decided
/// (here the republish point, 50 s in), not that much later. Otherwise each slow heartbeat
/// before the republish point eats into the margin kept for the last look and the publish.
#[test]
fn a_slow_heartbeat_does_not_push_the_republish_past_its_point() {
    let fast = CallScript {
        fail: false,
        latency_ms: 0,
    };
    let slow = CallScript {
        fail: false,
        latency_ms: 10_000,
    };
    // Calls: find, set DRAINING, list (t=0); list (t=30 s); heartbeat (10 s); list; publish.
    let scenario = Scenario {
        in_cluster: true,
        initial: vec![Status::Running],
        changes: vec![],
        stuck: true,
        calls: vec![fast, fast, fast, fast, slow, fast, fast],
        poll_s: 30,
        max_drain_s: 3600,
        margin_s: 20,
        abandon_at_deadline: false,
        heartbeat_timeout_s: 60,
        hook_source: HookSource::Configured,
        invocations: vec![],
    };
    let clock = ManualClock::at_ms(ACTION_STARTED);
    let world = World::new(&scenario, &clock);
    let answer = tokio::runtime::Builder::new_current_thread()
        .build()
        .map(|rt| {
            rt.block_on(handle(
                sns_event(TOPIC, &notification(), json!({})),
                ACTION_STARTED + 70_000,
                &scenario.config(),
                &world,
                &clock,
            ))
        });
    match answer {
        Ok(Ok(answer)) => assert_eq!(answer["records"][0]["outcome"], "republished"),
        Ok(Err(e)) => panic!("drain failed: {e}"),
        Err(e) => panic!("tokio runtime: {e}"),
    }
    let heartbeats: Vec<u64> = world
        .fake
        .calls_of(Operation::RecordHeartbeat)
        .iter()
        .map(|(at, _)| at - ACTION_STARTED)
        .collect();
    assert_eq!(heartbeats, [40_000], "the heartbeat due at 30 s took 10 s");
    let published: Vec<u64> = world
        .fake
        .calls_of(Operation::Republish)
        .iter()
        .map(|(at, _)| at - ACTION_STARTED)
        .collect();
    assert_eq!(published, [50_000], "70 s deadline less the 20 s margin");
}
