//! An ECS cluster ARN, parsed once at the edge.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// `arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME`, checked when it enters the program (an
/// event's `detail.clusterArn`); downstream code asks it for [`ClusterArn::name`] instead of
/// re-parsing strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterArn {
    arn: String,
    /// Where the name starts in `arn`.
    name_at: usize,
}

/// A string that is not an ECS cluster ARN.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not an ECS cluster ARN (arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME)")]
pub struct InvalidClusterArn(pub String);

impl ClusterArn {
    /// Parses `arn`.
    ///
    /// ```
    /// let arn = capacity_aws::ClusterArn::parse("arn:aws:ecs:us-east-1:123456789012:cluster/prod")?;
    /// assert_eq!(arn.name(), "prod");
    /// assert!(capacity_aws::ClusterArn::parse("prod").is_err());
    /// # Ok::<(), capacity_aws::InvalidClusterArn>(())
    /// ```
    pub fn parse(arn: &str) -> Result<ClusterArn, InvalidClusterArn> {
        let invalid = || InvalidClusterArn(arn.to_owned());
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("ecs"), Some(_region), Some(_account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        let name = rest.strip_prefix("cluster/").ok_or_else(invalid)?;
        if partition.is_empty() || name.is_empty() || name.contains('/') {
            return Err(invalid());
        }
        Ok(ClusterArn {
            arn: arn.to_owned(),
            name_at: arn.len() - name.len(),
        })
    }

    /// The whole ARN, as ECS calls take it.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The cluster's name (the `ClusterName` dimension of the metrics).
    pub fn name(&self) -> &str {
        self.arn.get(self.name_at..).unwrap_or_default()
    }
}

impl FromStr for ClusterArn {
    type Err = InvalidClusterArn;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClusterArn::parse(s)
    }
}

impl fmt::Display for ClusterArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ecs_cluster_arns_parse() {
        let arn = ClusterArn::parse("arn:aws-cn:ecs:cn-north-1:1:cluster/a-b_c").unwrap();
        assert_eq!(
            (arn.name(), arn.as_str()),
            ("a-b_c", "arn:aws-cn:ecs:cn-north-1:1:cluster/a-b_c")
        );
        for bad in [
            "default",
            "",
            "arn:aws:ec2:us-east-1:1:cluster/x",
            "arn:aws:ecs:us-east-1:1:cluster/",
            "arn:aws:ecs:us-east-1:1:service/x/y",
            "arn:aws:ecs:us-east-1:1:cluster/x/y",
            "arn::ecs:us-east-1:1:cluster/x",
        ] {
            assert_eq!(
                ClusterArn::parse(bad),
                Err(InvalidClusterArn(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
