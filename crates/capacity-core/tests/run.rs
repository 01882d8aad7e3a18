//! The one decision on the cluster as it is: service tasks move, daemons stay, standalone
//! jobs keep their host, constraints and zones bind, the cluster's memory survives, the mode's
//! rules (capacity provider: empty hosts, give-ups, the undo's scope; observing) hold. Each
//! test names the rule; the worlds look as production does (a daemon on every host, services
//! spread over three zones).

use std::collections::BTreeMap;
use std::time::Duration;

use capacity_core::consolidation::{Removal, Unconsolidatable};
use capacity_core::mark::{
    DRAINED_BY_ATTRIBUTE, GIVEN_UP_ATTRIBUTE, LAST_SHORTFALL_TAG, PLANNED_REMOVAL_ATTRIBUTE,
    REMOVABLE_SINCE_ATTRIBUTE,
};
use capacity_core::placement::{ServicePlacement, ZONE_ATTRIBUTE};
use capacity_core::run::{
    Action, AutoScalingGroup, ClusterShape, Consolidation, Decision, GroupInstance, PlanMemory,
    ProviderShape, RunInput, ScalingMode, Settings, StepKind, TargetStatus, TaskPlacement, Trigger,
    decide,
};
use capacity_core::scale_in::DrainCost;
use capacity_core::{
    ContainerInstance, Demand, HostTask, InstanceStatus, PlacementFailure, Resources, TaskOwner,
    TaskShape, UnplacedTasks, WorstCase,
};

const NOW: u64 = 1_800_000_000;
const GROUP: &str = "prod-hosts";

fn web() -> TaskShape {
    TaskShape::new("web:1", 512, 1024)
}

fn agent() -> TaskShape {
    TaskShape::new("agent:1", 128, 256)
}

fn service(name: &str) -> HostTask {
    HostTask::of_service(web(), name)
}

fn daemon() -> HostTask {
    HostTask {
        shape: agent(),
        owner: TaskOwner::Daemon("agent".into()),
    }
}

fn standalone() -> HostTask {
    HostTask {
        shape: TaskShape::new("report:4", 512, 1024),
        owner: TaskOwner::Standalone("family:report".into()),
    }
}

/// A world of hosts of 4096 CPU / 8192 MiB (8 `web` slots, the worst case), each in a zone,
/// in the group `prod-hosts` (minimum 0), every one running the `agent` daemon unless told.
struct World {
    instances: Vec<ContainerInstance>,
    placement: TaskPlacement,
    services: Vec<ServicePlacement>,
    demand: Demand,
    group: AutoScalingGroup,
    settings: Settings,
    tags: BTreeMap<String, String>,
    memory: PlanMemory,
    provider: Option<ClusterShape>,
    trigger: Trigger,
    now: u64,
}

impl World {
    fn new() -> World {
        World {
            instances: Vec::new(),
            placement: TaskPlacement {
                tasks: Some(Default::default()),
                ..TaskPlacement::default()
            },
            services: vec![ServicePlacement {
                service: "web".into(),
                ..ServicePlacement::default()
            }],
            demand: Demand {
                daemons: vec![agent()],
                ..Demand::default()
            },
            group: AutoScalingGroup::with(GROUP, 0, 0, &[]),
            settings: Settings {
                stability_window: Duration::ZERO,
                auto_scaling_group: Some(GROUP.into()),
                ..Settings::default()
            },
            tags: BTreeMap::new(),
            memory: PlanMemory::default(),
            provider: None,
            trigger: Trigger::Schedule,
            now: NOW,
        }
    }

    /// Adds host `id` in `zone` running `tasks` (and the daemon).
    fn host(mut self, id: &str, zone: &str, tasks: &[HostTask]) -> World {
        let mut all = tasks.to_vec();
        all.push(daemon());
        self.host_exactly(id, zone, &all);
        self
    }

    fn host_exactly(&mut self, id: &str, zone: &str, tasks: &[HostTask]) {
        let cpu: u32 = tasks.iter().map(|t| t.shape.cpu).sum();
        let memory: u32 = tasks.iter().map(|t| t.shape.memory_mib).sum();
        let mut instance = ContainerInstance::active(
            id,
            Resources::new(4096, 8192),
            Resources::new(4096 - cpu, 8192 - memory),
        );
        instance.ec2_instance_id = Some(format!("i-{id}"));
        instance
            .attributes
            .insert(ZONE_ATTRIBUTE.into(), zone.into());
        self.instances.push(instance);
        self.placement
            .task_counts
            .insert(id.into(), tasks.len() as u64);
        if let Some(listed) = &mut self.placement.tasks {
            listed.insert(id.into(), tasks.to_vec());
        }
        self.group
            .instances
            .push(GroupInstance::new(&format!("i-{id}"), "InService").in_zone(zone));
        self.group.desired_capacity += 1;
    }

    fn attribute(mut self, id: &str, name: &str, value: &str) -> World {
        if let Some(i) = self.instances.iter_mut().find(|i| i.id == id) {
            i.attributes.insert(name.into(), value.into());
        }
        self
    }

    fn status(mut self, id: &str, status: InstanceStatus) -> World {
        if let Some(i) = self.instances.iter_mut().find(|i| i.id == id) {
            i.status = status;
        }
        self
    }

    fn rules(mut self, rules: ServicePlacement) -> World {
        self.services.retain(|s| s.service != rules.service);
        self.services.push(rules);
        self
    }

    fn capacity_provider(mut self) -> World {
        self.settings.mode = ScalingMode::CapacityProvider;
        self.provider = Some(ClusterShape {
            providers: vec![ProviderShape {
                name: "prod".into(),
                auto_scaling_group: Some(GROUP.into()),
                managed_scaling: true,
                managed_termination_protection: true,
            }],
        });
        self
    }

    fn decide(&self) -> Decision {
        decide(&RunInput {
            instances: &self.instances,
            worst_case: &WorstCase::cpu_memory(512, 1024).unwrap(),
            demand: &self.demand,
            placement: &self.placement,
            services: &self.services,
            group: Ok(&self.group),
            launch: None,
            provider: self.provider.as_ref().map(Ok),
            memory: &self.memory,
            cluster_tags: Ok(&self.tags),
            settings: &self.settings,
            trigger: self.trigger,
            now_unix_secs: self.now,
        })
        .expect("a consistent reading")
    }
}

fn kept(d: &Decision, id: &str) -> Unconsolidatable {
    d.plan
        .why_kept(id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is kept: {}", d.plan))
}

/// The hosts a step sets to `status`.
fn set_to(d: &Decision, status: TargetStatus) -> Vec<String> {
    d.steps
        .iter()
        .flat_map(|c| &c.0)
        .filter_map(|s| match &s.action {
            Action::SetStatus { arns, status: st } if *st == status => Some(arns.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn puts(d: &Decision, name: &str) -> Vec<String> {
    d.steps
        .iter()
        .flat_map(|c| &c.0)
        .filter_map(|s| match &s.action {
            Action::PutMarks(marks) => Some(marks.clone()),
            _ => None,
        })
        .flatten()
        .filter(|a| a.name == name)
        .map(|a| a.container_instance_arn)
        .collect()
}

/// Three zones of two hosts: `a1` lightly used, the others busier.
fn three_zones() -> World {
    let busy = vec![service("web"); 4];
    World::new()
        .host("a1", "eu-west-1a", &[service("web")])
        .host("a2", "eu-west-1a", &busy)
        .host("b1", "eu-west-1b", &busy)
        .host("b2", "eu-west-1b", &busy)
        .host("c1", "eu-west-1c", &busy)
        .host("c2", "eu-west-1c", &busy)
}

#[test]
fn a_host_running_a_standalone_task_is_no_candidate_and_says_so() {
    let w = World::new()
        .host("batch", "z", &[standalone()])
        .host("web", "z", &[service("web")])
        .host("other", "z", &vec![service("web"); 2]);
    let d = w.decide();
    assert_eq!(
        kept(&d, "batch"),
        Unconsolidatable::StandaloneTask {
            group: "family:report".into()
        }
    );
    assert_eq!(d.plan.ids(), ["web"], "its service task moves instead");
}

#[test]
fn daemon_tasks_never_move_and_a_host_running_only_daemons_is_empty() {
    let w = World::new()
        .host("daemon-only", "z", &[])
        .host("busy", "z", &vec![service("web"); 3]);
    let d = w.decide();
    assert_eq!(d.plan.ids(), ["daemon-only"]);
    assert_eq!(d.plan.remove[0].why, Removal::Empty);
    assert!(
        d.plan.placements.is_empty(),
        "no daemon task is re-placed: {:?}",
        d.plan.placements
    );
}

#[test]
fn a_daemon_on_a_draining_host_does_not_hold_the_plan() {
    // Every host's ports are the agent's own: were its task re-placed, it would fit nowhere
    // and the plan would stop for the quiet period.
    let mut w = World::new()
        .host("leaving", "z", &[])
        .host("idle", "z", &[])
        .host("busy", "z", &vec![service("web"); 3])
        .status("leaving", InstanceStatus::Draining);
    w.settings.budget = capacity_core::DisruptionBudget::Hosts(2);
    let d = w.decide();
    assert_eq!(d.plan.moving_short, 0);
    assert_eq!(d.plan.ids(), ["idle"]);
    assert_eq!(d.plan.last_shortfall, None);
}

#[test]
fn a_placement_failure_of_this_clusters_capacity_plans_nothing_and_starts_the_quiet_period() {
    let mut w = World::new()
        .host("empty", "z", &[])
        .host("busy", "z", &vec![service("web"); 3]);
    w.demand.placement_failures = vec![PlacementFailure::new("web", "RESOURCE:MEMORY")];
    w.trigger = Trigger::PlacementFailure;
    let d = w.decide();
    assert!(d.plan.remove.is_empty(), "{}", d.plan);
    assert_eq!(kept(&d, "empty"), Unconsolidatable::ShortNow);
    assert_eq!(d.memory.last_shortfall, Some(NOW));
    // A Fargate failure is not about these hosts.
    w.demand.placement_failures = vec![PlacementFailure::new("web", "RESOURCE:FARGATE")];
    assert_eq!(w.decide().plan.ids(), ["empty"]);
}

#[test]
fn hosts_to_add_above_zero_plans_nothing_in_the_same_run() {
    let mut w = World::new()
        .host("empty", "z", &[])
        .host("full", "z", &vec![service("web"); 7]);
    // 40 tasks of web wait: far more than the room.
    w.demand.unplaced = vec![UnplacedTasks {
        service: "web".into(),
        shape: web(),
        count: 40,
    }];
    let d = w.decide();
    assert!(d.assessment.hosts_to_add >= 1);
    assert!(d.plan.remove.is_empty());
    assert_eq!(d.hosts_to_remove, Some(0));
}

#[test]
fn distinct_instance_keeps_a_task_off_hosts_running_its_service() {
    let api = |n| vec![HostTask::of_service(web(), "api"); n];
    let mut w = World::new()
        .host("x", "z", &api(1))
        .host("y", "z", &api(1))
        .host("spare", "z", &[])
        .rules(ServicePlacement::read(
            "api",
            &[("distinctInstance".into(), None)],
            &[],
            false,
            vec![],
        ));
    w.settings.budget = capacity_core::DisruptionBudget::Hosts(2);
    let d = w.decide();
    // spare is empty and goes first; x's api task could then only go to y, which runs one.
    assert_eq!(d.plan.ids(), ["spare"], "{}", d.plan);
    assert!(matches!(
        kept(&d, "x"),
        Unconsolidatable::TasksDoNotFit { .. }
    ));
}

#[test]
fn a_member_of_the_plan_cannot_judge_keeps_its_host_and_one_it_can_binds_the_move() {
    let w = World::new()
        .host("a", "z", &[service("web")])
        .host("b", "z", &vec![service("web"); 3])
        .rules(ServicePlacement::read(
            "web",
            &[("memberOf".into(), Some("task:group != service:db".into()))],
            &[],
            false,
            vec![],
        ));
    assert!(matches!(
        kept(&w.decide(), "a"),
        Unconsolidatable::TaskCannotMove { .. }
    ));
    // An instance type only b has not: a's task has nowhere to go.
    let w = World::new()
        .host("a", "z", &[service("web")])
        .host("b", "z", &vec![service("web"); 3])
        .attribute("a", "ecs.instance-type", "m5.large")
        .attribute("b", "ecs.instance-type", "c5.large")
        .rules(ServicePlacement::read(
            "web",
            &[],
            &["attribute:ecs.instance-type =~ m5.*".into()],
            false,
            vec![],
        ));
    assert!(matches!(
        kept(&w.decide(), "a"),
        Unconsolidatable::TasksDoNotFit { .. }
    ));
}

#[test]
fn a_zone_spread_services_tasks_are_replaced_within_their_zone() {
    let spread = ServicePlacement {
        service: "web".into(),
        spread_by_zone: true,
        ..ServicePlacement::default()
    };
    let d = three_zones().rules(spread).capacity_provider().decide();
    assert!(d.plan.ids().contains(&"a1"), "{}", d.plan);
    for p in &d.plan.placements {
        assert_eq!(p.from, "a1");
        assert_eq!(p.onto, "a2", "stays in eu-west-1a");
    }
}

#[test]
fn hosts_go_from_the_largest_zone_first_and_never_below_the_minimum() {
    // Zone a has three hosts, b and c one each: only a shrinks, to one host at most, and b,
    // c keep theirs however empty.
    let mut settings = World::new().settings;
    settings.budget = capacity_core::DisruptionBudget::Hosts(5);
    settings.mode = ScalingMode::CapacityProvider;
    let mut w = World::new()
        .host("a1", "a", &[service("web")])
        .host("a2", "a", &[service("web")])
        .host("a3", "a", &vec![service("web"); 2])
        .host("b1", "b", &[service("web")])
        .host("c1", "c", &[service("web")])
        .capacity_provider();
    w.settings = Settings {
        mode: ScalingMode::CapacityProvider,
        ..settings
    };
    let d = w.decide();
    let planned = d.plan.ids();
    assert!(
        planned.iter().all(|id| id.starts_with('a')),
        "only zone a shrinks: {}",
        d.plan
    );
    assert!(planned.len() <= 2, "zone a keeps one at least: {}", d.plan);
    assert!(matches!(
        kept(&d, "b1"),
        Unconsolidatable::ZoneAtMinimum { .. } | Unconsolidatable::ZoneNotLargest { .. }
    ));
}

#[test]
fn self_managed_plans_a_host_only_when_every_tied_zone_has_one_that_can_go() {
    // Three zones of two, web spread by zone (its tasks stay in their zone): Auto Scaling may
    // shrink any zone, and only zone a has a host that can go.
    let spread = ServicePlacement {
        service: "web".into(),
        spread_by_zone: true,
        ..ServicePlacement::default()
    };
    let d = three_zones().rules(spread.clone()).decide();
    assert!(d.plan.remove.is_empty(), "{}", d.plan);
    assert!(
        d.plan.keep.iter().any(|k| matches!(
            &k.why,
            Unconsolidatable::TiedZoneWithoutHost { zone } if zone == "eu-west-1b"
        )),
        "{}",
        d.plan
    );
    // Capacity-provider mode drains itself: the zone is its choice.
    let d = three_zones()
        .rules(spread.clone())
        .capacity_provider()
        .decide();
    assert_eq!(d.plan.ids(), ["a1"]);
    // Without the spread, every zone has a host whose tasks fit elsewhere: one goes.
    assert_eq!(three_zones().decide().plan.ids(), ["a1"]);
}

#[test]
fn capacity_provider_mode_leaves_empty_hosts_to_managed_scaling_and_moves_nothing_onto_them() {
    let w = World::new()
        .host("empty", "z", &[])
        .host("light", "z", &[service("web")])
        .host("busy", "z", &vec![service("web"); 4])
        .capacity_provider();
    let d = w.decide();
    assert_eq!(kept(&d, "empty"), Unconsolidatable::LeftToManagedScaling);
    assert_eq!(d.plan.ids(), ["light"]);
    assert!(d.plan.placements.iter().all(|p| p.onto == "busy"));
    assert_eq!(set_to(&d, TargetStatus::Draining), ["light"]);
    assert_eq!(puts(&d, DRAINED_BY_ATTRIBUTE), ["light"], "marked first");
}

#[test]
fn capacity_provider_mode_moves_tasks_beside_a_standalone_task_whose_host_is_not_empty() {
    // "job" runs only a standalone task (and the daemon): not empty as managed scaling counts
    // it, and ECS places service tasks beside the job. light's web task goes there.
    let w = World::new()
        .host("job", "z", &[standalone()])
        .host("light", "z", &[service("web")])
        .capacity_provider();
    let d = w.decide();
    assert_eq!(
        kept(&d, "job"),
        Unconsolidatable::StandaloneTask {
            group: "family:report".into()
        }
    );
    assert_eq!(d.plan.ids(), ["light"], "{}", d.plan);
    assert!(d.plan.placements.iter().all(|p| p.onto == "job"));
}

#[test]
fn capacity_provider_mode_starts_a_drain_only_on_a_full_read() {
    // A run on a container instance's event reuses the last full read: a do-not-disrupt mark
    // put since is not in it, so it starts no drain; the schedule's full read does.
    let mut w = World::new()
        .host("light", "z", &[service("web")])
        .host("busy", "z", &vec![service("web"); 4])
        .capacity_provider();
    w.trigger = Trigger::ContainerInstanceStateChange;
    let on_event = w.decide();
    assert_eq!(on_event.plan.ids(), ["light"], "planned all the same");
    assert!(set_to(&on_event, TargetStatus::Draining).is_empty());
    w.trigger = Trigger::Schedule;
    assert_eq!(set_to(&w.decide(), TargetStatus::Draining), ["light"]);
}

#[test]
fn a_drain_that_still_has_tasks_after_the_give_up_time_is_undone_and_held() {
    let drained_at = (NOW - 901).to_string();
    let w = World::new()
        .host("stuck", "z", &[service("web")])
        .host("other", "z", &vec![service("web"); 2])
        .status("stuck", InstanceStatus::Draining)
        .attribute("stuck", DRAINED_BY_ATTRIBUTE, &drained_at)
        .capacity_provider();
    let d = w.decide();
    assert_eq!(set_to(&d, TargetStatus::Active), ["stuck"]);
    assert_eq!(puts(&d, GIVEN_UP_ATTRIBUTE), ["stuck"]);
    let acting = d.acting.as_ref().unwrap();
    assert!(acting.changes.given_up[0].why.contains("still runs 1 task"));
    // Younger than the give-up time: it keeps draining.
    let recent = (NOW - 600).to_string();
    let w = World::new()
        .host("stuck", "z", &[service("web")])
        .host("other", "z", &vec![service("web"); 2])
        .status("stuck", InstanceStatus::Draining)
        .attribute("stuck", DRAINED_BY_ATTRIBUTE, &recent)
        .capacity_provider();
    assert!(set_to(&w.decide(), TargetStatus::Active).is_empty());
}

#[test]
fn a_drain_of_a_host_the_group_can_no_longer_remove_is_given_up() {
    let recent = (NOW - 60).to_string();
    let mut w = World::new()
        .host("ours", "z", &[service("web")])
        .host("other", "z", &vec![service("web"); 2])
        .status("ours", InstanceStatus::Draining)
        .attribute("ours", DRAINED_BY_ATTRIBUTE, &recent)
        .capacity_provider();
    // MinSize raised to the desired capacity.
    w.group.min_size = w.group.desired_capacity;
    let d = w.decide();
    assert_eq!(set_to(&d, TargetStatus::Active), ["ours"]);
    // Managed termination protection turned off: nothing would remove it once empty.
    w.group.min_size = 0;
    if let Some(shape) = &mut w.provider {
        shape.providers[0].managed_termination_protection = false;
    }
    let d = w.decide();
    assert_eq!(set_to(&d, TargetStatus::Active), ["ours"]);
    assert!(set_to(&d, TargetStatus::Draining).is_empty());
}

#[test]
fn a_host_an_operator_set_active_after_our_drain_is_left_for_the_quiet_period() {
    let w = World::new()
        .host("undone", "z", &[service("web")])
        .host("other", "z", &vec![service("web"); 2])
        .attribute("undone", DRAINED_BY_ATTRIBUTE, &(NOW - 120).to_string())
        .capacity_provider();
    let d = w.decide();
    assert!(matches!(
        kept(&d, "undone"),
        Unconsolidatable::GivenUp { .. }
    ));
    assert_eq!(puts(&d, GIVEN_UP_ATTRIBUTE), ["undone"]);
    assert!(!set_to(&d, TargetStatus::Draining).contains(&"undone".to_owned()));
    // Given up 16 minutes ago: planned again, and the stale mark deleted.
    let w = World::new()
        .host("back", "z", &[service("web")])
        .host("other", "z", &vec![service("web"); 2])
        .attribute("back", GIVEN_UP_ATTRIBUTE, &(NOW - 960).to_string())
        .capacity_provider();
    assert_eq!(w.decide().plan.ids(), ["back"]);
}

#[test]
fn the_undo_touches_only_our_drains_of_hosts_the_group_keeps_for_our_own_capacity() {
    let ours = (NOW - 60).to_string();
    let world = || {
        let mut w = World::new()
            .host("ours", "z", &[service("web")])
            .host("terminating", "z", &[service("web")])
            .host("other", "z", &vec![service("web"); 2])
            .status("ours", InstanceStatus::Draining)
            .status("terminating", InstanceStatus::Draining)
            .attribute("ours", DRAINED_BY_ATTRIBUTE, &ours)
            .attribute("terminating", DRAINED_BY_ATTRIBUTE, &ours)
            .capacity_provider();
        w.group.instances[1].lifecycle_state = "Terminating:Wait".into();
        w.trigger = Trigger::PlacementFailure;
        w
    };
    let mut w = world();
    w.demand.placement_failures = vec![PlacementFailure::new("web", "RESOURCE:CPU")];
    assert_eq!(set_to(&w.decide(), TargetStatus::Active), ["ours"]);
    let mut w = world();
    w.demand.placement_failures = vec![PlacementFailure::new("web", "RESOURCE:FARGATE")];
    assert!(set_to(&w.decide(), TargetStatus::Active).is_empty());
    // A service of another capacity provider.
    let mut w = world().rules(ServicePlacement {
        service: "batch".into(),
        capacity_providers: vec!["spot-hosts".into()],
        ..ServicePlacement::default()
    });
    w.demand.placement_failures = vec![PlacementFailure::new("batch", "RESOURCE:MEMORY")];
    assert!(set_to(&w.decide(), TargetStatus::Active).is_empty());
}

#[test]
fn an_instance_outside_the_cluster_takes_no_place_in_capacity_provider_modes_budget() {
    let mut w = World::new()
        .host("light", "z", &[service("web")])
        .host("busy", "z", &vec![service("web"); 3])
        .capacity_provider();
    w.group
        .instances
        .push(GroupInstance::new("i-booting", "InService").in_zone("z"));
    w.group.desired_capacity += 1;
    let d = w.decide();
    assert_eq!(set_to(&d, TargetStatus::Draining), ["light"]);
}

#[test]
fn the_quiet_period_survives_a_cold_start_through_the_clusters_tag() {
    let mut w = World::new()
        .host("empty", "z", &[])
        .host("busy", "z", &vec![service("web"); 3]);
    w.tags
        .insert(LAST_SHORTFALL_TAG.into(), (NOW - 300).to_string());
    let d = w.decide();
    assert!(matches!(
        kept(&d, "empty"),
        Unconsolidatable::QuietAfterShortfall { .. }
    ));
    // A shortfall is tagged, at most once a minute.
    let mut w = World::new().host("full", "z", &vec![service("web"); 7]);
    w.demand.unplaced = vec![UnplacedTasks {
        service: "web".into(),
        shape: web(),
        count: 9,
    }];
    let d = w.decide();
    assert!(d.steps.iter().flat_map(|c| &c.0).any(|s| s.kind == StepKind::RecordShortfall
        && matches!(&s.action, Action::TagCluster { key, value } if key == LAST_SHORTFALL_TAG && *value == NOW.to_string())));
}

#[test]
fn removable_since_lives_on_the_host_and_a_gap_longer_than_the_window_starts_it_again() {
    let base = || {
        let mut w =
            World::new()
                .host("empty", "z", &[])
                .host("busy", "z", &vec![service("web"); 3]);
        w.settings.stability_window = Duration::from_secs(300);
        w
    };
    let d = base().decide();
    assert!(matches!(
        kept(&d, "empty"),
        Unconsolidatable::NotYetStable { .. }
    ));
    // Both found removable (neither chosen yet, so both tried): each carries its time.
    assert_eq!(puts(&d, REMOVABLE_SINCE_ATTRIBUTE), ["empty", "busy"]);
    // A cold start 5 minutes later reads the mark (seen 2 minutes ago): stable.
    let w = base().attribute(
        "empty",
        REMOVABLE_SINCE_ATTRIBUTE,
        &format!("{}/{}", NOW - 300, NOW - 120),
    );
    assert_eq!(w.decide().plan.ids(), ["empty"]);
    // Seen last 10 minutes ago: the runs between are unknown, the window starts again.
    let w = base().attribute(
        "empty",
        REMOVABLE_SINCE_ATTRIBUTE,
        &format!("{}/{}", NOW - 3000, NOW - 600),
    );
    assert!(matches!(
        kept(&w.decide(), "empty"),
        Unconsolidatable::NotYetStable { .. }
    ));
}

#[test]
fn a_run_without_the_group_records_no_removable_time() {
    let w = World::new()
        .host("empty", "z", &[])
        .host("busy", "z", &vec![service("web"); 3]);
    let d = decide(&RunInput {
        instances: &w.instances,
        worst_case: &WorstCase::cpu_memory(512, 1024).unwrap(),
        demand: &w.demand,
        placement: &w.placement,
        services: &w.services,
        group: Err("reading the Auto Scaling group failed: throttled"),
        launch: None,
        provider: None,
        memory: &w.memory,
        cluster_tags: Ok(&w.tags),
        settings: &w.settings,
        trigger: w.trigger,
        now_unix_secs: NOW,
    })
    .unwrap();
    assert!(d.memory.removable_since.is_empty());
    assert!(d.steps.is_empty(), "nothing written: {:?}", d.steps);
    assert_eq!(d.hosts_to_remove, None);
}

#[test]
fn observing_plans_and_publishes_hosts_removable_and_writes_nothing() {
    let mut w = World::new()
        .host("empty", "z", &[])
        .host("busy", "z", &vec![service("web"); 3]);
    w.settings.consolidation = Consolidation::Observe;
    let d = w.decide();
    assert_eq!(d.plan.ids(), ["empty"]);
    assert_eq!(d.hosts_removable, 1);
    assert_eq!(d.hosts_to_remove, None);
    assert!(d.steps.is_empty());
    let d = w.capacity_provider().decide();
    assert!(d.steps.is_empty());
}

#[test]
fn the_chooser_ranks_checked_hosts_before_task_counts_and_do_not_disrupt_last_but_unknown() {
    let marks = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let checked = marks(&[(
        REMOVABLE_SINCE_ATTRIBUTE,
        &format!("{}/{}", NOW - 900, NOW - 60),
    )]);
    assert_eq!(
        DrainCost::of(5, Some(&checked), NOW).0,
        DrainCost::Checked(5)
    );
    let planned = marks(&[(PLANNED_REMOVAL_ATTRIBUTE, &format!("2/{NOW}"))]);
    assert_eq!(
        DrainCost::of(5, Some(&planned), NOW).0,
        DrainCost::Planned(2)
    );
    let protected = marks(&[
        ("ecs-capacity.do-not-disrupt", ""),
        (PLANNED_REMOVAL_ATTRIBUTE, &format!("1/{NOW}")),
    ]);
    assert_eq!(
        DrainCost::of(0, Some(&protected), NOW).0,
        DrainCost::DoNotDisrupt
    );
    let stale = marks(&[(PLANNED_REMOVAL_ATTRIBUTE, &format!("1/{}", NOW - 3600))]);
    let (cost, note) = DrainCost::of(3, Some(&stale), NOW);
    assert_eq!(cost, DrainCost::Tasks(3));
    assert!(note.is_some_and(|n| n.contains("stale")));

    use capacity_core::scale_in::{CapacityToTerminate, SuggestedInstance, choose};
    let suggested = ["busy", "protected", "checked", "unread"]
        .map(|id| SuggestedInstance::new(id, "a", "on-demand"));
    let cost = |id: &str| match id {
        "busy" => DrainCost::Tasks(1),
        "protected" => DrainCost::DoNotDisrupt,
        "checked" => DrainCost::Checked(9),
        _ => DrainCost::Unknown,
    };
    let order = choose(
        &[CapacityToTerminate::new("a", "on-demand", 4)],
        &suggested,
        cost,
    )
    .instance_ids();
    assert_eq!(order, ["checked", "busy", "protected", "unread"]);
}
