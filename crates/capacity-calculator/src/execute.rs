//! Step 3: carrying out a decision's steps with the AWS calls, in order
//! ([`capacity_core::run::Execution`]: a mark before the drain it announces, the rest of a
//! chain skipped after its first failure). Each failure is logged; the cached reading is
//! brought up to date with the marks written, or forgotten when a status changed or a call
//! failed (its effect is then not known), so that the next run reads the cluster as it is.

use capacity_aws::attributes::InstanceAttributes;
use capacity_aws::capacity_provider::CapacityProviderOps;
use capacity_aws::{ClusterArn, error_chain};
use capacity_core::run::{Action, Decision, Executed, Execution, StepKind};

use crate::deps::Deps;

pub(crate) async fn execute<C, T, M, G, A, P, L>(
    cluster: &ClusterArn,
    decision: &Decision,
    deps: &Deps<C, T, M, G, A, P, L>,
) -> Executed
where
    A: InstanceAttributes,
    P: CapacityProviderOps,
{
    let name = cluster.name();
    let c = cluster.as_str();
    let mut execution = Execution::new(&decision.steps);
    while let Some(step) = execution.next_step() {
        let result = match &step.action {
            Action::DeleteMarks(marks) => deps.attributes.delete(c, marks).await,
            Action::PutMarks(marks) => deps.attributes.put(c, marks).await,
            Action::SetStatus { arns, status } => {
                deps.capacity_providers.set_status(c, arns, *status).await
            }
            Action::TagCluster { key, value } => deps.attributes.tag_cluster(c, key, value).await,
        };
        match &result {
            Ok(()) => match (&step.kind, &step.action) {
                (StepKind::Reactivate, Action::SetStatus { arns, .. })
                    if decision
                        .acting
                        .as_ref()
                        .is_some_and(|a| !a.changes.given_up.is_empty()) =>
                {
                    tracing::info!(cluster = %name, hosts = ?arns, "hosts this function drained are ACTIVE again (undone or given up)");
                }
                (StepKind::Reactivate, Action::SetStatus { arns, .. }) => {
                    tracing::info!(cluster = %name, hosts = ?arns, "tasks wait: hosts this function drained are ACTIVE again");
                }
                (StepKind::Drain, Action::SetStatus { arns, .. }) => {
                    tracing::info!(cluster = %name, hosts = ?arns, "consolidation: planned hosts set DRAINING");
                }
                _ => {}
            },
            Err(e) => {
                tracing::warn!(cluster = %name, error = %format!("{}: {}", step.what, error_chain(e)), "consolidation call failed");
            }
        }
        execution.record(result.map_err(|e| error_chain(&e)));
    }
    let executed = execution.finish();
    if !executed.failed.is_empty() || decision.changes_status() {
        deps.cache.invalidate();
    } else {
        for step in decision.steps.iter().flat_map(|c| &c.0) {
            match &step.action {
                Action::DeleteMarks(marks) => deps.cache.apply_marks(cluster, marks, &[]),
                Action::PutMarks(marks) => deps.cache.apply_marks(cluster, &[], marks),
                _ => {}
            }
        }
    }
    executed
}
