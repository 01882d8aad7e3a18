//! An in-memory AWS for the drainer's tests (built only under `cfg(test)` or the `fake`
//! feature): a cluster's container instances and their
//! tasks, open lifecycle actions, hooks and topics. It records every call (optionally with
//! the time of a test clock) and can fail chosen operations.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::{
    ActionAnswer, DrainError, HookTimeouts, LifecycleActionRef, LifecycleActionResult,
    ObservedTask, Republication,
};

/// The operations of the drain traits, to choose which one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    FindContainerInstance,
    SetDraining,
    ListInstanceTasks,
    CompleteLifecycleAction,
    RecordHeartbeat,
    DescribeLifecycleHook,
    Republish,
}

/// One recorded call, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainCall {
    FindContainerInstance {
        cluster: String,
        ec2_instance_id: String,
    },
    SetDraining {
        cluster: String,
        container_instance_arn: String,
    },
    ListInstanceTasks {
        cluster: String,
        container_instance_arn: String,
    },
    CompleteLifecycleAction {
        action: LifecycleActionRef,
        result: LifecycleActionResult,
        answer: Option<ActionAnswer>,
    },
    RecordHeartbeat {
        action: LifecycleActionRef,
        answer: Option<ActionAnswer>,
    },
    DescribeLifecycleHook {
        auto_scaling_group_name: String,
        lifecycle_hook_name: String,
    },
    Republish(Republication),
}

impl DrainCall {
    pub fn operation(&self) -> Operation {
        match self {
            DrainCall::FindContainerInstance { .. } => Operation::FindContainerInstance,
            DrainCall::SetDraining { .. } => Operation::SetDraining,
            DrainCall::ListInstanceTasks { .. } => Operation::ListInstanceTasks,
            DrainCall::CompleteLifecycleAction { .. } => Operation::CompleteLifecycleAction,
            DrainCall::RecordHeartbeat { .. } => Operation::RecordHeartbeat,
            DrainCall::DescribeLifecycleHook { .. } => Operation::DescribeLifecycleHook,
            DrainCall::Republish(_) => Operation::Republish,
        }
    }
}

type Now = Box<dyn Fn() -> u64 + Send + Sync>;

/// The world's state; public so tests can arrange and inspect it through
/// [`FakeDrainWorld::state`].
#[derive(Debug, Default)]
pub struct FakeState {
    /// EC2 instance id -> container instance ARN.
    pub instances: HashMap<String, String>,
    /// Container instances set DRAINING.
    pub draining: BTreeSet<String>,
    /// Successive answers of `list_instance_tasks` per container instance ARN: each poll
    /// takes the next one; the last one repeats.
    pub task_polls: HashMap<String, VecDeque<Vec<ObservedTask>>>,
    /// EC2 instance ids whose lifecycle action waits to be completed.
    pub active_actions: BTreeSet<String>,
    /// (group, hook) -> timeouts.
    pub hooks: BTreeMap<(String, String), HookTimeouts>,
    /// Operation -> how many more calls fail (`usize::MAX`: all of them).
    pub failures: HashMap<Operation, usize>,
    /// Every call, in order, with the test clock's time (epoch ms; 0 without a clock).
    pub calls: Vec<(u64, DrainCall)>,
}

/// In-memory implementation of every drain trait. See the module docs.
#[derive(Default)]
pub struct FakeDrainWorld {
    state: Mutex<FakeState>,
    now: Option<Now>,
}

impl std::fmt::Debug for FakeDrainWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDrainWorld")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn injected(operation: Operation) -> DrainError {
    let message = format!("injected failure of {operation:?}");
    DrainError::Ecs {
        operation: "injected",
        cluster: "fake".to_owned(),
        subject: format!("{operation:?}"),
        source: message.clone().into(),
        message,
    }
}

impl FakeDrainWorld {
    pub fn new() -> FakeDrainWorld {
        FakeDrainWorld::default()
    }

    /// Records each call with `now()` (e.g. a test clock's epoch milliseconds).
    pub fn with_clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> FakeDrainWorld {
        self.now = Some(Box::new(now));
        self
    }

    /// A container instance `container_instance_arn` on EC2 instance `ec2_instance_id`.
    pub fn with_instance(
        self,
        ec2_instance_id: &str,
        container_instance_arn: &str,
    ) -> FakeDrainWorld {
        self.state().instances.insert(
            ec2_instance_id.to_owned(),
            container_instance_arn.to_owned(),
        );
        self
    }

    /// What successive polls of the instance's tasks see.
    pub fn with_task_polls(
        self,
        container_instance_arn: &str,
        polls: Vec<Vec<ObservedTask>>,
    ) -> FakeDrainWorld {
        self.state()
            .task_polls
            .insert(container_instance_arn.to_owned(), polls.into());
        self
    }

    /// An open lifecycle action for `ec2_instance_id`.
    pub fn with_active_action(self, ec2_instance_id: &str) -> FakeDrainWorld {
        self.state()
            .active_actions
            .insert(ec2_instance_id.to_owned());
        self
    }

    pub fn with_hook(self, group: &str, hook: &str, timeouts: HookTimeouts) -> FakeDrainWorld {
        self.state()
            .hooks
            .insert((group.to_owned(), hook.to_owned()), timeouts);
        self
    }

    /// The next `times` calls of `operation` fail (`usize::MAX`: every call).
    pub fn failing(self, operation: Operation, times: usize) -> FakeDrainWorld {
        self.state().failures.insert(operation, times);
        self
    }

    /// The state, to arrange or inspect. Do not hold it across an `.await`.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock poisons it; the state is still
        // what that test left, which is what the next assertion wants to see.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The recorded calls, without their times.
    pub fn calls(&self) -> Vec<DrainCall> {
        self.state().calls.iter().map(|(_, c)| c.clone()).collect()
    }

    /// The recorded calls of one operation, with their times.
    pub fn calls_of(&self, operation: Operation) -> Vec<(u64, DrainCall)> {
        self.state()
            .calls
            .iter()
            .filter(|(_, c)| c.operation() == operation)
            .cloned()
            .collect()
    }

    /// The messages republished, in order.
    pub fn republished(&self) -> Vec<Republication> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                DrainCall::Republish(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The results of the completions Auto Scaling accepted, in order.
    pub fn completed(&self) -> Vec<(String, LifecycleActionResult)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                DrainCall::CompleteLifecycleAction {
                    action,
                    result,
                    answer: Some(ActionAnswer::Done),
                } => Some((action.ec2_instance_id, result)),
                _ => None,
            })
            .collect()
    }

    /// Records `call`; fails it if a failure is armed for its operation. Returns where the
    /// call is in [`FakeState::calls`].
    pub(super) fn record(&self, call: DrainCall) -> Result<usize, DrainError> {
        let at = self.now.as_ref().map_or(0, |now| now());
        let operation = call.operation();
        let mut state = self.state();
        let index = state.calls.len();
        state.calls.push((at, call));
        if let Some(left) = state.failures.get_mut(&operation)
            && *left > 0
        {
            if *left != usize::MAX {
                *left -= 1;
            }
            return Err(injected(operation));
        }
        Ok(index)
    }

    /// Sets the answer of the lifecycle call recorded at `index` (not the last call: a
    /// concurrent drain may have made one since).
    pub(super) fn set_answer(&self, index: usize, answer: ActionAnswer) {
        if let Some((
            _,
            DrainCall::CompleteLifecycleAction { answer: slot, .. }
            | DrainCall::RecordHeartbeat { answer: slot, .. },
        )) = self.state().calls.get_mut(index)
        {
            *slot = Some(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::{FindContainerInstance, LifecycleActions, ListInstanceTasks};

    fn action(id: &str) -> LifecycleActionRef {
        LifecycleActionRef {
            auto_scaling_group_name: "asg".into(),
            lifecycle_hook_name: "hook".into(),
            ec2_instance_id: id.into(),
            token: None,
        }
    }

    fn task(status: &str) -> ObservedTask {
        ObservedTask {
            task_arn: "arn:task/1".into(),
            last_status: status.into(),
            desired_status: None,
        }
    }

    #[tokio::test]
    async fn a_second_completion_finds_no_active_action() {
        let world = FakeDrainWorld::new().with_active_action("i-1");
        let first = world
            .complete_lifecycle_action(&action("i-1"), LifecycleActionResult::Continue)
            .await;
        let second = world
            .complete_lifecycle_action(&action("i-1"), LifecycleActionResult::Continue)
            .await;
        assert_eq!(first.ok(), Some(ActionAnswer::Done));
        assert_eq!(second.ok(), Some(ActionAnswer::NoActiveAction));
        assert_eq!(world.completed().len(), 1);
    }

    #[tokio::test]
    async fn task_polls_advance_then_repeat_the_last() {
        let world = FakeDrainWorld::new()
            .with_task_polls("ci", vec![vec![task("RUNNING")], vec![task("STOPPED")]]);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let tasks = world
                .list_instance_tasks("c", "ci")
                .await
                .unwrap_or_default();
            seen.push(tasks.first().map(|t| t.last_status.to_string()));
        }
        assert_eq!(
            seen,
            [
                Some("RUNNING".to_owned()),
                Some("STOPPED".to_owned()),
                Some("STOPPED".to_owned())
            ]
        );
    }

    #[tokio::test]
    async fn armed_failures_fail_that_many_calls() {
        let world = FakeDrainWorld::new()
            .with_instance("i-1", "ci")
            .failing(Operation::FindContainerInstance, 1);
        assert!(world.find_container_instance("c", "i-1").await.is_err());
        assert_eq!(
            world.find_container_instance("c", "i-1").await.ok(),
            Some(Some("ci".to_owned()))
        );
    }
}
