//! `fetch`: an HTTP GET with a timeout and a size cap; HTML comes back as
//! readable text.
//!
//! It reaches only public addresses unless the agent lists a host
//! (`guard`), connects directly (no proxy, which would resolve names where
//! the guard cannot see), and never follows a redirect itself: it answers
//! with the target, so the model's next call for it is a new tool call,
//! checked by the guard and by the approval rules like any other.

mod guard;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::{Capped, Output};
use guard::{Guard, GuardedResolver};

/// Most bytes read from a response.
const MAX_BODY: usize = 2 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(30);

/// GETs `url` for an agent whose `sandbox.private_hosts` is `private_hosts`.
pub(super) async fn get(url: &str, private_hosts: &[String]) -> Result<Output, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs can be fetched, not {}",
            parsed.scheme()
        ));
    }
    let guard = Guard::new(private_hosts);
    let listed = guard.check_url(&parsed)?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    crate::provider::http::install_crypto();
    let mut builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    if !listed {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    let client = builder.build().map_err(|e| error_chain(&e))?;
    let response = client
        .get(parsed.clone())
        .send()
        .await
        .map_err(|e| format!("cannot fetch {url}: {}", error_chain(&e)))?;
    if !listed && let Some(addr) = response.remote_addr() {
        guard.check_connected(&host, addr)?;
    }
    let status = response.status();
    if status.is_redirection() {
        return Ok(redirected(&parsed, status, response.headers()));
    }
    let html = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("html"));
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let mut cut = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("the response from {url} broke off: {e}"))?;
        let room = MAX_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            cut = true;
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    let text = if html {
        nanohtml2text::html2text(&text)
    } else {
        text.into_owned()
    };
    let mut out = Capped::default();
    out.push(format!("HTTP {status}\n\n").as_bytes());
    out.push(text.as_bytes());
    Ok(Output {
        text: out.text(),
        truncated: cut || out.truncated(),
    })
}

/// The answer to a redirect: its target, for the model to fetch (or not)
/// as a call of its own.
fn redirected(
    from: &reqwest::Url,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Output {
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| from.join(location).ok());
    let text = match target {
        Some(target) => format!(
            "HTTP {status}\n\nredirected to {target}\nfetch does not follow redirects: \
             call fetch with that URL to follow it (it is checked like any other call)."
        ),
        None => format!("HTTP {status}\n\na redirect without a usable Location header"),
    };
    Output::text(text)
}

/// An error and every cause under it, so a refusal or a connection
/// failure names its reason (reqwest's own message is only "error sending
/// request").
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}
