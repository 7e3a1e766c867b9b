//! `fetch`: an HTTP GET with a timeout and a size cap; HTML comes back as
//! readable text.

use std::time::Duration;

use futures_util::StreamExt;

use super::{Capped, Output};

/// Most bytes read from a response.
const MAX_BODY: usize = 2 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn get(url: &str) -> Result<Output, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs can be fetched, not {}",
            parsed.scheme()
        ));
    }
    crate::provider::http::install_crypto();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    let status = response.status();
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
