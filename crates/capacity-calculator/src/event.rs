//! The input events: EventBridge's "ECS Container Instance State Change" (the cluster's
//! hosts changed) and "ECS Service Action" (a service could not place a task, among others).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use capacity_aws::ecs_json::{ContainerInstanceJson, EcsJsonError};
use capacity_aws::{ClusterArn, InvalidClusterArn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The `detail-type` of container instance state changes.
pub const DETAIL_TYPE: &str = "ECS Container Instance State Change";
/// The `detail-type` of service actions.
pub const SERVICE_ACTION: &str = "ECS Service Action";
/// The service action that sizes the cluster: the scheduler found no room for a task.
pub const PLACEMENT_FAILURE: &str = "SERVICE_TASK_PLACEMENT_FAILURE";
/// The `source` of ECS events.
pub const SOURCE: &str = "aws.ecs";
/// The `detail-type` of an EventBridge schedule's events (the calculator's clock).
pub const SCHEDULED: &str = "Scheduled Event";
/// The `source` of an EventBridge schedule's events.
pub const SCHEDULE_SOURCE: &str = "aws.events";

/// The `detail` of a container instance state change: a container instance as
/// DescribeContainerInstances returns it, plus `clusterArn` and `updatedAt` — capacity-aws's
/// one model of that JSON. aws_lambda_events has no type for it. Everything is kept as it
/// came, so the event round-trips.
pub type ContainerInstanceStateChange = ContainerInstanceJson;

/// The event, typed.
pub type StateChangeEvent = EventBridgeEvent<ContainerInstanceStateChange>;

/// An event the calculator acts on: its cluster, parsed once here, and its detail.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    pub cluster: ClusterArn,
    pub event: StateChangeEvent,
}

impl ParsedEvent {
    /// The container instance as the event describes it — the same figures
    /// DescribeContainerInstances would return at its `version` — or why the event lacks
    /// them (then the calculator reads the cluster instead). Converted by capacity-aws's one
    /// strict converter: a missing value is an error naming the field, never a 0.
    pub fn container_instance(&self) -> Result<capacity_core::ContainerInstance, EcsJsonError> {
        self.event.detail.to_core("detail")
    }
}

/// The `detail` of an "ECS Service Action" event, as AWS documents it ("Amazon ECS service
/// action events"): `eventType` (INFO, WARN, ERROR), `eventName`, `clusterArn`, `createdAt`,
/// and for some events `reason` and `capacityProviderArns`. Other fields are kept, so the
/// event round-trips. Unlike state changes it carries no version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceActionDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub event_name: String,
    pub cluster_arn: String,
    /// Why ECS could not place the task (e.g. `RESOURCE:MEMORY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_arns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A service action event, its cluster parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceActionEvent {
    pub cluster: ClusterArn,
    pub event: EventBridgeEvent<ServiceActionDetail>,
}

impl ServiceActionEvent {
    /// Whether the scheduler found no room for a task: the one service action to act on.
    pub fn is_placement_failure(&self) -> bool {
        self.event.detail.event_name == PLACEMENT_FAILURE
    }

    /// The service the event is about (its ARN, from `resources`), if named.
    pub fn service(&self) -> Option<&str> {
        self.event.resources.as_deref()?.first().map(String::as_str)
    }
}

/// Any event the calculator is wired to.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    ContainerInstance(Box<ParsedEvent>),
    ServiceAction(Box<ServiceActionEvent>),
    /// The schedule's tick (`detail-type` [`SCHEDULED`], source [`SCHEDULE_SOURCE`]): it names
    /// no cluster; the function's `ECS_CLUSTER` does.
    Scheduled(Box<EventBridgeEvent<Value>>),
}

impl Input {
    /// The cluster the event is about; `None` for a scheduled event, which names none.
    pub fn cluster(&self) -> Option<&ClusterArn> {
        match self {
            Input::ContainerInstance(e) => Some(&e.cluster),
            Input::ServiceAction(e) => Some(&e.cluster),
            Input::Scheduled(_) => None,
        }
    }
}

/// An input that is not an event the calculator is wired to.
#[derive(Debug, Error)]
pub enum EventError {
    #[error(
        "expected an EventBridge event (detail-type {DETAIL_TYPE:?} or {SERVICE_ACTION:?} from source {SOURCE:?}, or {SCHEDULED:?} from {SCHEDULE_SOURCE:?}): at {path}: {source}"
    )]
    Shape {
        /// Where in the event the problem is (`detail.version`, or `.` for the event itself).
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "expected detail-type {DETAIL_TYPE:?} or {SERVICE_ACTION:?} from source {SOURCE:?}, or {SCHEDULED:?} from {SCHEDULE_SOURCE:?}; got detail-type {detail_type:?} from source {source_name:?}"
    )]
    WrongKind {
        detail_type: String,
        source_name: String,
    },
    #[error("detail.clusterArn: {0}")]
    BadClusterArn(#[from] InvalidClusterArn),
}

/// Parses any event the calculator takes, by its `detail-type`.
pub fn parse_input(event: Value) -> Result<Input, EventError> {
    match event.get("detail-type").and_then(Value::as_str) {
        Some(SERVICE_ACTION) => {
            parse_service_action(event).map(|e| Input::ServiceAction(Box::new(e)))
        }
        Some(SCHEDULED) => parse_scheduled(event).map(|e| Input::Scheduled(Box::new(e))),
        _ => parse(event).map(|e| Input::ContainerInstance(Box::new(e))),
    }
}

/// Parses and checks the schedule's tick (EventBridge's "Scheduled Event" from `aws.events`).
pub fn parse_scheduled(event: Value) -> Result<EventBridgeEvent<Value>, EventError> {
    typed(event, SCHEDULED, SCHEDULE_SOURCE)
}

/// `event` as an EventBridge event with a `T` detail, of `detail_type` from `source`; a bad
/// field is named by its path.
fn typed<T>(
    event: Value,
    detail_type: &str,
    source: &str,
) -> Result<EventBridgeEvent<T>, EventError>
where
    T: serde::de::DeserializeOwned + Serialize,
{
    let event: EventBridgeEvent<T> =
        serde_path_to_error::deserialize(event).map_err(|e| EventError::Shape {
            path: e.path().to_string(),
            source: e.into_inner(),
        })?;
    if event.detail_type != detail_type || event.source != source {
        return Err(EventError::WrongKind {
            detail_type: event.detail_type,
            source_name: event.source,
        });
    }
    Ok(event)
}

/// Parses and checks a service action event; returns it with the cluster ARN parsed.
pub fn parse_service_action(event: Value) -> Result<ServiceActionEvent, EventError> {
    let event: EventBridgeEvent<ServiceActionDetail> = typed(event, SERVICE_ACTION, SOURCE)?;
    let cluster = ClusterArn::parse(&event.detail.cluster_arn)?;
    Ok(ServiceActionEvent { cluster, event })
}

/// Parses and checks a container instance state change; returns it with the cluster ARN
/// parsed.
pub fn parse(event: Value) -> Result<ParsedEvent, EventError> {
    let raw_detail = event.get("detail").cloned().unwrap_or(Value::Null);
    let mut event: StateChangeEvent = typed(event, DETAIL_TYPE, SOURCE)?;
    event.detail.keep_other_fields(&raw_detail);
    let Some(arn) = event.detail.cluster_arn.as_deref() else {
        return Err(EventError::Shape {
            path: "detail".to_owned(),
            source: serde::de::Error::missing_field("clusterArn"),
        });
    };
    let cluster = ClusterArn::parse(arn)?;
    Ok(ParsedEvent { cluster, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_DOCS: &str =
        include_str!("../tests/fixtures/aws-docs-container-instance-state-change.json");
    const BOOK: &str =
        include_str!("../tests/fixtures/book-ch12-container-instance-state-change.json");
    const PLACEMENT_FAILURE_EVENT: &str =
        include_str!("../tests/fixtures/aws-docs-service-task-placement-failure.json");
    const STEADY_STATE_EVENT: &str =
        include_str!("../tests/fixtures/aws-docs-service-steady-state.json");

    #[test]
    fn aws_documented_placement_failure_parses_and_round_trips() {
        let Input::ServiceAction(action) = parse_input(json(PLACEMENT_FAILURE_EVENT)).unwrap()
        else {
            panic!("a service action");
        };
        assert!(action.is_placement_failure());
        assert_eq!(
            action.cluster.as_str(),
            "arn:aws:ecs:us-west-2:111122223333:cluster/default"
        );
        assert_eq!(
            action.service(),
            Some("arn:aws:ecs:us-west-2:111122223333:service/default/servicetest")
        );
        assert_eq!(
            action.event.detail.reason.as_deref(),
            Some("RESOURCE:FARGATE")
        );
        assert_eq!(
            serde_json::to_value(&action.event).unwrap(),
            json(PLACEMENT_FAILURE_EVENT)
        );
    }

    #[test]
    fn aws_documented_steady_state_is_a_service_action_that_is_no_placement_failure() {
        let Input::ServiceAction(action) = parse_input(json(STEADY_STATE_EVENT)).unwrap() else {
            panic!("a service action");
        };
        assert!(!action.is_placement_failure());
        assert_eq!(
            serde_json::to_value(&action.event).unwrap(),
            json(STEADY_STATE_EVENT)
        );
    }

    #[test]
    fn a_service_action_without_or_with_a_bad_cluster_is_refused() {
        let mut event = json(PLACEMENT_FAILURE_EVENT);
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("clusterArn");
        let err = parse_input(event).unwrap_err();
        assert!(matches!(err, EventError::Shape { .. }), "{err}");
        let mut event = json(PLACEMENT_FAILURE_EVENT);
        event["detail"]["clusterArn"] = "default".into();
        assert!(matches!(
            parse_input(event),
            Err(EventError::BadClusterArn(_))
        ));
        let mut event = json(PLACEMENT_FAILURE_EVENT);
        event["source"] = "custom.app".into();
        assert!(matches!(
            parse_input(event),
            Err(EventError::WrongKind { .. })
        ));
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn aws_documented_example_parses_and_round_trips() {
        let ParsedEvent { cluster, event } = parse(json(AWS_DOCS)).unwrap();
        assert_eq!(
            cluster.as_str(),
            "arn:aws:ecs:us-east-1:111122223333:cluster/default"
        );
        assert_eq!(cluster.name(), "default");
        assert_eq!(event.detail.ec2_instance_id.as_deref(), Some("i-f3a8506b"));
        assert_eq!(serde_json::to_value(&event).unwrap(), json(AWS_DOCS));
    }

    #[test]
    fn book_chapter_12_event_parses_and_round_trips() {
        let event = parse(json(BOOK)).unwrap().event;
        assert_eq!(
            event.detail.cluster_arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:385605022855:cluster/todobackend-cluster")
        );
        assert_eq!(serde_json::to_value(&event).unwrap(), json(BOOK));
    }

    #[test]
    fn the_event_carries_the_instance_as_describe_would_return_it() {
        let parsed = parse(json(BOOK)).unwrap();
        let instance = parsed.container_instance().expect("complete detail");
        assert_eq!(
            instance.registered,
            capacity_core::Resources {
                ports_tcp: [22, 2375, 2376, 51678, 51679].into(),
                ..capacity_core::Resources::new(1024, 993)
            }
        );
        assert_eq!(
            (instance.remaining.cpu, instance.remaining.memory_mib),
            (774, 593)
        );
        assert_eq!(instance.instance_type.as_deref(), Some("t2.micro"));
        assert!(instance.accepts_tasks());
        assert_eq!(parsed.event.detail.version, Some(3));
    }

    #[test]
    fn an_incomplete_detail_carries_no_instance() {
        let mut event = json(BOOK);
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("remainingResources");
        let err = parse(event).unwrap().container_instance();
        assert_eq!(err.unwrap_err().path(), Some("detail.remainingResources"));
        let mut event = json(BOOK);
        event["detail"]["registeredResources"][0]["type"] = "STRINGSET".into();
        assert!(parse(event).unwrap().container_instance().is_err());
        // An INTEGER without integerValue is "no figures", never a made-up 0.
        let mut event = json(BOOK);
        event["detail"]["remainingResources"][1]
            .as_object_mut()
            .unwrap()
            .remove("integerValue");
        let err = parse(event).unwrap().container_instance();
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("detail.remainingResources[1].integerValue: missing"),
        );
    }

    #[test]
    fn another_detail_type_is_refused_naming_what_was_expected() {
        let mut event = json(AWS_DOCS);
        event["detail-type"] = "ECS Task State Change".into();
        let err = parse(event).unwrap_err().to_string();
        assert!(
            err.contains("ECS Container Instance State Change")
                && err.contains("ECS Task State Change"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_field_is_named_by_its_path() {
        let mut event = json(AWS_DOCS);
        event["detail"]["version"] = "fourteen".into();
        let err = parse(event).unwrap_err().to_string();
        assert!(err.contains("at detail.version"), "{err}");
        let err = parse(serde_json::json!({"time": ""}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at time") || err.contains("detail-type"),
            "{err}"
        );
    }

    #[test]
    fn a_scheduled_event_names_no_cluster_and_must_come_from_eventbridge() {
        let mut tick = serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-12-04T03:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": {}
        });
        let input = parse_input(tick.clone()).expect("a scheduled event");
        assert!(matches!(input, Input::Scheduled(_)));
        assert_eq!(input.cluster(), None);
        tick["source"] = "my.app".into();
        let err = parse_input(tick).unwrap_err().to_string();
        assert!(
            err.contains("\"my.app\"") && err.contains("Scheduled Event"),
            "{err}"
        );
    }

    #[test]
    fn another_source_is_refused() {
        let mut event = json(AWS_DOCS);
        event["source"] = "custom.app".into();
        assert!(matches!(parse(event), Err(EventError::WrongKind { .. })));
    }

    #[test]
    fn an_sns_event_is_refused_as_the_wrong_shape() {
        let err = parse(serde_json::json!({"Records": [{"Sns": {"Message": "{}"}}]})).unwrap_err();
        assert!(matches!(err, EventError::Shape { .. }), "{err}");
        assert!(
            err.to_string().contains("expected an EventBridge event"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_malformed_cluster_arn_is_refused() {
        let mut event = json(AWS_DOCS);
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("clusterArn");
        assert!(matches!(parse(event), Err(EventError::Shape { .. })));
        for arn in [
            "default",
            "arn:aws:ec2:us-east-1:1:cluster/x",
            "arn:aws:ecs:us-east-1:1:cluster/",
            "arn:aws:ecs:us-east-1:1:service/x/y",
        ] {
            let mut event = json(AWS_DOCS);
            event["detail"]["clusterArn"] = arn.into();
            assert!(
                matches!(parse(event), Err(EventError::BadClusterArn(_))),
                "{arn}"
            );
        }
    }
}
