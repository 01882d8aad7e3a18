//! Promise 3 under injected faults: with 20% of the AWS calls answered with throttling,
//! HTTP 500, a slow answer or a dropped connection (tests/moto_server.py `fault-rate`, seeded),
//! every invocation either publishes the exact figures or publishes nothing.
//! Run with `--nocapture` to see the counts.

use capacity_aws::{CloudWatchPublisher, EcsReader};
use capacity_calculator::{Config, Deps, handle};
use moto_harness::MotoServer;
use moto_harness::ecs::create_cluster;
use serde_json::{Value, json};

const CLUSTER: &str = "faulty";
const INVOCATIONS: usize = 40;

#[tokio::test(flavor = "multi_thread")]
async fn under_injected_faults_the_exact_figures_or_nothing_are_published() {
    let moto = MotoServer::start();
    // A dropped connection costs one attempt timeout: 1 s here (moto answers in
    // milliseconds) instead of production's 5 s keeps the test quick; so does a first
    // backoff of 50 ms instead of the standard mode's 1 s (the retries are the same
    // three attempts, only sooner).
    let sdk = moto
        .sdk_config()
        .await
        .into_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(1))
                .operation_attempt_timeout(std::time::Duration::from_secs(1))
                .operation_timeout(std::time::Duration::from_secs(10))
                .build(),
        )
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(50)),
        )
        .build();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    create_cluster(&ecs, CLUSTER).await;
    moto.add_container_instances(
        CLUSTER,
        150,
        &json!({"registered": {"CPU": 2048, "MEMORY": 4096}, "remaining": {"CPU": 1024, "MEMORY": 4096}}),
    );
    let mut event: Value = serde_json::from_str(include_str!(
        "fixtures/book-ch12-container-instance-state-change.json"
    ))
    .expect("fixture is JSON");
    event["detail"]["clusterArn"] =
        format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}").into();
    let config = Config::from_lookup(|k| match k {
        "CONTAINER_MAX_CPU" => Some("512".into()),
        "CONTAINER_MAX_MEMORY" => Some("1024".into()),
        "CLUSTER_REFRESH_SECONDS" => Some("0".into()), // every invocation reads the cluster
        _ => None,
    })
    .expect("config");
    let reader = EcsReader::new(ecs);
    let metrics = CloudWatchPublisher::new(aws_sdk_cloudwatch::Client::new(&sdk));
    let deps = Deps::new(reader.clone(), reader, metrics, config);

    moto.post("/_harness/fault-rate", &json!({"rate": 0.2, "seed": 7}));
    let (mut published, mut failed) = (0, 0);
    for i in 0..INVOCATIONS {
        let before = moto.metrics("ECS/ClusterCapacity").len();
        let outcome = handle(event.clone(), &deps).await;
        let stored: Vec<f64> = moto
            .metrics("ECS/ClusterCapacity")
            .iter()
            .skip(before)
            .filter(|m| m["name"] == "ContainerCapacity")
            .filter_map(|m| m["value"].as_f64())
            .collect();
        match outcome {
            Ok(outcome) => {
                let summary = outcome.published().expect("published");
                published += 1;
                // 150 hosts x min(1024/512, 4096/1024) = 2 slots each.
                assert_eq!(summary.assessment.container_capacity, 300, "invocation {i}");
                assert_eq!(
                    stored,
                    vec![300.0],
                    "invocation {i}: exactly one, exact publication"
                );
            }
            Err(err) => {
                failed += 1;
                assert!(err.is_retryable(), "invocation {i}: {err}");
                assert!(
                    stored.is_empty(),
                    "invocation {i} failed ({err}) yet published {stored:?}"
                );
            }
        }
    }
    moto.post("/_harness/fault-rate", &json!({"rate": 0.0}));
    let stats = moto.get("/_harness/stats");
    println!(
        "{INVOCATIONS} invocations under 20% injected faults: {published} published the exact figures, {failed} published nothing; AWS calls {}, faults {}",
        stats["aws_calls"], stats["faults"]
    );
    let faults: u64 = ["throttle", "http500", "slow", "drop"]
        .iter()
        .filter_map(|k| stats["faults"][k].as_u64())
        .sum();
    assert!(faults > 0, "faults were injected: {stats}");
    assert!(
        published > 0,
        "the SDK's retries get most invocations through"
    );
}
