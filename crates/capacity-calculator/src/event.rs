//! The input event: EventBridge's "ECS Container Instance State Change".

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use capacity_aws::ecs_json::{ContainerInstanceJson, EcsJsonError};
use capacity_aws::{ClusterArn, InvalidClusterArn};
use serde_json::Value;
use thiserror::Error;

/// The `detail-type` the calculator is wired to.
pub const DETAIL_TYPE: &str = "ECS Container Instance State Change";
/// The `source` of ECS events.
pub const SOURCE: &str = "aws.ecs";

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

/// An input that is not the event the calculator is wired to.
#[derive(Debug, Error)]
pub enum EventError {
    #[error(
        "expected an EventBridge event (detail-type {DETAIL_TYPE:?}, source {SOURCE:?}): at {path}: {source}"
    )]
    Shape {
        /// Where in the event the problem is (`detail.version`, or `.` for the event itself).
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "expected detail-type {DETAIL_TYPE:?} from source {SOURCE:?}, got detail-type {detail_type:?} from source {source_name:?}"
    )]
    WrongKind {
        detail_type: String,
        source_name: String,
    },
    #[error("detail.clusterArn: {0}")]
    BadClusterArn(#[from] InvalidClusterArn),
}

/// Parses and checks the event; returns it with the cluster ARN parsed.
pub fn parse(event: Value) -> Result<ParsedEvent, EventError> {
    let raw_detail = event.get("detail").cloned().unwrap_or(Value::Null);
    let mut event: StateChangeEvent =
        serde_path_to_error::deserialize(event).map_err(|e| EventError::Shape {
            path: e.path().to_string(),
            source: e.into_inner(),
        })?;
    if event.detail_type != DETAIL_TYPE || event.source != SOURCE {
        return Err(EventError::WrongKind {
            detail_type: event.detail_type,
            source_name: event.source,
        });
    }
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
