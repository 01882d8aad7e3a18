//! Ending or extending an Auto Scaling lifecycle action.

use std::future::Future;

use aws_sdk_autoscaling::error::ProvideErrorMetadata;

use super::client::{AwsDrain, autoscaling_error};
use super::{ActionAnswer, DrainError, LifecycleActionRef, LifecycleActionResult};

/// Ends or extends an Auto Scaling lifecycle action.
pub trait LifecycleActions: Send + Sync {
    /// CompleteLifecycleAction with `result` (and the action's token when it has one).
    fn complete_lifecycle_action(
        &self,
        action: &LifecycleActionRef,
        result: LifecycleActionResult,
    ) -> impl Future<Output = Result<ActionAnswer, DrainError>> + Send;

    /// RecordLifecycleActionHeartbeat: restarts the hook's heartbeat timeout (never its
    /// global timeout).
    fn record_heartbeat(
        &self,
        action: &LifecycleActionRef,
    ) -> impl Future<Output = Result<ActionAnswer, DrainError>> + Send;
}

/// AWS answers a completion or heartbeat for an action that is no longer waiting with
/// `ValidationError: No active Lifecycle Action found with token …` (or `… instance ID …`).
fn is_no_active_action<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ValidationError")
        && err
            .message()
            .is_some_and(|m| m.contains("No active Lifecycle Action found"))
}

impl LifecycleActions for AwsDrain {
    async fn complete_lifecycle_action(
        &self,
        action: &LifecycleActionRef,
        result: LifecycleActionResult,
    ) -> Result<ActionAnswer, DrainError> {
        let answer = self
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.auto_scaling_group_name)
            .lifecycle_hook_name(&action.lifecycle_hook_name)
            .instance_id(&action.ec2_instance_id)
            .set_lifecycle_action_token(action.token.clone())
            .lifecycle_action_result(result.as_str())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(ActionAnswer::Done),
            Err(err) if is_no_active_action(&err) => Ok(ActionAnswer::NoActiveAction),
            Err(err) => Err(autoscaling_error("CompleteLifecycleAction", action, err)),
        }
    }

    async fn record_heartbeat(
        &self,
        action: &LifecycleActionRef,
    ) -> Result<ActionAnswer, DrainError> {
        let answer = self
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.auto_scaling_group_name)
            .lifecycle_hook_name(&action.lifecycle_hook_name)
            .instance_id(&action.ec2_instance_id)
            .set_lifecycle_action_token(action.token.clone())
            .send()
            .await;
        match answer {
            Ok(_) => Ok(ActionAnswer::Done),
            Err(err) if is_no_active_action(&err) => Ok(ActionAnswer::NoActiveAction),
            Err(err) => Err(autoscaling_error(
                "RecordLifecycleActionHeartbeat",
                action,
                err,
            )),
        }
    }
}

#[cfg(any(test, feature = "fake"))]
impl LifecycleActions for super::fake::FakeDrainWorld {
    async fn complete_lifecycle_action(
        &self,
        action: &LifecycleActionRef,
        result: LifecycleActionResult,
    ) -> Result<ActionAnswer, DrainError> {
        let index = self.record(super::fake::DrainCall::CompleteLifecycleAction {
            action: action.clone(),
            result,
            answer: None,
        })?;
        let answer = if self.state().active_actions.remove(&action.ec2_instance_id) {
            ActionAnswer::Done
        } else {
            ActionAnswer::NoActiveAction
        };
        self.set_answer(index, answer);
        Ok(answer)
    }

    async fn record_heartbeat(
        &self,
        action: &LifecycleActionRef,
    ) -> Result<ActionAnswer, DrainError> {
        let index = self.record(super::fake::DrainCall::RecordHeartbeat {
            action: action.clone(),
            answer: None,
        })?;
        let answer = if self
            .state()
            .active_actions
            .contains(&action.ec2_instance_id)
        {
            ActionAnswer::Done
        } else {
            ActionAnswer::NoActiveAction
        };
        self.set_answer(index, answer);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::error::ErrorMetadata;

    #[test]
    fn no_active_action_is_recognised_by_code_and_message() {
        let gone = ErrorMetadata::builder()
            .code("ValidationError")
            .message("No active Lifecycle Action found with token 1234")
            .build();
        assert!(is_no_active_action(&gone));

        let other_validation = ErrorMetadata::builder()
            .code("ValidationError")
            .message("1 validation error detected")
            .build();
        assert!(!is_no_active_action(&other_validation));

        let throttled = ErrorMetadata::builder()
            .code("Throttling")
            .message("No active Lifecycle Action found")
            .build();
        assert!(!is_no_active_action(&throttled));
    }
}
