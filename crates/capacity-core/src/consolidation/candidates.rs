//! Which hosts are candidates at all, each other host with its reason, and the order the
//! candidates are tried in (cheapest first).

use std::cmp::Ordering;

use super::trial::Trial;
use super::{KeptHost, ScaleInInput, Unconsolidatable};
use crate::{ContainerInstance, InstanceStatus};

/// A host the plan may try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Candidate {
    /// An instance of the group with no container instance (index into
    /// [`ScaleInInput::not_in_cluster`]).
    Stranger(usize),
    /// A container instance (index into [`ScaleInInput::hosts`]).
    Host(usize),
}

impl Candidate {
    /// The host's id and EC2 id, as the plan names it.
    pub(super) fn ids<'i>(&self, input: &'i ScaleInInput<'_>) -> (&'i str, Option<&'i str>) {
        match *self {
            Candidate::Stranger(s) => {
                let id = input.not_in_cluster[s].as_str();
                (id, Some(id))
            }
            Candidate::Host(i) => {
                let instance = &input.hosts[i].instance;
                (instance.id.as_str(), instance.ec2_instance_id.as_deref())
            }
        }
    }

    /// Its Availability Zone, when known.
    pub(super) fn zone<'i>(&self, input: &'i ScaleInInput<'_>) -> Option<&'i str> {
        match *self {
            Candidate::Stranger(s) => input
                .zones
                .and_then(|z| z.stranger_zones.get(&input.not_in_cluster[s]))
                .map(String::as_str),
            Candidate::Host(i) => input.hosts[i].instance.zone(),
        }
    }

    /// The plan's word for keeping it, for `why`.
    pub(super) fn kept(&self, input: &ScaleInInput<'_>, why: Unconsolidatable) -> KeptHost {
        let (id, ec2) = self.ids(input);
        KeptHost {
            id: id.to_owned(),
            ec2_instance_id: ec2.map(str::to_owned),
            why,
        }
    }
}

/// Why host `i` is no candidate, or `None` when it is one: only ACTIVE hosts with a connected
/// agent, not marked do-not-disrupt, whose tasks are known and would all move (no standalone
/// task, no constraint the plan cannot check), not given up lately, and — when empty hosts
/// are managed scaling's — with a task to move.
pub(super) fn not_a_candidate(input: &ScaleInInput<'_>, i: usize) -> Option<Unconsolidatable> {
    let h = &input.hosts[i];
    let status = &h.instance.status;
    if *status == InstanceStatus::Draining {
        Some(Unconsolidatable::Draining)
    } else if *status != InstanceStatus::Active {
        Some(Unconsolidatable::NotActive {
            status: status.to_string(),
        })
    } else if !h.instance.agent_connected {
        Some(Unconsolidatable::AgentDisconnected)
    } else if h.do_not_disrupt {
        Some(Unconsolidatable::DoNotDisrupt)
    } else if !h.tasks_known {
        Some(Unconsolidatable::TasksUnknown)
    } else if let Some(until) = h.given_up_until.filter(|u| input.now_unix_secs < *u) {
        Some(Unconsolidatable::GivenUp { until })
    } else if let Some(group) = h.standalone_task() {
        Some(Unconsolidatable::StandaloneTask {
            group: group.to_owned(),
        })
    } else if let Some((service, expression)) = h.moving_tasks().find_map(|t| {
        let service = t.service()?;
        let rules = input.services.iter().find(|s| s.service == service)?;
        Some((service, rules.unjudgeable()?))
    }) {
        Some(Unconsolidatable::TaskCannotMove {
            service: service.to_owned(),
            expression,
        })
    } else if input.leave_empty_hosts && h.runs_only_daemons() {
        Some(Unconsolidatable::LeftToManagedScaling)
    } else {
        None
    }
}

/// The candidates in the order they are tried, and every other host kept with its reason.
///
/// Cheapest first: the group's hosts not in the cluster, then by tasks to move per vCPU saved
/// (empty hosts first); the sort is stable, so the group's order among equals. A host's tasks
/// to move include the waiting or draining tasks already placed on it (`trial`).
pub(super) fn ordered(
    input: &ScaleInInput<'_>,
    trial: &Trial<'_>,
) -> (Vec<Candidate>, Vec<KeptHost>) {
    let mut hosts = Vec::new();
    let mut others = Vec::new();
    for i in 0..input.hosts.len() {
        match not_a_candidate(input, i) {
            Some(why) => others.push(kept(&input.hosts[i].instance, why)),
            None => hosts.push(i),
        }
    }
    // Each host's cost once, not once per comparison (a host's tasks are scanned for it).
    let mut costed: Vec<(usize, Cost)> = hosts
        .into_iter()
        .map(|i| {
            let cost = Cost {
                tasks: trial.tasks_to_move(i),
                cpu: u64::from(input.hosts[i].instance.registered.cpu),
            };
            (i, cost)
        })
        .collect();
    costed.sort_by(|(_, a), (_, b)| a.cmp_per_cpu(b));
    let mut ordered: Vec<Candidate> = (0..input.not_in_cluster.len())
        .map(Candidate::Stranger)
        .collect();
    ordered.extend(costed.into_iter().map(|(i, _)| Candidate::Host(i)));
    (ordered, others)
}

pub(super) fn kept(instance: &ContainerInstance, why: Unconsolidatable) -> KeptHost {
    KeptHost {
        id: instance.id.clone(),
        ec2_instance_id: instance.ec2_instance_id.clone(),
        why,
    }
}

/// The tasks to move per vCPU saved, compared without division.
struct Cost {
    tasks: u64,
    cpu: u64,
}

impl Cost {
    /// Empty hosts first, then tasks / CPU ascending (a host of no CPU with tasks last).
    fn cmp_per_cpu(&self, other: &Cost) -> Ordering {
        let class = |c: &Cost| match (c.tasks, c.cpu) {
            (0, _) => 0,
            (_, 0) => 2,
            _ => 1,
        };
        class(self).cmp(&class(other)).then_with(|| {
            if class(self) == 1 {
                (self.tasks * other.cpu).cmp(&(other.tasks * self.cpu))
            } else {
                Ordering::Equal
            }
        })
    }
}
