//! The input: the payload EC2 Auto Scaling sends a custom termination policy Lambda, and the
//! answer it expects.
//!
//! The shape is the one the EC2 Auto Scaling user guide documents ("Create a custom
//! termination policy with Lambda"): `AutoScalingGroupARN`, `AutoScalingGroupName`,
//! `CapacityToTerminate` (`AvailabilityZone`, `Capacity`, `InstanceMarketOption`),
//! `Instances` (`AvailabilityZone`, `InstanceId`, `InstanceType`, `InstanceMarketOption`),
//! `Cause` (`SCALE_IN`, `INSTANCE_REFRESH`, `MAX_INSTANCE_LIFETIME`, `REBALANCE`) and
//! `HasMoreInstances` (true when Auto Scaling cut `Instances` at 30,000). The answer is
//! `{"InstanceIDs": [...]}`.
//!
//! Strict where the choice depends on a field (`CapacityToTerminate`, `Instances` and their
//! zone, market option, capacity and id), lenient elsewhere: the group's name and ARN, the
//! cause, the instance type and `HasMoreInstances` are only logged, so their absence or a new
//! cause is no reason to refuse to answer.

use capacity_core::scale_in::{CapacityToTerminate, SuggestedInstance};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The payload, typed. Round-trips: serializing it gives back what was parsed (absent
/// optional fields stay absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TerminationPolicyInput {
    #[serde(
        rename = "AutoScalingGroupARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_scaling_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<String>,
    pub capacity_to_terminate: Vec<CapacityEntry>,
    pub instances: Vec<InstanceEntry>,
    /// What started the termination; every cause is ranked the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more_instances: Option<bool>,
}

/// One entry of `CapacityToTerminate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CapacityEntry {
    pub availability_zone: String,
    /// Instances to terminate in this zone and market option.
    pub capacity: u32,
    /// `on-demand` or `spot`.
    pub instance_market_option: String,
}

/// One suggested instance of `Instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceEntry {
    pub availability_zone: String,
    pub instance_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    pub instance_market_option: String,
}

/// The answer Auto Scaling reads: the instances ready to terminate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationPolicyResponse {
    #[serde(rename = "InstanceIDs")]
    pub instance_ids: Vec<String>,
}

/// The `Cause` of an ordinary scale-in.
pub const CAUSE_SCALE_IN: &str = "SCALE_IN";

impl TerminationPolicyInput {
    /// The entries and the suggestions as capacity-core's scale-in types.
    pub fn to_core(&self) -> (Vec<CapacityToTerminate>, Vec<SuggestedInstance>) {
        let capacity = self
            .capacity_to_terminate
            .iter()
            .map(|c| {
                CapacityToTerminate::new(
                    &c.availability_zone,
                    &c.instance_market_option,
                    c.capacity,
                )
            })
            .collect();
        let suggested = self
            .instances
            .iter()
            .map(|i| {
                SuggestedInstance::new(
                    &i.instance_id,
                    &i.availability_zone,
                    &i.instance_market_option,
                )
            })
            .collect();
        (capacity, suggested)
    }

    /// Instances asked for in total (the most the answer may hold).
    pub fn asked(&self) -> u64 {
        self.capacity_to_terminate
            .iter()
            .map(|c| u64::from(c.capacity))
            .sum()
    }
}

/// A payload that is not the one Auto Scaling sends a custom termination policy.
#[derive(Debug, Error)]
pub enum EventError {
    #[error(
        "expected the payload of an EC2 Auto Scaling custom termination policy (CapacityToTerminate, Instances): at {path}: {source}"
    )]
    Shape {
        /// Where in the payload the problem is (`Instances[2].InstanceId`, or `.`).
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("at {path}: {value:?} is not an EC2 instance id (i- and up to 32 letters or digits)")]
    InstanceId { path: String, value: String },
}

impl EventError {
    /// Where in the payload the problem is.
    pub fn path(&self) -> &str {
        match self {
            EventError::Shape { path, .. } | EventError::InstanceId { path, .. } => path,
        }
    }
}

/// Parses and checks the payload. An instance id must look like one (`i-` and up to 32
/// letters or digits): ids go into an ECS query expression.
pub fn parse(payload: Value) -> Result<TerminationPolicyInput, EventError> {
    let input: TerminationPolicyInput =
        serde_path_to_error::deserialize(payload).map_err(|e| EventError::Shape {
            path: match e.path().to_string() {
                root if root.is_empty() => ".".to_owned(),
                path => path,
            },
            source: e.into_inner(),
        })?;
    for (index, instance) in input.instances.iter().enumerate() {
        if !is_instance_id(&instance.instance_id) {
            return Err(EventError::InstanceId {
                path: format!("Instances[{index}].InstanceId"),
                value: instance.instance_id.clone(),
            });
        }
    }
    Ok(input)
}

fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|rest| {
        (1..=32).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCALE_IN: &str = include_str!("../tests/fixtures/scale-in-one-zone.json");
    const MIXED: &str =
        include_str!("../tests/fixtures/scale-in-two-zones-spot-and-on-demand.json");
    const REFRESH: &str = include_str!("../tests/fixtures/instance-refresh.json");

    fn json(s: &str) -> Value {
        serde_json::from_str(s).expect("fixture is JSON")
    }

    #[test]
    fn each_fixture_parses_and_round_trips() {
        for fixture in [SCALE_IN, MIXED, REFRESH] {
            let input = parse(json(fixture)).expect("fixture parses");
            assert_eq!(serde_json::to_value(&input).unwrap(), json(fixture));
        }
    }

    #[test]
    fn the_documented_fields_are_read() {
        let input = parse(json(MIXED)).unwrap();
        assert_eq!(input.auto_scaling_group_name.as_deref(), Some("prod-hosts"));
        assert_eq!(input.cause.as_deref(), Some(CAUSE_SCALE_IN));
        assert_eq!(input.has_more_instances, Some(false));
        assert_eq!(input.capacity_to_terminate.len(), 3);
        assert_eq!(input.asked(), 4);
        let (capacity, suggested) = input.to_core();
        assert_eq!(
            capacity[1],
            CapacityToTerminate::new("us-east-1b", "spot", 1)
        );
        assert_eq!(suggested.len(), input.instances.len());
        assert_eq!(
            input.instances[0].instance_type.as_deref(),
            Some("m6g.large")
        );
        let refresh = parse(json(REFRESH)).unwrap();
        assert_eq!(refresh.cause.as_deref(), Some("INSTANCE_REFRESH"));
    }

    #[test]
    fn only_what_the_choice_needs_is_required() {
        let mut payload = json(SCALE_IN);
        let map = payload.as_object_mut().unwrap();
        for optional in [
            "AutoScalingGroupARN",
            "AutoScalingGroupName",
            "Cause",
            "HasMoreInstances",
        ] {
            map.remove(optional);
        }
        map["Instances"][0]
            .as_object_mut()
            .unwrap()
            .remove("InstanceType");
        let input = parse(payload).expect("still a payload");
        assert_eq!(input.cause, None);
        let mut payload = json(SCALE_IN);
        payload["Cause"] = "SOMETHING_NEW".into();
        assert!(parse(payload).is_ok(), "a new cause is ranked all the same");
    }

    #[test]
    fn a_malformed_field_is_named_by_its_path() {
        for (mutate, path) in [
            (
                (|p: &mut Value| p["CapacityToTerminate"][0]["Capacity"] = (-1).into())
                    as fn(&mut Value),
                "CapacityToTerminate[0].Capacity",
            ),
            (
                |p| {
                    p["Instances"][1]
                        .as_object_mut()
                        .unwrap()
                        .remove("InstanceMarketOption");
                },
                "Instances[1]",
            ),
            (|p| p["Instances"] = "i-1".into(), "Instances"),
            (
                |p| {
                    p.as_object_mut().unwrap().remove("CapacityToTerminate");
                },
                ".",
            ),
            (
                |p| p["Instances"][2]["InstanceId"] = "i-1'] or x".into(),
                "Instances[2].InstanceId",
            ),
            (
                |p| p["Instances"][0]["InstanceId"] = "sir-12345".into(),
                "Instances[0].InstanceId",
            ),
        ] {
            let mut payload = json(SCALE_IN);
            mutate(&mut payload);
            let err = parse(payload).expect_err(path);
            assert_eq!(err.path(), path, "{err}");
            assert!(err.to_string().contains(path), "{err}");
        }
    }

    #[test]
    fn another_event_is_refused_as_the_wrong_shape() {
        let err = parse(serde_json::json!({"Records": [{"Sns": {"Message": "{}"}}]})).unwrap_err();
        assert!(
            err.to_string()
                .contains("custom termination policy (CapacityToTerminate, Instances)"),
            "{err}"
        );
        assert!(parse(Value::Null).is_err());
    }

    #[test]
    fn the_answer_is_instance_ids() {
        let answer = TerminationPolicyResponse {
            instance_ids: vec!["i-1".into()],
        };
        assert_eq!(
            serde_json::to_value(answer).unwrap(),
            serde_json::json!({"InstanceIDs": ["i-1"]})
        );
    }
}
