//! The function's settings, from environment variables, parsed into real types with range
//! checks. [`Config::from_lookup`] takes the lookup as a function, so tests never touch the
//! process environment.

use std::time::Duration;

pub use capacity_aws::config::ConfigError;
use capacity_aws::config::{self, value, whole_number};
use capacity_aws::drain::LifecycleActionResult;

/// The cluster whose container instances are drained (name or ARN). Required.
pub const ECS_CLUSTER: &str = config::ECS_CLUSTER;
/// Seconds between two looks at the draining instance's tasks.
pub const POLL_INTERVAL_SECONDS: &str = "POLL_INTERVAL_SECONDS";
pub const DEFAULT_POLL_INTERVAL_SECONDS: u64 = 5;
pub const POLL_INTERVAL_RANGE: (u64, u64) = (1, 300);
/// Seconds a drain may take in total, across invocations, before the action is completed
/// with `DEADLINE_RESULT` anyway. Capped by the hook's global timeout.
pub const MAX_DRAIN_SECONDS: &str = "MAX_DRAIN_SECONDS";
pub const DEFAULT_MAX_DRAIN_SECONDS: u64 = 7200;
/// Auto Scaling's global timeout is at most 48 hours.
pub const MAX_DRAIN_RANGE: (u64, u64) = (60, 172_800);
/// The lifecycle action result once `MAX_DRAIN_SECONDS` has passed.
pub const DEADLINE_RESULT: &str = "DEADLINE_RESULT";
pub const DEFAULT_DEADLINE_RESULT: LifecycleActionResult = LifecycleActionResult::Continue;
/// The hook's heartbeat timeout in seconds. When unset, it is read with
/// DescribeLifecycleHooks at the start of each drain.
pub const HEARTBEAT_TIMEOUT_SECONDS: &str = "HEARTBEAT_TIMEOUT_SECONDS";
/// Auto Scaling's own range for a hook's heartbeat timeout.
pub const HEARTBEAT_TIMEOUT_RANGE: (u64, u64) = (30, 7200);
/// Seconds before the invocation's deadline at which the drainer stops waiting and
/// republishes (the publish itself, and a last poll, must fit in this margin).
pub const DEADLINE_MARGIN_SECONDS: &str = "DEADLINE_MARGIN_SECONDS";
pub const DEFAULT_DEADLINE_MARGIN_SECONDS: u64 = 60;
pub const DEADLINE_MARGIN_RANGE: (u64, u64) = (5, 300);
/// The SNS topic to republish to: needed for the EventBridge form (which has no topic);
/// for SNS deliveries it overrides the record's `TopicArn`.
pub const REPUBLISH_TOPIC_ARN: &str = "REPUBLISH_TOPIC_ARN";

/// Every environment variable the binary reads itself, with whether it is required. (The
/// Lambda runtime's and the AWS SDK's own variables — `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_LAMBDA_LOG_LEVEL`, … — are not listed.)
pub const ENV_VARS: &[(&str, bool)] = &[
    (ECS_CLUSTER, true),
    (POLL_INTERVAL_SECONDS, false),
    (MAX_DRAIN_SECONDS, false),
    (DEADLINE_RESULT, false),
    (HEARTBEAT_TIMEOUT_SECONDS, false),
    (DEADLINE_MARGIN_SECONDS, false),
    (REPUBLISH_TOPIC_ARN, false),
];

/// The drainer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Cluster name or ARN.
    pub cluster: String,
    pub poll_interval: Duration,
    pub max_drain: Duration,
    pub deadline_result: LifecycleActionResult,
    /// `None`: read it from the hook.
    pub heartbeat_timeout: Option<Duration>,
    pub deadline_margin: Duration,
    pub republish_topic_arn: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the settings through `lookup` (variable name → value). Empty values count as
    /// unset.
    pub fn from_lookup<F>(lookup: F) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |key: &str| value(&lookup, key);
        let cluster = config::cluster(get(ECS_CLUSTER))?;
        let poll_interval = seconds(
            POLL_INTERVAL_SECONDS,
            get(POLL_INTERVAL_SECONDS),
            DEFAULT_POLL_INTERVAL_SECONDS,
            POLL_INTERVAL_RANGE,
        )?;
        let max_drain = seconds(
            MAX_DRAIN_SECONDS,
            get(MAX_DRAIN_SECONDS),
            DEFAULT_MAX_DRAIN_SECONDS,
            MAX_DRAIN_RANGE,
        )?;
        let deadline_result = match get(DEADLINE_RESULT) {
            None => DEFAULT_DEADLINE_RESULT,
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                variable: DEADLINE_RESULT,
                value,
                expected: "CONTINUE or ABANDON".to_owned(),
            })?,
        };
        let heartbeat_timeout = match get(HEARTBEAT_TIMEOUT_SECONDS) {
            None => None,
            Some(value) => Some(seconds(
                HEARTBEAT_TIMEOUT_SECONDS,
                Some(value),
                0,
                HEARTBEAT_TIMEOUT_RANGE,
            )?),
        };
        let deadline_margin = seconds(
            DEADLINE_MARGIN_SECONDS,
            get(DEADLINE_MARGIN_SECONDS),
            DEFAULT_DEADLINE_MARGIN_SECONDS,
            DEADLINE_MARGIN_RANGE,
        )?;
        let republish_topic_arn = match get(REPUBLISH_TOPIC_ARN) {
            None => None,
            Some(arn) if arn.starts_with("arn:") && arn.contains(":sns:") => Some(arn),
            Some(value) => {
                return Err(ConfigError::Invalid {
                    variable: REPUBLISH_TOPIC_ARN,
                    value,
                    expected: "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)".to_owned(),
                });
            }
        };
        if poll_interval >= max_drain {
            return Err(ConfigError::Invalid {
                variable: POLL_INTERVAL_SECONDS,
                value: poll_interval.as_secs().to_string(),
                expected: format!("less than {MAX_DRAIN_SECONDS} ({})", max_drain.as_secs()),
            });
        }
        Ok(Config {
            cluster,
            poll_interval,
            max_drain,
            deadline_result,
            heartbeat_timeout,
            deadline_margin,
            republish_topic_arn,
        })
    }
}

/// A whole number of seconds within `range` (inclusive), or `default` when unset.
fn seconds(
    variable: &'static str,
    value: Option<String>,
    default: u64,
    range: (u64, u64),
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_secs(default));
    };
    whole_number(variable, value, range, "seconds").map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|key| env.get(key).cloned())
    }

    #[test]
    fn only_the_cluster_is_required_and_defaults_follow_the_design() {
        let config = parse(&[(ECS_CLUSTER, "prod")]);
        assert_eq!(
            config,
            Ok(Config {
                cluster: "prod".into(),
                poll_interval: Duration::from_secs(5),
                max_drain: Duration::from_secs(7200),
                deadline_result: LifecycleActionResult::Continue,
                heartbeat_timeout: None,
                deadline_margin: Duration::from_secs(60),
                republish_topic_arn: None,
            })
        );
    }

    #[test]
    fn a_missing_or_blank_cluster_is_named() {
        for env in [&[][..], &[(ECS_CLUSTER, "  ")][..]] {
            let err = parse(env).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.starts_with("ECS_CLUSTER is required"), "{err}");
        }
    }

    #[test]
    fn every_setting_is_read() {
        let config = parse(&[
            (
                ECS_CLUSTER,
                "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            ),
            (POLL_INTERVAL_SECONDS, "10"),
            (MAX_DRAIN_SECONDS, "3600"),
            (DEADLINE_RESULT, "ABANDON"),
            (HEARTBEAT_TIMEOUT_SECONDS, "300"),
            (DEADLINE_MARGIN_SECONDS, "30"),
            (
                REPUBLISH_TOPIC_ARN,
                "arn:aws:sns:us-east-1:123456789012:drain",
            ),
        ]);
        assert_eq!(
            config,
            Ok(Config {
                cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/prod".into(),
                poll_interval: Duration::from_secs(10),
                max_drain: Duration::from_secs(3600),
                deadline_result: LifecycleActionResult::Abandon,
                heartbeat_timeout: Some(Duration::from_secs(300)),
                deadline_margin: Duration::from_secs(30),
                republish_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:drain".into()),
            })
        );
    }

    #[test]
    fn out_of_range_values_name_the_variable_and_the_range() {
        let cases = [
            (
                POLL_INTERVAL_SECONDS,
                "0",
                "POLL_INTERVAL_SECONDS=\"0\" is invalid: expected a whole number of seconds from 1 to 300",
            ),
            (
                POLL_INTERVAL_SECONDS,
                "five",
                "POLL_INTERVAL_SECONDS=\"five\" is invalid: expected a whole number of seconds from 1 to 300",
            ),
            (
                MAX_DRAIN_SECONDS,
                "172801",
                "MAX_DRAIN_SECONDS=\"172801\" is invalid: expected a whole number of seconds from 60 to 172800",
            ),
            (
                HEARTBEAT_TIMEOUT_SECONDS,
                "29",
                "HEARTBEAT_TIMEOUT_SECONDS=\"29\" is invalid: expected a whole number of seconds from 30 to 7200",
            ),
            (
                DEADLINE_MARGIN_SECONDS,
                "-1",
                "DEADLINE_MARGIN_SECONDS=\"-1\" is invalid: expected a whole number of seconds from 5 to 300",
            ),
            (
                DEADLINE_RESULT,
                "continue",
                "DEADLINE_RESULT=\"continue\" is invalid: expected CONTINUE or ABANDON",
            ),
            (
                REPUBLISH_TOPIC_ARN,
                "my-topic",
                "REPUBLISH_TOPIC_ARN=\"my-topic\" is invalid: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            ),
        ];
        for (variable, value, message) in cases {
            let err = parse(&[(ECS_CLUSTER, "prod"), (variable, value)]).err();
            assert_eq!(err.map(|e| e.to_string()).as_deref(), Some(message));
        }
    }

    #[test]
    fn the_poll_interval_must_be_shorter_than_the_whole_drain() {
        let err = parse(&[
            (ECS_CLUSTER, "prod"),
            (POLL_INTERVAL_SECONDS, "120"),
            (MAX_DRAIN_SECONDS, "60"),
        ])
        .err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "POLL_INTERVAL_SECONDS=\"120\" is invalid: expected less than MAX_DRAIN_SECONDS (60)"
            )
        );
    }

    #[test]
    fn env_vars_lists_every_setting_once_with_only_the_cluster_required() {
        let required: Vec<&str> = ENV_VARS
            .iter()
            .filter(|(_, r)| *r)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(required, [ECS_CLUSTER]);
        let mut names: Vec<&str> = ENV_VARS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENV_VARS.len());
    }
}
