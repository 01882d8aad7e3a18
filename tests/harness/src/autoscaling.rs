//! An Auto Scaling group in moto holding hosts made by [`crate::MotoServer::add_hosts`].

/// Creates the group `name` (minimum 0, maximum 10, one launch configuration of its own) and
/// attaches the EC2 instances `instance_ids` to it, which makes its desired capacity their
/// number. `protected`: new instances protected from scale in, as a capacity provider with
/// managed termination protection wants. Returns the client and the group's ARN.
pub async fn group_of(
    sdk: &aws_config::SdkConfig,
    name: &str,
    instance_ids: &[String],
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
        .availability_zones("us-east-1a")
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
