//! A cluster's services as the scale-out needs them: what waits for room, and what every new
//! host runs before anything else.
//!
//! ECS reports, per service deployment (or task set, for the `CODE_DEPLOY` and `EXTERNAL`
//! deployment controllers), `desiredCount`, `runningCount` and `pendingCount`. Their
//! difference, when above 0, is the number of that deployment's tasks ECS wanted but found no
//! room for: each of that deployment's task definition, not the worst case. A RunTask that
//! failed for want of room leaves nothing behind to count (ECS returns the failure to its
//! caller and keeps no record), so only services' tasks are counted.
//!
//! [`describe`] reads them (ListServices by 100, DescribeServices by 10): the services part of
//! [`EcsReader`](crate::EcsReader)'s [`ClusterReader`](crate::ClusterReader).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ecs::types as ecs;
use capacity_core::{Demand, TaskShape, UnplacedTasks};

use crate::Error;
use crate::batch::{
    DESCRIBE_SERVICES_BATCH, LIST_PAGE_SIZE, Missing, check_answer, in_batches, list_all,
};

/// Every ACTIVE service of `cluster` (name or ARN): ListServices page by page, then
/// DescribeServices per [`DESCRIBE_SERVICES_BATCH`], concurrently with a bound. Fails rather
/// than return a partial list.
pub async fn describe(client: &aws_sdk_ecs::Client, cluster: &str) -> Result<Vec<Service>, Error> {
    const OP: &str = "DescribeServices";
    let pages = client
        .list_services()
        .cluster(cluster)
        .max_results(LIST_PAGE_SIZE)
        .into_paginator()
        .items()
        .send();
    let arns = list_all(pages, |e| Error::aws("ListServices", cluster, e)).await?;
    in_batches(&arns, DESCRIBE_SERVICES_BATCH, |batch| async move {
        let out = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.clone()))
            .send()
            .await
            .map_err(|e| Error::aws(OP, cluster, e))?;
        // A service deleted between the list and the describe is MISSING: it starts no task.
        check_answer(
            OP,
            cluster,
            &batch,
            out.services().iter().filter_map(|s| s.service_arn()),
            out.failures(),
            Missing::IsGone,
        )?;
        let mut services = Vec::new();
        for s in out.services() {
            services.extend(Service::from_sdk(s)?);
        }
        Ok::<_, Error>(services)
    })
    .await
}

/// One deployment (or task set) of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The task definition ARN (a revision).
    pub task_definition: String,
    /// `PRIMARY` for the newest deployment; `ACTIVE` for one still being replaced.
    pub primary: bool,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// Whether its tasks run on the cluster's EC2 container instances: not Fargate (launch
    /// type or a capacity provider strategy of Fargate providers only) and not external.
    pub on_ec2: bool,
}

impl Deployment {
    /// Tasks ECS found no room for: `desired − running − pending`, 0 when not above 0.
    pub fn unplaced(&self) -> u32 {
        self.desired
            .saturating_sub(self.running.saturating_add(self.pending))
    }

    /// Its tasks on the cluster's container instances (running + pending).
    pub fn tasks(&self) -> u64 {
        u64::from(self.running) + u64::from(self.pending)
    }
}

/// An ACTIVE service of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's name (its ARN when ECS gave no name).
    pub name: String,
    /// `schedulingStrategy: DAEMON`: one task on every container instance.
    pub daemon: bool,
    /// The service's own task definition (the primary deployment's, as ECS reports it).
    pub task_definition: Option<String>,
    /// Its deployments that still run or start tasks (not `INACTIVE`).
    pub deployments: Vec<Deployment>,
    /// Where ECS may place its tasks: what binds a task the consolidation plan moves.
    pub placement: PlacementRules,
}

/// A service's placement rules as DescribeServices reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementRules {
    /// `placementConstraints`: each one's `type` and `expression`, as sent.
    pub constraints: Vec<(String, Option<String>)>,
    /// `placementStrategy` has a `spread` on `attribute:ecs.availability-zone` (the console's
    /// "AZ balanced spread" and "AZ balanced binpack").
    pub spread_by_zone: bool,
    /// The capacity providers of its `capacityProviderStrategy`.
    pub capacity_providers: Vec<String>,
}

impl PlacementRules {
    fn from_sdk(s: &ecs::Service) -> PlacementRules {
        PlacementRules {
            constraints: s
                .placement_constraints()
                .iter()
                .map(|c| {
                    (
                        c.r#type().map_or("", |t| t.as_str()).to_owned(),
                        c.expression().map(str::to_owned),
                    )
                })
                .collect(),
            spread_by_zone: s.placement_strategy().iter().any(|p| {
                p.r#type() == Some(&ecs::PlacementStrategyType::Spread)
                    && p.field()
                        .is_some_and(|f| f.eq_ignore_ascii_case("attribute:ecs.availability-zone"))
            }),
            capacity_providers: s
                .capacity_provider_strategy()
                .iter()
                .map(|i| i.capacity_provider().to_owned())
                .collect(),
        }
    }
}

impl Service {
    /// Converts a described service; `None` for a service that is not ACTIVE (DRAINING or
    /// INACTIVE services start no task). Counts are never negative in ECS: a negative one is
    /// an error naming the field, not a 0.
    pub fn from_sdk(s: &ecs::Service) -> Result<Option<Service>, Error> {
        if EcsStatus::of(s.status()) != EcsStatus::Active {
            return Ok(None);
        }
        let name = s
            .service_name()
            .or(s.service_arn())
            .ok_or_else(|| Error::MissingField {
                what: "service",
                id: "(unknown)".to_owned(),
                field: "serviceName",
            })?
            .to_owned();
        let count = |field: &'static str, value: i32| {
            u32::try_from(value).map_err(|_| Error::InvalidField {
                what: "service",
                id: name.clone(),
                field,
                value: value.to_string(),
            })
        };
        let service_on_ec2 = on_ec2(s.launch_type(), s.capacity_provider_strategy());
        let mut deployments = Vec::new();
        for d in s.deployments() {
            let status = EcsStatus::of(d.status());
            if status == EcsStatus::Inactive {
                continue;
            }
            let Some(task_definition) = d.task_definition() else {
                return Err(Error::MissingField {
                    what: "service deployment",
                    id: format!("{name} {}", d.id().unwrap_or("(no id)")),
                    field: "taskDefinition",
                });
            };
            deployments.push(Deployment {
                task_definition: task_definition.to_owned(),
                primary: status == EcsStatus::Primary,
                desired: count("deployments.desiredCount", d.desired_count())?,
                running: count("deployments.runningCount", d.running_count())?,
                pending: count("deployments.pendingCount", d.pending_count())?,
                on_ec2: if d.launch_type().is_some() || !d.capacity_provider_strategy().is_empty() {
                    on_ec2(d.launch_type(), d.capacity_provider_strategy())
                } else {
                    service_on_ec2
                },
            });
        }
        for t in s.task_sets() {
            let status = EcsStatus::of(t.status());
            if matches!(status, EcsStatus::Draining | EcsStatus::Inactive) {
                continue;
            }
            let Some(task_definition) = t.task_definition() else {
                return Err(Error::MissingField {
                    what: "service task set",
                    id: format!("{name} {}", t.id().unwrap_or("(no id)")),
                    field: "taskDefinition",
                });
            };
            deployments.push(Deployment {
                task_definition: task_definition.to_owned(),
                primary: status == EcsStatus::Primary,
                desired: count("taskSets.computedDesiredCount", t.computed_desired_count())?,
                running: count("taskSets.runningCount", t.running_count())?,
                pending: count("taskSets.pendingCount", t.pending_count())?,
                on_ec2: on_ec2(t.launch_type(), t.capacity_provider_strategy()),
            });
        }
        Ok(Some(Service {
            name,
            daemon: s.scheduling_strategy() == Some(&ecs::SchedulingStrategy::Daemon),
            task_definition: s.task_definition().map(str::to_owned),
            deployments,
            placement: PlacementRules::from_sdk(s),
        }))
    }
}

/// The `status` ECS gives a service (`ACTIVE`, `DRAINING`, `INACTIVE`), a deployment
/// (`PRIMARY`, `ACTIVE`, `INACTIVE`) or a task set (`PRIMARY`, `ACTIVE`, `DRAINING`), read once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EcsStatus {
    Primary,
    Active,
    Draining,
    Inactive,
    /// Absent, or a status this code does not know (treated as neither active nor primary).
    Other,
}

impl EcsStatus {
    fn of(status: Option<&str>) -> EcsStatus {
        match status {
            Some("PRIMARY") => EcsStatus::Primary,
            Some("ACTIVE") => EcsStatus::Active,
            Some("DRAINING") => EcsStatus::Draining,
            Some("INACTIVE") => EcsStatus::Inactive,
            _ => EcsStatus::Other,
        }
    }
}

fn on_ec2(
    launch_type: Option<&ecs::LaunchType>,
    strategy: &[ecs::CapacityProviderStrategyItem],
) -> bool {
    match launch_type {
        Some(ecs::LaunchType::Fargate | ecs::LaunchType::External) => false,
        Some(_) => true,
        None => {
            strategy.is_empty()
                || !strategy
                    .iter()
                    .all(|item| item.capacity_provider().starts_with("FARGATE"))
        }
    }
}

/// Every task definition the services use: the worst case must fit each of them.
pub fn task_definitions(services: &[Service]) -> BTreeSet<String> {
    services
        .iter()
        .flat_map(|s| {
            s.task_definition
                .iter()
                .cloned()
                .chain(s.deployments.iter().map(|d| d.task_definition.clone()))
        })
        .collect()
}

/// The task definitions the [`demand`] needs shapes of: deployments on EC2 with tasks
/// waiting, and each DAEMON service's primary deployment.
pub fn demand_task_definitions(services: &[Service]) -> BTreeSet<String> {
    let mut arns = BTreeSet::new();
    for service in services {
        for d in service.deployments.iter().filter(|d| d.on_ec2) {
            if (service.daemon && d.primary) || (!service.daemon && d.unplaced() > 0) {
                arns.insert(d.task_definition.clone());
            }
        }
    }
    arns
}

/// What waits for room, and what each new host runs first, from the services:
///
/// * every REPLICA deployment on EC2 with `desired − running − pending > 0` is that many
///   tasks of its own shape;
/// * every DAEMON service's primary deployment is one task reserved on each new host. Its
///   own unplaced tasks are not counted: a daemon task waits for room on one particular host,
///   and a new host (which starts its own copy) does not give it room there.
///
/// `shapes` maps task definition ARNs to shapes; it must hold every ARN of
/// [`demand_task_definitions`].
pub fn demand(services: &[Service], shapes: &HashMap<String, TaskShape>) -> Result<Demand, Error> {
    let shape = |arn: &str| {
        shapes.get(arn).cloned().ok_or_else(|| Error::MissingField {
            what: "task definition",
            id: arn.to_owned(),
            field: "taskDefinition",
        })
    };
    let mut demand = Demand::default();
    for service in services {
        for d in service.deployments.iter().filter(|d| d.on_ec2) {
            if service.daemon {
                if d.primary {
                    demand.daemons.push(shape(&d.task_definition)?);
                }
            } else if d.unplaced() > 0 {
                demand.unplaced.push(UnplacedTasks {
                    service: service.name.clone(),
                    shape: shape(&d.task_definition)?,
                    count: d.unplaced(),
                });
            }
        }
    }
    Ok(demand)
}

/// The tasks (running + pending) the services have on the cluster's container instances.
pub fn tasks_on_instances(services: &[Service]) -> u64 {
    services
        .iter()
        .flat_map(|s| &s.deployments)
        .filter(|d| d.on_ec2)
        .map(Deployment::tasks)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(td: &str, primary: bool, counts: (i32, i32, i32)) -> ecs::Deployment {
        ecs::Deployment::builder()
            .id(format!("ecs-svc/{td}"))
            .status(if primary { "PRIMARY" } else { "ACTIVE" })
            .task_definition(td)
            .desired_count(counts.0)
            .running_count(counts.1)
            .pending_count(counts.2)
            .build()
    }

    fn service(name: &str, daemon: bool, deployments: Vec<ecs::Deployment>) -> ecs::Service {
        ecs::Service::builder()
            .service_name(name)
            .status("ACTIVE")
            .scheduling_strategy(if daemon {
                ecs::SchedulingStrategy::Daemon
            } else {
                ecs::SchedulingStrategy::Replica
            })
            .set_deployments(Some(deployments))
            .build()
    }

    fn shapes() -> HashMap<String, TaskShape> {
        ["web:1", "web:2", "agent:1"]
            .into_iter()
            .map(|n| (n.to_owned(), TaskShape::new(n, 256, 512)))
            .collect()
    }

    #[test]
    fn each_deployment_counts_its_own_unplaced_tasks_of_its_own_shape() {
        let s = service(
            "web",
            false,
            vec![
                deployment("web:2", true, (4, 1, 1)),
                deployment("web:1", false, (2, 2, 0)),
            ],
        );
        let services = vec![Service::from_sdk(&s).unwrap().unwrap()];
        assert_eq!(
            demand_task_definitions(&services),
            BTreeSet::from(["web:2".to_owned()])
        );
        let demand = demand(&services, &shapes()).unwrap();
        assert_eq!(demand.unplaced.len(), 1);
        assert_eq!(demand.unplaced[0].shape.name, "web:2");
        assert_eq!((demand.unplaced[0].count, demand.unplaced_count()), (2, 2));
        assert_eq!(tasks_on_instances(&services), 4);
    }

    #[test]
    fn a_daemon_is_reserved_not_counted_as_waiting() {
        let s = service("agent", true, vec![deployment("agent:1", true, (5, 3, 0))]);
        let services = vec![Service::from_sdk(&s).unwrap().unwrap()];
        let demand = demand(&services, &shapes()).unwrap();
        assert!(demand.unplaced.is_empty());
        assert_eq!(demand.daemons, vec![TaskShape::new("agent:1", 256, 512)]);
    }

    #[test]
    fn fargate_and_inactive_services_wait_for_no_host() {
        let mut fargate = service("web", false, vec![deployment("web:1", true, (3, 0, 0))]);
        fargate.launch_type = Some(ecs::LaunchType::Fargate);
        let services = vec![Service::from_sdk(&fargate).unwrap().unwrap()];
        assert!(demand(&services, &shapes()).unwrap().unplaced.is_empty());
        assert_eq!(tasks_on_instances(&services), 0);
        let mut draining = service("web", false, vec![deployment("web:1", true, (3, 0, 0))]);
        draining.status = Some("DRAINING".into());
        assert_eq!(Service::from_sdk(&draining).unwrap(), None);
    }

    #[test]
    fn a_negative_count_is_an_error_not_a_zero() {
        let s = service("web", false, vec![deployment("web:1", true, (3, -1, 0))]);
        let err = Service::from_sdk(&s).unwrap_err().to_string();
        assert!(err.contains("runningCount") && err.contains("-1"), "{err}");
    }
}
