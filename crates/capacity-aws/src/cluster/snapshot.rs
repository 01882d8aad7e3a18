//! One whole read of a cluster for a report or a computation: [`snapshot`].

use capacity_core::run::assess_reading;
use capacity_core::{
    Assessment, CapacityError, ContainerInstance, Demand, ScalePolicy, TaskShape, WorstCase,
};

use super::ClusterReader;
use crate::Error;
use crate::services;
use crate::task_definitions::{TaskDefinitionReader, TaskShapeCache};

/// What a report needs of a cluster, read in one go.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSnapshot {
    pub cluster_name: String,
    pub instances: Vec<ContainerInstance>,
    /// The shapes discovered from the cluster (empty when a worst case was given).
    pub task_shapes: Vec<TaskShape>,
    pub worst_case: WorstCase,
    /// What waits for room and what every new host runs first, from the services.
    pub demand: Demand,
    /// ACTIVE services read.
    pub services: usize,
    /// ECS's `version` of each instance (by ARN) as described, where ECS gave one.
    pub versions: std::collections::HashMap<String, i64>,
    /// Which tasks run where, for the consolidation plan (`capacity_core::run::cluster_hosts`).
    pub placement: super::TaskPlacement,
    /// Whether the running tasks were listed (worst case discovered, and the services did not
    /// account for every task on the instances or the last listing is too old).
    pub tasks_listed: bool,
}

/// Reads `cluster` in one go: its container instances and its services (always, for the
/// [`Demand`]), concurrently; then, unless a worst case is `given`, the task definitions in
/// use — the services' deployments', and the running tasks' when the services do not account
/// for every task on the instances (see the module documentation). Shapes go through `cache`.
/// Any failed call fails the whole read.
pub async fn snapshot<C, T>(
    reader: &C,
    cache: &TaskShapeCache<T>,
    cluster: &str,
    given: Option<WorstCase>,
) -> Result<ClusterSnapshot, Error>
where
    C: ClusterReader,
    T: TaskDefinitionReader,
{
    let (read, services) = futures::try_join!(
        reader.container_instances(cluster),
        reader.services(cluster)
    )?;
    let mut arns = services::demand_task_definitions(&services);
    let mut tasks_listed = false;
    let discovered = match given {
        Some(_) => None,
        None => {
            let mut in_use = services::task_definitions(&services);
            // When the services account for every task on the instances, the shapes of the
            // last listing (at most TASK_LISTING_MAX_AGE old) stand in for a new one: a
            // standalone task that started while a service task stopped leaves the counts
            // equal, and is in the listing at the latest that much later. Never a read that
            // has not listed the tasks once.
            let recent = if read.tasks == Some(services::tasks_on_instances(&services)) {
                reader.recent_task_definitions(cluster, super::TASK_LISTING_MAX_AGE)
            } else {
                None
            };
            match recent {
                Some(listed) => in_use.extend(listed),
                None => {
                    tasks_listed = true;
                    in_use.extend(reader.running_task_definitions(cluster).await?);
                }
            }
            if in_use.is_empty() {
                return Err(Error::NoTaskDefinitions {
                    cluster: cluster.to_owned(),
                });
            }
            arns.extend(in_use.iter().cloned());
            Some(in_use)
        }
    };
    // Which tasks run on which instance, from the same (fresh enough) listing.
    let by_instance = if given.is_none() {
        reader.recent_tasks_by_instance(cluster, super::TASK_LISTING_MAX_AGE)
    } else {
        None
    };
    arns.extend(
        by_instance
            .iter()
            .flat_map(|m| m.values().flatten().cloned()),
    );
    let shapes = cache.shapes_by_arn(&arns).await?;
    let placement = super::TaskPlacement {
        shapes: by_instance.map(|m| {
            m.into_iter()
                .filter_map(|(instance, definitions)| {
                    // A definition without a shape leaves that instance's tasks unknown.
                    let tasks: Option<Vec<TaskShape>> =
                        definitions.iter().map(|d| shapes.get(d).cloned()).collect();
                    Some((instance, tasks?))
                })
                .collect()
        }),
        task_counts: read.task_counts,
        do_not_disrupt: read.do_not_disrupt,
        marks: read.marks,
    };
    let demand = services::demand(&services, &shapes)?;
    let (worst_case, task_shapes) = match (given, discovered) {
        (Some(worst), _) => (worst, Vec::new()),
        (None, in_use) => {
            let task_shapes: Vec<TaskShape> = in_use
                .iter()
                .flatten()
                .filter_map(|a| shapes.get(a).cloned())
                .collect();
            (WorstCase::of(&task_shapes)?, task_shapes)
        }
    };
    Ok(ClusterSnapshot {
        cluster_name: cluster_name(cluster).to_owned(),
        instances: read.instances,
        versions: read.versions,
        placement,
        task_shapes,
        worst_case,
        demand,
        services: services.len(),
        tasks_listed,
    })
}

/// The cluster's name from its name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster
        .rsplit_once(":cluster/")
        .map_or(cluster, |(_, name)| name)
}

impl ClusterSnapshot {
    /// `capacity_core::run::assess_reading` of this snapshot: the one assessment the
    /// calculator publishes and the report prints.
    pub fn assess(&self, policy: &ScalePolicy) -> Result<Assessment, CapacityError> {
        assess_reading(&self.instances, &self.worst_case, &self.demand, policy)
    }
}
