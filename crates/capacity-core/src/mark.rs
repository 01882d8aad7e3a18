//! The marks the calculator leaves on container instances (ECS custom attributes), parsed
//! and formatted in one place.
//!
//! * [`PLANNED_REMOVAL_ATTRIBUTE`] = `<rank>/<unix seconds>` ([`PlannedRemoval`]): the
//!   consolidation plan named this host, `rank` 1 first, at that time. The scale-in chooser
//!   removes a host with a fresh mark ([`PLANNED_REMOVAL_MAX_AGE`]) before any other
//!   registered host: the mark is the very plan that produced the `HostsToRemove` the group
//!   acts on.
//! * [`DRAINED_BY_ATTRIBUTE`] = `<unix seconds>` ([`DrainedBy`]): the calculator itself set
//!   this host DRAINING (capacity-provider mode), at that time; only a host carrying it is
//!   ever set ACTIVE again by the calculator.
//!
//! ```
//! use capacity_core::mark::PlannedRemoval;
//!
//! let mark = PlannedRemoval::parse("2/1800000000")?;
//! assert_eq!((mark.rank, mark.at_unix_secs), (2, 1_800_000_000));
//! assert_eq!(mark.to_string(), "2/1800000000");
//! assert!(mark.is_fresh(1_800_000_599));
//! assert!(!mark.is_fresh(1_800_000_600));
//! assert!(PlannedRemoval::parse("first").is_err());
//! # Ok::<(), capacity_core::mark::MarkError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// The container-instance attribute naming a host the consolidation plan removes.
pub const PLANNED_REMOVAL_ATTRIBUTE: &str = "ecs-capacity.planned-removal";

/// The container-instance attribute naming a host the calculator set DRAINING itself.
pub const DRAINED_BY_ATTRIBUTE: &str = "ecs-capacity.drained-by";

/// The container-instance attribute holding the plan's memory of a host: since when it has
/// been removable, and when a run last found it so (`<since>/<seen>`, [`RemovableSince`]).
/// It survives cold starts, and the scale-in chooser reads a fresh one as "checked to fit".
pub const REMOVABLE_SINCE_ATTRIBUTE: &str = "ecs-capacity.removable-since";

/// The container-instance attribute on a host whose drain this function gave up (or that an
/// operator set ACTIVE again after our drain): `<unix seconds>` ([`GivenUp`]). The host is
/// not planned for the quiet period after it.
pub const GIVEN_UP_ATTRIBUTE: &str = "ecs-capacity.given-up";

/// The cluster tag holding when the cluster was last short (`<unix seconds>`), so that the
/// quiet period after a shortfall survives cold starts.
pub const LAST_SHORTFALL_TAG: &str = "ecs-capacity.last-shortfall";

/// How long a planned-removal mark is trusted: 10 minutes, twice the default scale-in
/// window. An older mark is from a plan the calculator has not confirmed since (it rewrites
/// the marks of the hosts it still plans well within this age).
pub const PLANNED_REMOVAL_MAX_AGE: Duration = Duration::from_secs(600);

/// A mark whose value does not parse: names the attribute, the value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("attribute {attribute} has value {value:?}: expected {expected}")]
pub struct MarkError {
    pub attribute: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// A planned-removal mark: `<rank>/<unix seconds>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlannedRemoval {
    /// 1 = the first host the plan removes.
    pub rank: u32,
    /// When the plan was made, seconds since the Unix epoch.
    pub at_unix_secs: u64,
}

impl PlannedRemoval {
    const EXPECTED: &'static str = "<rank from 1>/<unix seconds>, e.g. 1/1800000000";

    pub fn new(rank: u32, at_unix_secs: u64) -> PlannedRemoval {
        PlannedRemoval { rank, at_unix_secs }
    }

    /// Parses `<rank>/<unix seconds>` (surrounding blanks allowed; rank at least 1).
    pub fn parse(value: &str) -> Result<PlannedRemoval, MarkError> {
        let invalid = || MarkError {
            attribute: PLANNED_REMOVAL_ATTRIBUTE,
            value: value.to_owned(),
            expected: Self::EXPECTED,
        };
        let (rank, at) = value.trim().split_once('/').ok_or_else(invalid)?;
        let rank: u32 = digits(rank).ok_or_else(invalid)?;
        let at: u64 = digits(at).ok_or_else(invalid)?;
        if rank == 0 {
            return Err(invalid());
        }
        Ok(PlannedRemoval::new(rank, at))
    }

    /// How old the mark is at `now_unix_secs` (0 for a mark from the future: clocks differ).
    pub fn age(&self, now_unix_secs: u64) -> Duration {
        Duration::from_secs(now_unix_secs.saturating_sub(self.at_unix_secs))
    }

    /// Younger than [`PLANNED_REMOVAL_MAX_AGE`] at `now_unix_secs`.
    pub fn is_fresh(&self, now_unix_secs: u64) -> bool {
        self.age(now_unix_secs) < PLANNED_REMOVAL_MAX_AGE
    }
}

impl fmt::Display for PlannedRemoval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.rank, self.at_unix_secs)
    }
}

/// A drained-by mark: `<unix seconds>` when the calculator set the host DRAINING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DrainedBy {
    pub at_unix_secs: u64,
}

impl DrainedBy {
    /// Parses `<unix seconds>` (surrounding blanks allowed).
    pub fn parse(value: &str) -> Result<DrainedBy, MarkError> {
        digits(value.trim())
            .map(|at_unix_secs| DrainedBy { at_unix_secs })
            .ok_or_else(|| MarkError {
                attribute: DRAINED_BY_ATTRIBUTE,
                value: value.to_owned(),
                expected: "<unix seconds>, e.g. 1800000000",
            })
    }
}

impl fmt::Display for DrainedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at_unix_secs)
    }
}

/// One attribute of one container instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InstanceAttribute {
    pub container_instance_arn: String,
    pub name: String,
    /// `None`: an attribute without a value.
    pub value: Option<String>,
}

impl InstanceAttribute {
    pub fn new(container_instance_arn: &str, name: &str, value: Option<&str>) -> Self {
        InstanceAttribute {
            container_instance_arn: container_instance_arn.to_owned(),
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }
}

/// Per container instance ARN, the attributes of this project it carries (names starting
/// with [`OUR_PREFIX`]) and their values (`""` for an attribute without a value).
pub type InstanceMarks = BTreeMap<String, BTreeMap<String, String>>;

/// The prefix of every attribute this project reads or writes.
pub const OUR_PREFIX: &str = "ecs-capacity.";

/// A removable-since mark: `<since>/<seen>`, both seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemovableSince {
    /// Since when the host has been removable.
    pub since: u64,
    /// When a run last found it removable.
    pub seen: u64,
}

impl RemovableSince {
    /// Parses `<since>/<seen>` (surrounding blanks allowed; `since` not after `seen`).
    pub fn parse(value: &str) -> Result<RemovableSince, MarkError> {
        let invalid = || MarkError {
            attribute: REMOVABLE_SINCE_ATTRIBUTE,
            value: value.to_owned(),
            expected: "<unix seconds since>/<unix seconds seen>, e.g. 1800000000/1800000300",
        };
        let (since, seen) = value.trim().split_once('/').ok_or_else(invalid)?;
        let (since, seen): (u64, u64) = (
            digits(since).ok_or_else(invalid)?,
            digits(seen).ok_or_else(invalid)?,
        );
        if since > seen {
            return Err(invalid());
        }
        Ok(RemovableSince { since, seen })
    }

    /// Whether a run found the host removable within `max_age` of `now` (a mark from the
    /// future is fresh: clocks differ).
    pub fn is_fresh(&self, now: u64, max_age: Duration) -> bool {
        now.saturating_sub(self.seen) <= max_age.as_secs()
    }
}

impl fmt::Display for RemovableSince {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.since, self.seen)
    }
}

/// A given-up mark: `<unix seconds>` when the drain was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GivenUp {
    pub at_unix_secs: u64,
}

impl GivenUp {
    /// Parses `<unix seconds>` (surrounding blanks allowed).
    pub fn parse(value: &str) -> Result<GivenUp, MarkError> {
        digits(value.trim())
            .map(|at_unix_secs| GivenUp { at_unix_secs })
            .ok_or_else(|| MarkError {
                attribute: GIVEN_UP_ATTRIBUTE,
                value: value.to_owned(),
                expected: "<unix seconds>, e.g. 1800000000",
            })
    }
}

impl fmt::Display for GivenUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at_unix_secs)
    }
}

/// ASCII digits only (no sign, no blanks, no `+`), as the number they spell.
fn digits<N: std::str::FromStr>(s: &str) -> Option<N> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_removal_mark_round_trips() {
        for (rank, at) in [(1, 0), (7, 1_800_000_000), (u32::MAX, u64::MAX)] {
            let mark = PlannedRemoval::new(rank, at);
            assert_eq!(PlannedRemoval::parse(&mark.to_string()), Ok(mark));
        }
        assert_eq!(
            PlannedRemoval::parse(" 3/1800000000 "),
            Ok(PlannedRemoval::new(3, 1_800_000_000))
        );
    }

    #[test]
    fn a_bad_planned_removal_mark_is_an_error_naming_the_value() {
        for bad in [
            "",
            "1",
            "/1",
            "1/",
            "0/1800000000",
            "-1/5",
            "1/-5",
            "+1/5",
            "1 /5",
            "a/b",
            "1/2/3",
            "1/99999999999999999999",
            "true",
        ] {
            let err = PlannedRemoval::parse(bad).expect_err(bad);
            let text = err.to_string();
            assert!(
                text.contains(PLANNED_REMOVAL_ATTRIBUTE) && text.contains(&format!("{bad:?}")),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn a_mark_is_fresh_for_ten_minutes_and_one_from_the_future_is_fresh() {
        let mark = PlannedRemoval::new(1, 1_000);
        assert!(mark.is_fresh(1_000));
        assert!(mark.is_fresh(1_599));
        assert!(!mark.is_fresh(1_600));
        assert!(mark.is_fresh(900), "another clock ahead of ours");
        assert_eq!(mark.age(900), Duration::ZERO);
    }

    #[test]
    fn a_removable_since_mark_round_trips_and_knows_its_freshness() {
        let mark = RemovableSince::parse(" 1000/1300 ").unwrap();
        assert_eq!(
            mark,
            RemovableSince {
                since: 1000,
                seen: 1300
            }
        );
        assert_eq!(mark.to_string(), "1000/1300");
        assert!(mark.is_fresh(1900, Duration::from_secs(600)));
        assert!(!mark.is_fresh(1901, Duration::from_secs(600)));
        for bad in ["", "1000", "1300/1000", "a/b", "1/2/3"] {
            let err = RemovableSince::parse(bad).expect_err(bad).to_string();
            assert!(err.contains(REMOVABLE_SINCE_ATTRIBUTE), "{err}");
        }
        assert_eq!(GivenUp::parse("17").unwrap().at_unix_secs, 17);
        assert!(GivenUp::parse("soon").is_err());
    }

    #[test]
    fn a_drained_by_mark_round_trips_and_a_bad_one_names_the_value() {
        let mark = DrainedBy::parse("1800000000").unwrap();
        assert_eq!(mark.at_unix_secs, 1_800_000_000);
        assert_eq!(mark.to_string(), "1800000000");
        for bad in ["", "soon", "-1", "1/2"] {
            let err = DrainedBy::parse(bad).expect_err(bad).to_string();
            assert!(
                err.contains(DRAINED_BY_ATTRIBUTE) && err.contains(&format!("{bad:?}")),
                "{err}"
            );
        }
    }
}
