//! The simulated world's state: instances, tasks, services, alarms, the scheduler's view of
//! free resources, and the seeded random source.

use std::collections::{BTreeMap, BTreeSet};

use capacity_core::TaskShape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InstState {
    Launching { ready_at: u64 },
    Active,
    Draining { deadline: Option<u64> },
    Terminated,
}

#[derive(Debug, Clone)]
pub(super) struct Instance {
    pub(super) id: u32,
    pub(super) type_index: usize,
    /// `None` for the instances the scenario starts with.
    pub(super) launched_at: Option<u64>,
    pub(super) state: InstState,
    /// Drained because the consolidation plan chose it.
    pub(super) consolidating: bool,
    /// Index into the group's zones.
    pub(super) zone: usize,
    /// The custom attributes the calculator put on the container instance (its marks).
    pub(super) marks: BTreeMap<String, String>,
    /// Registered in the cluster from outside the group: the group neither counts nor
    /// terminates it.
    pub(super) outside_group: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskState {
    Starting { until: u64 },
    Running,
    Stopping { until: u64 },
}

#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) id: u64,
    pub(super) service: usize,
    pub(super) revision: usize,
    pub(super) instance: u32,
    pub(super) state: TaskState,
    /// A job's task: when it finishes (it stops then, and is not replaced).
    pub(super) ends_at: Option<u64>,
}

#[derive(Debug, Clone)]
pub(super) struct ServiceState {
    pub(super) desired: u32,
    /// Task shapes by revision index; the last one is current.
    pub(super) revisions: Vec<TaskShape>,
    pub(super) next_change: usize,
    pub(super) ramp: Option<Ramp>,
    pub(super) pending: u32,
    /// Since when each pending task has been wanted, oldest first.
    pub(super) waiting_since: std::collections::VecDeque<u64>,
    /// ECS's service throttle: consecutive placement attempts that left tasks unplaced, and
    /// the earliest time of the next attempt (`sim/scheduler.rs`).
    pub(super) failed_attempts: u32,
    pub(super) next_attempt: u64,
    /// A job's tasks not placed yet: when each was wanted, and how long it runs.
    pub(super) queued: std::collections::VecDeque<(u64, u64)>,
    /// A job's next run (index into its runs).
    pub(super) next_run: usize,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Ramp {
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) start: u64,
    pub(super) end: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// Free resources of one instance during scheduling.
#[derive(Debug, Clone, Default)]
pub(super) struct Usage {
    pub(super) cpu: u32,
    pub(super) memory: u32,
    pub(super) gpus: u32,
    pub(super) enis: u32,
    pub(super) ports_tcp: BTreeSet<u16>,
    pub(super) ports_udp: BTreeSet<u16>,
}

/// SplitMix64: small, seeded, and the same on every platform.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        // n is small (instances of one group): the modulo bias is negligible.
        (self.next() % n.max(1) as u64) as usize
    }
}

pub(super) struct Datapoint {
    pub(super) t: u64,
    pub(super) container_capacity: f64,
    pub(super) idle_host_capacity: f64,
    pub(super) hosts_to_add: f64,
    pub(super) hosts_to_remove: f64,
}
