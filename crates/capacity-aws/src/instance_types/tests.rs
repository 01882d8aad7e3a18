//! The instance-type reads through EC2's Query protocol on the SDK's test HTTP client (the
//! requests' parameters, errors, retries and pagination) and the Auto Scaling SDK's mocks, and
//! the cache and the fake on a pinned clock. The same reads against moto:
//! crates/capacity-calculator/tests/instance_types_moto.rs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_autoscaling::operation::describe_launch_configurations::DescribeLaunchConfigurationsOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use capacity_core::fit::{LaunchOrder, TypeOverride};

use super::*;
use crate::clock::Sleep;
use crate::ec2_query::tests::sdk_answering;

/// A request's form parameters.
type Params = BTreeMap<String, String>;

/// One answer of the test EC2: to `action` when `asked` holds, `status` and `xml`; counts
/// its calls.
struct Answer {
    action: &'static str,
    asked: fn(&Params) -> bool,
    status: u16,
    xml: String,
    calls: AtomicUsize,
}

impl Answer {
    fn new(
        action: &'static str,
        asked: fn(&Params) -> bool,
        status: u16,
        xml: String,
    ) -> Arc<Answer> {
        Arc::new(Answer {
            action,
            asked,
            status,
            xml,
            calls: AtomicUsize::new(0),
        })
    }

    fn num_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// `<item>` of DescribeInstanceTypes for `(name, vCPUs, MiB)`, with 4 network interfaces.
fn type_item(name: &str, vcpus: u32, memory_mib: u32) -> String {
    format!(
        "<item><instanceType>{name}</instanceType><vCpuInfo><defaultVCpus>{vcpus}</defaultVCpus></vCpuInfo>\
         <memoryInfo><sizeInMiB>{memory_mib}</sizeInMiB></memoryInfo>\
         <networkInfo><maximumNetworkInterfaces>4</maximumNetworkInterfaces></networkInfo></item>"
    )
}

fn types_answer(
    types: &[(&str, u32, u32)],
    next: Option<&str>,
    asked: fn(&Params) -> bool,
) -> Arc<Answer> {
    let items: String = types.iter().map(|(n, v, m)| type_item(n, *v, *m)).collect();
    let next = next
        .map(|t| format!("<nextToken>{t}</nextToken>"))
        .unwrap_or_default();
    Answer::new(
        "DescribeInstanceTypes",
        asked,
        200,
        format!(
            "<DescribeInstanceTypesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>r</requestId><instanceTypeSet>{items}</instanceTypeSet>{next}</DescribeInstanceTypesResponse>"
        ),
    )
}

/// A DescribeLaunchTemplateVersions answer whose one version's `launchTemplateData` holds `data`.
fn version_answer(data: &str, asked: fn(&Params) -> bool) -> Arc<Answer> {
    Answer::new(
        "DescribeLaunchTemplateVersions",
        asked,
        200,
        format!(
            "<DescribeLaunchTemplateVersionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>r</requestId><launchTemplateVersionSet><item><launchTemplateId>lt-0abc</launchTemplateId>\
             <versionNumber>3</versionNumber><launchTemplateData>{data}</launchTemplateData></item>\
             </launchTemplateVersionSet></DescribeLaunchTemplateVersionsResponse>"
        ),
    )
}

/// EC2's refusal of `action` with `code` and `message`.
fn refusal(action: &'static str, status: u16, code: &str, message: &str) -> Arc<Answer> {
    Answer::new(
        action,
        |_| true,
        status,
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>\
             <RequestID>r</RequestID></Response>"
        ),
    )
}

fn template_of(instance_type: &str) -> String {
    format!("<imageId>ami-1</imageId><instanceType>{instance_type}</instanceType>")
}

/// The asked types, sorted.
fn asked_types(p: &Params) -> Vec<&str> {
    let mut asked: Vec<&str> = p
        .iter()
        .filter(|(k, _)| k.starts_with("InstanceType."))
        .map(|(_, v)| v.as_str())
        .collect();
    asked.sort_unstable();
    asked
}

fn param<'a>(p: &'a Params, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str)
}

fn reader(ec2_answers: &[&Arc<Answer>], asg_rules: &[&Rule]) -> Ec2InstanceTypes {
    let answers: Vec<Arc<Answer>> = ec2_answers.iter().map(|a| Arc::clone(a)).collect();
    let (sdk, _) = sdk_answering(move |body| {
        let params: Params = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let action = param(&params, "Action").unwrap_or_default();
        match answers
            .iter()
            .find(|a| a.action == action && (a.asked)(&params))
        {
            Some(a) => {
                a.calls.fetch_add(1, Ordering::SeqCst);
                (a.status, a.xml.clone())
            }
            None => (
                400,
                format!(
                    "<Response><Errors><Error><Code>NoRule</Code><Message>no answer for {body}</Message></Error></Errors></Response>"
                ),
            ),
        }
    });
    let asg = mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, asg_rules);
    Ec2InstanceTypes::new(Ec2Query::new(&sdk), asg)
}

fn by_id(id: &str, version: Option<&str>) -> TemplateRef {
    TemplateRef {
        id: Some(id.to_owned()),
        name: None,
        version: version.map(str::to_owned),
    }
}

fn over(instance_type: &str, weight: Option<u32>) -> TypeOverride {
    TypeOverride {
        instance_type: Some(instance_type.to_owned()),
        weight,
        launch_template: None,
    }
}

fn names(launch: &GroupLaunch) -> Vec<(&str, u32)> {
    launch
        .types
        .iter()
        .map(|t| (t.info.name.as_str(), t.weight))
        .collect()
}

#[tokio::test]
async fn a_launch_template_is_one_type_with_its_size() {
    let versions = version_answer(&template_of("m5.large"), |p| {
        param(p, "LaunchTemplateId") == Some("lt-0abc")
            && param(p, "LaunchTemplateName").is_none()
            && param(p, "LaunchTemplateVersion.1") == Some("$Latest")
    });
    let types = types_answer(&[("m5.large", 2, 8192)], None, |p| {
        asked_types(p) == ["m5.large"]
    });
    let spec = LaunchSpec {
        launch_template: Some(by_id("lt-0abc", Some("$Latest"))),
        ..LaunchSpec::default()
    };
    let launch = reader(&[&versions, &types], &[])
        .group_launch(&spec)
        .await
        .expect("resolved");
    assert_eq!(launch.order, LaunchOrder::OneType);
    let [only] = launch.types.as_slice() else {
        panic!("one type: {launch:?}");
    };
    assert_eq!(
        (
            only.info.name.as_str(),
            only.info.vcpus,
            only.info.memory_mib
        ),
        ("m5.large", 2, 8192)
    );
    assert_eq!(
        (only.info.max_enis, only.info.gpus, only.weight),
        (Some(4), 0, 1)
    );
    assert_eq!((versions.num_calls(), types.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_template_without_a_version_is_read_at_its_default_by_name() {
    let versions = version_answer(&template_of("m5.large"), |p| {
        param(p, "LaunchTemplateName") == Some("ecs-hosts")
            && param(p, "LaunchTemplateId").is_none()
            && param(p, "LaunchTemplateVersion.1") == Some("$Default")
    });
    let types = types_answer(&[("m5.large", 2, 8192)], None, |_| true);
    let spec = LaunchSpec {
        launch_template: Some(TemplateRef {
            id: None,
            name: Some("ecs-hosts".into()),
            version: None,
        }),
        ..LaunchSpec::default()
    };
    reader(&[&versions, &types], &[])
        .group_launch(&spec)
        .await
        .expect("resolved");
    assert_eq!(versions.num_calls(), 1);
}

#[tokio::test]
async fn the_overrides_are_the_types_in_their_order_with_one_describe_of_the_distinct_names() {
    // The third override has a template of its own and no type: its template says the type.
    let versions = version_answer(&template_of("m6g.xlarge"), |p| {
        param(p, "LaunchTemplateId") == Some("lt-arm")
            && param(p, "LaunchTemplateVersion.1") == Some("2")
    });
    let types = types_answer(
        &[
            ("c5.xlarge", 4, 8192),
            ("m5.2xlarge", 8, 32768),
            ("m6g.xlarge", 4, 16384),
        ],
        None,
        |p| asked_types(p) == ["c5.xlarge", "m5.2xlarge", "m6g.xlarge"],
    );
    let spec = LaunchSpec {
        launch_template: Some(by_id("lt-0abc", Some("$Latest"))),
        overrides: vec![
            over("c5.xlarge", None),
            over("m5.2xlarge", Some(2)),
            TypeOverride {
                instance_type: None,
                weight: Some(1),
                launch_template: Some(by_id("lt-arm", Some("2"))),
            },
            over("c5.xlarge", Some(1)),
        ],
        ..LaunchSpec::default()
    };
    let launch = reader(&[&versions, &types], &[])
        .group_launch(&spec)
        .await
        .expect("resolved");
    assert_eq!(
        names(&launch),
        [
            ("c5.xlarge", 1),
            ("m5.2xlarge", 2),
            ("m6g.xlarge", 1),
            ("c5.xlarge", 1)
        ]
    );
    assert_eq!(launch.order, LaunchOrder::Prioritized);
    assert_eq!(
        (versions.num_calls(), types.num_calls()),
        (1, 1),
        "the group's own template is not read: every override names its type"
    );
}

#[tokio::test]
async fn a_launch_configuration_is_its_instance_type() {
    let configurations = mock!(aws_sdk_autoscaling::Client::describe_launch_configurations)
        .match_requests(|r| r.launch_configuration_names() == ["ecs-hosts-v3"])
        .then_output(|| {
            DescribeLaunchConfigurationsOutput::builder()
                .launch_configurations(
                    aws_sdk_autoscaling::types::LaunchConfiguration::builder()
                        .launch_configuration_name("ecs-hosts-v3")
                        .instance_type("c5.large")
                        .build(),
                )
                .build()
        });
    let types = types_answer(&[("c5.large", 2, 4096)], None, |_| true);
    let spec = LaunchSpec {
        launch_configuration: Some("ecs-hosts-v3".into()),
        ..LaunchSpec::default()
    };
    let launch = reader(&[&types], &[&configurations])
        .group_launch(&spec)
        .await
        .expect("resolved");
    assert_eq!(names(&launch), [("c5.large", 1)]);
    assert_eq!(launch.order, LaunchOrder::OneType);
}

#[tokio::test]
async fn a_missing_launch_configuration_is_not_found_by_name() {
    let configurations = mock!(aws_sdk_autoscaling::Client::describe_launch_configurations)
        .then_output(|| DescribeLaunchConfigurationsOutput::builder().build());
    let spec = LaunchSpec {
        launch_configuration: Some("gone".into()),
        ..LaunchSpec::default()
    };
    let err = reader(&[], &[&configurations])
        .group_launch(&spec)
        .await
        .expect_err("gone");
    assert!(matches!(err, Error::LaunchNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("launch configuration gone"),
        "{err}"
    );
}

#[tokio::test]
async fn a_template_that_selects_by_attributes_is_an_error_naming_it_not_a_size() {
    let versions = version_answer(
        "<instanceRequirements><vCpuCount><min>2</min></vCpuCount></instanceRequirements>",
        |_| true,
    );
    let types = types_answer(&[], None, |_| true);
    let spec = LaunchSpec {
        launch_template: Some(by_id("lt-0abc", Some("$Latest"))),
        ..LaunchSpec::default()
    };
    let err = reader(&[&versions, &types], &[])
        .group_launch(&spec)
        .await
        .expect_err("by attributes");
    assert!(matches!(err, Error::AttributeBasedTypes { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("launch template lt-0abc version $Latest"),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(types.num_calls(), 0);
}

#[tokio::test]
async fn a_type_ec2_does_not_know_is_an_error_naming_it() {
    let refused = refusal(
        "DescribeInstanceTypes",
        400,
        "InvalidInstanceType",
        "The following supplied instance types do not exist: [m5.larg]",
    );
    let spec = LaunchSpec {
        overrides: vec![over("m5.large", None), over("m5.larg", None)],
        ..LaunchSpec::default()
    };
    let err = reader(&[&refused], &[])
        .group_launch(&spec)
        .await
        .expect_err("unknown");
    assert!(
        matches!(&err, Error::UnknownInstanceType { instance_type } if instance_type == "m5.larg"),
        "{err:?}"
    );
    // An answer that leaves a name out is the same error.
    let partial = types_answer(&[("m5.large", 2, 8192)], None, |_| true);
    let err = reader(&[&partial], &[])
        .group_launch(&spec)
        .await
        .expect_err("left out");
    assert!(err.to_string().contains("m5.larg "), "{err}");
}

#[tokio::test]
async fn a_failed_call_names_the_operation_and_what_it_asked_and_keeps_the_cause() {
    let throttled = refusal(
        "DescribeInstanceTypes",
        503,
        "RequestLimitExceeded",
        "Request limit exceeded.",
    );
    let spec = LaunchSpec {
        overrides: vec![over("c5.xlarge", None)],
        ..LaunchSpec::default()
    };
    let err = reader(&[&throttled], &[])
        .group_launch(&spec)
        .await
        .expect_err("throttled");
    let text = err.to_string();
    assert!(
        text.contains("DescribeInstanceTypes")
            && text.contains("c5.xlarge")
            && text.contains("Request limit exceeded"),
        "{text}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(err.is_retryable());
    assert_eq!(
        throttled.num_calls(),
        3,
        "throttling is retried as the SDK retries it (standard mode: three attempts)"
    );
}

#[tokio::test]
async fn the_described_types_are_read_across_pages() {
    let first = types_answer(&[("c5.xlarge", 4, 8192)], Some("page-2"), |p| {
        param(p, "NextToken").is_none()
    });
    let second = types_answer(&[("m5.xlarge", 4, 16384)], None, |p| {
        param(p, "NextToken") == Some("page-2") && asked_types(p) == ["c5.xlarge", "m5.xlarge"]
    });
    let spec = LaunchSpec {
        overrides: vec![over("m5.xlarge", None), over("c5.xlarge", None)],
        ..LaunchSpec::default()
    };
    let launch = reader(&[&first, &second], &[])
        .group_launch(&spec)
        .await
        .expect("resolved");
    assert_eq!(names(&launch), [("m5.xlarge", 1), ("c5.xlarge", 1)]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[test]
fn a_types_gpus_are_summed_and_a_missing_size_is_an_error_naming_the_field() {
    let text = |v: &str| Some(v.to_owned());
    let g5 = DescribedType {
        instance_type: text("g5.12xlarge"),
        default_vcpus: text("48"),
        memory_mib: text("196608"),
        max_enis: None,
        gpu_counts: vec![text("3"), text("1")],
    };
    let info = type_info(&g5).expect("converted");
    assert_eq!((info.vcpus, info.memory_mib, info.gpus), (48, 196_608, 4));
    assert_eq!(info.max_enis, None);
    let no_vcpus = DescribedType {
        instance_type: text("m5.large"),
        memory_mib: text("8192"),
        ..DescribedType::default()
    };
    let err = type_info(&no_vcpus).expect_err("no vCPUs");
    assert!(
        err.to_string().contains("m5.large") && err.to_string().contains("VCpuInfo.DefaultVCpus"),
        "{err}"
    );
    let negative = DescribedType {
        default_vcpus: text("-2"),
        ..no_vcpus
    };
    let err = type_info(&negative).expect_err("negative vCPUs");
    assert!(
        matches!(&err, Error::InvalidField { field: "VCpuInfo.DefaultVCpus", value, .. } if value == "-2"),
        "{err:?}"
    );
}

/// A clock the test moves.
#[derive(Debug, Default)]
struct TestClock(AtomicU64);

impl TestClock {
    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + self.0.load(Ordering::SeqCst))
    }

    fn sleep(&self, _: Duration) -> Sleep<'_> {
        Box::pin(std::future::ready(()))
    }
}

fn fake() -> FakeInstanceTypes {
    FakeInstanceTypes::with(&[("m5.large", 2, 8192), ("m5.xlarge", 4, 16384)])
        .launching("ecs-hosts", Some("m5.large"))
}

fn template_spec() -> LaunchSpec {
    LaunchSpec {
        launch_template: Some(TemplateRef {
            id: None,
            name: Some("ecs-hosts".into()),
            version: Some("$Latest".into()),
        }),
        ..LaunchSpec::default()
    }
}

#[tokio::test]
async fn each_launch_spec_is_read_once_an_hour() {
    let clock = Arc::new(TestClock::default());
    let cache = GroupLaunchCache::new(fake(), clock.clone());
    let spec = template_spec();
    let first = cache.group_launch(&spec).await.expect("read");
    clock.advance(LAUNCH_CACHE_TTL - Duration::from_secs(1));
    assert_eq!(cache.group_launch(&spec).await.expect("cached"), first);
    assert_eq!(cache.reader().reads(), 1);
    // `$Latest` may have moved on: after the hour the template is read again.
    clock.advance(Duration::from_secs(1));
    cache.group_launch(&spec).await.expect("read again");
    assert_eq!(cache.reader().reads(), 2);
    // Another specification (the group was changed) is its own entry.
    let mixed = LaunchSpec {
        overrides: vec![over("m5.xlarge", None)],
        ..spec
    };
    let launch = cache.group_launch(&mixed).await.expect("read");
    assert_eq!(names(&launch), [("m5.xlarge", 1)]);
    assert_eq!(cache.reader().reads(), 3);
}

#[tokio::test]
async fn a_failed_read_is_not_kept() {
    let clock = Arc::new(TestClock::default());
    let cache = GroupLaunchCache::new(fake().failing(), clock);
    let err = cache
        .group_launch(&template_spec())
        .await
        .expect_err("injected");
    assert!(err.is_retryable(), "{err}");
    cache
        .group_launch(&template_spec())
        .await
        .expect_err("asked again");
    assert_eq!(cache.reader().reads(), 2);
}

#[tokio::test]
async fn the_fake_resolves_by_the_same_rule() {
    let fake = fake().launching("abs-hosts", None);
    let launch = fake.group_launch(&template_spec()).await.expect("read");
    assert_eq!(names(&launch), [("m5.large", 1)]);
    let by_attributes = LaunchSpec {
        launch_template: Some(TemplateRef {
            id: None,
            name: Some("abs-hosts".into()),
            version: None,
        }),
        ..LaunchSpec::default()
    };
    let err = fake
        .group_launch(&by_attributes)
        .await
        .expect_err("attributes");
    assert!(matches!(err, Error::AttributeBasedTypes { .. }), "{err:?}");
    let attribute_override = LaunchSpec {
        overrides: vec![TypeOverride {
            instance_type: None,
            weight: None,
            launch_template: None,
        }],
        ..template_spec()
    };
    let err = fake
        .group_launch(&attribute_override)
        .await
        .expect_err("attributes");
    assert!(
        err.to_string()
            .contains("override 1 of the mixed instances policy"),
        "{err}"
    );
    let unknown = LaunchSpec {
        overrides: vec![over("x9.huge", None)],
        ..LaunchSpec::default()
    };
    let err = fake.group_launch(&unknown).await.expect_err("unknown");
    assert!(err.to_string().contains("x9.huge"), "{err}");
}
