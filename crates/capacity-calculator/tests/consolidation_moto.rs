//! Consolidation end to end through the real SDK over HTTP, against the moto emulator: the
//! calculator reads the cluster and its Auto Scaling group, publishes `HostsToRemove` and
//! marks the planned container instances; the scale-in chooser, invoked with the request
//! Auto Scaling sends on the scale-in that follows, answers exactly those hosts.
//!
//! moto serves every call made here: ECS (container instances, tasks, PutAttributes,
//! DeleteAttributes, the attributes in DescribeContainerInstances), Auto Scaling
//! (CreateLaunchConfiguration, CreateAutoScalingGroup, AttachInstances,
//! DescribeAutoScalingGroups) and CloudWatch through the harness's CBOR route. moto's
//! DeleteAttributes deletes only when the value matches too (AWS deletes by name): the
//! calculator names the value it read, which is exact on both.

mod moto_world;

use aws_sdk_autoscaling::types::LifecycleState;
use capacity_aws::attributes::EcsAttributes;
use capacity_aws::scale_in::EcsInstanceTasks;
use capacity_aws::{CloudWatchPublisher, EcsReader};
use capacity_calculator::{Config, Deps};
use capacity_core::mark::PLANNED_REMOVAL_ATTRIBUTE;
use capacity_core::scale_in::DrainCost;
use moto_harness::scale_in::termination_request;
use moto_world::{CLUSTER, CLUSTER_ARN, GROUP, World, calculate, scheduled};

/// Three hosts: the first two run 3 tasks each, the third none.
async fn world() -> World {
    moto_world::world(&[3, 3, 0], false).await
}

/// The budget of 2 both tests use.
const BUDGET: &[(&str, &str)] = &[("DISRUPTION_BUDGET", "2")];

trait SelfManagedWorld {
    fn chooser(&self) -> scale_in_chooser::Deps<EcsInstanceTasks>;
    /// The planned-removal mark of each host, as ECS (moto) describes it.
    async fn marks(&self) -> Vec<Option<String>>;
}

impl SelfManagedWorld for World {
    fn chooser(&self) -> scale_in_chooser::Deps<EcsInstanceTasks> {
        scale_in_chooser::Deps::new(
            EcsInstanceTasks::new(self.ecs.clone()),
            scale_in_chooser::Config::from_lookup(|k| {
                (k == "ECS_CLUSTER").then(|| CLUSTER.to_owned())
            })
            .expect("chooser config"),
        )
    }

    async fn marks(&self) -> Vec<Option<String>> {
        let hosts = self.hosts_with(PLANNED_REMOVAL_ATTRIBUTE).await;
        hosts.into_iter().map(|(_, mark)| mark).collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_half_empty_hosts_and_an_empty_one_remove_two_and_the_chooser_answers_those_two() {
    let w = world().await;
    let (half_a, half_b, empty) = (&w.hosts[0], &w.hosts[1], &w.hosts[2]);
    // Auto Scaling's scale-in by 2 suggests all three. Before any plan the chooser takes the
    // empty host, then the first suggested of the two equally busy ones.
    let request = |first: &str, second: &str| {
        termination_request(&[first.to_owned(), second.to_owned(), empty.1.clone()], 2)
    };
    for (first, second) in [(&half_a.1, &half_b.1), (&half_b.1, &half_a.1)] {
        let unplanned = scale_in_chooser::handle(request(first, second), &w.chooser())
            .await
            .expect("answers");
        assert_eq!(
            unplanned.response.instance_ids,
            [empty.1.clone(), first.clone()]
        );
    }

    let summary = calculate(scheduled(), &w.calculator(BUDGET)).await;
    // The empty host first, then one half-empty host whose 3 tasks fit on the other with
    // the headroom and the plan's margin of one slot each left (3 + 3 of 8); the other must
    // stay. Which of the two equals goes is the plan's tie order (moto's random ids).
    let ids = summary.scale_in_plan.ids();
    assert_eq!(ids.len(), 2, "{}", summary.scale_in_plan);
    assert_eq!(ids[0], empty.0, "{}", summary.scale_in_plan);
    let (planned, kept) = if ids[1] == half_a.0 {
        (half_a, half_b)
    } else {
        (half_b, half_a)
    };
    assert_eq!(ids[1], planned.0, "{}", summary.scale_in_plan);
    assert_eq!(summary.hosts_to_remove, Some(2));
    assert_eq!(w.published("HostsToRemove"), vec![2.0]);
    let group = summary.group.as_ref().expect("the group was read");
    assert_eq!((group.min_size, group.desired_capacity), (0, 3));
    let marks = w.marks().await;
    let mark_of = |host: &(String, String)| {
        let i = w.hosts.iter().position(|h| h == host).expect("a host");
        marks[i].clone()
    };
    assert!(
        mark_of(empty).is_some_and(|m| m.starts_with("1/"))
            && mark_of(planned).is_some_and(|m| m.starts_with("2/"))
            && mark_of(kept).is_none(),
        "{marks:?}"
    );

    // With the marks the chooser answers the plan, even with the kept host suggested first
    // (which it would take without them).
    let outcome = scale_in_chooser::handle(request(&kept.1, &planned.1), &w.chooser())
        .await
        .expect("answers");
    assert_eq!(
        outcome.response.instance_ids,
        [empty.1.clone(), planned.1.clone()]
    );
    assert_eq!(
        outcome
            .choice
            .chosen
            .iter()
            .map(|c| c.cost)
            .collect::<Vec<_>>(),
        [DrainCost::Planned(1), DrainCost::Planned(2)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosts_the_group_is_terminating_are_not_removed_twice_and_lose_their_marks_when_replanned()
 {
    let w = world().await;
    let deps = w.calculator(BUDGET);
    calculate(scheduled(), &deps).await;
    // The step policy removed 2: the group terminates the planned hosts, which the lifecycle
    // hook holds in Terminating:Wait before the drainer sets them DRAINING. moto cannot put
    // hold an instance in that state, so the group's answer is edited here: DescribeAutoScaling-
    // Groups through the SDK still parses it.
    let group = w
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(GROUP)
        .send()
        .await
        .expect("describe");
    let sdk_group = group.auto_scaling_groups()[0].clone();
    let mut read = capacity_aws::group::convert(GROUP, &sdk_group).expect("group");
    read.desired_capacity = 1;
    for i in &mut read.instances {
        if i.instance_id != w.hosts[1].1 {
            i.lifecycle_state = LifecycleState::TerminatingWait.as_str().to_owned();
        }
    }
    let fake = capacity_aws::fake::FakeGroup {
        group: Some(read),
        ..capacity_aws::fake::FakeGroup::default()
    };
    let reader = EcsReader::new(w.ecs.clone());
    let config = Config::from_lookup(capacity_aws::config::from_pairs(&[
        ("ECS_CLUSTER", CLUSTER_ARN),
        ("AUTO_SCALING_GROUP_NAME", GROUP),
        ("CONSOLIDATION_STABILITY_SECONDS", "0"),
        ("DISRUPTION_BUDGET", "2"),
        ("CLUSTER_REFRESH_SECONDS", "0"),
    ]))
    .expect("config");
    let again = Deps::new(
        reader.clone(),
        reader,
        CloudWatchPublisher::new(aws_sdk_cloudwatch::Client::new(&w.sdk)),
        config,
    )
    .with_group(fake, EcsAttributes::new(w.ecs.clone()));
    let summary = calculate(scheduled(), &again).await;
    assert_eq!(
        summary.scale_in_plan.draining, 2,
        "{}",
        summary.scale_in_plan
    );
    assert_eq!(
        summary.hosts_to_remove,
        Some(0),
        "the same hosts' worth never twice"
    );
    assert_eq!(w.published("HostsToRemove"), vec![2.0, 0.0]);
    assert_eq!(
        w.marks().await,
        [None, None, None],
        "unmarked by the value read"
    );
}
