//! The Lambda entry point: init tracing, read the configuration, build the SDK clients once,
//! then hand every invocation to [`lifecycle_drainer::handle`].

use capacity_aws::drain::AwsDrain;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use lifecycle_drainer::{Config, SystemClock, handle, sdk_timeouts};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = capacity_aws::config::logged(Config::from_env())?;
    let sdk_config = capacity_aws::load_sdk_config(sdk_timeouts()).await;
    let aws = AwsDrain::from_conf(&sdk_config);
    tracing::info!(cluster = %config.cluster, "lifecycle-drainer ready");
    let (config, aws) = (&config, &aws);
    run(service_fn(move |event: LambdaEvent<Value>| {
        // Boxed: the drain's future is deep, and the runtime's layers nest it further.
        Box::pin(handle(
            event.payload,
            event.context.deadline,
            config,
            aws,
            &SystemClock,
        ))
    }))
    .await
}
