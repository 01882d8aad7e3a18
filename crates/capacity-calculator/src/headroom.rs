//! The task a run counts in (`HEADROOM_TASK`, capacity-core's [`HeadroomTask`]): applied to the
//! run's reading after the read and before the decision, so the headroom and every figure in
//! worst-case tasks (ContainerCapacity, IdleHostCapacity, HostsToAdd's target, the plan's
//! margin) are in that task. Only this run's copy changes: the cache keeps the plain reading,
//! and each run looks for the service's task anew.

use capacity_core::TaskShape;
use capacity_core::consolidation::TaskOwner;
use capacity_core::run::HeadroomTask;

use crate::cache::ClusterView;

/// What a run's figures are counted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CountedIn {
    /// The worst case, as configured or discovered (`HEADROOM_TASK` unset or `worst-case`).
    WorstCase,
    /// `HEADROOM_TASK`'s task (its setting, e.g. `service:web`).
    Task(String),
    /// `HEADROOM_TASK` named a task the reading does not show: the worst case, and why.
    WorstCaseKept { task: String, why: String },
}

impl CountedIn {
    /// The summary's `worst_case_source`: `configured` or `discovered from N task
    /// definition(s)`, `headroom task service:web` when `HEADROOM_TASK` applied, and why not
    /// after the first two when it did not.
    pub(crate) fn source(&self, task_shapes: usize) -> String {
        let worst_case = || {
            if task_shapes == 0 {
                "configured".to_owned()
            } else {
                format!("discovered from {task_shapes} task definition(s)")
            }
        };
        match self {
            CountedIn::WorstCase => worst_case(),
            CountedIn::Task(task) => format!("headroom task {task}"),
            CountedIn::WorstCaseKept { task, why } => {
                format!("{} (headroom task {task} not applied: {why})", worst_case())
            }
        }
    }
}

/// Replaces `view.worst_case` by the unit `task` names. A service is looked for in the reading
/// ([`service_shape`]); when it is not there the worst case is kept and a warning says why
/// (the run goes on: a missing service never stops the metrics).
pub(crate) fn count_in(task: &HeadroomTask, view: &mut ClusterView, cluster: &str) -> CountedIn {
    if *task == HeadroomTask::WorstCase {
        return CountedIn::WorstCase;
    }
    match task.unit(&view.worst_case, |service| service_shape(view, service)) {
        Ok(unit) => {
            view.worst_case = unit;
            CountedIn::Task(task.to_string())
        }
        Err((kept, why)) => {
            tracing::warn!(cluster = %cluster, headroom_task = %task, reason = %why, "the headroom task does not apply: counted in the worst case");
            view.worst_case = kept;
            CountedIn::WorstCaseKept {
                task: task.to_string(),
                why,
            }
        }
    }
}

/// The task of `service` (a name; an ARN is compared by its last path segment) in the reading:
/// one of its listed tasks, else one of its deployments that wait for room. Of two shapes (a
/// deployment under way) the larger, by CPU then memory: the same answer whatever the order.
fn service_shape(view: &ClusterView, service: &str) -> Option<TaskShape> {
    let wanted = service_name(service);
    let listed = view
        .placement
        .tasks
        .iter()
        .flat_map(|by_host| by_host.values().flatten())
        .filter(|task| matches!(&task.owner, TaskOwner::Service(s) if service_name(s) == wanted))
        .map(|task| &task.shape);
    let waiting = view
        .demand
        .unplaced
        .iter()
        .filter(|u| service_name(&u.service) == wanted)
        .map(|u| &u.shape);
    largest(listed).or_else(|| largest(waiting))
}

fn largest<'a>(shapes: impl Iterator<Item = &'a TaskShape>) -> Option<TaskShape> {
    shapes
        .max_by(|a, b| (a.cpu, a.memory_mib, &a.name).cmp(&(b.cpu, b.memory_mib, &b.name)))
        .cloned()
}

/// `arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME` (or a plain name) -> `NAME`.
fn service_name(service: &str) -> &str {
    service.rsplit('/').next().unwrap_or(service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capacity_core::consolidation::HostTask;
    use capacity_core::{Demand, UnplacedTasks, WorstCase};
    use std::collections::HashMap;

    fn view(tasks: Option<Vec<HostTask>>, unplaced: Vec<UnplacedTasks>) -> ClusterView {
        let mut view = ClusterView {
            instances: Vec::new(),
            worst_case: WorstCase::cpu_memory(4096, 8192).unwrap(),
            task_shapes: 2,
            demand: Demand {
                unplaced,
                ..Demand::default()
            },
            placement: Default::default(),
            placement_rules: Vec::new(),
        };
        view.placement.tasks = tasks.map(|t| HashMap::from([("ci-1".to_owned(), t)]));
        view
    }

    fn waiting(service: &str, shape: TaskShape) -> UnplacedTasks {
        UnplacedTasks {
            service: service.to_owned(),
            shape,
            count: 1,
        }
    }

    #[test]
    fn a_services_listed_task_is_found_by_name_the_larger_of_two_revisions() {
        let tasks = vec![
            HostTask::of_service(TaskShape::new("web:1", 512, 1024), "web"),
            HostTask::of_service(TaskShape::new("web:2", 1024, 1024), "web"),
            HostTask::of_service(TaskShape::new("api:1", 2048, 4096), "api"),
            HostTask {
                shape: TaskShape::new("web-job:1", 4096, 8192),
                owner: TaskOwner::Standalone("family:web".into()),
            },
        ];
        let v = view(Some(tasks), vec![]);
        assert_eq!(
            service_shape(&v, "web").map(|s| s.name),
            Some("web:2".into())
        );
        assert_eq!(service_shape(&v, "worker"), None);
    }

    #[test]
    fn a_service_not_listed_is_found_among_the_waiting_deployments_by_arn_or_name() {
        let arn = "arn:aws:ecs:eu-west-1:123456789012:service/prod/web";
        let v = view(None, vec![waiting(arn, TaskShape::new("web:3", 512, 1024))]);
        assert_eq!(
            service_shape(&v, "web").map(|s| s.name),
            Some("web:3".into())
        );
        assert_eq!(service_shape(&v, "eb"), None, "the whole last segment");
    }

    #[test]
    fn the_unit_replaces_the_worst_case_or_the_worst_case_is_kept_with_why() {
        let tasks = vec![HostTask::of_service(
            TaskShape::new("web:1", 512, 1024),
            "web",
        )];
        let mut v = view(Some(tasks), vec![]);
        let web = HeadroomTask::Service("web".into());
        assert_eq!(
            count_in(&web, &mut v, "prod"),
            CountedIn::Task("service:web".into())
        );
        assert_eq!((v.worst_case.cpu, v.worst_case.memory_mib), (512, 1024));
        assert_eq!(
            CountedIn::Task("service:web".into()).source(2),
            "headroom task service:web"
        );

        let mut v = view(Some(vec![]), vec![]);
        let counted = count_in(&HeadroomTask::Service("api".into()), &mut v, "prod");
        assert_eq!((v.worst_case.cpu, v.worst_case.memory_mib), (4096, 8192));
        let source = counted.source(v.task_shapes);
        assert!(
            source.starts_with(
                "discovered from 2 task definition(s) (headroom task service:api not applied: "
            ) && source.contains("no task of service api"),
            "{source}"
        );
        assert_eq!(
            count_in(&HeadroomTask::WorstCase, &mut v, "prod"),
            CountedIn::WorstCase
        );
        assert_eq!(CountedIn::WorstCase.source(0), "configured");
    }
}
