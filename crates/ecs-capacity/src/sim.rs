//! A discrete-time simulation of the whole scaling loop.
//!
//! Each step of `scenario.step` seconds, in this order:
//! 1. services apply their changes (steps, ramps, rolling deployments);
//! 2. launched instances whose launch delay is over register ACTIVE; tasks finish starting
//!    or stopping;
//! 3. DRAINING instances with no task left complete their lifecycle action and terminate
//!    (or are terminated with their tasks when the hook times out);
//! 4. the ECS service scheduler places and stops tasks (binpack or spread), replacing tasks on
//!    DRAINING instances and rolling deployments within maximum/minimum healthy percent;
//! 5. the capacity calculator runs (capacity-core) on every container instance change and on
//!    its schedule, and publishes ContainerCapacity, IdleHostCapacity and HostsToAdd;
//! 6. at each alarm period boundary CloudWatch evaluates the alarms, whose actions change the
//!    group's desired capacity (simple policy with cooldown, or step policy with warmup);
//! 7. the Auto Scaling group launches instances, or picks instances to terminate (at random,
//!    seeded, as the default termination policy does across equal candidates), which the
//!    lifecycle hook drains first.
//!
//! Everything is integer seconds and seeded: a scenario and a seed give one result.

use std::collections::BTreeSet;

use capacity_core::{
    CapacityError, ClusterCapacity, ContainerInstance, EniLimit, InstanceStatus, Resources,
    ScalePolicy, TaskShape, WorstCase, cluster_capacity,
};

use crate::duration::clock;
use crate::scenario::{
    Action, Alarm, ChangeKind, Metric, MissingData, PolicyKind, Scenario, Statistic, Strategy,
};

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
    pub active_instances: u32,
    /// Tasks RUNNING.
    pub running_tasks: u32,
    /// Tasks holding resources on an instance: starting, running or stopping.
    pub placed_tasks: u32,
    /// Σ services' desired counts.
    pub desired_tasks: u32,
    /// Tasks a service wants but the scheduler could not place for lack of room.
    pub pending_tasks: u32,
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
    pub step: u64,
    pub flap_window: u64,
    pub events: Vec<Event>,
    pub samples: Vec<Sample>,
    pub actions: Vec<ScaleAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstState {
    Launching { ready_at: u64 },
    Active,
    Draining { deadline: Option<u64> },
    Terminated,
}

#[derive(Debug, Clone)]
struct Instance {
    id: u32,
    type_index: usize,
    /// `None` for the instances the scenario starts with.
    launched_at: Option<u64>,
    state: InstState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    Starting { until: u64 },
    Running,
    Stopping { until: u64 },
}

#[derive(Debug, Clone)]
struct Task {
    id: u64,
    service: usize,
    revision: usize,
    instance: u32,
    state: TaskState,
}

#[derive(Debug, Clone)]
struct ServiceState {
    desired: u32,
    /// Task shapes by revision index; the last one is current.
    revisions: Vec<TaskShape>,
    next_change: usize,
    ramp: Option<Ramp>,
    pending: u32,
}

#[derive(Debug, Clone, Copy)]
struct Ramp {
    from: u32,
    to: u32,
    start: u64,
    end: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// Free resources of one instance during scheduling.
#[derive(Debug, Clone, Default)]
struct Usage {
    cpu: u32,
    memory: u32,
    gpus: u32,
    enis: u32,
    ports_tcp: BTreeSet<u16>,
    ports_udp: BTreeSet<u16>,
}

/// SplitMix64: small, seeded, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small (instances of one group): the modulo bias is negligible.
        (self.next() % n.max(1) as u64) as usize
    }
}

struct Datapoint {
    t: u64,
    container_capacity: f64,
    idle_host_capacity: f64,
    hosts_to_add: f64,
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
    Ok(Outcome {
        scenario: sc.name.clone(),
        policy: sc.policy.label(),
        step: sc.step,
        flap_window: sc.flap_window,
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

    /// The initial state: the group's desired instances registered, services running.
    fn start(&mut self) -> Result<(), CapacityError> {
        for _ in 0..self.sc.asg.desired {
            let id = self.launch();
            if let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) {
                inst.state = InstState::Active;
                inst.launched_at = None;
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
        if let Some(cap) = &cap
            && (self.changed || scheduled)
        {
            self.publish(cap, pending)?;
        }
        self.evaluate_alarms();
        self.reconcile_group();
        self.track_pending(pending);
        let sample = Sample {
            t: self.t,
            instances: self
                .instances
                .iter()
                .filter(|i| i.state != InstState::Terminated)
                .count() as u32,
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
            container_capacity: cap.as_ref().map_or(0, |c| c.container_capacity),
            idle_host_capacity: cap.as_ref().map_or(0.0, |c| c.idle_host_capacity),
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

    // ----------------------------------------------------------------------------------
    // Services

    fn apply_service_changes(&mut self) {
        let t = self.t;
        for (index, def) in self.sc.services.iter().enumerate() {
            let Some(state) = self.services.get_mut(index) else {
                continue;
            };
            let mut logs = Vec::new();
            while let Some(change) = def.changes.get(state.next_change) {
                if change.at > t {
                    break;
                }
                state.next_change += 1;
                match &change.kind {
                    ChangeKind::Step(d) => {
                        logs.push(format!(
                            "service {} desired {} -> {d}",
                            def.name, state.desired
                        ));
                        state.desired = *d;
                        state.ramp = None;
                    }
                    ChangeKind::Ramp { to, until } => {
                        logs.push(format!(
                            "service {} ramps {} -> {to} until {}",
                            def.name,
                            state.desired,
                            clock(*until)
                        ));
                        state.ramp = Some(Ramp {
                            from: state.desired,
                            to: *to,
                            start: change.at,
                            end: *until,
                        });
                    }
                    ChangeKind::Deploy(shape) => {
                        logs.push(format!(
                            "service {} deploys {} ({} CPU, {} MiB): rolling, maximum {} %",
                            def.name, shape.name, shape.cpu, shape.memory_mib, def.maximum_percent
                        ));
                        state.revisions.push(shape.clone());
                    }
                }
            }
            if let Some(r) = state.ramp {
                let span = r.end.saturating_sub(r.start).max(1);
                let done = t.saturating_sub(r.start).min(span);
                let (from, to) = (i64::from(r.from), i64::from(r.to));
                // Round to nearest, in integers.
                let value = from
                    + ((to - from) * done as i64 * 2 + span as i64).div_euclid(2 * span as i64);
                state.desired = u32::try_from(value.max(0)).unwrap_or(0);
                if t >= r.end {
                    state.ramp = None;
                }
            }
            for l in logs {
                self.events.push(Event { t, what: l });
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Instances and tasks

    fn launch(&mut self) -> u32 {
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

    fn advance_instances_and_tasks(&mut self) {
        let t = self.t;
        let mut registered = Vec::new();
        for inst in &mut self.instances {
            if let InstState::Launching { ready_at } = inst.state
                && ready_at <= t
            {
                inst.state = InstState::Active;
                registered.push(inst.id);
            }
        }
        for id in registered {
            self.changed = true;
            let name = self.instance_name(id);
            self.log(format!("{name} registered ACTIVE"));
        }
        for task in &mut self.tasks {
            if let TaskState::Starting { until } = task.state
                && until <= t
            {
                task.state = TaskState::Running;
                self.changed = true;
            }
        }
        let before = self.tasks.len();
        self.tasks
            .retain(|task| !matches!(task.state, TaskState::Stopping { until } if until <= t));
        if self.tasks.len() != before {
            self.changed = true;
        }
    }

    fn finish_drains(&mut self) {
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

    /// What is free on each registered (ACTIVE or DRAINING) instance, by instance id. One
    /// pass over the tasks: this runs every step.
    fn usage(&self) -> Vec<(u32, Usage)> {
        let mut by_index: Vec<Option<Usage>> = self
            .instances
            .iter()
            .map(|inst| {
                if !matches!(inst.state, InstState::Active | InstState::Draining { .. }) {
                    return None;
                }
                let ty = self.sc.instance_types.get(inst.type_index)?;
                Some(Usage {
                    cpu: ty.cpu,
                    memory: ty.memory_mib,
                    gpus: ty.gpus,
                    enis: ty.max_enis.map_or(u32::MAX, |m| m.saturating_sub(1)),
                    ports_tcp: RESERVED_PORTS.into_iter().collect(),
                    ports_udp: BTreeSet::new(),
                })
            })
            .collect();
        for task in &self.tasks {
            let slot = by_index
                .get_mut((task.instance as usize).wrapping_sub(1))
                .and_then(Option::as_mut);
            if let (Some(u), Some(shape)) = (slot, self.shape(task)) {
                take(u, shape);
            }
        }
        by_index
            .into_iter()
            .zip(&self.instances)
            .filter_map(|(u, inst)| u.map(|u| (inst.id, u)))
            .collect()
    }

    fn shape(&self, task: &Task) -> Option<&TaskShape> {
        self.services
            .get(task.service)
            .and_then(|s| s.revisions.get(task.revision))
    }

    /// Instance ids are 1, 2, … in launch order and never reused: the id is the index + 1.
    fn instance(&self, id: u32) -> Option<&Instance> {
        self.instances.get((id as usize).wrapping_sub(1))
    }

    fn is_active(&self, id: u32) -> bool {
        self.instance(id)
            .is_some_and(|i| i.state == InstState::Active)
    }

    /// The ECS service scheduler, service by service.
    fn schedule(&mut self) {
        let mut usage = self.usage();
        for s in 0..self.services.len() {
            let Some(def) = self.sc.services.get(s) else {
                continue;
            };
            let Some(state) = self.services.get(s) else {
                continue;
            };
            let desired = state.desired;
            let current = state.revisions.len() - 1;
            let Some(shape) = state.revisions.last().cloned() else {
                continue;
            };
            let max_total = (u64::from(desired) * u64::from(def.maximum_percent) / 100) as usize;
            let min_healthy = (u64::from(desired) * u64::from(def.minimum_healthy_percent))
                .div_ceil(100) as usize;

            // Tasks of the current revision on ACTIVE instances beyond the desired count.
            let mut good: Vec<u64> = self
                .tasks
                .iter()
                .filter(|k| {
                    k.service == s
                        && k.revision == current
                        && !matches!(k.state, TaskState::Stopping { .. })
                        && self.is_active(k.instance)
                })
                .map(|k| k.id)
                .collect();
            while good.len() > desired as usize {
                let victim = self.pick_excess(s, &good, &usage);
                good.retain(|id| *id != victim);
                self.stop_task(victim, &mut usage);
            }

            // Place what is missing, within maximum percent.
            let live = self
                .tasks
                .iter()
                .filter(|k| k.service == s && !matches!(k.state, TaskState::Stopping { .. }))
                .count();
            let want = (desired as usize).saturating_sub(good.len());
            let allowed = max_total.saturating_sub(live);
            let tries = want.min(allowed);
            let mut placed = 0;
            for _ in 0..tries {
                let Some(instance) = self.pick_instance(s, &shape, &usage) else {
                    break;
                };
                if let Some((_, u)) = usage.iter_mut().find(|(id, _)| *id == instance) {
                    take(u, &shape);
                }
                self.tasks.push(Task {
                    id: self.next_task_id,
                    service: s,
                    revision: current,
                    instance,
                    state: TaskState::Starting {
                        until: self.t + self.sc.task_start,
                    },
                });
                self.next_task_id += 1;
                placed += 1;
                self.changed = true;
            }
            if let Some(state) = self.services.get_mut(s) {
                state.pending = (tries - placed) as u32;
            }

            // Stop tasks of old revisions and on DRAINING instances, keeping the minimum
            // healthy count RUNNING; tasks on DRAINING instances go first.
            let mut obsolete: Vec<(bool, u64, bool)> = self
                .tasks
                .iter()
                .filter(|k| {
                    k.service == s
                        && !matches!(k.state, TaskState::Stopping { .. })
                        && (k.revision != current || !self.is_active(k.instance))
                })
                .map(|k| {
                    (
                        self.is_active(k.instance),
                        k.id,
                        k.state == TaskState::Running,
                    )
                })
                .collect();
            obsolete.sort();
            let mut running = self
                .tasks
                .iter()
                .filter(|k| k.service == s && k.state == TaskState::Running)
                .count();
            for (_, id, is_running) in obsolete {
                if is_running {
                    if running <= min_healthy {
                        continue;
                    }
                    running -= 1;
                }
                self.stop_task(id, &mut usage);
            }
        }
    }

    fn stop_task(&mut self, id: u64, usage: &mut [(u32, Usage)]) {
        let until = self.t + self.sc.task_stop;
        if let Some(task) = self.tasks.iter_mut().find(|k| k.id == id) {
            // A task that has not started yet is simply cancelled.
            if matches!(task.state, TaskState::Starting { .. }) {
                let instance = task.instance;
                self.tasks.retain(|k| k.id != id);
                self.refresh_usage(instance, usage);
            } else {
                task.state = TaskState::Stopping { until };
            }
            self.changed = true;
        }
    }

    fn refresh_usage(&self, instance: u32, usage: &mut [(u32, Usage)]) {
        let fresh = self.usage();
        if let (Some((_, slot)), Some((_, new))) = (
            usage.iter_mut().find(|(id, _)| *id == instance),
            fresh.into_iter().find(|(id, _)| *id == instance),
        ) {
            *slot = new;
        }
    }

    /// Which of the service's surplus tasks to stop: binpack frees the emptiest instance,
    /// spread the instance with most of this service's tasks; not-yet-running tasks first.
    fn pick_excess(&self, service: usize, candidates: &[u64], usage: &[(u32, Usage)]) -> u64 {
        let key = |task: &Task| {
            let free_memory = usage
                .iter()
                .find(|(id, _)| *id == task.instance)
                .map_or(0, |(_, u)| u.memory);
            let same = self
                .tasks
                .iter()
                .filter(|k| k.service == service && k.instance == task.instance)
                .count() as u32;
            let starting = matches!(task.state, TaskState::Starting { .. });
            let packing = match self.sc.strategy {
                Strategy::Binpack => free_memory,
                Strategy::Spread => same,
            };
            (starting, packing, task.id)
        };
        self.tasks
            .iter()
            .filter(|k| candidates.contains(&k.id))
            .max_by_key(|k| key(k))
            .map_or(candidates.first().copied().unwrap_or(0), |k| k.id)
    }

    /// The ACTIVE instance to place one task of `shape` on, or `None` when none has room.
    fn pick_instance(
        &self,
        service: usize,
        shape: &TaskShape,
        usage: &[(u32, Usage)],
    ) -> Option<u32> {
        usage
            .iter()
            .filter(|(id, u)| self.is_active(*id) && fits(u, shape))
            .min_by_key(|(id, u)| match self.sc.strategy {
                Strategy::Binpack => (u.memory, u.cpu, *id),
                Strategy::Spread => {
                    let same = self
                        .tasks
                        .iter()
                        .filter(|k| k.service == service && k.instance == *id)
                        .count() as u32;
                    (same, u32::MAX - u.memory, *id)
                }
            })
            .map(|(id, _)| *id)
    }

    // ----------------------------------------------------------------------------------
    // The calculator

    /// The container instances as ECS would describe them now.
    fn container_instances(&self) -> Vec<ContainerInstance> {
        let usage = self.usage();
        usage
            .iter()
            .filter_map(|(id, u)| {
                let inst = self.instances.iter().find(|i| i.id == *id)?;
                let ty = self.sc.instance_types.get(inst.type_index)?;
                let reserved: BTreeSet<u16> = RESERVED_PORTS.into_iter().collect();
                // Usage counts ENI slots down from the type's; what is missing is in use.
                let task_enis = ty
                    .max_enis
                    .map_or(0, |m| m.saturating_sub(1).saturating_sub(u.enis));
                Some(ContainerInstance {
                    id: format!("i-{id}"),
                    ec2_instance_id: Some(format!("i-{id}")),
                    instance_type: Some(ty.name.clone()),
                    status: if inst.state == InstState::Active {
                        InstanceStatus::Active
                    } else {
                        InstanceStatus::Draining
                    },
                    agent_connected: true,
                    registered: Resources {
                        cpu: ty.cpu,
                        memory_mib: ty.memory_mib,
                        ports_tcp: reserved,
                        ports_udp: BTreeSet::new(),
                        gpus: ty.gpus,
                    },
                    remaining: Resources {
                        cpu: u.cpu,
                        memory_mib: u.memory,
                        ports_tcp: u.ports_tcp.clone(),
                        ports_udp: u.ports_udp.clone(),
                        gpus: u.gpus,
                    },
                    eni: ty.max_enis.map(|max_enis| EniLimit {
                        max_enis,
                        task_enis_in_use: task_enis,
                    }),
                })
            })
            .collect()
    }

    /// The worst case over the services' current revisions and every revision with a task
    /// (the calculator's discovery: ACTIVE services' deployments and running tasks).
    fn worst_case(&self) -> Result<WorstCase, CapacityError> {
        let mut shapes: Vec<&TaskShape> = Vec::new();
        for (s, state) in self.services.iter().enumerate() {
            for (r, shape) in state.revisions.iter().enumerate() {
                let in_use = r + 1 == state.revisions.len()
                    || self.tasks.iter().any(|k| k.service == s && k.revision == r);
                if in_use {
                    shapes.push(shape);
                }
            }
        }
        WorstCase::of(shapes)
    }

    /// ContainerCapacity and IdleHostCapacity now; `None` before any instance registered.
    fn capacity(&self) -> Result<Option<ClusterCapacity>, CapacityError> {
        let instances = self.container_instances();
        if instances.is_empty() {
            return Ok(None);
        }
        cluster_capacity(&instances, &self.worst_case()?).map(Some)
    }

    fn publish(&mut self, cap: &ClusterCapacity, pending: u32) -> Result<(), CapacityError> {
        // As capacity-calculator publishes it: capacity-core's one assessment. The what-if
        // variant also sizes for the tasks the services could not place (each counted as a
        // worst-case task, which errs on the generous side).
        let assessment = cap.assess(&self.sc.headroom);
        let hosts_to_add = if self.sc.policy == PolicyKind::HostsToAddPending {
            let headroom = self.sc.headroom.headroom().saturating_add(pending);
            cap.assess(&ScalePolicy::new(headroom)?).hosts_to_add
        } else {
            assessment.hosts_to_add
        };
        self.datapoints.push(Datapoint {
            t: self.t,
            container_capacity: assessment.container_capacity as f64,
            // As published: beyond the headroom, so the scale-in alarm agrees with the decision.
            idle_host_capacity: assessment.idle_host_capacity,
            hosts_to_add: f64::from(hosts_to_add),
        });
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // CloudWatch alarms and Auto Scaling policies

    fn evaluate_alarms(&mut self) {
        // Only the alarms' windows are ever read: keep the datapoints bounded on long runs.
        let window = [&self.sc.scale_out, &self.sc.scale_in]
            .iter()
            .map(|a| a.period * u64::from(a.evaluation_periods))
            .max()
            .unwrap_or(0);
        let oldest = self.t.saturating_sub(window);
        self.datapoints.retain(|d| d.t >= oldest);
        for (index, alarm) in [&self.sc.scale_out, &self.sc.scale_in]
            .into_iter()
            .enumerate()
        {
            if self.t == 0 || !self.t.is_multiple_of(alarm.period) {
                continue;
            }
            let (state, latest) = self.evaluate(alarm, index);
            let previous = self
                .alarm_states
                .get(index)
                .copied()
                .unwrap_or(AlarmState::Ok);
            if state != previous {
                let value = latest.map_or("no data".to_owned(), |v| format!("{v:.2}"));
                self.events.push(Event {
                    t: self.t,
                    what: format!(
                        "alarm {} ({} {} {}): {} -> {} (last {value})",
                        alarm.name,
                        alarm.metric.name(),
                        alarm.comparison.symbol(),
                        alarm.threshold,
                        previous.as_str(),
                        state.as_str()
                    ),
                });
                if let Some(s) = self.alarm_states.get_mut(index) {
                    *s = state;
                }
            }
            // Alarms invoke Auto Scaling actions on every evaluation while in ALARM.
            if state == AlarmState::Alarm {
                self.act(alarm, latest.unwrap_or(0.0));
            }
        }
    }

    /// The alarm's new state over its last `evaluation_periods` periods, and the latest
    /// period's statistic.
    fn evaluate(&self, alarm: &Alarm, index: usize) -> (AlarmState, Option<f64>) {
        let mut breaching = 0;
        let mut present = 0;
        let mut latest = None;
        for k in 0..alarm.evaluation_periods {
            let end = self.t.saturating_sub(u64::from(k) * alarm.period);
            let start = end.saturating_sub(alarm.period);
            let values: Vec<f64> = self
                .datapoints
                .iter()
                // A period is [start, end): datapoints of this very step count next period.
                .filter(|d| d.t >= start && d.t < end)
                .map(|d| match alarm.metric {
                    Metric::ContainerCapacity => d.container_capacity,
                    Metric::IdleHostCapacity => d.idle_host_capacity,
                    Metric::HostsToAdd => d.hosts_to_add,
                })
                .collect();
            let value = aggregate(alarm.statistic, &values);
            if k == 0 {
                latest = value;
            }
            match (value, alarm.missing_data) {
                (Some(v), _) => {
                    present += 1;
                    if alarm.comparison.breaches(v, alarm.threshold) {
                        breaching += 1;
                    }
                }
                (None, MissingData::Breaching) => {
                    present += 1;
                    breaching += 1;
                }
                (None, MissingData::NotBreaching) => present += 1,
                (None, MissingData::Ignore | MissingData::Missing) => {}
            }
        }
        let current = self
            .alarm_states
            .get(index)
            .copied()
            .unwrap_or(AlarmState::Ok);
        let state = if breaching >= alarm.datapoints_to_alarm {
            AlarmState::Alarm
        } else if present == 0 {
            match alarm.missing_data {
                MissingData::Missing => AlarmState::InsufficientData,
                _ => current,
            }
        } else {
            AlarmState::Ok
        };
        (state, latest)
    }

    fn act(&mut self, alarm: &Alarm, value: f64) {
        let t = self.t;
        let from = self.desired_capacity;
        let (min, max) = (self.sc.asg.min, self.sc.asg.max);
        let launching = self
            .instances
            .iter()
            .any(|i| matches!(i.state, InstState::Launching { .. }));
        let to = match alarm.action {
            Action::Simple {
                adjustment,
                cooldown,
            } => {
                if t < self.cooldown_until || (adjustment < 0 && launching) {
                    return;
                }
                let to = (i64::from(from) + adjustment).clamp(i64::from(min), i64::from(max));
                let to = u32::try_from(to).unwrap_or(from);
                if to != from {
                    self.cooldown_until = t + cooldown;
                }
                to
            }
            Action::StepByMetric { warmup } => {
                let warming = self
                    .instances
                    .iter()
                    .filter(|i| {
                        i.state != InstState::Terminated
                            && i.launched_at.is_some_and(|at| at + warmup > t)
                    })
                    .count() as u32;
                // The template's steps add n hosts for HostsToAdd n, at most 10 per trigger.
                let adjustment = (value.max(0.0).ceil() as u32).min(10);
                let target = from.saturating_sub(warming).saturating_add(adjustment);
                if target <= from {
                    return;
                }
                target.min(max)
            }
        };
        if to == from {
            return;
        }
        self.desired_capacity = to;
        self.actions.push(ScaleAction { t, from, to });
        let how = match alarm.action {
            Action::Simple { adjustment, .. } => format!("simple policy {adjustment:+}"),
            Action::StepByMetric { .. } => format!("step policy, HostsToAdd {value}"),
        };
        self.log(format!(
            "{} ({how}): desired capacity {from} -> {to}",
            if to > from { "scale out" } else { "scale in" }
        ));
    }

    /// The Auto Scaling group brings its instances to the desired capacity.
    fn reconcile_group(&mut self) {
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
}

fn take(u: &mut Usage, shape: &TaskShape) {
    u.cpu = u.cpu.saturating_sub(shape.cpu);
    u.memory = u.memory.saturating_sub(shape.memory_mib);
    u.gpus = u.gpus.saturating_sub(shape.gpus);
    if shape.awsvpc {
        u.enis = u.enis.saturating_sub(1);
    }
    u.ports_tcp.extend(shape.ports_tcp.iter().copied());
    u.ports_udp.extend(shape.ports_udp.iter().copied());
}

fn fits(u: &Usage, shape: &TaskShape) -> bool {
    u.cpu >= shape.cpu
        && u.memory >= shape.memory_mib
        && u.gpus >= shape.gpus
        && (!shape.awsvpc || u.enis >= 1)
        && shape.ports_tcp.is_disjoint(&u.ports_tcp)
        && shape.ports_udp.is_disjoint(&u.ports_udp)
}

fn aggregate(statistic: Statistic, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match statistic {
        Statistic::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
        Statistic::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Statistic::Average => values.iter().sum::<f64>() / values.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Comparison, parse};

    fn scale_in_alarm(
        evaluation_periods: u32,
        datapoints_to_alarm: u32,
        missing: MissingData,
    ) -> Alarm {
        Alarm {
            name: "scale-in",
            metric: Metric::IdleHostCapacity,
            period: 60,
            evaluation_periods,
            datapoints_to_alarm,
            statistic: Statistic::Minimum,
            comparison: Comparison::Greater,
            threshold: 1.0,
            missing_data: missing,
            action: Action::Simple {
                adjustment: -1,
                cooldown: 300,
            },
        }
    }

    /// A simulation at `t` with IdleHostCapacity datapoints `(t, value)`.
    fn with_points<'a>(sc: &'a Scenario, t: u64, points: &[(u64, f64)]) -> Sim<'a> {
        let mut sim = Sim::new(sc);
        sim.t = t;
        sim.alarm_states = [AlarmState::Ok, AlarmState::Ok];
        sim.datapoints = points
            .iter()
            .map(|&(t, v)| Datapoint {
                t,
                container_capacity: 0.0,
                idle_host_capacity: v,
                hosts_to_add: 0.0,
            })
            .collect();
        sim
    }

    #[test]
    fn statistics_aggregate_one_period() {
        let v = [1.5, 0.5, 1.0];
        assert_eq!(aggregate(Statistic::Minimum, &v), Some(0.5));
        assert_eq!(aggregate(Statistic::Maximum, &v), Some(1.5));
        assert_eq!(aggregate(Statistic::Average, &v), Some(1.0));
        assert_eq!(aggregate(Statistic::Minimum, &[]), None);
    }

    #[test]
    fn the_minimum_of_a_period_decides_so_one_dip_keeps_the_alarm_ok() {
        let sc = parse("book", crate::scenario::BOOK).expect("valid");
        let alarm = scale_in_alarm(1, 1, MissingData::Ignore);
        // Period [60, 120): 1.5 then a dip to 1.0 → Minimum 1.0, not above 1.
        let sim = with_points(&sc, 120, &[(60, 1.5), (90, 1.0)]);
        assert_eq!(sim.evaluate(&alarm, 1), (AlarmState::Ok, Some(1.0)));
        // A datapoint at the boundary itself belongs to the next period.
        let sim = with_points(&sc, 120, &[(60, 1.5), (120, 1.0)]);
        assert_eq!(sim.evaluate(&alarm, 1), (AlarmState::Alarm, Some(1.5)));
    }

    #[test]
    fn m_out_of_n_needs_m_breaching_periods() {
        let sc = parse("book", crate::scenario::BOOK).expect("valid");
        let alarm = scale_in_alarm(3, 2, MissingData::Ignore);
        let points = [(0, 1.5), (60, 0.5), (120, 1.5)];
        assert_eq!(
            with_points(&sc, 180, &points).evaluate(&alarm, 1).0,
            AlarmState::Alarm
        );
        let points = [(0, 0.5), (60, 0.5), (120, 1.5)];
        assert_eq!(
            with_points(&sc, 180, &points).evaluate(&alarm, 1).0,
            AlarmState::Ok
        );
    }

    #[test]
    fn missing_data_follows_its_treatment() {
        let sc = parse("book", crate::scenario::BOOK).expect("valid");
        let state = |missing| {
            with_points(&sc, 300, &[])
                .evaluate(&scale_in_alarm(2, 2, missing), 1)
                .0
        };
        assert_eq!(
            state(MissingData::Ignore),
            AlarmState::Ok,
            "keeps its state"
        );
        assert_eq!(state(MissingData::Missing), AlarmState::InsufficientData);
        assert_eq!(state(MissingData::Breaching), AlarmState::Alarm);
        assert_eq!(state(MissingData::NotBreaching), AlarmState::Ok);
    }

    #[test]
    fn the_same_seed_picks_the_same_instances() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let picks: Vec<usize> = (0..10).map(|_| a.below(5)).collect();
        assert_eq!(picks, (0..10).map(|_| b.below(5)).collect::<Vec<_>>());
        assert!(picks.iter().all(|p| *p < 5));
    }
}
