//! The handler: parse, read ECS within the budget, choose (pure), answer. Generic over
//! [`InstanceTasks`].
//!
//! Its one Lambda error type is `Permanent.InvalidEvent`, for a payload that is not Auto
//! Scaling's. Auto Scaling treats an error like an empty answer: it invokes the function
//! again a little later, and the scale-in waits (see docs/scale-in-chooser.md). Everything
//! else answers: an ECS read that fails or overruns the budget is not an error but the
//! group's own suggestions, so a slow or failing ECS never blocks a scale-in.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use capacity_aws::clock::{Clock, SystemClock, epoch_ms};
use capacity_aws::error_chain;
use capacity_aws::scale_in::InstanceTasks;
use capacity_core::scale_in::{DrainCost, ScaleInChoice, choose};
use serde_json::Value;
use thiserror::Error;

use crate::config::Config;
use crate::event::{self, EventError, TerminationPolicyResponse};

/// What the handler needs, built once per process and reused across warm invocations.
pub struct Deps<R> {
    pub reader: R,
    pub config: Config,
    /// The wall clock the marks' age is taken on, passed in so that tests pin it.
    pub clock: Arc<dyn Clock>,
}

impl<R> Deps<R> {
    /// `reader` and `config` on the system clock.
    pub fn new(reader: R, config: Config) -> Deps<R> {
        Deps {
            reader,
            config,
            clock: Arc::new(SystemClock),
        }
    }
}

/// What the ranking was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// The tasks on each suggested instance, read from ECS within the budget.
    Ecs,
    /// ECS was not read in time (or failed): the group's own suggestions, in its order.
    GroupOrder { reason: String },
    /// Nothing was asked (or nothing suggested for what was asked): no read.
    NothingAsked,
}

impl Basis {
    fn as_str(&self) -> &'static str {
        match self {
            Basis::Ecs => "ecs",
            Basis::GroupOrder { .. } => "group_order",
            Basis::NothingAsked => "nothing_asked",
        }
    }
}

/// One invocation's result: the answer, and how it was reached (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub response: TerminationPolicyResponse,
    pub choice: ScaleInChoice,
    pub basis: Basis,
}

/// Why an invocation failed: only a payload that is not Auto Scaling's.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
}

impl HandlerError {
    /// The Lambda error type, in the vocabulary of the other two functions.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(_) => "Permanent.InvalidEvent",
        }
    }
}

impl capacity_aws::LambdaError for HandlerError {
    fn error_type(&self) -> &'static str {
        HandlerError::error_type(self)
    }
}

capacity_aws::impl_diagnostic!(HandlerError);

/// Handles one invocation: parse the payload, read the tasks of the suggested instances
/// within `config.read_budget`, choose, answer.
pub async fn handle<R: InstanceTasks>(
    payload: Value,
    deps: &Deps<R>,
) -> Result<Outcome, HandlerError> {
    let input = event::parse(payload)?;
    let (capacity, suggested) = input.to_core();
    // Only the instances some entry can take are read, each once, in the group's order.
    let mut seen = HashSet::new();
    let to_read: Vec<String> = suggested
        .iter()
        .filter(|instance| {
            capacity.iter().any(|c| {
                c.capacity > 0
                    && c.availability_zone == instance.availability_zone
                    && c.market_option == instance.market_option
            })
        })
        .filter(|instance| seen.insert(instance.instance_id.as_str()))
        .map(|instance| instance.instance_id.clone())
        .collect();
    let cluster = deps.config.cluster.as_str();
    let started = Instant::now();
    let (basis, counts) = if to_read.is_empty() {
        (Basis::NothingAsked, None)
    } else {
        let read = deps.reader.instance_tasks(cluster, &to_read);
        match tokio::time::timeout(deps.config.read_budget, read).await {
            Ok(Ok(counts)) => (Basis::Ecs, Some(counts)),
            Ok(Err(err)) => (
                Basis::GroupOrder {
                    reason: format!("ECS read failed: {}", error_chain(&err)),
                },
                None,
            ),
            Err(_) => (
                Basis::GroupOrder {
                    reason: format!(
                        "ECS not read within the budget of {} ms",
                        deps.config.read_budget.as_millis()
                    ),
                },
                None,
            ),
        }
    };
    let read_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let now = epoch_ms(deps.clock.now()) / 1000;
    let costs: HashMap<String, DrainCost> = match &counts {
        Some(read) => read
            .tasks
            .iter()
            .map(|(id, tasks)| {
                let (cost, note) = DrainCost::of(*tasks, read.marks.get(id), now);
                if let Some(note) = note {
                    tracing::info!(cluster, ec2_instance_id = %id, note = %note, "a planned-removal mark was not taken: ranked by its tasks");
                }
                (id.clone(), cost)
            })
            .collect(),
        None => HashMap::new(),
    };
    let choice = choose(&capacity, &suggested, |id| match &counts {
        Some(_) => costs.get(id).copied().unwrap_or(DrainCost::NotInCluster),
        None => DrainCost::Unknown,
    });
    let response = TerminationPolicyResponse {
        instance_ids: choice.instance_ids(),
    };
    log(&input, &choice, &basis, cluster, read_ms, &response);
    Ok(Outcome {
        response,
        choice,
        basis,
    })
}

fn log(
    input: &event::TerminationPolicyInput,
    choice: &ScaleInChoice,
    basis: &Basis,
    cluster: &str,
    read_ms: u64,
    response: &TerminationPolicyResponse,
) {
    let group = input.auto_scaling_group_name.as_deref().unwrap_or("");
    let cause = input.cause.as_deref().unwrap_or("");
    if let Basis::GroupOrder { reason } = basis {
        tracing::warn!(
            cluster,
            auto_scaling_group_name = group,
            reason = %reason,
            read_ms,
            "ECS not read in time: answering with the group's own suggestions"
        );
    }
    for shortfall in &choice.shortfalls {
        tracing::warn!(
            cluster,
            auto_scaling_group_name = group,
            availability_zone = %shortfall.availability_zone,
            market_option = %shortfall.market_option,
            asked = shortfall.asked,
            suggested = shortfall.suggested,
            "fewer instances suggested than asked: answering every one"
        );
    }
    let costs: Vec<String> = choice
        .chosen
        .iter()
        .map(|c| match c.cost {
            DrainCost::NotInCluster => format!("{} not in cluster", c.instance_id),
            DrainCost::Planned(rank) => format!("{} planned #{rank}", c.instance_id),
            DrainCost::Checked(n) => format!("{} checked to fit, {n} tasks", c.instance_id),
            DrainCost::Tasks(n) => format!("{} {n} tasks", c.instance_id),
            DrainCost::DoNotDisrupt => format!("{} do-not-disrupt", c.instance_id),
            DrainCost::Unknown => format!("{} unknown", c.instance_id),
        })
        .collect();
    tracing::info!(
        cluster,
        auto_scaling_group_name = group,
        cause,
        has_more_instances = input.has_more_instances.unwrap_or(false),
        asked = input.asked(),
        suggested = input.instances.len(),
        basis = basis.as_str(),
        read_ms,
        instance_ids = %response.instance_ids.join(","),
        chosen = %costs.join(", "),
        "scale-in instances chosen"
    );
}
