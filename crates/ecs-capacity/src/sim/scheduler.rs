//! Instances and tasks, and the ECS service scheduler: instances register, tasks finish
//! starting or stopping; the scheduler places and stops tasks (binpack or spread) within
//! the services' maximum and minimum healthy percent, and keeps track of what is free.
//!
//! Tasks that find no room, by the run's policy (sources in
//! [`crate::scenario::PlacementBackoff`] and `sim/capacity_provider.rs`):
//! * without a capacity provider (`book`, `hosts-to-add`): ECS's service throttle logic.
//!   [THROTTLE] names "a lack of resources … such as ports, memory, or CPU units" among its
//!   causes, so an attempt that leaves a task unplaced counts as a failed attempt; after the
//!   n-th consecutive one the next attempt waits the back-off's n-th pause, however many
//!   hosts register meanwhile (a new host does not wake a throttled service: none of the
//!   sources says it does). An attempt that places every wanted task ends the throttle; one
//!   that places some but not all still counts as failed (the sources count attempts that
//!   leave tasks unstarted; *the stricter reading*, stated so). A new task definition resets
//!   it ([THROTTLE]). A service with nothing to place makes no attempt.
//! * with a capacity provider with managed scaling (`capacity-provider`): the tasks wait in
//!   PROVISIONING and are placed as soon as an instance has room, every step (no throttle:
//!   ECS places provisioning tasks as capacity registers, [BLOG]).

use std::collections::BTreeSet;

use capacity_core::TaskShape;

use super::{InstState, RESERVED_PORTS, Sim, Task, TaskState, Usage};
use crate::scenario::Strategy;

impl Sim<'_> {
    /// Starts a task of service `s` at `revision` on `instance`: it runs after the task start
    /// time, and stops by itself `runs_for` after that (a job's task) or never.
    pub(super) fn start_task(
        &mut self,
        s: usize,
        revision: usize,
        instance: u32,
        runs_for: Option<u64>,
    ) {
        let started = self.t + self.sc.task_start;
        self.tasks.push(Task {
            id: self.next_task_id,
            service: s,
            revision,
            instance,
            state: TaskState::Starting { until: started },
            ends_at: runs_for.map(|d| started + d),
        });
        self.next_task_id += 1;
        self.changed = true;
    }

    pub(super) fn advance_instances_and_tasks(&mut self) {
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
        let stop = self.sc.task_stop;
        for task in &mut self.tasks {
            if let TaskState::Starting { until } = task.state
                && until <= t
            {
                task.state = TaskState::Running;
                self.changed = true;
            }
            // A job's task that has run its course stops (and is not replaced).
            if task.state == TaskState::Running && task.ends_at.is_some_and(|end| end <= t) {
                task.state = TaskState::Stopping { until: t + stop };
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

    /// What is free on each registered (ACTIVE or DRAINING) instance, by instance id. One
    /// pass over the tasks: this runs every step.
    pub(super) fn usage(&self) -> Vec<(u32, Usage)> {
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

    pub(super) fn shape(&self, task: &Task) -> Option<&TaskShape> {
        self.services
            .get(task.service)
            .and_then(|s| s.revisions.get(task.revision))
    }

    pub(super) fn is_active(&self, id: u32) -> bool {
        self.instance(id)
            .is_some_and(|i| i.state == InstState::Active)
    }

    /// Whether instance `id` takes service and job tasks: ACTIVE, and — under the
    /// capacity-provider policies, whose services place through the group's provider — one of
    /// the group's (an instance registered from outside belongs to no capacity provider).
    pub(super) fn takes_service_tasks(&self, id: u32) -> bool {
        self.instance(id).is_some_and(|i| {
            i.state == InstState::Active
                && !(i.outside_group && self.sc.policy.is_capacity_provider())
        })
    }

    /// The ECS service scheduler, service by service.
    pub(super) fn schedule(&mut self) {
        let mut usage = self.usage();
        for s in 0..self.services.len() {
            let Some(def) = self.sc.services.get(s) else {
                continue;
            };
            if def.is_daemon() {
                self.schedule_daemon(s, &mut usage);
                continue;
            }
            if def.is_job() {
                self.schedule_job(s, &mut usage);
                continue;
            }
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
            let next_attempt = self.services.get(s).map_or(0, |st| st.next_attempt);
            let throttled = !self.sc.policy.is_capacity_provider() && next_attempt > self.t;
            let attempts = if throttled { 0 } else { tries };
            let mut placed = 0;
            for _ in 0..attempts {
                let Some(instance) = self.pick_instance(s, &shape, &usage) else {
                    break;
                };
                if let Some((_, u)) = usage.iter_mut().find(|(id, _)| *id == instance) {
                    take(u, &shape);
                }
                self.start_task(s, current, instance, None);
                placed += 1;
            }
            let pending = tries - placed;
            let t = self.t;
            let backoff = &self.sc.placement_backoff;
            let mut throttle_note = None;
            if let Some(state) = self.services.get_mut(s) {
                state.pending = pending as u32;
                if !throttled && tries > 0 {
                    if pending == 0 {
                        state.failed_attempts = 0;
                        state.next_attempt = 0;
                    } else {
                        state.failed_attempts += 1;
                        let pause = backoff.delay_after(state.failed_attempts);
                        state.next_attempt = t + pause;
                        // Only a service without a capacity provider is throttled.
                        if pause >= 60 && !self.sc.policy.is_capacity_provider() {
                            throttle_note = Some((state.failed_attempts, pause));
                        }
                    }
                }
                // Placement waits: the oldest wanted task is placed first; a task placed
                // with nobody waiting was placed at once. Tasks wanted no more (the desired
                // count fell) leave the queue without a placement.
                for _ in 0..placed {
                    let since = state.waiting_since.pop_front().unwrap_or(t);
                    self.placement_waits.push(t - since);
                }
                state.waiting_since.truncate(pending);
                while state.waiting_since.len() < pending {
                    state.waiting_since.push_back(t);
                }
            }
            if let Some((failures, pause)) = throttle_note {
                self.log(format!(
                    "service {} throttled after {failures} failed placement attempt(s): next attempt in {}",
                    def.name,
                    crate::duration::Secs(pause)
                ));
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

    pub(super) fn stop_task(&mut self, id: u64, usage: &mut [(u32, Usage)]) {
        let until = self.t + self.sc.task_stop;
        let consolidating = self
            .tasks
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| self.instance(k.instance))
            .is_some_and(|i| i.consolidating && i.state != InstState::Active);
        if consolidating {
            self.calculator.tasks_moved += 1;
        }
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

    /// The ACTIVE instance to place one task of `shape` on, or `None` when none has room:
    /// only an instance without a task of the service when it is `distinctInstance`; in the
    /// zone with the fewest of its tasks first when it spreads by zone; then by the
    /// scenario's strategy (binpack or spread).
    pub(super) fn pick_instance(
        &self,
        service: usize,
        shape: &TaskShape,
        usage: &[(u32, Usage)],
    ) -> Option<u32> {
        let def = self.sc.services.get(service)?;
        let same = |id: u32| {
            self.tasks
                .iter()
                .filter(|k| k.service == service && k.instance == id)
                .filter(|k| !matches!(k.state, TaskState::Stopping { .. }))
                .count() as u32
        };
        let candidates: Vec<&(u32, Usage)> = usage
            .iter()
            .filter(|(id, u)| self.takes_service_tasks(*id) && fits(u, shape))
            .filter(|(id, _)| !def.distinct_instance || same(*id) == 0)
            .collect();
        let zone_load = |zone: usize| {
            self.tasks
                .iter()
                .filter(|k| k.service == service)
                .filter(|k| !matches!(k.state, TaskState::Stopping { .. }))
                .filter(|k| self.instance(k.instance).is_some_and(|i| i.zone == zone))
                .count()
        };
        let best_zone = def
            .spread_by_zone
            .then(|| {
                candidates
                    .iter()
                    .filter_map(|(id, _)| self.instance(*id).map(|i| i.zone))
                    .min_by_key(|z| (zone_load(*z), *z))
            })
            .flatten();
        candidates
            .into_iter()
            .filter(|(id, _)| {
                best_zone.is_none_or(|z| self.instance(*id).is_some_and(|i| i.zone == z))
            })
            .min_by_key(|(id, u)| match self.sc.strategy {
                Strategy::Binpack => (u.memory, u.cpu, *id),
                Strategy::Spread => {
                    let on = self
                        .tasks
                        .iter()
                        .filter(|k| k.service == service && k.instance == *id)
                        .count() as u32;
                    (on, u32::MAX - u.memory, *id)
                }
            })
            .map(|(id, _)| *id)
    }
}

pub(super) fn take(u: &mut Usage, shape: &TaskShape) {
    u.cpu = u.cpu.saturating_sub(shape.cpu);
    u.memory = u.memory.saturating_sub(shape.memory_mib);
    u.gpus = u.gpus.saturating_sub(shape.gpus);
    if shape.awsvpc {
        u.enis = u.enis.saturating_sub(1);
    }
    u.ports_tcp.extend(shape.ports_tcp.iter().copied());
    u.ports_udp.extend(shape.ports_udp.iter().copied());
}

pub(super) fn fits(u: &Usage, shape: &TaskShape) -> bool {
    u.cpu >= shape.cpu
        && u.memory >= shape.memory_mib
        && u.gpus >= shape.gpus
        && (!shape.awsvpc || u.enis >= 1)
        && shape.ports_tcp.is_disjoint(&u.ports_tcp)
        && shape.ports_udp.is_disjoint(&u.ports_udp)
}
