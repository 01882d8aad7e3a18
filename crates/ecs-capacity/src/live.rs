//! `report --cluster`: a read-only snapshot of a live cluster through the shared AWS I/O
//! crate, with the standard AWS configuration (profile, region, `AWS_ENDPOINT_URL`) and the
//! calculator's own worst-case discovery.

use capacity_aws::{ClusterSnapshot, EcsReader};
use capacity_core::WorstCase;

/// Reads `cluster` (name or ARN). `worst_case` skips the discovery from task definitions.
pub fn snapshot(
    cluster: &str,
    worst_case: Option<WorstCase>,
) -> Result<ClusterSnapshot, LiveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)?;
    runtime.block_on(async {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        EcsReader::new(aws_sdk_ecs::Client::new(&sdk))
            .snapshot(cluster, worst_case)
            .await
            .map_err(LiveError::Aws)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot read the cluster")]
    Aws(#[source] capacity_aws::Error),
}
