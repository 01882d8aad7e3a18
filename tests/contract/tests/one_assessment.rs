//! The calculator and `ecs-capacity report` give the same figures for the same reading:
//! one snapshot of a cluster with tasks waiting for room, fed to both.

use std::collections::HashMap;

use capacity_aws::fake::{FakeCluster, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_aws::{TaskShapeCache, snapshot};
use capacity_calculator::{Config, Deps, handle};
use capacity_core::{ContainerDefinition, ContainerInstance, Resources, TaskDefinition};
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

#[tokio::test]
async fn report_and_calculator_assess_one_reading_alike() {
    for headroom in ["1", "3"] {
        let config = Config::from_lookup(|k| (k == "SCALE_OUT_HEADROOM").then(|| headroom.into()))
            .expect("config");
        let policy = config.policy;
        let fake = cluster();
        let definitions = FakeCluster {
            task_definitions: fake.task_definitions.clone(),
            ..FakeCluster::default()
        };
        let deps = Deps::new(fake, definitions, FakeMetrics::default(), config);
        let published = handle(placement_failure(), &deps)
            .await
            .expect("handled")
            .published()
            .expect("published");

        let reading = cluster();
        let cache = TaskShapeCache::new(&reading);
        let snap = snapshot(&reading, &cache, CLUSTER, None)
            .await
            .expect("snapshot");
        let report = ecs_capacity::report::build(
            &snap.cluster_name,
            &snap.instances,
            &snap.task_shapes,
            &snap.worst_case,
            &snap.demand,
            &policy,
        )
        .expect("report");

        assert!(published.assessment.unplaced_tasks > 0, "tasks wait");
        assert!(published.assessment.hosts_to_add > 0, "hosts are added");
        assert_eq!(
            report.assessment, published.assessment,
            "headroom {headroom}: one reading, one assessment"
        );
    }
}
