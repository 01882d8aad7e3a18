//! The chooser through the real SDK over HTTP, against the moto emulator: EC2 instances
//! (moto's `run_instances`, through the harness), container instances registered on them,
//! tasks started on some, one instance deregistered from the cluster.
//!
//! moto ignores ListContainerInstances' `filter` (../shared/TOOLING.md): every filtered list
//! answers the whole cluster, which the reader must narrow to the ids it asked for — so these
//! tests also check that a container instance that was not suggested never counts.

use capacity_aws::scale_in::{EcsInstanceTasks, InstanceTaskCounts, InstanceTasks};
use moto_harness::MotoServer;
use moto_harness::ecs::{container, deregister, register_task_definition, start_task};
use moto_harness::scale_in::termination_request;
use scale_in_chooser::{Basis, Config, Deps, handle};
use serde_json::json;

const CLUSTER: &str = "prod";

struct Hosts {
    _moto: MotoServer,
    ecs: aws_sdk_ecs::Client,
    /// EC2 instance ids: [2 tasks, 1 task, empty, deregistered, not suggested (5 tasks)].
    ids: Vec<String>,
}

/// Five EC2-backed container instances: the first runs two tasks, the second one, the third
/// none; the fourth is deregistered from the cluster (its EC2 instance still runs); the fifth
/// runs five tasks and is never suggested.
async fn hosts() -> Hosts {
    let moto = MotoServer::start();
    let ecs = moto.ecs_cluster(CLUSTER).await;
    let created = moto.add_container_instances(CLUSTER, 5, &json!({}));
    assert_eq!(created.len(), 5);
    let web = register_task_definition(&ecs, "web", container("web", Some(128), 256).build()).await;
    for (host, tasks) in [(0, 2), (1, 1), (4, 5)] {
        for _ in 0..tasks {
            start_task(&ecs, CLUSTER, &web, &created[host].0).await;
        }
    }
    deregister(&ecs, CLUSTER, &created[3].0).await;
    let ids = created.into_iter().map(|(_, ec2)| ec2).collect();
    Hosts {
        _moto: moto,
        ecs,
        ids,
    }
}

fn deps(ecs: &aws_sdk_ecs::Client) -> Deps<EcsInstanceTasks> {
    Deps::new(
        EcsInstanceTasks::new(ecs.clone()),
        Config::from_lookup(|k| (k == "ECS_CLUSTER").then(|| CLUSTER.to_owned())).expect("config"),
    )
}

#[tokio::test]
async fn the_read_counts_the_tasks_of_the_asked_instances_registered_in_the_cluster() {
    let hosts = hosts().await;
    let asked = &hosts.ids[..4];
    let counts = EcsInstanceTasks::new(hosts.ecs.clone())
        .instance_tasks(CLUSTER, asked)
        .await
        .expect("read");
    assert_eq!(
        counts.tasks,
        InstanceTaskCounts::from([
            (hosts.ids[0].clone(), 2),
            (hosts.ids[1].clone(), 1),
            (hosts.ids[2].clone(), 0),
        ]),
        "the deregistered instance is absent, the one not asked for is ignored"
    );
}

#[tokio::test]
async fn the_chooser_picks_the_unregistered_then_the_empty_then_the_least_busy() {
    let hosts = hosts().await;
    let deps = deps(&hosts.ecs);
    // Suggested in the group's order: busiest first, the deregistered one last.
    let suggested = &hosts.ids[..4];
    for (capacity, expected) in [
        (1, vec![&hosts.ids[3]]),
        (2, vec![&hosts.ids[3], &hosts.ids[2]]),
        (3, vec![&hosts.ids[3], &hosts.ids[2], &hosts.ids[1]]),
    ] {
        let outcome = handle(termination_request(suggested, capacity), &deps)
            .await
            .expect("answers");
        assert_eq!(outcome.basis, Basis::Ecs);
        let answered: Vec<&String> = outcome.response.instance_ids.iter().collect();
        assert_eq!(answered, expected, "capacity {capacity}");
    }
}

/// The harness's fault injection at rate 1 with seed 3 fails the next dozen AWS calls
/// (HTTP 500, throttling, dropped connections; none of its "slow but answered" kind).
fn fail_every_ecs_call(moto: &MotoServer) {
    moto.post("/_harness/fault-rate", &json!({"rate": 1.0, "seed": 3}));
}

#[tokio::test]
async fn with_ecs_failing_the_chooser_answers_the_groups_own_suggestions_in_time() {
    let hosts = hosts().await;
    fail_every_ecs_call(&hosts._moto);
    let deps = deps(&hosts.ecs);
    let started = std::time::Instant::now();
    let outcome = handle(termination_request(&hosts.ids[..4], 2), &deps)
        .await
        .expect("answers");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.response.instance_ids, hosts.ids[..2]);
    assert!(
        matches!(&outcome.basis, Basis::GroupOrder { .. }),
        "{:?}",
        outcome.basis
    );
}
