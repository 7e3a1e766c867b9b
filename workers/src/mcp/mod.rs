//! MCP clients (rmcp): the servers an agent uses, connected once per
//! worker and kept across its turns.
//!
//! A stdio server is a child of the worker, in the session's sandbox and
//! PID namespace, so it dies with the session; an HTTP server is reached
//! over streamable HTTP ([`open`]).
//! Tools are offered to the model as `SERVER.TOOL`, except those whose name
//! providers would refuse or another tool already has (`mcp.tools.skipped`:
//! one bad tool must not break every request). A server that cannot
//! start is an `mcp.server.failed` event and the session goes on without
//! it; one that goes away mid-call is a `tool.error` and `mcp.server.exited`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocol::event::EventKind;
use protocol::mcp::McpServerConfig;
use protocol::sandbox::Confinement;
use protocol::worker::ToolSpec;
use rmcp::ClientHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ContentBlock,
};
use rmcp::service::ServiceError;

pub mod login;
pub mod oauth;
mod open;
mod views;
mod wanted;

pub use open::{Connection, OFFERED_VERSION, client_config, open};
use wanted::connect;
pub use wanted::{Place, Wanted, plugin_policies, wanted};

use crate::connection::Outbox;
use crate::provider::wire_name;
use crate::sandbox::proxy::HostProxy;
use crate::tools::{self, Capped, Output};

/// Longest tool name providers accept (OpenAI, Anthropic and Gemini all
/// stop at 64 characters).
const MAX_TOOL_NAME: usize = 64;

/// Most skipped tools an `mcp.tools.skipped` event names (it counts all).
const SKIPPED_LISTED: usize = 10;

/// The worker's MCP client handler: no sampling, roots or elicitation
/// (a headless session has nobody to ask), rmcp's defaults otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct StudioClient;

impl ClientHandler for StudioClient {
    fn get_info(&self) -> ClientConfig {
        // It records the MCP Apps views servers offer, for the app to draw.
        let mut capabilities = ClientCapabilities::default();
        let mut apps = serde_json::Map::new();
        apps.insert(
            "mimeTypes".to_owned(),
            serde_json::json!([protocol::app_view::APP_MIME_TYPE]),
        );
        capabilities.extensions = Some(
            [(protocol::app_view::APP_EXTENSION.to_owned(), apps)]
                .into_iter()
                .collect(),
        );
        client_config(capabilities)
    }
}

/// The connected MCP servers of one worker.
#[derive(Default)]
pub struct Hub {
    servers: Vec<Server>,
    /// The plugin panels already recorded (server, `ui://` URI).
    panels_read: HashSet<(String, String)>,
}

struct Server {
    config: McpServerConfig,
    connection: Connection<StudioClient>,
    /// Set once the server was seen gone (and reported).
    gone: AtomicBool,
    /// What its process may touch, for its tools' `tool.started`.
    confinement: Confinement,
    /// Its way to the hosts it was granted, while it runs.
    _proxy: Option<HostProxy>,
}

impl Hub {
    /// Brings the connections in line with `configs`: drops servers no
    /// longer wanted or gone, and connects the missing ones, reporting each
    /// start or failure. `Err` only when the daemon is gone.
    pub async fn sync(&mut self, wanted: &[Wanted<'_>], outbox: &Outbox) -> anyhow::Result<()> {
        self.servers.retain(|s| {
            !s.gone.load(Ordering::Relaxed) && wanted.iter().any(|w| *w.config == s.config)
        });
        for wanted in wanted {
            let config = wanted.config;
            if self.servers.iter().any(|s| s.config == *config) {
                continue;
            }
            let startup = Duration::from_secs(u64::from(config.startup_timeout_secs));
            match tokio::time::timeout(startup, connect(wanted, Some(outbox))).await {
                Ok(Ok(mut server)) => {
                    let skipped = self.drop_unusable_tools(&mut server);
                    outbox
                        .event(EventKind::McpServerStarted {
                            server: config.name.clone(),
                            tools: u32::try_from(server.connection.tools.len()).unwrap_or(u32::MAX),
                        })
                        .await?;
                    if !skipped.is_empty() {
                        tracing::warn!(
                            server = config.name,
                            count = skipped.len(),
                            "MCP tools not offered"
                        );
                        outbox
                            .event(EventKind::McpToolsSkipped {
                                server: config.name.clone(),
                                count: u32::try_from(skipped.len()).unwrap_or(u32::MAX),
                                tools: skipped.into_iter().take(SKIPPED_LISTED).collect(),
                            })
                            .await?;
                    }
                    self.servers.push(server);
                }
                Ok(Err(message)) => failed(config, message, outbox).await?,
                Err(_) => {
                    let message = format!(
                        "no answer to initialize and tools/list within {}s",
                        startup.as_secs()
                    );
                    failed(config, message, outbox).await?;
                }
            }
        }
        Ok(())
    }

    /// The tools of every live server, named `SERVER.TOOL`.
    pub fn offered(&self) -> Vec<ToolSpec> {
        self.live()
            .flat_map(|server| {
                server.connection.tools.iter().map(|tool| ToolSpec {
                    name: format!("{}.{}", server.config.name, tool.name),
                    description: tool.description.as_deref().unwrap_or_default().to_owned(),
                    parameters: serde_json::Value::Object((*tool.input_schema).clone()).to_string(),
                })
            })
            .collect()
    }

    /// What a call of the MCP tool `name` may touch: what its server's
    /// process may.
    pub fn confinement(&self, name: &str) -> Confinement {
        self.find(name)
            .map(|(server, _)| server.confinement.clone())
            .unwrap_or_default()
    }

    /// Whether `name` is a tool of a live server.
    pub fn owns(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Records the panels of the plugin servers in `plugins` that are
    /// live and not recorded yet in this worker's life (`app.view`).
    pub async fn read_panels(
        &mut self,
        plugins: &[protocol::plugin::PluginServer],
        outbox: &Outbox,
    ) -> anyhow::Result<()> {
        for plugin in plugins {
            let name = &plugin.server.name;
            let Some(server) = self
                .servers
                .iter()
                .find(|s| !s.gone.load(Ordering::Relaxed) && &s.config.name == name)
            else {
                continue;
            };
            for (uri, title) in &plugin.panels {
                if !self.panels_read.insert((name.clone(), uri.clone())) {
                    continue;
                }
                let purpose = views::Purpose {
                    call_id: None,
                    title: title.clone(),
                    result: String::new(),
                };
                views::record(&server.connection.client, name, uri, purpose, outbox).await?;
            }
        }
        Ok(())
    }

    /// Runs an approved `tools/call` (`call_id`), and records the view
    /// its tool declares, if any, with the result. `Err` is a message for
    /// the model; a server found gone is reported once as
    /// `mcp.server.exited`.
    pub async fn call(
        &self,
        call_id: &str,
        name: &str,
        arguments: &str,
        outbox: &Outbox,
    ) -> anyhow::Result<Result<Output, String>> {
        let Some((server, tool)) = self.find(name) else {
            return Ok(Err(format!("there is no tool named {name:?}")));
        };
        let arguments = match serde_json::from_str::<serde_json::Value>(arguments) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Ok(Err("the arguments must be a JSON object".to_owned())),
            Err(err) => return Ok(Err(format!("the arguments are not JSON: {err}"))),
        };
        let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let limit = Duration::from_secs(u64::from(server.config.call_timeout_secs));
        let result = tokio::time::timeout(limit, server.connection.client.call_tool(request)).await;
        Ok(match result {
            Ok(Ok(result)) => {
                let view = server
                    .connection
                    .tools
                    .iter()
                    .find(|t| t.name == tool)
                    .and_then(views::declared);
                if let Some(uri) = view
                    && result.is_error != Some(true)
                {
                    let purpose = views::Purpose {
                        call_id: Some(call_id.to_owned()),
                        title: tool.to_owned(),
                        result: serde_json::to_string(&result).unwrap_or_default(),
                    };
                    let client = &server.connection.client;
                    views::record(client, &server.config.name, &uri, purpose, outbox).await?;
                }
                from_result(&result)
            }
            Err(_) => Err(format!(
                "MCP server {:?} gave no answer within {}s",
                server.config.name,
                limit.as_secs()
            )),
            Ok(Err(err)) => {
                // A 401 or 403 (a revoked token, or a call that needs more
                // scope): a person signs in again; a run never does.
                let sign_in = oauth::challenge_in(&err).map_or_else(String::new, |_| {
                    format!(
                        "; the server wants a sign-in (or more scope): run `studio mcp login {}`",
                        server.config.name
                    )
                });
                let transport_lost = matches!(
                    err,
                    ServiceError::TransportClosed | ServiceError::TransportSend(_)
                ) || server.connection.client.is_closed();
                if !transport_lost {
                    return Ok(Err(format!(
                        "MCP server {:?}: {err}{sign_in}",
                        server.config.name
                    )));
                }
                let mut message = format!(
                    "MCP server {:?} went away during the call ({err}){sign_in}",
                    server.config.name
                );
                if !server.gone.swap(true, Ordering::Relaxed) {
                    let said = server.connection.last_words().await;
                    if !said.is_empty() {
                        message.push_str(&format!("; it last said: {said}"));
                    }
                    outbox
                        .event(EventKind::McpServerExited {
                            server: server.config.name.clone(),
                        })
                        .await?;
                }
                Err(message)
            }
        })
    }

    /// Drops the tools of `server` that cannot be offered (see
    /// [`unusable`]): names providers refuse, and names a built-in tool or
    /// a tool of another live server already has. Returns each with why.
    fn drop_unusable_tools(&self, server: &mut Server) -> Vec<String> {
        let mut taken: HashSet<String> = tools::all_names()
            .iter()
            .chain(self.offered().iter().map(|t| &t.name))
            .map(|name| wire_name(name))
            .collect();
        let mut skipped = Vec::new();
        server.connection.tools.retain(|tool| {
            let full = format!("{}.{}", server.config.name, tool.name);
            match unusable(&tool.name, &full, &taken) {
                Some(why) => {
                    let shown: String = tool.name.chars().take(80).collect();
                    skipped.push(format!("{shown:?}: {why}"));
                    false
                }
                None => {
                    taken.insert(wire_name(&full));
                    true
                }
            }
        });
        skipped
    }

    fn live(&self) -> impl Iterator<Item = &Server> {
        self.servers
            .iter()
            .filter(|s| !s.gone.load(Ordering::Relaxed))
    }

    /// The server and its own tool name for `SERVER.TOOL`.
    fn find<'a>(&self, name: &'a str) -> Option<(&Server, &'a str)> {
        let (server, tool) = name.split_once('.')?;
        let server = self.live().find(|s| s.config.name == server)?;
        server
            .connection
            .tools
            .iter()
            .any(|t| t.name == tool)
            .then_some((server, tool))
    }
}

/// Connects to `server` alone (as `studio mcp test` does) and returns its
/// tools as `SERVER.TOOL`.
pub async fn probe(server: &McpServerConfig) -> Result<Vec<String>, String> {
    let startup = Duration::from_secs(u64::from(server.startup_timeout_secs));
    let connected = tokio::time::timeout(
        startup,
        connect(
            &Wanted {
                config: server,
                place: Place::AsUser,
                sign_in: server.name.clone(),
            },
            None,
        ),
    )
    .await
    .map_err(|_| {
        format!(
            "no answer to initialize and tools/list within {}s",
            startup.as_secs()
        )
    })??;
    let mut hub = Hub::default();
    let mut connected = connected;
    let skipped = hub.drop_unusable_tools(&mut connected);
    hub.servers.push(connected);
    let names = hub
        .offered()
        .into_iter()
        .map(|t| t.name)
        .chain(skipped.into_iter().map(|s| format!("not offered: {s}")))
        .collect();
    if let Some(server) = hub.servers.pop() {
        let _ = server.connection.client.cancel().await;
    }
    Ok(names)
}

/// Why the MCP tool `tool` (offered as `full`, `SERVER.TOOL`) cannot be
/// offered to a model, given the names already `taken` as providers see
/// them ([`wire_name`]); `None` when it can.
fn unusable(tool: &str, full: &str, taken: &HashSet<String>) -> Option<String> {
    let wire = wire_name(full);
    if tool.is_empty() {
        Some("the name is empty".to_owned())
    } else if !wire
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        Some("providers accept only letters, digits, '_', '-' and '.' in a tool name".to_owned())
    } else if wire.len() > MAX_TOOL_NAME {
        Some(format!(
            "{wire} is longer than the {MAX_TOOL_NAME} characters providers accept"
        ))
    } else if taken.contains(&wire) {
        Some(format!(
            "another tool is already called {wire}, as providers see it"
        ))
    } else {
        None
    }
}

async fn failed(config: &McpServerConfig, message: String, outbox: &Outbox) -> anyhow::Result<()> {
    tracing::warn!(server = config.name, "MCP server failed: {message}");
    outbox
        .event(EventKind::McpServerFailed {
            server: config.name.clone(),
            message,
        })
        .await
}

/// The text of a tool result (capped); `Err` when the server flagged it
/// as an error.
fn from_result(result: &CallToolResult) -> Result<Output, String> {
    let mut capped = Capped::default();
    for (i, block) in result.content.iter().enumerate() {
        if i > 0 {
            capped.push(b"\n");
        }
        match block {
            ContentBlock::Text(text) => capped.push(text.text.as_bytes()),
            ContentBlock::Image(image) => {
                capped.push(format!("[image: {}]", image.mime_type).as_bytes());
            }
            ContentBlock::Audio(audio) => {
                capped.push(format!("[audio: {}]", audio.mime_type).as_bytes());
            }
            ContentBlock::ResourceLink(link) => {
                capped.push(format!("[resource: {}]", link.uri).as_bytes());
            }
            ContentBlock::Resource(resource) => {
                let text = serde_json::to_string(&resource.resource).unwrap_or_default();
                capped.push(text.as_bytes());
            }
            other => capped.push(serde_json::to_string(other).unwrap_or_default().as_bytes()),
        }
    }
    if result.content.is_empty()
        && let Some(structured) = &result.structured_content
    {
        capped.push(structured.to_string().as_bytes());
    }
    let output = Output {
        text: capped.text(),
        truncated: capped.truncated(),
    };
    if result.is_error == Some(true) {
        Err(output.text)
    } else {
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ProtocolVersion;

    use crate::mcp::open::{ACCEPTED_VERSIONS, OFFERED_VERSION, version_refused};

    #[test]
    fn a_tool_is_offered_only_under_a_name_providers_take_and_nobody_has() {
        let taken: HashSet<String> = tools::all_names()
            .iter()
            .map(|n| wire_name(n))
            .chain(["srv__dup__x".to_owned()])
            .collect();
        assert!(taken.contains("fs__read") && taken.contains("shell"));
        let why = |tool: &str, server: &str| unusable(tool, &format!("{server}.{tool}"), &taken);
        assert_eq!(why("echo", "srv"), None);
        assert_eq!(
            why("read_file", "fs"),
            None,
            "only the built-in names are taken"
        );
        assert_eq!(why("a.b", "srv"), None, "dots are fine: they become __");
        assert!(
            why("read", "fs")
                .unwrap()
                .contains("already called fs__read")
        );
        assert!(
            why("dup__x", "srv")
                .unwrap()
                .contains("already called srv__dup__x")
        );
        assert!(
            why("has space", "srv")
                .unwrap()
                .starts_with("providers accept only")
        );
        assert!(
            why("naïve", "srv")
                .unwrap()
                .starts_with("providers accept only")
        );
        assert_eq!(why("", "srv").as_deref(), Some("the name is empty"));
        // 64 characters as providers see them is the most: `srv__` is 5.
        assert_eq!(why(&"l".repeat(59), "srv"), None);
        assert!(
            why(&"l".repeat(60), "srv")
                .unwrap()
                .contains("longer than the 64")
        );
        // A dot counts twice.
        assert_eq!(why(&format!("{}.x", "l".repeat(56)), "srv"), None);
        assert!(why(&format!("{}.x", "l".repeat(57)), "srv").is_some());
    }

    #[test]
    fn initialize_offers_a_version_with_that_handshake() {
        let config = StudioClient.get_info();
        assert_eq!(config.protocol_version, OFFERED_VERSION);
        assert!(config.protocol_version.has_initialize());
        assert!(ACCEPTED_VERSIONS.contains(&OFFERED_VERSION));
        assert_eq!(config.client_info.name, "studio-worker");
    }

    #[test]
    fn the_servers_choice_of_version_is_checked() {
        assert_eq!(version_refused(Some(&ProtocolVersion::V_2025_11_25)), None);
        assert_eq!(version_refused(Some(&ProtocolVersion::V_2025_03_26)), None);
        let refused = version_refused(Some(&ProtocolVersion::V_2026_07_28));
        assert!(refused.is_some_and(|r| r.contains("2026-07-28")));
        assert!(version_refused(None).is_some());
    }
}
