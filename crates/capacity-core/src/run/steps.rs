//! What a decision asks the I/O shell to do, in order, and what comes of it.
//!
//! A decision's changes are [`Chain`]s of [`Step`]s. The shell carries the chains out in
//! order; within a chain each step runs only when the one before it succeeded (a host is
//! marked before it is drained, and never drained when its mark could not be put), and the
//! first failure ends the chain. The shell reports what it did as [`Executed`]; the decision
//! then [settles](super::Decision::settle) the figures that depend on it.

use crate::mark::InstanceAttribute;

use super::capacity_provider::TargetStatus;

/// One change to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// DeleteAttributes, by name and the value read.
    DeleteMarks(Vec<InstanceAttribute>),
    /// PutAttributes.
    PutMarks(Vec<InstanceAttribute>),
    /// UpdateContainerInstancesState of these container instance ARNs.
    SetStatus {
        arns: Vec<String>,
        status: TargetStatus,
    },
    /// TagResource on the cluster.
    TagCluster { key: String, value: String },
}

impl Action {
    /// Nothing to send: the step succeeds without a call.
    pub fn is_empty(&self) -> bool {
        match self {
            Action::DeleteMarks(marks) | Action::PutMarks(marks) => marks.is_empty(),
            Action::SetStatus { arns, .. } => arns.is_empty(),
            Action::TagCluster { .. } => false,
        }
    }

    /// Whether it changes a container instance's status (the cached reading is then stale).
    pub fn changes_status(&self) -> bool {
        matches!(self, Action::SetStatus { arns, .. } if !arns.is_empty())
    }
}

/// Which step of a run a [`Step`] is: what the settled figures and the summary ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// Self-managed: planned-removal marks of hosts no longer planned deleted.
    UnmarkPlanned,
    /// Self-managed: planned-removal marks of the planned hosts put.
    MarkPlanned,
    /// Capacity-provider mode: the hosts this function drained set ACTIVE again.
    Reactivate,
    /// Capacity-provider mode: their drained-by marks deleted.
    UnmarkReactivated,
    /// Capacity-provider mode: drained-by marks on hosts not DRAINING deleted.
    UnmarkStale,
    /// Capacity-provider mode: the planned hosts marked drained-by.
    MarkDrained,
    /// Capacity-provider mode: the planned hosts set DRAINING.
    Drain,
    /// Capacity-provider mode: given-up marks put on the hosts whose drain was given up or
    /// undone by an operator.
    MarkGivenUp,
    /// The plan's memory: removable-since marks of hosts no longer removable deleted.
    Forget,
    /// The plan's memory: removable-since marks put or refreshed.
    Remember,
    /// The plan's memory: the cluster tagged with its last shortfall.
    RecordShortfall,
}

/// One change and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    /// What the step does, as a failure names it ("setting the planned hosts DRAINING").
    pub what: &'static str,
    pub action: Action,
}

/// Steps carried out in order, each only after the one before it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chain(pub Vec<Step>);

/// What the shell did with a decision's chains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Executed {
    /// The steps that succeeded (an empty step succeeds without a call).
    pub completed: Vec<StepKind>,
    /// Every step that failed (at most one per chain), with the error as text.
    pub failed: Vec<(StepKind, &'static str, String)>,
}

impl Executed {
    /// Whether `kind` succeeded.
    pub fn completed(&self, kind: StepKind) -> bool {
        self.completed.contains(&kind)
    }

    /// The first failure as `<what>: <error>`, if any.
    pub fn first_failure(&self) -> Option<String> {
        self.failed
            .first()
            .map(|(_, what, error)| format!("{what}: {error}"))
    }
}

/// Carrying out a decision's chains, step by step: the shell asks for the next step that
/// needs a call ([`Execution::next_step`]), makes it, and records the result
/// ([`Execution::record`]). A step with nothing to send succeeds without a call; a failure
/// skips the rest of its chain. The Lambda drives it with its AWS calls, the simulator with
/// its state, so both carry a decision out by the same rule.
#[derive(Debug)]
pub struct Execution<'d> {
    chains: &'d [Chain],
    chain: usize,
    step: usize,
    executed: Executed,
}

impl<'d> Execution<'d> {
    pub fn new(chains: &'d [Chain]) -> Execution<'d> {
        Execution {
            chains,
            chain: 0,
            step: 0,
            executed: Executed::default(),
        }
    }

    /// The next step to make a call for, or `None` when every chain is done.
    pub fn next_step(&mut self) -> Option<&'d Step> {
        loop {
            let chain = &self.chains.get(self.chain)?.0;
            let Some(step) = chain.get(self.step) else {
                self.chain += 1;
                self.step = 0;
                continue;
            };
            if step.action.is_empty() {
                self.executed.completed.push(step.kind);
                self.step += 1;
                continue;
            }
            return Some(step);
        }
    }

    /// The result of the step [`Execution::next_step`] returned last.
    pub fn record(&mut self, result: Result<(), String>) {
        let Some(step) = self.chains.get(self.chain).and_then(|c| c.0.get(self.step)) else {
            return;
        };
        match result {
            Ok(()) => {
                self.executed.completed.push(step.kind);
                self.step += 1;
            }
            Err(e) => {
                self.executed.failed.push((step.kind, step.what, e));
                self.chain += 1;
                self.step = 0;
            }
        }
    }

    /// What was done.
    pub fn finish(self) -> Executed {
        self.executed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: StepKind, arns: &[&str]) -> Step {
        Step {
            kind,
            what: "a step",
            action: Action::SetStatus {
                arns: arns.iter().map(|a| (*a).to_owned()).collect(),
                status: TargetStatus::Draining,
            },
        }
    }

    #[test]
    fn a_failure_ends_its_chain_and_the_next_chain_still_runs() {
        let chains = [
            Chain(vec![
                step(StepKind::MarkDrained, &["a"]),
                step(StepKind::Drain, &["a"]),
            ]),
            Chain(vec![step(StepKind::UnmarkStale, &[])]),
            Chain(vec![step(StepKind::Reactivate, &["b"])]),
        ];
        let mut ex = Execution::new(&chains);
        let mut calls = Vec::new();
        while let Some(s) = ex.next_step() {
            calls.push(s.kind);
            ex.record(if s.kind == StepKind::MarkDrained {
                Err("throttled".to_owned())
            } else {
                Ok(())
            });
        }
        let done = ex.finish();
        assert_eq!(
            calls,
            [StepKind::MarkDrained, StepKind::Reactivate],
            "never drained"
        );
        assert_eq!(
            done.completed,
            [StepKind::UnmarkStale, StepKind::Reactivate]
        );
        assert!(!done.completed(StepKind::Drain));
        assert_eq!(done.first_failure().as_deref(), Some("a step: throttled"));
    }
}
