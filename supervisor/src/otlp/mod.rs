//! Sessions as OpenTelemetry traces over OTLP/HTTP (protobuf): what
//! `studio export ID --otlp URL` sends, and what the daemon sends by
//! itself to a configured endpoint (`daemon::otlp_export`).
//!
//! [`spans`] turns recorded events into spans following the GenAI semantic
//! conventions ([`CONVENTIONS`]); a [`Sender`] hands them to the
//! `opentelemetry-otlp` exporter. Header values are secrets: they go only
//! into the request, never into a log or an error.

pub mod spans;

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use protocol::Secret;

pub use spans::{SessionFacts, Span, SpanRole, Turn, Value, turns};

/// The version of the GenAI semantic conventions the spans follow: the
/// first release of their own repository,
/// <https://github.com/open-telemetry/semantic-conventions-genai>.
pub const CONVENTIONS: &str = "semantic-conventions-genai v0.1.0";

/// `service.name` of the spans' resource.
pub const SERVICE_NAME: &str = "ai-studio";

/// Most spans in one request; more are sent in several.
pub const SPANS_PER_REQUEST: usize = 512;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where spans go: an OTLP/HTTP endpoint and the headers it wants.
#[derive(Clone, Debug)]
pub struct Target {
    /// The traces URL (`…/v1/traces`), see [`traces_url`].
    pub url: String,
    /// Request headers (auth); the values are secrets.
    pub headers: Vec<(String, Secret)>,
}

/// Why spans were not sent.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The URL is not an http(s) URL.
    #[error("{0:?} is not an http:// or https:// URL")]
    BadUrl(String),
    /// A header name is not one HTTP allows.
    #[error("{0:?} is not a header name")]
    BadHeader(String),
    /// The exporter could not be built.
    #[error("cannot export to {url}: {reason}")]
    Build {
        /// Where to.
        url: String,
        /// The exporter's reason.
        reason: String,
    },
    /// The receiver refused the spans or could not be reached.
    #[error("exporting to {url} failed: {reason}")]
    Export {
        /// Where to.
        url: String,
        /// The exporter's reason.
        reason: String,
    },
}

/// The traces URL for `endpoint`: as given if it has a path, else with
/// OTLP's `/v1/traces` added (so `http://host:4318` works as collectors
/// document it).
pub fn traces_url(endpoint: &str) -> Result<String, OtlpError> {
    let url =
        url::Url::parse(endpoint.trim()).map_err(|_| OtlpError::BadUrl(endpoint.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(OtlpError::BadUrl(endpoint.to_owned()));
    }
    let mut url = url;
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/v1/traces");
    }
    Ok(url.to_string())
}

/// Checks that each header name is a valid HTTP header name.
pub fn check_headers(headers: &[(String, Secret)]) -> Result<(), OtlpError> {
    for (name, _) in headers {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            return Err(OtlpError::BadHeader(name.clone()));
        }
    }
    Ok(())
}

/// An exporter to one [`Target`], kept for many sends (one HTTP client,
/// its connections reused).
#[derive(Debug)]
pub struct Sender {
    url: String,
    exporter: opentelemetry_otlp::SpanExporter,
    scope: InstrumentationScope,
}

impl Sender {
    /// Builds the exporter for `target`.
    pub fn new(target: &Target) -> Result<Sender, OtlpError> {
        Ok(Sender {
            url: target.url.clone(),
            exporter: exporter(target)?,
            scope: InstrumentationScope::builder(SERVICE_NAME)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        })
    }

    /// Sends `spans`, [`SPANS_PER_REQUEST`] at a time; returns how many
    /// were sent. Stops at the first request that fails.
    pub async fn send(&self, spans: Vec<Span>) -> Result<usize, OtlpError> {
        let total = spans.len();
        let mut data: Vec<SpanData> = spans
            .into_iter()
            .map(|span| span_data(span, &self.scope))
            .collect();
        while !data.is_empty() {
            let rest = data.split_off(data.len().min(SPANS_PER_REQUEST));
            self.exporter
                .export(data)
                .await
                .map_err(|err| OtlpError::Export {
                    url: self.url.clone(),
                    reason: err.to_string(),
                })?;
            data = rest;
        }
        Ok(total)
    }
}

fn exporter(target: &Target) -> Result<opentelemetry_otlp::SpanExporter, OtlpError> {
    check_headers(&target.headers)?;
    install_crypto();
    let build_error = |reason: String| OtlpError::Build {
        url: target.url.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("ai-studio/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| build_error(err.to_string()))?;
    let headers: HashMap<String, String> = target
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.expose().to_owned()))
        .collect();
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(target.url.clone())
        .with_timeout(REQUEST_TIMEOUT)
        .with_headers(headers)
        .build()
        .map_err(|err| build_error(err.to_string()))?;
    exporter.set_resource(
        &Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", SERVICE_NAME),
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("studio.semconv", CONVENTIONS),
            ])
            .build(),
    );
    Ok(exporter)
}

/// Makes ring rustls' crypto provider, once per process, before a TLS
/// client is built (reqwest is built without one).
pub(crate) fn install_crypto() {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err means another provider is already installed: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One of our spans as the SDK's.
fn span_data(span: Span, scope: &InstrumentationScope) -> SpanData {
    let context = SpanContext::new(
        TraceId::from(span.trace_id),
        SpanId::from(span.span_id),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let status = match span.error {
        Some(message) => Status::error(message),
        None => Status::Ok,
    };
    SpanData {
        span_context: context,
        parent_span_id: span.parent.map_or(SpanId::INVALID, SpanId::from),
        parent_span_is_remote: false,
        span_kind: match span.role {
            SpanRole::Chat => SpanKind::Client,
            SpanRole::Agent | SpanRole::Tool => SpanKind::Internal,
        },
        name: Cow::Owned(span.name),
        start_time: span.start.to_system_time(),
        end_time: span.end.to_system_time(),
        attributes: span
            .attributes
            .into_iter()
            .map(|(key, value)| match value {
                Value::Text(text) => KeyValue::new(key, text),
                Value::Int(n) => KeyValue::new(key, n),
                Value::Float(x) => KeyValue::new(key, x),
                Value::Texts(texts) => KeyValue::new(
                    key,
                    opentelemetry::Value::Array(opentelemetry::Array::String(
                        texts.into_iter().map(Into::into).collect(),
                    )),
                ),
            })
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_without_a_path_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/custom/traces").unwrap(),
            "https://otel.example/custom/traces"
        );
        for bad in ["127.0.0.1:4318", "ftp://host/x", "http://", "not a url"] {
            assert!(traces_url(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn header_names_are_checked_and_values_are_not_shown() {
        let good = vec![("x-api-key".to_owned(), Secret::new("s3cret"))];
        assert!(check_headers(&good).is_ok());
        let bad = vec![("bad name".to_owned(), Secret::new("s3cret"))];
        let err = check_headers(&bad).unwrap_err().to_string();
        assert!(err.contains("bad name") && !err.contains("s3cret"), "{err}");
    }
}
