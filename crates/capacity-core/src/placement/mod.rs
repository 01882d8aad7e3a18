//! ECS task placement constraints, as far as the consolidation plan can check them before ECS
//! does: `distinctInstance` ("place each task on a different container instance") and the
//! `memberOf` expressions of ECS's cluster query language whose every term the plan can
//! evaluate on what it read of a host (its attributes: `ecs.availability-zone`,
//! `ecs.instance-type`, custom ones; its EC2 instance id).
//!
//! A term the plan cannot evaluate — `task:group`, `runningTasksCount`, `registeredAt`,
//! `agentVersion`, `agentConnected`, a regular expression beyond literals, `.` and `.*` —
//! makes the whole expression unknown ([`Expression::eval`] is `None`): a task bound by it
//! is not moved, so its host stays. ECS's grammar (Developer Guide, "Cluster query
//! language"): `subject operator [argument]`, compound with `and`/`&&`, `or`/`||`,
//! `not`/`!` and parentheses; lists `[a, b]`; operators `==` `!=` `in` `not_in` `exists`
//! `!exists` `=~` `!~` and their word forms.
//!
//! ```
//! use std::collections::BTreeMap;
//! use capacity_core::placement::{Expression, HostFacts};
//!
//! let expr = Expression::parse("attribute:ecs.instance-type =~ m5.* and attribute:ecs.availability-zone != eu-west-1c")?;
//! let attributes = BTreeMap::from([
//!     ("ecs.instance-type".to_owned(), "m5.large".to_owned()),
//!     ("ecs.availability-zone".to_owned(), "eu-west-1a".to_owned()),
//! ]);
//! let host = HostFacts { attributes: &attributes, ec2_instance_id: Some("i-1") };
//! assert_eq!(expr.eval(&host), Some(true));
//! // A term about the tasks on the host cannot be judged before ECS places them.
//! assert_eq!(Expression::parse("task:group == service:web")?.eval(&host), None);
//! # Ok::<(), capacity_core::placement::ExpressionError>(())
//! ```

mod expression;

pub use expression::{Expression, ExpressionError, HostFacts};

/// The attribute naming a container instance's Availability Zone.
pub const ZONE_ATTRIBUTE: &str = "ecs.availability-zone";
/// The attribute naming a container instance's EC2 instance type.
pub const INSTANCE_TYPE_ATTRIBUTE: &str = "ecs.instance-type";

/// A placement constraint of a service (or of its task definition: `memberOf` only).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "type", rename_all = "camelCase")
)]
pub enum PlacementConstraint {
    /// At most one task of the service on each container instance.
    DistinctInstance,
    /// Only on container instances the expression holds for.
    MemberOf { expression: Expression },
    /// A constraint as ECS holds it that the plan does not read (an expression that does
    /// not parse here, a type it does not know): its tasks are not moved.
    Unreadable { text: String, problem: String },
}

/// What binds where a service's tasks go, as the plan reads it from the service (its
/// `placementConstraints` and `placementStrategy`) and its task definition (`memberOf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ServicePlacement {
    /// The service's name.
    pub service: String,
    pub constraints: Vec<PlacementConstraint>,
    /// Its strategy spreads its tasks by `attribute:ecs.availability-zone` (the console's "AZ
    /// balanced spread" and "AZ balanced binpack"): a task moved off a host is re-placed in
    /// the same zone, so the spread is kept.
    pub spread_by_zone: bool,
    /// The capacity providers of its strategy (empty: the cluster's default strategy, or a
    /// launch type).
    pub capacity_providers: Vec<String>,
}

impl ServicePlacement {
    /// At most one of its tasks per container instance.
    pub fn distinct_instance(&self) -> bool {
        self.constraints
            .iter()
            .any(|c| matches!(c, PlacementConstraint::DistinctInstance))
    }

    /// The placement rules of `service` as ECS holds them: its `placementConstraints` (type and
    /// expression, as sent), its task definition's `memberOf` expressions, whether its
    /// strategy spreads by zone, and its capacity providers. A constraint that does not read
    /// is kept as [`PlacementConstraint::Unreadable`]: its tasks are then not moved.
    pub fn read(
        service: &str,
        constraints: &[(String, Option<String>)],
        task_definition_member_of: &[String],
        spread_by_zone: bool,
        capacity_providers: Vec<String>,
    ) -> ServicePlacement {
        let member_of = |text: &str| match Expression::parse(text) {
            Ok(expression) => PlacementConstraint::MemberOf { expression },
            Err(e) => PlacementConstraint::Unreadable {
                text: text.to_owned(),
                problem: e.problem,
            },
        };
        let mut out: Vec<PlacementConstraint> = constraints
            .iter()
            .map(
                |(kind, expression)| match (kind.as_str(), expression.as_deref()) {
                    ("distinctInstance", _) => PlacementConstraint::DistinctInstance,
                    ("memberOf", Some(text)) => member_of(text),
                    (kind, text) => PlacementConstraint::Unreadable {
                        text: text.unwrap_or_default().to_owned(),
                        problem: format!("constraint type {kind:?}"),
                    },
                },
            )
            .collect();
        out.extend(task_definition_member_of.iter().map(|t| member_of(t)));
        ServicePlacement {
            service: service.to_owned(),
            constraints: out,
            spread_by_zone,
            capacity_providers,
        }
    }

    /// The first constraint the plan cannot judge, as text, if any: its tasks are not moved.
    pub fn unjudgeable(&self) -> Option<String> {
        self.constraints.iter().find_map(|c| match c {
            PlacementConstraint::MemberOf { expression } if !expression.judgeable() => {
                Some(expression.to_string())
            }
            PlacementConstraint::Unreadable { text, problem } => {
                Some(format!("{text} ({problem})"))
            }
            _ => None,
        })
    }

    /// Whether every `memberOf` expression holds for `host` (each judgeable).
    pub fn allows(&self, host: &HostFacts<'_>) -> bool {
        self.constraints.iter().all(|c| match c {
            PlacementConstraint::DistinctInstance => true,
            PlacementConstraint::MemberOf { expression } => expression.eval(host) == Some(true),
            PlacementConstraint::Unreadable { .. } => false,
        })
    }
}
