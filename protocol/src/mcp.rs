//! MCP servers as the daemon keeps them and a worker connects to them.
//! (The `mcpServers` documents other clients keep them in are read by
//! `studio_client::mcp_import`.)

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// What `studio mcp login` got from a server's authorization server, kept
/// (as JSON) in the daemon's secret store as `mcp-oauth/SERVER`. Only the
/// access token ever reaches a worker, as an `Authorization` header; the
/// daemon refreshes it with the refresh token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpOAuthTokens {
    /// The bearer token sent to the server.
    pub access_token: String,
    /// Exchanged for a new access token when it has expired.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token expires, in seconds since the epoch.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// The authorization server's token endpoint (for the refresh).
    pub token_endpoint: String,
    /// The client the tokens were issued to (registered by the login).
    pub client_id: String,
    /// The client's secret, when it has one.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The resource indicator (RFC 8707) the tokens are for: the server's URL.
    pub resource: String,
    /// The scopes granted, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for McpOAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpOAuthTokens")
            .field("expires_at", &self.expires_at)
            .field("token_endpoint", &self.token_endpoint)
            .field("client_id", &self.client_id)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// One configured MCP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerConfig {
    /// Name agents refer to it by; its tools are offered as `NAME.TOOL`.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// Seconds allowed to start and answer `initialize` and `tools/list`.
    pub startup_timeout_secs: u32,
    /// Seconds one `tools/call` may take.
    pub call_timeout_secs: u32,
}

/// Default [`McpServerConfig::startup_timeout_secs`]: `npx` may download first.
pub const DEFAULT_STARTUP_TIMEOUT_SECS: u32 = 60;
/// Default [`McpServerConfig::call_timeout_secs`].
pub const DEFAULT_CALL_TIMEOUT_SECS: u32 = 120;

/// How a worker reaches an MCP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum McpTransport {
    /// A child process of the worker speaking MCP on stdin/stdout; it is in
    /// the worker's process group, so it dies with the session.
    Stdio {
        /// Program to run.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Environment it gets, besides `PATH` and `HOME` (values may be
        /// tokens: never printed).
        env: Vec<(String, Secret)>,
    },
    /// A streamable-HTTP MCP endpoint.
    Http {
        /// The endpoint URL.
        url: String,
        /// Extra request headers (e.g. `Authorization`; values never printed).
        headers: Vec<(String, Secret)>,
    },
}

impl McpServerConfig {
    /// Checks the name (it becomes a tool-name prefix) and the transport.
    pub fn validate(&self) -> Result<(), String> {
        validate_server_name(&self.name)?;
        if self.startup_timeout_secs == 0 || self.call_timeout_secs == 0 {
            return Err("timeouts must be at least one second".to_owned());
        }
        match &self.transport {
            McpTransport::Stdio { command, .. } if command.is_empty() => {
                Err("the command is empty".to_owned())
            }
            McpTransport::Http { url, .. } => validate_url(url),
            McpTransport::Stdio { .. } => Ok(()),
        }
    }

    /// `npx -y server` or the URL, for listings (no secret).
    pub fn describe(&self) -> String {
        match &self.transport {
            McpTransport::Stdio { command, args, env } => {
                let mut text = std::iter::once(command.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                if !env.is_empty() {
                    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                    text.push_str(&format!(" (env: {})", names.join(", ")));
                }
                text
            }
            McpTransport::Http { url, headers } => {
                if headers.is_empty() {
                    url.clone()
                } else {
                    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
                    format!("{url} (headers: {})", names.join(", "))
                }
            }
        }
    }
}

/// Checks an MCP server's name: it becomes the prefix of its tools'
/// names (`NAME.TOOL`), so it is short, plain, and no built-in tool's.
pub fn validate_server_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !plain {
        return Err(format!(
            "invalid MCP server name {name:?}: use 1-32 letters, digits, '-' or '_'"
        ));
    }
    // Its tools arrive as `NAME.TOOL`: a built-in group's name would
    // pass them off as built-in tools (and match rules meant for those).
    if crate::agent::BUILTIN_TOOLS.contains(&name) {
        return Err(format!(
            "invalid MCP server name {name:?}: shell, fs and fetch are the built-in tools' names"
        ));
    }
    Ok(())
}

/// Checks a streamable-HTTP endpoint: an http(s) URL.
pub fn validate_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{url:?} is not an http(s) URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_show_secret_values() {
        let server = McpServerConfig {
            name: "github".into(),
            transport: McpTransport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "server-github".into()],
                env: vec![("GITHUB_TOKEN".into(), Secret::new("ghp_secret"))],
            },
            startup_timeout_secs: DEFAULT_STARTUP_TIMEOUT_SECS,
            call_timeout_secs: DEFAULT_CALL_TIMEOUT_SECS,
        };
        assert_eq!(
            server.describe(),
            "npx -y server-github (env: GITHUB_TOKEN)"
        );
        assert!(!format!("{server:?}").contains("ghp_secret"));
        assert!(server.validate().is_ok());
        let bad = McpServerConfig {
            name: "has.dot".into(),
            ..server.clone()
        };
        assert!(
            bad.validate().is_err(),
            "a dot would break the tool namespace"
        );
        // Its tools would arrive as fs.*, shell.* or fetch.*, where rules
        // for the built-in tools would approve them.
        for builtin in ["fs", "shell", "fetch"] {
            let shadow = McpServerConfig {
                name: builtin.into(),
                ..server.clone()
            };
            let err = shadow.validate().unwrap_err();
            assert!(err.contains("built-in tools' names"), "{err}");
        }
    }
}
