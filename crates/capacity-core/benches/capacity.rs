//! The whole computation for ECS's largest cluster: 5,000 container instances (the
//! per-cluster limit) × 50 task shapes, worst case + cluster capacity + decision.
//! Target: under 1 ms.

use std::hint::black_box;

use std::collections::BTreeMap;

use capacity_core::HostTemplate;
use capacity_core::fit::fit;
use capacity_core::{
    ClusterHost, ContainerInstance, Demand, DisruptionBudget, EniLimit, InstanceStatus, Resources,
    ScaleInInput, ScalePolicy, TaskShape, UnplacedTasks, WorstCase, cluster_capacity,
    plan_scale_in, plan_scale_out,
};
use criterion::{Criterion, criterion_group, criterion_main};

const INSTANCES: usize = 5_000;
const SHAPES: usize = 50;
/// The ports the ECS agent reserves on every host.
const RESERVED_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];
/// Static host ports some task shapes use.
const STATIC_PORTS: [u16; 6] = [80, 443, 8080, 8443, 9000, 9090];

/// A small deterministic generator (xorshift64*), so every run measures the same input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// Mixed instance types: (name, CPU units, MiB registered, max ENIs).
const TYPES: [(&str, u32, u32, u32); 5] = [
    ("t3.small", 2048, 1930, 3),
    ("m5.large", 2048, 7680, 3),
    ("m5.xlarge", 4096, 15_576, 4),
    ("c5.2xlarge", 8192, 15_576, 4),
    ("r5.4xlarge", 16_384, 126_976, 8),
];

fn instances(rng: &mut Rng) -> Vec<ContainerInstance> {
    (0..INSTANCES)
        .map(|n| {
            let (name, cpu, memory_mib, max_enis) = TYPES[n % TYPES.len()];
            let registered = Resources {
                ports_tcp: RESERVED_PORTS.into(),
                ..Resources::new(cpu, memory_mib)
            };
            let mut remaining = Resources {
                ports_tcp: RESERVED_PORTS.into(),
                ..Resources::new(rng.below(cpu + 1), rng.below(memory_mib + 1))
            };
            // Tasks hold some static ports and, now and then, dynamic ones.
            for port in STATIC_PORTS {
                if rng.below(4) == 0 {
                    remaining.ports_tcp.insert(port);
                }
            }
            for _ in 0..rng.below(8) {
                remaining.ports_tcp.insert(32768 + rng.below(28_000) as u16);
            }
            if rng.below(10) == 0 {
                remaining.ports_udp.insert(53);
            }
            let status = match rng.below(50) {
                0 => InstanceStatus::Draining,
                1 => InstanceStatus::Registering,
                _ => InstanceStatus::Active,
            };
            ContainerInstance {
                id: format!("arn:aws:ecs:eu-west-1:123456789012:container-instance/bench/{n:032x}"),
                ec2_instance_id: Some(format!("i-{n:017x}")),
                instance_type: Some(name.to_owned()),
                status,
                agent_connected: rng.below(100) != 0,
                registered,
                remaining,
                eni: (n % 3 != 0).then(|| EniLimit {
                    max_enis,
                    task_enis_in_use: rng.below(max_enis),
                }),
                attributes: Default::default(),
            }
        })
        .collect()
}

fn shapes(rng: &mut Rng) -> Vec<TaskShape> {
    (0..SHAPES)
        .map(|n| {
            let mut shape = TaskShape::new(
                format!("service-{n}:{}", 1 + rng.below(40)),
                128 * (1 + rng.below(16)),
                256 * (1 + rng.below(16)),
            );
            if n % 10 == 0 {
                shape = shape.with_port(STATIC_PORTS[n / 10 % STATIC_PORTS.len()]);
            }
            if n % 7 == 0 {
                shape = shape.with_awsvpc();
            }
            shape
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x5eed_cafe_f00d_beef);
    let instances = instances(&mut rng);
    let shapes = shapes(&mut rng);
    let policy = ScalePolicy::default();

    c.bench_function(
        "5000 instances x 50 shapes: worst case + capacity + assessment",
        |b| {
            b.iter(|| {
                let worst = WorstCase::of(black_box(&shapes)).expect("generated shapes are valid");
                let capacity = cluster_capacity(black_box(&instances), &worst)
                    .expect("generated input is valid");
                black_box(capacity.assess(&policy))
            })
        },
    );

    let worst = WorstCase::of(&shapes).expect("generated shapes are valid");
    c.bench_function("worst case of 50 shapes", |b| {
        b.iter(|| WorstCase::of(black_box(&shapes)))
    });
    c.bench_function("cluster capacity of 5000 instances", |b| {
        b.iter(|| cluster_capacity(black_box(&instances), black_box(&worst)))
    });

    // Issue 12's target: packing 1,000 unplaced tasks of 50 shapes under 1 ms.
    let capacity = cluster_capacity(&instances, &worst).expect("generated input is valid");
    let demand = Demand {
        unplaced: shapes
            .iter()
            .map(|shape| UnplacedTasks {
                service: shape.name.clone(),
                shape: shape.clone(),
                count: 20,
            })
            .collect(),
        daemons: vec![TaskShape::new("daemon:1", 128, 256)],
        ..Demand::default()
    };
    c.bench_function("pack 1000 unplaced tasks of 50 shapes", |b| {
        b.iter(|| plan_scale_out(black_box(&capacity), black_box(&demand), &policy))
    });
}

/// Issue 19's cluster: 5,000 container instances of four types with 50,000 tasks of 20
/// shapes dealt round-robin onto them (every 20th host left empty, so that there is
/// something to consolidate; 1 % DRAINING, 1 % do-not-disrupt), remaining = registered −
/// the tasks, every host removable long enough.
fn consolidation_cluster(rng: &mut Rng) -> (Vec<ClusterHost>, Vec<TaskShape>) {
    const SIZES: [(&str, u32, u32); 4] = [
        ("m5.xlarge", 4096, 15_576),
        ("c5.2xlarge", 8192, 15_576),
        ("m5.2xlarge", 8192, 31_744),
        ("r5.4xlarge", 16_384, 126_976),
    ];
    let shapes: Vec<TaskShape> = (0..20)
        .map(|n| {
            let shape = TaskShape::new(
                format!("svc-{n}:1"),
                64 * (1 + rng.below(4)),
                128 * (1 + rng.below(8)),
            );
            if n % 10 == 9 {
                shape.with_port(STATIC_PORTS[n / 10])
            } else {
                shape
            }
        })
        .collect();
    let mut hosts: Vec<ClusterHost> = (0..INSTANCES)
        .map(|n| {
            let (name, cpu, memory_mib) = SIZES[n % SIZES.len()];
            let registered = Resources {
                ports_tcp: RESERVED_PORTS.into(),
                ..Resources::new(cpu, memory_mib)
            };
            let mut instance =
                ContainerInstance::active(format!("ci-{n:05}"), registered.clone(), registered);
            instance.ec2_instance_id = Some(format!("i-{n:017x}"));
            instance.instance_type = Some(name.to_owned());
            if rng.below(100) == 0 {
                instance.status = InstanceStatus::Draining;
            }
            let mut host = ClusterHost::new(instance, Vec::new());
            host.do_not_disrupt = rng.below(100) == 0;
            host
        })
        .collect();
    let busy: Vec<usize> = (0..INSTANCES).filter(|n| n % 20 != 0).collect();
    let mut dealt = 0;
    // Deal until 50,000 are placed (a bounded number of tries, for a deterministic end).
    for next in 0..1_000_000 {
        if dealt == 50_000 {
            break;
        }
        let shape = &shapes[rng.below(shapes.len() as u32) as usize];
        let host = &mut hosts[busy[next % busy.len()]];
        let free = &mut host.instance.remaining;
        if free.cpu >= shape.cpu
            && free.memory_mib >= shape.memory_mib
            && shape.ports_tcp.is_disjoint(&free.ports_tcp)
        {
            free.cpu -= shape.cpu;
            free.memory_mib -= shape.memory_mib;
            free.ports_tcp.extend(shape.ports_tcp.iter().copied());
            host.tasks.push(capacity_core::HostTask::of_service(
                shape.clone(),
                &shape.name,
            ));
            dealt += 1;
        }
    }
    (hosts, shapes)
}

fn bench_consolidation(c: &mut Criterion) {
    let mut rng = Rng(0x0dd_ba11_c0ff_ee00);
    let (hosts, shapes) = consolidation_cluster(&mut rng);
    let worst = WorstCase::of(&shapes).expect("generated shapes are valid");
    let since: BTreeMap<String, u64> = hosts.iter().map(|h| (h.instance.id.clone(), 0)).collect();
    let input = ScaleInInput::new(&hosts, &worst, 1_000_000, &since);
    let tasks: usize = hosts.iter().map(|h| h.tasks.len()).sum();
    let plan = plan_scale_in(&input);
    assert!(
        plan.hosts_to_remove() > 0,
        "the bench cluster has hosts to consolidate"
    );
    eprintln!(
        "consolidation bench: {} instances, {tasks} tasks, plan removes {} (budget {}, {} DRAINING)",
        hosts.len(),
        plan.hosts_to_remove(),
        plan.budget,
        plan.draining
    );
    // Issue 19's target: under 50 ms.
    c.bench_function("plan scale-in of 5000 instances with 50000 tasks", |b| {
        b.iter(|| plan_scale_in(black_box(&input)))
    });
    // No budget to stop at: every candidate is tried (the bound's worst case).
    let unbounded = ScaleInInput {
        budget: DisruptionBudget::Percent(100),
        ..input.clone()
    };
    c.bench_function(
        "plan scale-in of 5000 instances with 50000 tasks, budget 100%",
        |b| b.iter(|| plan_scale_in(black_box(&unbounded))),
    );
}

/// The fit (`ecs-capacity report`, and every calculator run with the group's types): the
/// tasks of the consolidation cluster (50,000 tasks of 20 shapes) packed first-fit decreasing
/// onto empty hosts of each of the five types, beside one daemon task a host.
fn bench_fit(c: &mut Criterion) {
    let mut rng = Rng(0x0dd_ba11_c0ff_ee00);
    let (hosts, shapes) = consolidation_cluster(&mut rng);
    let worst = WorstCase::of(&shapes).expect("generated shapes are valid");
    let mut counts: BTreeMap<&str, (TaskShape, u32)> = BTreeMap::new();
    for task in hosts.iter().flat_map(|h| &h.tasks) {
        counts
            .entry(task.shape.name.as_str())
            .or_insert_with(|| (task.shape.clone(), 0))
            .1 += 1;
    }
    let tasks: Vec<(TaskShape, u32)> = counts.into_values().collect();
    let daemon = TaskShape::new("daemon", 128, 256);
    let templates: Vec<HostTemplate> = TYPES
        .iter()
        .map(|(name, cpu, memory_mib, _)| HostTemplate {
            instance_type: Some((*name).to_owned()),
            registered: Resources {
                ports_tcp: RESERVED_PORTS.into(),
                ..Resources::new(*cpu, *memory_mib)
            },
            eni_task_slots: None,
        })
        .collect();
    let fits: Vec<_> = templates
        .iter()
        .map(|t| fit(&tasks, std::slice::from_ref(&daemon), t, &worst))
        .collect();
    eprintln!(
        "fit bench: {} tasks of {} shapes; hosts per type {:?}",
        tasks.iter().map(|(_, n)| u64::from(*n)).sum::<u64>(),
        tasks.len(),
        fits.iter()
            .map(|f| (f.instance_type.as_str(), f.hosts))
            .collect::<Vec<_>>()
    );
    c.bench_function("fit 50000 tasks of 20 shapes on each of 5 types", |b| {
        b.iter(|| {
            templates
                .iter()
                .map(|t| fit(black_box(&tasks), std::slice::from_ref(&daemon), t, &worst))
                .collect::<Vec<_>>()
        })
    });
}

criterion_group!(benches, bench, bench_consolidation, bench_fit);
criterion_main!(benches);
