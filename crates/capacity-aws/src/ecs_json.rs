//! ECS's container-instance JSON, as one serde model, and the one strict conversion of it
//! into [`capacity_core::ContainerInstance`].
//!
//! Three sources print the same object: DescribeContainerInstances (through the SDK), the
//! AWS CLI (`aws ecs describe-container-instances`, read by `ecs-capacity report`), and the
//! `detail` of an EventBridge "ECS Container Instance State Change" event (read by the
//! calculator). Their quirks (see `../shared/TOOLING.md`): the CLI prints every value field
//! of a resource (`longValue: 0`, `doubleValue` sometimes the integer `0`), events only the
//! one that counts; most describe outputs have no `version`; a 2015 output lacks
//! `agentConnected`. So every field is optional at the serde level, and
//! [`ContainerInstanceJson::to_core`] decides what is required: a missing or unusable value
//! is an [`EcsJsonError`] naming its JSON path — never a silent 0. Unknown fields are kept
//! (`other`), so an event round-trips unchanged.
//!
//! The SDK's types go through the same conversion ([`ContainerInstanceJson::from_sdk`]).

use aws_sdk_ecs::types as ecs;
use capacity_core::{
    CapacityError, ContainerInstance, EcsResource, InstanceStatus, ResourceValue, Resources,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// A container instance as ECS serializes it (camelCase).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceJson {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_resources: Option<Vec<ResourceJson>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_resources: Option<Vec<ResourceJson>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<AttributeJson>>,
    /// The cluster (events only: `detail.clusterArn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// When ECS made this change (events only, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Every other field, unchanged, filled by [`ContainerInstanceJson::keep_other_fields`].
    /// Not read by serde: a flattened field would make serde buffer the object and lose the
    /// JSON path of a bad field in errors.
    #[serde(flatten, skip_deserializing)]
    pub other: serde_json::Map<String, Value>,
}

/// One element of `registeredResources` / `remainingResources`: `name`, `type`, and the
/// value field that `type` names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceJson {
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

/// One element of `attributes` (`ecs.instance-type`, `ecs.availability-zone`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeJson {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Why a container instance's JSON does not give its full figures. `path` is the JSON path
/// of the field, below the prefix the caller gave (e.g. `containerInstances[0]`, `detail`).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EcsJsonError {
    #[error("{path}: missing{}", context.as_deref().map(|c| format!(" for {c}")).unwrap_or_default())]
    Missing {
        path: String,
        /// What the field belongs to, e.g. `resource MEMORY of type INTEGER`.
        context: Option<String>,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// The values are there but inconsistent (remaining above registered, a resource of the
    /// wrong type, …); the error names the instance.
    #[error(transparent)]
    Capacity(#[from] CapacityError),
}

impl EcsJsonError {
    /// The JSON path of the bad field (`None` for inconsistent values).
    pub fn path(&self) -> Option<&str> {
        match self {
            EcsJsonError::Missing { path, .. } | EcsJsonError::Invalid { path, .. } => Some(path),
            EcsJsonError::Capacity(_) => None,
        }
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

impl ContainerInstanceJson {
    /// Keeps the fields of `raw` (the object this value was read from) that the model does
    /// not name, so that it serializes back to `raw`.
    pub fn keep_other_fields(&mut self, raw: &Value) {
        let Some(raw) = raw.as_object() else { return };
        self.other.clear();
        let known = match serde_json::to_value(&*self) {
            Ok(Value::Object(known)) => known,
            _ => serde_json::Map::new(),
        };
        for (key, value) in raw {
            if !known.contains_key(key) {
                self.other.insert(key.clone(), value.clone());
            }
        }
    }

    /// The figures of this container instance, validated (remaining never above registered).
    /// The id is its ARN. `path` prefixes the JSON paths in errors.
    ///
    /// Required: `containerInstanceArn`, `status`, `agentConnected`, both resource lists with
    /// `CPU` and `MEMORY`, and in every resource its `name`, `type` and the value that `type`
    /// names. The ENI limit is left unknown (ECS does not report it).
    pub fn to_core(&self, path: &str) -> Result<ContainerInstance, EcsJsonError> {
        let missing = |field: &str| EcsJsonError::Missing {
            path: join(path, field),
            context: None,
        };
        let id = self
            .container_instance_arn
            .as_deref()
            .ok_or_else(|| missing("containerInstanceArn"))?;
        let status = self.status.as_deref().ok_or_else(|| missing("status"))?;
        let agent_connected = self
            .agent_connected
            .ok_or_else(|| missing("agentConnected"))?;
        let side = |field: &str, side: &'static str, list: &Option<Vec<ResourceJson>>| {
            let list = list.as_deref().ok_or_else(|| missing(field))?;
            let converted = resources(&join(path, field), list)?;
            Ok::<_, EcsJsonError>(Resources::from_ecs(id, side, &converted)?)
        };
        let registered = side(
            "registeredResources",
            "registered",
            &self.registered_resources,
        )?;
        let remaining = side("remainingResources", "remaining", &self.remaining_resources)?;
        let instance = ContainerInstance {
            id: id.to_owned(),
            ec2_instance_id: self.ec2_instance_id.clone(),
            instance_type: self.attribute("ecs.instance-type").map(str::to_owned),
            status: InstanceStatus::parse(status),
            agent_connected,
            registered,
            remaining,
            eni: None,
            attributes: self
                .attributes
                .iter()
                .flatten()
                .map(|a| (a.name.clone(), a.value.clone().unwrap_or_default()))
                .collect(),
        };
        instance.validate()?;
        Ok(instance)
    }

    /// The value of attribute `name`, if set.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .flatten()
            .find(|a| a.name == name)
            .and_then(|a| a.value.as_deref())
    }

    /// The SDK's container instance in this model, so that it goes through the same
    /// conversion. The SDK gives every numeric value field a default of 0, so only `type`
    /// tells which one ECS sent; the others are left out.
    pub fn from_sdk(ci: &ecs::ContainerInstance) -> ContainerInstanceJson {
        let list = |list: &[ecs::Resource]| Some(list.iter().map(ResourceJson::from_sdk).collect());
        ContainerInstanceJson {
            container_instance_arn: ci.container_instance_arn().map(str::to_owned),
            ec2_instance_id: ci.ec2_instance_id().map(str::to_owned),
            status: ci.status().map(str::to_owned),
            agent_connected: Some(ci.agent_connected()),
            version: Some(ci.version()),
            registered_resources: list(ci.registered_resources()),
            remaining_resources: list(ci.remaining_resources()),
            attributes: Some(
                ci.attributes()
                    .iter()
                    .map(|a| AttributeJson {
                        name: a.name().to_owned(),
                        value: a.value().map(str::to_owned),
                    })
                    .collect(),
            ),
            cluster_arn: None,
            updated_at: None,
            other: serde_json::Map::new(),
        }
    }
}

impl ResourceJson {
    fn from_sdk(r: &ecs::Resource) -> ResourceJson {
        let kind = r.r#type().map(str::to_owned);
        let mut out = ResourceJson {
            name: r.name().map(str::to_owned),
            ..ResourceJson::default()
        };
        match kind.as_deref() {
            Some("INTEGER") => out.integer_value = Some(i64::from(r.integer_value())),
            Some("LONG") => out.long_value = Some(r.long_value()),
            Some("DOUBLE") => out.double_value = Some(r.double_value()),
            Some("STRINGSET") => out.string_set_value = Some(r.string_set_value().to_vec()),
            _ => {}
        }
        out.kind = kind;
        out
    }
}

/// Converts a resource list; `path` is the list's JSON path.
fn resources(path: &str, list: &[ResourceJson]) -> Result<Vec<EcsResource>, EcsJsonError> {
    list.iter()
        .enumerate()
        .map(|(j, r)| {
            let field = |name: &str| format!("{path}[{j}].{name}");
            let name = r.name.as_deref().ok_or_else(|| EcsJsonError::Missing {
                path: field("name"),
                context: None,
            })?;
            let kind = r.kind.as_deref().ok_or_else(|| EcsJsonError::Missing {
                path: field("type"),
                context: Some(format!("resource {name}")),
            })?;
            let missing = |value: &str| EcsJsonError::Missing {
                path: field(value),
                context: Some(format!("resource {name} of type {kind}")),
            };
            let value = match kind {
                "INTEGER" => ResourceValue::Integer(
                    r.integer_value.ok_or_else(|| missing("integerValue"))?,
                ),
                "LONG" => ResourceValue::Long(r.long_value.ok_or_else(|| missing("longValue"))?),
                "DOUBLE" => {
                    ResourceValue::Double(r.double_value.ok_or_else(|| missing("doubleValue"))?)
                }
                "STRINGSET" => ResourceValue::StringSet(
                    r.string_set_value
                        .clone()
                        .ok_or_else(|| missing("stringSetValue"))?,
                ),
                other => {
                    return Err(EcsJsonError::Invalid {
                        path: field("type"),
                        message: format!(
                            "unknown resource type {other:?} for resource {name} (expected INTEGER, LONG, DOUBLE or STRINGSET)"
                        ),
                    });
                }
            };
            Ok(EcsResource {
                name: name.to_owned(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Value {
        serde_json::json!({
            "containerInstanceArn": "arn:aws:ecs:us-east-1:1:container-instance/c/abc",
            "ec2InstanceId": "i-1",
            "status": "ACTIVE",
            "agentConnected": true,
            "registeredResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 993},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]}
            ],
            "remainingResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 774, "longValue": 0, "doubleValue": 0.0},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 593}
            ],
            "attributes": [{"name": "ecs.instance-type", "value": "t2.micro"}],
            "runningTasksCount": 1
        })
    }

    fn convert(v: Value) -> Result<ContainerInstance, EcsJsonError> {
        serde_json::from_value::<ContainerInstanceJson>(v)
            .expect("model reads it")
            .to_core("containerInstances[0]")
    }

    #[test]
    fn a_complete_instance_converts_and_round_trips() {
        let ci = convert(instance()).unwrap();
        assert_eq!((ci.remaining.cpu, ci.remaining.memory_mib), (774, 593));
        assert_eq!(ci.registered.ports_tcp, [22].into());
        assert_eq!(ci.instance_type.as_deref(), Some("t2.micro"));
        let mut model: ContainerInstanceJson = serde_json::from_value(instance()).unwrap();
        assert!(model.other.is_empty());
        model.keep_other_fields(&instance());
        assert_eq!(model.other.len(), 1, "runningTasksCount");
        assert_eq!(serde_json::to_value(&model).unwrap(), instance());
    }

    #[test]
    fn a_missing_integer_value_is_an_error_naming_the_field_never_a_zero() {
        let mut v = instance();
        v["remainingResources"][1]
            .as_object_mut()
            .unwrap()
            .remove("integerValue");
        let err = convert(v).unwrap_err().to_string();
        assert_eq!(
            err,
            "containerInstances[0].remainingResources[1].integerValue: missing for resource MEMORY of type INTEGER"
        );
    }

    #[test]
    fn every_required_field_is_named_when_missing() {
        for field in [
            "containerInstanceArn",
            "status",
            "agentConnected",
            "registeredResources",
            "remainingResources",
        ] {
            let mut v = instance();
            v.as_object_mut().unwrap().remove(field);
            let err = convert(v).unwrap_err();
            assert_eq!(
                err.path(),
                Some(format!("containerInstances[0].{field}").as_str()),
                "{err}"
            );
        }
    }

    #[test]
    fn an_unknown_resource_type_and_inconsistent_values_are_refused() {
        let mut v = instance();
        v["registeredResources"][0]["type"] = "FLOAT".into();
        let err = convert(v).unwrap_err().to_string();
        assert!(
            err.contains("registeredResources[0].type") && err.contains("FLOAT"),
            "{err}"
        );
        let mut v = instance();
        v["remainingResources"][0]["integerValue"] = 2048.into();
        let err = convert(v).unwrap_err().to_string();
        assert!(err.contains("exceeds registered"), "{err}");
    }

    #[test]
    fn the_sdk_type_goes_through_the_same_conversion() {
        let r = |name: &str, v: i32| {
            ecs::Resource::builder()
                .name(name)
                .r#type("INTEGER")
                .integer_value(v)
                .build()
        };
        let sdk = ecs::ContainerInstance::builder()
            .container_instance_arn("arn:aws:ecs:us-east-1:1:container-instance/c/abc")
            .status("ACTIVE")
            .agent_connected(true)
            .registered_resources(r("CPU", 1024))
            .registered_resources(r("MEMORY", 993))
            .remaining_resources(r("CPU", 774))
            .remaining_resources(r("MEMORY", 593))
            .build();
        let ci = ContainerInstanceJson::from_sdk(&sdk).to_core("").unwrap();
        assert_eq!((ci.remaining.cpu, ci.remaining.memory_mib), (774, 593));
        let no_status = ecs::ContainerInstance::builder()
            .container_instance_arn("arn:x")
            .build();
        let err = ContainerInstanceJson::from_sdk(&no_status)
            .to_core("")
            .unwrap_err();
        assert_eq!(err.path(), Some("status"));
    }
}
