//! Runs that compare policies at equal cost: the frontier (`--sweep`), with the ideal — the
//! physical floor no policy can beat (`sim::ideal`) — and the sensitivity to ECS's placement
//! back-off and to our reaction delay (`--sensitivity`).

use capacity_core::{CapacityError, ScalePolicy};
use serde::Serialize;

pub use super::ideal::ideal_vcpu_hours;
use super::run;
use super::score::Summary;
use crate::scenario::{PlacementBackoff, PolicyKind, Scenario};

/// `capacity-provider`'s target capacities on the frontier, percent.
pub const TARGET_CAPACITIES: [u32; 5] = [100, 90, 80, 70, 60];
/// `hosts-to-add`'s headrooms on the frontier, worst-case tasks.
pub const HEADROOMS: [u32; 5] = [1, 2, 4, 8, 16];
/// The reaction delays `--sensitivity` compares, seconds (the default in the middle).
pub const REACTION_DELAYS: [u64; 3] = [0, crate::scenario::deployed::REACTION_DELAY, 60];

/// One run of a comparison: what was set, and its summary.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// What this run sets, e.g. `target 90` or `headroom 4`.
    pub setting: String,
    pub summary: Summary,
}

/// The frontier of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Frontier {
    pub scenario: String,
    /// vCPU-hours of the services' reserved CPU and memory packed perfectly at every
    /// instant, on the group's cheapest type for it, with no boot time: no task waits.
    pub ideal_vcpu_hours: f64,
    /// The book at the scenario's headroom, `capacity-provider` at each target capacity,
    /// `hosts-to-add` (as deployed) at each headroom, in that order; with
    /// `--with-consolidation` then `capacity-provider+consolidation` at target 100 and
    /// `hosts-to-add −1` (`ScaleInAdjustment=MinusOne`) at each headroom.
    pub runs: Vec<Run>,
}

fn one(sc: &Scenario, setting: String) -> Result<Run, CapacityError> {
    let outcome = run(sc, &mut |_| {})?;
    Ok(Run {
        setting,
        summary: Summary::of(&outcome),
    })
}

/// The frontier: each policy across its spare-capacity setting, and the ideal.
pub fn frontier(base: &Scenario) -> Result<Frontier, CapacityError> {
    frontier_with(base, false)
}

/// The frontier, and with `consolidation` the template's two other modes after it:
/// `capacity-provider+consolidation` at target 100 and `hosts-to-add −1` at each of
/// [`HEADROOMS`].
pub fn frontier_with(base: &Scenario, consolidation: bool) -> Result<Frontier, CapacityError> {
    let mut runs = Vec::new();
    let book = base.with_policy(PolicyKind::Book);
    runs.push(one(
        &book,
        format!("headroom {}", book.headroom.headroom()),
    )?);
    for target in TARGET_CAPACITIES {
        let mut sc = base.with_policy(PolicyKind::CapacityProvider);
        sc.managed_scaling.target_capacity = target;
        runs.push(one(&sc, format!("target {target}"))?);
    }
    for headroom in HEADROOMS {
        let sc = base
            .with_policy(PolicyKind::HostsToAdd)
            .with_headroom(ScalePolicy::new(headroom)?);
        runs.push(one(&sc, format!("headroom {headroom}"))?);
    }
    if consolidation {
        let sc = base.with_policy(PolicyKind::CapacityProviderConsolidation);
        runs.push(one(&sc, "target 100".to_owned())?);
        for headroom in HEADROOMS {
            let sc = base
                .with_policy(PolicyKind::HostsToAddMinusOne)
                .with_headroom(ScalePolicy::new(headroom)?);
            runs.push(one(&sc, format!("headroom {headroom}"))?);
        }
    }
    Ok(Frontier {
        scenario: base.name.clone(),
        ideal_vcpu_hours: ideal_vcpu_hours(base),
        runs,
    })
}

/// The sensitivity of our advantage to what we cannot measure.
#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub scenario: String,
    /// `capacity-provider` (not throttled: its tasks wait in PROVISIONING) once, then
    /// `hosts-to-add` with the back-off `none`, `default` and `slowest`.
    pub backoff: Vec<Run>,
    /// `hosts-to-add` (default back-off) at each of [`REACTION_DELAYS`].
    pub reaction_delay: Vec<Run>,
}

pub fn sensitivity(base: &Scenario) -> Result<Sensitivity, CapacityError> {
    let cp = base.with_policy(PolicyKind::CapacityProvider);
    let mut backoff = vec![one(&cp, "PROVISIONING".to_owned())?];
    for b in [
        PlacementBackoff::none(),
        PlacementBackoff::default_schedule(),
        PlacementBackoff::slowest(),
    ] {
        let mut sc = base.with_policy(PolicyKind::HostsToAdd);
        let name = format!("back-off {}", b.name);
        sc.placement_backoff = b;
        backoff.push(one(&sc, name)?);
    }
    let mut reaction_delay = Vec::new();
    for delay in REACTION_DELAYS {
        let mut sc = base.with_policy(PolicyKind::HostsToAdd);
        sc.reaction_delay = delay.div_ceil(sc.step) * sc.step;
        reaction_delay.push(one(
            &sc,
            format!("reaction delay {}", crate::duration::Secs(delay)),
        )?);
    }
    Ok(Sensitivity {
        scenario: base.name.clone(),
        backoff,
        reaction_delay,
    })
}
