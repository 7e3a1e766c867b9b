//! Settings, in sections that a side navigation jumps to: the daemon this window is connected to (and its run limit), provider keys
//! (masked: a key is never shown back), MCP servers (add, import, test,
//! remove; their secrets are never shown back), plugins (marketplaces,
//! review, install, enable, remove), approval rules (add,
//! remove), the pricing table (set, reset), what sessions spent and
//! where traces go (OpenTelemetry).

mod limits;
mod mcp;
mod plugins;
mod pricing;
mod secrets;
mod spend;
mod traces;

use dioxus::prelude::*;
use protocol::approval::{RuleDecision, RuleMatch};
use protocol::control::KeySource;
use protocol::{ProviderKind, Secret};

use crate::commands::Commands;
use crate::connection::Command;
use crate::fields::TextInput;
use crate::state::{AppState, Link};

use limits::{Limit, LimitField};
use mcp::McpServers;
pub use mcp::{McpAddForm, McpDraft, McpImportForm, McpKind, import_problem};
pub use plugins::PluginsSection;
pub use pricing::{PriceDraft, Pricing};
use secrets::WhereNewSecretsGo;
use spend::Spend;
use traces::Traces;

/// The Settings page.
#[component]
pub fn SettingsPage() -> Element {
    let mut state = use_context::<Signal<AppState>>();
    let status = match state.read().link.clone() {
        Link::Up(status) => status,
        Link::Connecting => return rsx! { p { class: "empty", "Connecting to the daemon…" } },
        Link::Down { .. } | Link::Stopped => {
            return rsx! { p { class: "empty", "Not connected to the daemon: settings show once it is back." } };
        }
    };
    rsx! {
        div { class: "settings",
        SectionNav {}
        div { class: "sections",
        section { id: "settings-daemon",
            h3 { "Daemon" }
            table {
                tbody {
                    tr { th { "version" } td { "{status.version}" } }
                    tr { th { "pid" } td { "{status.pid}" } }
                    tr { th { "data dir" } td { code { "{status.data_dir}" } } }
                    tr { th { "live sessions" } td { "{status.live_sessions}" } }
                    tr { th { "queued runs" } td { "{status.queued_runs}" } }
                    tr { th { "max concurrent runs" } td { LimitField { limit: Limit::Runs, current: status.max_concurrent_runs } } }
                    tr { th { "live chats" } td { "{status.live_chats}" } }
                    tr { th { "max live chats" } td { LimitField { limit: Limit::Chats, current: status.max_live_chats } } }
                    tr { th { "containment" }
                        td { for line in status.containment.iter() { div { class: "containment", "{line}" } } }
                    }
                }
            }
            button { class: "open-wizard",
                onclick: move |_| {
                    state.write().wizard_open = true;
                    document::eval("document.querySelector('main')?.scrollTo(0, 0); window.scrollTo(0, 0)");
                },
                "Open the setup wizard"
            }
        }
        Keys {}
        McpServers {}
        PluginsSection {}
        Rules {}
        Pricing {}
        Spend {}
        Traces {}
        }
        }
    }
}

/// The page's sections, in order: (anchor id, name).
const SECTIONS: [(&str, &str); 8] = [
    ("settings-daemon", "Daemon"),
    ("settings-keys", "Provider keys"),
    ("settings-mcp", "MCP servers"),
    ("settings-plugins", "Plugins"),
    ("settings-rules", "Approval rules"),
    ("settings-prices", "Prices"),
    ("settings-spend", "Spend"),
    ("settings-traces", "Traces"),
];

/// Jumps to a section of the page (it stays in view as the page scrolls).
#[component]
fn SectionNav() -> Element {
    rsx! {
        nav { class: "sections", aria_label: "Settings sections",
            for (id, name) in SECTIONS {
                button { class: "tab", "data-section": id,
                    onclick: move |_| {
                        document::eval(&format!(
                            "document.getElementById('{id}')?.scrollIntoView({{ block: 'start' }})"
                        ));
                    },
                    "{name}"
                }
            }
        }
    }
}

/// Provider keys: where each comes from; set or forget a stored one.
#[component]
fn Keys() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut provider = use_signal(|| ProviderKind::OpenAi);
    let mut key = use_signal(String::new);
    let mut problem = use_signal(|| None::<&'static str>);
    let keys = state.read().settings.keys.clone();
    let places: Vec<Option<&str>> = keys
        .iter()
        .map(|info| {
            secrets::place(
                state.read().settings.secrets.as_ref(),
                &format!("key/{}", info.provider),
            )
        })
        .collect();
    rsx! {
        section { id: "settings-keys",
            h3 { "Provider keys" }
            table {
                tbody {
                    for (info, place) in keys.into_iter().zip(places) {
                        tr { key: "{info.provider}",
                            td { "{info.provider}" }
                            td {
                                match info.source {
                                    KeySource::Stored => "stored ••••••••",
                                    KeySource::Environment => "from the daemon's environment",
                                    KeySource::Missing => "missing",
                                }
                            }
                            td { class: "muted", {place.filter(|_| info.source == KeySource::Stored).unwrap_or_default()} }
                            td {
                                if info.source == KeySource::Stored {
                                    button { onclick: move |_| commands.send(Command::RemoveKey(info.provider)), "Forget" }
                                }
                            }
                        }
                    }
                }
            }
            div { class: "form inline",
                select { name: "key_provider", value: "{provider}",
                    onchange: move |e| {
                        if let Ok(next) = e.value().parse() {
                            provider.set(next);
                        }
                    },
                    for each in ProviderKind::ALL.into_iter().filter(|p| *p != ProviderKind::Scripted) {
                        option { value: "{each}", selected: each == provider(), "{each}" }
                    }
                }
                TextInput { name: "key", r#type: "password", autocomplete: "off", placeholder: "API key",
                    value: key(), oninput: move |text| key.set(text) }
                button {
                    onclick: move |_| {
                        let text = key.read().trim().to_owned();
                        if text.is_empty() {
                            problem.set(Some("paste the provider's API key first"));
                        } else {
                            commands.send(Command::SetKey { provider: provider(), key: Secret::new(text) });
                            key.set(String::new());
                            problem.set(None);
                        }
                    },
                    "Store key"
                }
                if let Some(why) = problem() {
                    p { class: "problem", role: "alert", "{why}" }
                }
            }
            WhereNewSecretsGo {}
        }
    }
}

/// Approval rules, in evaluation order; add or remove one.
#[component]
fn Rules() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    let mut matches = use_signal(String::new);
    let mut decision = use_signal(|| "allow".to_owned());
    let mut problem = use_signal(|| None::<String>);
    let rules = state.read().settings.rules.clone();
    rsx! {
        section { id: "settings-rules",
            h3 { "Approval rules" }
            table {
                tbody {
                    for rule in rules {
                        tr { key: "{rule.id}",
                            td { "{rule.id}" }
                            td { code { "{rule.matches}" } }
                            td { "{rule.decision}" }
                            td { {rule.agent.clone().unwrap_or_else(|| "all agents".into())} }
                            td { "priority {rule.priority}" }
                            td { button { onclick: { let id = rule.id.clone(); move |_| commands.send(Command::RemoveRule(id.clone())) }, "Remove" } }
                        }
                    }
                }
            }
            div { class: "form inline",
                TextInput { name: "rule", placeholder: "TOOL[:FIELD=GLOB], e.g. shell:command=git *", value: matches(),
                    oninput: move |text| matches.set(text) }
                select { name: "decision", value: "{decision}", onchange: move |e| decision.set(e.value()),
                    option { value: "allow", "allow" }
                    option { value: "ask", "ask" }
                    option { value: "deny", "deny" }
                }
                button {
                    onclick: move |_| {
                        let parsed = matches.read().trim().parse::<RuleMatch>();
                        let chosen = match decision.read().as_str() {
                            "deny" => RuleDecision::Deny,
                            "ask" => RuleDecision::Ask,
                            _ => RuleDecision::Allow,
                        };
                        match parsed {
                            Ok(rule) => {
                                commands.send(Command::AddRule { agent: None, matches: rule, decision: chosen, priority: 0 });
                                matches.set(String::new());
                                problem.set(None);
                            }
                            Err(why) => problem.set(Some(why)),
                        }
                    },
                    "Add rule"
                }
                if let Some(why) = problem.read().as_ref() {
                    p { class: "problem", role: "alert", "{why}" }
                }
            }
        }
    }
}
