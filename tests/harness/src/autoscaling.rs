//! An Auto Scaling group in moto holding hosts made by [`crate::MotoServer::add_hosts`]
//! ([`group_of`]), and empty groups that launch from a launch template
//! ([`launch_template_group`]) or a mixed instances policy ([`mixed_instances_group`]).

use aws_sdk_autoscaling::types::{
    InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
    MixedInstancesPolicy,
};
use capacity_aws::ec2_query::Ec2Query;

/// Creates the group `name` (minimum 0, maximum 10, one launch configuration of its own) in
/// the zone us-east-1a and attaches the EC2 instances `instance_ids` to it, which makes its
/// desired capacity their number. `protected`: new instances protected from scale in, as a
/// capacity provider with managed termination protection wants. Returns the client and the
/// group's ARN.
pub async fn group_of(
    sdk: &aws_config::SdkConfig,
    name: &str,
    instance_ids: &[String],
    protected: bool,
) -> (aws_sdk_autoscaling::Client, String) {
    group_in_zones(sdk, name, instance_ids, &["us-east-1a"], protected).await
}

/// [`group_of`] spanning the Availability Zones `zones` (each attached instance stays in the
/// zone it runs in, which the group then reports for it).
pub async fn group_in_zones(
    sdk: &aws_config::SdkConfig,
    name: &str,
    instance_ids: &[String],
    zones: &[&str],
    protected: bool,
) -> (aws_sdk_autoscaling::Client, String) {
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    let launch_configuration = format!("{name}-hosts");
    asg.create_launch_configuration()
        .launch_configuration_name(&launch_configuration)
        .image_id("ami-12c6146b")
        .instance_type("m5.large")
        .send()
        .await
        .expect("launch configuration");
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(&launch_configuration)
        .min_size(0)
        .max_size(10)
        .desired_capacity(0)
        .set_availability_zones(Some(zones.iter().map(|z| (*z).to_owned()).collect()))
        .new_instances_protected_from_scale_in(protected)
        .send()
        .await
        .expect("group");
    asg.attach_instances()
        .auto_scaling_group_name(name)
        .set_instance_ids(Some(instance_ids.to_vec()))
        .send()
        .await
        .expect("attach the hosts");
    let arn = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("describe the group")
        .auto_scaling_groups()
        .first()
        .and_then(|g| g.auto_scaling_group_arn())
        .expect("the group's ARN")
        .to_owned();
    (asg, arn)
}

/// An AMI moto knows.
const IMAGE: &str = "ami-12c6146b";

/// Creates the launch template `name` whose first version (its default) launches
/// `instance_type`. Returns the template's id. (Through the project's own EC2 Query client,
/// as the calculator reads it: the project does not build `aws-sdk-ec2`.)
pub async fn launch_template(
    sdk: &aws_config::SdkConfig,
    name: &str,
    instance_type: &str,
) -> String {
    let xml = Ec2Query::new(sdk)
        .call(
            "CreateLaunchTemplate",
            &[
                ("LaunchTemplateName", name),
                ("LaunchTemplateData.ImageId", IMAGE),
                ("LaunchTemplateData.InstanceType", instance_type),
            ],
        )
        .await
        .expect("launch template");
    element(&xml, "launchTemplateId").expect("the template's id")
}

/// Adds a version to the launch template `id` that launches `instance_type`, without making
/// it the default: `$Latest` is then that type, `$Default` still the first. Returns the
/// version's number.
pub async fn new_template_version(
    sdk: &aws_config::SdkConfig,
    id: &str,
    instance_type: &str,
) -> i64 {
    let xml = Ec2Query::new(sdk)
        .call(
            "CreateLaunchTemplateVersion",
            &[
                ("LaunchTemplateId", id),
                ("LaunchTemplateData.ImageId", IMAGE),
                ("LaunchTemplateData.InstanceType", instance_type),
            ],
        )
        .await
        .expect("launch template version");
    element(&xml, "versionNumber")
        .and_then(|n| n.parse().ok())
        .expect("the version's number")
}

/// The text of the first `<tag>` of an answer (the two creates above answer one of each).
fn element(xml: &str, tag: &str) -> Option<String> {
    let (_, rest) = xml.split_once(&format!("<{tag}>"))?;
    let (text, _) = rest.split_once(&format!("</{tag}>"))?;
    Some(text.to_owned())
}

/// A launch template named by id or name, at `version` (`$Latest`, `$Default`, a number).
pub fn template(
    id: Option<&str>,
    name: Option<&str>,
    version: &str,
) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .set_launch_template_id(id.map(str::to_owned))
        .set_launch_template_name(name.map(str::to_owned))
        .version(version)
        .build()
}

/// Creates the empty group `name` (minimum, desired 0, maximum 10) launching from `template`.
pub async fn launch_template_group(
    sdk: &aws_config::SdkConfig,
    name: &str,
    template: LaunchTemplateSpecification,
) -> aws_sdk_autoscaling::Client {
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(template)
        .min_size(0)
        .max_size(10)
        .desired_capacity(0)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("group");
    asg
}

/// Creates the empty group `name` (minimum, desired 0, maximum 10) with a mixed instances
/// policy: `template`, the overrides `(instance type, WeightedCapacity)` in this order, and
/// the On-Demand allocation strategy (`None`: Auto Scaling's default, `prioritized`).
pub async fn mixed_instances_group(
    sdk: &aws_config::SdkConfig,
    name: &str,
    template: LaunchTemplateSpecification,
    overrides: &[(&str, Option<&str>)],
    on_demand_allocation_strategy: Option<&str>,
) -> aws_sdk_autoscaling::Client {
    let overrides = overrides
        .iter()
        .map(|(instance_type, weight)| {
            LaunchTemplateOverrides::builder()
                .instance_type(*instance_type)
                .set_weighted_capacity(weight.map(str::to_owned))
                .build()
        })
        .collect();
    let policy = MixedInstancesPolicy::builder()
        .launch_template(
            LaunchTemplate::builder()
                .launch_template_specification(template)
                .set_overrides(Some(overrides))
                .build(),
        )
        .instances_distribution(
            InstancesDistribution::builder()
                .set_on_demand_allocation_strategy(on_demand_allocation_strategy.map(str::to_owned))
                .build(),
        )
        .build();
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .mixed_instances_policy(policy)
        .min_size(0)
        .max_size(10)
        .desired_capacity(0)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("group");
    asg
}
