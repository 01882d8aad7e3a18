//! A discrete-time simulation of the whole scaling loop.
//!
//! Each step of `scenario.step` seconds, in this order:
//! 1. services apply their changes (steps, ramps, rolling deployments);
//! 2. launched instances whose launch delay is over register ACTIVE; tasks finish starting
//!    or stopping;
//! 3. DRAINING instances with no task left complete their lifecycle action and terminate
//!    (or are terminated with their tasks when the hook times out);
//! 4. the ECS service scheduler places and stops tasks (binpack or spread), replacing tasks on
//!    DRAINING instances and rolling deployments within maximum/minimum healthy percent; a
//!    service without a capacity provider whose tasks found no room is throttled (ECS's
//!    service throttle logic), one with a capacity provider waits in PROVISIONING;
//! 5. the capacity calculator runs (capacity-core) on every container instance change, on
//!    its schedule and when a task cannot be placed, and publishes ContainerCapacity,
//!    IdleHostCapacity and HostsToAdd, which reach the alarms after the reaction delay;
//! 6. at each alarm period boundary CloudWatch evaluates the alarms, whose actions change the
//!    group's desired capacity (simple policy with cooldown, or step policy with warmup) —
//!    or, under the `capacity-provider` policy, ECS's managed scaling does, each minute;
//!    under the `+consolidation` what-ifs the calculator also computes capacity-core's
//!    consolidation plan (`consolidation`), and sets its hosts DRAINING itself or publishes
//!    HostsToRemove;
//! 7. the Auto Scaling group launches instances, or picks instances to terminate (its
//!    default termination policy, the scale-in chooser, or managed termination protection),
//!    which the lifecycle hook drains first.
//!
//! Everything is integer seconds and seeded: a scenario and a seed give one result.
//!
//! This module holds the state and the step loop; each part of the loop is a child module:
//! `services` (1), `scheduler` (2 and 4), `group` (3 and 7), `calculator` and
//! `consolidation` (5), `alarms` and `capacity_provider` (6). Beside the loop: `ideal`, the
//! scenario's floor; `score`, the figures of a run; `sweep`, runs compared at equal cost.

pub mod alarms;
mod calculator;
mod capacity_provider;
pub mod decision;
mod group;
pub mod ideal;
mod jobs;
mod scheduler;
pub mod score;
mod services;
mod state;
pub mod sweep;
#[cfg(test)]
mod tests;
pub mod what_if;

use capacity_core::CapacityError;

use state::{
    AlarmState, Datapoint, InstState, Instance, Ramp, Rng, ServiceState, Task, TaskState, Usage,
};

use capacity_core::run::Trigger;

use crate::scenario::Scenario;

/// Ports the ECS agent reserves on every container instance.
const RESERVED_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub t: u64,
    pub what: String,
}

/// The state of the cluster at the end of one step (for the chart and the summary).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: u64,
    /// Instances in the group, launching and draining included (what is billed).
    pub instances: u32,
    /// Their CPU units (1024 per vCPU): what is billed, by size.
    pub billed_cpu: u64,
    /// Of those, the CPU units of instances still launching (booting).
    pub booting_cpu: u64,
    /// Of those, the CPU units of registered instances (ACTIVE or DRAINING) with no task on
    /// them: empty hosts waiting to be removed (or kept as spare).
    pub empty_cpu: u64,
    pub active_instances: u32,
    /// Tasks RUNNING.
    pub running_tasks: u32,
    /// Tasks holding resources on an instance: starting, running or stopping.
    pub placed_tasks: u32,
    /// Σ services' desired counts.
    pub desired_tasks: u32,
    /// Tasks a service wants but the scheduler could not place for lack of room.
    pub pending_tasks: u32,
    /// Instances DRAINING with tasks still on them (set DRAINING by the lifecycle hook, or
    /// by the calculator's consolidation): the hosts being disrupted. An empty DRAINING
    /// instance disrupts nothing (a lifecycle action completes the next step).
    pub draining_instances: u32,
    /// The default disruption budget for the instances registered now (ACTIVE or DRAINING):
    /// 10 %, at least 1 (`capacity_core::DisruptionBudget`).
    pub disruption_budget: u32,
    pub container_capacity: u64,
    pub idle_host_capacity: f64,
}

/// A change of the group's desired capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleAction {
    pub t: u64,
    pub from: u32,
    pub to: u32,
}

/// Everything one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: String,
    pub policy: &'static str,
    /// How the group picked instances on scale-in (`default`, `chooser`, …).
    pub termination: &'static str,
    /// Tasks running or starting on the instances the group chose to terminate, when it
    /// chose them: what the drain had to move.
    pub tasks_moved_by_scale_in: u64,
    /// Tasks stopped on hosts the consolidation plan drained (set DRAINING by the calculator,
    /// or terminated by the chooser because planned), for ECS to place elsewhere.
    pub tasks_moved_by_consolidation: u64,
    /// Hosts the consolidation policies set back to ACTIVE because tasks waited.
    pub consolidation_undone: u64,
    /// The scenario's ideal vCPU-hours, fluid ([`ideal::ideal`]).
    pub ideal_vcpu_hours: f64,
    /// The ideal at whole instances of the best type at each step ([`ideal::ideal`]).
    pub ideal_whole_vcpu_hours: f64,
    /// For every task placed, seconds from when its service wanted it to when it was placed
    /// (0 for a task placed at once), in placement order.
    pub placement_waits: Vec<u64>,
    pub step: u64,
    pub flap_window: u64,
    /// The settings of the run that differ from the template's ([`Scenario::not_as_deployed`]).
    pub not_as_deployed: Vec<String>,
    /// ECS's placement back-off the run used (`none`, `default`, `slowest`, `custom`); not
    /// applied to `capacity-provider`.
    pub placement_backoff: &'static str,
    pub reaction_delay: u64,
    pub events: Vec<Event>,
    pub samples: Vec<Sample>,
    pub actions: Vec<ScaleAction>,
}

struct Sim<'a> {
    sc: &'a Scenario,
    t: u64,
    rng: Rng,
    instances: Vec<Instance>,
    tasks: Vec<Task>,
    next_task_id: u64,
    services: Vec<ServiceState>,
    desired_capacity: u32,
    launches: usize,
    cooldown_until: u64,
    alarm_states: [AlarmState; 2],
    datapoints: Vec<Datapoint>,
    changed: bool,
    events: Vec<Event>,
    actions: Vec<ScaleAction>,
    samples: Vec<Sample>,
    pending_episode: Option<(u64, u32)>,
    /// Unplaced tasks after the previous step's scheduling.
    last_pending: u32,
    /// Each service's pending tasks at the last step: a rise is ECS's placement failure.
    last_pending_by_service: Vec<u32>,
    tasks_moved_by_scale_in: u64,
    placement_waits: Vec<u64>,
    /// The capacity provider's managed scaling state.
    managed: capacity_provider::State,
    /// What the calculator keeps between runs (its memory, the cluster's tags, its last task
    /// listing) and what its decisions did.
    calculator: decision::Memory,
    /// The group set an instance DRAINING (lifecycle hook) in this step's scale-in.
    drain_started: bool,
}

/// Runs a scenario to its end. `progress` is called with the fraction done, now and then.
pub fn run(sc: &Scenario, progress: &mut dyn FnMut(f64)) -> Result<Outcome, CapacityError> {
    let mut sim = Sim::new(sc);
    sim.start()?;
    let steps = sc.duration / sc.step;
    let report_every = (steps / 20).max(1);
    for i in 1..=steps {
        sim.t = i * sc.step;
        sim.tick()?;
        if i % report_every == 0 {
            progress(i as f64 / steps as f64);
        }
    }
    let ideal = ideal::ideal(sc);
    Ok(Outcome {
        scenario: sc.name.clone(),
        policy: sc.policy.label(),
        termination: sc.termination.label(),
        tasks_moved_by_scale_in: sim.tasks_moved_by_scale_in,
        tasks_moved_by_consolidation: sim.calculator.tasks_moved,
        consolidation_undone: sim.calculator.undone,
        ideal_vcpu_hours: ideal.fluid,
        ideal_whole_vcpu_hours: ideal.whole_instances,
        placement_waits: sim.placement_waits,
        step: sc.step,
        flap_window: sc.flap_window,
        not_as_deployed: sc.not_as_deployed(),
        placement_backoff: sc.placement_backoff.name,
        reaction_delay: sc.reaction_delay,
        events: sim.events,
        samples: sim.samples,
        actions: sim.actions,
    })
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario) -> Self {
        Sim {
            sc,
            t: 0,
            rng: Rng(sc.seed),
            instances: Vec::new(),
            tasks: Vec::new(),
            next_task_id: 1,
            services: sc
                .services
                .iter()
                .map(|s| ServiceState {
                    desired: s.desired,
                    revisions: vec![s.shape.clone()],
                    next_change: 0,
                    ramp: None,
                    pending: 0,
                    waiting_since: std::collections::VecDeque::new(),
                    failed_attempts: 0,
                    next_attempt: 0,
                    queued: std::collections::VecDeque::new(),
                    next_run: 0,
                })
                .collect(),
            desired_capacity: sc.asg.desired,
            launches: 0,
            cooldown_until: 0,
            alarm_states: [AlarmState::InsufficientData; 2],
            datapoints: Vec::new(),
            changed: true,
            events: Vec::new(),
            actions: Vec::new(),
            samples: Vec::new(),
            pending_episode: None,
            last_pending: 0,
            last_pending_by_service: Vec::new(),
            tasks_moved_by_scale_in: 0,
            placement_waits: Vec::new(),
            managed: capacity_provider::State::default(),
            calculator: decision::Memory::default(),
            drain_started: false,
        }
    }

    fn log(&mut self, what: impl Into<String>) {
        self.events.push(Event {
            t: self.t,
            what: what.into(),
        });
    }

    fn instance_name(&self, id: u32) -> String {
        let ty = self
            .instance(id)
            .and_then(|i| self.sc.instance_types.get(i.type_index))
            .map_or("?", |t| t.name.as_str());
        format!("i-{id} ({ty})")
    }

    /// Instance ids are 1, 2, … in launch order and never reused: the id is the index + 1.
    fn instance(&self, id: u32) -> Option<&Instance> {
        self.instances.get((id as usize).wrapping_sub(1))
    }

    /// The initial state: the group's desired instances registered, services running.
    fn start(&mut self) -> Result<(), CapacityError> {
        let outside = self.sc.asg.outside_group;
        for n in 0..self.sc.asg.desired + outside {
            let id = if n < self.sc.asg.desired {
                self.launch()
            } else {
                self.register_outside_group()
            };
            if let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) {
                inst.state = InstState::Active;
                inst.launched_at = None;
                inst.consolidating = false;
            }
        }
        self.log(format!(
            "start: {} instance(s), {} service(s), policy {}",
            self.sc.asg.desired,
            self.sc.services.len(),
            self.sc.policy.label()
        ));
        self.schedule();
        for task in &mut self.tasks {
            task.state = TaskState::Running;
        }
        self.finish_step()
    }

    fn tick(&mut self) -> Result<(), CapacityError> {
        self.changed = false;
        self.apply_service_changes();
        self.start_job_runs();
        self.advance_instances_and_tasks();
        self.finish_drains();
        self.schedule();
        self.finish_step()
    }

    /// Calculator, alarms, scaling, the group, and the sample.
    fn finish_step(&mut self) -> Result<(), CapacityError> {
        let cap = self.capacity()?;
        let pending: u32 = self.services.iter().map(|s| s.pending).sum();
        let scheduled =
            self.sc.calculator_schedule > 0 && self.t.is_multiple_of(self.sc.calculator_schedule);
        // ECS's SERVICE_TASK_PLACEMENT_FAILURE event runs the calculator at once, and names
        // the services whose tasks found no room (their tasks then skip the room free). A
        // job's RunTask that fails for room raises no such event.
        let of_services = |sim: &Self| -> Vec<u32> {
            sim.sc
                .services
                .iter()
                .zip(&sim.services)
                .map(|(def, s)| if def.is_job() { 0 } else { s.pending })
                .collect()
        };
        let now_pending = of_services(self);
        let failed: Vec<String> = self
            .sc
            .services
            .iter()
            .zip(&now_pending)
            .enumerate()
            .filter(|(i, (_, p))| **p > self.last_pending_by_service.get(*i).copied().unwrap_or(0))
            .map(|(_, (def, _))| def.name.clone())
            .collect();
        let services_pending: u32 = now_pending.iter().sum();
        self.last_pending_by_service = now_pending;
        let placement_failed = services_pending > self.last_pending;
        self.last_pending = services_pending;
        if let Some(cap) = &cap
            && (self.changed || scheduled || placement_failed)
        {
            let (trigger, failures) = if placement_failed {
                (Trigger::PlacementFailure, failed)
            } else if scheduled {
                (Trigger::Schedule, Vec::new())
            } else {
                (Trigger::ContainerInstanceStateChange, Vec::new())
            };
            self.publish(cap, trigger, &failures)?;
        }
        if self.sc.policy.is_capacity_provider() {
            let seen_by_ecs = self.capacity_with_enis()?;
            self.managed_scaling(seen_by_ecs.as_ref());
        } else {
            self.evaluate_alarms();
        }
        self.drain_started = false;
        self.reconcile_group();
        // The drainer sets the instances the group terminates DRAINING within seconds, and
        // that container instance change runs the calculator again: its datapoint sees them
        // leaving (counted against the budget), before an empty one is gone.
        if self.drain_started
            && let Some(cap) = self.capacity()?
        {
            self.publish(&cap, Trigger::ContainerInstanceStateChange, &[])?;
        }
        self.track_pending(pending);
        let sample = Sample {
            t: self.t,
            instances: self
                .instances
                .iter()
                .filter(|i| i.state != InstState::Terminated)
                .count() as u32,
            billed_cpu: self
                .instances
                .iter()
                .filter(|i| i.state != InstState::Terminated)
                .filter_map(|i| self.sc.instance_types.get(i.type_index))
                .map(|ty| u64::from(ty.cpu))
                .sum(),
            booting_cpu: self
                .instances
                .iter()
                .filter(|i| matches!(i.state, InstState::Launching { .. }))
                .filter_map(|i| self.sc.instance_types.get(i.type_index))
                .map(|ty| u64::from(ty.cpu))
                .sum(),
            empty_cpu: self
                .instances
                .iter()
                .filter(|i| matches!(i.state, InstState::Active | InstState::Draining { .. }))
                .filter(|i| !self.runs_non_daemon_tasks(i.id))
                .filter_map(|i| self.sc.instance_types.get(i.type_index))
                .map(|ty| u64::from(ty.cpu))
                .sum(),
            active_instances: self
                .instances
                .iter()
                .filter(|i| i.state == InstState::Active)
                .count() as u32,
            running_tasks: self
                .tasks
                .iter()
                .filter(|t| t.state == TaskState::Running)
                .count() as u32,
            placed_tasks: self.tasks.len() as u32,
            desired_tasks: self.services.iter().map(|s| s.desired).sum(),
            pending_tasks: pending,
            draining_instances: self
                .instances
                .iter()
                .filter(|i| matches!(i.state, InstState::Draining { .. }))
                .filter(|i| self.tasks.iter().any(|k| k.instance == i.id))
                .count() as u32,
            disruption_budget: capacity_core::DisruptionBudget::default().hosts_allowed(
                self.instances
                    .iter()
                    .filter(|i| matches!(i.state, InstState::Active | InstState::Draining { .. }))
                    .count(),
            ),
            container_capacity: cap.as_ref().map_or(0, |c| c.container_capacity()),
            idle_host_capacity: cap.as_ref().map_or(0.0, |c| c.idle_host_capacity()),
        };
        self.samples.push(sample);
        Ok(())
    }

    fn track_pending(&mut self, pending: u32) {
        match (self.pending_episode, pending) {
            (None, 0) => {}
            (None, n) => {
                self.pending_episode = Some((self.t, n));
                let detail = self.pending_detail();
                self.log(format!("{n} task(s) pending: {detail}"));
            }
            (Some((start, peak)), 0) => {
                self.pending_episode = None;
                self.log(format!(
                    "no task pending any more (for {}, peak {peak})",
                    crate::duration::Secs(self.t - start)
                ));
            }
            (Some((start, peak)), n) => self.pending_episode = Some((start, peak.max(n))),
        }
    }

    fn pending_detail(&self) -> String {
        self.sc
            .services
            .iter()
            .zip(&self.services)
            .filter(|(_, s)| s.pending > 0)
            .map(|(def, s)| format!("{} {}", def.name, s.pending))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
