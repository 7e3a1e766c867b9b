//! OAuth tokens of HTTP MCP servers on the daemon's side: what `studio mcp
//! login` stored (`McpOAuthSet`, as `mcp-oauth/SERVER` in the secret
//! store) becomes the server's `Authorization` header when a session (or
//! `mcp test`) starts. An access token that has expired, or is about to,
//! is refreshed here first with the refresh token, and the new tokens are
//! written back: the refresh token never leaves the daemon.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::Secret;
use protocol::mcp::{McpOAuthTokens, McpServerConfig, McpTransport};

use crate::secrets::{self, SecretStore};

/// An access token this close to its expiry is refreshed before use.
const REFRESH_MARGIN_SECS: u64 = 60;

/// How long a refresh may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RefreshError {
    /// The token endpoint could not be reached or answered garbage.
    #[error("token endpoint: {0}")]
    Http(#[from] reqwest::Error),
    /// It refused the refresh (an `error` such as `invalid_grant`).
    #[error("token endpoint refused the refresh: {0}")]
    Refused(String),
    /// No refresh token was stored.
    #[error("no refresh token")]
    NoRefreshToken,
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Serializes refreshes, so two sessions starting at once do not both
/// spend a refresh token the server rotates.
static REFRESHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `server` with its stored access token as its `Authorization` header
/// (refreshed first when it has expired), or as it was when it has no
/// stored sign-in or the refresh failed (the server's 401 then says so).
pub(crate) async fn with_oauth(store: &SecretStore, server: McpServerConfig) -> McpServerConfig {
    let sign_in = server.name.clone();
    with_oauth_as(store, &sign_in, server).await
}

/// [`with_oauth`] for a server whose sign-in is kept under `sign_in`
/// (a plugin's: `plugin:PLUGIN/SERVER`).
pub(crate) async fn with_oauth_as(
    store: &SecretStore,
    sign_in: &str,
    mut server: McpServerConfig,
) -> McpServerConfig {
    let McpTransport::Http { headers, .. } = &mut server.transport else {
        return server;
    };
    let _refreshing = REFRESHING.lock().await;
    let Some(tokens) = read(store, sign_in).await else {
        return server;
    };
    let fresh = tokens
        .expires_at
        .is_none_or(|at| at > now_secs() + REFRESH_MARGIN_SECS);
    let tokens = if fresh {
        tokens
    } else {
        match refresh(&tokens).await {
            Ok(new) => {
                let stored = serde_json::to_string(&new).map(Secret::new);
                match stored {
                    Ok(stored) => {
                        if let Err(err) = store.set(&secrets::mcp_oauth_name(sign_in), stored).await
                        {
                            tracing::warn!(server = %server.name, %err, "cannot store the refreshed tokens");
                        }
                    }
                    Err(err) => {
                        tracing::warn!(server = %server.name, %err, "cannot encode the refreshed tokens")
                    }
                }
                tracing::info!(server = %server.name, "MCP access token refreshed");
                new
            }
            Err(err) => {
                tracing::warn!(server = %server.name, %err, "cannot refresh the MCP access token");
                return server;
            }
        }
    };
    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
    headers.push((
        "Authorization".to_owned(),
        Secret::new(format!("Bearer {}", tokens.access_token)),
    ));
    server
}

/// The stored tokens of `server`, if any parse.
async fn read(store: &SecretStore, server: &str) -> Option<McpOAuthTokens> {
    match store.get(&secrets::mcp_oauth_name(server)).await {
        Ok(Some(stored)) => match serde_json::from_str(stored.expose()) {
            Ok(tokens) => Some(tokens),
            Err(err) => {
                tracing::warn!(server, %err, "the stored MCP sign-in is unreadable");
                None
            }
        },
        Ok(None) => None,
        Err(err) => {
            tracing::warn!(server, %err, "cannot read the MCP sign-in");
            None
        }
    }
}

/// What a token endpoint answers.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    /// The new access token.
    access_token: Option<String>,
    /// A new refresh token, when the server rotates them.
    refresh_token: Option<String>,
    /// Seconds the access token lives.
    expires_in: Option<u64>,
    /// The scopes granted.
    scope: Option<String>,
    /// An OAuth error code.
    error: Option<String>,
}

/// The refresh-token grant at the stored token endpoint, with the
/// `resource` indicator; a server that does not rotate the refresh token
/// leaves the old one in use.
pub(crate) async fn refresh(tokens: &McpOAuthTokens) -> Result<McpOAuthTokens, RefreshError> {
    let refresh_token = tokens
        .refresh_token
        .as_deref()
        .ok_or(RefreshError::NoRefreshToken)?;
    crate::otlp::install_crypto();
    let client = reqwest::Client::builder()
        .timeout(REFRESH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // A public client names itself in the form, a confidential one
    // authenticates with HTTP Basic.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("resource", &tokens.resource);
        if tokens.client_secret.is_none() {
            form.append_pair("client_id", &tokens.client_id);
        }
        form.finish()
    };
    let mut request = client
        .post(&tokens.token_endpoint)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(secret) = &tokens.client_secret {
        request = request.basic_auth(&tokens.client_id, Some(secret));
    }
    let response = request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let answer: TokenAnswer = response.json().await?;
    let Some(access_token) = answer.access_token.filter(|_| status.is_success()) else {
        return Err(RefreshError::Refused(
            answer.error.unwrap_or_else(|| status.to_string()),
        ));
    };
    Ok(McpOAuthTokens {
        access_token,
        refresh_token: answer
            .refresh_token
            .or_else(|| tokens.refresh_token.clone()),
        expires_at: answer.expires_in.map(|secs| now_secs() + secs),
        scope: answer.scope.or_else(|| tokens.scope.clone()),
        ..tokens.clone()
    })
}

#[cfg(test)]
mod tests {
    use protocol::Secret;
    use protocol::mcp::{McpOAuthTokens, McpServerConfig, McpTransport};

    use super::*;
    use crate::paths::DataDir;
    use crate::secrets::StoreChoice;

    fn http(name: &str, headers: Vec<(String, Secret)>) -> McpServerConfig {
        McpServerConfig {
            name: name.to_owned(),
            transport: McpTransport::Http {
                url: "http://127.0.0.1:9/mcp".to_owned(),
                headers,
            },
            startup_timeout_secs: 5,
            call_timeout_secs: 5,
        }
    }

    fn tokens(expires_at: Option<u64>, token_endpoint: &str) -> McpOAuthTokens {
        McpOAuthTokens {
            access_token: "at-1".to_owned(),
            refresh_token: Some("rt-1".to_owned()),
            expires_at,
            token_endpoint: token_endpoint.to_owned(),
            client_id: "c".to_owned(),
            client_secret: None,
            resource: "http://127.0.0.1:9/mcp".to_owned(),
            scope: None,
        }
    }

    fn authorization(server: &McpServerConfig) -> Vec<String> {
        let McpTransport::Http { headers, .. } = &server.transport else {
            return Vec::new();
        };
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.expose().to_owned())
            .collect()
    }

    async fn store_with(
        dir: &std::path::Path,
        server: &str,
        stored: &McpOAuthTokens,
    ) -> SecretStore {
        let data = DataDir::new(dir.join("d"));
        data.create().unwrap();
        let store = SecretStore::open(&data, StoreChoice::File).await.unwrap();
        let value = Secret::new(serde_json::to_string(stored).unwrap());
        store
            .set(&secrets::mcp_oauth_name(server), value)
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn a_fresh_token_replaces_a_configured_authorization_and_stdio_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(
            dir.path(),
            "notes",
            &tokens(None, "http://127.0.0.1:9/token"),
        )
        .await;
        let configured = http(
            "notes",
            vec![("authorization".to_owned(), Secret::new("Bearer static"))],
        );
        let sent = with_oauth(&store, configured).await;
        assert_eq!(authorization(&sent), ["Bearer at-1"]);
        // No sign-in stored: as configured.
        let other = with_oauth(&store, http("other", Vec::new())).await;
        assert!(authorization(&other).is_empty());
        let stdio = McpServerConfig {
            transport: McpTransport::Stdio {
                command: "node".to_owned(),
                args: Vec::new(),
                env: Vec::new(),
            },
            ..http("notes", Vec::new())
        };
        assert_eq!(with_oauth(&store, stdio.clone()).await, stdio);
    }

    #[tokio::test]
    async fn an_expired_token_the_endpoint_will_not_refresh_is_not_sent() {
        // A token endpoint that refuses every refresh.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
                let body = r#"{"error":"invalid_grant"}"#;
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, answer.as_bytes()).await;
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let stored = tokens(Some(now_secs() - 5), &endpoint);
        let store = store_with(dir.path(), "notes", &stored).await;
        let err = refresh(&stored).await.unwrap_err();
        assert!(err.to_string().contains("invalid_grant"), "{err}");
        let sent = with_oauth(&store, http("notes", Vec::new())).await;
        assert!(authorization(&sent).is_empty(), "an expired token was sent");
        // The stored tokens are left as they were.
        let kept = store
            .get(&secrets::mcp_oauth_name("notes"))
            .await
            .unwrap()
            .unwrap();
        assert!(kept.expose().contains("rt-1"));
    }
}
