//! Task definitions to task shapes: what ECS reserves on the host for one task.

use std::collections::BTreeSet;

use capacity_core::{
    CapacityError, ContainerDefinition, NetworkMode, PortMapping, Protocol, TaskDefinition,
    TaskShape, parse_task_cpu, parse_task_memory,
};

fn container(
    name: &str,
    cpu: u32,
    memory: Option<u32>,
    reservation: Option<u32>,
) -> ContainerDefinition {
    ContainerDefinition {
        name: name.to_owned(),
        cpu,
        memory,
        memory_reservation: reservation,
        ..ContainerDefinition::default()
    }
}

fn mapping(container_port: Option<u16>, host_port: Option<u16>, protocol: Protocol) -> PortMapping {
    PortMapping {
        container_port,
        host_port,
        protocol,
    }
}

fn with_mappings(mut c: ContainerDefinition, mappings: Vec<PortMapping>) -> ContainerDefinition {
    c.port_mappings = mappings;
    c
}

fn definition(
    mode: NetworkMode,
    cpu: Option<&str>,
    memory: Option<&str>,
    containers: Vec<ContainerDefinition>,
) -> TaskDefinition {
    TaskDefinition {
        name: "app:7".to_owned(),
        cpu: cpu.map(str::to_owned),
        memory: memory.map(str::to_owned),
        network_mode: mode,
        containers,
        placement_constraints: Vec::new(),
    }
}

fn ports(list: &[u16]) -> BTreeSet<u16> {
    list.iter().copied().collect()
}

struct Case {
    behaviour: &'static str,
    definition: TaskDefinition,
    shape: TaskShape,
}

fn shape(cpu: u32, memory_mib: u32) -> TaskShape {
    TaskShape::new("app:7", cpu, memory_mib)
}

fn cases() -> Vec<Case> {
    use Protocol::*;
    let app = |mem| container("app", 256, Some(mem), None);
    vec![
        Case {
            behaviour: "task-level cpu and memory win over the containers' sizes",
            definition: definition(
                NetworkMode::Bridge,
                Some("1024"),
                Some("2048"),
                vec![
                    container("app", 256, Some(512), None),
                    container("sidecar", 128, Some(256), None),
                ],
            ),
            shape: shape(1024, 2048),
        },
        Case {
            behaviour: "without task-level sizes the containers' cpu and memory are summed",
            definition: definition(
                NetworkMode::Bridge,
                None,
                None,
                vec![
                    container("app", 256, Some(512), None),
                    container("sidecar", 128, Some(256), None),
                ],
            ),
            shape: shape(384, 768),
        },
        Case {
            behaviour: "memoryReservation is preferred over the hard memory limit",
            definition: definition(
                NetworkMode::Bridge,
                None,
                None,
                vec![
                    container("app", 256, Some(1024), Some(300)),
                    container("reservation-only", 0, None, Some(200)),
                    container("limit-only", 0, Some(100), None),
                ],
            ),
            shape: shape(256, 600),
        },
        Case {
            behaviour: "task-level cpu only: memory still comes from the containers",
            definition: definition(NetworkMode::Bridge, Some("512"), None, vec![app(700)]),
            shape: shape(512, 700),
        },
        Case {
            behaviour: "\"1 vCPU\" and \"0.5 GB\" are converted to CPU units and MiB",
            definition: definition(
                NetworkMode::Awsvpc,
                Some("1 vCPU"),
                Some("0.5 GB"),
                vec![app(128)],
            ),
            shape: shape(1024, 512).with_awsvpc(),
        },
        Case {
            behaviour: "\"0.25 vCPU\" and \"2GB\" are converted too",
            definition: definition(
                NetworkMode::Awsvpc,
                Some("0.25 vCPU"),
                Some("2GB"),
                vec![app(128)],
            ),
            shape: shape(256, 2048).with_awsvpc(),
        },
        Case {
            behaviour: "bridge mode: hostPort 0 and a missing hostPort are dynamic, not static",
            definition: definition(
                NetworkMode::Bridge,
                None,
                None,
                vec![with_mappings(
                    app(512),
                    vec![
                        mapping(Some(80), Some(0), Tcp),
                        mapping(Some(81), None, Tcp),
                    ],
                )],
            ),
            shape: shape(256, 512),
        },
        Case {
            behaviour: "bridge mode: a static hostPort is reserved, by protocol",
            definition: definition(
                NetworkMode::Bridge,
                None,
                None,
                vec![with_mappings(
                    app(512),
                    vec![
                        mapping(Some(80), Some(8080), Tcp),
                        mapping(Some(53), Some(5353), Udp),
                        mapping(Some(9000), Some(0), Tcp),
                    ],
                )],
            ),
            shape: TaskShape {
                ports_tcp: ports(&[8080]),
                ports_udp: ports(&[5353]),
                ..shape(256, 512)
            },
        },
        Case {
            behaviour: "host mode: the container port is the host port",
            definition: definition(
                NetworkMode::Host,
                None,
                None,
                vec![with_mappings(
                    app(512),
                    vec![
                        mapping(Some(9090), None, Tcp),
                        mapping(Some(8125), Some(8125), Udp),
                    ],
                )],
            ),
            shape: TaskShape {
                ports_tcp: ports(&[9090]),
                ports_udp: ports(&[8125]),
                ..shape(256, 512)
            },
        },
        Case {
            behaviour: "awsvpc mode: no host ports, one ENI",
            definition: definition(
                NetworkMode::Awsvpc,
                None,
                None,
                vec![with_mappings(
                    app(512),
                    vec![mapping(Some(80), Some(80), Tcp)],
                )],
            ),
            shape: shape(256, 512).with_awsvpc(),
        },
        Case {
            behaviour: "GPUs of all containers are summed",
            definition: definition(
                NetworkMode::Bridge,
                None,
                None,
                vec![
                    ContainerDefinition {
                        gpus: 1,
                        ..app(512)
                    },
                    ContainerDefinition {
                        gpus: 2,
                        ..container("worker", 0, Some(256), None)
                    },
                ],
            ),
            shape: shape(256, 768).with_gpus(3),
        },
    ]
}

#[test]
fn task_definition_to_shape_table() {
    let failures: Vec<String> = cases()
        .into_iter()
        .filter_map(|case| match TaskShape::from_definition(&case.definition) {
            Ok(got) if got == case.shape => None,
            Ok(got) => Some(format!(
                "{}: got {got:?}, want {:?}",
                case.behaviour, case.shape
            )),
            Err(e) => Some(format!("{}: error {e}", case.behaviour)),
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn task_size_strings() {
    let cpu = [
        ("256", Some(256)),
        (" 512 ", Some(512)),
        ("1 vCPU", Some(1024)),
        ("1vcpu", Some(1024)),
        ("2 VCPU", Some(2048)),
        ("0.5 vCPU", Some(512)),
        (".25 vCPU", Some(256)),
        ("0.125 vCPU", Some(128)),
        ("", None),
        ("vCPU", None),
        (". vCPU", None),
        ("1.2345 vCPU", None),
        ("-1", None),
        ("one vCPU", None),
        ("1 GB", None),
        ("1.5", None),
        ("99999999 vCPU", None),
    ];
    for (text, want) in cpu {
        assert_eq!(parse_task_cpu(text), want, "cpu {text:?}");
    }
    let memory = [
        ("512", Some(512)),
        ("1 GB", Some(1024)),
        ("0.5 GB", Some(512)),
        ("2gb", Some(2048)),
        ("30 GB", Some(30720)),
        ("1 vCPU", None),
        ("1 GiB", None),
        ("0.5e GB", None),
        ("4294967296", None),
    ];
    for (text, want) in memory {
        assert_eq!(parse_task_memory(text), want, "memory {text:?}");
    }
}

#[test]
fn network_modes_parse_from_ecs_spelling() {
    assert_eq!(NetworkMode::parse("bridge"), Some(NetworkMode::Bridge));
    assert_eq!(NetworkMode::parse("host"), Some(NetworkMode::Host));
    assert_eq!(NetworkMode::parse("awsvpc"), Some(NetworkMode::Awsvpc));
    assert_eq!(NetworkMode::parse("none"), Some(NetworkMode::None));
    assert_eq!(NetworkMode::parse("nat"), None);
    assert_eq!(NetworkMode::default(), NetworkMode::Bridge);
}

#[test]
fn invalid_task_level_sizes_name_the_shape_and_the_field() {
    let bad_cpu = definition(
        NetworkMode::Bridge,
        Some("lots"),
        None,
        vec![container("app", 0, Some(1), None)],
    );
    let err = TaskShape::from_definition(&bad_cpu).expect_err("\"lots\" is no CPU size");
    assert!(matches!(
        &err,
        CapacityError::InvalidTaskSize { field: "cpu", .. }
    ));
    let message = err.to_string();
    assert!(
        message.contains("app:7") && message.contains("\"lots\""),
        "{message}"
    );

    let bad_memory = definition(NetworkMode::Bridge, None, Some("1 TB"), vec![]);
    let err = TaskShape::from_definition(&bad_memory).expect_err("TB is no memory unit of ECS");
    assert!(matches!(
        &err,
        CapacityError::InvalidTaskSize {
            field: "memory",
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("task shape app:7: invalid task-level memory"),
        "{err}"
    );
}
