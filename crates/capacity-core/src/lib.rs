//! The capacity of an ECS cluster on EC2, in worst-case tasks.
//!
//! A pure library: no AWS SDK, no async runtime, no logging, no I/O. Callers convert what
//! ECS reports into [`ContainerInstance`]s and [`TaskShape`]s, and get back two numbers in
//! one unit, so that every resource votes in one decision:
//!
//! * **ContainerCapacity**: how many more copies of the worst-case task fit. Per instance
//!   the minimum over resources of `floor(remaining / worst)` (static ports: 1 if none is
//!   taken, else 0; ENIs: free slots), summed over ACTIVE instances with a connected agent.
//! * **IdleHostCapacity**: ContainerCapacity divided by H, the most worst-case slots any
//!   single ACTIVE host has when empty: spare capacity in whole hosts.
//!
//! Then [`assess`]: one [`Assessment`] with the decision (scale out below the headroom, scale
//! in only when IdleHostCapacity is strictly above 1), the hosts to add, the IdleHostCapacity
//! to publish and the reason. The programs print it as it is (`serde` feature). Tasks that
//! wait are packed onto the room already free first ([`plan_scale_out`]), and
//! [`plan_scale_in`] plans which hosts can go (consolidation), with the same packer.
//!
//! ```
//! use capacity_core::{cluster_capacity, ContainerInstance, Resources, ScaleDecision,
//!                     ScalePolicy, TaskShape, WorstCase};
//!
//! // The book's first example: a t2.micro (1024 CPU units, 993 MiB) and a 250/400 task.
//! let worst = WorstCase::of(&[TaskShape::new("web:1", 250, 400)])?;
//! let host = |cpu, mem| ContainerInstance::active("i-1", Resources::new(1024, 993), Resources::new(cpu, mem));
//!
//! let empty = cluster_capacity(&[host(1024, 993)], &worst)?;
//! assert_eq!(empty.container_capacity(), 2); // CPU 4, MEMORY 2: memory binds
//! assert_eq!(empty.idle_host_capacity(), 1.0);
//! assert_eq!(empty.assess(&ScalePolicy::default()).decision, ScaleDecision::Hold); // never at 1.0
//!
//! let one_task = cluster_capacity(&[host(774, 593)], &worst)?;
//! assert_eq!(one_task.container_capacity(), 1);
//! assert_eq!(one_task.idle_host_capacity(), 0.5);
//! # Ok::<(), capacity_core::CapacityError>(())
//! ```

mod assessment;
mod capacity;
pub mod consolidation;
mod decision;
pub mod drain;
mod error;
pub mod fit;
mod instance;
pub mod mark;
mod packing;
pub mod placement;
mod resources;
pub mod run;
pub mod scale_in;
pub mod scale_out;
mod task;

pub use assessment::{Assessment, assess};
pub use capacity::{
    ClusterCapacity, Exclusion, HostRoom, HostTemplate, InstanceSlots, Resource, ResourceSlots,
    ResourceTotals, cluster_capacity,
};
pub use consolidation::{
    ClusterHost, DEFAULT_STABILITY_WINDOW, DO_NOT_DISRUPT_ATTRIBUTE, DisruptionBudget, HostTask,
    ScaleInInput, ScaleInPlan, TaskOwner, ZonePolicy, plan_scale_in,
};
pub use decision::{ScaleDecision, ScalePolicy};
pub use error::CapacityError;
pub use instance::{ContainerInstance, EniLimit, InstanceStatus};
pub use resources::{EcsResource, ResourceValue, Resources};
pub use scale_out::{Demand, PlacementFailure, ScaleOutPlan, UnplacedTasks, plan_scale_out};
pub use task::{
    ContainerDefinition, NetworkMode, PortMapping, Protocol, TaskDefinition, TaskShape, WorstCase,
    parse_task_cpu, parse_task_memory,
};
