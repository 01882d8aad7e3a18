use thiserror::Error;

/// Everything that can be wrong with the input of the capacity math.
///
/// Every variant names the container instance or the task shape it is about, so that a
/// caller can log it or show it to a person without any more context.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// A resource list lacks a resource the math cannot do without (CPU or MEMORY).
    #[error("container instance {instance}: {side} resources have no {resource}")]
    MissingResource {
        instance: String,
        side: &'static str,
        resource: &'static str,
    },
    /// A resource came with another type than ECS uses for it (e.g. CPU as a string set).
    #[error(
        "container instance {instance}: {side} resource {resource} is {found}, expected {expected}"
    )]
    WrongResourceType {
        instance: String,
        side: &'static str,
        resource: String,
        found: &'static str,
        expected: &'static str,
    },
    /// A number that does not fit the unit (negative, or beyond `u32`), or a port that is not
    /// a port number.
    #[error("container instance {instance}: {side} resource {resource} has invalid value {value}")]
    InvalidResourceValue {
        instance: String,
        side: &'static str,
        resource: String,
        value: String,
    },
    /// ECS never reports more remaining than registered; such input is corrupt.
    #[error(
        "container instance {instance}: remaining {resource} ({remaining}) exceeds registered ({registered})"
    )]
    RemainingAboveRegistered {
        instance: String,
        resource: &'static str,
        remaining: u64,
        registered: u64,
    },
    /// A task shape that reserves neither CPU nor memory would fit infinitely often.
    #[error("task shape {shape}: reserves no CPU and no memory")]
    EmptyTaskShape { shape: String },
    /// ECS requires a memory figure for every container of a task without task-level memory.
    #[error(
        "task shape {shape}: container {container} has neither memory nor memoryReservation and the task sets no memory"
    )]
    ContainerWithoutMemory { shape: String, container: String },
    /// A task-level `cpu`/`memory` string that ECS would not accept either.
    #[error("task shape {shape}: invalid task-level {field} {value:?} (expected {expected})")]
    InvalidTaskSize {
        shape: String,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A port mapping that is not a valid host port or protocol.
    #[error("task shape {shape}: container {container} has an invalid port mapping: {reason}")]
    InvalidPortMapping {
        shape: String,
        container: String,
        reason: String,
    },
    /// The worst case is taken over the task shapes; with none there is nothing to size for.
    #[error("no task shapes: the worst case needs at least one task shape")]
    NoTaskShapes,
    /// A disruption budget is `N` hosts or `N%` of the cluster (1 to 100).
    #[error(
        "disruption budget {0:?}: expected a number of hosts such as \"3\" or a percentage from 1% to 100% such as \"10%\""
    )]
    InvalidDisruptionBudget(String),
    /// The headroom must be at least one task, or scale-out would never trigger.
    #[error("headroom must be at least 1 task, got {0}")]
    InvalidHeadroom(u32),
}
