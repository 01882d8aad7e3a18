//! Fitting the hosts to the tasks: which of the group's instance types holds today's tasks on
//! the fewest vCPUs, what each strands, and which type the group launches next.
//!
//! * [`fit`]: the cluster's tasks (running, and waiting) packed first-fit decreasing onto new
//!   hosts of one type, each first running one task of every DAEMON service: the hosts
//!   needed, their vCPUs, and the **stranded** CPU and memory — a host's free CPU when no task
//!   of the mix fits in its free memory any more, and its free memory when none fits in its
//!   free CPU: room that exists and that these tasks cannot use.
//! * [`recommend`]: the fits in the order that needs the fewest vCPUs (or costs least, given a
//!   price per type): the launch order a group of those types would want.
//! * [`next_type`]: the type the group launches next, which new hosts are sized on —
//!   `prioritized` and single-type groups launch their first type; a group that picks by
//!   price may launch any allowed type, so the type that holds the fewest tasks per capacity
//!   unit is taken (the careful side: the hosts it adds always hold what waits).
//!
//! The project recommends and measures; it changes no group setting.
//!
//! ```
//! use capacity_core::fit::{fit, recommend};
//! use capacity_core::{HostTemplate, Resources, TaskShape, WorstCase};
//!
//! // Memory-heavy tasks: 1 vCPU, 6 GiB.
//! let task = TaskShape::new("cache:3", 1024, 6144);
//! let host = |name: &str, cpu, memory| HostTemplate {
//!     instance_type: Some(name.to_owned()),
//!     registered: Resources::new(cpu, memory),
//!     eni_task_slots: None,
//! };
//! let worst = WorstCase::of([&task])?;
//! let tasks = [(task.clone(), 10)];
//! let c5 = fit(&tasks, &[], &host("c5.xlarge", 4096, 7418), &worst);
//! let m5 = fit(&tasks, &[], &host("m5.xlarge", 4096, 15708), &worst);
//! assert_eq!((c5.hosts, m5.hosts), (10, 5));
//! assert!(c5.stranded_vcpu > m5.stranded_vcpu);
//! assert_eq!(recommend(&[c5, m5], None).order, ["m5.xlarge", "c5.xlarge"]);
//! # Ok::<(), capacity_core::CapacityError>(())
//! ```

mod types;

use std::collections::BTreeMap;

pub use types::{
    AllowedType, GroupLaunch, InstanceTypeInfo, LaunchOrder, LaunchSpec,
    MEMORY_RESERVATION_PERCENT, TemplateRef, TypeOverride,
};

use crate::packing::{Packer, size_key};
use crate::{ContainerInstance, HostRoom, HostTemplate, TaskShape, WorstCase};

/// One instance type's fit of the cluster's tasks.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TypeFit {
    pub instance_type: String,
    /// Hosts that hold every task (each with the daemons).
    pub hosts: u32,
    /// Their vCPUs in all.
    pub vcpus: u32,
    /// CPU left free on hosts whose memory no task of the mix fits in, in vCPUs.
    pub stranded_vcpu: f64,
    /// Memory left free on hosts whose CPU no task of the mix fits in, in GiB.
    pub stranded_memory_gib: f64,
    /// Tasks that fit on no empty host of the type.
    pub unplaceable: u64,
}

/// Packs `tasks` (shape, count) first-fit decreasing onto empty hosts of `host`, each first
/// running one task of every `daemons`; `worst` is the unit of the packer's slots. See the
/// module for what is stranded. O(T log T + T·log H) for T tasks on H hosts, typically.
pub fn fit(
    tasks: &[(TaskShape, u32)],
    daemons: &[TaskShape],
    host: &HostTemplate,
    worst: &WorstCase,
) -> TypeFit {
    let mut empty = HostRoom::empty(host);
    for daemon in daemons {
        if empty.fits(daemon) {
            empty.take(daemon);
        }
    }
    let mut sorted: Vec<&(TaskShape, u32)> = tasks.iter().filter(|(_, n)| *n > 0).collect();
    sorted.sort_by_cached_key(|(shape, _)| std::cmp::Reverse(size_key(shape, &host.registered)));
    let mut packer = Packer::watching([], worst, sorted.iter().map(|(s, _)| s));
    let mut unplaceable = 0u64;
    for (shape, count) in &sorted {
        if !empty.fits(shape) {
            unplaceable += u64::from(*count);
            continue;
        }
        for _ in 0..*count {
            if packer.place(shape).is_none() {
                let i = packer.push(empty.clone());
                packer.take(i, shape);
            }
        }
    }
    let hosts = u32::try_from(packer.len()).unwrap_or(u32::MAX);
    let placeable = || sorted.iter().map(|(s, _)| s).filter(|s| empty.fits(s));
    let least_cpu = placeable().map(|s| s.cpu).min().unwrap_or(0);
    let least_memory = placeable().map(|s| s.memory_mib).min().unwrap_or(0);
    let (mut stranded_cpu, mut stranded_memory) = (0u64, 0u64);
    for i in 0..packer.len() {
        let Some(room) = packer.room_at(i) else {
            continue;
        };
        if room.memory_mib < least_memory {
            stranded_cpu += u64::from(room.cpu);
        }
        if room.cpu < least_cpu {
            stranded_memory += u64::from(room.memory_mib);
        }
    }
    TypeFit {
        instance_type: host
            .instance_type
            .clone()
            .unwrap_or_else(|| "(unnamed)".to_owned()),
        hosts,
        vcpus: hosts.saturating_mul(host.registered.cpu.div_ceil(1024)),
        stranded_vcpu: round1(stranded_cpu as f64 / 1024.0),
        stranded_memory_gib: round1(stranded_memory as f64 / 1024.0),
        unplaceable,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Types whose vCPUs (or cost) are within this share of the best are taken as equal, and the
/// one with fewer (larger) hosts goes first: a few per cent of packing is not worth more
/// launches — each host adds less room beyond the headroom, so a rising demand outruns the
/// boots more often (the simulator, `--what-if recommended-types`: on `diurnal` m5.large
/// needs 4.5 % fewer vCPUs than m5.xlarge and waits 19–33 % longer).
pub const EQUAL_WITHIN_PERCENT: u32 = 5;

/// The fits in the order a group of those types would want to launch them, and why.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Recommendation {
    /// Instance types, best first: a type that can hold every task before one that cannot;
    /// then the fewest vCPUs (or the lowest cost per hour when every type has a price), types
    /// within [`EQUAL_WITHIN_PERCENT`] of the best taken as equal and ordered by fewest
    /// hosts; then fewest hosts.
    pub order: Vec<String>,
    /// Per type, what its hosts cost per hour, when priced.
    pub hourly_cost: BTreeMap<String, f64>,
    /// Ranked by cost (every type priced), not by vCPUs.
    pub by_cost: bool,
}

/// Orders `fits` best first (see [`Recommendation::order`]); `prices` per instance type per
/// hour, when given for every type, order by cost.
pub fn recommend(fits: &[TypeFit], prices: Option<&BTreeMap<String, f64>>) -> Recommendation {
    let hourly_cost: BTreeMap<String, f64> = fits
        .iter()
        .filter_map(|f| {
            let price = prices?.get(&f.instance_type)?;
            Some((f.instance_type.clone(), price * f64::from(f.hosts)))
        })
        .collect();
    let by_cost = hourly_cost.len() == fits.len() && !fits.is_empty();
    let measure = |f: &TypeFit| {
        if by_cost {
            hourly_cost
                .get(&f.instance_type)
                .copied()
                .unwrap_or(f64::MAX)
        } else {
            f64::from(f.vcpus)
        }
    };
    let best = fits
        .iter()
        .filter(|f| f.unplaceable == 0)
        .map(measure)
        .fold(f64::INFINITY, f64::min);
    let near_best =
        |f: &TypeFit| measure(f) <= best * (1.0 + f64::from(EQUAL_WITHIN_PERCENT) / 100.0);
    let mut ranked: Vec<&TypeFit> = fits.iter().collect();
    ranked.sort_by(|a, b| {
        let tier = |f: &TypeFit| (f.unplaceable > 0, !(f.unplaceable == 0 && near_best(f)));
        tier(a)
            .cmp(&tier(b))
            .then_with(|| {
                if tier(a) == (false, false) {
                    a.hosts.cmp(&b.hosts)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then_with(|| {
                measure(a)
                    .partial_cmp(&measure(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then_with(|| a.hosts.cmp(&b.hosts))
    });
    Recommendation {
        order: ranked.iter().map(|f| f.instance_type.clone()).collect(),
        hourly_cost,
        by_cost,
    }
}

impl Recommendation {
    /// One sentence for the team: the type to launch first and what it saves against the
    /// type the group launches first today (`current`), or against the next best when that
    /// is not known or is already the best, e.g. "launch m5.xlarge first: 11 % fewer vCPUs
    /// for today's tasks than c5.xlarge (32 against 36 on 8 hosts)".
    pub fn advice(&self, fits: &[TypeFit], current: Option<&str>) -> String {
        let find = |name: &str| fits.iter().find(|f| f.instance_type == name);
        let Some(best) = self.order.first().and_then(|n| find(n)) else {
            return "no instance type to compare".to_owned();
        };
        if best.unplaceable > 0 {
            return format!(
                "no type holds every task: {} task(s) fit on no empty {}",
                best.unplaceable, best.instance_type
            );
        }
        let measure = |f: &TypeFit| {
            if self.by_cost {
                self.hourly_cost
                    .get(&f.instance_type)
                    .copied()
                    .unwrap_or(0.0)
            } else {
                f64::from(f.vcpus)
            }
        };
        let (what, unit) = if self.by_cost {
            ("less per hour", "per hour")
        } else {
            ("fewer vCPUs", "vCPUs")
        };
        let figure = |f: &TypeFit| {
            if self.by_cost {
                format!("{:.2}", measure(f))
            } else {
                f.vcpus.to_string()
            }
        };
        let other = match current.and_then(find) {
            Some(c) if c.instance_type == best.instance_type => {
                return format!(
                    "the group already launches {} first, the best of these types for today's tasks ({} {unit} on {} hosts)",
                    best.instance_type,
                    figure(best),
                    best.hosts
                );
            }
            Some(c) => Some(c),
            None => self.order.get(1).and_then(|n| find(n)),
        };
        let Some(other) = other else {
            return format!(
                "{}: {} {unit} on {} hosts for today's tasks",
                best.instance_type,
                figure(best),
                best.hosts
            );
        };
        let saved = if measure(other) > 0.0 && other.unplaceable == 0 {
            ((1.0 - measure(best) / measure(other)) * 100.0).round()
        } else {
            100.0
        };
        format!(
            "launch {} first: {saved:.0} % {what} for today's tasks than {} ({} against {} {unit}, on {} hosts against {})",
            best.instance_type,
            other.instance_type,
            figure(best),
            figure(other),
            best.hosts,
            other.hosts
        )
    }
}

/// The type the group launches next and its weight (see the module), as a host template of
/// what it registers ([`InstanceTypeInfo::host`], from `instances` already seen); `None` for a
/// group with no type.
pub fn next_type(
    launch: &GroupLaunch,
    instances: &[ContainerInstance],
    worst: &WorstCase,
) -> Option<(HostTemplate, u32)> {
    let host = |t: &AllowedType| (t.info.host(instances), t.weight.max(1));
    match launch.order {
        LaunchOrder::OneType | LaunchOrder::Prioritized => launch.types.first().map(host),
        LaunchOrder::ByPrice => launch.types.iter().map(host).min_by(|a, b| {
            // Fewest worst-case tasks per capacity unit: a·wb < b·wa, without division.
            let per_unit = |(h, w): &(HostTemplate, u32)| {
                (
                    u64::from(HostRoom::empty(h).worst_case_slots(worst)),
                    u64::from(*w),
                )
            };
            let ((sa, wa), (sb, wb)) = (per_unit(a), per_unit(b));
            (sa * wb).cmp(&(sb * wa))
        }),
    }
}

#[cfg(test)]
mod tests;
