//! Publishing the drain's notification again, to continue it in the next invocation.

use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;

use super::client::AwsDrain;
use super::{BoxError, DrainError};

/// The value of an SNS message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    Number(i64),
}

/// One SNS publish: the same message again, with attributes that carry the drain's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republication {
    pub topic_arn: String,
    pub message: String,
    /// At most 100 characters on AWS; `None` publishes without a subject.
    pub subject: Option<String>,
    pub attributes: Vec<(String, AttributeValue)>,
}

/// Publishes a message to an SNS topic.
pub trait Republish: Send + Sync {
    /// Publishes `republication`; returns SNS's message id.
    fn republish(
        &self,
        republication: &Republication,
    ) -> impl Future<Output = Result<String, DrainError>> + Send;
}

impl Republish for AwsDrain {
    async fn republish(&self, republication: &Republication) -> Result<String, DrainError> {
        let topic_arn = &republication.topic_arn;
        let publish_error = |source: BoxError| DrainError::Publish {
            operation: "Publish",
            topic_arn: topic_arn.clone(),
            message: crate::sdk_message(source.as_ref()),
            source,
        };
        let mut request = self
            .sns
            .publish()
            .topic_arn(topic_arn)
            .message(&republication.message)
            .set_subject(republication.subject.clone());
        for (name, value) in &republication.attributes {
            let (data_type, text) = match value {
                AttributeValue::String(s) => ("String", s.clone()),
                AttributeValue::Number(n) => ("Number", n.to_string()),
            };
            let attribute = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(text)
                .build()
                .map_err(|e| publish_error(Box::new(e)))?;
            request = request.message_attributes(name, attribute);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| publish_error(Box::new(e)))?;
        Ok(answer.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(any(test, feature = "fake"))]
impl Republish for super::fake::FakeDrainWorld {
    async fn republish(&self, republication: &Republication) -> Result<String, DrainError> {
        self.record(super::fake::DrainCall::Republish(republication.clone()))?;
        let n = self.state().calls.len();
        Ok(format!("fake-message-{n}"))
    }
}
