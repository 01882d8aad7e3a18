//! The five worked examples of DESIGN.md ("The math"), one test each.

mod common;

use capacity_core::{Resource, ScaleDecision, ScalePolicy, TaskShape};
use common::{HostExt, capacity, host, slots, worst};

#[test]
fn book_example_1_t2_micro_memory_binds() {
    let web = [TaskShape::new("web:1", 250, 400)];

    let empty = capacity(&[host("t2.micro", 1024, 993)], &web);
    let explained = &empty.instances()[0];
    assert_eq!(explained.per_resource.cpu, Some(4));
    assert_eq!(explained.per_resource.memory, Some(2));
    assert_eq!(explained.binding, Some(Resource::Memory));
    assert_eq!(empty.container_capacity(), 2);
    assert_eq!(empty.largest_host_slots(), 2);
    assert_eq!(empty.idle_host_capacity(), 1.0);

    let one_task = capacity(&[host("t2.micro", 1024, 993).remaining(774, 593)], &web);
    assert_eq!(one_task.instances()[0].per_resource.cpu, Some(3));
    assert_eq!(one_task.instances()[0].per_resource.memory, Some(1));
    assert_eq!(one_task.container_capacity(), 1);
    assert_eq!(one_task.idle_host_capacity(), 0.5);

    // The README's table goes one step further: a second task leaves 524 / 193.
    let two_tasks = capacity(&[host("t2.micro", 1024, 993).remaining(524, 193)], &web);
    assert_eq!(two_tasks.container_capacity(), 0);

    let policy = ScalePolicy::default();
    assert_eq!(empty.decide(&policy), ScaleDecision::Hold);
    assert_eq!(one_task.decide(&policy), ScaleDecision::Hold);
    assert_eq!(
        two_tasks.decide(&policy),
        ScaleDecision::ScaleOut { hosts: 1 }
    );
}

#[test]
fn book_example_2_idle_exactly_one_does_not_scale_in() {
    let shapes = [TaskShape::new("api:1", 400, 200)];
    let hosts = [
        host("a", 1000, 1000).remaining(600, 800),
        host("b", 1000, 1000).remaining(600, 800),
    ];

    let cap = capacity(&hosts, &shapes);
    assert_eq!(slots(&cap), [1, 1]);
    assert!(
        cap.instances()
            .iter()
            .all(|i| i.binding == Some(Resource::Cpu))
    );
    assert_eq!(cap.container_capacity(), 2);
    assert_eq!(cap.largest_host_slots(), 2); // min(1000/400, 1000/200) = min(2, 5)
    assert_eq!(cap.idle_host_capacity(), 1.0);
    assert_eq!(cap.decide(&ScalePolicy::default()), ScaleDecision::Hold);
}

#[test]
fn book_example_3_static_port_taken_on_both_hosts_leaves_no_room() {
    let shapes = [TaskShape::new("nginx:1", 500, 500).with_port(80)];
    let hosts = [
        host("a", 1000, 1000).remaining(500, 500).taken_port(80),
        host("b", 1000, 1000).remaining(500, 500).taken_port(80),
    ];

    let cap = capacity(&hosts, &shapes);
    assert_eq!(slots(&cap), [0, 0]);
    assert!(
        cap.instances()
            .iter()
            .all(|i| i.binding == Some(Resource::PortsTcp))
    );
    assert_eq!(cap.container_capacity(), 0);
    // CPU and memory alone would still say 2: the port is what binds.
    assert_eq!(cap.per_resource().cpu, Some(2));
    assert_eq!(cap.per_resource().memory, Some(2));
    assert_eq!(
        cap.decide(&ScalePolicy::default()),
        ScaleDecision::ScaleOut { hosts: 1 }
    );
}

#[test]
fn book_example_4_worst_case_of_300_400_500_mib_gives_4_per_2_gib_host() {
    let shapes = [
        TaskShape::new("small:1", 0, 300),
        TaskShape::new("medium:1", 0, 400),
        TaskShape::new("large:1", 0, 500),
    ];
    assert_eq!(worst(&shapes).memory_mib, 500);

    let cap = capacity(&[host("2gib", 2048, 2048)], &shapes);
    assert_eq!(cap.largest_host_slots(), 4);
    assert_eq!(cap.container_capacity(), 4);
    assert_eq!(cap.instances()[0].per_resource.cpu, None); // no shape needs CPU
    assert_eq!(cap.instances()[0].binding, Some(Resource::Memory));
}

#[test]
fn book_example_5_four_enis_hold_three_awsvpc_tasks() {
    let shapes = [
        TaskShape::new("svc-a:1", 256, 512).with_awsvpc(),
        TaskShape::new("svc-b:1", 128, 256).with_awsvpc(),
    ];
    // c5.large: 2 vCPUs, ~3.7 GiB, 3 ENIs + the primary; CPU (8) and memory (7) are ample.
    let cap = capacity(&[host("c5.large", 2048, 3700).enis(4, 0)], &shapes);
    assert_eq!(cap.instances()[0].per_resource.eni, Some(3));
    assert_eq!(cap.instances()[0].binding, Some(Resource::Eni));
    assert_eq!(cap.container_capacity(), 3);
    assert_eq!(cap.largest_host_slots(), 3);
}
