//! What sessions spent, from Settings: each agent's daily caps with what
//! its sessions of today spent (as the daemon counts them against the
//! caps), and every session summed by agent, model and UTC day.

use dioxus::prelude::*;
use protocol::control::SpendRow;
use studio_client::human::{count, usd};

use crate::commands::Commands;
use crate::connection::Command;
use crate::state::AppState;

/// The Spend section; reads the figures when it opens and on Refresh.
#[component]
pub fn Spend() -> Element {
    let state = use_context::<Signal<AppState>>();
    let commands = use_context::<Commands>();
    use_hook(|| commands.send(Command::Spend));
    let spending = state.read().spending.clone();
    rsx! {
        section { id: "settings-spend",
            h3 { "Spend" }
            div { class: "buttons",
                button { r#type: "button", onclick: move |_| commands.send(Command::Spend), "Refresh" }
            }
            h4 { "Today (UTC), against each agent's daily caps" }
            table { class: "spend-today",
                thead { tr { th { "agent" } th { "daily caps" } th { "cost" } th { "tokens" } th { "sessions" } } }
                tbody {
                    for standing in spending.today {
                        tr { key: "{standing.agent}",
                            td { "{standing.agent}" }
                            td { "{standing.caps.summary()}" }
                            td { class: "num", "{usd(standing.spent.cost_usd)}" }
                            td { class: "num", "{count(standing.spent.tokens)}" }
                            td { class: "num", "{standing.spent.runs}" }
                        }
                    }
                }
            }
            SpendTable { what: "agent", rows: spending.by_agent }
            SpendTable { what: "model", rows: spending.by_model }
            SpendTable { what: "day", rows: spending.by_day }
        }
    }
}

/// Every session summed by `what` (agent, model or day).
#[component]
fn SpendTable(what: &'static str, rows: Vec<SpendRow>) -> Element {
    rsx! {
        h4 { "By {what}" }
        table { class: "spend-by-{what}",
            thead { tr { th { "{what}" } th { "sessions" } th { "input tokens" } th { "output tokens" } th { "cost" } } }
            tbody {
                for row in rows {
                    tr { key: "{row.key}",
                        td { "{row.key}" }
                        td { class: "num", "{row.sessions}" }
                        td { class: "num", "{count(row.usage.input_tokens)}" }
                        td { class: "num", "{count(row.usage.output_tokens)}" }
                        td { class: "num",
                            "{usd(row.cost_usd)}"
                            if row.unpriced > 0 { span { class: "muted", title: "responses without a price", " +{row.unpriced} unpriced" } }
                        }
                    }
                }
            }
        }
    }
}
