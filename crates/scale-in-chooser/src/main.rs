//! The Lambda entry point: init tracing, read the configuration, build the ECS client once,
//! then hand every invocation to [`scale_in_chooser::handle`] and answer its `InstanceIDs`.

use capacity_aws::scale_in::EcsInstanceTasks;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use scale_in_chooser::{Config, Deps, handle, sdk_timeouts};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = capacity_aws::config::logged(Config::from_env())?;
    let sdk = capacity_aws::load_sdk_config(sdk_timeouts(config.read_budget)).await;
    let deps = Deps::new(
        EcsInstanceTasks::new(aws_sdk_ecs::Client::new(&sdk)),
        config,
    );
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(event.payload, deps)
            .await
            .map(|outcome| outcome.response)
    }))
    .await
}
