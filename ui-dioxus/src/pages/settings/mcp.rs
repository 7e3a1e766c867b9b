//! MCP servers on the Settings page: the list (test, remove), the form
//! that adds one, and the import of an `mcpServers` JSON document (read by
//! the same parser as `studio mcp import`).
//!
//! Environment variables and headers are secrets: typed into the form,
//! sent once with the server, then cleared; the store only ever holds
//! their names ([`crate::state::McpSummary`]).

use std::fmt;

use dioxus::prelude::*;
use protocol::Secret;
use protocol::mcp::{
    DEFAULT_CALL_TIMEOUT_SECS, DEFAULT_STARTUP_TIMEOUT_SECS, McpServerConfig, McpTransport,
};
use studio_client::mcp_import::parse_mcp_servers_json;

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::{TextArea, TextInput};
use crate::state::{AppState, ImportOutcome};

/// How the server of an [`McpDraft`] is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum McpKind {
    /// A command the worker starts, speaking MCP on stdin/stdout.
    #[default]
    Stdio,
    /// A streamable-HTTP endpoint.
    Http,
}

/// What the add form holds; [`McpDraft::config`] builds the server from it.
#[derive(Clone, PartialEq)]
pub struct McpDraft {
    /// Name agents use; its tools are offered as `NAME.TOOL`.
    pub name: String,
    /// Command or URL.
    pub kind: McpKind,
    /// The program (stdio).
    pub command: String,
    /// Its arguments, split at spaces; quotes keep spaces in one argument.
    pub args: String,
    /// The endpoint (HTTP).
    pub url: String,
    /// `KEY=VALUE` lines: environment variables (stdio) or request headers
    /// (HTTP). Secret: never in `Debug` output.
    pub secrets: String,
    /// Seconds to start and list tools.
    pub startup_timeout: String,
    /// Seconds one tool call may take.
    pub call_timeout: String,
    /// Replace a server of that name rather than be refused.
    pub replace: bool,
}

impl Default for McpDraft {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: McpKind::Stdio,
            command: String::new(),
            args: String::new(),
            url: String::new(),
            secrets: String::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT_SECS.to_string(),
            call_timeout: DEFAULT_CALL_TIMEOUT_SECS.to_string(),
            replace: false,
        }
    }
}

/// Names the secret lines' keys, never their values.
impl fmt::Debug for McpDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .secrets
            .lines()
            .filter_map(|line| line.split_once('=').map(|(key, _)| key.trim()))
            .collect();
        f.debug_struct("McpDraft")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("url", &self.url)
            .field("secrets", &keys)
            .field("startup_timeout", &self.startup_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("replace", &self.replace)
            .finish()
    }
}

impl McpDraft {
    /// The server, checked as the daemon will check it, or what is wrong
    /// (never quoting a secret value).
    pub fn config(&self) -> Result<McpServerConfig, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("give the server a name".into());
        }
        let transport = match self.kind {
            McpKind::Stdio => {
                let command = self.command.trim();
                if command.is_empty() {
                    return Err("give the command that starts the server".into());
                }
                McpTransport::Stdio {
                    command: command.to_owned(),
                    args: split_args(&self.args)?,
                    env: pairs(&self.secrets, "environment")?,
                }
            }
            McpKind::Http => {
                let url = self.url.trim();
                if url.is_empty() {
                    return Err("give the server's URL".into());
                }
                McpTransport::Http {
                    url: url.to_owned(),
                    headers: pairs(&self.secrets, "header")?,
                }
            }
        };
        let server = McpServerConfig {
            name: name.to_owned(),
            transport,
            startup_timeout_secs: seconds(
                "startup timeout",
                &self.startup_timeout,
                DEFAULT_STARTUP_TIMEOUT_SECS,
            )?,
            call_timeout_secs: seconds(
                "call timeout",
                &self.call_timeout,
                DEFAULT_CALL_TIMEOUT_SECS,
            )?,
        };
        server.validate()?;
        Ok(server)
    }
}

/// `KEY=VALUE` lines (blank lines skipped); errors name the line and the
/// key, never the value.
fn pairs(text: &str, what: &str) -> Result<Vec<(String, Secret)>, String> {
    let mut out: Vec<(String, Secret)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("{what} line {number}: use KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(format!(
                "{what} line {number}: the name before '=' must be one word"
            ));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(format!("{what} {key} is given twice"));
        }
        out.push((key.to_owned(), Secret::new(value.trim())));
    }
    Ok(out)
}

/// Arguments split at whitespace; `'…'` or `"…"` keep spaces in one.
fn split_args(text: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current: Option<String> = None;
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.get_or_insert_with(String::new).push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                current.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => args.extend(current.take()),
            None => current.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("arguments: a quote is not closed".into());
    }
    args.extend(current);
    Ok(args)
}

/// Whole seconds, at least one; empty means `default`.
fn seconds(what: &str, text: &str, default: u32) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(default);
    }
    text.parse()
        .ok()
        .filter(|secs| *secs >= 1)
        .ok_or_else(|| format!("{what}: a whole number of seconds, at least 1"))
}

/// What the import box shows while empty.
const IMPORT_EXAMPLE: &str = r#"{"mcpServers": {"files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/src"]}}}"#;

/// MCP servers: test or forget one, add one, import a document.
#[component]
pub(super) fn McpServers() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let servers = state.read().settings.mcp.clone();
    let tests = state.read().settings.mcp_tests.clone();
    let places: Vec<Option<&str>> = servers
        .iter()
        .map(|server| {
            super::secrets::place(
                state.read().settings.secrets.as_ref(),
                &format!("mcp/{}", server.name),
            )
        })
        .collect();
    rsx! {
        section { id: "settings-mcp",
            h3 { "MCP servers" }
            if servers.is_empty() {
                p { class: "muted", "None yet: add one below, or import a Claude Desktop, Cursor or VS Code configuration." }
            }
            table {
                tbody {
                    for (server, place) in servers.into_iter().zip(places) {
                        tr { key: "{server.name}",
                            td { "{server.name}" }
                            td { code { "{server.transport}" } }
                            td { class: "muted", {place.map(|place| format!("secrets {place}")).unwrap_or_default()} }
                            td { class: "muted", "{server.startup_timeout_secs} s / {server.call_timeout_secs} s" }
                            td {
                                match tests.get(&server.name) {
                                    Some(Ok(tools)) => format!("ok: {} tools", tools.len()),
                                    Some(Err(why)) => format!("failed: {why}"),
                                    None => String::new(),
                                }
                            }
                            td {
                                button { r#type: "button", onclick: { let name = server.name.clone(); move |_| commands.send(Command::TestMcp(name.clone())) }, "Test" }
                                button { r#type: "button", onclick: { let name = server.name.clone(); move |_| commands.send(Command::RemoveMcp(name.clone())) }, "Remove" }
                            }
                        }
                    }
                }
            }
            McpAddForm {}
            McpImportForm {}
        }
    }
}

/// The form that adds one MCP server. `start` and `problem` are what it
/// opens with (a fresh form by default).
#[component]
pub fn McpAddForm(
    /// The draft it opens with.
    #[props(default)]
    start: McpDraft,
    /// A problem shown from the start.
    #[props(default)]
    problem: Option<String>,
) -> Element {
    let commands = use_context::<Commands>();
    let mut draft = use_signal(move || start);
    let mut problem = use_signal(move || problem);
    let kind = draft.read().kind;
    let secrets_label = match kind {
        McpKind::Stdio => "Environment (KEY=VALUE lines; sent once, never shown again)",
        McpKind::Http => "Headers (KEY=VALUE lines; sent once, never shown again)",
    };
    rsx! {
        div { class: "form mcp-add",
            h3 { "Add an MCP server" }
            label { "Name"
                TextInput { name: "mcp_name", placeholder: "files", value: draft.read().name.clone(),
                    oninput: move |text| draft.write().name = text }
            }
            label { "Transport"
                select { name: "mcp_transport",
                    onchange: move |e| draft.write().kind = if e.value() == "http" { McpKind::Http } else { McpKind::Stdio },
                    option { value: "stdio", selected: kind == McpKind::Stdio, "command (stdio)" }
                    option { value: "http", selected: kind == McpKind::Http, "URL (streamable HTTP)" }
                }
            }
            if kind == McpKind::Stdio {
                label { "Command"
                    TextInput { name: "mcp_command", placeholder: "npx", value: draft.read().command.clone(),
                        oninput: move |text| draft.write().command = text }
                }
                label { "Arguments"
                    TextInput { name: "mcp_args", placeholder: "-y @modelcontextprotocol/server-filesystem /src", value: draft.read().args.clone(),
                        oninput: move |text| draft.write().args = text }
                }
            } else {
                label { "URL"
                    TextInput { name: "mcp_url", placeholder: "https://host/mcp", value: draft.read().url.clone(),
                        oninput: move |text| draft.write().url = text }
                }
            }
            label { "{secrets_label}"
                TextArea { name: "mcp_secrets", autocomplete: "off", spellcheck: "false",
                    placeholder: "API_TOKEN=…", value: draft.read().secrets.clone(),
                    oninput: move |text| draft.write().secrets = text }
            }
            label { "Startup timeout (s)"
                TextInput { name: "mcp_startup_timeout", r#type: "number", min: "1", value: draft.read().startup_timeout.clone(),
                    oninput: move |text| draft.write().startup_timeout = text }
            }
            label { "Call timeout (s)"
                TextInput { name: "mcp_call_timeout", r#type: "number", min: "1", value: draft.read().call_timeout.clone(),
                    oninput: move |text| draft.write().call_timeout = text }
            }
            label { class: "check",
                input { r#type: "checkbox", name: "mcp_replace", checked: draft.read().replace,
                    onchange: move |e| draft.write().replace = e.checked() }
                "Replace a server of that name"
            }
            if let Some(why) = problem.read().as_ref() {
                p { class: "problem", role: "alert", "{why}" }
            }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| {
                        let checked = draft.read().config();
                        match checked {
                            Ok(server) => {
                                let replace = draft.read().replace;
                                commands.send(Command::AddMcp { server: Box::new(server), replace });
                                // The secrets leave with the command and nowhere else.
                                draft.set(McpDraft::default());
                                problem.set(None);
                            }
                            Err(why) => problem.set(Some(why)),
                        }
                    },
                    "Add server"
                }
            }
        }
    }
}

/// Import an `mcpServers` document pasted in (Claude Desktop, Cursor, VS
/// Code); the last import's report, entry by entry, shows under it.
#[component]
pub fn McpImportForm(
    /// The text it opens with.
    #[props(default)]
    start: String,
    /// A problem shown from the start.
    #[props(default)]
    problem: Option<String>,
) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut text = use_signal(move || start);
    let mut replace = use_signal(|| false);
    let mut problem = use_signal(move || problem);
    let report = state.read().settings.mcp_import.clone();
    rsx! {
        div { class: "form mcp-import",
            h3 { "Import MCP servers" }
            label {
                span { "An mcpServers JSON document (Claude Desktop, Cursor; VS Code's \"servers\"), as "
                    code { "studio mcp import" } " reads" }
                TextArea { name: "mcp_import", autocomplete: "off", spellcheck: "false",
                    placeholder: IMPORT_EXAMPLE,
                    value: text(), oninput: move |typed| text.set(typed) }
            }
            label { class: "check",
                input { r#type: "checkbox", name: "mcp_import_replace", checked: replace(),
                    onchange: move |e| replace.set(e.checked()) }
                "Replace servers of the same names"
            }
            if let Some(why) = problem.read().as_ref() {
                p { class: "problem", role: "alert", "{why}" }
            }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| {
                        let parsed = parse_mcp_servers_json(&text.read());
                        match parsed {
                            Ok(entries) if entries.is_empty() => {
                                problem.set(Some("the document lists no servers".into()));
                            }
                            Ok(entries) => {
                                commands.send(Command::ImportMcp { entries, replace: replace() });
                                text.set(String::new());
                                problem.set(None);
                            }
                            Err(why) => problem.set(Some(why)),
                        }
                    },
                    "Import"
                }
            }
            if !report.is_empty() {
                table { class: "import-report",
                    tbody {
                        for (name, outcome) in report {
                            tr { key: "{name}",
                                td { "{name}" }
                                match outcome {
                                    ImportOutcome::Pending => rsx! { td { class: "muted", "adding…" } },
                                    ImportOutcome::Added => rsx! { td { class: "ok", "added" } },
                                    ImportOutcome::Skipped(why) => rsx! { td { class: "problem", "not added: {why}" } },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> McpDraft {
        McpDraft {
            name: "files".into(),
            command: "npx".into(),
            args: r#"-y server-fs "/my docs" '' x"#.into(),
            secrets: "API_TOKEN = tok-secret-1\n\nOTHER=a=b\n".into(),
            startup_timeout: "5".into(),
            call_timeout: String::new(),
            ..McpDraft::default()
        }
    }

    #[test]
    fn a_stdio_draft_becomes_its_server_with_quoted_args_and_env_secrets() {
        let server = stdio().config().unwrap_or_else(|e| panic!("{e}"));
        let McpTransport::Stdio { command, args, env } = &server.transport else {
            panic!("not stdio: {server:?}");
        };
        assert_eq!(command, "npx");
        assert_eq!(args, &["-y", "server-fs", "/my docs", "", "x"]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(env, [("API_TOKEN", "tok-secret-1"), ("OTHER", "a=b")]);
        assert_eq!(server.startup_timeout_secs, 5);
        assert_eq!(
            server.call_timeout_secs, DEFAULT_CALL_TIMEOUT_SECS,
            "an empty timeout is the default"
        );
        assert_eq!(McpDraft::default().startup_timeout, "60");
        assert!(
            !format!("{:?}", stdio()).contains("tok-secret"),
            "Debug hides values"
        );
    }

    #[test]
    fn an_http_draft_sends_its_lines_as_headers() {
        let draft = McpDraft {
            kind: McpKind::Http,
            url: " https://host/mcp ".into(),
            secrets: "Authorization=Bearer t".into(),
            ..stdio()
        };
        let server = draft.config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            server.describe(),
            "https://host/mcp (headers: Authorization)"
        );
    }

    #[test]
    fn a_bad_draft_says_why_without_quoting_a_secret() {
        let cases = [
            (
                McpDraft {
                    name: " ".into(),
                    ..stdio()
                },
                "give the server a name",
            ),
            (
                McpDraft {
                    name: "a.b".into(),
                    ..stdio()
                },
                "invalid MCP server name \"a.b\": use 1-32 letters, digits, '-' or '_'",
            ),
            (
                McpDraft {
                    command: String::new(),
                    ..stdio()
                },
                "give the command that starts the server",
            ),
            (
                McpDraft {
                    args: "\"open".into(),
                    ..stdio()
                },
                "arguments: a quote is not closed",
            ),
            (
                McpDraft {
                    secrets: "ok=1\nghp_pasted_alone".into(),
                    ..stdio()
                },
                "environment line 2: use KEY=VALUE",
            ),
            (
                McpDraft {
                    secrets: "MY KEY=v".into(),
                    ..stdio()
                },
                "environment line 1: the name before '=' must be one word",
            ),
            (
                McpDraft {
                    secrets: "A=1\nA=2".into(),
                    ..stdio()
                },
                "environment A is given twice",
            ),
            (
                McpDraft {
                    call_timeout: "0".into(),
                    ..stdio()
                },
                "call timeout: a whole number of seconds, at least 1",
            ),
            (
                McpDraft {
                    startup_timeout: "soon".into(),
                    ..stdio()
                },
                "startup timeout: a whole number of seconds, at least 1",
            ),
            (
                McpDraft {
                    kind: McpKind::Http,
                    ..stdio()
                },
                "give the server's URL",
            ),
            (
                McpDraft {
                    kind: McpKind::Http,
                    url: "ftp://x".into(),
                    ..stdio()
                },
                "\"ftp://x\" is not an http(s) URL",
            ),
            (
                McpDraft {
                    kind: McpKind::Http,
                    url: "https://x".into(),
                    secrets: "=v".into(),
                    ..stdio()
                },
                "header line 1: the name before '=' must be one word",
            ),
        ];
        for (draft, why) in cases {
            assert_eq!(draft.config().err().as_deref(), Some(why), "{draft:?}");
        }
    }
}
