use std::fmt;

use crate::{CapacityError, ContainerInstance, InstanceStatus, Resources, WorstCase};

/// A resource that can bind (limit) the number of worst-case tasks on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Cpu,
    Memory,
    PortsTcp,
    PortsUdp,
    Gpu,
    Eni,
}

impl Resource {
    /// Every resource, in the order used to break ties when two bind equally.
    pub const ALL: [Resource; 6] = [
        Resource::Cpu,
        Resource::Memory,
        Resource::PortsTcp,
        Resource::PortsUdp,
        Resource::Gpu,
        Resource::Eni,
    ];

    /// ECS's name for the resource (`CPU`, `MEMORY`, `PORTS`, `PORTS_UDP`, `GPU`), `ENI`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Cpu => "CPU",
            Resource::Memory => "MEMORY",
            Resource::PortsTcp => "PORTS",
            Resource::PortsUdp => "PORTS_UDP",
            Resource::Gpu => "GPU",
            Resource::Eni => "ENI",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Worst-case slots per resource on one instance; `None` for a resource the worst case
/// does not need (it cannot bind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceSlots {
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub ports_tcp: Option<u32>,
    pub ports_udp: Option<u32>,
    pub gpu: Option<u32>,
    pub eni: Option<u32>,
}

impl ResourceSlots {
    /// The slots for one resource.
    pub fn get(&self, resource: Resource) -> Option<u32> {
        match resource {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
            Resource::PortsTcp => self.ports_tcp,
            Resource::PortsUdp => self.ports_udp,
            Resource::Gpu => self.gpu,
            Resource::Eni => self.eni,
        }
    }

    /// The minimum over the needed resources and the first resource that attains it, or
    /// `None` when nothing is needed.
    pub fn binding(&self) -> Option<(u32, Resource)> {
        Resource::ALL
            .into_iter()
            .filter_map(|r| self.get(r).map(|s| (s, r)))
            .min_by_key(|(s, _)| *s)
    }

    /// The slots of `resources` for `worst`; `eni` is the free ENI slots (or `None` when the
    /// limit is unknown, and then ENIs do not bind).
    ///
    /// Static ports count 1 when none of the worst case's ports is taken, else 0: each
    /// static port admits one task per host, so a task with any static port fits at most
    /// once per host whatever else is free.
    pub(crate) fn compute(
        resources: &Resources,
        eni: Option<u32>,
        worst: &WorstCase,
    ) -> ResourceSlots {
        ResourceSlots::of_parts(
            [resources.cpu, resources.memory_mib, resources.gpus],
            (&resources.ports_tcp, &resources.ports_udp),
            eni,
            worst,
        )
    }

    /// [`ResourceSlots::compute`] over free CPU, memory and GPUs and the taken ports in any
    /// [`TakenPorts`] form: one rule for the reading and for the packer's rooms.
    pub(crate) fn of_parts<P: TakenPorts + ?Sized>(
        [cpu, memory_mib, gpus]: [u32; 3],
        (tcp, udp): (&P, &P),
        eni: Option<u32>,
        worst: &WorstCase,
    ) -> ResourceSlots {
        let per = |remaining: u32, need: u32| (need > 0).then(|| remaining / need);
        let ports = |taken: &P, need: &std::collections::BTreeSet<u16>| {
            (!need.is_empty()).then(|| u32::from(!taken.any_taken(need)))
        };
        ResourceSlots {
            cpu: per(cpu, worst.cpu),
            memory: per(memory_mib, worst.memory_mib),
            ports_tcp: ports(tcp, &worst.ports_tcp),
            ports_udp: ports(udp, &worst.ports_udp),
            gpu: per(gpus, worst.gpus),
            eni: if worst.awsvpc { eni } else { None },
        }
    }
}

/// Host ports taken on a host, as a set or as a sorted list.
pub(crate) trait TakenPorts {
    /// Whether any of `ports` is taken.
    fn any_taken(&self, ports: &std::collections::BTreeSet<u16>) -> bool;
}

impl TakenPorts for std::collections::BTreeSet<u16> {
    fn any_taken(&self, ports: &std::collections::BTreeSet<u16>) -> bool {
        !ports.is_disjoint(self)
    }
}

impl TakenPorts for [u16] {
    fn any_taken(&self, ports: &std::collections::BTreeSet<u16>) -> bool {
        ports.iter().any(|p| self.binary_search(p).is_ok())
    }
}

/// Why an instance counts no slots whatever its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// Not ACTIVE (DRAINING, REGISTERING, …): ECS places nothing there.
    NotActive(InstanceStatus),
    /// The agent is disconnected: ECS places nothing there.
    AgentDisconnected,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::NotActive(status) => write!(f, "status {status}"),
            Exclusion::AgentDisconnected => f.write_str("agent disconnected"),
        }
    }
}

/// The explanation for one instance: its slots and what binds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSlots {
    /// Index of the instance in the slice given to [`cluster_capacity`].
    pub index: usize,
    /// Worst-case tasks that still fit (0 when excluded).
    pub slots: u32,
    /// The resource that attains the minimum (`None` when excluded).
    pub binding: Option<Resource>,
    /// Why the instance counts nothing, when it does not.
    pub exclusion: Option<Exclusion>,
    /// Per-resource slots from the remaining resources (computed for excluded ones too, so
    /// a report can show them).
    pub per_resource: ResourceSlots,
    /// Worst-case slots of this instance when empty, from its registered resources.
    pub slots_when_empty: u32,
}

/// Per-resource capacity of the cluster: Σ over counted instances of that resource's slots;
/// `None` when the worst case does not need the resource, or when the sum is unbounded
/// (ENI: an `awsvpc` worst case and a counted instance whose ENI limit is unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceTotals {
    pub cpu: Option<u64>,
    pub memory: Option<u64>,
    pub ports_tcp: Option<u64>,
    pub ports_udp: Option<u64>,
    pub gpu: Option<u64>,
    pub eni: Option<u64>,
}

impl ResourceTotals {
    /// The total for one resource.
    pub fn get(&self, resource: Resource) -> Option<u64> {
        match resource {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
            Resource::PortsTcp => self.ports_tcp,
            Resource::PortsUdp => self.ports_udp,
            Resource::Gpu => self.gpu,
            Resource::Eni => self.eni,
        }
    }

    fn add(&mut self, slots: &ResourceSlots) {
        for (total, s) in [
            (&mut self.cpu, slots.cpu),
            (&mut self.memory, slots.memory),
            (&mut self.ports_tcp, slots.ports_tcp),
            (&mut self.ports_udp, slots.ports_udp),
            (&mut self.gpu, slots.gpu),
            (&mut self.eni, slots.eni),
        ] {
            if let Some(s) = s {
                *total = Some(total.unwrap_or(0) + u64::from(s));
            }
        }
    }
}

/// The capacity of a cluster in worst-case tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterCapacity {
    /// How many more worst-case tasks fit: Σ over ACTIVE, connected instances of the
    /// per-instance minimum over resources.
    pub(crate) container_capacity: u64,
    /// H: the most worst-case slots any single ACTIVE, connected instance has when empty.
    pub(crate) largest_host_slots: u32,
    /// Spare capacity in whole hosts: `container_capacity / largest_host_slots`, 0 when
    /// there is no such host (or the worst case fits on none).
    pub(crate) idle_host_capacity: f64,
    /// Instances counted (ACTIVE with a connected agent).
    pub(crate) counted_instances: usize,
    /// Per-resource sums over counted instances (the book's per-resource metrics).
    pub(crate) per_resource: ResourceTotals,
    /// One explanation per input instance, in input order.
    pub(crate) instances: Vec<InstanceSlots>,
    /// The worst case the figures are in.
    pub(crate) worst_case: WorstCase,
    /// What a new host of the cluster's largest registered type offers: the counted
    /// instance with the most worst-case slots when empty (H), first among equals. `None`
    /// when no instance is counted.
    pub(crate) largest_host: Option<HostTemplate>,
    /// The type the group launches next and its weight, when known
    /// ([`ClusterCapacity::launching`]); new hosts are sized on it.
    pub(crate) launched: Option<(HostTemplate, u32)>,
    /// The room free on each counted instance (ACTIVE, agent connected), in input order:
    /// where the tasks that wait are placed first ([`crate::plan_scale_out`]). DRAINING,
    /// REGISTERING and disconnected instances have none: ECS places nothing there.
    pub(crate) rooms: Vec<HostRoom>,
}

/// The room free on one counted container instance, as ECS reported it (its remaining
/// resources), kept in a form that is cheap to copy for packing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoom {
    /// Index of the instance in the slice given to [`cluster_capacity`].
    pub index: usize,
    /// CPU units free.
    pub cpu: u32,
    /// MiB free.
    pub memory_mib: u32,
    /// GPUs free.
    pub gpus: u32,
    /// TCP host ports **taken**, ascending.
    pub ports_tcp: Vec<u16>,
    /// UDP host ports taken, ascending.
    pub ports_udp: Vec<u16>,
    /// Free task ENI slots, when the ENI limit is known (else ENIs do not bind).
    pub free_eni_slots: Option<u32>,
}

impl HostRoom {
    /// The room of `instance` as read: its remaining resources.
    pub fn of(index: usize, instance: &ContainerInstance) -> HostRoom {
        let r = &instance.remaining;
        HostRoom {
            index,
            cpu: r.cpu,
            memory_mib: r.memory_mib,
            gpus: r.gpus,
            ports_tcp: r.ports_tcp.iter().copied().collect(),
            ports_udp: r.ports_udp.iter().copied().collect(),
            free_eni_slots: instance.eni.map(|e| e.free_task_slots()),
        }
    }

    /// An empty host of `template`: its registered resources (the agent's reserved ports
    /// taken).
    pub fn empty(template: &HostTemplate) -> HostRoom {
        let r = &template.registered;
        HostRoom {
            index: usize::MAX,
            cpu: r.cpu,
            memory_mib: r.memory_mib,
            gpus: r.gpus,
            ports_tcp: r.ports_tcp.iter().copied().collect(),
            ports_udp: r.ports_udp.iter().copied().collect(),
            free_eni_slots: template.eni_task_slots,
        }
    }
}

/// An empty host of one registered instance type: what a new one would offer.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTemplate {
    /// `ecs.instance-type`, when known.
    pub instance_type: Option<String>,
    /// Its registered resources (ports: those the agent reserves).
    pub registered: Resources,
    /// Task ENI slots when empty, when the ENI limit is known.
    pub eni_task_slots: Option<u32>,
}

/// Read-only: the figures are computed together by [`cluster_capacity`] and hold their
/// invariants (ContainerCapacity is the sum of the instances' slots, IdleHostCapacity is it
/// over H, the rooms are those of the counted instances), so no caller can change one
/// without the others.
impl ClusterCapacity {
    /// How many more worst-case tasks fit: Σ over ACTIVE, connected instances of the
    /// per-instance minimum over resources.
    pub fn container_capacity(&self) -> u64 {
        self.container_capacity
    }

    /// H: the most worst-case slots any single ACTIVE, connected instance has when empty.
    pub fn largest_host_slots(&self) -> u32 {
        self.largest_host_slots
    }

    /// Spare capacity in whole hosts: ContainerCapacity / H, 0 when there is no such host
    /// (or the worst case fits on none).
    pub fn idle_host_capacity(&self) -> f64 {
        self.idle_host_capacity
    }

    /// Instances counted (ACTIVE with a connected agent).
    pub fn counted_instances(&self) -> usize {
        self.counted_instances
    }

    /// Per-resource sums over counted instances (the book's per-resource metrics).
    pub fn per_resource(&self) -> ResourceTotals {
        self.per_resource
    }

    /// One explanation per input instance, in input order.
    pub fn instances(&self) -> &[InstanceSlots] {
        &self.instances
    }

    /// The worst case the figures are in.
    pub fn worst_case(&self) -> &WorstCase {
        &self.worst_case
    }

    /// What a new host of the cluster's largest registered type offers (`None` when no
    /// instance is counted).
    pub fn largest_host(&self) -> Option<&HostTemplate> {
        self.largest_host.as_ref()
    }

    /// The room free on each counted instance, in input order.
    pub fn rooms(&self) -> &[HostRoom] {
        &self.rooms
    }

    /// The same capacity, with new hosts sized on `host`, the type the group launches next
    /// (the fit module's `next_type`), each counting `weight` capacity units of the group.
    pub fn launching(mut self, host: HostTemplate, weight: u32) -> ClusterCapacity {
        self.launched = Some((host, weight.max(1)));
        self
    }

    /// What a host the group adds offers: the type it launches next when known
    /// ([`ClusterCapacity::launching`]), else the largest registered type (`None` when neither
    /// is known: no host registered and the group's types not read).
    pub fn new_host(&self) -> Option<&HostTemplate> {
        self.launched
            .as_ref()
            .map(|(host, _)| host)
            .or(self.largest_host.as_ref())
    }

    /// The group's capacity units one new host counts for (`WeightedCapacity`; 1 unless the
    /// launched type has a weight).
    pub fn new_host_weight(&self) -> u32 {
        self.launched.as_ref().map_or(1, |(_, weight)| *weight)
    }

    /// Worst-case slots of an empty new host ([`ClusterCapacity::new_host`]): H unless the
    /// group launches a type other than the largest registered one.
    pub fn new_host_slots(&self) -> u32 {
        match &self.launched {
            Some((host, _)) => HostRoom::empty(host).worst_case_slots(&self.worst_case),
            None => self.largest_host_slots,
        }
    }
}

impl ClusterCapacity {
    /// The book's formula: the minimum over resources of the per-resource sums. It is never
    /// below [`ClusterCapacity::container_capacity`] and overstates capacity when different
    /// hosts are short of different resources; kept for comparison in reports.
    pub fn book_capacity(&self) -> u64 {
        Resource::ALL
            .into_iter()
            .filter_map(|r| self.per_resource.get(r))
            .min()
            .unwrap_or(0)
    }
}

/// Computes the cluster's capacity for `worst` over `instances`.
///
/// Each instance is validated (remaining never above registered); the first bad one is an
/// error naming it. Instances that are not ACTIVE or whose agent is disconnected count 0.
///
/// Cost: O(instances × (resources + worst-case ports × log ports taken)), plus a copy of each
/// counted instance's remaining resources ([`ClusterCapacity::rooms`]).
pub fn cluster_capacity(
    instances: &[ContainerInstance],
    worst: &WorstCase,
) -> Result<ClusterCapacity, CapacityError> {
    if worst.cpu == 0 && worst.memory_mib == 0 {
        return Err(CapacityError::EmptyTaskShape {
            shape: "worst case".to_owned(),
        });
    }
    let mut out = ClusterCapacity {
        container_capacity: 0,
        largest_host_slots: 0,
        idle_host_capacity: 0.0,
        counted_instances: 0,
        per_resource: ResourceTotals::default(),
        instances: Vec::with_capacity(instances.len()),
        worst_case: worst.clone(),
        largest_host: None,
        launched: None,
        rooms: Vec::with_capacity(instances.len()),
    };
    let mut largest: Option<(u32, u32, u32, usize)> = None;
    // An instance whose ENI limit is unknown has unbounded ENI slots; summing only the
    // known ones would understate the cluster's ENI capacity (and the book's formula with it).
    let mut eni_unbounded = false;
    for (index, instance) in instances.iter().enumerate() {
        instance.validate()?;
        let per_resource = ResourceSlots::compute(
            &instance.remaining,
            instance.eni.map(|e| e.free_task_slots()),
            worst,
        );
        let empty = ResourceSlots::compute(
            &instance.registered,
            instance.eni.map(|e| e.task_slots_when_empty()),
            worst,
        );
        let slots_when_empty = empty.binding().map_or(0, |(s, _)| s);
        let exclusion = if instance.status != InstanceStatus::Active {
            Some(Exclusion::NotActive(instance.status.clone()))
        } else if !instance.agent_connected {
            Some(Exclusion::AgentDisconnected)
        } else {
            None
        };
        let (slots, binding) = match (&exclusion, per_resource.binding()) {
            (None, Some((slots, resource))) => (slots, Some(resource)),
            _ => (0, None),
        };
        if exclusion.is_none() {
            eni_unbounded |= worst.awsvpc && instance.eni.is_none();
            out.counted_instances += 1;
            out.container_capacity += u64::from(slots);
            out.largest_host_slots = out.largest_host_slots.max(slots_when_empty);
            let key = (
                slots_when_empty,
                instance.registered.cpu,
                instance.registered.memory_mib,
            );
            if largest.is_none_or(|(s, c, m, _)| key > (s, c, m)) {
                largest = Some((key.0, key.1, key.2, index));
            }
            out.per_resource.add(&per_resource);
            out.rooms.push(HostRoom::of(index, instance));
        }
        out.instances.push(InstanceSlots {
            index,
            slots,
            binding,
            exclusion,
            per_resource,
            slots_when_empty,
        });
    }
    if eni_unbounded {
        out.per_resource.eni = None;
    }
    out.largest_host = largest
        .and_then(|(.., index)| instances.get(index))
        .map(|i| HostTemplate {
            instance_type: i.instance_type.clone(),
            registered: i.registered.clone(),
            eni_task_slots: i.eni.map(|e| e.task_slots_when_empty()),
        });
    if out.largest_host_slots > 0 {
        out.idle_host_capacity = out.container_capacity as f64 / f64::from(out.largest_host_slots);
    }
    Ok(out)
}
