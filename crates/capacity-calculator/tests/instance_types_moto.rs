//! The group's instance types through the real SDK over HTTP, against the moto emulator: the
//! group read (`AsgGroupReader`, DescribeAutoScalingGroups) gives its launch specification,
//! which `Ec2InstanceTypes` resolves with DescribeLaunchTemplateVersions,
//! DescribeLaunchConfigurations and DescribeInstanceTypes (moto's table of real types).
//!
//! Here rather than in capacity-aws: moto-harness depends on capacity-aws, so capacity-aws's
//! own tests cannot start moto without a dependency cycle.
//!
//! Where moto differs from AWS (none of it changes what is checked):
//! * CreateAutoScalingGroup stores a mixed instances policy as given (filling in the
//!   template's id and name and the distribution's defaults, `prioritized` and 100 %
//!   On-Demand, as AWS does) without checking that the overrides' types exist, where AWS
//!   refuses an unknown type: the group with a misspelt type is made here only to reach
//!   DescribeInstanceTypes' own `InvalidInstanceType`, which moto answers with AWS's code and
//!   message.
//! * moto's DescribeInstanceTypes answers every name asked in one page, ignoring `MaxResults`
//!   and `NextToken`: paging is checked with the SDK's mocks in capacity-aws
//!   (`instance_types::tests`).
//! * moto's table of types is a snapshot of AWS's: a type newer than the installed moto is
//!   unknown here and not on AWS.

use std::sync::Arc;
use std::time::Duration;

use capacity_aws::group::{AsgGroupReader, GroupReader};
use capacity_aws::instance_types::{Ec2InstanceTypes, GroupLaunchCache, LAUNCH_CACHE_TTL};
use capacity_aws::{Error, InstanceTypeReader};
use capacity_core::fit::{GroupLaunch, LaunchOrder, LaunchSpec};
use moto_harness::MotoServer;
use moto_harness::autoscaling::{
    group_of, launch_template, launch_template_group, mixed_instances_group, new_template_version,
    template,
};
use moto_harness::clock::ManualClock;

struct Env {
    _moto: MotoServer,
    sdk: aws_config::SdkConfig,
}

async fn env() -> Env {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    Env { _moto: moto, sdk }
}

impl Env {
    /// The launch specification of the group `name`, as the calculator reads it.
    async fn spec(&self, name: &str) -> LaunchSpec {
        AsgGroupReader::new(aws_sdk_autoscaling::Client::new(&self.sdk))
            .group(name)
            .await
            .expect("group read")
            .launch
            .expect("the group names how it launches")
    }

    async fn launch(&self, name: &str) -> Result<GroupLaunch, Error> {
        Ec2InstanceTypes::from_conf(&self.sdk)
            .group_launch(&self.spec(name).await)
            .await
    }
}

/// `(name, vCPUs, MiB, weight)` of each type, in order.
fn sizes(launch: &GroupLaunch) -> Vec<(&str, u32, u32, u32)> {
    launch
        .types
        .iter()
        .map(|t| {
            (
                t.info.name.as_str(),
                t.info.vcpus,
                t.info.memory_mib,
                t.weight,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_launch_template_group_launches_its_one_type_by_name_or_id_at_latest_or_default() {
    let env = env().await;
    let id = launch_template(&env.sdk, "ecs-hosts", "m5.large").await;
    launch_template_group(
        &env.sdk,
        "by-name-latest",
        template(None, Some("ecs-hosts"), "$Latest"),
    )
    .await;
    launch_template_group(
        &env.sdk,
        "by-id-default",
        template(Some(&id), None, "$Default"),
    )
    .await;
    for group in ["by-name-latest", "by-id-default"] {
        let launch = env.launch(group).await.expect("resolved");
        assert_eq!(sizes(&launch), [("m5.large", 2, 8192, 1)], "{group}");
        assert_eq!(launch.order, LaunchOrder::OneType, "{group}");
        let only = &launch.types[0].info;
        assert_eq!((only.gpus, only.registered.is_none()), (0, true));
        assert!(only.max_enis.is_some_and(|m| m >= 2), "{only:?}");
    }

    // A new version moves `$Latest` and leaves `$Default`: the group did not change, so only
    // the cache's hour brings the new type in.
    let clock = Arc::new(ManualClock::at_ms(1_800_000_000_000));
    let cache = GroupLaunchCache::new(Ec2InstanceTypes::from_conf(&env.sdk), clock.clone());
    let latest = env.spec("by-name-latest").await;
    let before = cache.group_launch(&latest).await.expect("resolved");
    assert_eq!(sizes(&before), [("m5.large", 2, 8192, 1)]);
    assert_eq!(new_template_version(&env.sdk, &id, "m5.xlarge").await, 2);
    let cached = cache.group_launch(&latest).await.expect("cached");
    assert_eq!(cached, before, "within the hour the answer is kept");
    clock.advance(LAUNCH_CACHE_TTL + Duration::from_secs(1));
    let after = cache.group_launch(&latest).await.expect("read again");
    assert_eq!(sizes(&after), [("m5.xlarge", 4, 16384, 1)]);
    let default = env.launch("by-id-default").await.expect("resolved");
    assert_eq!(sizes(&default), [("m5.large", 2, 8192, 1)]);
}

#[tokio::test]
async fn a_mixed_instances_group_launches_its_overrides_in_order() {
    let env = env().await;
    launch_template(&env.sdk, "ecs-hosts", "m5.large").await;
    let lt = || template(None, Some("ecs-hosts"), "$Latest");
    mixed_instances_group(
        &env.sdk,
        "unweighted",
        lt(),
        &[("c5.xlarge", Some("1")), ("m5.xlarge", Some("1"))],
        None,
    )
    .await;
    mixed_instances_group(
        &env.sdk,
        "weighted",
        lt(),
        &[("c5.xlarge", Some("2")), ("m5.2xlarge", Some("4"))],
        Some("prioritized"),
    )
    .await;
    mixed_instances_group(
        &env.sdk,
        "cheapest",
        lt(),
        &[("c5.xlarge", None), ("m5.xlarge", None)],
        Some("lowest-price"),
    )
    .await;

    let unweighted = env.launch("unweighted").await.expect("resolved");
    assert_eq!(
        sizes(&unweighted),
        [("c5.xlarge", 4, 8192, 1), ("m5.xlarge", 4, 16384, 1)],
        "the template's own type (m5.large) is not among them: the overrides replace it"
    );
    assert_eq!(unweighted.order, LaunchOrder::Prioritized);

    let weighted = env.launch("weighted").await.expect("resolved");
    assert_eq!(
        sizes(&weighted),
        [("c5.xlarge", 4, 8192, 2), ("m5.2xlarge", 8, 32768, 4)]
    );
    assert_eq!(weighted.order, LaunchOrder::Prioritized);

    let cheapest = env.launch("cheapest").await.expect("resolved");
    assert_eq!(
        sizes(&cheapest),
        [("c5.xlarge", 4, 8192, 1), ("m5.xlarge", 4, 16384, 1)]
    );
    assert_eq!(cheapest.order, LaunchOrder::ByPrice);
}

#[tokio::test]
async fn a_launch_configuration_group_launches_its_type() {
    let env = env().await;
    // `group_of`'s launch configuration launches m5.large.
    group_of(&env.sdk, "configured", &[], false).await;
    let spec = env.spec("configured").await;
    assert_eq!(
        spec.launch_configuration.as_deref(),
        Some("configured-hosts")
    );
    let launch = env.launch("configured").await.expect("resolved");
    assert_eq!(sizes(&launch), [("m5.large", 2, 8192, 1)]);
    assert_eq!(launch.order, LaunchOrder::OneType);
}

#[tokio::test]
async fn a_type_ec2_does_not_know_is_an_error_naming_it() {
    let env = env().await;
    launch_template(&env.sdk, "ecs-hosts", "m5.large").await;
    mixed_instances_group(
        &env.sdk,
        "typo",
        template(None, Some("ecs-hosts"), "$Default"),
        &[("c5.xlarge", None), ("m5.larg", None)],
        None,
    )
    .await;
    let err = env.launch("typo").await.expect_err("unknown type");
    assert!(
        matches!(&err, Error::UnknownInstanceType { instance_type } if instance_type == "m5.larg"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_missing_launch_template_is_not_found_by_name() {
    let env = env().await;
    launch_template(&env.sdk, "ecs-hosts", "m5.large").await;
    launch_template_group(
        &env.sdk,
        "orphan",
        template(None, Some("ecs-hosts"), "$Latest"),
    )
    .await;
    let mut spec = env.spec("orphan").await;
    if let Some(t) = spec.launch_template.as_mut() {
        t.id = None;
        t.name = Some("deleted-hosts".into());
    }
    let err = Ec2InstanceTypes::from_conf(&env.sdk)
        .group_launch(&spec)
        .await
        .expect_err("no such template");
    assert!(matches!(err, Error::LaunchNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("deleted-hosts"), "{err}");
    assert!(!err.is_retryable());
}
