//! Opening one MCP connection: starting a stdio server (in the session's
//! sandbox) or reaching an HTTP one (with an OAuth authorization when one
//! is given), `initialize` with the version this client offers, and the
//! server's tools. A server that wants a sign-in is an [`OpenError`] with
//! its challenge.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::mcp::{McpServerConfig, McpTransport};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion, Tool};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::auth::{AuthClient, AuthorizationManager};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use tokio::io::AsyncBufReadExt;

use crate::sandbox::Policy;

/// Environment a stdio server gets besides its configured variables.
const PASSED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// The protocol version offered in `initialize`: the newest one that still
/// has that handshake. rmcp 3.11's default is 2026-07-28, a revision
/// without `initialize`, which the conformance suite's `initialize`
/// scenario rejects.
pub const OFFERED_VERSION: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// Versions a server may answer `initialize` with; any other ends the
/// connection (the specification says a client SHOULD disconnect then).
pub const ACCEPTED_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2024_11_05,
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
];

/// What the worker says about itself in `initialize`: its name and
/// version, [`OFFERED_VERSION`], and `capabilities`.
pub fn client_config(capabilities: ClientCapabilities) -> ClientConfig {
    ClientConfig::new(
        capabilities,
        Implementation::new("studio-worker", env!("CARGO_PKG_VERSION"))
            .with_title("AI Studio worker"),
    )
    .with_protocol_version(OFFERED_VERSION)
}

/// Why a server could not be reached, initialized or listed.
#[derive(Debug)]
pub struct OpenError {
    /// What went wrong, for an event.
    pub message: String,
    /// The `WWW-Authenticate` challenge when an HTTP server answered 401
    /// or 403: it wants an (other) authorization.
    pub challenge: Option<String>,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for OpenError {
    fn from(message: String) -> Self {
        Self {
            message,
            challenge: None,
        }
    }
}

/// One initialized MCP client connection and the tools its server listed.
pub struct Connection<H: ClientHandler> {
    /// The running client.
    pub client: RunningService<RoleClient, H>,
    /// The server's tools, from `tools/list` right after `initialize`.
    pub tools: Vec<Tool>,
    /// The last line a stdio server wrote to stderr, for error messages.
    last_stderr: Arc<Mutex<String>>,
    /// The task reading a stdio server's stderr; ends when the server is gone.
    stderr_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<H: ClientHandler> Connection<H> {
    /// What a gone server last wrote to stderr, once it has all been read
    /// (waiting briefly: a server may leave children holding its stderr).
    pub(super) async fn last_words(&self) -> String {
        let task = self.stderr_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
        }
        self.last_stderr
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

/// Starts or reaches one server, initializes it with `handler` answering
/// the server's requests, checks the protocol version it chose and lists
/// its tools. A stdio server runs in `sandbox` (and its workspace) when
/// one is given; a one-shot job (`mcp-test`, the conformance client) runs
/// a server the user configured as the user. An HTTP server is sent the
/// tokens of `auth` (refreshed by it when the server refuses them) when
/// given, else only its configured headers.
pub async fn open<H: ClientHandler>(
    handler: H,
    config: &McpServerConfig,
    sandbox: Option<&Policy>,
    auth: Option<AuthorizationManager>,
) -> Result<Connection<H>, OpenError> {
    let last_stderr = Arc::new(Mutex::new(String::new()));
    let mut stderr_task = None;
    let client = match &config.transport {
        McpTransport::Stdio { command, args, env } => {
            let mut cmd = match sandbox {
                Some(policy) => {
                    let args: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
                    let mut cmd = policy.command(command.as_ref(), &args)?;
                    cmd.current_dir(policy.workspace());
                    cmd
                }
                None => {
                    // The environment is set below, from nothing.
                    let mut cmd =
                        studio_process::command(command, studio_process::ChildEnv::Inherit);
                    cmd.args(args);
                    cmd
                }
            };
            cmd.env_clear()
                .envs(
                    PASSED_ENV
                        .iter()
                        .filter_map(|k| Some((*k, std::env::var_os(k)?))),
                )
                .envs(env.iter().map(|(k, v)| (k, v.expose())))
                .kill_on_drop(true);
            let (transport, stderr) = TokioChildProcess::builder(cmd)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|err| format!("cannot start {command}: {err}"))?;
            stderr_task = stderr.map(|stderr| {
                tokio::spawn(keep_stderr(
                    config.name.clone(),
                    stderr,
                    last_stderr.clone(),
                ))
            });
            match handler.serve(transport).await {
                Ok(client) => client,
                Err(err) => {
                    // Its last words explain it best (a sandbox that could
                    // not start it, a crash): let them arrive.
                    if let Some(task) = stderr_task.take() {
                        let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
                    }
                    let said = last_stderr.lock().map(|s| s.clone()).unwrap_or_default();
                    return Err(OpenError::from(if said.is_empty() {
                        format!("initialize failed: {err}")
                    } else {
                        format!("initialize failed: {err} (it last said: {said})")
                    }));
                }
            }
        }
        McpTransport::Http { url, headers } => {
            let mut config_http = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            let mut custom = HashMap::new();
            for (key, value) in headers {
                if key.eq_ignore_ascii_case("authorization") {
                    let token = value.expose();
                    config_http =
                        config_http.auth_header(token.strip_prefix("Bearer ").unwrap_or(token));
                    continue;
                }
                let name = reqwest::header::HeaderName::try_from(key.as_str())
                    .map_err(|_| format!("invalid header name {key:?}"))?;
                let value = reqwest::header::HeaderValue::try_from(value.expose())
                    .map_err(|_| format!("invalid value for header {key:?}"))?;
                custom.insert(name, value);
            }
            crate::provider::http::install_crypto();
            let config_http = config_http.custom_headers(custom);
            let served = match auth {
                Some(manager) => {
                    let client = reqwest::Client::builder()
                        .pool_max_idle_per_host(0)
                        .build()
                        .map_err(|err| format!("cannot build an HTTP client: {err}"))?;
                    let transport = StreamableHttpClientTransport::with_client(
                        AuthClient::new(client, manager),
                        config_http,
                    );
                    handler.serve(transport).await
                }
                None => {
                    handler
                        .serve(StreamableHttpClientTransport::from_config(config_http))
                        .await
                }
            };
            served.map_err(|err| OpenError {
                message: format!("initialize failed: {err}"),
                challenge: err.auth_challenge().map(str::to_owned),
            })?
        }
    };
    let chosen = client.peer_info().map(|info| info.protocol_version.clone());
    if let Some(refused) = version_refused(chosen.as_ref()) {
        let _ = client.cancel().await;
        return Err(refused.into());
    }
    let tools = client.list_all_tools().await.map_err(|err| OpenError {
        message: format!("tools/list failed: {err}"),
        challenge: super::oauth::challenge_in(&err),
    })?;
    Ok(Connection {
        client,
        tools,
        last_stderr,
        stderr_task: Mutex::new(stderr_task),
    })
}

/// Why the protocol version a server chose in `initialize` is not one of
/// [`ACCEPTED_VERSIONS`] (it may answer an older one than offered).
pub(super) fn version_refused(chosen: Option<&ProtocolVersion>) -> Option<String> {
    if chosen.is_some_and(|v| ACCEPTED_VERSIONS.contains(v)) {
        return None;
    }
    let chosen = chosen.map_or("none", ProtocolVersion::as_str);
    let accepted: Vec<&str> = ACCEPTED_VERSIONS.iter().map(|v| v.as_str()).collect();
    Some(format!(
        "the server chose protocol version {chosen}; this client speaks {}",
        accepted.join(", ")
    ))
}

/// Logs a stdio server's stderr and keeps its last line.
async fn keep_stderr(
    server: String,
    stderr: tokio::process::ChildStderr,
    last: Arc<Mutex<String>>,
) {
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(server, "stderr: {line}");
        if !line.trim().is_empty()
            && let Ok(mut last) = last.lock()
        {
            line.trim().clone_into(&mut last);
        }
    }
}
