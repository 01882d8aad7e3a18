//! The input event: EventBridge's "ECS Container Instance State Change".

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The `detail-type` the calculator is wired to.
pub const DETAIL_TYPE: &str = "ECS Container Instance State Change";
/// The `source` of ECS events.
pub const SOURCE: &str = "aws.ecs";

/// The `detail` of a container instance state change: a ContainerInstance as
/// DescribeContainerInstances returns it, plus `clusterArn`. aws_lambda_events has no type
/// for it. Only the cluster is read (the calculator reads the whole cluster fresh: the
/// triggering instance's figures are one of many and may be stale); the rest is kept as it
/// came, so the event round-trips.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceStateChange {
    pub cluster_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_connected: Option<bool>,
    /// ECS's version of the container instance: grows with every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// When ECS made this change (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_resources: Option<Vec<EventResource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_resources: Option<Vec<EventResource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<EventAttribute>>,
    /// Every other field of the detail, unchanged.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A resource of the detail, as ECS serializes it (`name`, `type` and one value field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integer_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_set_value: Option<Vec<String>>,
}

/// An attribute of the detail (`ecs.instance-type`, capabilities, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAttribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl ContainerInstanceStateChange {
    /// The container instance as the event describes it — the same figures
    /// DescribeContainerInstances would return at `version` — or `None` when the event lacks
    /// a field for it (then the calculator reads the cluster instead).
    pub fn container_instance(&self) -> Option<capacity_core::ContainerInstance> {
        use capacity_core::{InstanceStatus, Resources};
        let id = self.container_instance_arn.as_deref()?;
        let resources = |side, list: &Option<Vec<EventResource>>| {
            let list = list.as_ref()?;
            let converted: Option<Vec<_>> = list.iter().map(EventResource::to_core).collect();
            Resources::from_ecs(id, side, &converted?).ok()
        };
        Some(capacity_core::ContainerInstance {
            id: id.to_owned(),
            ec2_instance_id: self.ec2_instance_id.clone(),
            instance_type: self
                .attributes
                .iter()
                .flatten()
                .find(|a| a.name == "ecs.instance-type")
                .and_then(|a| a.value.clone()),
            status: InstanceStatus::parse(self.status.as_deref()?),
            agent_connected: self.agent_connected?,
            registered: resources("registered", &self.registered_resources)?,
            remaining: resources("remaining", &self.remaining_resources)?,
            eni: None,
        })
    }
}

impl EventResource {
    fn to_core(&self) -> Option<capacity_core::EcsResource> {
        use capacity_core::ResourceValue;
        let value = match self.kind.as_deref()? {
            "INTEGER" => ResourceValue::Integer(self.integer_value.unwrap_or(0)),
            "LONG" => ResourceValue::Long(self.long_value.unwrap_or(0)),
            "DOUBLE" => ResourceValue::Double(self.double_value.unwrap_or(0.0)),
            "STRINGSET" => {
                ResourceValue::StringSet(self.string_set_value.clone().unwrap_or_default())
            }
            _ => return None,
        };
        Some(capacity_core::EcsResource {
            name: self.name.clone()?,
            value,
        })
    }
}

/// The event, typed.
pub type StateChangeEvent = EventBridgeEvent<ContainerInstanceStateChange>;

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
    #[error(
        "detail.clusterArn {0:?} is not an ECS cluster ARN (arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME)"
    )]
    BadClusterArn(String),
}

/// Parses and checks the event; returns it with the cluster ARN validated.
pub fn parse(event: Value) -> Result<StateChangeEvent, EventError> {
    let event: StateChangeEvent =
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
    let arn = &event.detail.cluster_arn;
    let valid = arn.starts_with("arn:")
        && arn.split(':').nth(2) == Some("ecs")
        && arn
            .rsplit_once(":cluster/")
            .is_some_and(|(_, name)| !name.is_empty() && !name.contains('/'));
    if !valid {
        return Err(EventError::BadClusterArn(arn.clone()));
    }
    Ok(event)
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
        let event = parse(json(AWS_DOCS)).unwrap();
        assert_eq!(
            event.detail.cluster_arn,
            "arn:aws:ecs:us-east-1:111122223333:cluster/default"
        );
        assert_eq!(event.detail.ec2_instance_id.as_deref(), Some("i-f3a8506b"));
        assert_eq!(serde_json::to_value(&event).unwrap(), json(AWS_DOCS));
    }

    #[test]
    fn book_chapter_12_event_parses_and_round_trips() {
        let event = parse(json(BOOK)).unwrap();
        assert_eq!(
            event.detail.cluster_arn,
            "arn:aws:ecs:us-east-1:385605022855:cluster/todobackend-cluster"
        );
        assert_eq!(serde_json::to_value(&event).unwrap(), json(BOOK));
    }

    #[test]
    fn the_event_carries_the_instance_as_describe_would_return_it() {
        let event = parse(json(BOOK)).unwrap();
        let instance = event.detail.container_instance().expect("complete detail");
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
        assert_eq!(event.detail.version, Some(3));
    }

    #[test]
    fn an_incomplete_detail_carries_no_instance() {
        let mut event = json(BOOK);
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("remainingResources");
        assert!(parse(event).unwrap().detail.container_instance().is_none());
        let mut event = json(BOOK);
        event["detail"]["registeredResources"][0]["type"] = "STRINGSET".into();
        assert!(parse(event).unwrap().detail.container_instance().is_none());
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
