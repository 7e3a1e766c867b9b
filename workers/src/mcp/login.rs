//! `studio-worker mcp-login`: the job behind `studio mcp login SERVER`. It
//! listens on a random port of 127.0.0.1 for the redirect, starts the
//! authorization (discovery, registration, PKCE, `resource`; [`oauth`]),
//! prints the URL to visit as a line of JSON (`{"authorize_url": ...}`)
//! for the CLI to open and show, waits for the browser to come back with
//! the code, and exchanges it. The tokens are the job's output, on stdout
//! to the CLI, which hands them to the daemon; nothing here opens a
//! browser or logs a token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::mcp::McpOAuthTokens;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::oauth::{self, ClientIdentity, OAuthError};

/// The job's input, on stdin.
#[derive(Debug, Deserialize)]
pub struct LoginJob {
    /// The server's streamable-HTTP endpoint.
    pub url: String,
    /// Seconds to wait for the browser to come back.
    pub timeout_secs: u64,
    /// A client registered out of band, for an authorization server
    /// without dynamic registration.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret, for a confidential client.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes to ask for; empty lets the server's challenge or metadata
    /// choose.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The job's last line of output.
#[derive(Serialize)]
pub struct LoggedIn {
    /// What to store.
    pub tokens: McpOAuthTokens,
}

/// Why the sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The OAuth flow failed.
    #[error("{0}")]
    OAuth(#[from] OAuthError),
    /// The loopback listener failed.
    #[error("the redirect listener: {0}")]
    Listener(#[from] std::io::Error),
    /// Nobody came back in time.
    #[error("no sign-in within {0}s (the browser never came back to the redirect)")]
    TimedOut(u64),
    /// The authorization server sent the browser back with an error.
    #[error("the authorization server refused: {0}")]
    Refused(String),
    /// The token answer lacked what is needed.
    #[error("the token answer: {0}")]
    Tokens(String),
}

/// Runs the sign-in of [`LoginJob`]; `announce` gets the URL to visit.
pub async fn login(job: &LoginJob, announce: impl FnOnce(&str)) -> Result<LoggedIn, LoginError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let redirect_uri = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr()?.port()
    );
    let challenge = challenge_of(&job.url).await;
    let started = oauth::start(
        &job.url,
        challenge.as_deref(),
        &redirect_uri,
        &ClientIdentity {
            client_id: job.client_id.clone(),
            client_secret: job.client_secret.clone(),
            metadata_url: None,
        },
        &job.scopes,
    )
    .await?;
    announce(&started.url);
    let limit = Duration::from_secs(job.timeout_secs);
    let query = tokio::time::timeout(limit, callback(&listener))
        .await
        .map_err(|_| LoginError::TimedOut(job.timeout_secs))??;
    let callback_url = format!("{redirect_uri}?{query}");
    if let Some(error) = url::Url::parse(&callback_url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned())
    }) {
        return Err(LoginError::Refused(error));
    }
    let manager = started.finish(&callback_url).await?;
    let (client_id, response) = manager.get_credentials().await.map_err(OAuthError::from)?;
    let response = response.ok_or_else(|| LoginError::Tokens("no token".to_owned()))?;
    let fields = serde_json::to_value(&response).map_err(|e| LoginError::Tokens(e.to_string()))?;
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let access_token =
        text("access_token").ok_or_else(|| LoginError::Tokens("no access_token".to_owned()))?;
    let token_endpoint = manager
        .resolve_metadata()
        .await
        .map_err(OAuthError::from)?
        .metadata
        .token_endpoint;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(LoggedIn {
        tokens: McpOAuthTokens {
            access_token,
            refresh_token: text("refresh_token"),
            expires_at: fields
                .get("expires_in")
                .and_then(Value::as_u64)
                .map(|secs| now + secs),
            token_endpoint,
            client_id,
            client_secret: job.client_secret.clone(),
            resource: job.url.clone(),
            scope: text("scope"),
        },
    })
}

/// The `WWW-Authenticate` of the server's answer to an unauthenticated
/// `initialize`, when it is a 401 (its scope and metadata seed discovery).
async fn challenge_of(url: &str) -> Option<String> {
    crate::provider::http::install_crypto();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .ok()?;
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": super::OFFERED_VERSION.as_str(),
            "capabilities": {},
            "clientInfo": {"name": "studio-worker", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    let response = client
        .post(url)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&body)
        .send()
        .await
        .ok()?;
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return None;
    }
    response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Serves the loopback listener until a request for `/callback` comes,
/// answers it with a page saying the sign-in can be closed, and returns
/// its query (code, state, issuer, or error). Anything else gets a 404.
/// Each connection is read on its own task: a browser may open one it
/// sends nothing on (a preconnect) before the one with the redirect.
async fn callback(listener: &TcpListener) -> Result<String, LoginError> {
    let (found, mut queries) = tokio::sync::mpsc::unbounded_channel();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let found = found.clone();
                tokio::spawn(async move {
                    let read = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream)).await;
                    if let Ok(Some(query)) = read {
                        let _ = found.send(query);
                    }
                });
            }
            Some(query) = queries.recv() => return Ok(query),
        }
    }
}

/// How long one connection to the listener may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one request's line and answers it: the callback's query, or a 404.
async fn answer(mut stream: tokio::net::TcpStream) -> Option<String> {
    let mut buffer = vec![0u8; 8192];
    let mut read = 0;
    // The request line is all that is needed; stop at its end.
    while read < buffer.len() {
        let n = stream.read(&mut buffer[read..]).await.ok()?;
        read += n;
        if n == 0 || buffer[..read].windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buffer[..read]);
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("");
    let Some(query) = target.strip_prefix("/callback?") else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return None;
    };
    let page = "<!doctype html><title>AI Studio</title><p>Signed in. You can close this tab and go back to AI Studio.</p>";
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
    Some(query.to_owned())
}
