//! `studio plugin install|update|list|enable|disable|rm|search` and
//! `studio plugin marketplace add|update|list|rm`: installed plugins and
//! marketplaces (`studio_client::plugin::store`), kept beside the data
//! dir; no daemon needed. An install says what the plugin brings and asks
//! for and asks before it goes in (`--yes` agrees ahead); an update says
//! what changed and asks again only when it asks for more. Without a
//! terminal and without `--yes`, nothing is installed.

use std::io::IsTerminal;

use clap::Subcommand;
use protocol::Timestamp;
use protocol::control::ControlRequest;
use serde_json::json;
use studio_client::gallery::short;
use studio_client::human::ago;
use studio_client::plugin::install::{Ready, Spec};
use studio_client::plugin::store::{Installed, Plugins, StoreError};

use super::output::{agreed, print_json, table};
use super::{CliError, Ctx};

/// `studio plugin marketplace`.
#[derive(Subcommand, Debug)]
pub(crate) enum MarketCommand {
    /// Add a marketplace: a git URL (https, ssh, git or file://) or a
    /// folder with .claude-plugin/marketplace.json; fetched now.
    Add {
        /// A git URL or a folder's path.
        #[arg(value_name = "URL|PATH", allow_hyphen_values = true)]
        url: String,
        /// Its name [default: the name its index gives].
        #[arg(long)]
        name: Option<String>,
    },
    /// Fetch a marketplace again (every one without NAME).
    Update {
        /// The marketplace.
        name: Option<String>,
    },
    /// List the marketplaces.
    List,
    /// Remove a marketplace (plugins installed from it stay).
    #[command(visible_alias = "rm")]
    Remove {
        /// The marketplace.
        name: String,
    },
}

/// `studio plugin env`.
#[derive(Subcommand, Debug)]
pub(crate) enum EnvCommand {
    /// Store the value of a variable the plugin declares: read from stdin
    /// when piped, else asked without echo; never an argument.
    Set {
        /// The installed plugin.
        plugin: String,
        /// The variable (as its studio-plugin.toml names it).
        variable: String,
    },
    /// Forget a stored value (every value of the plugin without VARIABLE).
    #[command(visible_alias = "rm")]
    Remove {
        /// The plugin.
        plugin: String,
        /// The variable.
        variable: Option<String>,
    },
}

impl From<StoreError> for CliError {
    fn from(err: StoreError) -> Self {
        let code = if err.is_invalid_input() {
            2
        } else if err.is_not_found() {
            4
        } else {
            1
        };
        CliError {
            message: err.to_string(),
            code,
        }
    }
}

/// Says what takes a while on stderr, unless the output is JSON.
fn progress(json: bool) -> impl Fn(&str) + Sync {
    move |text: &str| {
        if !json {
            errln!("{text}");
        }
    }
}

/// `studio plugin install SOURCE`.
pub(crate) async fn install(
    source: &str,
    git_ref: Option<&str>,
    yes: bool,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let plugins = Plugins::new(ctx.dir.layout());
    let spec = Spec::parse(source, git_ref)?;
    let ready = plugins.prepare_install(&spec, &progress(ctx.json)).await?;
    if !ctx.json {
        super::plugin_show::say(&ready.plugin);
        outln!();
        outln!("From {}, sha256 {}", ready.origin.describe(), ready.sha256);
    }
    let asks = ready.to_agree();
    let question = if asks.is_empty() {
        format!("Install {} and run its servers?", ready.plugin.name)
    } else {
        format!(
            "Install {}, allowing it to: {}?",
            ready.plugin.name,
            asks.join("; ")
        )
    };
    agree(&ready, &question, &asks, yes, ctx)?;
    let installed = plugins.commit(ready)?;
    if ctx.json {
        print_json(&json!({ "installed": installed }));
    } else {
        outln!(
            "installed {} {}",
            installed.name,
            installed.version.as_deref().unwrap_or("")
        );
    }
    ask_values(&installed, ctx).await
}

/// Asks the values of the variables `installed` declares, on a terminal;
/// else says how to store them.
async fn ask_values(installed: &Installed, ctx: &Ctx) -> Result<(), CliError> {
    let needs = &installed.granted.env;
    if needs.is_empty() {
        return Ok(());
    }
    if ctx.json || !std::io::stdin().is_terminal() {
        for need in needs {
            errln!(
                "{} needs {}{}: store it with `studio plugin env set {} {}` (the value on stdin)",
                installed.name,
                need.name,
                if need.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", need.description)
                },
                installed.name,
                need.name
            );
        }
        return Ok(());
    }
    let client = ctx.client().await?;
    for need in needs {
        let prompt = format!("{} ({}): ", need.name, need.description);
        let value = super::keys::read_secret(&prompt, "value")?;
        client
            .request(ControlRequest::PluginEnvSet {
                plugin: installed.name.clone(),
                name: need.name.clone(),
                value,
            })
            .await?;
    }
    Ok(())
}

/// `studio plugin env ...`.
pub(crate) async fn env(command: EnvCommand, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match command {
        EnvCommand::Set { plugin, variable } => {
            let value = super::keys::read_secret(&format!("{variable}: "), "value")?;
            client
                .request(ControlRequest::PluginEnvSet {
                    plugin: plugin.clone(),
                    name: variable.clone(),
                    value,
                })
                .await?;
            if ctx.json {
                print_json(&json!({ "plugin": plugin, "stored": variable }));
            } else {
                outln!("{plugin}: {variable} stored (new sessions get it)");
            }
        }
        EnvCommand::Remove { plugin, variable } => {
            client
                .request(ControlRequest::PluginEnvRemove {
                    plugin: plugin.clone(),
                    name: variable.clone(),
                })
                .await?;
            if ctx.json {
                print_json(&json!({ "plugin": plugin, "removed": variable }));
            } else {
                outln!(
                    "{plugin}: {} forgotten",
                    variable.as_deref().unwrap_or("every value")
                );
            }
        }
    }
    Ok(())
}

/// `studio plugin update [NAME]`.
pub(crate) async fn update(name: Option<&str>, yes: bool, ctx: &Ctx) -> Result<(), CliError> {
    let plugins = Plugins::new(ctx.dir.layout());
    let names: Vec<String> = match name {
        Some(name) => vec![name.to_owned()],
        None => plugins.installed()?.into_iter().map(|p| p.name).collect(),
    };
    if names.is_empty() && !ctx.json {
        outln!("no plugins are installed");
    }
    let mut reports = Vec::new();
    let mut failed = None;
    for name in &names {
        match update_one(&plugins, name, yes, ctx).await {
            Ok(report) => reports.push(report),
            Err(err) => {
                if names.len() > 1 {
                    errln!("studio: {name}: {}", err.message);
                    reports.push(json!({ "name": name, "error": err.message }));
                    failed.get_or_insert(err.code);
                } else {
                    return Err(err);
                }
            }
        }
    }
    if ctx.json {
        print_json(&json!(reports));
    }
    match failed {
        // Each failure is said above.
        Some(code) => Err(CliError {
            message: String::new(),
            code,
        }),
        None => Ok(()),
    }
}

async fn update_one(
    plugins: &Plugins,
    name: &str,
    yes: bool,
    ctx: &Ctx,
) -> Result<serde_json::Value, CliError> {
    let ready = plugins.prepare_update(name, &progress(ctx.json)).await?;
    let changes = ready.changes.clone().unwrap_or_default();
    if changes.same_files {
        if !ctx.json {
            outln!("{name}: no change");
        }
        return Ok(json!({ "name": name, "changed": false }));
    }
    if !ctx.json {
        outln!("{name}: what changed:");
        for line in &changes.lines {
            outln!("  {line}");
        }
    }
    if !changes.more.is_empty() {
        let question = format!(
            "Update {name}, allowing it also to: {}?",
            changes.more.join("; ")
        );
        agree(&ready, &question, &changes.more, yes, ctx)?;
    }
    let installed = plugins.commit(ready)?;
    if !ctx.json {
        outln!(
            "updated {name} to {}",
            installed.version.as_deref().unwrap_or("its latest files")
        );
    }
    Ok(json!({ "name": name, "changed": true, "changes": changes, "installed": installed }))
}

/// Asks `question` unless `yes`; refuses without a terminal.
fn agree(
    ready: &Ready,
    question: &str,
    asks: &[String],
    yes: bool,
    ctx: &Ctx,
) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let what = if ready.previous.is_some() {
        "updated"
    } else {
        "installed"
    };
    if ctx.json || !std::io::stdin().is_terminal() {
        let asked = if asks.is_empty() {
            String::new()
        } else {
            format!(" it asks to: {};", asks.join("; "))
        };
        return Err(CliError::invalid(format!(
            "{}:{asked} add --yes to agree (nothing was {what})",
            ready.plugin.name
        )));
    }
    if agreed(question)? {
        Ok(())
    } else {
        Err(CliError::msg(format!("nothing was {what}")))
    }
}

/// `studio plugin list`.
pub(crate) fn list(ctx: &Ctx) -> Result<(), CliError> {
    let all = Plugins::new(ctx.dir.layout()).installed()?;
    if ctx.json {
        print_json(&json!(all));
        return Ok(());
    }
    if all.is_empty() {
        outln!("no plugins are installed; find some with `studio plugin search`");
        return Ok(());
    }
    let now = Timestamp::now();
    let mut rows = table(&["NAME", "VERSION", "ENABLED", "SERVERS", "FROM", "UPDATED"]);
    for plugin in &all {
        rows.add_row(vec![
            plugin.name.clone(),
            plugin.version.clone().unwrap_or_default(),
            if plugin.enabled { "yes" } else { "no" }.to_owned(),
            plugin.servers.join(", "),
            plugin.origin.describe(),
            ago(plugin.updated, now),
        ]);
    }
    outln!("{rows}");
    Ok(())
}

/// `studio plugin enable|disable NAME`.
pub(crate) fn set_enabled(name: &str, enabled: bool, ctx: &Ctx) -> Result<(), CliError> {
    let now = Plugins::new(ctx.dir.layout()).set_enabled(name, enabled)?;
    say_record(&now, if enabled { "enabled" } else { "disabled" }, ctx);
    Ok(())
}

/// `studio plugin rm NAME`: its files and data, then its stored values
/// (asked of the daemon when the plugin declared any).
pub(crate) async fn remove(name: &str, ctx: &Ctx) -> Result<(), CliError> {
    let plugins = Plugins::new(ctx.dir.layout());
    // What the daemon may keep for it: values, and sign-ins of its HTTP
    // servers.
    let signs_in = plugins.read_installed(name).is_ok_and(|plugin| {
        plugin
            .servers
            .iter()
            .any(|s| matches!(s.transport, protocol::mcp::McpTransport::Http { .. }))
    });
    let gone = plugins.remove(name)?;
    say_record(&gone, "removed", ctx);
    if !gone.granted.env.is_empty() || signs_in {
        let client = ctx.client().await?;
        client
            .request(ControlRequest::PluginEnvRemove {
                plugin: gone.name.clone(),
                name: None,
            })
            .await?;
    }
    Ok(())
}

fn say_record(plugin: &Installed, done: &str, ctx: &Ctx) {
    if ctx.json {
        print_json(&json!({ done: plugin.name }));
    } else {
        outln!(
            "{} {done} (sessions that run keep what they started with)",
            plugin.name
        );
    }
}

/// `studio plugin search [QUERY]`.
pub(crate) fn search(query: &str, ctx: &Ctx) -> Result<(), CliError> {
    let found = Plugins::new(ctx.dir.layout()).search(query)?;
    if ctx.json {
        print_json(&json!(found));
        return Ok(());
    }
    if found.is_empty() {
        outln!("no plugin found; `studio plugin marketplace list` shows where it looked");
        return Ok(());
    }
    let mut rows = table(&["PLUGIN", "VERSION", "INSTALLED", "DESCRIPTION"]);
    for hit in &found {
        rows.add_row(vec![
            format!("{}@{}", hit.entry.name, hit.market),
            hit.entry.version.clone().unwrap_or_default(),
            hit.installed.clone().map_or_else(String::new, |v| {
                if v.is_empty() { "yes".to_owned() } else { v }
            }),
            hit.entry.description.clone(),
        ]);
    }
    outln!("{rows}");
    Ok(())
}

/// `studio plugin marketplace ...`.
pub(crate) async fn market(command: MarketCommand, ctx: &Ctx) -> Result<(), CliError> {
    let plugins = Plugins::new(ctx.dir.layout());
    let progress = progress(ctx.json);
    match command {
        MarketCommand::Add { url, name } => {
            let (record, index) = plugins.add_market(&url, name.as_deref(), &progress).await?;
            say_market("added", &record, &index, ctx);
        }
        MarketCommand::Update { name } => {
            let names: Vec<String> = match name {
                Some(name) => vec![name],
                None => plugins.markets()?.into_iter().map(|m| m.name).collect(),
            };
            for name in names {
                let (record, index) = plugins.update_market(&name, &progress).await?;
                say_market("updated", &record, &index, ctx);
            }
        }
        MarketCommand::List => {
            let all = plugins.markets()?;
            if ctx.json {
                print_json(&json!(all));
            } else if all.is_empty() {
                outln!("no marketplaces; add one with `studio plugin marketplace add URL|PATH`");
            } else {
                let now = Timestamp::now();
                let mut rows = table(&["NAME", "FROM", "COMMIT", "UPDATED"]);
                for record in &all {
                    rows.add_row(vec![
                        record.name.clone(),
                        record.url.clone(),
                        record
                            .commit
                            .as_deref()
                            .map(short)
                            .unwrap_or_default()
                            .to_owned(),
                        ago(record.updated, now),
                    ]);
                }
                outln!("{rows}");
            }
        }
        MarketCommand::Remove { name } => {
            let gone = plugins.remove_market(&name)?;
            if ctx.json {
                print_json(&json!({ "removed": gone.name }));
            } else {
                outln!("marketplace {name} removed (plugins installed from it stay)");
            }
        }
    }
    Ok(())
}

fn say_market(
    done: &str,
    record: &studio_client::plugin::store::MarketRecord,
    index: &studio_client::plugin::marketplace::Marketplace,
    ctx: &Ctx,
) {
    if ctx.json {
        let left_out: Vec<_> = index
            .left_out
            .iter()
            .map(|(what, why)| json!({ "what": what, "why": why }))
            .collect();
        print_json(&json!({
            "marketplace": record,
            "plugins": index.plugins,
            "left_out": left_out,
        }));
        return;
    }
    outln!(
        "marketplace {} {done}: {} plugin(s){}",
        record.name,
        index.plugins.len(),
        record
            .commit
            .as_deref()
            .map(|c| format!(" at {}", short(c)))
            .unwrap_or_default()
    );
    for (what, why) in &index.left_out {
        errln!("left out: {what}: {why}");
    }
}
