//! Settings' Plugins section: the marketplaces added (add one by its git
//! URL or folder), the plugins each lists, "Review", which fetches and
//! checks one (`studio_client::plugin::install`) and says what it brings
//! and asks for, "Install", which agrees to that, and the installed
//! plugins (enable, disable, remove; the values a plugin needs stored as
//! secrets by the daemon; Sign in to its HTTP servers). It works on the plugins kept beside the data
//! dir as `studio plugin` does; a plugin's server never runs in the app.

use dioxus::prelude::*;
use studio_client::plugin::changes;
use studio_client::plugin::install::{Ready, Spec};
use studio_client::plugin::marketplace::Marketplace;
use studio_client::plugin::store::{Installed, MarketRecord, Plugins};

use crate::commands::Commands;
use crate::connection::{Command, Target};
use crate::fields::TextInput;

/// What the section shows, read again after each change.
#[derive(Clone, Debug, Default, PartialEq)]
struct Listing {
    markets: Vec<(MarketRecord, Result<Marketplace, String>)>,
    installed: Vec<Installed>,
    /// Each installed plugin's HTTP servers (they may sign in).
    http_servers: Vec<(String, Vec<String>)>,
    problem: Option<String>,
}

fn read(plugins: &Plugins) -> Listing {
    let mut listing = Listing::default();
    match plugins.markets() {
        Ok(markets) => {
            listing.markets = markets
                .into_iter()
                .map(|record| {
                    let index = plugins
                        .market_index(&record.name)
                        .map_err(|err| err.to_string());
                    (record, index)
                })
                .collect();
        }
        Err(err) => listing.problem = Some(err.to_string()),
    }
    match plugins.installed() {
        Ok(installed) => listing.installed = installed,
        Err(err) => listing.problem = Some(err.to_string()),
    }
    listing.http_servers = listing
        .installed
        .iter()
        .map(|installed| {
            let http = plugins
                .read_installed(&installed.name)
                .map(|plugin| {
                    plugin
                        .servers
                        .into_iter()
                        .filter(|s| installed.servers.contains(&s.name))
                        .filter(|s| matches!(s.transport, protocol::mcp::McpTransport::Http { .. }))
                        .map(|s| s.name)
                        .collect()
                })
                .unwrap_or_default();
            (installed.name.clone(), http)
        })
        .collect();
    listing
}

/// The section.
#[component]
pub fn PluginsSection() -> Element {
    let target = try_use_context::<Target>();
    let plugins = target.map(|target| Plugins::new(&target.layout));
    let source = plugins.clone();
    let mut listing = use_signal(move || source.as_ref().map(read).unwrap_or_default());
    let mut url = use_signal(String::new);
    let mut busy = use_signal(|| None::<String>);
    let mut problem = use_signal(|| None::<String>);
    let review = use_signal(|| None::<Ready>);
    let Some(plugins) = plugins else {
        return rsx! {
            section { id: "settings-plugins", h3 { "Plugins" }
                p { class: "empty", "Plugins show once the app knows its data dir." }
            }
        };
    };
    let adding = plugins.clone();
    let add = move |_| {
        let plugins = adding.clone();
        let target = url.read().trim().to_owned();
        if target.is_empty() {
            return;
        }
        spawn(async move {
            busy.set(Some(format!("Fetching {target}…")));
            problem.set(None);
            match plugins.add_market(&target, None, &|_| {}).await {
                Ok(_) => url.set(String::new()),
                Err(err) => problem.set(Some(err.to_string())),
            }
            listing.set(read(&plugins));
            busy.set(None);
        });
    };
    let shown = listing.read().clone();
    rsx! {
        section { id: "settings-plugins",
            h3 { "Plugins" }
            p { class: "muted",
                "Plugins bring MCP servers (each in a sandbox of what you grant it), templates and rules. An agent uses one by naming "
                code { "plugin:NAME" } " among its MCP servers." }
            div { class: "add-market",
                TextInput { name: "market_url", value: url(), placeholder: "git URL or folder of a marketplace",
                    oninput: move |text| url.set(text) }
                button { r#type: "button", disabled: busy.read().is_some(), onclick: add, "Add marketplace" }
            }
            if let Some(doing) = busy.read().as_ref() {
                p { class: "muted", role: "status", "{doing}" }
            }
            for why in problem.read().iter().chain(shown.problem.iter()) {
                p { class: "problem", role: "alert", "{why}" }
            }
            ReviewPanel { review, plugins: plugins.clone(), listing, problem }
            for (record, index) in shown.markets.iter() {
                MarketView { key: "{record.name}", record: record.clone(), index: index.clone(),
                    installed: shown.installed.clone(), plugins: plugins.clone(), review, busy, problem }
            }
            h4 { "Installed" }
            if shown.installed.is_empty() {
                p { class: "empty", "No plugin is installed." }
            }
            for plugin in shown.installed.iter() {
                InstalledView { key: "{plugin.name}", plugin: plugin.clone(), plugins: plugins.clone(), listing, problem,
                    http_servers: listing.read().http_servers.iter().find(|(name, _)| *name == plugin.name).map(|(_, http)| http.clone()).unwrap_or_default() }
            }
        }
    }
}

/// One marketplace and the plugins it lists.
#[component]
fn MarketView(
    record: MarketRecord,
    index: Result<Marketplace, String>,
    installed: Vec<Installed>,
    plugins: Plugins,
    review: Signal<Option<Ready>>,
    busy: Signal<Option<String>>,
    problem: Signal<Option<String>>,
) -> Element {
    let market = record.name.clone();
    rsx! {
        div { class: "market", "data-market": "{market}",
            h4 { "{market} " span { class: "muted", "{record.url}" } }
            match index {
                Err(why) => rsx! { p { class: "problem", role: "alert", "{why}" } },
                Ok(index) => rsx! {
                    ul { class: "market-plugins",
                        for entry in index.plugins {
                            li { key: "{entry.name}", "data-plugin": "{entry.name}",
                                strong { "{entry.name}" }
                                " {entry.version.clone().unwrap_or_default()} "
                                span { class: "muted", "{entry.description}" }
                                if installed.iter().any(|p| p.name == entry.name) {
                                    span { class: "muted", " (installed)" }
                                } else {
                                    button { r#type: "button", disabled: busy.read().is_some(),
                                        onclick: {
                                            let plugins = plugins.clone();
                                            let name = entry.name.clone();
                                            let market = market.clone();
                                            move |_| {
                                                let plugins = plugins.clone();
                                                let spec = Spec::Listed { name: name.clone(), market: Some(market.clone()) };
                                                let label = format!("Fetching {name}…");
                                                spawn(async move {
                                                    busy.set(Some(label));
                                                    problem.set(None);
                                                    match plugins.prepare_install(&spec, &|_| {}).await {
                                                        Ok(ready) => review.set(Some(ready)),
                                                        Err(err) => problem.set(Some(err.to_string())),
                                                    }
                                                    busy.set(None);
                                                });
                                            }
                                        },
                                        "Review"
                                    }
                                }
                            }
                        }
                    }
                    for (what, why) in index.left_out.iter() {
                        p { class: "muted", "Left out: {what}: {why}" }
                    }
                },
            }
        }
    }
}

/// What a reviewed plugin brings and asks for, with Install and Cancel.
#[component]
fn ReviewPanel(
    review: Signal<Option<Ready>>,
    plugins: Plugins,
    listing: Signal<Listing>,
    problem: Signal<Option<String>>,
) -> Element {
    let shown = review.read();
    let Some(ready) = shown.as_ref() else {
        return rsx! {};
    };
    let plugin = &ready.plugin;
    let asks = changes::asks(&plugin.studio.permissions);
    let needs = !plugin.studio.permissions.env.is_empty();
    let version = plugin.version.clone().unwrap_or_default();
    rsx! {
        div { class: "card plugin-review", role: "dialog", aria_label: "Review {plugin.name}",
            h4 { "{plugin.title} {version}" }
            p { "{plugin.description}" }
            p { class: "muted", "From {ready.origin.describe()}" }
            p { class: "muted", "Its files' sha256: " code { "{ready.sha256}" } }
            h5 { "Its servers run" }
            ul {
                for server in plugin.servers.iter() {
                    li { code { "{server.name}" } ": {server.describe()}" }
                }
            }
            h5 { "It asks to" }
            if asks.is_empty() {
                p { class: "asks", "Nothing beyond its own folder: no paths, no network, no shell." }
            } else {
                ul { class: "asks", for ask in asks.iter() { li { "{ask}" } } }
            }
            if needs {
                p { class: "muted", "Once it is installed, store the values it needs in its row below." }
            }
            if !plugin.unused.is_empty() {
                p { class: "muted", "Not used here: {plugin.unused.join(\", \")}" }
            }
            button { r#type: "button", class: "install",
                onclick: move |_| {
                    let Some(ready) = review.write().take() else { return };
                    if let Err(err) = plugins.commit(ready) {
                        problem.set(Some(err.to_string()));
                    }
                    listing.set(read(&plugins));
                },
                "Install"
            }
            button { r#type: "button", onclick: move |_| review.set(None), "Cancel" }
        }
    }
}

/// One installed plugin: enable or disable it, remove it, store the
/// values it needs, sign in to its HTTP servers (`http_servers`).
#[component]
fn InstalledView(
    plugin: Installed,
    plugins: Plugins,
    listing: Signal<Listing>,
    problem: Signal<Option<String>>,
    http_servers: Vec<String>,
) -> Element {
    let commands = use_context::<Commands>();
    let name = plugin.name.clone();
    let enabled = plugin.enabled;
    let toggle = {
        let plugins = plugins.clone();
        let name = name.clone();
        move |_| {
            if let Err(err) = plugins.set_enabled(&name, !enabled) {
                problem.set(Some(err.to_string()));
            }
            listing.set(read(&plugins));
        }
    };
    let remove = {
        let plugins = plugins.clone();
        let name = name.clone();
        move |_| {
            match plugins.remove(&name) {
                // Its values and sign-ins, if the daemon keeps any.
                Ok(_) => commands.send(Command::ForgetPluginValues(name.clone())),
                Err(err) => problem.set(Some(err.to_string())),
            }
            listing.set(read(&plugins));
        }
    };
    let version = plugin.version.clone().unwrap_or_default();
    let state = if enabled { "enabled" } else { "disabled" };
    rsx! {
        div { class: "installed-plugin", "data-plugin": "{name}", "data-enabled": "{enabled}",
            strong { "{plugin.title}" }
            if plugin.title != name {
                span { class: "muted", "({name})" }
            }
            span { "{version}" }
            span { class: "muted", "{state}, from {plugin.origin.describe()}" }
            button { r#type: "button", onclick: toggle, if enabled { "Disable" } else { "Enable" } }
            button { r#type: "button", class: "danger", onclick: remove, "Remove" }
            for need in plugin.granted.env.iter() {
                ValueField { key: "{need.name}", plugin: name.clone(), variable: need.name.clone() }
            }
            for server in http_servers {
                super::mcp::PluginSignIn { key: "{server}", sign_in: protocol::plugin::sign_in_name(&name, &server), server }
            }
        }
    }
}

/// A value a plugin needs: typed, sent to the daemon, never shown again.
#[component]
fn ValueField(plugin: String, variable: String) -> Element {
    let commands = use_context::<Commands>();
    let mut value = use_signal(String::new);
    let mut stored = use_signal(|| false);
    let field = format!("plugin_value_{plugin}_{variable}");
    rsx! {
        div { class: "plugin-value",
            label { "{variable} "
                TextInput { name: "{field}", r#type: "password", value: value(),
                    oninput: move |text| { value.set(text); stored.set(false); } }
            }
            button { r#type: "button",
                onclick: move |_| {
                    let text = value.read().trim().to_owned();
                    if text.is_empty() {
                        return;
                    }
                    commands.send(Command::SetPluginValue {
                        plugin: plugin.clone(),
                        name: variable.clone(),
                        value: protocol::Secret::new(text),
                    });
                    value.set(String::new());
                    stored.set(true);
                },
                "Store"
            }
            if stored() {
                span { class: "muted", role: "status", " stored" }
            }
        }
    }
}
