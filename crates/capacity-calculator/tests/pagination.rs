//! Pagination and batching through the real SDK with aws-smithy-mocks.
//!
//! moto neither pages ListContainerInstances nor enforces DescribeContainerInstances' limit of
//! 100 ARNs (../shared/TOOLING.md), so these tests replay AWS's behaviour at the SDK's
//! interceptor: pages of 100 with a nextToken, and describe calls that fail above 100 ARNs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_ecs::operation::describe_container_instances::DescribeContainerInstancesOutput;
use aws_sdk_ecs::operation::list_container_instances::{
    ListContainerInstancesError, ListContainerInstancesOutput,
};
use aws_sdk_ecs::types::{ContainerInstance, Failure, Resource};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use capacity_aws::EcsReader;
use capacity_aws::fake::FakeMetrics;
use capacity_calculator::{Config, Deps, HandlerError, handle};
use serde_json::Value;

const EVENT: &str = include_str!("fixtures/book-ch12-container-instance-state-change.json");
const PAGE: usize = 100;

fn arn(i: usize) -> String {
    format!("arn:aws:ecs:us-east-1:385605022855:container-instance/todobackend-cluster/{i:08}")
}

fn resource(name: &str, value: i32) -> Resource {
    Resource::builder()
        .name(name)
        .r#type("INTEGER")
        .integer_value(value)
        .build()
}

fn instance(arn: &str) -> ContainerInstance {
    ContainerInstance::builder()
        .container_instance_arn(arn)
        .ec2_instance_id("i-0123456789abcdef0")
        .status("ACTIVE")
        .agent_connected(true)
        .registered_resources(resource("CPU", 1024))
        .registered_resources(resource("MEMORY", 993))
        .remaining_resources(resource("CPU", 1024))
        .remaining_resources(resource("MEMORY", 993))
        .build()
}

/// ListContainerInstances over `n` instances, in pages of 100 as AWS serves them.
fn list_rule(n: usize, fail_on_page: Option<usize>) -> Rule {
    mock!(aws_sdk_ecs::Client::list_container_instances).then_compute_response(move |req| {
        let page: usize = req.next_token().and_then(|t| t.parse().ok()).unwrap_or(0);
        if Some(page) == fail_on_page {
            return MockResponse::Error(ListContainerInstancesError::unhandled("page unavailable"));
        }
        let start = page * PAGE;
        let end = (start + PAGE).min(n);
        let mut out = ListContainerInstancesOutput::builder()
            .set_container_instance_arns(Some((start..end).map(arn).collect()));
        if end < n {
            out = out.next_token((page + 1).to_string());
        }
        MockResponse::Output(out.build())
    })
}

/// DescribeContainerInstances that, like AWS, refuses more than 100 ARNs; `missing` is
/// reported in `failures` instead of described.
fn describe_rule(largest_batch: Arc<AtomicUsize>, missing: Option<usize>) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_container_instances).then_compute_output(move |req| {
        let arns = req.container_instances();
        largest_batch.fetch_max(arns.len(), Ordering::SeqCst);
        assert!(
            arns.len() <= 100,
            "AWS rejects more than 100 ARNs, got {}",
            arns.len()
        );
        let mut out = DescribeContainerInstancesOutput::builder();
        for a in arns {
            if missing.is_some_and(|m| *a == arn(m)) {
                out = out.failures(Failure::builder().arn(a).reason("MISSING").build());
            } else {
                out = out.container_instances(instance(a));
            }
        }
        out.build()
    })
}

fn deps(client: aws_sdk_ecs::Client) -> Deps<EcsReader, EcsReader, FakeMetrics> {
    let config = Config::from_lookup(|k| match k {
        "CONTAINER_MAX_CPU" => Some("250".into()),
        "CONTAINER_MAX_MEMORY" => Some("400".into()),
        _ => None,
    })
    .expect("valid config");
    let reader = EcsReader::new(client);
    Deps::new(reader.clone(), reader, FakeMetrics::default(), config)
}

fn event() -> Value {
    serde_json::from_str(EVENT).expect("fixture is JSON")
}

#[tokio::test]
async fn every_instance_is_read_with_two_calls_per_hundred() {
    for n in [1, 99, 100, 101, 250, 5_000] {
        let largest_batch = Arc::new(AtomicUsize::new(0));
        let list = list_rule(n, None);
        let describe = describe_rule(largest_batch.clone(), None);
        let client = mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            [&list, &describe, &no_services()]
        );
        let deps = deps(client);

        let summary = handle(event(), &deps)
            .await
            .expect("handled")
            .published()
            .expect("published");

        let calls = n.div_ceil(PAGE);
        assert_eq!(summary.instances, n, "n = {n}");
        // Each empty t2.micro fits min(1024/250, 993/400) = 2 worst-case tasks.
        assert_eq!(
            summary.assessment.container_capacity,
            2 * n as u64,
            "n = {n}"
        );
        assert_eq!(
            list.num_calls(),
            calls,
            "ListContainerInstances calls for n = {n}"
        );
        assert_eq!(
            describe.num_calls(),
            calls,
            "DescribeContainerInstances calls for n = {n}"
        );
        assert_eq!(largest_batch.load(Ordering::SeqCst), n.min(PAGE), "n = {n}");
        assert_eq!(deps.metrics.calls().len(), 1);
    }
}

#[tokio::test]
async fn a_describe_failure_entry_is_a_partial_read_and_publishes_nothing() {
    let list = list_rule(250, None);
    let describe = describe_rule(Arc::default(), Some(170));
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&list, &describe, &no_services()]
    );
    let deps = deps(client);

    let err = handle(event(), &deps).await.unwrap_err();
    assert!(matches!(err, HandlerError::Read { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("returned failures")
            && message.contains(&arn(170))
            && message.contains("MISSING"),
        "{message}"
    );
    assert!(
        deps.metrics.calls().is_empty(),
        "a partial read must not be published"
    );
}

#[tokio::test]
async fn a_failed_page_publishes_nothing() {
    let list = list_rule(450, Some(3));
    let describe = describe_rule(Arc::default(), None);
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&list, &describe, &no_services()]
    );
    let deps = deps(client);

    let err = handle(event(), &deps).await.unwrap_err();
    assert!(err.to_string().contains("ListContainerInstances"), "{err}");
    assert_eq!(list.num_calls(), 4, "pages 0-2 succeed, page 3 fails");
    assert!(deps.metrics.calls().is_empty());
}

/// A cluster without services: ListServices answers one empty page.
fn no_services() -> Rule {
    mock!(aws_sdk_ecs::Client::list_services).then_output(|| {
        aws_sdk_ecs::operation::list_services::ListServicesOutput::builder().build()
    })
}
