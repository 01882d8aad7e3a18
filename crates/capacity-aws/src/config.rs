//! What the functions' settings share: reading a variable through a lookup function (so
//! parsing is testable without touching the process environment), the required value, the
//! whole number within a range, and the error that names the variable and what it accepts.
//!
//! Each function keeps its own keys, defaults and `ENV_VARS` beside its `Config`.
//!
//! ```
//! use capacity_aws::config::{self, ConfigError};
//!
//! let lookup = |key: &str| (key == "POLL_INTERVAL_SECONDS").then(|| " 0 ".to_owned());
//! let err = config::value(&lookup, "POLL_INTERVAL_SECONDS")
//!     .map(|v| config::whole_number("POLL_INTERVAL_SECONDS", v, (1, 300), "seconds"))
//!     .transpose()
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "POLL_INTERVAL_SECONDS=\"0\" is invalid: expected a whole number of seconds from 1 to 300"
//! );
//! assert_eq!(config::value(&lookup, "ECS_CLUSTER"), None);
//! ```

use std::fmt::Display;
use std::str::FromStr;

use thiserror::Error;

/// A setting that is missing or out of range; names the variable and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("{variable} is required: {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    #[error("{variable}={value:?} is invalid: expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: String,
    },
    /// Two settings that go together, one given without the other.
    #[error(
        "{set} is set but {unset} is not: set both to give the worst case, or neither to discover it"
    )]
    HalfPair {
        set: &'static str,
        unset: &'static str,
    },
}

/// The cluster a function works on (name or ARN): required by the scale-in chooser and the
/// lifecycle drainer; the calculator's scheduled runs take it as an ARN.
pub const ECS_CLUSTER: &str = "ECS_CLUSTER";

/// The value of [`ECS_CLUSTER`], required.
pub fn cluster(value: Option<String>) -> Result<String, ConfigError> {
    required(ECS_CLUSTER, value, "the name or ARN of the ECS cluster")
}

/// A lookup over `(variable, value)` pairs, for tests: the first pair of a variable wins.
pub fn from_pairs<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |key| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// `config`, with its error logged as "invalid configuration" (a function's `main` then stops
/// with it, and Lambda reports the failed start).
pub fn logged<T, E: std::fmt::Display>(config: Result<T, E>) -> Result<T, E> {
    config.inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))
}

/// The value of `variable` through `lookup`, trimmed; an empty value counts as unset, as
/// CloudFormation passes empty optional parameters.
pub fn value(lookup: impl Fn(&str) -> Option<String>, variable: &str) -> Option<String> {
    lookup(variable)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `value`, or [`ConfigError::Missing`] saying what `variable` should hold.
pub fn required(
    variable: &'static str,
    value: Option<String>,
    expected: &'static str,
) -> Result<String, ConfigError> {
    value.ok_or(ConfigError::Missing { variable, expected })
}

/// `value` as a whole number within `min..=max`, or `None`.
pub fn in_range<T>(value: &str, (min, max): (T, T)) -> Option<T>
where
    T: FromStr + PartialOrd,
{
    value.parse::<T>().ok().filter(|n| *n >= min && *n <= max)
}

/// `value` of `variable` as a whole number of `unit` (e.g. "seconds") within `min..=max`;
/// otherwise an error that names the range: "expected a whole number of seconds from 1 to
/// 300".
pub fn whole_number<T>(
    variable: &'static str,
    value: String,
    range: (T, T),
    unit: &str,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    in_range(&value, range).ok_or_else(|| ConfigError::Invalid {
        variable,
        expected: format!("a whole number of {unit} from {} to {}", range.0, range.1),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_are_unset_and_others_are_trimmed() {
        let lookup = |key: &str| match key {
            "BLANK" => Some("  ".to_owned()),
            "PADDED" => Some(" prod ".to_owned()),
            _ => None,
        };
        assert_eq!(value(lookup, "BLANK"), None);
        assert_eq!(value(lookup, "UNSET"), None);
        assert_eq!(value(lookup, "PADDED").as_deref(), Some("prod"));
        assert_eq!(
            required("ECS_CLUSTER", None, "the name or ARN of the ECS cluster")
                .unwrap_err()
                .to_string(),
            "ECS_CLUSTER is required: the name or ARN of the ECS cluster"
        );
    }

    #[test]
    fn whole_numbers_outside_the_range_name_it() {
        assert_eq!(in_range("100", (100u64, 1800)), Some(100));
        assert_eq!(in_range("1800", (100u64, 1800)), Some(1800));
        for bad in ["99", "1801", "-1", "1.5", "soon"] {
            assert_eq!(in_range(bad, (100u64, 1800)), None, "{bad}");
        }
        assert_eq!(
            whole_number(
                "ECS_READ_BUDGET_MS",
                "2000".into(),
                (100u64, 1800),
                "milliseconds"
            )
            .unwrap_err()
            .to_string(),
            "ECS_READ_BUDGET_MS=\"2000\" is invalid: expected a whole number of milliseconds from 100 to 1800"
        );
    }
}
