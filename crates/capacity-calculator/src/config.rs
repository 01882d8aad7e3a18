//! The calculator's settings, read from the environment at start.

use capacity_aws::ClusterArn;
use capacity_aws::config::ECS_CLUSTER;
use capacity_core::{DisruptionBudget, ScalePolicy, WorstCase};

/// Worst-case task CPU units; with [`CONTAINER_MAX_MEMORY`], skips discovery.
pub const CONTAINER_MAX_CPU: &str = "CONTAINER_MAX_CPU";
/// Worst-case task memory, MiB; set together with [`CONTAINER_MAX_CPU`].
pub const CONTAINER_MAX_MEMORY: &str = "CONTAINER_MAX_MEMORY";
/// CloudWatch namespace of the published metrics.
pub const METRIC_NAMESPACE: &str = "METRIC_NAMESPACE";
pub const DEFAULT_METRIC_NAMESPACE: &str = "ECS/ClusterCapacity";
/// Worst-case tasks that must always fit (scale-out threshold and HostsToAdd target).
pub const SCALE_OUT_HEADROOM: &str = "SCALE_OUT_HEADROOM";
pub const DEFAULT_SCALE_OUT_HEADROOM: u32 = 1;
/// Seconds a full read of the cluster is reused, brought up to date by the events
/// themselves (0: read the whole cluster on every event).
pub const CLUSTER_REFRESH_SECONDS: &str = "CLUSTER_REFRESH_SECONDS";
pub const DEFAULT_CLUSTER_REFRESH_SECONDS: u32 = 60;
const MAX_CLUSTER_REFRESH_SECONDS: u32 = 3600;
/// At most how many hosts the consolidation plan lets leave at once, DRAINING ones counted:
/// a number (`3`; `0` never plans one) or a share of the cluster (`10%`, rounded up, at
/// least 1).
pub const DISRUPTION_BUDGET: &str = "DISRUPTION_BUDGET";
pub const DEFAULT_DISRUPTION_BUDGET: &str = "10%";
/// Seconds a host must have been removable before the plan names it.
pub const CONSOLIDATION_STABILITY_SECONDS: &str = "CONSOLIDATION_STABILITY_SECONDS";
pub const DEFAULT_CONSOLIDATION_STABILITY_SECONDS: u32 = 300;
const MAX_CONSOLIDATION_STABILITY_SECONDS: u32 = 86_400;

/// The Auto Scaling group of the cluster's hosts: read on every run for its minimum, desired
/// capacity and the instances it is terminating. Without it no `HostsToRemove` is published
/// (self-managed mode); the capacity-provider mode requires it.
pub const AUTO_SCALING_GROUP_NAME: &str = "AUTO_SCALING_GROUP_NAME";
/// `self-managed` (default: publish `HostsToRemove` and mark the planned hosts for the
/// scale-in chooser) or `capacity-provider` (the group is behind an ECS capacity provider
/// with managed scaling: set the planned hosts DRAINING, within the budget).
pub const SCALING_MODE: &str = "SCALING_MODE";
pub const DEFAULT_SCALING_MODE: &str = "self-managed";
/// `act` (default: mark, drain and remove the planned hosts) or `observe` (plan and publish
/// `HostsRemovable` with the plan in the log; mark, drain and remove nothing).
pub const CONSOLIDATION: &str = "CONSOLIDATION";
pub const DEFAULT_CONSOLIDATION: &str = "act";
/// Capacity-provider mode: seconds after which a drain of ours that still has tasks (beside
/// daemon tasks) is given up: the host is set ACTIVE again and left for the quiet period.
pub const DRAIN_GIVE_UP_SECONDS: &str = "DRAIN_GIVE_UP_SECONDS";
pub const DEFAULT_DRAIN_GIVE_UP_SECONDS: u32 = 900;
const MAX_DRAIN_GIVE_UP_SECONDS: u32 = 86_400;
/// Hosts each Availability Zone of the group keeps at least when consolidating.
pub const MIN_HOSTS_PER_ZONE: &str = "MIN_HOSTS_PER_ZONE";
pub const DEFAULT_MIN_HOSTS_PER_ZONE: u32 = 1;
const MAX_MIN_HOSTS_PER_ZONE: u32 = 1_000;
/// The task the headroom and every figure in worst-case tasks are counted in: `worst-case`
/// (default), `service:NAME` (that service's task as the read finds it) or `CPU/MEMORY` in CPU
/// units and MiB (e.g. `512/1024`).
pub const HEADROOM_TASK: &str = "HEADROOM_TASK";

pub use capacity_core::run::{Consolidation, HeadroomTask, ScalingMode};

/// Largest CPU units and memory for one task ECS accepts on EC2 (192 vCPU, 24 TiB would
/// be absurd; these are the documented task-size maxima with room for the largest hosts).
const MAX_TASK_CPU: u32 = 196_608;
const MAX_TASK_MEMORY: u32 = 24 * 1024 * 1024;
const MAX_HEADROOM: u32 = 10_000;

/// Every environment variable the binary reads: `(name, required)`.
pub const ENV_VARS: &[(&str, bool)] = &[
    (CONTAINER_MAX_CPU, false),
    (CONTAINER_MAX_MEMORY, false),
    (METRIC_NAMESPACE, false),
    (SCALE_OUT_HEADROOM, false),
    (CLUSTER_REFRESH_SECONDS, false),
    (ECS_CLUSTER, false),
    (DISRUPTION_BUDGET, false),
    (CONSOLIDATION_STABILITY_SECONDS, false),
    (AUTO_SCALING_GROUP_NAME, false),
    (SCALING_MODE, false),
    (CONSOLIDATION, false),
    (DRAIN_GIVE_UP_SECONDS, false),
    (MIN_HOSTS_PER_ZONE, false),
    (HEADROOM_TASK, false),
];

pub use capacity_aws::config::ConfigError;

/// The calculator's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The configured worst case, or `None` to discover it from the cluster.
    pub worst_case: Option<WorstCase>,
    pub metric_namespace: String,
    pub policy: ScalePolicy,
    /// How long a full read is reused (zero: never).
    pub cluster_refresh: std::time::Duration,
    /// `ECS_CLUSTER`: the cluster of the scheduled runs, whose event names none. When set,
    /// an event of another cluster is refused as nothing to do.
    pub cluster: Option<ClusterArn>,
    /// The consolidation plan's disruption budget.
    pub disruption_budget: DisruptionBudget,
    /// How long a host must have been removable before it is planned.
    pub stability_window: std::time::Duration,
    /// `AUTO_SCALING_GROUP_NAME`: the group of the cluster's hosts.
    pub auto_scaling_group: Option<String>,
    pub scaling_mode: ScalingMode,
    /// `CONSOLIDATION`: act on the plan, or only observe it.
    pub consolidation: Consolidation,
    /// `DRAIN_GIVE_UP_SECONDS`.
    pub drain_give_up: std::time::Duration,
    /// `MIN_HOSTS_PER_ZONE`.
    pub min_hosts_per_zone: u32,
    /// `HEADROOM_TASK`: what the headroom is counted in, applied to each run's reading.
    pub headroom_task: HeadroomTask,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the settings through `lookup` (a variable's value, `None` when unset). An empty
    /// value counts as unset, as CloudFormation passes empty optional parameters.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |key| lookup(key).filter(|v| !v.trim().is_empty());
        let cpu = get(CONTAINER_MAX_CPU)
            .map(|v| range(CONTAINER_MAX_CPU, &v, 1, MAX_TASK_CPU))
            .transpose()?;
        let memory = get(CONTAINER_MAX_MEMORY)
            .map(|v| range(CONTAINER_MAX_MEMORY, &v, 1, MAX_TASK_MEMORY))
            .transpose()?;
        let worst_case =
            match (cpu, memory) {
                (Some(cpu), Some(memory)) => Some(WorstCase::cpu_memory(cpu, memory).map_err(
                    |e| ConfigError::Invalid {
                        variable: CONTAINER_MAX_CPU,
                        value: cpu.to_string(),
                        expected: e.to_string(),
                    },
                )?),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(ConfigError::HalfPair {
                        set: CONTAINER_MAX_CPU,
                        unset: CONTAINER_MAX_MEMORY,
                    });
                }
                (None, Some(_)) => {
                    return Err(ConfigError::HalfPair {
                        set: CONTAINER_MAX_MEMORY,
                        unset: CONTAINER_MAX_CPU,
                    });
                }
            };
        let metric_namespace = match get(METRIC_NAMESPACE) {
            None => DEFAULT_METRIC_NAMESPACE.to_owned(),
            Some(ns) => namespace(ns)?,
        };
        let headroom = get(SCALE_OUT_HEADROOM)
            .map(|v| range(SCALE_OUT_HEADROOM, &v, 1, MAX_HEADROOM))
            .transpose()?
            .unwrap_or(DEFAULT_SCALE_OUT_HEADROOM);
        let policy = ScalePolicy::new(headroom).map_err(|e| ConfigError::Invalid {
            variable: SCALE_OUT_HEADROOM,
            value: headroom.to_string(),
            expected: e.to_string(),
        })?;
        let refresh = get(CLUSTER_REFRESH_SECONDS)
            .map(|v| range(CLUSTER_REFRESH_SECONDS, &v, 0, MAX_CLUSTER_REFRESH_SECONDS))
            .transpose()?
            .unwrap_or(DEFAULT_CLUSTER_REFRESH_SECONDS);
        let cluster = get(ECS_CLUSTER)
            .map(|v| {
                ClusterArn::parse(v.trim()).map_err(|_| ConfigError::Invalid {
                    variable: ECS_CLUSTER,
                    value: v,
                    expected: "the cluster's ARN (arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME)"
                        .to_owned(),
                })
            })
            .transpose()?;
        let disruption_budget = match get(DISRUPTION_BUDGET) {
            None => DisruptionBudget::default(),
            Some(v) => DisruptionBudget::parse(v.trim()).map_err(|_| ConfigError::Invalid {
                variable: DISRUPTION_BUDGET,
                value: v,
                expected: "a number of hosts (e.g. 3; 0 never consolidates) or a share of the cluster from 1% to 100% (e.g. 10%)".to_owned(),
            })?,
        };
        let stability = get(CONSOLIDATION_STABILITY_SECONDS)
            .map(|v| {
                range(
                    CONSOLIDATION_STABILITY_SECONDS,
                    &v,
                    0,
                    MAX_CONSOLIDATION_STABILITY_SECONDS,
                )
            })
            .transpose()?
            .unwrap_or(DEFAULT_CONSOLIDATION_STABILITY_SECONDS);
        let scaling_mode = match get(SCALING_MODE) {
            None => ScalingMode::default(),
            Some(v) => ScalingMode::parse(&v).ok_or_else(|| ConfigError::Invalid {
                variable: SCALING_MODE,
                value: v,
                expected: "self-managed or capacity-provider".to_owned(),
            })?,
        };
        let consolidation = match get(CONSOLIDATION) {
            None => Consolidation::default(),
            Some(v) => Consolidation::parse(&v).ok_or_else(|| ConfigError::Invalid {
                variable: CONSOLIDATION,
                value: v,
                expected: "act or observe".to_owned(),
            })?,
        };
        let drain_give_up = get(DRAIN_GIVE_UP_SECONDS)
            .map(|v| range(DRAIN_GIVE_UP_SECONDS, &v, 60, MAX_DRAIN_GIVE_UP_SECONDS))
            .transpose()?
            .unwrap_or(DEFAULT_DRAIN_GIVE_UP_SECONDS);
        let min_hosts_per_zone = get(MIN_HOSTS_PER_ZONE)
            .map(|v| range(MIN_HOSTS_PER_ZONE, &v, 0, MAX_MIN_HOSTS_PER_ZONE))
            .transpose()?
            .unwrap_or(DEFAULT_MIN_HOSTS_PER_ZONE);
        let headroom_task = match get(HEADROOM_TASK) {
            None => HeadroomTask::default(),
            Some(v) => HeadroomTask::parse(&v).map_err(|why| ConfigError::Invalid {
                variable: HEADROOM_TASK,
                expected: headroom_task_expected(&v, &why),
                value: v,
            })?,
        };
        let auto_scaling_group = get(AUTO_SCALING_GROUP_NAME).map(|v| v.trim().to_owned());
        if scaling_mode == ScalingMode::CapacityProvider && auto_scaling_group.is_none() {
            return Err(ConfigError::Missing {
                variable: AUTO_SCALING_GROUP_NAME,
                expected: "the name of the Auto Scaling group behind the cluster's capacity provider (SCALING_MODE=capacity-provider acts on it)",
            });
        }
        Ok(Config {
            auto_scaling_group,
            scaling_mode,
            consolidation,
            drain_give_up: std::time::Duration::from_secs(u64::from(drain_give_up)),
            min_hosts_per_zone,
            headroom_task,
            disruption_budget,
            stability_window: std::time::Duration::from_secs(u64::from(stability)),
            worst_case,
            metric_namespace,
            policy,
            cluster_refresh: std::time::Duration::from_secs(u64::from(refresh)),
            cluster,
        })
    }
}

impl Config {
    /// The settings the run's decision takes (capacity-core's `run::Settings`).
    pub fn settings(&self) -> capacity_core::run::Settings {
        capacity_core::run::Settings {
            mode: self.scaling_mode,
            consolidation: self.consolidation,
            policy: self.policy,
            budget: self.disruption_budget,
            stability_window: self.stability_window,
            auto_scaling_group: self.auto_scaling_group.clone(),
            min_hosts_per_zone: self.min_hosts_per_zone,
            give_up_after: self.drain_give_up,
            ..capacity_core::run::Settings::default()
        }
    }
}

fn range(variable: &'static str, value: &str, min: u32, max: u32) -> Result<u32, ConfigError> {
    capacity_aws::config::in_range(value.trim(), (min, max)).ok_or_else(|| ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        expected: format!("a whole number from {min} to {max}"),
    })
}

/// What `HEADROOM_TASK` takes, with why `value` is not that: capacity-core's reason without
/// the value it starts with (the error names the value already).
fn headroom_task_expected(value: &str, why: &str) -> String {
    let why = why
        .strip_prefix(&format!("{:?}: ", value.trim()))
        .unwrap_or(why);
    match why.strip_prefix("expected ") {
        Some(forms) => forms.to_owned(),
        None => format!("worst-case, service:NAME or CPU/MEMORY: {why}"),
    }
}

/// CloudWatch namespaces: 1–255 characters of letters, digits and `.-_/#:`, not starting
/// with `:` nor with `AWS/` (reserved for AWS services).
fn namespace(ns: String) -> Result<String, ConfigError> {
    let valid_chars = ns
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c));
    if ns.len() > 255 || !valid_chars || ns.starts_with(':') || ns.starts_with("AWS/") {
        return Err(ConfigError::Invalid {
            variable: METRIC_NAMESPACE,
            value: ns,
            expected: "1 to 255 characters of letters, digits and . - _ / # : space, not starting with \"AWS/\" (reserved) or \":\"".to_owned(),
        });
    }
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(capacity_aws::config::from_pairs(vars))
    }

    #[test]
    fn defaults_discover_the_worst_case_and_use_the_default_namespace() {
        let c = config(&[]).unwrap();
        assert_eq!(c.worst_case, None);
        assert_eq!(c.metric_namespace, "ECS/ClusterCapacity");
        assert_eq!(c.policy.headroom(), 1);
        assert_eq!(c.cluster_refresh, std::time::Duration::from_secs(60));
        let c = config(&[(CLUSTER_REFRESH_SECONDS, "0")]).unwrap();
        assert!(c.cluster_refresh.is_zero());
    }

    #[test]
    fn both_worst_case_variables_give_the_worst_case() {
        let c = config(&[(CONTAINER_MAX_CPU, "250"), (CONTAINER_MAX_MEMORY, "400")]).unwrap();
        assert_eq!(c.worst_case, Some(WorstCase::cpu_memory(250, 400).unwrap()));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = config(&[
            (CONTAINER_MAX_CPU, ""),
            (CONTAINER_MAX_MEMORY, " "),
            (METRIC_NAMESPACE, ""),
        ])
        .unwrap();
        assert_eq!(c.worst_case, None);
        assert_eq!(c.metric_namespace, DEFAULT_METRIC_NAMESPACE);
    }

    #[test]
    fn half_a_worst_case_is_refused_naming_the_missing_variable() {
        let err = config(&[(CONTAINER_MAX_CPU, "250")]).unwrap_err();
        assert!(
            err.to_string().contains("CONTAINER_MAX_MEMORY is not"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_values_name_the_variable_and_the_range() {
        for (name, value) in [
            (CONTAINER_MAX_CPU, "0"),
            (CONTAINER_MAX_CPU, "-5"),
            (CONTAINER_MAX_CPU, "a lot"),
            (SCALE_OUT_HEADROOM, "0"),
            (SCALE_OUT_HEADROOM, "10001"),
            (CLUSTER_REFRESH_SECONDS, "3601"),
        ] {
            let mut vars = vec![(name, value), (CONTAINER_MAX_MEMORY, "512")];
            if name != CONTAINER_MAX_CPU {
                vars.push((CONTAINER_MAX_CPU, "256"));
            }
            let err = config(&vars).unwrap_err().to_string();
            assert!(
                err.contains(name) && err.contains("whole number from"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_scheduled_cluster_is_an_arn_named_when_wrong() {
        assert_eq!(config(&[]).unwrap().cluster, None);
        let arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
        let c = config(&[(ECS_CLUSTER, arn)]).unwrap();
        assert_eq!(
            c.cluster.map(|a| a.name().to_owned()).as_deref(),
            Some("prod")
        );
        let err = config(&[(ECS_CLUSTER, "prod")]).unwrap_err().to_string();
        assert!(
            err.contains("ECS_CLUSTER=\"prod\"") && err.contains("ARN"),
            "{err}"
        );
    }

    #[test]
    fn the_disruption_budget_is_hosts_or_a_share_and_names_its_form_when_wrong() {
        let c = config(&[]).unwrap();
        assert_eq!(c.disruption_budget, DisruptionBudget::default());
        assert_eq!(c.stability_window, std::time::Duration::from_secs(300));
        let c = config(&[
            (DISRUPTION_BUDGET, "3"),
            (CONSOLIDATION_STABILITY_SECONDS, "0"),
        ])
        .unwrap();
        assert_eq!(c.disruption_budget, DisruptionBudget::Hosts(3));
        assert!(c.stability_window.is_zero());
        assert_eq!(
            config(&[(DISRUPTION_BUDGET, "0")])
                .unwrap()
                .disruption_budget,
            DisruptionBudget::Hosts(0),
            "0: never consolidate"
        );
        for bad in ["ten", "150%", "0%", "-1"] {
            let err = config(&[(DISRUPTION_BUDGET, bad)]).unwrap_err().to_string();
            assert!(
                err.contains("DISRUPTION_BUDGET") && err.contains("10%"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_scaling_mode_is_self_managed_unless_set_and_names_the_bad_value() {
        let c = config(&[]).unwrap();
        assert_eq!(c.scaling_mode, ScalingMode::SelfManaged);
        assert_eq!(c.auto_scaling_group, None);
        let c = config(&[(AUTO_SCALING_GROUP_NAME, " prod-hosts ")]).unwrap();
        assert_eq!(c.auto_scaling_group.as_deref(), Some("prod-hosts"));
        let c = config(&[
            (SCALING_MODE, "capacity-provider"),
            (AUTO_SCALING_GROUP_NAME, "prod-hosts"),
        ])
        .unwrap();
        assert_eq!(c.scaling_mode, ScalingMode::CapacityProvider);
        assert_eq!(
            config(&[(SCALING_MODE, "Self-Managed")])
                .unwrap()
                .scaling_mode,
            ScalingMode::SelfManaged
        );
        for bad in ["managed", "capacity_provider", "1"] {
            let err = config(&[(SCALING_MODE, bad)]).unwrap_err().to_string();
            assert!(
                err.contains(&format!("SCALING_MODE={bad:?}"))
                    && err.contains("self-managed or capacity-provider"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_capacity_provider_mode_needs_the_group() {
        let err = config(&[(SCALING_MODE, "capacity-provider")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("AUTO_SCALING_GROUP_NAME is required"), "{err}");
    }

    #[test]
    fn the_headroom_task_is_the_worst_case_unless_a_service_or_a_shape_is_named() {
        assert_eq!(config(&[]).unwrap().headroom_task, HeadroomTask::WorstCase);
        assert_eq!(
            config(&[(HEADROOM_TASK, "")]).unwrap().headroom_task,
            HeadroomTask::WorstCase,
            "empty, as the template passes its default"
        );
        assert_eq!(
            config(&[(HEADROOM_TASK, "worst-case")])
                .unwrap()
                .headroom_task,
            HeadroomTask::WorstCase
        );
        assert_eq!(
            config(&[(HEADROOM_TASK, "service:web")])
                .unwrap()
                .headroom_task,
            HeadroomTask::Service("web".into())
        );
        assert_eq!(
            config(&[(HEADROOM_TASK, "512/1024")])
                .unwrap()
                .headroom_task,
            HeadroomTask::Shape {
                cpu: 512,
                memory_mib: 1024
            }
        );
    }

    #[test]
    fn a_bad_headroom_task_names_the_variable_the_value_and_the_forms() {
        for (bad, why) in [
            (
                "web",
                "worst-case, service:NAME or CPU/MEMORY (e.g. 512/1024)",
            ),
            ("service:", "needs a service name"),
            (
                "0/1024",
                "CPU units must be a whole number from 1 to 196608",
            ),
            ("512/lots", "MiB must be a whole number from 1 to 6291456"),
        ] {
            let err = config(&[(HEADROOM_TASK, bad)]).unwrap_err().to_string();
            assert!(
                err.contains(&format!("HEADROOM_TASK={bad:?} is invalid: expected "))
                    && err.contains(why)
                    && err.matches(&format!("{bad:?}")).count() == 1,
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn reserved_and_malformed_namespaces_are_refused() {
        for ns in ["AWS/ECS", ":x", "bad*chars", &"n".repeat(256)] {
            let err = config(&[(METRIC_NAMESPACE, ns)]).unwrap_err().to_string();
            assert!(err.contains("METRIC_NAMESPACE"), "{err}");
        }
        assert_eq!(
            config(&[(METRIC_NAMESPACE, "Team/ECS-prod")])
                .unwrap()
                .metric_namespace,
            "Team/ECS-prod"
        );
    }
}
