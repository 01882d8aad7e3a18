//! Consolidation: the two what-if policies that act on capacity-core's scale-in plan
//! (`capacity_core::plan_scale_in`). Neither is deployed by `infra/template.yaml` yet; the
//! deployed loop (`hosts-to-add`, and its settings contract) is unchanged.
//!
//! The calculator reads the cluster as it does in production: every registered container
//! instance (ACTIVE or DRAINING) with its registered and remaining resources and the shapes
//! of the tasks on it (starting or running; a stopping task is leaving and is not moved, its
//! room still counts as taken), without ENI limits (the calculator's read carries none), the
//! tasks that wait, the deployed headroom, the default disruption budget (10 %, at least 1,
//! hosts already DRAINING counted) and a stability window equal to the scale-in alarm's
//! evaluation window (period × evaluation periods: 300 s as deployed). The plan's
//! `removable_since` is kept between runs, as the Lambda would keep it.
//!
//! * `capacity-provider+consolidation` (issue #20): managed scaling unchanged
//!   (`sim/capacity_provider.rs`); on the calculator's schedule (every minute) the plan's
//!   hosts are set DRAINING by the calculator itself (`UpdateContainerInstancesState`). ECS's
//!   service scheduler replaces their tasks elsewhere (the scheduler's DRAINING rule). A
//!   drained host with no task left is not protected by managed termination protection
//!   ([CAS]: it protects instances "that contain tasks") and counts as an empty instance for
//!   managed scaling, which removes it by its scale-in rule (15 datapoints below target, at
//!   most half the instances a minute). **Undo:** whenever tasks wait and a host the
//!   calculator set DRAINING is still in the group, it is set back to ACTIVE at once.
//! * `hosts-to-add+consolidation` (issue #19): the deployed scale-out; the calculator
//!   publishes HostsToRemove = the plan's size on every run; the scale-in alarm (the
//!   IdleHostCapacity alarm's period, evaluation periods, Minimum statistic and missing data)
//!   on HostsToRemove ≥ 1 runs a step policy that lowers the desired capacity by
//!   HostsToRemove in one step, and the scale-in chooser terminates the hosts of the latest
//!   plan first (then its usual ranking, should the group ask for more). The lifecycle hook
//!   drains them as today.

use std::collections::BTreeMap;
use std::time::Duration;

use capacity_core::{CapacityError, ClusterHost, ScaleInInput, ScaleInPlan, plan_scale_in};

use super::{InstState, Sim, TaskState};

/// What the calculator keeps between runs, and what consolidation did.
#[derive(Debug, Default)]
pub(super) struct State {
    /// The previous plan's `removable_since`.
    removable_since: BTreeMap<String, u64>,
    /// The previous plan's `last_shortfall` (the calculator keeps it beside
    /// `removable_since`).
    last_shortfall: Option<u64>,
    /// The latest plan's hosts (instance ids), for the chooser.
    planned: Vec<u32>,
    /// Tasks stopped on consolidated hosts (counted by the scheduler).
    pub(super) tasks_moved: u64,
    /// Hosts set back to ACTIVE because tasks waited.
    pub(super) undone: u64,
}

fn instance_id(id: &str) -> Option<u32> {
    id.strip_prefix("i-")?.parse().ok()
}

impl Sim<'_> {
    /// capacity-core's plan for the cluster as the calculator reads it now; keeps the
    /// stability state for the next run.
    pub(super) fn plan(&mut self) -> Result<ScaleInPlan, CapacityError> {
        let instances = self.container_instances(false);
        let hosts: Vec<ClusterHost> = instances
            .into_iter()
            .map(|instance| {
                let id = instance_id(&instance.id);
                let tasks = self
                    .tasks
                    .iter()
                    .filter(|k| Some(k.instance) == id)
                    .filter(|k| !matches!(k.state, TaskState::Stopping { .. }))
                    .filter_map(|k| self.shape(k).cloned())
                    .collect();
                ClusterHost::new(instance, tasks)
            })
            .collect();
        let worst = self.worst_case()?;
        let waiting = self.demand().unplaced;
        let mut input =
            ScaleInInput::new(&hosts, &worst, self.t, &self.consolidation.removable_since);
        input.policy = self.sc.headroom;
        input.waiting = &waiting;
        input.budget = self.sc.disruption_budget;
        input.stability_window = Duration::from_secs(self.sc.consolidation_stability);
        input.last_shortfall = self.consolidation.last_shortfall;
        let plan = plan_scale_in(&input);
        self.consolidation.removable_since = plan.removable_since.clone();
        self.consolidation.last_shortfall = plan.last_shortfall;
        self.consolidation.planned = plan.ids().into_iter().filter_map(instance_id).collect();
        Ok(plan)
    }

    /// `capacity-provider+consolidation`, each step after the calculator: undo when tasks
    /// wait, else on the schedule set the planned hosts DRAINING.
    pub(super) fn consolidate_through_draining(
        &mut self,
        pending: u32,
        scheduled: bool,
    ) -> Result<(), CapacityError> {
        if pending > 0 {
            let drained: Vec<u32> = self
                .instances
                .iter()
                .filter(|i| i.consolidating && i.state == (InstState::Draining { deadline: None }))
                .map(|i| i.id)
                .collect();
            for id in drained {
                if let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) {
                    inst.state = InstState::Active;
                    inst.consolidating = false;
                }
                self.consolidation.undone += 1;
                self.changed = true;
                let name = self.instance_name(id);
                self.log(format!(
                    "consolidation undone: {pending} task(s) wait, {name} set back to ACTIVE"
                ));
            }
            // The scheduled run still computes the plan (it acts on nothing): the plan
            // records the shortfall its quiet period counts from.
            if scheduled {
                self.plan()?;
            }
            return Ok(());
        }
        if !scheduled {
            return Ok(());
        }
        let plan = self.plan()?;
        for planned in &plan.remove {
            let Some(id) = instance_id(&planned.id) else {
                continue;
            };
            let tasks = self.tasks.iter().filter(|k| k.instance == id).count();
            let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) else {
                continue;
            };
            if inst.state != InstState::Active {
                continue;
            }
            inst.state = InstState::Draining { deadline: None };
            inst.consolidating = true;
            self.changed = true;
            let name = self.instance_name(id);
            self.log(format!(
                "consolidation: calculator sets {name} DRAINING ({tasks} task(s); {}; budget {}, {} draining already)",
                planned.why, plan.budget, plan.draining
            ));
        }
        Ok(())
    }

    /// Moves the latest plan's hosts that are in `ordered` to its front (keeping the plan's
    /// order), at most `excess`; returns how many. Only under `hosts-to-add+consolidation`.
    pub(super) fn planned_first(&self, ordered: &mut Vec<u32>, excess: u32) -> usize {
        if self.sc.policy != crate::scenario::PolicyKind::HostsToAdd {
            return 0;
        }
        let planned: Vec<u32> = self
            .consolidation
            .planned
            .iter()
            .copied()
            .filter(|id| ordered.contains(id))
            .filter(|id| {
                self.instance(*id)
                    .is_some_and(|i| i.state == InstState::Active)
            })
            .take(excess as usize)
            .collect();
        ordered.retain(|id| !planned.contains(id));
        let n = planned.len();
        let mut front = planned;
        front.append(ordered);
        *ordered = front;
        n
    }
}
