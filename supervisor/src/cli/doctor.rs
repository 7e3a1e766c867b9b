//! `studio doctor`: what works and what does not, each with its fix. The
//! data dir (its permissions, the space left), the daemon (running, and
//! the same build as this CLI), each provider key (proved by listing the
//! models at each address agents use), Ollama, each MCP server (started
//! and asked for its tools) and the commands npm servers need, and agents
//! whose provider has no key. Exits 1 when a check fails.

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use protocol::ProviderKind;
use protocol::agent::AgentConfig;
use protocol::control::{ControlRequest, ControlResponse, KeySource};
use protocol::mcp::McpTransport;
use serde_json::json;
use studio_client::{Client, ClientError};

use super::output::{print_json, table, terminal_safe};
use super::{CliError, Ctx};

/// Below this much free space under the data dir, a warning.
const LOW_DISK_BYTES: u64 = 1 << 30;

/// Commands an npm MCP server is started with.
const NODE_COMMANDS: [&str; 4] = ["npx", "node", "npm", "pnpm"];

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's outcome.
struct Finding {
    check: String,
    status: Status,
    detail: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, check: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.0.push(Finding {
            check: check.into(),
            status,
            detail: detail.into(),
            fix: None,
        });
    }

    fn fix(
        &mut self,
        check: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(Finding {
            check: check.into(),
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }
}

pub(crate) async fn execute(ctx: &Ctx) -> Result<(), CliError> {
    let mut found = Findings::default();
    data_dir(ctx.dir.root(), &mut found);
    if let Some(client) = daemon(ctx, &mut found).await {
        daemon_build(&client, &mut found).await;
        providers(&client, &mut found).await?;
        mcp_servers(&client, &mut found).await?;
    }
    report(&found, ctx);
    let failed = found.0.iter().filter(|f| f.status == Status::Fail).count();
    if failed > 0 {
        return Err(CliError::msg(format!("{failed} check(s) failed")));
    }
    Ok(())
}

/// The data dir: private to this user, with room left.
fn data_dir(root: &Path, found: &mut Findings) {
    let check = "data dir";
    match std::fs::metadata(root) {
        Err(err) => found.add(
            check,
            Status::Warn,
            format!("{}: {err} (made on first use)", root.display()),
        ),
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            let mine = meta.uid() == rustix::process::geteuid().as_raw();
            if mode & 0o077 != 0 || !mine {
                found.fix(
                    check,
                    Status::Fail,
                    format!(
                        "{} has mode {mode:o}{}",
                        root.display(),
                        if mine {
                            ""
                        } else {
                            ", and another user owns it"
                        }
                    ),
                    format!("chmod 700 {}", root.display()),
                );
            } else {
                found.add(
                    check,
                    Status::Ok,
                    format!("{} (mode {mode:o})", root.display()),
                );
            }
        }
    }
    let secrets = root.join("secrets.json");
    if let Ok(meta) = std::fs::metadata(&secrets) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            found.fix(
                "secrets file",
                Status::Fail,
                format!("{} has mode {mode:o}", secrets.display()),
                format!("chmod 600 {}", secrets.display()),
            );
        }
    }
    let existing = root.ancestors().find(|dir| dir.exists()).unwrap_or(root);
    match rustix::fs::statvfs(existing) {
        Ok(fs) => {
            let free = fs.f_bavail.saturating_mul(fs.f_frsize);
            let shown = studio_client::human::bytes(free);
            if free < LOW_DISK_BYTES {
                found.fix(
                    "disk space",
                    Status::Warn,
                    format!("{shown} free"),
                    "free some space: a full disk stops every run from recording",
                );
            } else {
                found.add("disk space", Status::Ok, format!("{shown} free"));
            }
        }
        Err(err) => found.add("disk space", Status::Warn, format!("cannot read: {err}")),
    }
}

/// A client of the daemon: the running one, or one started now.
async fn daemon(ctx: &Ctx, found: &mut Findings) -> Option<Client> {
    match Client::connect(&ctx.dir).await {
        Ok(client) => Some(client),
        Err(ClientError::NotRunning(_)) => match ctx.client().await {
            Ok(client) => {
                found.add("daemon", Status::Ok, "was not running; started");
                Some(client)
            }
            Err(err) => {
                found.fix(
                    "daemon",
                    Status::Fail,
                    format!("cannot start: {}", err.message),
                    "see daemon.log in the data dir",
                );
                None
            }
        },
        Err(err) => {
            let pid = std::fs::read_to_string(ctx.dir.pid_file()).unwrap_or_default();
            let exe = pid.trim().parse::<u32>().ok().and_then(daemon_exe);
            let running = exe.map_or_else(String::new, |exe| {
                format!(" (pid {}, {})", pid.trim(), exe.display())
            });
            found.fix(
                "daemon",
                Status::Fail,
                format!("refused this CLI: {err}{running}"),
                "stop it with `studio daemon stop` (or kill that pid) and run the command again",
            );
            None
        }
    }
}

fn daemon_exe(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The daemon is this build: the same executable, not one since replaced.
async fn daemon_build(client: &Client, found: &mut Findings) {
    let Ok(ControlResponse::Status(status)) = client.request(ControlRequest::Status).await else {
        found.add("daemon", Status::Fail, "did not answer Status");
        return;
    };
    let exe = daemon_exe(status.pid);
    let ours = std::env::current_exe().ok();
    let same = match (&exe, &ours) {
        (Some(exe), Some(ours)) => {
            exe == ours || std::fs::canonicalize(ours).ok().as_ref() == Some(exe)
        }
        _ => true,
    };
    let shown = exe
        .as_ref()
        .map_or_else(|| "?".to_owned(), |e| e.display().to_string());
    if same && !shown.ends_with(" (deleted)") {
        found.add(
            "daemon",
            Status::Ok,
            format!("pid {}, version {}", status.pid, status.version),
        );
    } else {
        found.fix(
            "daemon",
            Status::Warn,
            format!(
                "pid {} runs {shown}, another build than this CLI's",
                status.pid
            ),
            "`studio daemon stop`: the next command starts this build's daemon",
        );
    }
    if let Some(stall) = status.store_stalled {
        found.fix(
            "database",
            Status::Fail,
            format!("commits fail since {}: {}", stall.since, stall.error),
            "free disk space, or see daemon.log",
        );
    }
}

/// Each provider: its key proved by a model list at each address its
/// agents use; Ollama reached; agents whose provider has no key.
async fn providers(client: &Client, found: &mut Findings) -> Result<(), CliError> {
    let ControlResponse::Keys(keys) = client.request(ControlRequest::KeyList).await? else {
        return Err(CliError::msg("unexpected answer to keys list"));
    };
    let ControlResponse::Agents(agents) = client.request(ControlRequest::AgentList).await? else {
        return Err(CliError::msg("unexpected answer to agent list"));
    };
    for provider in ProviderKind::ALL {
        if provider == ProviderKind::Scripted {
            continue;
        }
        let has_key = keys
            .iter()
            .any(|k| k.provider == provider && k.source != KeySource::Missing);
        let needs_key = provider.own_host().is_some();
        let used: Vec<&AgentConfig> = agents.iter().filter(|a| a.provider == provider).collect();
        if needs_key && !has_key {
            if !used.is_empty() {
                let names: Vec<&str> = used.iter().map(|a| a.name.as_str()).collect();
                found.fix(
                    format!("{provider} key"),
                    Status::Fail,
                    format!("missing; used by {}", names.join(", ")),
                    format!("studio keys set {provider}"),
                );
            }
            continue;
        }
        if !needs_key && used.is_empty() {
            continue;
        }
        // Each address agents use (the provider's own when none is set).
        let mut addresses: BTreeSet<(Option<String>, bool)> = used
            .iter()
            .map(|a| (a.base_url.clone(), a.send_key_to_base_url))
            .collect();
        if addresses.is_empty() {
            addresses.insert((None, false));
        }
        for (base_url, send_key) in addresses {
            let request = ControlRequest::ModelList {
                provider: Some(provider),
                base_url: base_url.clone(),
                send_key,
            };
            // Where the daemon asks: the base URL as the worker uses it.
            let asked = base_url
                .as_deref()
                .map(|url| protocol::base_url::normalize(provider, url).unwrap_or(url.to_owned()));
            let where_ = asked.unwrap_or_else(|| {
                provider
                    .own_host()
                    .map_or("its default address".to_owned(), str::to_owned)
            });
            let check = if needs_key {
                format!("{provider} key")
            } else {
                provider.to_string()
            };
            let listed = match client.request(request).await? {
                ControlResponse::Models(listed) => listed,
                other => return Err(CliError::msg(format!("unexpected answer: {other:?}"))),
            };
            match listed.into_iter().next() {
                Some(models) if models.error.is_none() => found.add(
                    check,
                    Status::Ok,
                    format!("{} model(s) listed at {where_}", models.models.len()),
                ),
                Some(models) => {
                    let error = models.error.unwrap_or_default();
                    let fix = if needs_key {
                        format!(
                            "check the key (`studio keys set {provider}`) and that {where_} is reachable"
                        )
                    } else {
                        format!(
                            "start Ollama (`ollama serve`), or set the agent's base_url to where it runs ({where_} was tried)"
                        )
                    };
                    found.fix(check, Status::Fail, format!("{where_}: {error}"), fix);
                }
                None => found.add(check, Status::Warn, format!("{where_}: no answer")),
            }
        }
    }
    Ok(())
}

/// Each MCP server starts and lists its tools; npm servers' commands
/// are installed.
async fn mcp_servers(client: &Client, found: &mut Findings) -> Result<(), CliError> {
    let ControlResponse::McpServers(servers) = client.request(ControlRequest::McpList).await?
    else {
        return Err(CliError::msg("unexpected answer to mcp list"));
    };
    let mut missing_commands = BTreeSet::new();
    for server in &servers {
        let check = format!("MCP {}", server.name);
        if let McpTransport::Stdio { command, .. } = &server.transport
            && NODE_COMMANDS.contains(&command.as_str())
            && which(command).is_none()
        {
            missing_commands.insert(command.clone());
        }
        match client
            .request(ControlRequest::McpTest {
                name: server.name.clone(),
            })
            .await
        {
            Ok(ControlResponse::McpTools(tools)) => {
                found.add(
                    check,
                    Status::Ok,
                    format!("started; {} tool(s)", tools.len()),
                );
            }
            Ok(other) => found.add(check, Status::Warn, format!("unexpected answer: {other:?}")),
            Err(err) => {
                let said = err.to_string();
                // The worker names the command when the server wants one.
                let fix = if said.contains("studio mcp login") {
                    format!("sign in with `studio mcp login {}`", server.name)
                } else {
                    format!(
                        "`studio mcp test {}` shows the same; check its command, URL and secrets",
                        server.name
                    )
                };
                found.fix(check, Status::Fail, said, fix);
            }
        }
    }
    for command in missing_commands {
        found.fix(
            format!("{command} command"),
            Status::Fail,
            "not found on PATH; npm MCP servers need Node.js",
            "install Node.js (Debian: apt install nodejs npm)",
        );
    }
    Ok(())
}

/// Where `command` is on `PATH`.
fn which(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

fn report(found: &Findings, ctx: &Ctx) {
    if ctx.json {
        let rows: Vec<_> = found
            .0
            .iter()
            .map(|f| {
                json!({
                    "check": f.check,
                    "status": f.status.word().to_lowercase(),
                    "detail": f.detail,
                    "fix": f.fix,
                })
            })
            .collect();
        print_json(&json!(rows));
        return;
    }
    let mut t = table(&["CHECK", "STATUS", "DETAIL", "FIX"]);
    for f in &found.0 {
        t.add_row(vec![
            f.check.clone(),
            f.status.word().to_owned(),
            terminal_safe(&f.detail).into_owned(),
            f.fix.clone().unwrap_or_default(),
        ]);
    }
    outln!("{t}");
}
