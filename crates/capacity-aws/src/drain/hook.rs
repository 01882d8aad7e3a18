//! Reading a lifecycle hook's timeouts.

use std::future::Future;
use std::time::Duration;

use super::client::AwsDrain;
use super::{DrainError, HookTimeouts};

const OPERATION: &str = "DescribeLifecycleHooks";

/// Reads a lifecycle hook's timeouts.
pub trait DescribeLifecycleHook: Send + Sync {
    /// The timeouts of hook `lifecycle_hook_name` of group `auto_scaling_group_name`;
    /// `None` when the group has no such hook.
    fn hook_timeouts(
        &self,
        auto_scaling_group_name: &str,
        lifecycle_hook_name: &str,
    ) -> impl Future<Output = Result<Option<HookTimeouts>, DrainError>> + Send;
}

impl DescribeLifecycleHook for AwsDrain {
    async fn hook_timeouts(
        &self,
        auto_scaling_group_name: &str,
        lifecycle_hook_name: &str,
    ) -> Result<Option<HookTimeouts>, DrainError> {
        let answer = self
            .autoscaling
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(auto_scaling_group_name)
            .lifecycle_hook_names(lifecycle_hook_name)
            .send()
            .await
            .map_err(|err| DrainError::DescribeHook {
                operation: OPERATION,
                auto_scaling_group_name: auto_scaling_group_name.to_owned(),
                lifecycle_hook_name: lifecycle_hook_name.to_owned(),
                message: crate::sdk_message(&err),
                source: Box::new(err),
            })?;
        let Some(hook) = answer
            .lifecycle_hooks()
            .iter()
            .find(|h| h.lifecycle_hook_name() == Some(lifecycle_hook_name))
        else {
            return Ok(None);
        };
        let seconds = |value: Option<i32>, field: &'static str| {
            value
                .and_then(|v| u64::try_from(v).ok())
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    let message = format!("answered without a valid {field}");
                    DrainError::DescribeHook {
                        operation: OPERATION,
                        auto_scaling_group_name: auto_scaling_group_name.to_owned(),
                        lifecycle_hook_name: lifecycle_hook_name.to_owned(),
                        source: message.clone().into(),
                        message,
                    }
                })
        };
        Ok(Some(HookTimeouts {
            heartbeat_timeout: seconds(hook.heartbeat_timeout(), "HeartbeatTimeout")?,
            global_timeout: seconds(hook.global_timeout(), "GlobalTimeout")?,
        }))
    }
}

#[cfg(any(test, feature = "fake"))]
impl DescribeLifecycleHook for super::fake::FakeDrainWorld {
    async fn hook_timeouts(
        &self,
        auto_scaling_group_name: &str,
        lifecycle_hook_name: &str,
    ) -> Result<Option<HookTimeouts>, DrainError> {
        self.record(super::fake::DrainCall::DescribeLifecycleHook {
            auto_scaling_group_name: auto_scaling_group_name.to_owned(),
            lifecycle_hook_name: lifecycle_hook_name.to_owned(),
        })?;
        Ok(self
            .state()
            .hooks
            .get(&(
                auto_scaling_group_name.to_owned(),
                lifecycle_hook_name.to_owned(),
            ))
            .copied())
    }
}
