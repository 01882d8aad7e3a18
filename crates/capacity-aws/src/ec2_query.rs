//! EC2's Query protocol for the few EC2 calls this project makes (the two reads of
//! `instance_types`; the tests' harness creates launch templates with it), on the
//! SDK's own runtime.
//!
//! **Why not `aws-sdk-ec2`.** It is the generated client of all of EC2's operations (about
//! 750). On CI's two cores it took 552 s of a 927 s test build — a third of all the CPU the
//! build spent — and `cargo clippy` checks it once more: alone it kept CI over its 15
//! minutes, for two reads. This module is made of the crates the SDK itself is made of, so
//! what matters behaves as the SDK does:
//!
//! * [`aws_smithy_runtime`]'s orchestrator sends the call: the configuration's HTTP client
//!   (or the SDK's default HTTPS client), its timeouts, and standard retries with backoff on
//!   throttling (EC2 answers `RequestLimitExceeded` with HTTP 503), 5xx and transport errors;
//! * [`aws_sigv4`] signs each attempt with the configuration's credentials;
//! * [`aws_smithy_xml`] reads the answer; an error answer's `Code` and `Message` are kept as
//!   the SDK keeps them ([`ProvideErrorMetadata`]).
//!
//! The endpoint is chosen as the SDK chooses it: `AWS_ENDPOINT_URL_EC2` (or the profile's
//! `endpoint_url` for EC2), else `AWS_ENDPOINT_URL`, else `ec2[-fips].<region>.amazonaws.com`
//! (`.amazonaws.com.cn` in China). Only what the reads need is written here: each request's
//! parameters and the fields read from each answer are in `instance_types` (which uses this
//! module; this one names it only in words, so the two are no import circle).

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{
    HttpStatusCodeClassifier, TransientErrorClassifier,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError, try_data};
use aws_types::service_config::ServiceConfigKey;

/// The API version every EC2 Query request names.
const API_VERSION: &str = "2016-11-15";

/// A client for EC2's Query protocol, built from the SDK configuration the other clients use.
/// Clone is cheap.
#[derive(Debug, Clone)]
pub struct Ec2Query {
    sdk: SdkConfig,
}

/// An EC2 call that failed: no region or credentials to sign with, or the call itself (after
/// the retries), as the SDK reports it.
#[derive(Debug, thiserror::Error)]
pub enum Ec2CallError {
    #[error("no AWS region is configured (set AWS_REGION)")]
    NoRegion,
    #[error("no AWS credentials to sign the call with")]
    Credentials(#[source] CredentialsError),
    #[error("the endpoint {endpoint} is not a URL")]
    Endpoint { endpoint: String },
    #[error("the call failed")]
    Call(#[source] Box<SdkError<ApiError, HttpResponse>>),
}

impl ProvideErrorMetadata for Ec2CallError {
    fn meta(&self) -> &ErrorMetadata {
        static NONE: std::sync::OnceLock<ErrorMetadata> = std::sync::OnceLock::new();
        match self {
            Ec2CallError::Call(err) => match err.as_ref() {
                SdkError::ServiceError(e) => e.err().meta(),
                _ => NONE.get_or_init(|| ErrorMetadata::builder().build()),
            },
            _ => NONE.get_or_init(|| ErrorMetadata::builder().build()),
        }
    }
}

/// EC2's answer to a refused call: `<Response><Errors><Error><Code>…<Message>…`, with the
/// HTTP status.
#[derive(Debug)]
pub struct ApiError {
    status: u16,
    meta: ErrorMetadata,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (HTTP {})",
            self.meta.code().unwrap_or("unknown error"),
            self.meta.message().unwrap_or("no message"),
            self.status
        )
    }
}

impl std::error::Error for ApiError {}

impl ProvideErrorMetadata for ApiError {
    fn meta(&self) -> &ErrorMetadata {
        &self.meta
    }
}

impl Ec2Query {
    /// A client on `sdk`'s region, credentials, HTTP client, retry and timeout settings.
    pub fn new(sdk: &SdkConfig) -> Self {
        Ec2Query { sdk: sdk.clone() }
    }

    /// Calls `action` with `params` (named as EC2's Query protocol names them, lists
    /// flattened: `InstanceType.1`, `InstanceType.2`, …) and returns the answer's XML.
    pub async fn call(
        &self,
        action: &'static str,
        params: &[(&str, &str)],
    ) -> Result<String, Ec2CallError> {
        let region = self.sdk.region().ok_or(Ec2CallError::NoRegion)?.to_string();
        let endpoint = self.endpoint(&region);
        if http::Uri::try_from(endpoint.as_str()).is_err() {
            return Err(Ec2CallError::Endpoint { endpoint });
        }
        let credentials = match self.sdk.credentials_provider() {
            Some(provider) => provider
                .provide_credentials()
                .await
                .map_err(Ec2CallError::Credentials)?,
            None => {
                return Err(Ec2CallError::Credentials(CredentialsError::not_loaded(
                    "no credentials provider is configured",
                )));
            }
        };
        let body = form_body(action, params);
        let mut operation = Operation::builder()
            .service_name("ec2")
            .operation_name(action)
            .behavior_version(
                self.sdk
                    .behavior_version()
                    .unwrap_or_else(BehaviorVersion::latest),
            )
            .endpoint_url(&endpoint)
            .no_auth()
            .interceptor(SignV4 {
                identity: credentials.into(),
                region,
            })
            .standard_retry(
                &self
                    .sdk
                    .retry_config()
                    .cloned()
                    .unwrap_or_else(RetryConfig::standard),
            )
            .retry_classifier(HttpStatusCodeClassifier::default())
            .retry_classifier(TransientErrorClassifier::<ApiError>::new())
            .with_connection_poisoning();
        if let Some(client) = self.sdk.http_client() {
            operation = operation.http_client(client);
        }
        if let Some(timeouts) = self.sdk.timeout_config() {
            operation = operation.timeout_config(timeouts.clone());
        }
        if let Some(sleep) = self.sdk.sleep_impl() {
            operation = operation.sleep_impl(sleep);
        }
        if let Some(time) = self.sdk.time_source() {
            operation = operation.time_source(time);
        }
        operation
            .serializer(|body: String| {
                let mut request = HttpRequest::new(SdkBody::from(body));
                request.set_method("POST")?;
                request.set_uri("/")?;
                request.headers_mut().insert(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                );
                Ok(request)
            })
            .deserializer(answer)
            .build()
            .invoke(body)
            .await
            .map_err(|e| Ec2CallError::Call(Box::new(e)))
    }

    /// The endpoint as the SDK clients choose it (see the module's documentation).
    fn endpoint(&self, region: &str) -> String {
        let configured = self
            .sdk
            .service_config()
            .and_then(|conf| {
                ServiceConfigKey::builder()
                    .service_id("EC2")
                    .env("AWS_ENDPOINT_URL")
                    .profile("endpoint_url")
                    .build()
                    .ok()
                    .and_then(|key| conf.load_config(key))
            })
            .or_else(|| self.sdk.endpoint_url().map(str::to_owned));
        if let Some(url) = configured {
            return url;
        }
        let host = if self.sdk.use_fips() == Some(true) {
            "ec2-fips"
        } else {
            "ec2"
        };
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://{host}.{region}.{domain}")
    }
}

/// `Action=…&Version=…&<params>`, form-encoded.
fn form_body(action: &str, params: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    form.append_pair("Version", API_VERSION);
    for (name, value) in params {
        form.append_pair(name, value);
    }
    form.finish()
}

/// A 2xx answer's XML, or EC2's error as an [`ApiError`].
fn answer(response: &HttpResponse) -> Result<String, OrchestratorError<ApiError>> {
    let status = response.status().as_u16();
    let text = response
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    if response.status().is_success() {
        return Ok(text);
    }
    let mut meta = ErrorMetadata::builder();
    if let Ok(Some((code, message))) = error_fields(&text) {
        if let Some(code) = code {
            meta = meta.code(code);
        }
        if let Some(message) = message {
            meta = meta.message(message);
        }
    }
    Err(OrchestratorError::operation(ApiError {
        status,
        meta: meta.build(),
    }))
}

/// The `Code` and `Message` of `<Response><Errors><Error>`, when the body is that.
#[allow(clippy::type_complexity)]
fn error_fields(text: &str) -> Result<Option<(Option<String>, Option<String>)>, XmlDecodeError> {
    let mut doc = Document::new(text);
    let mut root = doc.root_element()?;
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        while let Some(mut error) = errors.next_tag() {
            if !error.start_el().matches("Error") {
                continue;
            }
            let (mut code, mut message) = (None, None);
            while let Some(mut field) = error.next_tag() {
                if field.start_el().matches("Code") {
                    code = Some(text_of(&mut field)?);
                } else if field.start_el().matches("Message") {
                    message = Some(text_of(&mut field)?);
                }
            }
            return Ok(Some((code, message)));
        }
    }
    Ok(None)
}

/// The document, when it is whole: every element closed (an answer cut short is an error, not
/// a shorter list) — the readers in `instance_types` stop quietly at the end of the input.
pub(crate) fn whole(xml: &str) -> Result<Document<'_>, XmlDecodeError> {
    let mut last_depth = None;
    for token in Document::new(xml) {
        let (_, depth) = token?;
        last_depth = Some(depth);
    }
    match last_depth {
        Some(0) => Ok(Document::new(xml)),
        _ => Err(XmlDecodeError::custom(
            "the answer ends before its root element does",
        )),
    }
}

/// The text of an element.
pub(crate) fn text_of(tag: &mut ScopedDecoder) -> Result<String, XmlDecodeError> {
    try_data(tag).map(Cow::into_owned)
}

/// Signs each attempt with Signature Version 4 just before it is sent, after the endpoint
/// is set (the host is signed) — a retry is signed again at its own time.
#[derive(Debug)]
struct SignV4 {
    identity: Identity,
    region: String,
}

impl Intercept for SignV4 {
    fn name(&self) -> &'static str {
        "SignV4"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let body = request.body().bytes().unwrap_or_default().to_vec();
        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let signable = SignableRequest::new(
            request.method(),
            request.uri(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        let (signed_headers, _) = instructions.into_parts();
        for header in signed_headers {
            request
                .headers_mut()
                .insert(header.name(), header.value().to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The protocol on the SDK's test HTTP client: what a request carries (action, version,
    //! parameters, a signature), and what becomes of an error answer and of throttling.

    use std::sync::{Arc, Mutex};

    use aws_credential_types::Credentials;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use aws_types::region::Region;

    use super::*;

    /// The requests a test client saw: (headers as `name: value`, body).
    pub(crate) type Seen = Arc<Mutex<Vec<(Vec<String>, String)>>>;

    /// An SDK configuration whose HTTP client answers each request with `respond(body)`
    /// (status, XML) and records it.
    pub(crate) fn sdk_answering(
        respond: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> (SdkConfig, Seen) {
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let client = infallible_client_fn(move |req: http::Request<SdkBody>| {
            let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).into_owned();
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("?")))
                .collect();
            let (status, xml) = respond(&body);
            log.lock().expect("log").push((headers, body));
            http::Response::builder()
                .status(status)
                .body(SdkBody::from(xml))
                .expect("a response")
        });
        let sdk = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    Credentials::for_tests(),
                ),
            )
            .http_client(client)
            .retry_config(
                RetryConfig::standard().with_initial_backoff(std::time::Duration::from_millis(1)),
            )
            .behavior_version(BehaviorVersion::latest())
            .build();
        (sdk, seen)
    }

    #[tokio::test]
    async fn a_call_is_a_signed_form_post_of_the_action_and_its_parameters() {
        let (sdk, seen) = sdk_answering(|_| (200, "<R><x>1</x></R>".to_owned()));
        let xml = Ec2Query::new(&sdk)
            .call("DescribeInstanceTypes", &[("InstanceType.1", "m5.large")])
            .await
            .expect("answered");
        assert_eq!(xml, "<R><x>1</x></R>");
        let seen = seen.lock().expect("log");
        let [(headers, body)] = seen.as_slice() else {
            panic!("one request: {seen:?}");
        };
        assert_eq!(
            body,
            "Action=DescribeInstanceTypes&Version=2016-11-15&InstanceType.1=m5.large"
        );
        let auth = headers
            .iter()
            .find(|h| h.starts_with("authorization: "))
            .expect("signed");
        assert!(
            auth.contains("/eu-west-1/ec2/aws4_request") && auth.contains("Signature="),
            "{auth}"
        );
        assert!(
            headers.iter().any(|h| h.starts_with("x-amz-date: ")),
            "{headers:?}"
        );
    }

    #[tokio::test]
    async fn throttling_is_retried_and_a_refusal_keeps_its_code_and_message() {
        let calls = Arc::new(Mutex::new(0u32));
        let counter = calls.clone();
        let (sdk, _) = sdk_answering(move |_| {
            let mut n = counter.lock().expect("count");
            *n += 1;
            match *n {
                1 => (
                    503,
                    "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>".to_owned(),
                ),
                2 => (200, "<ok/>".to_owned()),
                _ => (
                    403,
                    "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r2</RequestID></Response>".to_owned(),
                ),
            }
        });
        let ec2 = Ec2Query::new(&sdk);
        assert_eq!(
            ec2.call("DescribeInstanceTypes", &[])
                .await
                .expect("retried"),
            "<ok/>"
        );
        let err = ec2
            .call("DescribeInstanceTypes", &[])
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Some("UnauthorizedOperation"));
        assert_eq!(
            err.message(),
            Some("You are not authorized to perform this operation.")
        );
        assert!(
            crate::sdk_message(&err).contains("UnauthorizedOperation"),
            "{}",
            crate::sdk_message(&err)
        );
        // A refusal is not retried: one throttled + one good + one refused.
        assert_eq!(*calls.lock().expect("count"), 3);
    }

    #[tokio::test]
    async fn without_a_region_nothing_is_sent() {
        let (sdk, seen) = sdk_answering(|_| (200, "<ok/>".to_owned()));
        let sdk = sdk.into_builder().region(None).build();
        let err = Ec2Query::new(&sdk)
            .call("DescribeInstanceTypes", &[])
            .await
            .expect_err("no region");
        assert!(matches!(err, Ec2CallError::NoRegion), "{err:?}");
        assert!(seen.lock().expect("log").is_empty());
    }

    #[test]
    fn the_endpoint_is_the_configured_one_else_the_regions() {
        let (sdk, _) = sdk_answering(|_| (200, String::new()));
        assert_eq!(
            Ec2Query::new(&sdk).endpoint("eu-west-1"),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            Ec2Query::new(&sdk).endpoint("cn-north-1"),
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
        let fips = sdk.clone().into_builder().use_fips(true).build();
        assert_eq!(
            Ec2Query::new(&fips).endpoint("us-east-1"),
            "https://ec2-fips.us-east-1.amazonaws.com"
        );
        let local = sdk
            .into_builder()
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        assert_eq!(
            Ec2Query::new(&local).endpoint("eu-west-1"),
            "http://127.0.0.1:5000"
        );
    }
}
