//! The instance-type reads through the SDK's own mocks (the calls' shapes, errors and
//! pagination), and the cache and the fake on a pinned clock. The same reads against moto:
//! crates/capacity-calculator/tests/instance_types_moto.rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_autoscaling::operation::describe_launch_configurations::DescribeLaunchConfigurationsOutput;
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::describe_instance_types::{
    DescribeInstanceTypesError, DescribeInstanceTypesInput, DescribeInstanceTypesOutput,
};
use aws_sdk_ec2::operation::describe_launch_template_versions::{
    DescribeLaunchTemplateVersionsInput, DescribeLaunchTemplateVersionsOutput,
};
use aws_sdk_ec2::types as ec2;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use capacity_core::fit::{LaunchOrder, TypeOverride};

use super::*;
use crate::clock::Sleep;

fn sdk_type(name: &str, vcpus: i32, memory_mib: i64) -> ec2::InstanceTypeInfo {
    ec2::InstanceTypeInfo::builder()
        .instance_type(ec2::InstanceType::from(name))
        .v_cpu_info(ec2::VCpuInfo::builder().default_v_cpus(vcpus).build())
        .memory_info(ec2::MemoryInfo::builder().size_in_mib(memory_mib).build())
        .network_info(
            ec2::NetworkInfo::builder()
                .maximum_network_interfaces(4)
                .build(),
        )
        .build()
}

type TypesAsked = fn(&DescribeInstanceTypesInput) -> bool;
type VersionsAsked = fn(&DescribeLaunchTemplateVersionsInput) -> bool;

fn types_answer(types: Vec<ec2::InstanceTypeInfo>, next: Option<&str>, asked: TypesAsked) -> Rule {
    let next = next.map(str::to_owned);
    mock!(aws_sdk_ec2::Client::describe_instance_types)
        .match_requests(asked)
        .then_output(move || {
            DescribeInstanceTypesOutput::builder()
                .set_instance_types(Some(types.clone()))
                .set_next_token(next.clone())
                .build()
        })
}

fn version_answer(data: ec2::ResponseLaunchTemplateData, asked: VersionsAsked) -> Rule {
    mock!(aws_sdk_ec2::Client::describe_launch_template_versions)
        .match_requests(asked)
        .then_output(move || {
            DescribeLaunchTemplateVersionsOutput::builder()
                .launch_template_versions(
                    ec2::LaunchTemplateVersion::builder()
                        .launch_template_id("lt-0abc")
                        .version_number(3)
                        .launch_template_data(data.clone())
                        .build(),
                )
                .build()
        })
}

fn template_of(instance_type: &str) -> ec2::ResponseLaunchTemplateData {
    ec2::ResponseLaunchTemplateData::builder()
        .instance_type(ec2::InstanceType::from(instance_type))
        .build()
}

fn reader(ec2_rules: &[&Rule], asg_rules: &[&Rule]) -> Ec2InstanceTypes {
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, ec2_rules);
    let asg = mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, asg_rules);
    Ec2InstanceTypes::new(ec2, asg)
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
    let versions = version_answer(template_of("m5.large"), |r| {
        r.launch_template_id() == Some("lt-0abc")
            && r.launch_template_name().is_none()
            && r.versions() == ["$Latest"]
    });
    let types = types_answer(vec![sdk_type("m5.large", 2, 8192)], None, |r| {
        r.instance_types() == [ec2::InstanceType::M5Large]
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
    let versions = version_answer(template_of("m5.large"), |r| {
        r.launch_template_name() == Some("ecs-hosts")
            && r.launch_template_id().is_none()
            && r.versions() == ["$Default"]
    });
    let types = types_answer(vec![sdk_type("m5.large", 2, 8192)], None, |_| true);
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
    let versions = version_answer(template_of("m6g.xlarge"), |r| {
        r.launch_template_id() == Some("lt-arm") && r.versions() == ["2"]
    });
    let types = types_answer(
        vec![
            sdk_type("c5.xlarge", 4, 8192),
            sdk_type("m5.2xlarge", 8, 32768),
            sdk_type("m6g.xlarge", 4, 16384),
        ],
        None,
        |r| {
            let mut asked: Vec<&str> = r.instance_types().iter().map(|t| t.as_str()).collect();
            asked.sort_unstable();
            asked == ["c5.xlarge", "m5.2xlarge", "m6g.xlarge"]
        },
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
    let types = types_answer(vec![sdk_type("c5.large", 2, 4096)], None, |_| true);
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
    let by_attributes = ec2::ResponseLaunchTemplateData::builder()
        .instance_requirements(
            ec2::InstanceRequirements::builder()
                .v_cpu_count(ec2::VCpuCountRange::builder().min(2).build())
                .build(),
        )
        .build();
    let versions = version_answer(by_attributes, |_| true);
    let types = types_answer(vec![], None, |_| true);
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
    let refused = mock!(aws_sdk_ec2::Client::describe_instance_types).then_error(|| {
        DescribeInstanceTypesError::generic(
            ErrorMetadata::builder()
                .code("InvalidInstanceType")
                .message("The following supplied instance types do not exist: [m5.larg]")
                .build(),
        )
    });
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
    let partial = types_answer(vec![sdk_type("m5.large", 2, 8192)], None, |_| true);
    let err = reader(&[&partial], &[])
        .group_launch(&spec)
        .await
        .expect_err("left out");
    assert!(err.to_string().contains("m5.larg "), "{err}");
}

#[tokio::test]
async fn a_failed_call_names_the_operation_and_what_it_asked_and_keeps_the_cause() {
    let throttled = mock!(aws_sdk_ec2::Client::describe_instance_types).then_error(|| {
        DescribeInstanceTypesError::generic(
            ErrorMetadata::builder()
                .code("RequestLimitExceeded")
                .message("Request limit exceeded.")
                .build(),
        )
    });
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
}

#[tokio::test]
async fn the_described_types_are_read_across_pages() {
    let first = types_answer(vec![sdk_type("c5.xlarge", 4, 8192)], Some("page-2"), |r| {
        r.next_token().is_none()
    });
    let second = types_answer(vec![sdk_type("m5.xlarge", 4, 16384)], None, |r| {
        r.next_token() == Some("page-2")
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&first, &second]);
    let asg = mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, []);
    let spec = LaunchSpec {
        overrides: vec![over("m5.xlarge", None), over("c5.xlarge", None)],
        ..LaunchSpec::default()
    };
    let launch = Ec2InstanceTypes::new(ec2, asg)
        .group_launch(&spec)
        .await
        .expect("resolved");
    assert_eq!(names(&launch), [("m5.xlarge", 1), ("c5.xlarge", 1)]);
}

#[test]
fn a_types_gpus_are_summed_and_a_missing_size_is_an_error_naming_the_field() {
    let gpu = |count| ec2::GpuDeviceInfo::builder().count(count).build();
    let g5 = ec2::InstanceTypeInfo::builder()
        .instance_type(ec2::InstanceType::G512xlarge)
        .v_cpu_info(ec2::VCpuInfo::builder().default_v_cpus(48).build())
        .memory_info(ec2::MemoryInfo::builder().size_in_mib(196_608).build())
        .gpu_info(ec2::GpuInfo::builder().gpus(gpu(3)).gpus(gpu(1)).build())
        .build();
    let info = type_info(&g5).expect("converted");
    assert_eq!((info.vcpus, info.memory_mib, info.gpus), (48, 196_608, 4));
    assert_eq!(info.max_enis, None);
    let no_vcpus = ec2::InstanceTypeInfo::builder()
        .instance_type(ec2::InstanceType::M5Large)
        .memory_info(ec2::MemoryInfo::builder().size_in_mib(8192).build())
        .build();
    let err = type_info(&no_vcpus).expect_err("no vCPUs");
    assert!(
        err.to_string().contains("m5.large") && err.to_string().contains("VCpuInfo.DefaultVCpus"),
        "{err}"
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
