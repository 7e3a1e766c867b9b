//! `studio mcp add|list|rm|test|import|login|logout`: the MCP servers
//! agents may use (signing in is `mcp_login`).
//!
//! Secrets stay out of argv: `--env NAME` and `--bearer-token-env VAR`
//! take their values from this command's environment, and `import` reads
//! them from the file.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use protocol::Secret;
use protocol::control::{ControlRequest, ControlResponse};
use protocol::mcp::{
    DEFAULT_CALL_TIMEOUT_SECS, DEFAULT_STARTUP_TIMEOUT_SECS, McpServerConfig, McpTransport,
};
use serde_json::{Value, json};
use studio_client::mcp_import::parse_mcp_servers_json;

use super::output::{print_json, table};
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub(crate) enum McpCommand {
    /// Add a server: `studio mcp add files -- npx -y @modelcontextprotocol/server-filesystem /src`
    /// or `studio mcp add remote --url https://host/mcp`.
    Add(AddArgs),
    /// List the configured servers (secret values are never shown).
    List,
    /// Remove a server.
    Rm {
        /// Its name.
        name: String,
    },
    /// Start or reach a server and list its tools.
    Test {
        /// Its name.
        name: String,
    },
    /// Add every server of an `mcpServers` JSON file (Claude Desktop,
    /// Cursor, VS Code and others use this format).
    Import(ImportArgs),
    /// Sign in to an HTTP server that asks for OAuth: prints the address
    /// to visit and opens it in the browser (`STUDIO_BROWSER`, else
    /// xdg-open), then keeps the tokens in the daemon's secret store.
    Login {
        /// Its name.
        name: String,
        /// Seconds to wait for the browser to come back.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Only print the address (for a machine without a browser).
        #[arg(long)]
        no_browser: bool,
        /// A client id registered with the authorization server out of
        /// band (when it has no dynamic registration).
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// For --client-id: the client's secret, read from this
        /// environment variable (never argv).
        #[arg(long, value_name = "VAR", requires = "client_id")]
        client_secret_env: Option<String>,
        /// Scopes to ask for, space-separated [default: what the server
        /// asks for, else all it lists].
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
    },
    /// Forget a server's sign-in.
    Logout {
        /// Its name.
        name: String,
    },
}

#[derive(Args, Debug)]
pub(crate) struct AddArgs {
    /// Name agents use (`--mcp NAME`); its tools are offered as `NAME.TOOL`.
    name: String,
    /// A streamable-HTTP endpoint instead of a command.
    #[arg(long, conflicts_with = "command")]
    url: Option<String>,
    /// Environment for a command: `NAME=VALUE`, or `NAME` to pass this
    /// shell's value (keeps secrets out of argv). Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Request header for --url: `NAME=VALUE`. Repeatable.
    #[arg(long = "header", value_name = "NAME=VALUE", requires = "url")]
    headers: Vec<String>,
    /// For --url: send `Authorization: Bearer` with the value of this
    /// environment variable.
    #[arg(long, value_name = "VAR", requires = "url")]
    bearer_token_env: Option<String>,
    /// Seconds allowed to start and list tools.
    #[arg(long, default_value_t = DEFAULT_STARTUP_TIMEOUT_SECS)]
    startup_timeout: u32,
    /// Seconds one tool call may take.
    #[arg(long, default_value_t = DEFAULT_CALL_TIMEOUT_SECS)]
    call_timeout: u32,
    /// Replace a server of the same name.
    #[arg(long)]
    replace: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// The JSON file (`{"mcpServers": {NAME: {...}}}`).
    file: PathBuf,
    /// Replace servers of the same names.
    #[arg(long)]
    replace: bool,
}

pub(crate) async fn execute(cmd: McpCommand, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        McpCommand::Login {
            name,
            timeout,
            no_browser,
            client_id,
            client_secret_env,
            scope,
        } => {
            let client_secret = match client_secret_env {
                Some(var) => Some(std::env::var(&var).map_err(|_| {
                    CliError::invalid(format!("--client-secret-env: {var} is not set"))
                })?),
                None => None,
            };
            let login = super::mcp_login::Login {
                name,
                timeout_secs: timeout,
                open: !no_browser,
                client_id,
                client_secret,
                scopes: scope
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            };
            return super::mcp_login::login(ctx, login).await;
        }
        McpCommand::Logout { name } => return super::mcp_login::logout(ctx, &name).await,
        _ => {}
    }
    let client = ctx.client().await?;
    match cmd {
        McpCommand::Login { .. } | McpCommand::Logout { .. } => {}
        McpCommand::Add(args) => {
            let replace = args.replace;
            let server = from_args(args)?;
            let name = server.name.clone();
            client
                .request(ControlRequest::McpAdd { server, replace })
                .await?;
            if !ctx.json {
                outln!("MCP server {name} added; test it with `studio mcp test {name}`");
            }
        }
        McpCommand::List => {
            let ControlResponse::McpServers(servers) =
                client.request(ControlRequest::McpList).await?
            else {
                return Err(CliError::msg("unexpected answer to mcp list"));
            };
            let ControlResponse::Secrets(secrets) =
                client.request(ControlRequest::SecretList).await?
            else {
                return Err(CliError::msg("unexpected answer to mcp list"));
            };
            // Where each server's env or header values are kept.
            let kept = |server: &McpServerConfig| {
                let name = format!("mcp/{}", server.name);
                secrets
                    .secrets
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.location.as_str())
            };
            // Whether `studio mcp login` stored tokens for it.
            let signed_in = |server: &McpServerConfig| {
                let name = format!("mcp-oauth/{}", server.name);
                secrets.secrets.iter().any(|s| s.name == name)
            };
            if ctx.json {
                let rows = servers.iter().map(|s| {
                    let mut row = server_json(s);
                    row["secrets_location"] = json!(kept(s));
                    row["signed_in"] = json!(signed_in(s));
                    row
                });
                print_json(&Value::Array(rows.collect()));
            } else if servers.is_empty() {
                outln!("no MCP servers; add one with `studio mcp add` or `studio mcp import`");
            } else {
                let mut t = table(&[
                    "NAME",
                    "TRANSPORT",
                    "TARGET",
                    "SECRETS",
                    "SIGNED IN",
                    "TIMEOUTS",
                ]);
                for s in &servers {
                    t.add_row(vec![
                        s.name.clone(),
                        transport_name(&s.transport).to_owned(),
                        s.describe(),
                        kept(s).unwrap_or("-").to_owned(),
                        if signed_in(s) { "yes" } else { "-" }.to_owned(),
                        format!("{}s / {}s", s.startup_timeout_secs, s.call_timeout_secs),
                    ]);
                }
                outln!("{t}");
            }
        }
        McpCommand::Rm { name } => {
            client
                .request(ControlRequest::McpRemove { name: name.clone() })
                .await?;
            if !ctx.json {
                outln!("MCP server {name} removed");
            }
        }
        McpCommand::Test { name } => {
            let ControlResponse::McpTools(tools) = client
                .request(ControlRequest::McpTest { name: name.clone() })
                .await?
            else {
                return Err(CliError::msg("unexpected answer to mcp test"));
            };
            if ctx.json {
                print_json(&json!({ "server": name, "tools": tools }));
            } else {
                outln!("{name}: {} tools", tools.len());
                for tool in &tools {
                    outln!("  {tool}");
                }
            }
        }
        McpCommand::Import(args) => {
            let text = std::fs::read_to_string(&args.file)
                .map_err(|e| CliError::invalid(format!("{}: {e}", args.file.display())))?;
            let parsed = parse_mcp_servers_json(&text)
                .map_err(|e| CliError::invalid(format!("{}: {e}", args.file.display())))?;
            let mut rows = Vec::new();
            let mut failures = 0;
            for (name, server) in parsed {
                let result = match server {
                    Ok(server) => client
                        .request(ControlRequest::McpAdd {
                            server,
                            replace: args.replace,
                        })
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                if result.is_err() {
                    failures += 1;
                }
                rows.push((name, result));
            }
            if ctx.json {
                let out: Vec<Value> = rows
                    .iter()
                    .map(|(name, r)| json!({ "name": name, "imported": r.is_ok(), "error": r.as_ref().err() }))
                    .collect();
                print_json(&Value::Array(out));
            } else {
                for (name, result) in &rows {
                    match result {
                        Ok(()) => outln!("imported {name}"),
                        Err(e) => outln!("skipped  {name}: {e}"),
                    }
                }
            }
            if failures > 0 {
                return Err(CliError::msg(format!(
                    "{failures} of {} servers not imported",
                    rows.len()
                )));
            }
        }
    }
    Ok(())
}

fn from_args(args: AddArgs) -> Result<McpServerConfig, CliError> {
    let transport = match (args.url, args.command.split_first()) {
        (Some(url), _) => {
            let mut headers = Vec::new();
            for header in &args.headers {
                let (key, value) = header.split_once('=').ok_or_else(|| {
                    CliError::invalid(format!("--header {header:?}: use NAME=VALUE"))
                })?;
                headers.push((key.trim().to_owned(), Secret::new(value.trim())));
            }
            if let Some(var) = &args.bearer_token_env {
                let token = std::env::var(var).map_err(|_| {
                    CliError::invalid(format!("--bearer-token-env: {var} is not set"))
                })?;
                headers.push((
                    "Authorization".to_owned(),
                    Secret::new(format!("Bearer {token}")),
                ));
            }
            McpTransport::Http { url, headers }
        }
        (None, Some((command, rest))) => {
            let mut env = Vec::new();
            for entry in &args.env {
                env.push(match entry.split_once('=') {
                    Some((key, value)) => (key.to_owned(), Secret::new(value)),
                    None => {
                        let value = std::env::var(entry).map_err(|_| {
                            CliError::invalid(format!("--env {entry}: it is not set in this shell"))
                        })?;
                        (entry.clone(), Secret::new(value))
                    }
                });
            }
            McpTransport::Stdio {
                command: command.clone(),
                args: rest.to_vec(),
                env,
            }
        }
        (None, None) => {
            return Err(CliError::invalid(
                "give the server's command after `--`, or --url for an HTTP server",
            ));
        }
    };
    let server = McpServerConfig {
        name: args.name,
        transport,
        startup_timeout_secs: args.startup_timeout,
        call_timeout_secs: args.call_timeout,
    };
    server.validate().map_err(CliError::invalid)?;
    Ok(server)
}

fn transport_name(transport: &McpTransport) -> &'static str {
    match transport {
        McpTransport::Stdio { .. } => "stdio",
        McpTransport::Http { .. } => "http",
    }
}

/// A server for `--json`: variable and header names, never their values.
fn server_json(server: &McpServerConfig) -> Value {
    let names = |pairs: &[(String, Secret)]| -> Vec<String> {
        pairs.iter().map(|(k, _)| k.clone()).collect()
    };
    let mut out = json!({
        "name": server.name,
        "transport": transport_name(&server.transport),
        "startup_timeout_secs": server.startup_timeout_secs,
        "call_timeout_secs": server.call_timeout_secs,
    });
    match &server.transport {
        McpTransport::Stdio { command, args, env } => {
            out["command"] = json!(command);
            out["args"] = json!(args);
            out["env"] = json!(names(env));
        }
        McpTransport::Http { url, headers } => {
            out["url"] = json!(url);
            out["headers"] = json!(names(headers));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_name_secrets_but_never_show_them() {
        let parsed = parse_mcp_servers_json(
            r#"{"mcpServers": {"github": {"command": "npx", "env": {"GITHUB_TOKEN": "ghp_secret"}}}}"#,
        )
        .unwrap();
        let server = parsed[0].1.as_ref().unwrap();
        let listed = server_json(server).to_string();
        assert!(listed.contains("GITHUB_TOKEN"), "{listed}");
        assert!(!listed.contains("ghp_secret"), "{listed}");
    }
}
