//! Publishing metrics: [`MetricsPublisher`], its implementation on the CloudWatch client
//! ([`CloudWatchPublisher`]) and, for tests, `FakeMetrics` (built only under `cfg(test)` or
//! the `fake` feature).

use std::future::Future;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::{ClusterArn, Error};

/// AWS limit: PutMetricData takes at most 1,000 metrics per call.
pub const MAX_METRICS_PER_CALL: usize = 1000;

/// `StorageResolution` of a high-resolution metric: one second.
pub const HIGH_RESOLUTION: i32 = 1;

/// The unit of a published value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    None,
}

/// One value to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: Unit,
    /// `(name, value)` pairs, e.g. `("ClusterName", "prod")`.
    pub dimensions: Vec<(&'static str, String)>,
    /// Stored at one-second resolution (`StorageResolution` 1), so that an alarm can evaluate
    /// it every 10 s; otherwise at CloudWatch's standard one minute. One PutMetricData call
    /// may mix both.
    pub high_resolution: bool,
}

/// Publishes metrics.
pub trait MetricsPublisher: Send + Sync {
    /// Publishes all of `metrics` under `namespace` in one call (at most
    /// [`MAX_METRICS_PER_CALL`], standard and high-resolution together), so that alarms never
    /// see half of one computation.
    fn publish(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
        metrics: &[Metric],
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// [`MetricsPublisher`] on the CloudWatch SDK client.
#[derive(Debug, Clone)]
pub struct CloudWatchPublisher {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchPublisher {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> CloudWatchPublisher {
        CloudWatchPublisher { client }
    }
}

impl MetricsPublisher for CloudWatchPublisher {
    async fn publish(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
        metrics: &[Metric],
    ) -> Result<(), Error> {
        if metrics.len() > MAX_METRICS_PER_CALL {
            return Err(Error::InvalidField {
                what: "metric namespace",
                id: namespace.to_owned(),
                field: "MetricData",
                value: format!("{} metrics (at most {MAX_METRICS_PER_CALL})", metrics.len()),
            });
        }
        let data = metrics
            .iter()
            .map(|m| {
                MetricDatum::builder()
                    .metric_name(m.name)
                    .value(m.value)
                    .unit(match m.unit {
                        Unit::Count => StandardUnit::Count,
                        Unit::None => StandardUnit::None,
                    })
                    .set_storage_resolution(m.high_resolution.then_some(HIGH_RESOLUTION))
                    .set_dimensions(Some(
                        m.dimensions
                            .iter()
                            .map(|(name, value)| {
                                Dimension::builder().name(*name).value(value).build()
                            })
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        self.client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "PutMetricData",
                cluster: cluster.name().to_owned(),
                message: aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string(),
                source: Box::new(e),
            })?;
        Ok(())
    }
}

/// Records what was published; fails on demand.
#[cfg(any(test, feature = "fake"))]
#[derive(Debug, Default)]
pub struct FakeMetrics {
    /// `(namespace, metrics)` of each successful call.
    pub published: std::sync::Mutex<Vec<(String, Vec<Metric>)>>,
    pub fail: bool,
}

#[cfg(any(test, feature = "fake"))]
impl FakeMetrics {
    /// Every successful call so far.
    pub fn calls(&self) -> Vec<(String, Vec<Metric>)> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(any(test, feature = "fake"))]
impl MetricsPublisher for FakeMetrics {
    async fn publish(
        &self,
        cluster: &ClusterArn,
        namespace: &str,
        metrics: &[Metric],
    ) -> Result<(), Error> {
        if self.fail {
            return Err(Error::injected("PutMetricData", cluster.name()));
        }
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((namespace.to_owned(), metrics.to_vec()));
        Ok(())
    }
}
