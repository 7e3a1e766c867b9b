//! HTTP plumbing shared by the adapters: one client, error bodies turned
//! into the provider's own message, `retry-after`, and streams read with
//! an idle timeout so a stalled provider cannot hang a turn.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use eventsource_stream::{Event, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::ProviderError;

/// Most bytes of an error body kept for the message.
const ERROR_BODY_LIMIT: usize = 2000;

/// Makes ring rustls' crypto provider, once per process, before any TLS
/// client is built (reqwest is built without one, to avoid aws-lc's C build).
pub fn install_crypto() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err means another provider is already installed: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The shared HTTP client (connection pool, TLS).
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        install_crypto();
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("ai-studio/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

/// POSTs `body` as JSON; a non-2xx answer becomes [`ProviderError::Status`]
/// carrying the provider's own message.
pub(super) async fn post_json(
    provider: &'static str,
    url: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> Result<reqwest::Response, ProviderError> {
    let mut request = client().post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .map_err(|err| connection(provider, &err))?;
    check_status(provider, response).await
}

/// GETs `url` and decodes the JSON answer.
pub(super) async fn get_json(
    provider: &'static str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<serde_json::Value, ProviderError> {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .map_err(|err| connection(provider, &err))?;
    let response = check_status(provider, response).await?;
    response
        .json()
        .await
        .map_err(|err| ProviderError::Malformed {
            provider,
            message: err.to_string(),
        })
}

fn connection(provider: &'static str, err: &reqwest::Error) -> ProviderError {
    ProviderError::Connection {
        provider,
        message: error_chain(err),
    }
}

/// An error and its causes, without the URL reqwest's own message
/// carries (Gemini puts the key in it).
fn error_chain(err: &reqwest::Error) -> String {
    let mut message = if err.is_connect() {
        "cannot connect".to_owned()
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_body() || err.is_decode() {
        "the response body broke off".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

async fn check_status(
    provider: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, ProviderError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let body = response.bytes().await.unwrap_or_default();
    let body = &body[..body.len().min(ERROR_BODY_LIMIT)];
    Err(ProviderError::Status {
        provider,
        status: status.as_u16(),
        message: error_message(body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned()),
        retry_after,
    })
}

/// The message in an error body: `{"error": {"message": ...}}` (OpenAI,
/// Anthropic, Gemini), `{"error": "..."}` (Ollama), or the text itself.
pub(super) fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = json
            .pointer("/error/message")
            .or_else(|| json.get("error").filter(|e| e.is_string()))
            .or_else(|| json.get("message"))
            .and_then(|m| m.as_str());
        if let Some(message) = found {
            return Some(message.to_owned());
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `retry-after` as seconds or an HTTP date, relative to `now`.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or_default())
}

/// A response body as server-sent events.
pub(super) fn events(
    response: reqwest::Response,
) -> impl Stream<Item = Result<Event, String>> + Unpin {
    Box::pin(
        response
            .bytes_stream()
            .eventsource()
            .map(|item| item.map_err(|err| err.to_string())),
    )
}

/// The next item of `stream`, or [`ProviderError::Stalled`] after `idle`
/// without one. `Ok(None)` at the end of the stream.
pub(super) async fn next_within<S, T>(
    provider: &'static str,
    stream: &mut S,
    idle: Duration,
) -> Result<Option<T>, ProviderError>
where
    S: Stream<Item = Result<T, String>> + Unpin,
{
    match tokio::time::timeout(idle, stream.next()).await {
        Err(_) => Err(ProviderError::Stalled { provider, idle }),
        Ok(None) => Ok(None),
        Ok(Some(Ok(item))) => Ok(Some(item)),
        Ok(Some(Err(message))) => Err(ProviderError::Connection { provider, message }),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn error_bodies_yield_the_providers_message() {
        let openai =
            br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#;
        assert_eq!(
            error_message(openai).as_deref(),
            Some("Incorrect API key provided")
        );
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#).as_deref(),
            Some("model not found")
        );
        assert_eq!(
            error_message(b"Bad Gateway\n").as_deref(),
            Some("Bad Gateway")
        );
        assert_eq!(error_message(b""), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }
}
