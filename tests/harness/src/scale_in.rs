//! What the scale-in chooser's tests against moto share: the request Auto Scaling sends a
//! custom termination policy.

use serde_json::{Value, json};

/// Auto Scaling's request to choose `capacity` instances to terminate among `ids` (on-demand
/// m5.large in us-east-1a) of the group `prod-hosts`, on a scale-in.
pub fn termination_request(ids: &[String], capacity: u32) -> Value {
    termination_request_in("us-east-1a", ids, capacity)
}

/// [`termination_request`] for the Availability Zone `zone`: Auto Scaling shrinks one zone at
/// a time and suggests only that zone's instances.
pub fn termination_request_in(zone: &str, ids: &[String], capacity: u32) -> Value {
    let instances: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"AvailabilityZone": zone, "InstanceId": id, "InstanceType": "m5.large", "InstanceMarketOption": "on-demand"})
        })
        .collect();
    json!({
        "AutoScalingGroupARN": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:5f3d1c2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f:autoScalingGroupName/prod-hosts",
        "AutoScalingGroupName": "prod-hosts",
        "CapacityToTerminate": [{"AvailabilityZone": zone, "Capacity": capacity, "InstanceMarketOption": "on-demand"}],
        "Instances": instances,
        "Cause": "SCALE_IN",
        "HasMoreInstances": false
    })
}
