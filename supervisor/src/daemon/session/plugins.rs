//! The installed plugins a session's agent uses (`mcp_servers =
//! ["plugin:NAME"]`): each read from its installed files when the session
//! begins (a plugin disabled or removed later is kept by the sessions
//! that started with it; a new session no longer gets it), recorded as
//! `plugin.loaded` with its version and checksum, and its servers handed
//! to the worker as `PluginServer`s whose sandbox is made of what the
//! plugin was granted at install, never of the agent's. A grant that
//! names the data dir (or a path inside or above it) refuses the plugin.
//!
//! The approval rules a plugin brings apply to this session's calls of
//! its own servers' tools only (`confined_rule`): a rule whose tool part
//! is not `SERVER.…` for one of its servers (`*`, `shell`, another
//! server's tools) is left out and named in `plugin.loaded`, and each
//! rule's priority is at most 0, so the person's own rules win a tie.
//!
//! The values of the variables it declares (`[[permissions.env]]`, kept
//! as secrets by `studio plugin env set`) go into its servers'
//! environment and header values (`fill`), nowhere else.

use protocol::Secret;
use protocol::approval::ApprovalRule;
use protocol::event::{EventKind, PluginLoad};
use protocol::mcp::McpTransport;
use protocol::plugin::{PluginConfinement, PluginServer};
use protocol::sandbox::{Network as SandboxNetwork, SandboxConfig};
use studio_client::plugin::changes;
use studio_client::plugin::store::Plugins;
use studio_client::plugin::studio::{Network, NetworkSwitch, Permissions};

use super::SessionState;

/// How an agent names an installed plugin in its `mcp_servers`.
pub(crate) const PLUGIN_PREFIX: &str = studio_client::plugin::sign_in::PREFIX;

/// What a plugin gives one session.
struct Loaded {
    event: EventKind,
    servers: Vec<PluginServer>,
    rules: Vec<ApprovalRule>,
    /// The variables it declares it needs, whose values are stored.
    needs: Vec<String>,
}

impl SessionState {
    /// Resolves the plugin `name` for this session: its servers join the
    /// turn's setup; a plugin that is missing, disabled, unreadable or
    /// asks for the data dir is an `mcp.server.failed` naming it.
    pub(super) async fn resolve_plugin(&mut self, name: &str) {
        let plugins = Plugins::new(self.shared.config.data_dir.layout());
        let data_dir = self.shared.config.data_dir.clone();
        let owned = name.to_owned();
        let taken: Vec<String> = self
            .setup
            .mcp_servers
            .iter()
            .map(|s| s.name.clone())
            .chain(
                self.setup
                    .plugin_servers
                    .iter()
                    .map(|p| p.server.name.clone()),
            )
            .collect();
        let agent = self.record.agent.name.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            load(&plugins, &owned, &agent, &taken, |grant| {
                let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
                data_dir
                    .check_sandbox_paths(grant, home.as_deref())
                    .map_err(|err| err.to_string())
            })
        })
        .await
        .unwrap_or_else(|err| Err(format!("reading the plugin failed: {err}")));
        let loaded = match loaded {
            Ok(mut loaded) => self.fill_values(name, &mut loaded).await.map(|()| loaded),
            Err(message) => Err(message),
        };
        match loaded {
            Ok(mut loaded) => {
                // An HTTP server someone signed in to sends its token.
                for plugin_server in &mut loaded.servers {
                    let sign_in = protocol::plugin::sign_in_name(name, &plugin_server.server.name);
                    let server = plugin_server.server.clone();
                    plugin_server.server = crate::daemon::mcp_oauth::with_oauth_as(
                        &self.shared.secrets,
                        &sign_in,
                        server,
                    )
                    .await;
                }
                self.append(loaded.event);
                self.setup.plugin_servers.extend(loaded.servers);
                self.setup.plugin_rules.extend(loaded.rules);
            }
            Err(message) => self.append(EventKind::McpServerFailed {
                server: format!("{PLUGIN_PREFIX}{name}"),
                message,
            }),
        }
    }

    /// Puts the current sign-in tokens into the HTTP servers of the turn
    /// about to start (refreshed first when they expire): a chat outlives
    /// an access token. A server whose token changed is reconnected by the
    /// worker, as its configuration differs.
    pub(super) async fn refresh_sign_ins(&mut self) {
        use crate::daemon::mcp_oauth::{with_oauth, with_oauth_as};
        let shared = self.shared.clone();
        for server in &mut self.setup.mcp_servers {
            if matches!(server.transport, McpTransport::Http { .. }) {
                *server = with_oauth(&shared.secrets, server.clone()).await;
            }
        }
        for plugin in &mut self.setup.plugin_servers {
            if matches!(plugin.server.transport, McpTransport::Http { .. }) {
                let sign_in = protocol::plugin::sign_in_name(&plugin.plugin, &plugin.server.name);
                plugin.server =
                    with_oauth_as(&shared.secrets, &sign_in, plugin.server.clone()).await;
            }
        }
    }

    /// Puts the stored values of the variables plugin `name` declares
    /// into its servers: each variable in a stdio server's environment
    /// (unless the server sets it itself), and in place of `${VARIABLE}`
    /// in its environment and header values (never in its arguments or
    /// URL, which other processes can see). A declared variable without
    /// a stored value refuses the plugin, saying how to store one.
    async fn fill_values(&self, name: &str, loaded: &mut Loaded) -> Result<(), String> {
        let mut values = Vec::new();
        let mut missing = Vec::new();
        for variable in &loaded.needs {
            let stored = self
                .shared
                .secrets
                .get(&crate::secrets::plugin_env_name(name, variable))
                .await
                .map_err(|err| format!("cannot read its stored values: {err}"))?;
            match stored {
                Some(value) => values.push((variable.clone(), value)),
                None => missing.push(variable.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "it needs {}: store {} with `studio plugin env set {name} VARIABLE` (the value is read from stdin)",
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "each" }
            ));
        }
        for plugin_server in &mut loaded.servers {
            fill(&mut plugin_server.server.transport, &values);
        }
        Ok(())
    }
}

/// [`SessionState::fill_values`] for one server.
fn fill(transport: &mut McpTransport, values: &[(String, Secret)]) {
    let substitute = |text: &Secret| -> Secret {
        let mut filled = text.expose().to_owned();
        for (variable, value) in values {
            filled = filled.replace(&format!("${{{variable}}}"), value.expose());
        }
        Secret::new(filled)
    };
    match transport {
        McpTransport::Stdio { env, .. } => {
            for (_, value) in env.iter_mut() {
                *value = substitute(value);
            }
            for (variable, value) in values {
                if !env.iter().any(|(name, _)| name == variable) {
                    env.push((variable.clone(), value.clone()));
                }
            }
        }
        McpTransport::Http { headers, .. } => {
            for (_, value) in headers.iter_mut() {
                *value = substitute(value);
            }
        }
    }
}

/// Reads the installed plugin `name` as the session will use it.
fn load(
    plugins: &Plugins,
    name: &str,
    agent: &str,
    taken: &[String],
    check_paths: impl Fn(&SandboxConfig) -> Result<(), String>,
) -> Result<Loaded, String> {
    let installed = plugins.get(name).map_err(|err| err.to_string())?;
    if !installed.enabled {
        return Err(format!(
            "plugin {name} is disabled (studio plugin enable {name})"
        ));
    }
    let plugin = plugins
        .read_installed(name)
        .map_err(|err| err.to_string())?;
    let granted = &installed.granted;
    check_paths(&SandboxConfig {
        read: granted.read.clone(),
        write: granted.write.clone(),
        ..SandboxConfig::default()
    })?;
    let (network, hosts) = network_of(granted);
    let confinement = PluginConfinement {
        root: plugins.files_of(name).display().to_string(),
        data: plugins.data_of(name).display().to_string(),
        read: granted.read.clone(),
        write: granted.write.clone(),
        network,
        hosts,
        shell: granted.shell,
    };
    let mut servers = Vec::new();
    for server in plugin.servers {
        // What was granted is what runs: a server the files gained since
        // the install (they should not change) is not started.
        if !installed.servers.contains(&server.name) {
            continue;
        }
        if taken.contains(&server.name) {
            return Err(format!(
                "its server {} has the name of another server of the agent",
                server.name
            ));
        }
        let panels = plugin
            .studio
            .panels
            .iter()
            .filter(|panel| panel.server == server.name)
            .map(|panel| (panel.resource.clone(), panel.title.clone()))
            .collect();
        servers.push(PluginServer {
            plugin: name.to_owned(),
            version: installed.version.clone().unwrap_or_default(),
            server,
            confinement: confinement.clone(),
            panels,
        });
    }
    let names: Vec<&str> = servers.iter().map(|s| s.server.name.as_str()).collect();
    let mut rules = Vec::new();
    let mut left_out = Vec::new();
    for (at, rule) in plugin.studio.rules.iter().enumerate() {
        let described = format!("{} {}", rule.matches, rule.decision);
        match confined_rule(rule, &names) {
            Ok(matches) => {
                rules.push(ApprovalRule {
                    id: format!("plugin:{name}#{}", at + 1),
                    agent: Some(agent.to_owned()),
                    matches,
                    decision: rule.decision,
                    priority: rule.priority.min(0),
                });
            }
            Err(why) => left_out.push(format!("{described}: {why}")),
        }
    }
    Ok(Loaded {
        event: EventKind::PluginLoaded(Box::new(PluginLoad {
            plugin: name.to_owned(),
            version: installed.version.clone().unwrap_or_default(),
            sha256: installed.sha256.clone(),
            servers: names.iter().map(|n| (*n).to_owned()).collect(),
            granted: changes::asks(granted),
            rules: rules
                .iter()
                .map(|r| format!("{} {} ({})", r.matches, r.decision, r.id))
                .collect(),
            left_out,
        })),
        servers,
        rules,
        needs: granted.env.iter().map(|need| need.name.clone()).collect(),
    })
}

/// A plugin's rule as it may apply: only to its own servers' tools.
fn confined_rule(
    rule: &studio_client::agent_file::FileRule,
    servers: &[&str],
) -> Result<protocol::approval::RuleMatch, String> {
    let matches = rule.rule_match()?;
    let own = matches.tool.split_once('.').is_some_and(|(server, _)| {
        servers.contains(&server) && !server.contains(['*', '?', '[', ']', '{', '}'])
    });
    if own {
        Ok(matches)
    } else {
        Err(format!(
            "a plugin's rule may match only its own servers' tools ({})",
            servers
                .iter()
                .map(|s| format!("{s}.…"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The network a grant gives a server's sandbox, with the hosts it names
/// (reached through the worker's proxy).
fn network_of(granted: &Permissions) -> (SandboxNetwork, Vec<String>) {
    match &granted.network {
        Some(Network::Switch(NetworkSwitch::On)) => (SandboxNetwork::On, Vec::new()),
        Some(Network::Hosts(hosts)) if !hosts.is_empty() => (SandboxNetwork::Hosts, hosts.clone()),
        _ => (SandboxNetwork::Off, Vec::new()),
    }
}
