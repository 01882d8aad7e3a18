//! Bad input is an error, not a guess, and every error names the instance or shape it is
//! about.

mod common;

use capacity_core::{
    CapacityError, ContainerDefinition, EcsResource, InstanceStatus, ResourceValue, Resources,
    TaskDefinition, TaskShape, WorstCase, cluster_capacity,
};
use common::{HostExt, host, worst};

fn integer(name: &str, value: i64) -> EcsResource {
    EcsResource {
        name: name.to_owned(),
        value: ResourceValue::Integer(value),
    }
}

fn string_set(name: &str, values: &[&str]) -> EcsResource {
    EcsResource {
        name: name.to_owned(),
        value: ResourceValue::StringSet(values.iter().map(|v| (*v).to_owned()).collect()),
    }
}

/// Asserts that `err`'s message contains every one of `words`.
fn assert_names(err: &CapacityError, words: &[&str]) {
    let message = err.to_string();
    for word in words {
        assert!(message.contains(word), "{message:?} does not name {word:?}");
    }
}

#[test]
fn ecs_resource_lists_parse_into_resources() {
    let list = [
        integer("CPU", 2048),
        EcsResource {
            name: "MEMORY".to_owned(),
            value: ResourceValue::Long(3904),
        },
        string_set("PORTS", &["22", "2376", " 80 "]),
        string_set("PORTS_UDP", &["53"]),
        string_set("GPU", &["GPU-a", "GPU-b"]),
        EcsResource {
            name: "custom.attribute".to_owned(),
            value: ResourceValue::Double(1.5),
        },
    ];
    let parsed = Resources::from_ecs("i-1", "remaining", &list);
    let want = Resources {
        cpu: 2048,
        memory_mib: 3904,
        ports_tcp: [22, 80, 2376].into(),
        ports_udp: [53].into(),
        gpus: 2,
    };
    assert_eq!(parsed, Ok(want));
}

#[test]
fn resource_list_errors_name_the_instance_side_and_resource() {
    struct Case {
        behaviour: &'static str,
        list: Vec<EcsResource>,
        words: &'static [&'static str],
    }
    let cases = [
        Case {
            behaviour: "missing CPU",
            list: vec![integer("MEMORY", 1024)],
            words: &[
                "container instance i-0abc",
                "registered resources have no CPU",
            ],
        },
        Case {
            behaviour: "missing MEMORY",
            list: vec![integer("CPU", 1024)],
            words: &["i-0abc", "no MEMORY"],
        },
        Case {
            behaviour: "CPU as a STRINGSET",
            list: vec![string_set("CPU", &["1024"]), integer("MEMORY", 1024)],
            words: &[
                "i-0abc",
                "registered resource CPU is STRINGSET, expected INTEGER",
            ],
        },
        Case {
            behaviour: "MEMORY as a DOUBLE",
            list: vec![
                integer("CPU", 1024),
                EcsResource {
                    name: "MEMORY".to_owned(),
                    value: ResourceValue::Double(1024.0),
                },
            ],
            words: &["i-0abc", "MEMORY is DOUBLE, expected INTEGER"],
        },
        Case {
            behaviour: "PORTS as an INTEGER",
            list: vec![
                integer("CPU", 1),
                integer("MEMORY", 1),
                integer("PORTS", 80),
            ],
            words: &["i-0abc", "PORTS is INTEGER, expected STRINGSET"],
        },
        Case {
            behaviour: "a port that is not a number",
            list: vec![
                integer("CPU", 1),
                integer("MEMORY", 1),
                string_set("PORTS", &["22", "eighty"]),
            ],
            words: &["i-0abc", "PORTS has invalid value eighty"],
        },
        Case {
            behaviour: "a port beyond 65535",
            list: vec![
                integer("CPU", 1),
                integer("MEMORY", 1),
                string_set("PORTS_UDP", &["70000"]),
            ],
            words: &["i-0abc", "PORTS_UDP has invalid value 70000"],
        },
        Case {
            behaviour: "negative memory",
            list: vec![integer("CPU", 1), integer("MEMORY", -5)],
            words: &["i-0abc", "MEMORY has invalid value -5"],
        },
        Case {
            behaviour: "CPU beyond u32",
            list: vec![integer("CPU", 1 << 40), integer("MEMORY", 1)],
            words: &["i-0abc", "CPU has invalid value 1099511627776"],
        },
    ];
    for case in cases {
        match Resources::from_ecs("i-0abc", "registered", &case.list) {
            Ok(r) => panic!("{}: parsed as {r:?}", case.behaviour),
            Err(e) => assert_names(&e, case.words),
        }
    }
}

#[test]
fn remaining_above_registered_names_the_instance_and_resource() {
    let shapes = [TaskShape::new("web:1", 256, 256)];
    let cases = [
        (
            host("i-cpu", 1024, 1024).remaining(2048, 1024),
            &[
                "container instance i-cpu",
                "remaining CPU (2048) exceeds registered (1024)",
            ][..],
        ),
        (
            host("i-mem", 1024, 1024).remaining(1024, 1025),
            &["i-mem", "remaining MEMORY (1025) exceeds registered (1024)"][..],
        ),
        (
            host("i-gpu", 1024, 1024).gpus(1, 2),
            &["i-gpu", "remaining GPU (2) exceeds registered (1)"][..],
        ),
        (
            host("i-eni", 1024, 1024).enis(3, 3),
            &["i-eni", "remaining ENI (3) exceeds registered (2)"][..],
        ),
    ];
    for (bad, words) in cases {
        // Among valid instances, and even when not ACTIVE: corrupt input is never counted.
        let instances = [host("ok", 1024, 1024), bad.status("DRAINING")];
        match cluster_capacity(&instances, &worst(&shapes)) {
            Ok(c) => panic!(
                "{words:?}: accepted with capacity {}",
                c.container_capacity()
            ),
            Err(e) => assert_names(&e, words),
        }
    }
}

#[test]
fn task_shape_errors_name_the_shape() {
    let empty = WorstCase::of(&[
        TaskShape::new("web:1", 256, 256),
        TaskShape::new("idle:3", 0, 0),
    ]);
    match empty {
        Err(e @ CapacityError::EmptyTaskShape { .. }) => {
            assert_names(&e, &["task shape idle:3", "reserves no CPU and no memory"])
        }
        other => panic!("expected EmptyTaskShape, got {other:?}"),
    }

    let no_sizes = TaskDefinition {
        name: "sleep:1".to_owned(),
        containers: vec![ContainerDefinition {
            name: "sleep".to_owned(),
            memory: Some(0),
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    };
    match TaskShape::from_definition(&no_sizes) {
        Err(e @ CapacityError::EmptyTaskShape { .. }) => assert_names(&e, &["task shape sleep:1"]),
        other => panic!("expected EmptyTaskShape, got {other:?}"),
    }

    let without_memory = TaskDefinition {
        name: "api:12".to_owned(),
        containers: vec![
            ContainerDefinition {
                name: "app".to_owned(),
                cpu: 256,
                memory: Some(512),
                ..ContainerDefinition::default()
            },
            ContainerDefinition {
                name: "log-router".to_owned(),
                cpu: 32,
                ..ContainerDefinition::default()
            },
        ],
        ..TaskDefinition::default()
    };
    match TaskShape::from_definition(&without_memory) {
        Err(e @ CapacityError::ContainerWithoutMemory { .. }) => assert_names(
            &e,
            &[
                "task shape api:12",
                "container log-router",
                "neither memory nor memoryReservation",
            ],
        ),
        other => panic!("expected ContainerWithoutMemory, got {other:?}"),
    }

    // With a task-level memory, containers need no memory of their own.
    let task_level = TaskDefinition {
        memory: Some("1024".to_owned()),
        ..without_memory
    };
    assert_eq!(
        TaskShape::from_definition(&task_level).map(|s| (s.cpu, s.memory_mib)),
        Ok((288, 1024))
    );
}

#[test]
fn no_task_shapes_is_an_error() {
    assert_eq!(
        WorstCase::of(&[] as &[TaskShape]),
        Err(CapacityError::NoTaskShapes)
    );
}

#[test]
fn an_empty_worst_case_is_refused_by_the_capacity_math() {
    match cluster_capacity(&[host("a", 1024, 1024)], &WorstCase::default()) {
        Err(e @ CapacityError::EmptyTaskShape { .. }) => assert_names(&e, &["worst case"]),
        other => panic!("expected EmptyTaskShape, got {other:?}"),
    }
    match WorstCase::cpu_memory(0, 0) {
        Err(e) => assert_names(&e, &["configured worst case"]),
        Ok(w) => panic!("accepted {w:?}"),
    }
}

#[test]
fn statuses_parse_from_ecs_spelling_and_keep_unknown_ones() {
    for text in [
        "ACTIVE",
        "DRAINING",
        "REGISTERING",
        "DEREGISTERING",
        "REGISTRATION_FAILED",
        "INACTIVE",
        "SOMETHING_NEW",
    ] {
        let status = InstanceStatus::parse(text);
        assert_eq!(status.to_string(), text);
        assert_eq!(status == InstanceStatus::Active, text == "ACTIVE");
    }
    assert_eq!(
        InstanceStatus::parse("active"),
        InstanceStatus::Other("active".to_owned())
    );
}
