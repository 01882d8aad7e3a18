//! The function's input: an SNS event whose messages are Auto Scaling lifecycle
//! notifications, or the EventBridge form (`EC2 Instance-terminate Lifecycle Action`), parsed
//! into one typed [`LifecycleRequest`] per notification.

use std::collections::HashMap;

use aws_lambda_events::event::autoscaling::AutoScalingEvent;
use aws_lambda_events::event::sns::{MessageAttribute, SnsEvent, SnsRecord};
use capacity_aws::drain::{AttributeValue, LifecycleActionRef, Republication};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// `Event` of the notification Auto Scaling sends when a hook (or notification) is created.
pub const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";
/// The only transition the drainer acts on.
pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";
/// EventBridge `detail-type`s of lifecycle actions.
pub const TERMINATE_DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
pub const LAUNCH_DETAIL_TYPE: &str = "EC2 Instance-launch Lifecycle Action";

/// SNS message attribute: when the drain started (epoch ms), set on republish.
pub const ATTR_DRAIN_STARTED_AT: &str = "DrainStartedAtMs";
/// SNS message attribute: which invocation of the drain this delivery starts (1 = first).
pub const ATTR_DRAIN_ATTEMPT: &str = "DrainAttempt";

/// The lifecycle notification Auto Scaling publishes: the SNS message body, and the
/// `detail` of the EventBridge form. AWS has no type for it; every field is optional here
/// and [`Notice::try_from`] says which ones a use needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleNotification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// RFC 3339, when the action started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_action_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<String>,
    #[serde(
        rename = "AutoScalingGroupARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_scaling_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_hook_name: Option<String>,
    #[serde(
        rename = "EC2InstanceId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ec2_instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_transition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_metadata: Option<String>,
    /// `autoscaling:TEST_NOTIFICATION` on the test message (which has no transition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// What a notification asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The test message sent when the hook is created: nothing to do.
    Test {
        auto_scaling_group_name: Option<String>,
    },
    /// An instance waits in a lifecycle transition.
    Transition {
        action: LifecycleActionRef,
        /// `autoscaling:EC2_INSTANCE_TERMINATING`, `…_LAUNCHING`.
        transition: String,
        /// When the action started (epoch ms), if the notification says.
        started_at_ms: Option<u64>,
    },
}

impl Notice {
    pub fn is_termination(&self) -> bool {
        matches!(self, Notice::Transition { transition, .. } if transition == TERMINATING)
    }
}

/// What the drain carried over from earlier invocations (SNS message attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    pub drain_started_at_ms: Option<u64>,
    /// 1 for the first delivery.
    pub attempt: u32,
}

impl Carried {
    /// The attempt a republished notification starts.
    pub fn next_attempt(self) -> u32 {
        self.attempt.saturating_add(1)
    }
}

impl Default for Carried {
    fn default() -> Carried {
        Carried {
            drain_started_at_ms: None,
            attempt: 1,
        }
    }
}

/// How the notification arrived, which decides how it can be republished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sns {
        topic_arn: String,
        message_id: String,
        /// The message body as received, to republish unchanged.
        message: String,
        subject: Option<String>,
    },
    EventBridge {
        id: Option<String>,
        /// The notification, to republish in the SNS form.
        message: String,
    },
}

/// One lifecycle notification to handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRequest {
    pub notice: Notice,
    pub delivery: Delivery,
    pub carried: Carried,
}

/// SNS refuses a subject over this many characters.
pub const MAX_SUBJECT_CHARS: usize = 100;

impl LifecycleRequest {
    /// The notification again, to continue the drain in the next invocation: the same
    /// message, carrying the drain's start and the next attempt as message attributes, to
    /// `republish_topic_arn` if set, else to the topic it came from. A subject SNS would
    /// refuse is dropped (the message is what matters). `None` for the EventBridge form
    /// without `republish_topic_arn`: it has no topic.
    pub fn republication(
        &self,
        republish_topic_arn: Option<&str>,
        started_at_ms: u64,
    ) -> Option<Republication> {
        let (topic_arn, message, subject) = match &self.delivery {
            Delivery::Sns {
                topic_arn,
                message,
                subject,
                ..
            } => (
                republish_topic_arn.unwrap_or(topic_arn),
                message,
                subject
                    .clone()
                    .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SUBJECT_CHARS),
            ),
            Delivery::EventBridge { message, .. } => (republish_topic_arn?, message, None),
        };
        Some(Republication {
            topic_arn: topic_arn.to_owned(),
            message: message.clone(),
            subject,
            attributes: vec![
                (
                    ATTR_DRAIN_STARTED_AT.to_owned(),
                    AttributeValue::Number(i64::try_from(started_at_ms).unwrap_or(i64::MAX)),
                ),
                (
                    ATTR_DRAIN_ATTEMPT.to_owned(),
                    AttributeValue::Number(i64::from(self.carried.next_attempt())),
                ),
            ],
        })
    }
}

/// An input that is not what the function handles; says what is wrong and where.
#[derive(Debug, Error)]
pub enum EventError {
    #[error(
        "the event is neither an SNS event (\"Records\") nor an EventBridge lifecycle action (\"detail-type\"); it has keys [{keys}]"
    )]
    Unrecognised { keys: String },
    #[error("the SNS event is malformed: {source}")]
    MalformedSns {
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "SNS message {message_id} from topic {topic_arn} is not a lifecycle notification: {reason}"
    )]
    NotALifecycleNotification {
        message_id: String,
        topic_arn: String,
        reason: String,
    },
    #[error("EventBridge event {id} is not a lifecycle action: {reason}")]
    NotALifecycleAction { id: String, reason: String },
}

/// Why a notification cannot be used (before it is placed in its delivery).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoticeError {
    #[error("it has neither Event nor LifecycleTransition")]
    NoTransition,
    #[error("the {transition} notification has no {field}")]
    MissingField {
        transition: String,
        field: &'static str,
    },
}

impl TryFrom<&LifecycleNotification> for Notice {
    type Error = NoticeError;

    fn try_from(n: &LifecycleNotification) -> Result<Notice, NoticeError> {
        if n.event.as_deref() == Some(TEST_NOTIFICATION) {
            return Ok(Notice::Test {
                auto_scaling_group_name: n.auto_scaling_group_name.clone(),
            });
        }
        let transition = n
            .lifecycle_transition
            .clone()
            .ok_or(NoticeError::NoTransition)?;
        let required = |value: &Option<String>, field: &'static str| {
            value
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| NoticeError::MissingField {
                    transition: transition.clone(),
                    field,
                })
        };
        let action = LifecycleActionRef {
            auto_scaling_group_name: required(&n.auto_scaling_group_name, "AutoScalingGroupName")?,
            lifecycle_hook_name: required(&n.lifecycle_hook_name, "LifecycleHookName")?,
            ec2_instance_id: required(&n.ec2_instance_id, "EC2InstanceId")?,
            token: n.lifecycle_action_token.clone().filter(|t| !t.is_empty()),
        };
        Ok(Notice::Transition {
            action,
            started_at_ms: n.time.as_deref().and_then(epoch_ms),
            transition,
        })
    }
}

/// RFC 3339 → epoch milliseconds (capacity-aws's one parser); `None` for anything else or a
/// time before 1970.
fn epoch_ms(time: &str) -> Option<u64> {
    let parsed = capacity_aws::clock::parse_rfc3339(time)?;
    parsed
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
}

/// Parses the function's input. The outer `Err` is an input that is not an SNS or
/// EventBridge event at all; each record of an SNS event is parsed on its own, so one bad
/// record does not hide the others.
pub fn parse_event(event: Value) -> Result<Vec<Result<LifecycleRequest, EventError>>, EventError> {
    let Some(object) = event.as_object() else {
        return Err(EventError::Unrecognised {
            keys: format!("not an object: {}", json_kind(&event)),
        });
    };
    if object.contains_key("Records") {
        let sns: SnsEvent =
            serde_json::from_value(event).map_err(|source| EventError::MalformedSns { source })?;
        return Ok(sns.records.into_iter().map(parse_sns_record).collect());
    }
    if object.contains_key("detail-type") {
        return Ok(vec![parse_eventbridge(event)]);
    }
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    Err(EventError::Unrecognised {
        keys: keys.join(", "),
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_sns_record(record: SnsRecord) -> Result<LifecycleRequest, EventError> {
    let sns = record.sns;
    let invalid = |reason: String| EventError::NotALifecycleNotification {
        message_id: sns.message_id.clone(),
        topic_arn: sns.topic_arn.clone(),
        reason,
    };
    let shape_error = |e: serde_json::Error| {
        invalid(format!(
            "the message is not a JSON object of the expected shape ({e})"
        ))
    };
    let message: Value = serde_json::from_str(&sns.message).map_err(shape_error)?;
    // An EventBridge rule may target the topic instead of the function: the message is then
    // the EventBridge event, republished as it came.
    let notice = if message.get("detail-type").is_some() {
        parse_eventbridge(message)
            .map_err(|e| invalid(e.to_string()))?
            .notice
    } else {
        let notification: LifecycleNotification =
            serde_json::from_value(message).map_err(shape_error)?;
        Notice::try_from(&notification).map_err(|e| invalid(e.to_string()))?
    };
    Ok(LifecycleRequest {
        notice,
        carried: carried(&sns.message_attributes, &sns.message_id),
        delivery: Delivery::Sns {
            topic_arn: sns.topic_arn.clone(),
            message_id: sns.message_id.clone(),
            message: sns.message.clone(),
            subject: sns.subject.clone(),
        },
    })
}

/// The drain's progress from the message attributes. An attribute that does not parse is
/// ignored (with a warning): the drain then restarts its clock from the notification's own
/// time, which can only shorten the total deadline, never extend it past the hook's.
fn carried(attributes: &HashMap<String, MessageAttribute>, message_id: &str) -> Carried {
    let number = |name: &str| -> Option<u64> {
        let attribute = attributes.get(name)?;
        match attribute.value.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                tracing::warn!(message_id, attribute = name, value = %attribute.value, "ignoring a message attribute that is not a whole number");
                None
            }
        }
    };
    Carried {
        drain_started_at_ms: number(ATTR_DRAIN_STARTED_AT),
        attempt: number(ATTR_DRAIN_ATTEMPT)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
            .unwrap_or(1),
    }
}

fn parse_eventbridge(event: Value) -> Result<LifecycleRequest, EventError> {
    let id = event
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("without an id")
        .to_owned();
    let invalid = |reason: String| EventError::NotALifecycleAction {
        id: id.clone(),
        reason,
    };
    let parsed: AutoScalingEvent<Value> =
        serde_json::from_value(event).map_err(|e| invalid(format!("malformed event ({e})")))?;
    let detail_type = parsed.detail_type.as_deref().unwrap_or_default();
    if parsed.source.as_deref() != Some("aws.autoscaling")
        || !(detail_type == TERMINATE_DETAIL_TYPE || detail_type == LAUNCH_DETAIL_TYPE)
    {
        return Err(invalid(format!(
            "source {:?} and detail-type {detail_type:?}, expected aws.autoscaling and {TERMINATE_DETAIL_TYPE:?}",
            parsed.source.as_deref().unwrap_or_default()
        )));
    }
    let detail = Value::Object(parsed.detail.into_iter().collect());
    let mut notification: LifecycleNotification =
        serde_json::from_value(detail).map_err(|e| invalid(format!("malformed detail ({e})")))?;
    // The detail has no Time of its own: the event's time is when the action started.
    if notification.time.is_none() {
        let started = u64::try_from(parsed.time.timestamp_millis())
            .ok()
            .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms));
        notification.time = started.map(capacity_aws::clock::format_rfc3339);
    }
    let notice = Notice::try_from(&notification).map_err(|e| invalid(e.to_string()))?;
    let message = serde_json::to_string(&notification)
        .map_err(|e| invalid(format!("cannot serialise the notification ({e})")))?;
    Ok(LifecycleRequest {
        notice,
        carried: Carried::default(),
        delivery: Delivery::EventBridge {
            id: parsed.id,
            message,
        },
    })
}
