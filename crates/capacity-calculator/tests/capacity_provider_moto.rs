//! Capacity-provider mode end to end through the real SDK over HTTP, against the moto
//! emulator: the calculator checks that the cluster's capacity provider has managed scaling
//! and managed termination protection, sets the planned host DRAINING itself (marked
//! `ecs-capacity.drained-by`), never a host marked do-not-disrupt, and sets it ACTIVE again
//! when a placement failure says tasks wait.
//!
//! moto serves every call made here: ECS (CreateCapacityProvider, PutClusterCapacityProviders,
//! DescribeClusters with the cluster's capacity providers, DescribeCapacityProviders,
//! UpdateContainerInstancesState, PutAttributes, DeleteAttributes), Auto Scaling and
//! CloudWatch. moto does not move the tasks of a DRAINING host, nor remove an empty one (ECS
//! and managed scaling do that): the tests check what the calculator asks of ECS.

mod moto_world;

use aws_sdk_ecs::types::{Attribute, ContainerInstanceStatus};
use capacity_core::consolidation::{DO_NOT_DISRUPT_ATTRIBUTE, Unconsolidatable};
use capacity_core::mark::DRAINED_BY_ATTRIBUTE;
use moto_harness::logs::LogLines;
use moto_world::{CLUSTER, CLUSTER_ARN, MotoDeps, World, calculate, scheduled};
use serde_json::{Value, json};

const PROVIDER: &str = "prod-hosts-provider";

/// "ECS Service Action" SERVICE_TASK_PLACEMENT_FAILURE for service `web` of the cluster.
fn placement_failure() -> Value {
    json!({
        "version": "0", "id": "2", "detail-type": "ECS Service Action", "source": "aws.ecs",
        "account": "123456789012", "time": "2027-01-15T08:05:00Z", "region": "us-east-1",
        "resources": ["arn:aws:ecs:us-east-1:123456789012:service/prod/web"],
        "detail": {
            "eventType": "ERROR",
            "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
            "clusterArn": CLUSTER_ARN,
            "reason": "RESOURCE:MEMORY",
            "createdAt": "2027-01-15T08:05:00.000Z"
        }
    })
}

/// Two hosts running 3 tasks each (3 + 3 of 8 slots: one can go), in the group behind the
/// cluster's capacity provider (managed termination protection as given, managed scaling on).
async fn cp_world(termination_protection: bool) -> World {
    let w = moto_world::world(&[3, 3], true).await;
    w.with_capacity_provider(PROVIDER, termination_protection)
        .await;
    w
}

trait CapacityProviderWorld {
    fn cp_calculator(&self) -> MotoDeps;
    /// Each host's status and drained-by mark, as ECS (moto) describes them.
    async fn hosts(&self) -> Vec<(String, Option<String>)>;
    async fn put_attribute(&self, host: usize, name: &str, value: &str);
}

impl CapacityProviderWorld for World {
    fn cp_calculator(&self) -> MotoDeps {
        self.calculator(&[("SCALING_MODE", "capacity-provider")])
    }

    /// Each host's status and drained-by mark, as ECS (moto) describes them.
    async fn hosts(&self) -> Vec<(String, Option<String>)> {
        self.hosts_with(DRAINED_BY_ATTRIBUTE).await
    }

    async fn put_attribute(&self, host: usize, name: &str, value: &str) {
        self.ecs
            .put_attributes()
            .cluster(CLUSTER)
            .attributes(
                Attribute::builder()
                    .name(name)
                    .value(value)
                    .target_id(&self.hosts[host].0)
                    .build()
                    .expect("attribute"),
            )
            .send()
            .await
            .expect("put the attribute");
    }
}

fn statuses(hosts: &[(String, Option<String>)]) -> Vec<&str> {
    let mut s: Vec<&str> = hosts.iter().map(|(status, _)| status.as_str()).collect();
    s.sort_unstable();
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_half_used_hosts_one_is_drained_and_the_other_untouched() {
    let w = cp_world(true).await;
    let deps = w.cp_calculator();
    let summary = calculate(scheduled(), &deps).await;
    let acting = summary
        .acting
        .as_ref()
        .expect("capacity-provider mode acts");
    assert_eq!(acting.capacity_provider.as_deref(), Some(PROVIDER));
    assert_eq!(acting.refused, None);
    assert_eq!(acting.drained, 1, "{}", summary.scale_in_plan);
    let hosts = w.hosts().await;
    assert_eq!(statuses(&hosts), ["ACTIVE", "DRAINING"], "{hosts:?}");
    for (status, mark) in &hosts {
        assert_eq!(
            mark.is_some(),
            status == "DRAINING",
            "only the host it drained carries the mark: {hosts:?}"
        );
    }
    assert_eq!(w.published("HostsDrained"), [1.0]);
    assert_eq!(w.published("ConsolidationRefused"), [0.0]);
    // No scaling policy of ours: HostsToRemove is published for the dashboard only.
    assert_eq!(summary.hosts_to_remove, Some(1));

    // The same event again (Lambda's retry): the DRAINING host counts against the budget of
    // 1 (10 % of 2, rounded up); nothing more is drained.
    let again = calculate(scheduled(), &deps).await;
    assert_eq!(again.acting.as_ref().map(|a| a.drained), Some(0));
    assert_eq!(again.scale_in_plan.draining, 1);
    assert_eq!(statuses(&w.hosts().await), ["ACTIVE", "DRAINING"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_marked_do_not_disrupt_is_never_drained() {
    let w = cp_world(true).await;
    w.put_attribute(0, DO_NOT_DISRUPT_ATTRIBUTE, "true").await;
    let summary = calculate(scheduled(), &w.cp_calculator()).await;
    assert_eq!(
        summary.scale_in_plan.why_kept(&w.hosts[0].0),
        Some(&Unconsolidatable::DoNotDisrupt)
    );
    let hosts = w.hosts().await;
    assert_eq!(hosts[0], ("ACTIVE".to_owned(), None), "{hosts:?}");
    assert_eq!(hosts[1].0, "DRAINING", "the other one goes instead");

    // Both marked: nothing is drained.
    let w = cp_world(true).await;
    w.put_attribute(0, DO_NOT_DISRUPT_ATTRIBUTE, "true").await;
    w.put_attribute(1, DO_NOT_DISRUPT_ATTRIBUTE, "").await;
    let summary = calculate(scheduled(), &w.cp_calculator()).await;
    assert_eq!(summary.acting.as_ref().map(|a| a.drained), Some(0));
    assert_eq!(statuses(&w.hosts().await), ["ACTIVE", "ACTIVE"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placement_failure_while_a_drained_host_still_runs_sets_it_active_again() {
    let w = cp_world(true).await;
    let deps = w.cp_calculator();
    calculate(scheduled(), &deps).await;
    let hosts = w.hosts().await;
    let ours = hosts
        .iter()
        .position(|(s, _)| s == "DRAINING")
        .expect("one drained");
    let theirs = 1 - ours;
    // An operator drains the other host by hand: not this function's to undo.
    w.ecs
        .update_container_instances_state()
        .cluster(CLUSTER)
        .container_instances(&w.hosts[theirs].0)
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("drain by hand");

    let summary = calculate(placement_failure(), &deps).await;
    let acting = summary.acting.as_ref().expect("acts");
    assert_eq!(acting.changes.reactivate, [w.hosts[ours].0.clone()]);
    assert_eq!(
        acting.changes.drained_by_others,
        [w.hosts[theirs].0.clone()]
    );
    assert_eq!((acting.reactivated, acting.drained), (1, 0));
    let hosts = w.hosts().await;
    assert_eq!(hosts[ours], ("ACTIVE".to_owned(), None), "{hosts:?}");
    assert_eq!(hosts[theirs], ("DRAINING".to_owned(), None), "{hosts:?}");
    assert_eq!(w.published("HostsReactivated"), [0.0, 1.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_managed_termination_protection_nothing_is_drained_and_the_reason_is_logged() {
    let lines = LogLines::capture();

    let w = cp_world(false).await;
    let summary = calculate(scheduled(), &w.cp_calculator()).await;
    let acting = summary.acting.as_ref().expect("acts");
    assert_eq!(acting.capacity_provider, None);
    let why = acting.refused.as_deref().unwrap_or_default();
    assert!(
        why.contains(PROVIDER) && why.contains("managed termination protection"),
        "{why}"
    );
    assert_eq!(acting.drained, 0);
    assert!(
        summary.scale_in_plan.hosts_to_remove() >= 1,
        "the plan would remove one: {}",
        summary.scale_in_plan
    );
    assert_eq!(statuses(&w.hosts().await), ["ACTIVE", "ACTIVE"]);
    assert_eq!(w.published("ConsolidationRefused"), [1.0]);
    assert_eq!(w.published("HostsDrained"), [0.0]);

    let logged = lines.json();
    let refusal = logged
        .iter()
        .find(|l| l["fields"]["message"] == "consolidation refused: nothing is drained")
        .unwrap_or_else(|| panic!("no refusal logged: {logged:?}"));
    assert_eq!(refusal["level"], "WARN");
    assert!(
        refusal["fields"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("managed termination protection")),
        "{refusal}"
    );
}
