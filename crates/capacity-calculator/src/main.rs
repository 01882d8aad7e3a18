use capacity_aws::attributes::EcsAttributes;
use capacity_aws::capacity_provider::EcsCapacityProviders;
use std::sync::Arc;

use capacity_aws::clock::SystemClock;
use capacity_aws::group::AsgGroupReader;
use capacity_aws::instance_types::{Ec2InstanceTypes, GroupLaunchCache};
use capacity_aws::{CloudWatchPublisher, EcsReader};
use capacity_calculator::{Config, Deps, handle};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = capacity_aws::config::logged(Config::from_env())?;
    let sdk = capacity_aws::load_sdk_config(capacity_aws::sdk_timeouts()).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let reader = EcsReader::new(ecs.clone());
    let metrics = CloudWatchPublisher::new(aws_sdk_cloudwatch::Client::new(&sdk));
    let group = AsgGroupReader::new(aws_sdk_autoscaling::Client::new(&sdk));
    let deps = Deps::new(reader.clone(), reader, metrics, config)
        .with_group(group, EcsAttributes::new(ecs.clone()))
        .with_capacity_providers(EcsCapacityProviders::new(ecs))
        .with_instance_types(GroupLaunchCache::new(
            Ec2InstanceTypes::from_conf(&sdk),
            Arc::new(SystemClock),
        ));
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(event.payload, deps).await
    }))
    .await
}
