//! The disruption budget: at most how many hosts may be leaving at once.

use std::fmt;

use crate::CapacityError;

/// At most how many hosts may be leaving at once (DRAINING or planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum DisruptionBudget {
    /// A fixed number of hosts (0 stops consolidation).
    Hosts(u32),
    /// A percentage of the cluster's hosts, 1 to 100, rounded up, at least 1.
    Percent(u32),
}

impl Default for DisruptionBudget {
    /// 10 % of the cluster.
    fn default() -> Self {
        DisruptionBudget::Percent(10)
    }
}

impl DisruptionBudget {
    /// `N` hosts, or `N%` of the cluster (1 to 100).
    pub fn parse(s: &str) -> Result<DisruptionBudget, CapacityError> {
        let invalid = || CapacityError::InvalidDisruptionBudget(s.to_owned());
        let s = s.trim();
        match s.strip_suffix('%') {
            Some(p) => {
                let p: u32 = p.trim().parse().map_err(|_| invalid())?;
                if (1..=100).contains(&p) {
                    Ok(DisruptionBudget::Percent(p))
                } else {
                    Err(invalid())
                }
            }
            None => s
                .parse()
                .map(DisruptionBudget::Hosts)
                .map_err(|_| invalid()),
        }
    }

    /// Hosts allowed to be leaving at once in a cluster of `hosts` hosts.
    pub fn hosts_allowed(&self, hosts: usize) -> u32 {
        match *self {
            DisruptionBudget::Hosts(n) => n,
            DisruptionBudget::Percent(p) => {
                let scaled = (hosts as u64 * u64::from(p.min(100))).div_ceil(100);
                u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
            }
        }
    }
}

impl fmt::Display for DisruptionBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisruptionBudget::Hosts(n) => write!(f, "{n} host(s)"),
            DisruptionBudget::Percent(p) => write!(f, "{p}%"),
        }
    }
}
