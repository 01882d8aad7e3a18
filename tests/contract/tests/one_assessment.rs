//! The calculator and `ecs-capacity report` give the same figures for the same reading:
//! one snapshot of a cluster with tasks waiting for room, fed to both.

use std::collections::HashMap;

use capacity_aws::fake::{FakeCluster, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_aws::{TaskShapeCache, snapshot};
use capacity_calculator::{Config, Deps, handle};
use capacity_core::{
    Assessment, ContainerDefinition, ContainerInstance, PlacementFailure, Resources, TaskDefinition,
};
use serde_json::json;

const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const WEB: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3";

fn cluster() -> FakeCluster {
    let web = TaskDefinition {
        name: WEB.into(),
        containers: vec![ContainerDefinition {
            name: "app".into(),
            cpu: 512,
            memory: Some(1024),
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    };
    let host = |id: &str, cpu, mem| {
        ContainerInstance::active(id, Resources::new(2048, 4096), Resources::new(cpu, mem))
    };
    FakeCluster {
        // Room for one more web task on the first host, none on the second.
        instances: vec![host("ci-1", 512, 1024), host("ci-2", 0, 0)],
        tasks_on_instances: Some(10),
        services: vec![Service {
            name: "web".into(),
            daemon: false,
            task_definition: Some(WEB.into()),
            deployments: vec![Deployment {
                task_definition: WEB.into(),
                primary: true,
                // Ten run; six more wanted.
                desired: 16,
                running: 10,
                pending: 0,
                on_ec2: true,
            }],
            placement: Default::default(),
        }],
        task_definitions: HashMap::from([(WEB.to_owned(), web)]),
        ..FakeCluster::default()
    }
}

fn placement_failure() -> serde_json::Value {
    json!({
        "version": "0", "id": "1", "detail-type": "ECS Service Action", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-12-04T03:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:ecs:eu-west-1:123456789012:service/prod/web"],
        "detail": {"eventType": "WARN", "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
                   "clusterArn": CLUSTER, "reason": "RESOURCE:MEMORY",
                   "createdAt": "2026-12-04T03:00:00.000Z"}
    })
}

fn scheduled() -> serde_json::Value {
    json!({
        "version": "0", "id": "2", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-04T03:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/schedule"], "detail": {}
    })
}

/// What the calculator publishes for `event` and what the report prints for a snapshot of the
/// same cluster, with `failures` added to the snapshot's demand.
async fn both(
    event: serde_json::Value,
    headroom: &str,
    failures: Vec<PlacementFailure>,
) -> (Assessment, Assessment) {
    let config = Config::from_lookup(|k| match k {
        "SCALE_OUT_HEADROOM" => Some(headroom.into()),
        "ECS_CLUSTER" => Some(CLUSTER.into()),
        _ => None,
    })
    .expect("config");
    let policy = config.policy;
    let fake = cluster();
    let definitions = FakeCluster {
        task_definitions: fake.task_definitions.clone(),
        ..FakeCluster::default()
    };
    let deps = Deps::new(fake, definitions, FakeMetrics::default(), config);
    let published = handle(event, &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");

    let reading = cluster();
    let cache = TaskShapeCache::new(&reading);
    let mut snap = snapshot(&reading, &cache, CLUSTER, None)
        .await
        .expect("snapshot");
    snap.demand.placement_failures = failures;
    let report = ecs_capacity::report::build(
        &snap.cluster_name,
        &snap.instances,
        &snap.task_shapes,
        &snap.worst_case,
        &snap.demand,
        &snap.placement,
        &snap.placement_rules,
        &policy,
        &Default::default(),
    )
    .expect("report");
    (published.assessment, report.assessment)
}

#[tokio::test]
async fn report_and_calculator_assess_one_reading_alike() {
    for headroom in ["1", "3"] {
        let (published, report) = both(scheduled(), headroom, Vec::new()).await;
        assert!(published.unplaced_tasks > 0, "tasks wait");
        assert!(published.hosts_to_add > 0, "hosts are added");
        assert_eq!(published.waiting_on_existing_room, 1, "one fits ci-1");
        assert_eq!(
            report, published,
            "headroom {headroom}: one reading, one assessment"
        );
    }
}

#[tokio::test]
async fn a_placement_failure_adds_only_its_own_word_to_the_reading() {
    // ECS just found no room for web: its tasks skip the room we read on ci-1. The report of
    // the same reading with that failure gives the same figures.
    let (published, report) = both(
        placement_failure(),
        "1",
        vec![PlacementFailure::new(
            "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
            "RESOURCE:MEMORY",
        )],
    )
    .await;
    assert_eq!(published.waiting_on_existing_room, 0);
    assert!(
        published.explanation.contains("RESOURCE:MEMORY"),
        "{}",
        published.explanation
    );
    assert_eq!(report, published);
}
