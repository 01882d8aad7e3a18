//! Reading the Auto Scaling group behind a cluster: [`GroupReader`], its implementation on the
//! Auto Scaling client ([`AsgGroupReader`]) and, for tests, `FakeGroup`.
//!
//! One `DescribeAutoScalingGroups` of one group name per read: its `MinSize`,
//! `DesiredCapacity`, ARN, and each instance's `LifecycleState`. The calculator needs them to
//! bound `HostsToRemove` (never below the group's minimum) and to see the hosts the group is
//! already terminating ([`GroupInstance::is_leaving`]): the step policy lowers the desired
//! capacity at once, the drainer sets the container instance DRAINING only after the
//! lifecycle hook fires, and in between the host must already count as leaving.
//!
//! The same answer says how the group launches ([`AutoScalingGroup::launch`]): its launch
//! template or configuration, or its mixed instances policy (the template, the overrides in
//! their order with their weights, and the allocation strategies), which
//! [`crate::instance_types`] resolves to instance types.

use std::future::Future;

use aws_sdk_autoscaling::types as asg;
use capacity_core::fit::{LaunchSpec, TemplateRef, TypeOverride};

use crate::Error;

pub use capacity_core::run::{AutoScalingGroup, GroupInstance, LEAVING_STATES};

/// Reads one Auto Scaling group.
pub trait GroupReader: Send + Sync {
    /// The group named `name`; a group that does not exist is [`Error::GroupNotFound`].
    fn group(&self, name: &str) -> impl Future<Output = Result<AutoScalingGroup, Error>> + Send;
}

/// [`GroupReader`] on the Auto Scaling SDK client. Clone is cheap.
#[derive(Debug, Clone)]
pub struct AsgGroupReader {
    client: aws_sdk_autoscaling::Client,
}

impl AsgGroupReader {
    pub fn new(client: aws_sdk_autoscaling::Client) -> AsgGroupReader {
        AsgGroupReader { client }
    }
}

const DESCRIBE: &str = "DescribeAutoScalingGroups";

impl GroupReader for AsgGroupReader {
    async fn group(&self, name: &str) -> Result<AutoScalingGroup, Error> {
        let out = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| Error::group(DESCRIBE, name, e))?;
        let group = out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
            .ok_or_else(|| Error::GroupNotFound {
                group: name.to_owned(),
            })?;
        convert(name, group)
    }
}

/// The SDK's group as ours: a missing or negative `MinSize` / `DesiredCapacity`, an
/// instance without id or lifecycle state, or a weight or percentage of its mixed instances
/// policy that is not a number in range, is an error naming the field — never a default.
pub fn convert(name: &str, group: &asg::AutoScalingGroup) -> Result<AutoScalingGroup, Error> {
    let size = |field: &'static str, value: Option<i32>| {
        let value = value.ok_or_else(|| Error::MissingField {
            what: "Auto Scaling group",
            id: name.to_owned(),
            field,
        })?;
        u32::try_from(value).map_err(|_| Error::InvalidField {
            what: "Auto Scaling group",
            id: name.to_owned(),
            field,
            value: value.to_string(),
        })
    };
    let instances = group
        .instances()
        .iter()
        .map(|i| {
            let instance_id = i.instance_id().ok_or_else(|| Error::MissingField {
                what: "Auto Scaling group",
                id: name.to_owned(),
                field: "Instances[].InstanceId",
            })?;
            let lifecycle_state = i.lifecycle_state().ok_or_else(|| Error::MissingField {
                what: "Auto Scaling group instance",
                id: instance_id.to_owned(),
                field: "LifecycleState",
            })?;
            let instance = GroupInstance::new(instance_id, lifecycle_state.as_str());
            Ok(match i.availability_zone() {
                Some(zone) => instance.in_zone(zone),
                None => instance,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(AutoScalingGroup {
        name: name.to_owned(),
        arn: group.auto_scaling_group_arn().map(str::to_owned),
        min_size: size("MinSize", group.min_size())?,
        desired_capacity: size("DesiredCapacity", group.desired_capacity())?,
        instances,
        launch: launch(name, group)?,
    })
}

const WEIGHT_FIELD: &str = "MixedInstancesPolicy.LaunchTemplate.Overrides[].WeightedCapacity";
const ON_DEMAND_PERCENT_FIELD: &str =
    "MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity";

/// How the group launches; `None` when the answer names neither a launch template, a launch
/// configuration nor a mixed instances policy (Auto Scaling requires one, so only a partial
/// answer has none).
fn launch(name: &str, group: &asg::AutoScalingGroup) -> Result<Option<LaunchSpec>, Error> {
    let invalid = |field: &'static str, value: String| Error::InvalidField {
        what: "Auto Scaling group",
        id: name.to_owned(),
        field,
        value,
    };
    let mut spec = LaunchSpec {
        launch_template: group.launch_template().map(template),
        launch_configuration: group.launch_configuration_name().map(str::to_owned),
        ..LaunchSpec::default()
    };
    let policy = group.mixed_instances_policy();
    if let Some(lt) = policy.and_then(asg::MixedInstancesPolicy::launch_template) {
        if let Some(spec_lt) = lt.launch_template_specification() {
            spec.launch_template = Some(template(spec_lt));
        }
        spec.overrides = lt
            .overrides()
            .iter()
            .map(|o| {
                let weight = o
                    .weighted_capacity()
                    .map(|w| match w.trim().parse::<u32>() {
                        // Auto Scaling takes 1–999: a weight of 0 would make a host count
                        // for nothing.
                        Ok(weight) if weight > 0 => Ok(weight),
                        _ => Err(invalid(WEIGHT_FIELD, w.to_owned())),
                    })
                    .transpose()?;
                // An override that selects by attributes names no type; its own template
                // (if any) is left out too, so that resolving it is the typed attribute-based
                // error and never the template's type, which the requirements replace.
                if o.instance_requirements().is_some() {
                    return Ok(TypeOverride {
                        instance_type: None,
                        weight,
                        launch_template: None,
                    });
                }
                Ok(TypeOverride {
                    instance_type: o.instance_type().map(str::to_owned),
                    weight,
                    launch_template: o.launch_template_specification().map(template),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
    }
    if let Some(d) = policy.and_then(asg::MixedInstancesPolicy::instances_distribution) {
        spec.on_demand_allocation_strategy = d.on_demand_allocation_strategy().map(str::to_owned);
        spec.spot_allocation_strategy = d.spot_allocation_strategy().map(str::to_owned);
        spec.on_demand_percentage_above_base_capacity = d
            .on_demand_percentage_above_base_capacity()
            .map(|p| {
                u32::try_from(p)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| invalid(ON_DEMAND_PERCENT_FIELD, p.to_string()))
            })
            .transpose()?;
    }
    let named = spec.launch_template.is_some()
        || spec.launch_configuration.is_some()
        || !spec.overrides.is_empty();
    Ok(named.then_some(spec))
}

fn template(spec: &asg::LaunchTemplateSpecification) -> TemplateRef {
    TemplateRef {
        id: spec.launch_template_id().map(str::to_owned),
        name: spec.launch_template_name().map(str::to_owned),
        version: spec.version().map(str::to_owned),
    }
}

/// An in-memory [`GroupReader`] for tests: answers its group, or fails; counts its reads.
#[cfg(any(test, feature = "fake"))]
#[derive(Debug, Default)]
pub struct FakeGroup {
    /// The group answered (any name asked for not this group's is not found).
    pub group: Option<AutoScalingGroup>,
    /// Fail every read (as a throttled or denied call would).
    pub fail: bool,
    pub reads: std::sync::atomic::AtomicUsize,
}

#[cfg(any(test, feature = "fake"))]
impl FakeGroup {
    /// A group `name` of `min`..desired `desired` with these `(EC2 instance id, lifecycle
    /// state)`.
    pub fn with(name: &str, min: u32, desired: u32, instances: &[(&str, &str)]) -> FakeGroup {
        FakeGroup {
            group: Some(AutoScalingGroup::with(name, min, desired, instances)),
            ..FakeGroup::default()
        }
    }
}

#[cfg(any(test, feature = "fake"))]
impl GroupReader for FakeGroup {
    async fn group(&self, name: &str) -> Result<AutoScalingGroup, Error> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.fail {
            return Err(Error::Group {
                operation: DESCRIBE,
                group: name.to_owned(),
                message: "injected failure".to_owned(),
                source: "injected failure".into(),
            });
        }
        self.group
            .clone()
            .filter(|g| g.name == name)
            .ok_or_else(|| Error::GroupNotFound {
                group: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
    use aws_sdk_autoscaling::types::{AutoScalingGroup as SdkGroup, Instance, LifecycleState};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn sdk_group(name: &str, min: Option<i32>, desired: Option<i32>) -> SdkGroup {
        SdkGroup::builder()
            .auto_scaling_group_name(name)
            .set_min_size(min)
            .set_desired_capacity(desired)
            .instances(
                Instance::builder()
                    .instance_id("i-1")
                    .lifecycle_state(LifecycleState::InService)
                    .build(),
            )
            .instances(
                Instance::builder()
                    .instance_id("i-2")
                    .lifecycle_state(LifecycleState::TerminatingWait)
                    .build(),
            )
            .build()
    }

    fn reader(groups: Vec<SdkGroup>) -> AsgGroupReader {
        let rule = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
            .match_requests(|r| r.auto_scaling_group_names() == ["prod-hosts"])
            .then_output(move || {
                DescribeAutoScalingGroupsOutput::builder()
                    .set_auto_scaling_groups(Some(groups.clone()))
                    .build()
            });
        AsgGroupReader::new(mock_client!(
            aws_sdk_autoscaling,
            RuleMode::MatchAny,
            [&rule]
        ))
    }

    #[tokio::test]
    async fn the_group_is_read_with_its_sizes_and_each_instances_lifecycle_state() {
        let group = reader(vec![sdk_group("prod-hosts", Some(1), Some(3))])
            .group("prod-hosts")
            .await
            .expect("read");
        assert_eq!((group.min_size, group.desired_capacity), (1, 3));
        assert_eq!(group.removable(), 2);
        assert_eq!(
            group.instances,
            [
                GroupInstance::new("i-1", "InService"),
                GroupInstance::new("i-2", "Terminating:Wait"),
            ]
        );
        assert!(!group.instances[0].is_leaving() && group.instances[0].is_in_service());
        assert!(group.instances[1].is_leaving());
    }

    #[tokio::test]
    async fn a_missing_group_is_an_error_naming_it() {
        let err = reader(vec![])
            .group("prod-hosts")
            .await
            .expect_err("no group");
        assert!(matches!(err, Error::GroupNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("prod-hosts"), "{err}");
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn a_group_without_its_sizes_is_an_error_not_a_default() {
        let err = reader(vec![sdk_group("prod-hosts", None, Some(3))])
            .group("prod-hosts")
            .await
            .expect_err("no MinSize");
        assert!(err.to_string().contains("MinSize"), "{err}");
        let err = reader(vec![sdk_group("prod-hosts", Some(1), Some(-1))])
            .group("prod-hosts")
            .await
            .expect_err("negative");
        assert!(
            err.to_string().contains("DesiredCapacity") && err.to_string().contains("-1"),
            "{err}"
        );
    }

    fn sdk_template(id: &str, version: &str) -> asg::LaunchTemplateSpecification {
        asg::LaunchTemplateSpecification::builder()
            .launch_template_id(id)
            .version(version)
            .build()
    }

    fn sdk_override(instance_type: &str, weight: Option<&str>) -> asg::LaunchTemplateOverrides {
        asg::LaunchTemplateOverrides::builder()
            .instance_type(instance_type)
            .set_weighted_capacity(weight.map(str::to_owned))
            .build()
    }

    fn mixed(
        overrides: Vec<asg::LaunchTemplateOverrides>,
        distribution: asg::InstancesDistribution,
    ) -> SdkGroup {
        SdkGroup::builder()
            .auto_scaling_group_name("prod-hosts")
            .min_size(0)
            .desired_capacity(2)
            .mixed_instances_policy(
                asg::MixedInstancesPolicy::builder()
                    .launch_template(
                        asg::LaunchTemplate::builder()
                            .launch_template_specification(sdk_template("lt-0abc", "$Latest"))
                            .set_overrides(Some(overrides))
                            .build(),
                    )
                    .instances_distribution(distribution)
                    .build(),
            )
            .build()
    }

    fn launch_of(group: &SdkGroup) -> Result<Option<LaunchSpec>, Error> {
        convert("prod-hosts", group).map(|g| g.launch)
    }

    #[tokio::test]
    async fn the_group_is_read_with_its_launch_template() {
        let group = SdkGroup::builder()
            .auto_scaling_group_name("prod-hosts")
            .min_size(0)
            .desired_capacity(0)
            .launch_template(
                asg::LaunchTemplateSpecification::builder()
                    .launch_template_name("ecs-hosts")
                    .build(),
            )
            .build();
        let group = reader(vec![group]).group("prod-hosts").await.expect("read");
        let launch = group.launch.expect("a launch template");
        assert_eq!(
            launch.launch_template,
            Some(TemplateRef {
                id: None,
                name: Some("ecs-hosts".into()),
                version: None,
            })
        );
        assert_eq!(launch.order(), capacity_core::fit::LaunchOrder::OneType);
    }

    #[test]
    fn a_launch_configuration_is_named() {
        let group = SdkGroup::builder()
            .auto_scaling_group_name("prod-hosts")
            .min_size(0)
            .desired_capacity(0)
            .launch_configuration_name("ecs-hosts-v3")
            .build();
        let launch = launch_of(&group).expect("read").expect("named");
        assert_eq!(launch.launch_configuration.as_deref(), Some("ecs-hosts-v3"));
        assert_eq!(launch.launch_template, None);
    }

    #[test]
    fn a_group_naming_no_launch_has_none() {
        let group = sdk_group("prod-hosts", Some(0), Some(0));
        assert_eq!(launch_of(&group).expect("read"), None);
    }

    #[test]
    fn a_mixed_instances_policy_keeps_its_overrides_in_order_with_their_weights() {
        let own = asg::LaunchTemplateOverrides::builder()
            .instance_type("m6g.xlarge")
            .launch_template_specification(sdk_template("lt-arm", "3"))
            .build();
        let group = mixed(
            vec![
                sdk_override("c5.xlarge", Some("1")),
                sdk_override("m5.2xlarge", Some(" 2 ")),
                own,
            ],
            asg::InstancesDistribution::builder()
                .on_demand_allocation_strategy("prioritized")
                .on_demand_percentage_above_base_capacity(100)
                .spot_allocation_strategy("price-capacity-optimized")
                .build(),
        );
        let launch = launch_of(&group).expect("read").expect("named");
        assert_eq!(
            launch.launch_template,
            Some(TemplateRef {
                id: Some("lt-0abc".into()),
                name: None,
                version: Some("$Latest".into()),
            })
        );
        let types: Vec<_> = launch
            .overrides
            .iter()
            .map(|o| (o.instance_type.as_deref(), o.weight))
            .collect();
        assert_eq!(
            types,
            [
                (Some("c5.xlarge"), Some(1)),
                (Some("m5.2xlarge"), Some(2)),
                (Some("m6g.xlarge"), None),
            ]
        );
        assert_eq!(
            launch.overrides[2]
                .launch_template
                .as_ref()
                .and_then(|t| t.version.as_deref()),
            Some("3")
        );
        assert_eq!(
            launch.spot_allocation_strategy.as_deref(),
            Some("price-capacity-optimized")
        );
        assert_eq!(launch.on_demand_percentage_above_base_capacity, Some(100));
        assert_eq!(launch.order(), capacity_core::fit::LaunchOrder::Prioritized);
    }

    #[test]
    fn lowest_price_and_spot_above_the_base_launch_by_price() {
        let overrides = || {
            vec![
                sdk_override("c5.xlarge", None),
                sdk_override("m5.xlarge", None),
            ]
        };
        let cheapest = mixed(
            overrides(),
            asg::InstancesDistribution::builder()
                .on_demand_allocation_strategy("lowest-price")
                .build(),
        );
        let spot = mixed(
            overrides(),
            asg::InstancesDistribution::builder()
                .on_demand_percentage_above_base_capacity(0)
                .build(),
        );
        for group in [cheapest, spot] {
            let launch = launch_of(&group).expect("read").expect("named");
            assert_eq!(launch.order(), capacity_core::fit::LaunchOrder::ByPrice);
        }
    }

    #[test]
    fn a_weight_that_is_not_a_whole_number_from_one_is_an_error_naming_the_field() {
        for bad in ["two", "0", "-1", "1.5", ""] {
            let group = mixed(
                vec![sdk_override("c5.xlarge", Some(bad))],
                asg::InstancesDistribution::builder().build(),
            );
            let err = launch_of(&group).expect_err("bad weight");
            assert!(matches!(err, Error::InvalidField { .. }), "{err:?}");
            let text = err.to_string();
            assert!(
                text.contains("WeightedCapacity") && text.contains("prod-hosts"),
                "{text}"
            );
            assert!(!err.is_retryable());
        }
    }

    #[test]
    fn an_on_demand_percentage_out_of_range_is_an_error_naming_the_field() {
        for bad in [-1, 101] {
            let group = mixed(
                vec![sdk_override("c5.xlarge", None)],
                asg::InstancesDistribution::builder()
                    .on_demand_percentage_above_base_capacity(bad)
                    .build(),
            );
            let err = launch_of(&group).expect_err("bad percentage");
            assert!(
                err.to_string()
                    .contains("OnDemandPercentageAboveBaseCapacity has invalid value"),
                "{err}"
            );
        }
    }

    #[test]
    fn an_override_chosen_by_attributes_names_no_type_and_no_template() {
        let by_attributes = asg::LaunchTemplateOverrides::builder()
            .instance_requirements(
                asg::InstanceRequirements::builder()
                    .v_cpu_count(asg::VCpuCountRequest::builder().min(2).build())
                    .memory_mib(asg::MemoryMiBRequest::builder().min(4096).build())
                    .build(),
            )
            .launch_template_specification(sdk_template("lt-any", "$Default"))
            .build();
        let group = mixed(
            vec![by_attributes],
            asg::InstancesDistribution::builder().build(),
        );
        let launch = launch_of(&group).expect("read").expect("named");
        assert_eq!(
            launch.overrides,
            [TypeOverride {
                instance_type: None,
                weight: None,
                launch_template: None,
            }]
        );
    }

    #[test]
    fn removable_never_goes_below_zero() {
        let g = FakeGroup::with("g", 3, 2, &[]).group.unwrap();
        assert_eq!(g.removable(), 0);
    }
}
