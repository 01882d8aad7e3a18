//! The cluster's capacity providers as capacity-provider mode needs them: one of the
//! calculator's Auto Scaling group, with managed scaling and managed termination protection
//! ([`ClusterShape::check`]); and the status a container instance is set to.

/// One Auto Scaling group capacity provider of the cluster, as ECS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProviderShape {
    pub name: String,
    /// `autoScalingGroupProvider.autoScalingGroupArn`: the group's ARN, or its name (ECS
    /// accepts either when the provider is created). `None` for a provider that is not of an
    /// Auto Scaling group (FARGATE, …).
    pub auto_scaling_group: Option<String>,
    /// `managedScaling.status == ENABLED`.
    pub managed_scaling: bool,
    /// `managedTerminationProtection == ENABLED`.
    pub managed_termination_protection: bool,
}

impl ProviderShape {
    /// Whether this provider is of the Auto Scaling group named `group`: its
    /// `autoScalingGroupArn` is that name, or an ARN ending in `autoScalingGroupName/<group>`.
    pub fn is_of_group(&self, group: &str) -> bool {
        self.auto_scaling_group.as_deref().is_some_and(|g| {
            g == group
                || g.rsplit_once(":autoScalingGroupName/")
                    .is_some_and(|(_, name)| name == group)
        })
    }
}

/// The cluster's capacity providers as one read saw them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClusterShape {
    /// The capacity providers the cluster lists (`DescribeClusters` `capacityProviders`).
    pub providers: Vec<ProviderShape>,
}

impl ClusterShape {
    /// `Ok(provider name)` when the cluster is in the shape capacity-provider mode needs for
    /// `group`; otherwise why not, naming what to change.
    pub fn check(&self, group: &str) -> Result<String, String> {
        let Some(provider) = self.providers.iter().find(|p| p.is_of_group(group)) else {
            let listed: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "no capacity provider of the cluster is of Auto Scaling group {group} (the cluster lists {}): drained hosts would never be removed",
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            ));
        };
        let mut missing = Vec::new();
        if !provider.managed_scaling {
            missing.push("managed scaling");
        }
        if !provider.managed_termination_protection {
            missing.push("managed termination protection");
        }
        if missing.is_empty() {
            Ok(provider.name.clone())
        } else {
            Err(format!(
                "capacity provider {} of Auto Scaling group {group} has {} DISABLED: nothing would remove the hosts drained (turn it on, or deploy with ScalingMode self-managed)",
                provider.name,
                missing.join(" and ")
            ))
        }
    }
}

/// The status a container instance is set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "UPPERCASE")
)]
pub enum TargetStatus {
    Draining,
    Active,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Draining => "DRAINING",
            TargetStatus::Active => "ACTIVE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, group: &str, scaling: bool, protection: bool) -> ProviderShape {
        ProviderShape {
            name: name.to_owned(),
            auto_scaling_group: Some(group.to_owned()),
            managed_scaling: scaling,
            managed_termination_protection: protection,
        }
    }

    #[test]
    fn the_shape_needs_the_groups_provider_with_both_managed_settings() {
        let arn =
            "arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:u-1:autoScalingGroupName/prod-hosts";
        let ok = ClusterShape {
            providers: vec![
                provider("other", "other-hosts", true, true),
                provider("prod", arn, true, true),
            ],
        };
        assert_eq!(ok.check("prod-hosts").as_deref(), Ok("prod"));
        // By name too, as ECS accepts it.
        let by_name = ClusterShape {
            providers: vec![provider("prod", "prod-hosts", true, true)],
        };
        assert!(by_name.check("prod-hosts").is_ok());
        // A group whose name only ends the same is not it.
        assert!(
            ClusterShape {
                providers: vec![provider(
                    "x",
                    "arn:...:autoScalingGroupName/old-prod-hosts",
                    true,
                    true
                )],
            }
            .check("prod-hosts")
            .is_err()
        );
        let no_protection = ClusterShape {
            providers: vec![provider("prod", arn, true, false)],
        };
        let why = no_protection.check("prod-hosts").expect_err("refused");
        assert!(
            why.contains("managed termination protection") && why.contains("prod"),
            "{why}"
        );
        let neither = ClusterShape {
            providers: vec![provider("prod", arn, false, false)],
        };
        let why = neither.check("prod-hosts").expect_err("refused");
        assert!(
            why.contains("managed scaling and managed termination protection"),
            "{why}"
        );
        let why = ClusterShape::default()
            .check("prod-hosts")
            .expect_err("refused");
        assert!(why.contains("lists none"), "{why}");
    }
}
