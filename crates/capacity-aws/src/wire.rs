//! What the SDK's types cannot tell: whether ECS sent a field at all.
//!
//! The SDK's `ContainerInstance` gives `agentConnected`, `runningTasksCount`,
//! `pendingTasksCount` and every resource's `integerValue` a default (`false`, `0`) when ECS
//! leaves them out. A default there is a made-up number: a running-task count of 0 ranks a busy
//! host the cheapest to terminate, a remaining CPU of 0 or a registered one of 0 moves the
//! capacity. So every DescribeContainerInstances answer is also read as the JSON ECS sent
//! ([`RequiredFields`], an interceptor that sees the response body after the SDK has read it)
//! and checked by the same strict conversion as events and the CLI's dumps
//! ([`ContainerInstanceJson::to_core`](crate::ecs_json::ContainerInstanceJson::to_core)), plus
//! the task counts: a missing field is an error naming its JSON path
//! (`containerInstances[3].agentConnected`), never the SDK's default.
//!
//! The body is there for every answer that came over HTTP (the SDK buffers non-streaming
//! bodies before it deserializes them); an answer made up in-process by the SDK's own mocks has
//! none and is taken as the SDK built it.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

use crate::ecs_json::{ContainerInstanceJson, EcsJsonError};

/// The fields of a described container instance the decisions need beyond what
/// [`ContainerInstanceJson::to_core`] requires: the task counts (the scale-in chooser ranks by
/// them, the cluster read compares them with the services').
const COUNTS: [&str; 2] = ["runningTasksCount", "pendingTasksCount"];

/// Checks the JSON body of a DescribeContainerInstances answer: each of `containerInstances`
/// converts strictly and carries its task counts. A body that is not JSON, or has no
/// `containerInstances`, is left to the SDK (which fails on it, or finds nothing described).
pub fn check_described_instances(body: &[u8]) -> Result<(), EcsJsonError> {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let Some(instances) = answer.get("containerInstances").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, raw) in instances.iter().enumerate() {
        let path = format!("containerInstances[{i}]");
        let instance: ContainerInstanceJson =
            serde_path_to_error::deserialize(raw).map_err(|e| EcsJsonError::Invalid {
                path: format!("{path}.{}", e.path()),
                message: e.into_inner().to_string(),
            })?;
        instance.to_core(&path)?;
        for field in COUNTS {
            if !raw.get(field).is_some_and(Value::is_i64) {
                return Err(EcsJsonError::Missing {
                    path: format!("{path}.{field}"),
                    context: instance.container_instance_arn.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The interceptor of one DescribeContainerInstances call: keeps the result of
/// [`check_described_instances`] on the body of its last attempt.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequiredFields {
    checked: Arc<Mutex<Option<Result<(), EcsJsonError>>>>,
}

impl RequiredFields {
    /// The check of the answer's body, `Ok` when there was no body to check.
    pub(crate) fn result(&self) -> Result<(), EcsJsonError> {
        self.checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or(Ok(()))
    }
}

impl Intercept for RequiredFields {
    fn name(&self) -> &'static str {
        "RequiredContainerInstanceFields"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().is_success()
            && let Some(body) = response.body().bytes()
        {
            *self.checked.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(check_described_instances(body));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(instance: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "containerInstances": [instance], "failures": [] }))
            .unwrap()
    }

    fn instance() -> Value {
        let cpu = |v: i64| serde_json::json!({"name": "CPU", "type": "INTEGER", "integerValue": v});
        let memory =
            |v: i64| serde_json::json!({"name": "MEMORY", "type": "INTEGER", "integerValue": v});
        serde_json::json!({
            "containerInstanceArn": "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/1",
            "ec2InstanceId": "i-1",
            "status": "ACTIVE",
            "agentConnected": true,
            "runningTasksCount": 2,
            "pendingTasksCount": 0,
            "registeredResources": [cpu(2048), memory(4096)],
            "remainingResources": [cpu(1024), memory(2048)],
        })
    }

    #[test]
    fn a_complete_answer_passes() {
        assert_eq!(check_described_instances(&body(instance())), Ok(()));
    }

    #[test]
    fn a_field_the_sdk_would_default_is_an_error_naming_its_path() {
        for (field, path) in [
            ("agentConnected", "containerInstances[0].agentConnected"),
            (
                "runningTasksCount",
                "containerInstances[0].runningTasksCount",
            ),
            (
                "pendingTasksCount",
                "containerInstances[0].pendingTasksCount",
            ),
        ] {
            let mut raw = instance();
            raw.as_object_mut().unwrap().remove(field);
            let err = check_described_instances(&body(raw)).expect_err(field);
            assert_eq!(err.path(), Some(path), "{err}");
        }
        let mut raw = instance();
        raw["remainingResources"][0]
            .as_object_mut()
            .unwrap()
            .remove("integerValue");
        let err = check_described_instances(&body(raw)).expect_err("integerValue");
        assert_eq!(
            err.path(),
            Some("containerInstances[0].remainingResources[0].integerValue")
        );
    }
}
