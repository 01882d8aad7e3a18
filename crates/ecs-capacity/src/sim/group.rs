//! The Auto Scaling group and its termination lifecycle hook: launching instances,
//! bringing the group to its desired capacity, picking instances to terminate, and
//! completing drains (or timing them out).
//!
//! Which instances a scale-in terminates ([`Termination`]):
//! * `default` — EC2 Auto Scaling's default termination policy, as its user guide lists it
//!   ("Configure termination policies", *Default termination policy*): balance the
//!   Availability Zones (the simulated group has one), then the instances with the oldest
//!   launch template (they all share one), then the instance closest to its next billing
//!   hour, then at random (seeded) among those.
//! * `chooser` — the scale-in chooser: the group suggests its instances in the default
//!   policy's order, and `capacity_core::scale_in::choose` answers (not registered first, then
//!   fewest tasks, the group's order among equals).
//! * managed termination protection — ECS protects every instance that runs a task
//!   ("Managed termination protection" in ECS's cluster auto scaling guide): only ACTIVE
//!   instances without tasks can go; a scale-in that finds none waits until one empties.

use capacity_core::scale_in::{CapacityToTerminate, DrainCost, SuggestedInstance, choose};

use super::{InstState, Instance, Sim};
use crate::scenario::Termination;

/// The simulated group's one Availability Zone and market option.
const ZONE: &str = "sim-1a";
const MARKET: &str = "on-demand";

impl Sim<'_> {
    pub(super) fn launch(&mut self) -> u32 {
        let types = &self.sc.asg.launch_types;
        let type_index = types
            .get(self.launches % types.len().max(1))
            .copied()
            .unwrap_or(0);
        self.launches += 1;
        let id = self.instances.len() as u32 + 1;
        self.instances.push(Instance {
            id,
            type_index,
            launched_at: Some(self.t),
            consolidating: false,
            state: InstState::Launching {
                ready_at: self.t + self.sc.asg.launch_delay,
            },
        });
        id
    }

    /// The Auto Scaling group brings its instances to the desired capacity.
    pub(super) fn reconcile_group(&mut self) {
        let in_service: Vec<u32> = self
            .instances
            .iter()
            // An instance the calculator set DRAINING (consolidation) is still InService for
            // the group: only the lifecycle hook's drain takes it out.
            .filter(|i| {
                matches!(
                    i.state,
                    InstState::Launching { .. }
                        | InstState::Active
                        | InstState::Draining { deadline: None }
                )
            })
            .map(|i| i.id)
            .collect();
        let count = in_service.len() as u32;
        if count < self.desired_capacity {
            for _ in count..self.desired_capacity {
                let id = self.launch();
                let name = self.instance_name(id);
                self.log(format!("launch {name}"));
            }
        } else if count > self.desired_capacity {
            let excess = count - self.desired_capacity;
            for id in self.choose_to_terminate(in_service, excess) {
                self.terminate(id);
            }
        }
    }

    /// The instances a scale-in of `excess` terminates, by the run's [`Termination`].
    fn choose_to_terminate(&mut self, in_service: Vec<u32>, excess: u32) -> Vec<u32> {
        let mut ordered = self.default_order(in_service);
        // The chooser of `hosts-to-add+consolidation` terminates the planned hosts first
        // (`sim/consolidation.rs`).
        let planned = self.planned_first(&mut ordered, excess);
        let tasks_on = |sim: &Self, id: u32| sim.tasks.iter().filter(|k| k.instance == id).count();
        match self.sc.termination {
            Termination::Default => ordered.into_iter().take(excess as usize).collect(),
            Termination::Chooser if planned > 0 => {
                let mut ids: Vec<u32> = ordered.iter().take(planned).copied().collect();
                for id in &ids {
                    if let Some(inst) = self.instances.iter_mut().find(|i| i.id == *id) {
                        inst.consolidating = true;
                    }
                }
                let rest = ordered.split_off(planned);
                if excess as usize > planned {
                    let more = excess - planned as u32;
                    ids.extend(self.chooser(&rest, more));
                }
                ids
            }
            Termination::Chooser => self.chooser(&ordered, excess),
            Termination::ManagedTerminationProtection => ordered
                .into_iter()
                .filter(|&id| {
                    // [CAS] managed termination protection protects the instances with
                    // tasks: an empty instance may go, ACTIVE or set DRAINING by the
                    // calculator's consolidation.
                    self.instance(id).is_some_and(|i| {
                        matches!(
                            i.state,
                            InstState::Active | InstState::Draining { deadline: None }
                        )
                    }) && tasks_on(self, id) == 0
                })
                .take(excess as usize)
                .collect(),
        }
    }

    /// The scale-in chooser: `capacity_core::scale_in::choose` over the group's suggestions.
    fn chooser(&self, ordered: &[u32], excess: u32) -> Vec<u32> {
        let tasks_on = |sim: &Self, id: u32| sim.tasks.iter().filter(|k| k.instance == id).count();
        {
            {
                let suggested: Vec<SuggestedInstance> = ordered
                    .iter()
                    .map(|id| SuggestedInstance::new(&id.to_string(), ZONE, MARKET))
                    .collect();
                let entry = CapacityToTerminate::new(ZONE, MARKET, excess);
                let cost = |id: &str| {
                    let Ok(id) = id.parse::<u32>() else {
                        return DrainCost::Unknown;
                    };
                    match self.instance(id).map(|i| i.state) {
                        Some(InstState::Launching { .. }) => DrainCost::NotInCluster,
                        Some(_) => DrainCost::Tasks(tasks_on(self, id) as u32),
                        None => DrainCost::Unknown,
                    }
                };
                choose(&[entry], &suggested, cost)
                    .instance_ids()
                    .iter()
                    .filter_map(|id| id.parse().ok())
                    .collect()
            }
        }
    }

    /// The default termination policy's order: the instance closest to its next billing
    /// hour first, ties at random (seeded). Instances the scenario starts with were launched
    /// at time 0.
    fn default_order(&mut self, mut candidates: Vec<u32>) -> Vec<u32> {
        // A seeded shuffle first, so that the stable sort leaves equals in random order.
        for i in (1..candidates.len()).rev() {
            let j = self.rng.below(i + 1);
            candidates.swap(i, j);
        }
        let t = self.t;
        let to_next_hour = |id: &u32| {
            let launched = self.instance(*id).and_then(|i| i.launched_at).unwrap_or(0);
            3600 - (t.saturating_sub(launched) % 3600)
        };
        candidates.sort_by_key(to_next_hour);
        candidates
    }

    fn terminate(&mut self, id: u32) {
        let t = self.t;
        let hook = self.sc.asg.hook_timeout;
        let tasks = self.tasks.iter().filter(|k| k.instance == id).count();
        if self
            .instance(id)
            .is_some_and(|i| !matches!(i.state, InstState::Launching { .. }))
        {
            self.tasks_moved_by_scale_in += tasks as u64;
        }
        let name = self.instance_name(id);
        let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) else {
            return;
        };
        match (inst.state, hook) {
            (InstState::Launching { .. }, _) => {
                inst.state = InstState::Terminated;
                self.log(format!("terminate {name} before it registered"));
            }
            (_, Some(timeout)) => {
                inst.state = InstState::Draining {
                    deadline: Some(t + timeout),
                };
                self.changed = true;
                self.drain_started = true;
                self.log(format!(
                    "terminate {name}: lifecycle hook, set DRAINING with {tasks} task(s)"
                ));
            }
            (_, None) => {
                inst.state = InstState::Terminated;
                self.tasks.retain(|k| k.instance != id);
                self.changed = true;
                self.log(format!(
                    "terminate {name}: no lifecycle hook, {tasks} task(s) killed"
                ));
            }
        }
    }

    pub(super) fn finish_drains(&mut self) {
        let t = self.t;
        let mut done = Vec::new();
        for inst in &self.instances {
            // A host the calculator set DRAINING (consolidation, no lifecycle action) stays in
            // the group until the group terminates it.
            if let InstState::Draining {
                deadline: Some(deadline),
            } = inst.state
            {
                let deadline = Some(deadline);
                let tasks = self.tasks.iter().filter(|k| k.instance == inst.id).count();
                if tasks == 0 {
                    done.push((inst.id, 0));
                } else if deadline.is_some_and(|d| d <= t) {
                    done.push((inst.id, tasks));
                }
            }
        }
        for (id, killed) in done {
            let name = self.instance_name(id);
            if killed == 0 {
                self.log(format!(
                    "{name} drained: lifecycle action completed, terminated"
                ));
            } else {
                self.tasks.retain(|k| k.instance != id);
                self.log(format!(
                    "{name} lifecycle hook timed out: terminated with {killed} task(s) on it"
                ));
            }
            if let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) {
                inst.state = InstState::Terminated;
            }
            self.changed = true;
        }
    }
}
