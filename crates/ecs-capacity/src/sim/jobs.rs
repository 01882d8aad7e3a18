//! The tasks the service scheduler does not replace: DAEMON services' (one on every ACTIVE
//! instance, placed before anything else when an instance registers; on a DRAINING instance
//! stopped only once its other tasks are gone, as managed scaling and the drain count them)
//! and standalone jobs' (RunTask batches: each task runs to completion and is never replaced
//! nor moved — ECS leaves it on a DRAINING instance until it ends, so the lifecycle hook's
//! timeout kills it if it runs longer).
//!
//! A job's tasks that find no room wait in a queue and are retried each step, as a batch
//! submitter retries a RunTask that failed for room. The calculator cannot see them: a failed
//! RunTask leaves nothing to count (only the headroom makes room for them).

use super::scheduler::{fits, take};
use super::{InstState, Sim, TaskState, Usage};
use crate::scenario::ServiceKind;

impl Sim<'_> {
    /// Whether instance `id` runs a task other than a daemon's: managed scaling and managed
    /// termination protection count an instance running only daemon tasks as empty ([CAS]:
    /// "A container instance is considered empty even when daemon tasks are running").
    pub(super) fn runs_non_daemon_tasks(&self, id: u32) -> bool {
        self.tasks.iter().any(|k| {
            k.instance == id
                && self
                    .sc
                    .services
                    .get(k.service)
                    .is_none_or(|def| !def.is_daemon())
        })
    }

    /// Places service `s`'s daemon task on every ACTIVE instance without one; stops those on
    /// DRAINING instances that run nothing else.
    pub(super) fn schedule_daemon(&mut self, s: usize, usage: &mut [(u32, Usage)]) {
        let Some(shape) = self
            .services
            .get(s)
            .and_then(|st| st.revisions.last())
            .cloned()
        else {
            return;
        };
        let current = self.services.get(s).map_or(0, |st| st.revisions.len() - 1);
        let mut missing = 0u32;
        let hosts: Vec<u32> = self
            .instances
            .iter()
            .filter(|i| i.state == InstState::Active)
            .map(|i| i.id)
            .collect();
        for id in hosts {
            if self
                .tasks
                .iter()
                .any(|k| k.service == s && k.instance == id)
            {
                continue;
            }
            match usage.iter_mut().find(|(i, _)| *i == id) {
                Some((_, u)) if fits(u, &shape) => {
                    take(u, &shape);
                    self.start_task(s, current, id, None);
                }
                _ => missing += 1,
            }
        }
        let lonely: Vec<u64> = self
            .tasks
            .iter()
            .filter(|k| k.service == s && !matches!(k.state, TaskState::Stopping { .. }))
            .filter(|k| {
                self.instance(k.instance)
                    .is_some_and(|i| matches!(i.state, InstState::Draining { .. }))
                    && !self
                        .tasks
                        .iter()
                        .any(|o| o.instance == k.instance && o.service != s)
            })
            .map(|k| k.id)
            .collect();
        for id in lonely {
            self.stop_task(id, usage);
        }
        if let Some(state) = self.services.get_mut(s) {
            state.pending = missing;
        }
    }

    /// Places job `s`'s queued tasks, oldest first, on the ACTIVE instance with the least free
    /// memory that holds one (RunTask's default binpack); each runs its duration from then.
    pub(super) fn schedule_job(&mut self, s: usize, usage: &mut [(u32, Usage)]) {
        let Some(shape) = self
            .services
            .get(s)
            .and_then(|st| st.revisions.last())
            .cloned()
        else {
            return;
        };
        let t = self.t;
        while let Some(&(since, duration)) = self.services.get(s).and_then(|st| st.queued.front()) {
            let spot = usage
                .iter()
                .filter(|(id, u)| self.takes_service_tasks(*id) && fits(u, &shape))
                .min_by_key(|(id, u)| (u.memory, u.cpu, *id))
                .map(|(id, _)| *id);
            let Some(instance) = spot else {
                break;
            };
            if let Some((_, u)) = usage.iter_mut().find(|(id, _)| *id == instance) {
                take(u, &shape);
            }
            self.start_task(s, 0, instance, Some(duration));
            self.placement_waits.push(t - since);
            if let Some(state) = self.services.get_mut(s) {
                state.queued.pop_front();
            }
        }
        if let Some(state) = self.services.get_mut(s) {
            state.pending = state.queued.len() as u32;
        }
    }

    /// Jobs whose run starts now queue their tasks.
    pub(super) fn start_job_runs(&mut self) {
        let t = self.t;
        for (s, def) in self.sc.services.iter().enumerate() {
            let ServiceKind::Job(runs) = &def.kind else {
                continue;
            };
            let Some(state) = self.services.get_mut(s) else {
                continue;
            };
            while let Some(run) = runs.get(state.next_run).filter(|r| r.at <= t) {
                state.next_run += 1;
                for _ in 0..run.count {
                    state.queued.push_back((t, run.duration));
                }
                self.events.push(super::Event {
                    t,
                    what: format!(
                        "job {} starts {} task(s) of {} for {}",
                        def.name,
                        run.count,
                        def.shape.name,
                        crate::duration::Secs(run.duration)
                    ),
                });
            }
        }
    }
}
