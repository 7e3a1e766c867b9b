//! Settings: the daemon this window is connected to.

use dioxus::prelude::*;

use crate::state::{AppState, Link};

/// The Settings page.
#[component]
pub fn SettingsPage() -> Element {
    let state = use_context::<Signal<AppState>>();
    let Link::Up(status) = state.read().link.clone() else {
        return rsx! { p { class: "empty", "Not connected to the daemon." } };
    };
    rsx! {
        h3 { "Daemon" }
        table {
            tbody {
                tr { th { "version" } td { "{status.version}" } }
                tr { th { "pid" } td { "{status.pid}" } }
                tr { th { "data dir" } td { code { "{status.data_dir}" } } }
                tr { th { "live sessions" } td { "{status.live_sessions}" } }
                tr { th { "queued runs" } td { "{status.queued_runs}" } }
                tr { th { "max concurrent runs" } td { "{status.max_concurrent_runs}" } }
            }
        }
        p { class: "muted",
            "Keys, MCP servers, rules and pricing: "
            code { "studio keys" } ", " code { "studio mcp" } ", " code { "studio rules" } ", "
            code { "studio pricing" } "."
        }
    }
}
