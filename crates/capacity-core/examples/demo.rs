//! A capacity report for an embedded example cluster: `make demo`.
//!
//! Six container instances of mixed sizes (one DRAINING, one with its agent disconnected,
//! one with the static port taken, one short of CPU, one short of memory) and three task
//! shapes. The `ecs-capacity` tool will replace this with reports on live clusters.

use capacity_core::{
    CapacityError, ClusterCapacity, ContainerInstance, InstanceStatus, Resource, Resources,
    ScalePolicy, TaskShape, WorstCase, cluster_capacity,
};

/// The ports the ECS agent reserves on every host.
const RESERVED_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];

fn instance(
    id: &str,
    instance_type: &str,
    (cpu, memory_mib): (u32, u32),
    (free_cpu, free_memory_mib): (u32, u32),
    taken_ports: &[u16],
) -> ContainerInstance {
    let registered = Resources {
        ports_tcp: RESERVED_PORTS.into(),
        ..Resources::new(cpu, memory_mib)
    };
    let remaining = Resources {
        ports_tcp: RESERVED_PORTS.iter().chain(taken_ports).copied().collect(),
        ..Resources::new(free_cpu, free_memory_mib)
    };
    ContainerInstance {
        instance_type: Some(instance_type.to_owned()),
        ..ContainerInstance::active(id, registered, remaining)
    }
}

fn example_cluster() -> Vec<ContainerInstance> {
    const M5_XLARGE: (u32, u32) = (4096, 15_576);
    const C5_XLARGE: (u32, u32) = (4096, 7_400);
    const R5_LARGE: (u32, u32) = (2048, 15_576);
    vec![
        instance("i-0a1b", "m5.xlarge", M5_XLARGE, (3072, 12_000), &[80]),
        instance("i-0c2d", "m5.xlarge", M5_XLARGE, (2048, 9_000), &[8443]),
        instance("i-0e3f", "c5.xlarge", C5_XLARGE, (512, 5_000), &[]),
        instance("i-0a4b", "r5.large", R5_LARGE, (2048, 1_500), &[]),
        ContainerInstance {
            status: InstanceStatus::Draining,
            ..instance("i-0c5d", "m5.xlarge", M5_XLARGE, M5_XLARGE, &[])
        },
        ContainerInstance {
            agent_connected: false,
            ..instance("i-0e6f", "c5.xlarge", C5_XLARGE, C5_XLARGE, &[])
        },
    ]
}

fn task_shapes() -> Vec<TaskShape> {
    vec![
        TaskShape::new("web:12", 512, 1024),
        TaskShape::new("worker:3", 1024, 2048),
        TaskShape::new("ingress:5", 256, 512).with_port(8443),
    ]
}

fn ports(ports: &std::collections::BTreeSet<u16>) -> String {
    if ports.is_empty() {
        return "-".to_owned();
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!("tcp {}", list.join(","))
}

fn print_shapes(shapes: &[TaskShape], worst: &WorstCase) {
    println!(
        "{:<12} {:>6} {:>8}  static ports",
        "task shape", "CPU", "MEM MiB"
    );
    for s in shapes {
        let tcp = ports(&s.ports_tcp);
        println!("{:<12} {:>6} {:>8}  {tcp}", s.name, s.cpu, s.memory_mib);
    }
    let tcp = ports(&worst.ports_tcp);
    println!(
        "{:<12} {:>6} {:>8}  {tcp}   (per resource, the largest need)",
        "worst case", worst.cpu, worst.memory_mib
    );
}

fn print_instances(instances: &[ContainerInstance], capacity: &ClusterCapacity) {
    println!(
        "{:<8} {:<10} {:<9} {:>8} {:>8}  {:<26} {:>5}  binds / excluded",
        "instance", "type", "status", "CPU left", "MEM left", "slots per resource", "slots"
    );
    for explained in capacity.instances() {
        let Some(i) = instances.get(explained.index) else {
            continue;
        };
        let per_resource: Vec<String> = Resource::ALL
            .into_iter()
            .filter_map(|r| explained.per_resource.get(r).map(|s| format!("{r} {s}")))
            .collect();
        let why = match (&explained.exclusion, explained.binding) {
            (Some(exclusion), _) => format!("excluded: {exclusion}"),
            (None, Some(resource)) => resource.to_string(),
            (None, None) => "-".to_owned(),
        };
        println!(
            "{:<8} {:<10} {:<9} {:>8} {:>8}  {:<26} {:>5}  {why}",
            i.id,
            i.instance_type.as_deref().unwrap_or("?"),
            i.status.as_str(),
            i.remaining.cpu,
            i.remaining.memory_mib,
            per_resource.join(" "),
            explained.slots,
        );
    }
}

fn main() -> Result<(), CapacityError> {
    let instances = example_cluster();
    let shapes = task_shapes();
    let worst = WorstCase::of(&shapes)?;
    let capacity = cluster_capacity(&instances, &worst)?;
    let policy = ScalePolicy::default();

    println!("Capacity report for an example cluster\n");
    print_shapes(&shapes, &worst);
    println!();
    print_instances(&instances, &capacity);

    let totals: Vec<String> = Resource::ALL
        .into_iter()
        .filter_map(|r| capacity.per_resource().get(r).map(|s| format!("{r} {s}")))
        .collect();
    println!();
    println!(
        "ContainerCapacity  {:>5}   worst-case tasks that still fit (sum of the per-instance minimum)",
        capacity.container_capacity()
    );
    println!(
        "IdleHostCapacity   {:>5.2}   = {} / H, H = {} slot(s) on the largest empty ACTIVE host",
        capacity.idle_host_capacity(),
        capacity.container_capacity(),
        capacity.largest_host_slots()
    );
    let book = capacity.book_capacity();
    println!(
        "book's formula     {book:>5}   min over resources of per-resource sums ({})",
        totals.join(", ")
    );
    if book > capacity.container_capacity() {
        println!(
            "                           overstates by {}: a task needs all its resources on one host",
            book - capacity.container_capacity()
        );
    }
    println!();
    let assessment = capacity.assess(&policy);
    println!(
        "decision (headroom {}): {}",
        assessment.headroom, assessment.decision
    );
    println!("why: {}", assessment.explanation);
    Ok(())
}
