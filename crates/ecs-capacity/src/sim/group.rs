//! The Auto Scaling group and its termination lifecycle hook: launching instances into its
//! zones, bringing the group to its desired capacity, picking instances to terminate,
//! rebalancing its zones, and completing drains (or timing them out).
//!
//! **Zones** (EC2 Auto Scaling user guide, "Availability Zone balancing" and "Configure
//! termination policies"): a launch goes to the zone with the fewest instances; a scale-in
//! first picks the zone with the most instances (among those with an instance it may
//! terminate; ties at random, seeded) and asks the termination policy for that zone
//! (`CapacityToTerminate` is per zone); afterwards **AZRebalance** evens the zones out when
//! they differ by two or more, launching in the smallest zone before it terminates in the
//! largest (the next scale-in of the group above its desired capacity).
//!
//! Which instances a scale-in terminates within the zone ([`Termination`]):
//! * `default` — EC2 Auto Scaling's default termination policy, as its user guide lists it
//!   ("Configure termination policies", *Default termination policy*): the instances with the
//!   oldest launch template (they all share one), then the instance closest to its next
//!   billing hour, then at random (seeded) among those.
//! * `chooser` — the scale-in chooser: the group suggests its instances of the zone in the
//!   default policy's order, and `capacity_core::scale_in::choose` answers with each
//!   instance's cost as the chooser reads it (`DrainCost::of`: not registered, then the
//!   calculator's planned-removal marks, then the hosts checked to fit, then fewest tasks,
//!   do-not-disrupt last).
//! * managed termination protection — ECS protects every instance that runs a task
//!   ("Managed termination protection" in ECS's cluster auto scaling guide): only ACTIVE
//!   instances without tasks can go; a scale-in that finds none waits until one empties.

use std::collections::BTreeMap;

use capacity_core::scale_in::{CapacityToTerminate, DrainCost, SuggestedInstance, choose};

use super::{InstState, Instance, Sim};
use crate::scenario::{LaunchOrderSetting, Termination};

const MARKET: &str = "on-demand";

impl Sim<'_> {
    /// Launches an instance of the group into its zone with the fewest instances.
    pub(super) fn launch(&mut self) -> u32 {
        let zone = self.smallest_zone();
        self.launch_in(zone)
    }

    fn launch_in(&mut self, zone: usize) -> u32 {
        let types = &self.sc.asg.launch_types;
        let next = match self.sc.asg.launch_order {
            LaunchOrderSetting::RoundRobin => self.launches % types.len().max(1),
            LaunchOrderSetting::Prioritized => 0,
        };
        let type_index = types.get(next).copied().unwrap_or(0);
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
            zone,
            marks: BTreeMap::new(),
            outside_group: false,
        });
        id
    }

    /// An instance the scenario registers in the cluster from outside the group.
    pub(super) fn register_outside_group(&mut self) -> u32 {
        let zones = self.sc.asg.zones.len().max(1);
        let outside = self.instances.iter().filter(|i| i.outside_group).count();
        let id = self.instances.len() as u32 + 1;
        self.instances.push(Instance {
            id,
            type_index: self.sc.asg.launch_types.first().copied().unwrap_or(0),
            launched_at: None,
            consolidating: false,
            state: InstState::Active,
            zone: outside % zones,
            marks: BTreeMap::new(),
            outside_group: true,
        });
        id
    }

    /// The group's instances that count toward its desired capacity, by zone: launching,
    /// ACTIVE, or set DRAINING by the calculator (still InService for the group; only the
    /// lifecycle hook's drain takes an instance out).
    fn in_service(&self) -> Vec<u32> {
        self.instances
            .iter()
            .filter(|i| !i.outside_group)
            .filter(|i| {
                matches!(
                    i.state,
                    InstState::Launching { .. }
                        | InstState::Active
                        | InstState::Draining { deadline: None }
                )
            })
            .map(|i| i.id)
            .collect()
    }

    fn zone_counts(&self, ids: &[u32]) -> Vec<usize> {
        let mut counts = vec![0; self.sc.asg.zones.len().max(1)];
        for id in ids {
            if let Some(inst) = self.instance(*id)
                && let Some(n) = counts.get_mut(inst.zone)
            {
                *n += 1;
            }
        }
        counts
    }

    fn smallest_zone(&self) -> usize {
        let counts = self.zone_counts(&self.in_service());
        (0..counts.len()).min_by_key(|&z| counts[z]).unwrap_or(0)
    }

    /// The Auto Scaling group brings its instances to the desired capacity, then rebalances
    /// its zones.
    pub(super) fn reconcile_group(&mut self) {
        let in_service = self.in_service();
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
        } else {
            self.rebalance_zones();
        }
    }

    /// AZRebalance: zones two or more apart get an instance launched in the smallest; the
    /// next reconciliation terminates one in the largest (launch before terminate).
    fn rebalance_zones(&mut self) {
        let in_service = self.in_service();
        let counts = self.zone_counts(&in_service);
        let (Some(&most), Some(&least)) = (counts.iter().max(), counts.iter().min()) else {
            return;
        };
        // Only when the largest zone has an instance it may terminate afterwards (under
        // managed termination protection, an empty one): a protected instance is never
        // rebalanced away (*favour* of managed scaling: no launch it could not undo).
        let largest_may_go = in_service.iter().any(|id| {
            self.instance(*id)
                .is_some_and(|i| counts.get(i.zone) == Some(&most))
                && (self.sc.termination != Termination::ManagedTerminationProtection
                    || self.unprotected(*id))
        });
        if most >= least + 2 && largest_may_go {
            let zone = self.smallest_zone();
            let id = self.launch_in(zone);
            let name = self.instance_name(id);
            let zone_name = self.sc.asg.zones.get(zone).cloned().unwrap_or_default();
            self.log(format!(
                "AZRebalance: launch {name} in {zone_name} (zones {most} and {least} apart by two or more)"
            ));
        }
    }

    /// The instances a scale-in of `excess` terminates: Auto Scaling splits it by zone, one
    /// instance at a time from the zone with the most, then asks for each zone's share
    /// (`CapacityToTerminate`) by the run's [`Termination`].
    fn choose_to_terminate(&mut self, in_service: Vec<u32>, excess: u32) -> Vec<u32> {
        let mut left = in_service.clone();
        let mut per_zone = vec![0u32; self.sc.asg.zones.len().max(1)];
        for _ in 0..excess {
            let Some(zone) = self.zone_to_shrink(&left) else {
                break;
            };
            per_zone[zone] += 1;
            // One instance of that zone less (one it may terminate), for the next pick.
            let mtp = self.sc.termination == Termination::ManagedTerminationProtection;
            if let Some(pos) = left.iter().position(|id| {
                self.instance(*id).is_some_and(|i| i.zone == zone)
                    && (!mtp || self.unprotected(*id))
            }) {
                left.remove(pos);
            }
        }
        let mut chosen = Vec::new();
        for (zone, n) in per_zone.into_iter().enumerate().filter(|(_, n)| *n > 0) {
            let in_zone: Vec<u32> = in_service
                .iter()
                .copied()
                .filter(|id| self.instance(*id).is_some_and(|i| i.zone == zone))
                .collect();
            chosen.extend(self.choose_in_zone(in_zone, zone, n));
        }
        chosen
    }

    /// The zone Auto Scaling shrinks: the most instances among the zones with one it may
    /// terminate (managed termination protection: an empty one); ties at random (seeded).
    fn zone_to_shrink(&mut self, left: &[u32]) -> Option<usize> {
        let counts = self.zone_counts(left);
        let may_go = |sim: &Self, zone: usize| {
            left.iter().any(|id| {
                sim.instance(*id).is_some_and(|i| i.zone == zone)
                    && (sim.sc.termination != Termination::ManagedTerminationProtection
                        || sim.unprotected(*id))
            })
        };
        let candidates: Vec<usize> = (0..counts.len()).filter(|&z| may_go(self, z)).collect();
        let most = candidates.iter().map(|&z| counts[z]).max()?;
        let tied: Vec<usize> = candidates
            .into_iter()
            .filter(|&z| counts[z] == most)
            .collect();
        let pick = if tied.len() > 1 {
            self.rng.below(tied.len())
        } else {
            0
        };
        tied.get(pick).copied()
    }

    /// [CAS] managed termination protection protects the instances with tasks: an empty
    /// instance may go, ACTIVE or set DRAINING by the calculator's consolidation.
    fn unprotected(&self, id: u32) -> bool {
        self.instance(id).is_some_and(|i| {
            matches!(
                i.state,
                InstState::Active | InstState::Draining { deadline: None }
            )
        }) && !self.runs_non_daemon_tasks(id)
    }

    /// `n` instances of `zone` to terminate, by the run's [`Termination`].
    fn choose_in_zone(&mut self, in_zone: Vec<u32>, zone: usize, n: u32) -> Vec<u32> {
        let ordered = self.default_order(in_zone);
        match self.sc.termination {
            Termination::Default => ordered.into_iter().take(n as usize).collect(),
            Termination::Chooser => self.chooser(&ordered, zone, n),
            Termination::ManagedTerminationProtection => ordered
                .into_iter()
                .filter(|&id| self.unprotected(id))
                .take(n as usize)
                .collect(),
        }
    }

    /// The scale-in chooser: `capacity_core::scale_in::choose` over the group's suggestions of
    /// `zone`, each costed as the chooser Lambda reads it. A host it takes by the
    /// calculator's planned-removal mark is consolidation's.
    fn chooser(&mut self, ordered: &[u32], zone: usize, n: u32) -> Vec<u32> {
        let zone_name = self.sc.asg.zones.get(zone).cloned().unwrap_or_default();
        let suggested: Vec<SuggestedInstance> = ordered
            .iter()
            .map(|id| SuggestedInstance::new(&id.to_string(), &zone_name, MARKET))
            .collect();
        let entry = CapacityToTerminate::new(&zone_name, MARKET, n);
        let now = self.t;
        let cost = |id: &str| {
            let Ok(id) = id.parse::<u32>() else {
                return DrainCost::Unknown;
            };
            match self.instance(id) {
                Some(i) if matches!(i.state, InstState::Launching { .. }) => {
                    DrainCost::NotInCluster
                }
                Some(i) => {
                    let tasks = self.tasks.iter().filter(|k| k.instance == id).count() as u32;
                    DrainCost::of(tasks, Some(&i.marks), now).0
                }
                None => DrainCost::Unknown,
            }
        };
        let choice = choose(&[entry], &suggested, cost);
        let ids: Vec<(u32, DrainCost)> = choice
            .chosen
            .iter()
            .filter_map(|c| Some((c.instance_id.parse().ok()?, c.cost)))
            .collect();
        for (id, cost) in &ids {
            if matches!(cost, DrainCost::Planned(_))
                && let Some(inst) = self.instances.iter_mut().find(|i| i.id == *id)
            {
                inst.consolidating = true;
            }
        }
        ids.into_iter().map(|(id, _)| id).collect()
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
