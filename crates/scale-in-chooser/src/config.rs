//! The chooser's settings, from environment variables, parsed into real types with range
//! checks. [`Config::from_lookup`] takes the lookup as a function, so tests never touch the
//! process environment.

use std::time::Duration;

pub use capacity_aws::config::ConfigError;
use capacity_aws::config::{self, value, whole_number};

/// The cluster whose container instances are ranked (name or ARN). Required.
pub const ECS_CLUSTER: &str = config::ECS_CLUSTER;
/// Milliseconds the ECS read may take before the chooser answers with the group's own
/// suggestions. Auto Scaling waits 2,000 ms for the whole invocation (cold start included).
pub const ECS_READ_BUDGET_MS: &str = "ECS_READ_BUDGET_MS";
pub const DEFAULT_ECS_READ_BUDGET_MS: u64 = 1_200;
/// At least 100 ms (one round trip to ECS), at most 1,800 ms (200 ms left to answer).
pub const ECS_READ_BUDGET_RANGE: (u64, u64) = (100, 1_800);

/// Every environment variable the binary reads itself, with whether it is required. (The
/// Lambda runtime's and the AWS SDK's own variables are not listed.)
pub const ENV_VARS: &[(&str, bool)] = &[(ECS_CLUSTER, true), (ECS_READ_BUDGET_MS, false)];

/// The chooser's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Cluster name or ARN.
    pub cluster: String,
    /// How long the ECS read may take.
    pub read_budget: Duration,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the settings through `lookup` (variable name -> value). Empty values count as
    /// unset, as CloudFormation passes empty optional parameters.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |key: &str| value(&lookup, key);
        let cluster = config::cluster(get(ECS_CLUSTER))?;
        let read_budget = get(ECS_READ_BUDGET_MS)
            .map(|v| whole_number(ECS_READ_BUDGET_MS, v, ECS_READ_BUDGET_RANGE, "milliseconds"))
            .transpose()?
            .unwrap_or(DEFAULT_ECS_READ_BUDGET_MS);
        Ok(Config {
            cluster,
            read_budget: Duration::from_millis(read_budget),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(capacity_aws::config::from_pairs(vars))
    }

    #[test]
    fn the_cluster_is_required_and_the_budget_defaults_to_1200_ms() {
        let err = config(&[]).unwrap_err().to_string();
        assert!(err.contains("ECS_CLUSTER is required"), "{err}");
        assert!(config(&[(ECS_CLUSTER, "  ")]).is_err());
        let c = config(&[(ECS_CLUSTER, "prod")]).unwrap();
        assert_eq!(c.cluster, "prod");
        assert_eq!(c.read_budget, Duration::from_millis(1200));
        let c = config(&[(ECS_CLUSTER, "prod"), (ECS_READ_BUDGET_MS, "")]).unwrap();
        assert_eq!(c.read_budget, Duration::from_millis(1200));
    }

    #[test]
    fn the_budget_is_range_checked_naming_the_range() {
        for value in ["99", "1801", "-1", "1.5", "soon"] {
            let err = config(&[(ECS_CLUSTER, "prod"), (ECS_READ_BUDGET_MS, value)])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("ECS_READ_BUDGET_MS") && err.contains("milliseconds from 100 to 1800"),
                "{err}"
            );
        }
        for (value, ms) in [("100", 100), ("1800", 1800), (" 500 ", 500)] {
            let c = config(&[(ECS_CLUSTER, "prod"), (ECS_READ_BUDGET_MS, value)]).unwrap();
            assert_eq!(c.read_budget, Duration::from_millis(ms));
        }
    }
}
