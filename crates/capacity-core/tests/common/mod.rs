//! Small builders shared by the integration tests: a host is described by what differs from
//! an empty, ACTIVE, connected one.

// Each test file uses a different subset of the builders.
#![allow(dead_code)]

use capacity_core::{
    ClusterCapacity, ContainerInstance, EniLimit, InstanceStatus, Resources, TaskShape, WorstCase,
    cluster_capacity,
};

/// An empty, ACTIVE, connected host: remaining = registered.
pub fn host(id: &str, cpu: u32, memory_mib: u32) -> ContainerInstance {
    ContainerInstance::active(
        id,
        Resources::new(cpu, memory_mib),
        Resources::new(cpu, memory_mib),
    )
}

/// Chainable changes to a [`ContainerInstance`] built with [`host`].
pub trait HostExt: Sized {
    /// CPU units and MiB still free.
    fn remaining(self, cpu: u32, memory_mib: u32) -> Self;
    /// A TCP host port already taken (by a task or the agent).
    fn taken_port(self, port: u16) -> Self;
    /// A UDP host port already taken.
    fn taken_udp_port(self, port: u16) -> Self;
    /// GPUs registered and GPUs still free.
    fn gpus(self, registered: u32, free: u32) -> Self;
    /// ENIs the instance type supports (primary included) and task ENIs attached.
    fn enis(self, max_enis: u32, task_enis_in_use: u32) -> Self;
    fn status(self, status: &str) -> Self;
    fn disconnected(self) -> Self;
    fn instance_type(self, instance_type: &str) -> Self;
}

impl HostExt for ContainerInstance {
    fn remaining(mut self, cpu: u32, memory_mib: u32) -> Self {
        self.remaining.cpu = cpu;
        self.remaining.memory_mib = memory_mib;
        self
    }

    fn taken_port(mut self, port: u16) -> Self {
        self.remaining.ports_tcp.insert(port);
        self
    }

    fn taken_udp_port(mut self, port: u16) -> Self {
        self.remaining.ports_udp.insert(port);
        self
    }

    fn gpus(mut self, registered: u32, free: u32) -> Self {
        self.registered.gpus = registered;
        self.remaining.gpus = free;
        self
    }

    fn enis(mut self, max_enis: u32, task_enis_in_use: u32) -> Self {
        self.eni = Some(EniLimit {
            max_enis,
            task_enis_in_use,
        });
        self
    }

    fn status(mut self, status: &str) -> Self {
        self.status = InstanceStatus::parse(status);
        self
    }

    fn disconnected(mut self) -> Self {
        self.agent_connected = false;
        self
    }

    fn instance_type(mut self, instance_type: &str) -> Self {
        self.instance_type = Some(instance_type.to_owned());
        self
    }
}

/// The worst case of `shapes`, for tests whose shapes are valid by construction.
pub fn worst(shapes: &[TaskShape]) -> WorstCase {
    match WorstCase::of(shapes) {
        Ok(w) => w,
        Err(e) => panic!("test shapes must be valid: {e}"),
    }
}

/// The capacity of `instances` for the worst case of `shapes`, for valid test input.
pub fn capacity(instances: &[ContainerInstance], shapes: &[TaskShape]) -> ClusterCapacity {
    match cluster_capacity(instances, &worst(shapes)) {
        Ok(c) => c,
        Err(e) => panic!("test instances must be valid: {e}"),
    }
}

/// Per-instance slots, in input order.
pub fn slots(capacity: &ClusterCapacity) -> Vec<u32> {
    capacity.instances().iter().map(|i| i.slots).collect()
}
