//! `studio mcp login NAME` and `studio mcp logout NAME`: signing in to an
//! HTTP MCP server that asks for OAuth.
//!
//! The flow runs in a one-shot `studio-worker mcp-login` (the worker holds
//! the MCP client): it discovers the server's authorization server,
//! registers a client, listens on a random port of 127.0.0.1 for the
//! redirect and prints the URL to visit. This command prints that URL (a
//! person on a machine without a browser pastes it elsewhere) and opens it
//! with `xdg-open` (or the program in `STUDIO_BROWSER`), then hands the
//! tokens the job prints to the daemon (`McpOAuthSet`), which keeps them
//! in its secret store. No token is printed, logged or put in argv.

use std::process::Stdio;
use std::time::Duration;

use protocol::Secret;
use protocol::control::{ControlRequest, ControlResponse};
use protocol::mcp::{McpOAuthTokens, McpTransport};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::output::print_json;
use super::{CliError, Ctx};

/// The program that opens the URL to visit instead of `xdg-open` (it gets
/// the URL as its one argument).
pub(crate) const BROWSER_VAR: &str = "STUDIO_BROWSER";

/// Variables the login job keeps: what reaching a server may need.
const JOB_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
];

/// What `studio mcp login` was asked.
pub(crate) struct Login {
    /// The server.
    pub(crate) name: String,
    /// Seconds to wait for the sign-in.
    pub(crate) timeout_secs: u64,
    /// Open the browser (else only print the address).
    pub(crate) open: bool,
    /// A client registered out of band.
    pub(crate) client_id: Option<String>,
    /// Its secret (from the environment, never argv).
    pub(crate) client_secret: Option<String>,
    /// Scopes to ask for; empty lets the server choose.
    pub(crate) scopes: Vec<String>,
}

/// `studio mcp login NAME`: signs in within `timeout_secs`; `open` false
/// only prints the URL.
pub(crate) async fn login(ctx: &Ctx, login: Login) -> Result<(), CliError> {
    let Login {
        name,
        timeout_secs,
        open,
        client_id,
        client_secret,
        scopes,
    } = login;
    let client = ctx.client().await?;
    let (name, url) = http_server(ctx, &client, &name).await?;
    let name = name.as_str();
    let worker = match std::env::var_os("STUDIO_WORKER_BIN") {
        Some(bin) => std::path::PathBuf::from(bin),
        None => std::env::current_exe()
            .map_err(|err| CliError::msg(format!("cannot find this executable: {err}")))?
            .with_file_name("studio-worker"),
    };
    let mut job = studio_process::command(&worker, studio_process::ChildEnv::Only(JOB_ENV))
        .arg("mcp-login")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| CliError::msg(format!("cannot start {}: {err}", worker.display())))?;
    let input = json!({
        "url": url,
        "timeout_secs": timeout_secs,
        "client_id": client_id,
        "client_secret": client_secret,
        "scopes": scopes,
    })
    .to_string();
    if let Some(mut stdin) = job.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(|err| CliError::msg(format!("cannot talk to the login job: {err}")))?;
    }
    let stdout = job
        .stdout
        .take()
        .ok_or_else(|| CliError::msg("the login job has no stdout"))?;
    let mut stderr = job
        .stderr
        .take()
        .ok_or_else(|| CliError::msg("the login job has no stderr"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut tokens = None;
    // The job has its own timeout; this one only catches a stuck job.
    let limit = Duration::from_secs(timeout_secs + 60);
    let reading = async {
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(visit) = value.get("authorize_url").and_then(Value::as_str) {
                errln!("To sign in to {name}, open this address in a browser:\n\n  {visit}\n");
                if open {
                    open_browser(visit).await;
                }
                errln!("Waiting for the sign-in (at most {timeout_secs}s)...");
            } else if let Some(got) = value.get("tokens") {
                tokens = serde_json::from_value::<McpOAuthTokens>(got.clone()).ok();
            }
        }
    };
    if tokio::time::timeout(limit, reading).await.is_err() {
        return Err(CliError::msg(format!(
            "no sign-in to {name} within {timeout_secs}s"
        )));
    }
    let mut said = String::new();
    let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut said).await;
    let status = job
        .wait()
        .await
        .map_err(|err| CliError::msg(format!("the login job: {err}")))?;
    let Some(tokens) = tokens.filter(|_| status.success()) else {
        let why = said.trim().trim_start_matches("studio-worker: ");
        return Err(CliError::msg(format!("cannot sign in to {name}: {why}")));
    };
    let expires_at = tokens.expires_at;
    let scope = tokens.scope.clone();
    let refreshable = tokens.refresh_token.is_some();
    let stored = serde_json::to_string(&tokens)
        .map_err(|err| CliError::msg(format!("cannot encode the tokens: {err}")))?;
    client
        .request(ControlRequest::McpOAuthSet {
            server: name.to_owned(),
            tokens: Some(Secret::new(stored)),
        })
        .await?;
    if ctx.json {
        print_json(&json!({
            "server": name,
            "signed_in": true,
            "expires_at": expires_at,
            "scope": scope,
            "refreshable": refreshable,
        }));
    } else {
        outln!(
            "Signed in to {name}{}; sessions that use it send the token{}",
            scope.map(|s| format!(" (scope: {s})")).unwrap_or_default(),
            if refreshable {
                ", refreshed by the daemon when it expires"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The full sign-in name and URL of the HTTP server `name` names: one of
/// `studio mcp list`, or an installed plugin's (`plugin:PLUGIN/SERVER`,
/// or `plugin:PLUGIN` when it has one).
async fn http_server(
    ctx: &Ctx,
    client: &studio_client::Client,
    name: &str,
) -> Result<(String, String), CliError> {
    let plugins = studio_client::plugin::store::Plugins::new(ctx.dir.layout());
    let (name, server) = match plugins.http_server(name) {
        Some(found) => found.map_err(|err| CliError::invalid(err.to_string()))?,
        None => {
            let ControlResponse::McpServers(servers) =
                client.request(ControlRequest::McpList).await?
            else {
                return Err(CliError::msg("unexpected answer to mcp list"));
            };
            let server = servers.into_iter().find(|s| s.name == name).ok_or_else(|| {
                CliError::invalid(format!(
                    "no MCP server named {name:?} (see studio mcp list, or name a plugin's as plugin:PLUGIN/SERVER)"
                ))
            })?;
            (name.to_owned(), server)
        }
    };
    match server.transport {
        McpTransport::Http { url, .. } => Ok((name, url)),
        McpTransport::Stdio { .. } => Err(CliError::invalid(format!(
            "MCP server {name} is a command, not an HTTP server: it takes no sign-in"
        ))),
    }
}

/// `studio mcp logout NAME`: forgets the server's tokens.
pub(crate) async fn logout(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let plugins = studio_client::plugin::store::Plugins::new(ctx.dir.layout());
    let name = match plugins.http_server(name) {
        Some(found) => found.map_err(|err| CliError::invalid(err.to_string()))?.0,
        None => name.to_owned(),
    };
    let name = name.as_str();
    client
        .request(ControlRequest::McpOAuthSet {
            server: name.to_owned(),
            tokens: None,
        })
        .await?;
    if ctx.json {
        print_json(&json!({ "server": name, "signed_in": false }));
    } else {
        outln!("Signed out of {name}");
    }
    Ok(())
}

/// Opens `url` in the person's browser (`STUDIO_BROWSER`, else
/// `xdg-open`); a failure is only said, since the URL was printed.
async fn open_browser(url: &str) {
    let program = std::env::var_os(BROWSER_VAR).unwrap_or_else(|| "xdg-open".into());
    let started = studio_process::command(&program, studio_process::ChildEnv::Inherit)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        // Not waited for: a browser may stay open; the redirect ends the wait.
        Ok(child) => drop(child),
        Err(err) => errln!(
            "(could not open a browser with {}: {err}; open the address yourself)",
            program.to_string_lossy()
        ),
    }
}
