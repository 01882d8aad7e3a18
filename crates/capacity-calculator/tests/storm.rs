//! Load: the event storm a rolling deployment fires on a 1,000-instance cluster.
//!
//! 300 state-change events in 30 s, each for one instance whose remaining resources changed.
//! Counted through the real SDK (aws-smithy-mocks replays ListContainerInstances pages of 100
//! and DescribeContainerInstances batches of 100 from a shared, changing cluster state):
//! the ECS calls with a full read per event, and with the event cache; and the figure the
//! cached run publishes last is the one a fresh read of the final state gives.
//! Run with `--nocapture` to see the counts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::list_container_instances::ListContainerInstancesOutput;
use aws_sdk_ecs::types::{ContainerInstance, Resource};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use capacity_aws::EcsReader;
use capacity_aws::clock::{Clock, format_rfc3339};
use capacity_aws::fake::FakeMetrics;
use capacity_calculator::{Config, Deps, Source, handle};
use moto_harness::clock::ManualClock;
use serde_json::{Value, json};

const INSTANCES: usize = 1_000;
const EVENTS: usize = 300;
const START: u64 = 1_800_000_000;

type State = Arc<Mutex<Vec<(i32, i32, i64)>>>; // remaining CPU, MEMORY, version

fn arn(i: usize) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:container-instance/storm/{i:08}")
}

fn resource(name: &str, value: i32) -> Resource {
    Resource::builder()
        .name(name)
        .r#type("INTEGER")
        .integer_value(value)
        .build()
}

fn rules(state: &State) -> (Rule, Rule) {
    let list = mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_output(|req| {
        let page: usize = req.next_token().and_then(|t| t.parse().ok()).unwrap_or(0);
        let end = ((page + 1) * 100).min(INSTANCES);
        let mut out = ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some((page * 100..end).map(arn).collect()));
        if end < INSTANCES {
            out = out.next_token((page + 1).to_string());
        }
        out.build()
    });
    let state = state.clone();
    let describe =
        mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
            let state = state.lock().unwrap();
            let mut out = DescribeContainerInstancesOutput::builder();
            for a in req.container_instances() {
                let i: usize = a
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let (cpu, mem, version) = state[i];
                out = out.container_instances(
                    ContainerInstance::builder()
                        .container_instance_arn(a)
                        .status("ACTIVE")
                        .agent_connected(true)
                        .version(version)
                        .registered_resources(resource("CPU", 4096))
                        .registered_resources(resource("MEMORY", 8192))
                        .remaining_resources(resource("CPU", cpu))
                        .remaining_resources(resource("MEMORY", mem))
                        .build(),
                );
            }
            out.build()
        });
    (list, describe)
}

fn event(i: usize, cpu: i32, mem: i32, version: i64, at: SystemTime) -> Value {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let updated = format_rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(secs as u64));
    let res = |name: &str, v: i32| json!({"name": name, "type": "INTEGER", "integerValue": v});
    json!({
        "version": "0", "id": format!("e-{version}-{i}"), "detail-type": "ECS Container Instance State Change",
        "source": "aws.ecs", "account": "123456789012", "time": "2027-01-15T08:00:00Z", "region": "us-east-1",
        "resources": [arn(i)],
        "detail": {
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/storm",
            "containerInstanceArn": arn(i), "ec2InstanceId": format!("i-{i:017x}"),
            "status": "ACTIVE", "agentConnected": true, "version": version, "updatedAt": updated,
            "registeredResources": [res("CPU", 4096), res("MEMORY", 8192)],
            "remainingResources": [res("CPU", cpu), res("MEMORY", mem)],
        }
    })
}

struct Run {
    ecs_calls: usize,
    reads: usize,
    last_capacity: u64,
    fresh_capacity: u64,
}

async fn storm(refresh: &str) -> Run {
    let state: State = Arc::new(Mutex::new(vec![(2048, 4096, 1); INSTANCES]));
    let (list, describe) = rules(&state);
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&list, &describe, &no_services()]
    );
    let config = Config::from_lookup(|k| match k {
        "CONTAINER_MAX_CPU" => Some("512".into()),
        "CONTAINER_MAX_MEMORY" => Some("1024".into()),
        "CLUSTER_REFRESH_SECONDS" => Some(refresh.into()),
        _ => None,
    })
    .expect("config");
    let reader = EcsReader::new(client.clone());
    let mut deps = Deps::new(
        reader.clone(),
        reader,
        FakeMetrics::default(),
        config.clone(),
    );
    let now = ManualClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    deps.clock = Arc::new(now.clone());

    // A deterministic walk: task placements and removals across the cluster.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut reads = 0;
    let mut last_capacity = 0;
    for step in 0..EVENTS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let i = (seed % INSTANCES as u64) as usize;
        let tasks = ((seed >> 32) % 5) as i32; // 0..=4 tasks of 512/1024 on the host
        let at = now.now();
        let (cpu, mem, version) = {
            let mut s = state.lock().unwrap();
            let v = s[i].2 + 1;
            s[i] = (4096 - 512 * tasks, 8192 - 1024 * tasks, v);
            s[i]
        };
        let summary = handle(event(i, cpu, mem, version, at), &deps)
            .await
            .expect("handled")
            .published()
            .expect("published");
        if summary.source == Source::Read {
            reads += 1;
        }
        last_capacity = summary.assessment.container_capacity;
        now.set(at + Duration::from_millis(100) + Duration::from_millis(step as u64 % 3));
    }
    let ecs_calls = list.num_calls() + describe.num_calls();

    let reader = EcsReader::new(client);
    let fresh = Deps::new(
        reader.clone(),
        reader,
        FakeMetrics::default(),
        Config {
            cluster_refresh: Duration::ZERO,
            ..config
        },
    );
    let (cpu0, mem0, _) = state.lock().unwrap()[0];
    let fresh_capacity = handle(event(0, cpu0, mem0, 0, SystemTime::now()), &fresh)
        .await
        .expect("fresh read")
        .published()
        .expect("published")
        .assessment
        .container_capacity;
    Run {
        ecs_calls,
        reads,
        last_capacity,
        fresh_capacity,
    }
}

#[tokio::test]
async fn an_event_storm_costs_one_read_per_refresh_period_and_publishes_the_same_figure() {
    let before = storm("0").await;
    let after = storm("60").await;
    println!(
        "storm of {EVENTS} events on {INSTANCES} instances: ECS calls {} with a read per event, {} with the event cache ({} full reads)",
        before.ecs_calls, after.ecs_calls, after.reads
    );
    assert_eq!(before.ecs_calls, EVENTS * 2 * INSTANCES.div_ceil(100));
    assert_eq!(before.reads, EVENTS);
    assert_eq!(
        after.reads, 1,
        "30 s of events fit in one 60 s refresh period"
    );
    assert_eq!(after.ecs_calls, 2 * INSTANCES.div_ceil(100));
    assert_eq!(before.last_capacity, before.fresh_capacity);
    assert_eq!(
        after.last_capacity, after.fresh_capacity,
        "the cached view ends where a fresh read does"
    );
    assert_eq!(
        after.fresh_capacity, before.fresh_capacity,
        "same walk, same cluster"
    );
}

/// A cluster without services: ListServices answers one empty page.
fn no_services() -> Rule {
    mock!(aws_sdk_ecs::Client::list_services).then_output(|| {
        aws_sdk_ecs::operation::list_services::ListServicesOutput::builder().build()
    })
}
