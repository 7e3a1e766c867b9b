//! The two ways to add MCP servers on the Settings page: the form that
//! adds one, each field's problem shown next to it, and the import of an
//! `mcpServers` JSON document (read by the same parser as `studio mcp
//! import`), with its report entry by entry.

use dioxus::prelude::*;
use studio_client::mcp_import::parse_mcp_servers_json;

use super::draft::{McpDraft, McpKind};
use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::{TextArea, TextInput};
use crate::problems::{FieldProblem, FormProblems, Problems};
use crate::state::{AppState, ImportOutcome};

/// What the import box shows while empty.
const IMPORT_EXAMPLE: &str = r#"{"mcpServers": {"files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/src"]}}}"#;

/// The form that adds one MCP server. `start` and `problems` are what it
/// opens with (a fresh form by default).
#[component]
pub fn McpAddForm(
    /// The draft it opens with.
    #[props(default)]
    start: McpDraft,
    /// Problems shown from the start.
    #[props(default)]
    problems: Problems,
) -> Element {
    let commands = use_context::<Commands>();
    let mut draft = use_signal(move || start);
    let mut problems = use_signal(move || problems);
    let shown = problems.read().clone();
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
                FieldProblem { problems: shown.clone(), field: "mcp_name" }
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
                    FieldProblem { problems: shown.clone(), field: "mcp_command" }
                }
                label { "Arguments"
                    TextInput { name: "mcp_args", placeholder: "-y @modelcontextprotocol/server-filesystem /src", value: draft.read().args.clone(),
                        oninput: move |text| draft.write().args = text }
                    FieldProblem { problems: shown.clone(), field: "mcp_args" }
                }
            } else {
                label { "URL"
                    TextInput { name: "mcp_url", placeholder: "https://host/mcp", value: draft.read().url.clone(),
                        oninput: move |text| draft.write().url = text }
                    FieldProblem { problems: shown.clone(), field: "mcp_url" }
                }
            }
            label { "{secrets_label}"
                TextArea { name: "mcp_secrets", autocomplete: "off", spellcheck: "false",
                    placeholder: "API_TOKEN=…", value: draft.read().secrets.clone(),
                    oninput: move |text| draft.write().secrets = text }
                FieldProblem { problems: shown.clone(), field: "mcp_secrets" }
            }
            label { "Startup timeout (s)"
                TextInput { name: "mcp_startup_timeout", r#type: "number", min: "1", value: draft.read().startup_timeout.clone(),
                    oninput: move |text| draft.write().startup_timeout = text }
                FieldProblem { problems: shown.clone(), field: "mcp_startup_timeout" }
            }
            label { "Call timeout (s)"
                TextInput { name: "mcp_call_timeout", r#type: "number", min: "1", value: draft.read().call_timeout.clone(),
                    oninput: move |text| draft.write().call_timeout = text }
                FieldProblem { problems: shown.clone(), field: "mcp_call_timeout" }
            }
            label { class: "check",
                input { r#type: "checkbox", name: "mcp_replace", checked: draft.read().replace,
                    onchange: move |e| draft.write().replace = e.checked() }
                "Replace a server of that name"
            }
            FormProblems { problems: shown }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| {
                        let checked = draft.read().check();
                        match checked {
                            Ok(server) => {
                                let replace = draft.read().replace;
                                commands.send(Command::AddMcp { server: Box::new(server), replace });
                                // The secrets leave with the command and nowhere else.
                                draft.set(McpDraft::default());
                                problems.set(Problems::default());
                            }
                            Err(found) => problems.set(found),
                        }
                    },
                    "Add server"
                }
            }
        }
    }
}

/// `why` as the import box's problem.
pub fn import_problem(why: String) -> Problems {
    let mut problems = Problems::default();
    problems.add("mcp_import", why);
    problems
}

/// Import an `mcpServers` document pasted in (Claude Desktop, Cursor, VS
/// Code); the last import's report, entry by entry, shows under it.
#[component]
pub fn McpImportForm(
    /// The text it opens with.
    #[props(default)]
    start: String,
    /// Problems shown from the start (under `mcp_import`).
    #[props(default)]
    problems: Problems,
) -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut text = use_signal(move || start);
    let mut replace = use_signal(|| false);
    let mut problems = use_signal(move || problems);
    let shown = problems.read().clone();
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
                FieldProblem { problems: shown.clone(), field: "mcp_import" }
            }
            label { class: "check",
                input { r#type: "checkbox", name: "mcp_import_replace", checked: replace(),
                    onchange: move |e| replace.set(e.checked()) }
                "Replace servers of the same names"
            }
            FormProblems { problems: shown }
            div { class: "buttons",
                button {
                    r#type: "button",
                    onclick: move |_| {
                        let parsed = parse_mcp_servers_json(&text.read());
                        match parsed {
                            Ok(entries) if entries.is_empty() => {
                                problems.set(import_problem("the document lists no servers".into()));
                            }
                            Ok(entries) => {
                                commands.send(Command::ImportMcp { entries, replace: replace() });
                                text.set(String::new());
                                problems.set(Problems::default());
                            }
                            Err(why) => problems.set(import_problem(why)),
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
