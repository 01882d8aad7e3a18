//! Reading the Auto Scaling group behind a cluster: [`GroupReader`], its implementation on the
//! Auto Scaling client ([`AsgGroupReader`]) and, for tests, `FakeGroup`.
//!
//! One `DescribeAutoScalingGroups` of one group name per read: its `MinSize`,
//! `DesiredCapacity`, ARN, and each instance's `LifecycleState`. The calculator needs them to
//! bound `HostsToRemove` (never below the group's minimum) and to see the hosts the group is
//! already terminating ([`GroupInstance::is_leaving`]): the step policy lowers the desired
//! capacity at once, the drainer sets the container instance DRAINING only after the
//! lifecycle hook fires, and in between the host must already count as leaving.

use std::future::Future;

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

/// The SDK's group as ours: a missing or negative `MinSize` / `DesiredCapacity`, or an
/// instance without id or lifecycle state, is an error naming the field — never a default.
pub fn convert(
    name: &str,
    group: &aws_sdk_autoscaling::types::AutoScalingGroup,
) -> Result<AutoScalingGroup, Error> {
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
    })
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

    #[test]
    fn removable_never_goes_below_zero() {
        let g = FakeGroup::with("g", 3, 2, &[]).group.unwrap();
        assert_eq!(g.removable(), 0);
    }
}
