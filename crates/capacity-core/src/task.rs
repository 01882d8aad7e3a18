use std::collections::BTreeSet;

use crate::CapacityError;

/// What one task reserves on the host it is placed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TaskShape {
    /// Names the shape in errors and reports (e.g. `web:42`).
    pub name: String,
    /// CPU units reserved on the host (1024 per vCPU).
    pub cpu: u32,
    /// Memory reserved on the host, MiB.
    pub memory_mib: u32,
    /// Static TCP host ports; a host holds at most one task per static port.
    pub ports_tcp: BTreeSet<u16>,
    /// Static UDP host ports.
    pub ports_udp: BTreeSet<u16>,
    /// GPUs.
    pub gpus: u32,
    /// `awsvpc` networking: the task takes one ENI of the host.
    pub awsvpc: bool,
    /// The task definition's `memberOf` placement constraints (their expressions): where
    /// ECS may place its tasks, whoever starts them.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub member_of: Vec<String>,
}

impl TaskShape {
    /// A shape with CPU units and MiB only (no ports, GPUs or ENIs).
    pub fn new(name: impl Into<String>, cpu: u32, memory_mib: u32) -> Self {
        TaskShape {
            name: name.into(),
            cpu,
            memory_mib,
            ..TaskShape::default()
        }
    }

    /// Adds a static TCP host port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.ports_tcp.insert(port);
        self
    }

    /// Adds a static UDP host port.
    pub fn with_udp_port(mut self, port: u16) -> Self {
        self.ports_udp.insert(port);
        self
    }

    /// Sets the number of GPUs.
    pub fn with_gpus(mut self, gpus: u32) -> Self {
        self.gpus = gpus;
        self
    }

    /// Marks the shape as using `awsvpc` networking.
    pub fn with_awsvpc(mut self) -> Self {
        self.awsvpc = true;
        self
    }

    /// Rejects a shape that reserves neither CPU nor memory.
    pub fn validate(&self) -> Result<(), CapacityError> {
        if self.cpu == 0 && self.memory_mib == 0 {
            return Err(CapacityError::EmptyTaskShape {
                shape: self.name.clone(),
            });
        }
        Ok(())
    }

    /// The shape ECS reserves on the host for a task definition.
    ///
    /// * CPU: the task-level `cpu` when set, else the sum of the containers' `cpu`.
    /// * Memory: the task-level `memory` when set, else the sum over containers of
    ///   `memoryReservation` where set, else the hard `memory` limit (ECS deducts the
    ///   reservation from the host; the limit only caps the container).
    /// * Ports: static host ports in `bridge` mode (`hostPort` set and not 0) and every
    ///   container port in `host` mode; none in `awsvpc` mode, which takes an ENI instead.
    /// * GPUs: the sum of the containers' GPU requirements.
    pub fn from_definition(def: &TaskDefinition) -> Result<TaskShape, CapacityError> {
        let shape = def.name.as_str();
        let cpu = match &def.cpu {
            Some(s) => parse_task_cpu(s).ok_or_else(|| CapacityError::InvalidTaskSize {
                shape: shape.to_owned(),
                field: "cpu",
                value: s.clone(),
                expected: "CPU units such as \"256\" or vCPUs such as \"0.25 vCPU\"",
            })?,
            None => def
                .containers
                .iter()
                .fold(0u32, |sum, c| sum.saturating_add(c.cpu)),
        };
        let memory_mib = match &def.memory {
            Some(s) => parse_task_memory(s).ok_or_else(|| CapacityError::InvalidTaskSize {
                shape: shape.to_owned(),
                field: "memory",
                value: s.clone(),
                expected: "MiB such as \"512\" or GB such as \"0.5 GB\"",
            })?,
            None => {
                let mut sum = 0u32;
                for c in &def.containers {
                    let reserved = c.memory_reservation.or(c.memory).ok_or_else(|| {
                        CapacityError::ContainerWithoutMemory {
                            shape: shape.to_owned(),
                            container: c.name.clone(),
                        }
                    })?;
                    sum = sum.saturating_add(reserved);
                }
                sum
            }
        };
        let mut out = TaskShape {
            name: shape.to_owned(),
            cpu,
            memory_mib,
            gpus: def
                .containers
                .iter()
                .fold(0u32, |sum, c| sum.saturating_add(c.gpus)),
            awsvpc: def.network_mode == NetworkMode::Awsvpc,
            member_of: def.placement_constraints.clone(),
            ..TaskShape::default()
        };
        for c in &def.containers {
            for m in &c.port_mappings {
                let host_port = match def.network_mode {
                    NetworkMode::Bridge => m.host_port.filter(|p| *p != 0),
                    NetworkMode::Host => m.host_port.or(m.container_port).filter(|p| *p != 0),
                    NetworkMode::Awsvpc | NetworkMode::None => None,
                };
                let Some(port) = host_port else { continue };
                match m.protocol {
                    Protocol::Tcp => out.ports_tcp.insert(port),
                    Protocol::Udp => out.ports_udp.insert(port),
                };
            }
        }
        out.validate()?;
        Ok(out)
    }
}

/// The network mode of a task definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// Docker's bridge; ECS's default on EC2.
    #[default]
    Bridge,
    Host,
    Awsvpc,
    None,
}

impl NetworkMode {
    /// Parses ECS's spelling (`bridge`, `host`, `awsvpc`, `none`); `None` for anything else.
    pub fn parse(s: &str) -> Option<NetworkMode> {
        match s {
            "bridge" => Some(NetworkMode::Bridge),
            "host" => Some(NetworkMode::Host),
            "awsvpc" => Some(NetworkMode::Awsvpc),
            "none" => Some(NetworkMode::None),
            _ => None,
        }
    }
}

/// The transport protocol of a port mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// A container's port mapping, as registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortMapping {
    pub container_port: Option<u16>,
    /// `None` or `Some(0)` in `bridge` mode means a dynamic port (no static reservation).
    pub host_port: Option<u16>,
    pub protocol: Protocol,
}

/// The sizes of one container of a task definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDefinition {
    pub name: String,
    /// CPU units (0 when unset).
    pub cpu: u32,
    /// Hard memory limit, MiB.
    pub memory: Option<u32>,
    /// Soft memory reservation, MiB; what ECS deducts from the host when set.
    pub memory_reservation: Option<u32>,
    pub port_mappings: Vec<PortMapping>,
    /// GPUs from `resourceRequirements` of type GPU.
    pub gpus: u32,
}

/// The parts of an ECS task definition that decide what a task reserves on a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDefinition {
    /// `family:revision` or the ARN; names the shape.
    pub name: String,
    /// Task-level `cpu` as ECS stores it (`"256"`, or `"1 vCPU"`).
    pub cpu: Option<String>,
    /// Task-level `memory` as ECS stores it (`"512"`, or `"1 GB"`).
    pub memory: Option<String>,
    pub network_mode: NetworkMode,
    pub containers: Vec<ContainerDefinition>,
    /// `placementConstraints[].expression` (task definitions take `memberOf` only).
    pub placement_constraints: Vec<String>,
}

/// Parses a task-level CPU value: plain CPU units (`"256"`) or vCPUs (`"0.25 vCPU"`,
/// `"1vcpu"`). `None` when it is neither, or does not fit `u32`.
pub fn parse_task_cpu(s: &str) -> Option<u32> {
    parse_size(s, &["vcpu"], 1024)
}

/// Parses a task-level memory value: plain MiB (`"512"`) or GB (`"0.5 GB"`, `"2gb"`).
/// `None` when it is neither, or does not fit `u32`.
pub fn parse_task_memory(s: &str) -> Option<u32> {
    parse_size(s, &["gb"], 1024)
}

fn parse_size(s: &str, units: &[&str], per_unit: u32) -> Option<u32> {
    let lower = s.trim().to_ascii_lowercase();
    if let Ok(plain) = lower.parse::<u32>() {
        return Some(plain);
    }
    let number = units
        .iter()
        .find_map(|unit| lower.strip_suffix(unit))?
        .trim();
    // Fractions such as 0.25 vCPU: compute in thousandths to stay in integers.
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 3 {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_thousandths: u64 = if frac.is_empty() {
        0
    } else {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{frac:0<3}").parse().ok()?
    };
    let thousandths = whole.checked_mul(1000)?.checked_add(frac_thousandths)?;
    let value = thousandths.checked_mul(u64::from(per_unit))? / 1000;
    u32::try_from(value).ok()
}

/// The worst case the cluster must be able to place: for each resource, the largest need
/// across all task shapes (static ports: the union). One worst-case task may be larger than
/// any real task, which is the point: capacity for it is capacity for any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WorstCase {
    pub cpu: u32,
    pub memory_mib: u32,
    pub ports_tcp: BTreeSet<u16>,
    pub ports_udp: BTreeSet<u16>,
    pub gpus: u32,
    pub awsvpc: bool,
}

impl WorstCase {
    /// The per-resource maximum over `shapes`. Fails on no shapes or an invalid one.
    pub fn of<'a>(
        shapes: impl IntoIterator<Item = &'a TaskShape>,
    ) -> Result<WorstCase, CapacityError> {
        let mut worst: Option<WorstCase> = None;
        for shape in shapes {
            shape.validate()?;
            let w = worst.get_or_insert_with(WorstCase::default);
            w.cpu = w.cpu.max(shape.cpu);
            w.memory_mib = w.memory_mib.max(shape.memory_mib);
            w.ports_tcp.extend(shape.ports_tcp.iter().copied());
            w.ports_udp.extend(shape.ports_udp.iter().copied());
            w.gpus = w.gpus.max(shape.gpus);
            w.awsvpc |= shape.awsvpc;
        }
        worst.ok_or(CapacityError::NoTaskShapes)
    }

    /// A worst case of CPU units and MiB only (as from `CONTAINER_MAX_CPU`/`_MEMORY`).
    pub fn cpu_memory(cpu: u32, memory_mib: u32) -> Result<WorstCase, CapacityError> {
        WorstCase::of([&TaskShape::new("configured worst case", cpu, memory_mib)])
    }
}
