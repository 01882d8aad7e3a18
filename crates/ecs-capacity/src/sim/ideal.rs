//! The ideal: the physical floor of a scenario's cost, which no policy can beat.

use super::Sim;
use crate::scenario::{Scenario, ServiceKind};

/// The physical floor: at every step, the CPU units and MiB the services' desired tasks and
/// the jobs' running tasks reserve (current revision; a deployment's surge not counted),
/// packed without loss onto fractional instances of whichever type the group launches needs
/// the fewest vCPUs for them — each instance first reserving one task of every DAEMON service
/// —, with no boot time and no job waiting. No policy can spend less without leaving tasks
/// unplaced.
pub fn ideal_vcpu_hours(sc: &Scenario) -> f64 {
    let mut sim = Sim::new(sc);
    let types: Vec<_> = sc
        .asg
        .launch_types
        .iter()
        .filter_map(|&i| sc.instance_types.get(i))
        .collect();
    let (daemon_cpu, daemon_memory) =
        sc.services
            .iter()
            .filter(|s| s.is_daemon())
            .fold((0.0, 0.0), |(c, m), s| {
                (
                    c + f64::from(s.shape.cpu),
                    m + f64::from(s.shape.memory_mib),
                )
            });
    let mut vcpu_seconds = 0.0;
    let steps = sc.duration / sc.step;
    for i in 1..=steps {
        let t = i * sc.step;
        sim.t = t;
        sim.apply_service_changes();
        let (cpu, memory) = sim
            .services
            .iter()
            .zip(&sc.services)
            .filter_map(|(s, def)| {
                let n = match &def.kind {
                    ServiceKind::Replica => s.desired,
                    ServiceKind::Daemon => 0,
                    ServiceKind::Job(runs) => runs
                        .iter()
                        .filter(|r| r.at <= t && t < r.at + r.duration)
                        .map(|r| r.count)
                        .sum(),
                };
                s.revisions.last().map(|shape| (n, shape))
            })
            .fold((0.0, 0.0), |(c, m), (n, shape)| {
                (
                    c + f64::from(n) * f64::from(shape.cpu),
                    m + f64::from(n) * f64::from(shape.memory_mib),
                )
            });
        let vcpus = types
            .iter()
            .filter(|ty| f64::from(ty.cpu) > daemon_cpu && f64::from(ty.memory_mib) > daemon_memory)
            .map(|ty| {
                let instances = (cpu / (f64::from(ty.cpu) - daemon_cpu))
                    .max(memory / (f64::from(ty.memory_mib) - daemon_memory));
                instances * f64::from(ty.cpu) / 1024.0
            })
            .fold(f64::INFINITY, f64::min);
        if vcpus.is_finite() {
            vcpu_seconds += vcpus * sc.step as f64;
        }
    }
    (vcpu_seconds / 3600.0 * 10.0).round() / 10.0
}
