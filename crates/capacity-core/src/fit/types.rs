//! The group's instance types as the I/O layer reads them: its launch specification (what
//! DescribeAutoScalingGroups says), and each allowed type's size (DescribeInstanceTypes).

use std::fmt;

use crate::{ContainerInstance, HostTemplate, Resources};

/// Memory the ECS agent does not register, as a share of the instance's memory, when no host
/// of the type has registered yet: the kernel's own and `ECS_RESERVED_MEMORY`. The agent
/// registers `MemTotal` (the memory the kernel reports, below the instance's) less
/// `ECS_RESERVED_MEMORY` (default 0); measured registrations run 2.5–9.5 % below the
/// instance's memory (m4.large 7985 of 8192 MiB in ECS's own example, m5.large 7680, m5.xlarge
/// 15708 of 16384, c5.xlarge 7418 of 8192): 10 % is the careful side (a host sized on it never
/// has less than assumed).
pub const MEMORY_RESERVATION_PERCENT: u32 = 10;

/// A launch template as a group names it: by id or name, and a version (`$Latest`,
/// `$Default`, or a number; `None`: `$Default`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
}

/// One override of a mixed instances policy: an instance type (or a launch template of its
/// own) and its weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TypeOverride {
    pub instance_type: Option<String>,
    /// `WeightedCapacity`: the capacity units one instance of it counts for (1 when unset).
    pub weight: Option<u32>,
    pub launch_template: Option<TemplateRef>,
}

/// How a group launches, as DescribeAutoScalingGroups reports it: a launch template, a launch
/// configuration, or a mixed instances policy (its template, overrides and allocation
/// strategies). It changes only when the team changes the group, so the types it resolves to
/// are read once per specification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LaunchSpec {
    pub launch_template: Option<TemplateRef>,
    pub launch_configuration: Option<String>,
    /// The mixed instances policy's overrides, in its order.
    pub overrides: Vec<TypeOverride>,
    /// `OnDemandAllocationStrategy` (`prioritized` or `lowest-price`).
    pub on_demand_allocation_strategy: Option<String>,
    /// `SpotAllocationStrategy`.
    pub spot_allocation_strategy: Option<String>,
    /// `OnDemandPercentageAboveBaseCapacity` (AWS's default: 100, every instance On-Demand).
    pub on_demand_percentage_above_base_capacity: Option<u32>,
}

impl LaunchSpec {
    /// How the group picks the type of its next instance (Auto Scaling, "Allocation
    /// strategies for multiple instance types"):
    ///
    /// * no overrides: one type;
    /// * On-Demand `prioritized` (the default without attribute-based selection) and every
    ///   instance On-Demand (`OnDemandPercentageAboveBaseCapacity` 100, the default): the
    ///   overrides in their order;
    /// * anything else — `lowest-price`, or Spot instances above the base (even
    ///   `capacity-optimized-prioritized` honours the order "on a best-effort basis"): by
    ///   price and capacity, no type known in advance.
    pub fn order(&self) -> LaunchOrder {
        if self.overrides.is_empty() {
            return LaunchOrder::OneType;
        }
        let prioritized = matches!(
            self.on_demand_allocation_strategy.as_deref(),
            None | Some("prioritized")
        );
        let all_on_demand = self
            .on_demand_percentage_above_base_capacity
            .is_none_or(|p| p >= 100);
        if prioritized && all_on_demand {
            LaunchOrder::Prioritized
        } else {
            LaunchOrder::ByPrice
        }
    }
}

/// An EC2 instance type's size, as DescribeInstanceTypes gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InstanceTypeInfo {
    /// `m5.xlarge`.
    pub name: String,
    /// `VCpuInfo.DefaultVCpus`.
    pub vcpus: u32,
    /// `MemoryInfo.SizeInMiB`.
    pub memory_mib: u32,
    /// `NetworkInfo.MaximumNetworkInterfaces`.
    pub max_enis: Option<u32>,
    /// The GPUs (`GpuInfo.Gpus[].Count`, summed).
    pub gpus: u32,
    /// What a container instance of the type registers, when known otherwise (the
    /// simulator's scenarios say it); `None` from DescribeInstanceTypes.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub registered: Option<Resources>,
}

impl InstanceTypeInfo {
    /// What a container instance of this type offers ECS: the registered resources of a host
    /// of the type already seen in `instances` (the most memory any registered), else what
    /// is known of it ([`InstanceTypeInfo::registered`]), else 1024 CPU units per vCPU and the
    /// memory less [`MEMORY_RESERVATION_PERCENT`].
    pub fn host(&self, instances: &[ContainerInstance]) -> HostTemplate {
        let seen = instances
            .iter()
            .filter(|i| i.instance_type.as_deref() == Some(self.name.as_str()))
            .max_by_key(|i| i.registered.memory_mib);
        let registered = match (seen, &self.registered) {
            (Some(i), _) => i.registered.clone(),
            (None, Some(known)) => known.clone(),
            (None, None) => Resources {
                cpu: self.vcpus.saturating_mul(1024),
                memory_mib: u32::try_from(
                    u64::from(self.memory_mib) * u64::from(100 - MEMORY_RESERVATION_PERCENT) / 100,
                )
                .unwrap_or(u32::MAX),
                gpus: self.gpus,
                ..Resources::default()
            },
        };
        HostTemplate {
            instance_type: Some(self.name.clone()),
            registered,
            eni_task_slots: seen
                .and_then(|i| i.eni.map(|e| e.task_slots_when_empty()))
                .or(self.max_enis.map(|m| m.saturating_sub(1))),
        }
    }
}

/// How the group picks the type of its next instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum LaunchOrder {
    /// One type (a launch template or configuration without overrides).
    OneType,
    /// `prioritized`: the first override, as long as it can be launched.
    Prioritized,
    /// Any other strategy (`lowest-price`, a Spot strategy): the group picks by price and
    /// capacity, so which type comes next is not known.
    ByPrice,
}

impl fmt::Display for LaunchOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LaunchOrder::OneType => "one type",
            LaunchOrder::Prioritized => "prioritized",
            LaunchOrder::ByPrice => "by price",
        })
    }
}

/// One type the group may launch, with its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AllowedType {
    pub info: InstanceTypeInfo,
    /// Capacity units one instance counts for (1 without weights).
    pub weight: u32,
}

/// The group's allowed types, in its order, and how it picks among them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GroupLaunch {
    pub types: Vec<AllowedType>,
    pub order: LaunchOrder,
}
