//! The Auto Scaling group and its termination lifecycle hook: launching instances,
//! bringing the group to its desired capacity, picking instances to terminate (at random,
//! seeded), and completing drains (or timing them out).

use super::{InstState, Instance, Sim};

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
            .filter(|i| matches!(i.state, InstState::Launching { .. } | InstState::Active))
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
            let mut candidates = in_service;
            for _ in self.desired_capacity..count {
                if candidates.is_empty() {
                    break;
                }
                let pick = self.rng.below(candidates.len());
                let id = candidates.remove(pick.min(candidates.len() - 1));
                self.terminate(id);
            }
        }
    }

    fn terminate(&mut self, id: u32) {
        let t = self.t;
        let hook = self.sc.asg.hook_timeout;
        let tasks = self.tasks.iter().filter(|k| k.instance == id).count();
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
            if let InstState::Draining { deadline } = inst.state {
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
