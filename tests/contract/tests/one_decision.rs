//! One decision: the calculator Lambda (through its reading of the cluster with the fakes:
//! the snapshot, the cache, the group read, the executor) and the simulator's adapter
//! (`ecs_capacity::sim::decision::decide_on`, what every simulated run calls) decide the same
//! for the same reading, and make the same changes in the same order.
//!
//! The reading has every path that a simple cluster never takes: a host whose tasks the
//! listing no longer accounts for (unknown), a host the group is terminating (leaving), an
//! instance of the group with no container instance (outside the cluster), a DRAINING host
//! of ours, and — in capacity-provider mode — a provider shape the mode refuses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use capacity_aws::capacity_provider::{ClusterShape, FakeCapacityProviders, ProviderShape};
use capacity_aws::fake::{FakeAttributes, FakeCluster, FakeGroup, FakeMetrics};
use capacity_aws::services::{Deployment, Service};
use capacity_calculator::{Config, Deps, Summary, handle};
use capacity_core::mark::DRAINED_BY_ATTRIBUTE;
use capacity_core::placement::{ServicePlacement, ZONE_ATTRIBUTE};
use capacity_core::run::{
    AutoScalingGroup, GroupInstance, PlanMemory, TargetStatus, TaskPlacement, Trigger,
};
use capacity_core::{
    ContainerDefinition, ContainerInstance, Demand, HostTask, InstanceStatus, Resources,
    TaskDefinition, TaskShape, WorstCase,
};
use ecs_capacity::sim::decision::{Effect, SimReading, decide_on};
use moto_harness::clock::ManualClock;
use serde_json::json;

const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const WEB: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1";
const GROUP: &str = "prod-hosts";
const NOW: u64 = 1_800_000_000;

fn web_definition() -> TaskDefinition {
    TaskDefinition {
        name: WEB.into(),
        containers: vec![ContainerDefinition {
            name: "app".into(),
            cpu: 512,
            memory: Some(1024),
            ..ContainerDefinition::default()
        }],
        ..TaskDefinition::default()
    }
}

fn web() -> TaskShape {
    TaskShape::from_definition(&web_definition()).expect("web's shape")
}

/// One host of the reading: id, zone, status, tasks ECS counts, tasks the listing saw, the
/// group's lifecycle state of its EC2 instance, its marks.
struct Host {
    id: &'static str,
    zone: &'static str,
    status: InstanceStatus,
    counted: u32,
    listed: u32,
    lifecycle: &'static str,
    marks: &'static [(&'static str, &'static str)],
}

fn hosts() -> Vec<Host> {
    let host = |id, zone, counted, listed| Host {
        id,
        zone,
        status: InstanceStatus::Active,
        counted,
        listed,
        lifecycle: "InService",
        marks: &[],
    };
    vec![
        host("light", "eu-west-1a", 1, 1),
        // A task started since the listing: ECS counts 2, the listing saw 1.
        host("unknown", "eu-west-1a", 2, 1),
        Host {
            lifecycle: "Terminating:Wait",
            ..host("leaving", "eu-west-1b", 1, 1)
        },
        Host {
            status: InstanceStatus::Draining,
            marks: &[(DRAINED_BY_ATTRIBUTE, "1799999000")],
            ..host("ours", "eu-west-1b", 1, 1)
        },
        host("busy-a", "eu-west-1a", 3, 3),
        host("busy-b", "eu-west-1b", 3, 3),
    ]
}

fn instance(h: &Host) -> ContainerInstance {
    let used = h.counted;
    let mut i = ContainerInstance::active(
        h.id,
        Resources::new(4096, 8192),
        Resources::new(4096 - 512 * used, 8192 - 1024 * used),
    );
    i.status = h.status.clone();
    i.ec2_instance_id = Some(format!("i-{}", h.id));
    i.attributes.insert(ZONE_ATTRIBUTE.into(), h.zone.into());
    i
}

fn group(hosts: &[Host]) -> AutoScalingGroup {
    let mut g = AutoScalingGroup::with(GROUP, 0, 0, &[]);
    for h in hosts {
        g.instances
            .push(GroupInstance::new(&format!("i-{}", h.id), h.lifecycle).in_zone(h.zone));
    }
    // Launched, InService, its container instance not registered yet.
    g.instances
        .push(GroupInstance::new("i-booting", "InService").in_zone("eu-west-1b"));
    g.desired_capacity = g.instances.len() as u32;
    g
}

fn shape(protection: bool) -> ClusterShape {
    ClusterShape {
        providers: vec![ProviderShape {
            name: "prod".into(),
            auto_scaling_group: Some(GROUP.into()),
            managed_scaling: true,
            managed_termination_protection: protection,
        }],
    }
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|k| {
        vars.iter()
            .chain(&[
                ("ECS_CLUSTER", CLUSTER),
                ("CLUSTER_REFRESH_SECONDS", "0"),
                ("AUTO_SCALING_GROUP_NAME", GROUP),
                ("CONSOLIDATION_STABILITY_SECONDS", "0"),
                ("DISRUPTION_BUDGET", "3"),
            ])
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("config")
}

/// The Lambda on the reading, with the fakes: its summary, the status calls, the attribute
/// and tag calls (as effects, in order).
async fn lambda(vars: &[(&str, &str)], provider: ClusterShape) -> (Summary, Vec<Effect>) {
    let hosts = hosts();
    let total: u32 = hosts.iter().map(|h| h.counted).sum();
    let fake = FakeCluster {
        instances: hosts.iter().map(instance).collect(),
        task_counts: hosts
            .iter()
            .map(|h| (h.id.to_owned(), u64::from(h.counted)))
            .collect(),
        tasks_by_instance: hosts
            .iter()
            .map(|h| (h.id.to_owned(), vec![WEB.to_owned(); h.listed as usize]))
            .collect(),
        // The instances' tasks and the services' differ: the read lists the tasks.
        tasks_on_instances: Some(u64::from(total)),
        services: vec![Service {
            name: "web".into(),
            daemon: false,
            task_definition: Some(WEB.into()),
            deployments: vec![Deployment {
                task_definition: WEB.into(),
                primary: true,
                desired: total - 1,
                running: total - 1,
                pending: 0,
                on_ec2: true,
            }],
            placement: Default::default(),
        }],
        in_use: BTreeSet::from([WEB.to_owned()]),
        task_definitions: HashMap::from([(WEB.to_owned(), web_definition())]),
        ..FakeCluster::default()
    };
    for h in &hosts {
        let marks: BTreeMap<String, String> = h
            .marks
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if !marks.is_empty() {
            fake.marks.lock().unwrap().insert(h.id.to_owned(), marks);
        }
    }
    let definitions = FakeCluster {
        task_definitions: fake.task_definitions.clone(),
        ..FakeCluster::default()
    };
    let attributes = FakeAttributes {
        store: fake.marks.clone(),
        ..FakeAttributes::default()
    };
    let providers = FakeCapacityProviders {
        shape: provider,
        ..FakeCapacityProviders::default()
    };
    let mut deps = Deps::new(fake, definitions, FakeMetrics::default(), config(vars))
        .with_group(
            FakeGroup {
                group: Some(group(&hosts)),
                ..FakeGroup::default()
            },
            attributes.clone(),
        )
        .with_capacity_providers(providers.clone());
    deps.clock = Arc::new(ManualClock::at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
    ));
    let scheduled = json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2027-01-15T08:00:00Z", "region": "eu-west-1",
        "resources": [], "detail": {}
    });
    let summary = handle(scheduled, &deps)
        .await
        .expect("handled")
        .published()
        .expect("published");
    let mut effects = Vec::new();
    for (op, attributes) in attributes.calls() {
        for a in attributes {
            let (host, name) = (a.container_instance_arn, a.name);
            let value = a.value.unwrap_or_default();
            effects.push(match op {
                "PutAttributes" => Effect::PutMark { host, name, value },
                "DeleteAttributes" => Effect::DeleteMark { host, name, value },
                _ => Effect::Tag { key: name, value },
            });
        }
    }
    for (arns, status) in providers.calls() {
        effects.extend(
            arns.into_iter()
                .map(|host| Effect::SetStatus { host, status }),
        );
    }
    (summary, effects)
}

/// The simulator's adapter on the same reading.
fn simulator(vars: &[(&str, &str)], provider: ClusterShape) -> (SimReading, Vec<Effect>) {
    let hosts = hosts();
    let listed: HashMap<String, Vec<HostTask>> = hosts
        .iter()
        .map(|h| {
            let tasks = vec![HostTask::of_service(web(), "web"); h.listed as usize];
            (h.id.to_owned(), tasks)
        })
        .collect();
    let mut instances: Vec<ContainerInstance> = hosts.iter().map(instance).collect();
    for (i, h) in instances.iter_mut().zip(&hosts) {
        for (k, v) in h.marks {
            i.attributes.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    let config = config(vars);
    let reading = SimReading {
        launch: None,
        instances,
        worst_case: WorstCase::of([&web()]).expect("worst case"),
        demand: Demand::none(),
        placement: TaskPlacement {
            tasks: Some(listed),
            task_counts: hosts
                .iter()
                .map(|h| (h.id.to_owned(), u64::from(h.counted)))
                .collect(),
        },
        services: vec![ServicePlacement::read("web", &[], &[], false, Vec::new())],
        group: group(&hosts),
        provider: (config.scaling_mode == capacity_calculator::ScalingMode::CapacityProvider)
            .then_some(provider),
        memory: PlanMemory::default(),
        tags: BTreeMap::new(),
        settings: config.settings(),
        trigger: Trigger::Schedule,
        now: NOW,
    };
    let (_, effects, _) = decide_on(&reading).expect("a decision");
    (reading, effects)
}

/// Marks and tags in order, then statuses in order: the two kinds of calls go to two fakes.
fn by_kind(effects: &[Effect]) -> (Vec<&Effect>, Vec<&Effect>) {
    effects
        .iter()
        .partition(|e| !matches!(e, Effect::SetStatus { .. }))
}

#[tokio::test]
async fn capacity_provider_mode_with_a_refused_shape_decides_the_same_in_the_lambda_and_the_simulator()
 {
    let vars = [("SCALING_MODE", "capacity-provider")];
    let (summary, lambda_effects) = lambda(&vars, shape(false)).await;
    let (reading, sim_effects) = simulator(&vars, shape(false));
    let (decision, _, _) = decide_on(&reading).unwrap();
    assert_eq!(summary.scale_in_plan, decision.plan);
    assert_eq!(summary.assessment, decision.assessment);
    let acting = summary.acting.expect("capacity-provider mode acts");
    let decided = decision.acting.expect("capacity-provider mode acts");
    assert_eq!(acting.changes, decided.changes);
    assert_eq!(acting.refused, decided.refused);
    assert_eq!(by_kind(&lambda_effects), by_kind(&sim_effects));
    // What the reading makes of each path.
    assert!(
        acting
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("managed termination protection")),
        "{:?}",
        acting.refused
    );
    assert_eq!(
        acting
            .changes
            .given_up
            .iter()
            .map(|g| g.host.as_str())
            .collect::<Vec<_>>(),
        ["ours"],
        "a drain of ours the shape no longer lets finish is given up"
    );
    assert!(lambda_effects.contains(&Effect::SetStatus {
        host: "ours".into(),
        status: TargetStatus::Active
    }));
    assert!(
        acting.changes.drain.is_empty(),
        "nothing drained on a refused shape"
    );
    assert_eq!(
        summary.scale_in_plan.why_kept("unknown"),
        Some(&capacity_core::consolidation::Unconsolidatable::TasksUnknown)
    );
    assert!(matches!(
        summary.scale_in_plan.why_kept("leaving"),
        Some(capacity_core::consolidation::Unconsolidatable::Leaving { .. })
    ));
    assert!(
        !summary.scale_in_plan.ids().contains(&"i-booting"),
        "an instance outside the cluster is managed scaling's in this mode"
    );
}

#[tokio::test]
async fn self_managed_mode_decides_the_same_in_the_lambda_and_the_simulator() {
    let (summary, lambda_effects) = lambda(&[], shape(true)).await;
    let (reading, sim_effects) = simulator(&[], shape(true));
    let (decision, _, settled) = decide_on(&reading).unwrap();
    assert_eq!(summary.scale_in_plan, decision.plan);
    assert_eq!(summary.hosts_to_remove, Some(settled));
    assert_eq!(summary.marks, decision.marks);
    assert_eq!(by_kind(&lambda_effects), by_kind(&sim_effects));
    // Zone eu-west-1a has three hosts that stay, eu-west-1b two (one leaving, one DRAINING):
    // Auto Scaling shrinks 1a, so the plan takes its cheapest; the budget of 3 is then spent
    // (two leaving already), and the instance outside the cluster in 1b waits.
    assert_eq!(summary.scale_in_plan.ids(), ["light"]);
    assert!(matches!(
        summary.scale_in_plan.why_kept("i-booting"),
        Some(capacity_core::consolidation::Unconsolidatable::BudgetReached { .. })
    ));
    assert!(
        !lambda_effects.is_empty(),
        "the plan is marked and remembered"
    );
}
