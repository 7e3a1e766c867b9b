//! `studio plugin`: plugins as published (`studio_client::plugin`).
//! `studio plugin check PATH` reads a plugin's folder, as an install will,
//! and says what it brings (MCP servers, templates, rules, panels), what
//! its processes would be allowed (paths, network, shell), the
//! environment variables it needs, and what it declares that AI Studio
//! does not use or had to leave out, and the checksum of its files;
//! nothing is installed. Installing, updating and the marketplaces are in
//! `plugin_store`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use studio_client::plugin::{self, PluginError, tree};

use super::output::print_json;
use super::plugin_show::{as_json, say};
use super::plugin_store::{self, EnvCommand, MarketCommand};
use super::{CliError, Ctx};

/// `studio plugin`.
#[derive(Subcommand, Debug)]
pub(crate) enum PluginCommand {
    /// Read a plugin's folder (a Claude Code or Agent Plugins manifest, and
    /// AI Studio's studio-plugin.toml) and say what it brings and asks
    /// for; installs nothing.
    Check {
        /// The plugin's folder.
        path: PathBuf,
    },
    /// Install a plugin: NAME or NAME@MARKETPLACE (a marketplace's
    /// plugin), a folder (a path with a '/'), or a git URL. Says what it
    /// brings and asks for, and asks before it goes in.
    Install {
        /// NAME[@MARKETPLACE], a folder or a git URL.
        #[arg(value_name = "SOURCE", allow_hyphen_values = true)]
        source: String,
        /// The branch or tag of a git URL.
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// Agree to what it asks for without being asked.
        #[arg(long, short)]
        yes: bool,
    },
    /// Fetch an installed plugin again (every one without NAME) and say
    /// what changed; asks again when it asks for more than was granted.
    Update {
        /// The plugin.
        name: Option<String>,
        /// Agree to what it asks for without being asked.
        #[arg(long, short)]
        yes: bool,
    },
    /// List the installed plugins.
    List,
    /// Let new sessions have an installed plugin again.
    Enable {
        /// The plugin.
        name: String,
    },
    /// Keep an installed plugin from new sessions (running ones keep it).
    Disable {
        /// The plugin.
        name: String,
    },
    /// Remove an installed plugin, its files and its data.
    #[command(visible_alias = "rm")]
    Remove {
        /// The plugin.
        name: String,
    },
    /// Find plugins in the marketplaces (by name, description, keywords).
    Search {
        /// What to look for [default: list every plugin].
        query: Option<String>,
    },
    /// The marketplaces plugins are installed from.
    #[command(subcommand)]
    Marketplace(MarketCommand),
    /// The values of the environment variables a plugin declares it
    /// needs, kept as secrets by the daemon.
    #[command(subcommand)]
    Env(EnvCommand),
}

impl From<PluginError> for CliError {
    fn from(err: PluginError) -> Self {
        let code = match err {
            PluginError::Io { .. } => 1,
            PluginError::NoManifest { .. } | PluginError::Bad { .. } => 2,
        };
        CliError {
            message: err.to_string(),
            code,
        }
    }
}

pub(crate) async fn execute(command: PluginCommand, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        PluginCommand::Check { path } => {
            let data = ctx.dir.root().join("plugins-data").join("unchecked");
            let found = plugin::read(&path, &data)?;
            if ctx.json {
                let mut doc = as_json(&found);
                doc["sha256"] = json!(tree::digest(&path).map_err(CliError::invalid)?);
                print_json(&doc);
            } else {
                say(&found);
                match tree::digest(&path) {
                    Ok(sum) => outln!("Its files' sha256 (a marketplace's \"sha256\"): {sum}"),
                    Err(why) => errln!("it cannot be installed: {why}"),
                }
            }
            Ok(())
        }
        PluginCommand::Install {
            source,
            git_ref,
            yes,
        } => plugin_store::install(&source, git_ref.as_deref(), yes, ctx).await,
        PluginCommand::Update { name, yes } => {
            plugin_store::update(name.as_deref(), yes, ctx).await
        }
        PluginCommand::List => plugin_store::list(ctx),
        PluginCommand::Enable { name } => plugin_store::set_enabled(&name, true, ctx),
        PluginCommand::Disable { name } => plugin_store::set_enabled(&name, false, ctx),
        PluginCommand::Remove { name } => plugin_store::remove(&name, ctx).await,
        PluginCommand::Search { query } => {
            plugin_store::search(query.as_deref().unwrap_or(""), ctx)
        }
        PluginCommand::Marketplace(command) => plugin_store::market(command, ctx).await,
        PluginCommand::Env(command) => plugin_store::env(command, ctx).await,
    }
}
