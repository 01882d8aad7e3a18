//! Consolidation on a cluster shaped as production is, end to end through the real SDK against
//! moto, in both scaling modes: an Auto Scaling group over three Availability Zones, a DAEMON
//! service on every host, a service spread across the zones, a service of one task per host
//! and a standalone job (issue 26, "Done when"). The calculator may remove or drain only hosts
//! whose tasks ECS moves, and never leaves a zone without a host.
//!
//! The world (hosts of 4096 CPU units / 8192 MiB, every one running its `log-agent` task):
//!
//! | host | zone       | tasks beside `log-agent`        |
//! |------|------------|---------------------------------|
//! | a1   | us-east-1a | `web`, `cache`                  |
//! | a2   | us-east-1a | `web`, the standalone job       |
//! | b1   | us-east-1b | `web` ×2                        |
//! | b2   | us-east-1b | —                               |
//! | c1   | us-east-1c | `cache`                         |
//!
//! * a1 is partly used and runs service tasks only: its `web` task stays in us-east-1a (the
//!   service spreads by zone), so it goes onto a2, as does its `cache` task (a2 runs none):
//!   a1 is planned in both modes.
//! * a2 is nearly empty but runs a standalone task (`nightly-report`, started by StartTask),
//!   which ECS does not move off a DRAINING host: never planned, and the plan says so. Its room
//!   takes a1's tasks.
//! * b2 runs only its daemon task: empty. Self-managed mode removes it (its `log-agent` is
//!   not a task to move); capacity-provider mode leaves it to managed scaling and moves
//!   nothing onto it, so b1's `web` tasks, bound to us-east-1b, have nowhere to go.
//! * c1 is its zone's only host: kept, although its `cache` task would fit on b1.
//!
//! What moto does differently from AWS, and how the world makes up for it: moto starts no
//! task for a service (the tasks are started here with StartTask and the group ECS's scheduler
//! gives them, `service:<name>`; the harness sets the services' deployment counts); its
//! CreateService drops `placementConstraints` and `placementStrategy`, which its UpdateService
//! stores (so both are set with UpdateService after CreateService, and checked as
//! DescribeServices reports them); it moves no task off a DRAINING host and removes no
//! instance, so the tests check what the calculator asks of ECS and Auto Scaling.
//!
//! With the job alone on a2 (beside its daemon task) a2 is not empty as managed scaling
//! counts it: capacity-provider mode moves a1's tasks onto it (this failed before
//! `ClusterHost::runs_only_daemons`: a host running a standalone task was taken for empty and
//! its room closed).

mod moto_world;

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{PlacementConstraint, PlacementStrategy};
use capacity_aws::scale_in::EcsInstanceTasks;
use capacity_core::ScaleInPlan;
use capacity_core::consolidation::{Removal, Unconsolidatable};
use capacity_core::mark::{DRAINED_BY_ATTRIBUTE, PLANNED_REMOVAL_ATTRIBUTE};
use capacity_core::placement::ZONE_ATTRIBUTE;
use moto_harness::MotoServer;
use moto_harness::ecs::{container, register_task_definition, start_service_task, start_task};
use moto_harness::scale_in::termination_request_in;
use moto_world::{CLUSTER, World, calculate, group_in_zones, scheduled};
use serde_json::json;

const ZONE_A: &str = "us-east-1a";
const ZONE_B: &str = "us-east-1b";
const ZONE_C: &str = "us-east-1c";

/// What runs on a host beside its `log-agent` task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    /// A task of `web` (512 / 1024), which spreads by zone.
    Web,
    /// A task of `cache` (1024 / 2048), one per host (`distinctInstance`).
    Cache,
    /// The standalone `nightly-report` (256 / 512), started by StartTask.
    Job,
}

impl Task {
    /// Its `group`, as DescribeTasks reports it.
    fn group(self) -> &'static str {
        match self {
            Task::Web => "service:web",
            Task::Cache => "service:cache",
            Task::Job => JOB_GROUP,
        }
    }
}

/// Indices into [`LAYOUT`] and `World::hosts`.
const A1: usize = 0;
const A2: usize = 1;
const B1: usize = 2;
const B2: usize = 3;
const C1: usize = 4;

/// The hosts in the group's order: zone and tasks beside `log-agent` (see the module).
type Layout = [(&'static str, &'static [Task]); 5];

const LAYOUT: Layout = [
    (ZONE_A, &[Task::Web, Task::Cache]),
    (ZONE_A, &[Task::Web, Task::Job]),
    (ZONE_B, &[Task::Web, Task::Web]),
    (ZONE_B, &[]),
    (ZONE_C, &[Task::Cache]),
];

/// [`LAYOUT`] with the job alone on a2 (beside its daemon task).
const JOB_ALONE: Layout = [
    (ZONE_A, &[Task::Web, Task::Cache]),
    (ZONE_A, &[Task::Job]),
    (ZONE_B, &[Task::Web, Task::Web]),
    (ZONE_B, &[]),
    (ZONE_C, &[Task::Cache]),
];

const JOB_GROUP: &str = "family:nightly-report";

/// A budget above the two hosts that can go, so that the zones, not the budget, end the plan.
const BUDGET: &[(&str, &str)] = &[("DISRUPTION_BUDGET", "3")];

const PROVIDER: &str = "prod-hosts-provider";

/// Capacity-provider mode, with the same budget.
const CAPACITY_PROVIDER: &[(&str, &str)] = &[
    ("SCALING_MODE", "capacity-provider"),
    ("DISRUPTION_BUDGET", "3"),
];

/// The world of the module with the hosts of `layout`; `protected`: the group's new instances
/// protected from scale in (as managed termination protection wants).
async fn zoned_world(layout: &Layout, protected: bool) -> (World, Arns) {
    let moto = MotoServer::start();
    let sdk = moto.sdk_config().await;
    let ecs = moto.ecs_cluster(CLUSTER).await;
    // Tasks stay RUNNING however often they are described (moto moves them on by default).
    moto.post(
        "/_harness/state-transition",
        &json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}),
    );
    let hosts: Vec<(String, String)> = layout
        .iter()
        .flat_map(|(zone, _)| moto.add_hosts_in(CLUSTER, zone, 1, 4096, 8192))
        .collect();
    let arns = Arns {
        log_agent: register_task_definition(
            &ecs,
            "log-agent",
            container("log-agent", Some(128), 256).build(),
        )
        .await,
        web: register_task_definition(&ecs, "web", container("web", Some(512), 1024).build()).await,
        cache: register_task_definition(
            &ecs,
            "cache",
            container("cache", Some(1024), 2048).build(),
        )
        .await,
        job: register_task_definition(
            &ecs,
            "nightly-report",
            container("nightly-report", Some(256), 512).build(),
        )
        .await,
    };
    let count = |task: Task| {
        let n = layout
            .iter()
            .flat_map(|(_, t)| *t)
            .filter(|t| **t == task)
            .count();
        u32::try_from(n).expect("a few tasks")
    };
    moto.service(&ecs, CLUSTER, "log-agent", &arns.log_agent, 5, true)
        .await;
    moto.service(&ecs, CLUSTER, "web", &arns.web, count(Task::Web), false)
        .await;
    moto.service(
        &ecs,
        CLUSTER,
        "cache",
        &arns.cache,
        count(Task::Cache),
        false,
    )
    .await;
    // moto's CreateService drops placementStrategy and placementConstraints; its UpdateService
    // stores them (as AWS's UpdateService sets them on a running service).
    ecs.update_service()
        .cluster(CLUSTER)
        .service("web")
        .placement_strategy(
            PlacementStrategy::builder()
                .r#type(aws_sdk_ecs::types::PlacementStrategyType::Spread)
                .field("attribute:ecs.availability-zone")
                .build(),
        )
        .send()
        .await
        .expect("web spreads by zone");
    ecs.update_service()
        .cluster(CLUSTER)
        .service("cache")
        .placement_constraints(
            PlacementConstraint::builder()
                .r#type(aws_sdk_ecs::types::PlacementConstraintType::DistinctInstance)
                .build(),
        )
        .send()
        .await
        .expect("one cache task per host");
    for ((arn, _), (_, tasks)) in hosts.iter().zip(layout) {
        start_service_task(&ecs, CLUSTER, &arns.log_agent, arn, "log-agent").await;
        for task in *tasks {
            match task {
                Task::Web => {
                    start_service_task(&ecs, CLUSTER, &arns.web, arn, "web").await;
                }
                Task::Cache => {
                    start_service_task(&ecs, CLUSTER, &arns.cache, arn, "cache").await;
                }
                // No group given: ECS (and moto) give it `family:nightly-report`.
                Task::Job => {
                    start_task(&ecs, CLUSTER, &arns.job, arn).await;
                }
            }
        }
    }
    let ec2: Vec<String> = hosts.iter().map(|(_, ec2)| ec2.clone()).collect();
    let (asg, group_arn) = group_in_zones(&sdk, &ec2, &[ZONE_A, ZONE_B, ZONE_C], protected).await;
    let w = World {
        moto,
        sdk,
        ecs,
        asg,
        group_arn,
        hosts,
    };
    w.check_world(layout).await;
    (w, arns)
}

/// The task definitions' ARNs (the names of the plan's task shapes).
struct Arns {
    log_agent: String,
    web: String,
    cache: String,
    job: String,
}

trait ZonedWorld {
    /// The world is as the module says, as ECS and Auto Scaling (moto) report it: each host in
    /// its zone, the placement rules as DescribeServices returns them, the job standalone.
    async fn check_world(&self, layout: &Layout);
    /// The container instance ARN of each host, by index.
    fn arn(&self, host: usize) -> &str;
    /// Per zone, the hosts that stay: neither DRAINING nor carrying `mark`.
    async fn hosts_staying_per_zone(&self, mark: &str) -> BTreeMap<String, usize>;
    fn chooser(&self) -> scale_in_chooser::Deps<EcsInstanceTasks>;
}

impl ZonedWorld for World {
    async fn check_world(&self, layout: &Layout) {
        let zones: Vec<Option<String>> = self
            .hosts_with(ZONE_ATTRIBUTE)
            .await
            .into_iter()
            .map(|(_, zone)| zone)
            .collect();
        let wanted: Vec<Option<String>> = layout
            .iter()
            .map(|(zone, _)| Some((*zone).to_owned()))
            .collect();
        assert_eq!(zones, wanted, "ECS's ecs.availability-zone attribute");
        let group = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(moto_world::GROUP)
            .send()
            .await
            .expect("describe the group");
        let group = &group.auto_scaling_groups()[0];
        assert_eq!(group.availability_zones(), [ZONE_A, ZONE_B, ZONE_C]);
        for ((_, ec2), (zone, _)) in self.hosts.iter().zip(layout) {
            let member = group
                .instances()
                .iter()
                .find(|i| i.instance_id() == Some(ec2))
                .expect("every host in the group");
            assert_eq!(member.availability_zone(), Some(*zone), "{ec2}");
        }

        let services = self
            .ecs
            .describe_services()
            .cluster(CLUSTER)
            .services("log-agent")
            .services("web")
            .services("cache")
            .send()
            .await
            .expect("describe services");
        let service = |name: &str| {
            services
                .services()
                .iter()
                .find(|s| s.service_name() == Some(name))
                .expect("described")
        };
        assert_eq!(
            service("log-agent").scheduling_strategy(),
            Some(&aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        );
        assert_eq!(
            service("web")
                .placement_strategy()
                .iter()
                .map(|p| (p.r#type().map(|t| t.as_str()), p.field()))
                .collect::<Vec<_>>(),
            [(Some("spread"), Some("attribute:ecs.availability-zone"))],
            "moto keeps the strategy UpdateService set"
        );
        assert_eq!(
            service("cache")
                .placement_constraints()
                .iter()
                .map(|c| c.r#type().map(|t| t.as_str()))
                .collect::<Vec<_>>(),
            [Some("distinctInstance")],
            "moto keeps the constraint UpdateService set"
        );
        // Each task's group as DescribeTasks says it: StartTask without a group gives the job
        // its family's, as in AWS.
        for (i, (_, tasks)) in layout.iter().enumerate() {
            let mut groups: Vec<&str> = tasks.iter().map(|t| t.group()).collect();
            groups.push("service:log-agent");
            groups.sort_unstable();
            assert_eq!(self.task_groups_on(self.arn(i)).await, groups, "host {i}");
        }
    }

    fn arn(&self, host: usize) -> &str {
        &self.hosts[host].0
    }

    async fn hosts_staying_per_zone(&self, mark: &str) -> BTreeMap<String, usize> {
        let zones = self.hosts_with(ZONE_ATTRIBUTE).await;
        let marks = self.hosts_with(mark).await;
        let mut staying: BTreeMap<String, usize> = BTreeMap::new();
        for ((_, zone), (status, mark)) in zones.into_iter().zip(marks) {
            let n = staying
                .entry(zone.expect("every host has a zone"))
                .or_default();
            if status == "ACTIVE" && mark.is_none() {
                *n += 1;
            }
        }
        staying
    }

    fn chooser(&self) -> scale_in_chooser::Deps<EcsInstanceTasks> {
        scale_in_chooser::Deps::new(
            EcsInstanceTasks::new(self.ecs.clone()),
            scale_in_chooser::Config::from_lookup(|k| {
                (k == "ECS_CLUSTER").then(|| CLUSTER.to_owned())
            })
            .expect("chooser config"),
        )
    }
}

/// Whether `why` is "a `web` task of the host fits on no host that stays".
fn web_does_not_fit(why: Option<&Unconsolidatable>, web: &str) -> bool {
    matches!(why, Some(Unconsolidatable::TasksDoNotFit { shape, .. }) if shape == web)
}

/// a1's web and cache tasks move onto a2 (the web task within its zone, us-east-1a), and a2,
/// which runs the standalone job, is kept for it.
fn a1s_tasks_move_beside_the_job_on_a2(plan: &ScaleInPlan, w: &World, arns: &Arns) {
    let mut moved: Vec<(&str, &str, &str)> = plan
        .placements
        .iter()
        .map(|p| (p.shape.as_str(), p.from.as_str(), p.onto.as_str()))
        .collect();
    moved.sort_unstable();
    let mut wanted = [
        (arns.web.as_str(), w.arn(A1), w.arn(A2)),
        (arns.cache.as_str(), w.arn(A1), w.arn(A2)),
    ];
    wanted.sort_unstable();
    assert_eq!(moved, wanted, "a1's web stays in us-east-1a: {plan}");
    assert_eq!(
        plan.why_kept(w.arn(A2)),
        Some(&Unconsolidatable::StandaloneTask {
            group: JOB_GROUP.to_owned()
        }),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn self_managed_removes_the_emptied_host_and_the_daemon_only_one_and_keeps_a_host_per_zone() {
    let (w, arns) = zoned_world(&LAYOUT, false).await;
    let summary = calculate(scheduled(), &w.calculator(BUDGET)).await;
    let plan = &summary.scale_in_plan;

    // Round by round, as Auto Scaling shrinks the zones: us-east-1a and us-east-1b are tied
    // at two hosts and each has one that can go, so the cheaper goes first — b2, empty (its
    // log-agent task does not move); then us-east-1a has the most: a1, whose two tasks move
    // onto a2. Then every zone is at its minimum of one.
    assert_eq!(plan.ids(), [w.arn(B2), w.arn(A1)], "{plan}");
    assert_eq!(plan.remove[0].why, Removal::Empty, "{plan}");
    assert_eq!(
        plan.remove[1].why,
        Removal::TasksMove { tasks: 2, onto: 1 },
        "{plan}"
    );
    a1s_tasks_move_beside_the_job_on_a2(plan, &w, &arns);
    for (host, zone) in [(B1, ZONE_B), (C1, ZONE_C)] {
        assert_eq!(
            plan.why_kept(w.arn(host)),
            Some(&Unconsolidatable::ZoneAtMinimum {
                zone: zone.to_owned(),
                hosts: 1
            }),
            "{plan}"
        );
    }
    // What the function returns names the job that keeps a2 (acting, the plan is not logged:
    // only `Consolidation=observe` logs it).
    let returned = serde_json::to_value(&summary).expect("the summary serializes");
    let kept_a2 = returned["scale_in_plan"]["keep"]
        .as_array()
        .and_then(|keep| keep.iter().find(|k| k["id"] == w.arn(A2)))
        .unwrap_or_else(|| panic!("a2 kept: {returned}"));
    assert_eq!(
        kept_a2["why"],
        json!({"reason": "standalone_task", "group": JOB_GROUP})
    );

    // What moto holds: the two hosts marked in plan order, nothing drained (Auto Scaling
    // removes them through the chooser), HostsToRemove published.
    assert_eq!(summary.hosts_to_remove, Some(2));
    assert_eq!(w.published("HostsToRemove"), [2.0]);
    let marks = w.hosts_with(PLANNED_REMOVAL_ATTRIBUTE).await;
    for (i, (status, mark)) in marks.iter().enumerate() {
        assert_eq!(
            status, "ACTIVE",
            "self-managed mode drains nothing: {marks:?}"
        );
        let rank = match i {
            B2 => Some("1/"),
            A1 => Some("2/"),
            _ => None,
        };
        assert_eq!(
            mark.as_deref().map(|m| &m[..2]),
            rank,
            "host {i}: {marks:?}"
        );
    }
    // Only hosts whose every task is a service's (the daemon's stays and ends with its host)
    // are marked: ECS moves those.
    for (i, _) in marks.iter().enumerate().filter(|(_, (_, m))| m.is_some()) {
        let groups = w.task_groups_on(w.arn(i)).await;
        assert!(
            groups.iter().all(|g| g.starts_with("service:")),
            "host {i}: {groups:?}"
        );
    }
    assert_eq!(
        w.hosts_staying_per_zone(PLANNED_REMOVAL_ATTRIBUTE).await,
        BTreeMap::from([
            (ZONE_A.to_owned(), 1),
            (ZONE_B.to_owned(), 1),
            (ZONE_C.to_owned(), 1)
        ])
    );

    // Whichever tied zone Auto Scaling shrinks first, the chooser finds the plan's host there.
    let chooser = w.chooser();
    for (zone, hosts, planned) in [(ZONE_A, [A1, A2], A1), (ZONE_B, [B1, B2], B2)] {
        let ids: Vec<String> = hosts.iter().map(|h| w.hosts[*h].1.clone()).collect();
        let answer = scale_in_chooser::handle(termination_request_in(zone, &ids, 1), &chooser)
            .await
            .expect("answers");
        assert_eq!(
            answer.response.instance_ids,
            [w.hosts[planned].1.clone()],
            "{zone}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn capacity_provider_mode_drains_only_the_host_whose_tasks_move_and_leaves_the_empty_one() {
    let (w, arns) = zoned_world(&LAYOUT, true).await;
    w.with_capacity_provider(PROVIDER, true).await;
    let deps = w.calculator(CAPACITY_PROVIDER);
    let summary = calculate(scheduled(), &deps).await;
    let plan = &summary.scale_in_plan;
    let acting = summary
        .acting
        .as_ref()
        .expect("capacity-provider mode acts");
    assert_eq!(acting.capacity_provider.as_deref(), Some(PROVIDER));
    assert_eq!(acting.refused, None);

    // b2 runs only its daemon task: managed scaling's, and closed to the tasks that move. So
    // us-east-1a and us-east-1b are tied at two hosts, a1 goes (its tasks onto a2), and then
    // b1's web tasks, bound to us-east-1b, find no room there.
    assert_eq!(plan.ids(), [w.arn(A1)], "{plan}");
    assert_eq!(acting.changes.drain, [w.arn(A1).to_owned()]);
    assert_eq!(acting.drained, 1);
    assert_eq!(
        plan.why_kept(w.arn(B2)),
        Some(&Unconsolidatable::LeftToManagedScaling),
        "{plan}"
    );
    assert_eq!(
        plan.why_kept(w.arn(A2)),
        Some(&Unconsolidatable::StandaloneTask {
            group: JOB_GROUP.to_owned()
        }),
        "{plan}"
    );
    assert!(
        web_does_not_fit(plan.why_kept(w.arn(B1)), &arns.web),
        "b1's web tasks stay in us-east-1b: {plan}"
    );
    assert_eq!(
        plan.why_kept(w.arn(C1)),
        Some(&Unconsolidatable::ZoneAtMinimum {
            zone: ZONE_C.to_owned(),
            hosts: 1
        }),
        "{plan}"
    );
    assert!(
        plan.placements
            .iter()
            .all(|p| p.from == w.arn(A1) && p.onto == w.arn(A2)),
        "{:?}",
        plan.placements
    );

    // What moto holds: a1 DRAINING with the drained-by mark, every other host ACTIVE and
    // unmarked (b2 too), a host left in every zone.
    let hosts = w.hosts_with(DRAINED_BY_ATTRIBUTE).await;
    for (i, (status, mark)) in hosts.iter().enumerate() {
        let drained = i == A1;
        assert_eq!(
            (status.as_str(), mark.is_some()),
            (if drained { "DRAINING" } else { "ACTIVE" }, drained),
            "host {i}: {hosts:?}"
        );
    }
    for (i, _) in hosts
        .iter()
        .enumerate()
        .filter(|(_, (s, _))| s == "DRAINING")
    {
        let groups = w.task_groups_on(w.arn(i)).await;
        assert!(
            groups.iter().all(|g| g.starts_with("service:")),
            "only service tasks on a host drained: host {i}: {groups:?}"
        );
    }
    assert_eq!(
        w.hosts_staying_per_zone(DRAINED_BY_ATTRIBUTE).await,
        BTreeMap::from([
            (ZONE_A.to_owned(), 1),
            (ZONE_B.to_owned(), 2),
            (ZONE_C.to_owned(), 1)
        ])
    );
    assert_eq!(w.published("HostsDrained"), [1.0]);
    assert_eq!(w.published("ConsolidationRefused"), [0.0]);

    // The next run (moto does not move a1's tasks): they are placed first, in us-east-1a; a1
    // counts against the zone and nothing more is drained.
    let again = calculate(scheduled(), &deps).await;
    assert_eq!(again.acting.as_ref().map(|a| a.drained), Some(0));
    assert_eq!(again.scale_in_plan.draining, 1);
    assert!(
        again.scale_in_plan.remove.is_empty(),
        "{}",
        again.scale_in_plan
    );
    let hosts = w.hosts_with(DRAINED_BY_ATTRIBUTE).await;
    assert_eq!(
        hosts.iter().filter(|(s, _)| s == "DRAINING").count(),
        1,
        "{hosts:?}"
    );
    assert_eq!(w.published("HostsDrained"), [1.0, 0.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn capacity_provider_mode_moves_tasks_onto_a_host_whose_other_task_is_standalone() {
    // a2 runs only the job beside its daemon task: not empty (managed scaling scales in a host
    // once its non-daemon tasks have stopped; ECS places tasks beside the job), so a1's two
    // tasks go there as in the world where a2 runs a web task too.
    let (w, arns) = zoned_world(&JOB_ALONE, true).await;
    w.with_capacity_provider(PROVIDER, true).await;
    let summary = calculate(scheduled(), &w.calculator(CAPACITY_PROVIDER)).await;
    let plan = &summary.scale_in_plan;
    assert_eq!(plan.ids(), [w.arn(A1)], "{plan}");
    a1s_tasks_move_beside_the_job_on_a2(plan, &w, &arns);
    let hosts = w.hosts_with(DRAINED_BY_ATTRIBUTE).await;
    assert_eq!(hosts[A1].0, "DRAINING", "{hosts:?}");
    assert_eq!(w.published("HostsDrained"), [1.0]);
}
