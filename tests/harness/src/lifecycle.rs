//! What the drainer's tests against moto share: lifecycle notifications and the SNS events
//! that deliver them, and the emulator's lifecycle-action shim (moto has no
//! CompleteLifecycleAction / RecordLifecycleActionHeartbeat: the harness answers them like
//! AWS, including "No active Lifecycle Action found", and records every call).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::MotoServer;

/// Now, in Unix epoch milliseconds (the real clock: moto tests run in real time).
pub fn now_ms() -> u64 {
    capacity_aws::clock::epoch_ms(SystemTime::now())
}

/// `ms` (Unix epoch milliseconds) as RFC 3339 in UTC, e.g. `2021-01-19T00:36:26.533Z` (no
/// fraction when the second is whole): the form of a notification's `Time` (capacity-aws's
/// one formatter).
pub fn rfc3339(ms: u64) -> String {
    capacity_aws::clock::format_rfc3339(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
}

/// The notification Auto Scaling publishes when `instance` of `group` waits in the
/// terminating hook `hook` (action token `token`), which started at `started_ms`.
pub fn terminating_notification(
    group: &str,
    hook: &str,
    token: &str,
    instance: &str,
    started_ms: u64,
) -> String {
    json!({
        "Origin": "AutoScalingGroup",
        "Destination": "EC2",
        "Service": "AWS Auto Scaling",
        "Time": rfc3339(started_ms),
        "RequestId": "18b2ec17-3e9b-4c15-8024-ff2e8ce8786a",
        "LifecycleActionToken": token,
        "AccountId": "123456789012",
        "AutoScalingGroupName": group,
        "LifecycleHookName": hook,
        "EC2InstanceId": instance,
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
    })
    .to_string()
}

/// The Lambda SNS event delivering `message` from `topic_arn` now, with `attributes` (the
/// SNS `MessageAttributes` object).
pub fn sns_event(topic_arn: &str, message: &str, attributes: Value) -> Value {
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{topic_arn}:4f6b7a2e-7c3b-4bfa-9d1e-0d5d2f3c8a11"),
            "Sns": {
                "Type": "Notification",
                "MessageId": "5c2b7c1a-0f6e-5a4d-9c3e-2b1a0f9e8d7c",
                "TopicArn": topic_arn,
                "Subject": null,
                "Message": message,
                "Timestamp": rfc3339(now_ms()),
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": attributes,
            }
        }]
    })
}

impl MotoServer {
    /// Opens the lifecycle action of `instance` in hook `hook` of `group`, with `token`.
    pub fn open_lifecycle_action(&self, group: &str, hook: &str, instance: &str, token: &str) {
        self.post(
            "/_harness/lifecycle-actions",
            &json!({
                "AutoScalingGroupName": group,
                "LifecycleHookName": hook,
                "InstanceId": instance,
                "LifecycleActionToken": token,
            }),
        );
    }

    /// Every CompleteLifecycleAction and RecordLifecycleActionHeartbeat call, in order, each
    /// with its `operation` and `outcome` (`ok`, `no active lifecycle action`, …).
    pub fn lifecycle_calls(&self) -> Vec<Value> {
        self.get("/_harness/lifecycle-calls")["calls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// How many calls of `operation` (e.g. `ListTasks`) the emulator answered.
    pub fn calls_of(&self, operation: &str) -> u64 {
        self.get("/_harness/stats")["calls_by_operation"][operation]
            .as_u64()
            .unwrap_or(0)
    }

    /// moto moves a task one status towards STOPPED each time DescribeTasks returns it; ECS
    /// does not. Keeps tasks RUNNING until StopTask, as on AWS.
    pub fn freeze_tasks(&self) {
        self.post(
            "/_harness/state-transition",
            &json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_names_the_utc_instant_to_the_millisecond() {
        // capacity-aws's formatter writes the fraction only when the second is not whole.
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_611_016_586_533), "2021-01-19T00:36:26.533Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }
}
