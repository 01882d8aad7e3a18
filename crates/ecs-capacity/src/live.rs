//! `report --cluster`: a read-only snapshot of a live cluster through the shared AWS I/O
//! crate, with the standard AWS configuration (profile, region, `AWS_ENDPOINT_URL`) and the
//! calculator's own worst-case discovery.

use capacity_aws::group::{AsgGroupReader, GroupReader};
use capacity_aws::instance_types::{Ec2InstanceTypes, InstanceTypeReader};
use capacity_aws::{ClusterSnapshot, EcsReader};
use capacity_core::WorstCase;
use capacity_core::fit::{LaunchSpec, TypeOverride};

use crate::report::TypeChoice;

/// Reads `cluster` (name or ARN). `worst_case` skips the discovery from task definitions.
pub fn snapshot(
    cluster: &str,
    worst_case: Option<WorstCase>,
) -> Result<ClusterSnapshot, LiveError> {
    with_sdk(|sdk| async move {
        EcsReader::new(aws_sdk_ecs::Client::new(&sdk))
            .snapshot(cluster, worst_case)
            .await
            .map_err(LiveError::Aws)
    })
}

/// Runs `read` on a one-thread runtime with the standard AWS configuration.
fn with_sdk<T, F>(read: impl FnOnce(aws_config::SdkConfig) -> F) -> Result<T, LiveError>
where
    F: std::future::Future<Output = Result<T, LiveError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Runtime)?;
    runtime.block_on(async {
        read(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await).await
    })
}

/// The instance types to fit today's tasks on: the group `group`'s (read as the calculator
/// reads them, in its order; they also size new hosts) and then `others` (by name, from
/// DescribeInstanceTypes), each once.
pub fn instance_types(group: Option<&str>, others: &[String]) -> Result<TypeChoice, LiveError> {
    with_sdk(|sdk| async move {
        let reader = Ec2InstanceTypes::from_conf(&sdk);
        let mut choice = TypeChoice::default();
        if let Some(name) = group {
            let asg = AsgGroupReader::new(aws_sdk_autoscaling::Client::new(&sdk))
                .group(name)
                .await
                .map_err(LiveError::Aws)?;
            let spec = asg.launch.ok_or_else(|| {
                LiveError::Aws(capacity_aws::Error::LaunchNotFound {
                    what: "launch template or configuration of group",
                    id: name.to_owned(),
                })
            })?;
            let launch = reader.group_launch(&spec).await.map_err(LiveError::Aws)?;
            choice
                .candidates
                .extend(launch.types.iter().map(|t| t.info.clone()));
            choice.launch = Some(launch);
        }
        let others: Vec<&String> = others
            .iter()
            .filter(|n| !choice.candidates.iter().any(|c| &c.name == *n))
            .collect();
        if !others.is_empty() {
            // Read as a group of these types would be: one DescribeInstanceTypes.
            let spec = LaunchSpec {
                overrides: others
                    .iter()
                    .map(|n| TypeOverride {
                        instance_type: Some((*n).clone()),
                        weight: None,
                        launch_template: None,
                    })
                    .collect(),
                ..LaunchSpec::default()
            };
            let read = reader.group_launch(&spec).await.map_err(LiveError::Aws)?;
            choice
                .candidates
                .extend(read.types.into_iter().map(|t| t.info));
        }
        Ok(choice)
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot read the cluster")]
    Aws(#[source] capacity_aws::Error),
    #[error("--prices: {0}")]
    Prices(String),
}

/// `--prices`: `TYPE=PRICE` pairs, comma-separated, or a JSON file of `{"TYPE": PRICE}`.
pub fn prices(value: &str) -> Result<std::collections::BTreeMap<String, f64>, LiveError> {
    let bad = |why: String| LiveError::Prices(why);
    let parsed: std::collections::BTreeMap<String, f64> = if value.contains('=') {
        value
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (name, price) = pair
                    .split_once('=')
                    .ok_or_else(|| bad(format!("{pair:?} is not TYPE=PRICE")))?;
                let price: f64 = price
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("{pair:?}: {price:?} is not a number")))?;
                Ok((name.trim().to_owned(), price))
            })
            .collect::<Result<_, LiveError>>()?
    } else {
        let text =
            std::fs::read_to_string(value).map_err(|e| bad(format!("cannot read {value}: {e}")))?;
        serde_json::from_str(&text)
            .map_err(|e| bad(format!("{value}: not a JSON object of prices: {e}")))?
    };
    if let Some((name, price)) = parsed.iter().find(|(_, p)| !p.is_finite() || **p <= 0.0) {
        return Err(bad(format!("{name}: {price} is not a price above 0")));
    }
    Ok(parsed)
}
