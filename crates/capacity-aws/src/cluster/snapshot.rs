//! One whole read of a cluster for a report or a computation: [`snapshot`].

use capacity_core::placement::ServicePlacement;
use capacity_core::{ContainerInstance, Demand, TaskShape, WorstCase};
use capacity_core::{HostTask, TaskOwner};

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
    /// Each service's placement rules (its constraints and its task definition's, whether it
    /// spreads by zone, its capacity providers), for the tasks the plan moves.
    pub placement_rules: Vec<ServicePlacement>,
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
    // With the worst case discovered, each service's own task definition is among those
    // described (its `memberOf` constraints bind its tasks when they move); with it configured
    // the tasks are not listed, so only empty and daemon-only hosts, which move nothing, are
    // ever planned, and no constraint is needed.
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
            .flat_map(|m| m.values().flatten().map(|t| t.definition.clone())),
    );
    let shapes = cache.shapes_by_arn(&arns).await?;
    let placement = super::TaskPlacement {
        tasks: by_instance.map(|m| {
            m.into_iter()
                .filter_map(|(instance, listed)| {
                    // A definition without a shape leaves that instance's tasks unknown.
                    let tasks: Option<Vec<HostTask>> = listed
                        .iter()
                        .map(|t| {
                            let shape = shapes.get(&t.definition)?.clone();
                            Some(HostTask {
                                owner: owner(t.group.as_deref(), &services),
                                shape,
                            })
                        })
                        .collect();
                    Some((instance, tasks?))
                })
                .collect()
        }),
        task_counts: read.task_counts,
    };
    let placement_rules = services
        .iter()
        .filter(|s| !s.daemon)
        .map(|s| {
            let member_of = s
                .task_definition
                .as_ref()
                .and_then(|d| shapes.get(d))
                .map(|shape| shape.member_of.clone())
                .unwrap_or_default();
            ServicePlacement::read(
                &s.name,
                &s.placement.constraints,
                &member_of,
                s.placement.spread_by_zone,
                s.placement.capacity_providers.clone(),
            )
        })
        .collect();
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
        placement_rules,
    })
}

/// Who a listed task belongs to, from its DescribeTasks `group`: `service:<name>` is that
/// service's task (a DAEMON service's daemon task); anything else is standalone (RunTask,
/// StartTask). A task with no group is taken for standalone: ECS would not move it.
fn owner(group: Option<&str>, services: &[services::Service]) -> TaskOwner {
    match group.and_then(|g| g.strip_prefix("service:")) {
        Some(name) if services.iter().any(|s| s.name == name && s.daemon) => {
            TaskOwner::Daemon(name.to_owned())
        }
        Some(name) => TaskOwner::Service(name.to_owned()),
        None => TaskOwner::Standalone(group.unwrap_or("(no group)").to_owned()),
    }
}

/// The cluster's name from its name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster
        .rsplit_once(":cluster/")
        .map_or(cluster, |(_, name)| name)
}
