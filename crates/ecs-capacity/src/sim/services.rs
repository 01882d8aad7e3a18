//! The services' changes: desired-count steps and ramps, and new task definitions (rolling
//! deployments, which the scheduler then carries out).

use super::{Event, Ramp, Sim};
use crate::duration::clock;
use crate::scenario::ChangeKind;

impl Sim<'_> {
    pub(super) fn apply_service_changes(&mut self) {
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
                        // [THROTTLE] "If you update your service to use a new task
                        // definition, your service returns to a normal, non-throttled state
                        // immediately."
                        state.failed_attempts = 0;
                        state.next_attempt = 0;
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
}
