//! The calculator's run as the simulation carries it out: the reading it would get, capacity-
//! core's one decision ([`capacity_core::run::decide`], the very function the Lambda calls),
//! and its steps carried out on the simulated cluster by the same rule
//! ([`capacity_core::run::Execution`]). Nothing here decides.
//!
//! **The reading**, as the Lambda's read would see the cluster:
//! * every registered container instance (ACTIVE or DRAINING) with its registered and
//!   remaining resources and its attributes (its zone, the marks the decision wrote), without
//!   ENI limits (the calculator's describe carries none);
//! * the tasks per instance from the last task *listing*, with their owners, and ECS's task
//!   counts now. As `capacity_aws::snapshot` does, a full read lists the tasks again unless the
//!   services' tasks account for every task on the instances and the last listing is under 5
//!   minutes old: a host whose tasks changed since (a task started, one still stopping) does
//!   not match its listing and is not planned — the unknown path of the Lambda;
//! * the services' waiting tasks and the DAEMON services, the event's placement failure;
//! * the Auto Scaling group: its desired and minimum size, each instance's lifecycle state
//!   (`Pending` for its first minute, then `InService` — before its container instance
//!   registers at the end of the boot, the plan sees an instance outside the cluster —,
//!   `Terminating:Wait` while the lifecycle hook drains it: the leaving path) and zone; the
//!   instances a scenario registers outside the group are in the cluster but not in the group
//!   (the not-in-group path);
//! * capacity-provider mode: a provider of the group with managed scaling and managed
//!   termination protection, the shape the mode needs;
//! * the plan's memory: the process's (kept between runs) and the cluster's (the marks on the
//!   instances, the cluster's tags).
//!
//! Which policies run it: the ones `infra/template.yaml` deploys with the group — `hosts-to-add`
//! and `hosts-to-add −1` (self-managed) and `capacity-provider+consolidation`. The others
//! (`book ±1`, `capacity-provider` alone) publish the assessment only.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use capacity_core::fit::GroupLaunch;
use capacity_core::placement::ServicePlacement;
use capacity_core::run::{
    Action, AutoScalingGroup, ClusterShape, Consolidation, Decision, Execution, GroupInstance,
    PlanMemory, ProviderShape, RunInput, ScalingMode, Settings, TargetStatus, TaskPlacement,
    Trigger, decide,
};
use capacity_core::{CapacityError, ContainerInstance, Demand, HostTask, TaskOwner, WorstCase};

use super::{InstState, Sim, TaskState};
use crate::scenario::PolicyKind;

/// The simulated group's name (and its capacity provider's, in capacity-provider mode).
const GROUP: &str = "sim-hosts";
/// How long the shapes of the last task listing stand in for a new one
/// (`capacity_aws::cluster::TASK_LISTING_MAX_AGE`).
const LISTING_MAX_AGE: u64 = 300;
/// Seconds from a launch to the group's InService (EC2's status checks), before the ECS agent
/// registers the instance.
const IN_SERVICE_AFTER: u64 = 60;
/// How long a full read is reused, brought up to date by events (the template's
/// `CLUSTER_REFRESH_SECONDS` default).
const CLUSTER_REFRESH: u64 = 60;

/// Everything one run of the calculator decides on, owned: what the simulation reads of its
/// cluster (see the module), or what a test gives (`tests/contract/tests/one_decision.rs`
/// feeds the same reading to the Lambda).
#[derive(Debug, Clone)]
pub struct SimReading {
    pub instances: Vec<ContainerInstance>,
    pub worst_case: WorstCase,
    pub demand: Demand,
    pub placement: TaskPlacement,
    pub services: Vec<ServicePlacement>,
    pub group: AutoScalingGroup,
    /// The group's instance types, as the calculator reads them.
    pub launch: Option<GroupLaunch>,
    pub provider: Option<ClusterShape>,
    pub memory: PlanMemory,
    pub tags: BTreeMap<String, String>,
    pub settings: Settings,
    pub trigger: Trigger,
    pub now: u64,
}

/// One change a run made to the cluster, in the order made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    PutMark {
        host: String,
        name: String,
        value: String,
    },
    DeleteMark {
        host: String,
        name: String,
        value: String,
    },
    SetStatus {
        host: String,
        status: TargetStatus,
    },
    Tag {
        key: String,
        value: String,
    },
}

/// The simulator's adapter: the one decision on `reading`, its steps carried out in order
/// ([`Execution`], every call succeeding), and `HostsToRemove` as settled (0 when left out).
pub fn decide_on(reading: &SimReading) -> Result<(Decision, Vec<Effect>, u32), CapacityError> {
    let decision = decide(&RunInput {
        instances: &reading.instances,
        worst_case: &reading.worst_case,
        demand: &reading.demand,
        placement: &reading.placement,
        services: &reading.services,
        group: Ok(&reading.group),
        launch: reading.launch.as_ref(),
        provider: reading.provider.as_ref().map(Ok),
        memory: &reading.memory,
        cluster_tags: Ok(&reading.tags),
        settings: &reading.settings,
        trigger: reading.trigger,
        now_unix_secs: reading.now,
    })?;
    let mut effects = Vec::new();
    let mut execution = Execution::new(&decision.steps);
    while let Some(step) = execution.next_step() {
        match &step.action {
            Action::DeleteMarks(marks) | Action::PutMarks(marks) => {
                let put = matches!(step.action, Action::PutMarks(_));
                effects.extend(marks.iter().map(|m| {
                    let (host, name) = (m.container_instance_arn.clone(), m.name.clone());
                    let value = m.value.clone().unwrap_or_default();
                    if put {
                        Effect::PutMark { host, name, value }
                    } else {
                        Effect::DeleteMark { host, name, value }
                    }
                }));
            }
            Action::SetStatus { arns, status } => {
                effects.extend(arns.iter().map(|host| Effect::SetStatus {
                    host: host.clone(),
                    status: *status,
                }));
            }
            Action::TagCluster { key, value } => effects.push(Effect::Tag {
                key: key.clone(),
                value: value.clone(),
            }),
        }
        execution.record(Ok(()));
    }
    let settled = decision.settle(&execution.finish());
    Ok((decision, effects, settled.hosts_to_remove.unwrap_or(0)))
}

/// What the calculator keeps between runs, and what its decisions did.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// The process's own plan memory.
    plan: PlanMemory,
    /// The cluster's tags (the last shortfall).
    tags: BTreeMap<String, String>,
    /// The last task listing: when, and the tasks on each instance then.
    listing: Option<(u64, HashMap<String, Vec<HostTask>>)>,
    /// When the last full read was.
    full_read: Option<u64>,
    /// Tasks stopped on consolidated hosts (counted by the scheduler).
    pub(super) tasks_moved: u64,
    /// Hosts set back to ACTIVE because tasks waited.
    pub(super) undone: u64,
    /// Drains given up.
    pub(super) given_up: u64,
}

/// The container instance id of simulated instance `id`.
pub(super) fn arn(id: u32) -> String {
    format!("i-{id}")
}

fn instance_id(arn: &str) -> Option<u32> {
    arn.strip_prefix("i-")?.parse().ok()
}

impl Sim<'_> {
    /// Whether this run's policy deploys the calculator with the group (and so consolidates).
    pub(super) fn runs_the_decision(&self) -> bool {
        matches!(
            self.sc.policy,
            PolicyKind::HostsToAdd
                | PolicyKind::HostsToAddMinusOne
                | PolicyKind::CapacityProviderConsolidation
        )
    }

    /// One run of the calculator: decide on the reading, carry the steps out, and return the
    /// decision with `HostsToRemove` as settled (0 when left out).
    pub(super) fn decide_and_act(
        &mut self,
        trigger: Trigger,
        failed: &[String],
    ) -> Result<(Decision, u32), CapacityError> {
        let mut demand = self.demand();
        demand.placement_failures = failed
            .iter()
            .map(|s| capacity_core::PlacementFailure::new(s.clone(), "RESOURCE:MEMORY"))
            .collect();
        let settings = self.settings();
        let reading = SimReading {
            instances: self.container_instances(false),
            worst_case: self.worst_case()?,
            demand,
            placement: self.task_placement(trigger),
            services: self.placement_rules(),
            group: self.group_reading(),
            launch: Some(self.sc.group_launch()),
            provider: (settings.mode == ScalingMode::CapacityProvider).then(|| ClusterShape {
                providers: vec![ProviderShape {
                    name: GROUP.to_owned(),
                    auto_scaling_group: Some(GROUP.to_owned()),
                    managed_scaling: true,
                    managed_termination_protection: true,
                }],
            }),
            memory: self.calculator.plan.clone(),
            tags: self.calculator.tags.clone(),
            settings,
            trigger,
            now: self.t,
        };
        let (decision, effects, hosts_to_remove) = decide_on(&reading)?;
        self.calculator.plan = decision.memory.clone();
        self.apply(&effects, &decision);
        Ok((decision, hosts_to_remove))
    }

    /// The template's settings of the calculator for this run's policy.
    fn settings(&self) -> Settings {
        Settings {
            mode: if self.sc.policy == PolicyKind::CapacityProviderConsolidation {
                ScalingMode::CapacityProvider
            } else {
                ScalingMode::SelfManaged
            },
            consolidation: Consolidation::Act,
            policy: self.sc.headroom,
            budget: self.sc.disruption_budget,
            stability_window: Duration::from_secs(self.sc.consolidation_stability),
            auto_scaling_group: Some(GROUP.to_owned()),
            margin_task: self.sc.margin_task,
            ..Settings::default()
        }
    }

    /// The group as DescribeAutoScalingGroups would show it.
    fn group_reading(&self) -> AutoScalingGroup {
        let mut group = AutoScalingGroup::with(GROUP, self.sc.asg.min, self.desired_capacity, &[]);
        group.instances = self
            .instances
            .iter()
            .filter(|i| !i.outside_group)
            .filter_map(|i| {
                let state = match i.state {
                    // EC2's status checks pass within a minute; the ECS agent registers the
                    // instance at the end of its boot: in between the group has it InService,
                    // and the plan sees an instance outside the cluster.
                    InstState::Launching { .. }
                        if self.t.saturating_sub(i.launched_at.unwrap_or(self.t))
                            >= IN_SERVICE_AFTER =>
                    {
                        "InService"
                    }
                    InstState::Launching { .. } => "Pending",
                    InstState::Active | InstState::Draining { deadline: None } => "InService",
                    InstState::Draining { deadline: Some(_) } => "Terminating:Wait",
                    InstState::Terminated => return None,
                };
                Some(GroupInstance::new(&arn(i.id), state).in_zone(self.zone_of(i.id)))
            })
            .collect();
        group
    }

    /// The tasks per instance as the calculator's read vouches for them (see the module).
    fn task_placement(&mut self, trigger: Trigger) -> TaskPlacement {
        let t = self.t;
        // DescribeContainerInstances counts every instance's tasks, 0 included.
        let mut counts: HashMap<String, u64> = self
            .instances
            .iter()
            .filter(|i| matches!(i.state, InstState::Active | InstState::Draining { .. }))
            .map(|i| (arn(i.id), 0))
            .collect();
        for task in &self.tasks {
            *counts.entry(arn(task.instance)).or_default() += 1;
        }
        let full_read = trigger != Trigger::ContainerInstanceStateChange
            || self
                .calculator
                .full_read
                .is_none_or(|at| t.saturating_sub(at) >= CLUSTER_REFRESH);
        if full_read {
            self.calculator.full_read = Some(t);
            let on_instances: u64 = counts.values().sum();
            let of_services = self
                .tasks
                .iter()
                .filter(|k| !matches!(k.state, TaskState::Stopping { .. }))
                .filter(|k| !self.is_job(k))
                .count() as u64;
            let recent = self
                .calculator
                .listing
                .as_ref()
                .is_some_and(|(at, _)| t.saturating_sub(*at) <= LISTING_MAX_AGE);
            if !(recent && on_instances == of_services) {
                let listed = self.listed_tasks();
                self.calculator.listing = Some((t, listed));
            }
        }
        TaskPlacement {
            tasks: self.calculator.listing.as_ref().map(|(_, l)| l.clone()),
            task_counts: counts,
        }
    }

    /// A listing now: ListTasks (desired status RUNNING, so not the tasks being stopped) and
    /// DescribeTasks' group of each.
    fn listed_tasks(&self) -> HashMap<String, Vec<HostTask>> {
        let mut listed: HashMap<String, Vec<HostTask>> = HashMap::new();
        for task in &self.tasks {
            if matches!(task.state, TaskState::Stopping { .. }) {
                continue;
            }
            let Some(shape) = self.shape(task).cloned() else {
                continue;
            };
            let owner = self.owner(task);
            listed
                .entry(arn(task.instance))
                .or_default()
                .push(HostTask { shape, owner });
        }
        listed
    }

    /// Applies what the decision's steps did to the simulated cluster.
    fn apply(&mut self, effects: &[Effect], decision: &Decision) {
        let plan = &decision.plan;
        if let Some(acting) = &decision.acting {
            self.calculator.given_up += acting.changes.given_up.len() as u64;
        }
        for effect in effects {
            match effect {
                Effect::PutMark { host, name, value }
                | Effect::DeleteMark { host, name, value } => {
                    let put = matches!(effect, Effect::PutMark { .. });
                    if let Some(inst) = instance_id(host)
                        .and_then(|id| self.instances.iter_mut().find(|i| i.id == id))
                    {
                        if put {
                            inst.marks.insert(name.clone(), value.clone());
                        } else {
                            inst.marks.remove(name);
                        }
                    }
                }
                Effect::Tag { key, value } => {
                    self.calculator.tags.insert(key.clone(), value.clone());
                }
                Effect::SetStatus { host, status } => {
                    let Some(id) = instance_id(host) else {
                        continue;
                    };
                    let tasks = self.tasks.iter().filter(|k| k.instance == id).count();
                    let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) else {
                        continue;
                    };
                    match (status, inst.state) {
                        (TargetStatus::Draining, InstState::Active) => {
                            inst.state = InstState::Draining { deadline: None };
                            inst.consolidating = true;
                            self.changed = true;
                            let why = plan
                                .remove
                                .iter()
                                .find(|h| h.id == *host)
                                .map_or(String::new(), |h| h.why.to_string());
                            let name = self.instance_name(id);
                            self.log(format!(
                                "consolidation: calculator sets {name} DRAINING ({tasks} task(s); {why}; budget {}, {} draining already)",
                                plan.budget, plan.draining
                            ));
                        }
                        (TargetStatus::Active, InstState::Draining { deadline: None }) => {
                            inst.state = InstState::Active;
                            inst.consolidating = false;
                            self.changed = true;
                            self.calculator.undone += 1;
                            let name = self.instance_name(id);
                            self.log(format!(
                                "consolidation undone or given up: {name} set back to ACTIVE ({tasks} task(s))"
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Who task `task` belongs to, as DescribeTasks' group says.
    pub(super) fn owner(&self, task: &super::Task) -> TaskOwner {
        match self.sc.services.get(task.service) {
            Some(def) if def.is_daemon() => TaskOwner::Daemon(def.name.clone()),
            Some(def) if def.is_job() => TaskOwner::Standalone(format!("family:{}", def.name)),
            Some(def) => TaskOwner::Service(def.name.clone()),
            None => TaskOwner::Standalone("family:unknown".to_owned()),
        }
    }

    /// Whether `task` was started by RunTask (a standalone job).
    pub(super) fn is_job(&self, task: &super::Task) -> bool {
        self.sc
            .services
            .get(task.service)
            .is_some_and(|def| def.is_job())
    }
}
