//! A plugin as it is published: a folder with a manifest in one of the
//! formats the ecosystem writes ([`manifest`]: Claude Code's
//! `.claude-plugin/plugin.json`, or an Agent Plugins 1.0.0 `plugin.json`),
//! and AI Studio's own `studio-plugin.toml` beside it ([`studio`]: what
//! its processes may do, its panels, templates and rules). [`read`] turns
//! the folder into a [`Plugin`]: its MCP servers as the daemon keeps them
//! (a bad entry left out with the reason, as the publishers' clients do),
//! the environment variables they refer to, its templates, and the
//! components AI Studio does not use, named. Every file is read through
//! the gallery's `read_inside_of`: inside the folder, no symlink on the
//! way, a size limit each.
//!
//! Installing: [`marketplace`] reads a marketplace's index, [`markets`]
//! fetches and searches marketplaces, [`install`] fetches and checks a
//! plugin into a [`install::Ready`] ([`tree`] copies and sums its files,
//! [`changes`] says what it asks for and what an update changes),
//! [`store`] keeps what is installed, and [`templates`] adds the templates
//! of the enabled ones to the gallery's.

pub mod changes;
pub mod install;
pub mod manifest;
pub mod marketplace;
pub mod markets;
pub mod sign_in;
pub mod store;
pub mod studio;
pub mod templates;
pub mod tree;

use std::path::{Path, PathBuf};

use protocol::mcp::McpServerConfig;
use serde_json::Value;

use crate::agent_file::AgentFile;
use crate::gallery::index::read_inside_of;
use manifest::{AgentPluginsManifest, ClaudeManifest, server_entries};
use studio::{STUDIO_FILE, StudioSection};

/// Claude Code's manifest, from the plugin's root.
pub const CLAUDE_MANIFEST: &str = ".claude-plugin/plugin.json";
/// Claude Code's default MCP servers file.
pub const CLAUDE_MCP_FILE: &str = ".mcp.json";
/// The Agent Plugins manifest, at the root.
pub const AGENT_PLUGINS_MANIFEST: &str = "plugin.json";
/// The Agent Plugins MCP servers file.
pub const AGENT_PLUGINS_MCP_FILE: &str = "mcp.json";
/// The largest manifest, MCP file or `studio-plugin.toml` read.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024;
/// The most MCP servers one plugin may bring.
pub const MAX_SERVERS: usize = 64;

/// What it is said in refusals.
const PLACE: &str = "the plugin";

/// Which published format a plugin's manifest is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.claude-plugin/plugin.json`.
    ClaudeCode,
    /// `plugin.json` with the Agent Plugins 1.0.0 `$schema`.
    AgentPlugins,
}

/// A plugin, read from its folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Plugin {
    /// Its name, as its manifest gives it.
    pub name: String,
    /// What to call it (its display name, else its name).
    pub title: String,
    /// Its version, if it gives one.
    pub version: Option<String>,
    /// What it does.
    pub description: String,
    /// Who made it.
    pub author: Option<String>,
    /// Its manifest's format.
    pub format: Format,
    /// Its MCP servers, placeholders for its folder filled in.
    pub servers: Vec<McpServerConfig>,
    /// What was left out (a server entry, a template), each with the reason.
    pub left_out: Vec<(String, String)>,
    /// Environment variables its servers' settings refer to (`${NAME}`):
    /// their values are asked of the user, never read from the manifest.
    pub env_refs: Vec<String>,
    /// `studio-plugin.toml`, or nothing granted when it has none.
    pub studio: StudioSection,
    /// Whether it has a `studio-plugin.toml`.
    pub has_studio_file: bool,
    /// The agent templates it brings.
    pub templates: Vec<AgentFile>,
    /// Components (or, in an Agent Plugins manifest, fields) its manifest
    /// declares that AI Studio does not use.
    pub unused: Vec<String>,
}

/// Why a folder is not a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No manifest of a known format.
    #[error(
        "{}: no plugin manifest ({CLAUDE_MANIFEST} or an Agent Plugins {AGENT_PLUGINS_MANIFEST})",
        path.display()
    )]
    NoManifest {
        /// The folder.
        path: PathBuf,
    },
    /// A manifest or `studio-plugin.toml` that cannot be used.
    #[error("{file}: {why}")]
    Bad {
        /// Which file.
        file: String,
        /// What is wrong.
        why: String,
    },
    /// The folder cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

fn bad(file: &str, why: impl Into<String>) -> PluginError {
    PluginError::Bad {
        file: file.to_owned(),
        why: why.into(),
    }
}

/// Reads the plugin in `root`; `data` is the folder its processes keep
/// their data in (`${CLAUDE_PLUGIN_DATA}`, `${PLUGIN_DATA}`).
pub fn read(root: &Path, data: &Path) -> Result<Plugin, PluginError> {
    read_from(root, None, data)
}

/// [`read`] from `root`, its placeholders filled as if it were at
/// `installed` (where a checked copy is about to go).
pub fn read_as(root: &Path, installed: &Path, data: &Path) -> Result<Plugin, PluginError> {
    read_from(root, Some(installed), data)
}

fn read_from(root: &Path, installed: Option<&Path>, data: &Path) -> Result<Plugin, PluginError> {
    let root = root.canonicalize().map_err(|source| PluginError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let shown = installed.map_or_else(|| root.clone(), Path::to_path_buf);
    let read = |rel: &str| read_inside_of(&root, rel, MAX_MANIFEST_BYTES, PLACE);
    let exists = |rel: &str| std::fs::symlink_metadata(root.join(rel)).is_ok();
    let places = Places {
        root: &root,
        shown: &shown,
        data,
    };
    let mut plugin = if exists(CLAUDE_MANIFEST) {
        let text = read(CLAUDE_MANIFEST).map_err(|why| bad(CLAUDE_MANIFEST, why))?;
        claude_plugin(&text, &places)?
    } else if exists(AGENT_PLUGINS_MANIFEST) {
        let text = read(AGENT_PLUGINS_MANIFEST).map_err(|why| bad(AGENT_PLUGINS_MANIFEST, why))?;
        agent_plugin(&text, &places)?
    } else {
        return Err(PluginError::NoManifest { path: root });
    };
    if exists(STUDIO_FILE) {
        let text = read(STUDIO_FILE).map_err(|why| bad(STUDIO_FILE, why))?;
        let text = String::from_utf8(text).map_err(|_| bad(STUDIO_FILE, "not UTF-8"))?;
        let section: StudioSection =
            toml::from_str(&text).map_err(|err| bad(STUDIO_FILE, one_line(&err)))?;
        section.check().map_err(|why| bad(STUDIO_FILE, why))?;
        plugin.has_studio_file = true;
        for path in &section.templates {
            match template(&root, path) {
                Ok(file) => plugin.templates.push(file),
                Err(why) => plugin.left_out.push((format!("template {path}"), why)),
            }
        }
        plugin.studio = section;
    }
    Ok(plugin)
}

/// Where the plugin's files are read from, and where its placeholders
/// point.
struct Places<'a> {
    root: &'a Path,
    shown: &'a Path,
    data: &'a Path,
}

impl Places<'_> {
    /// `value` with the plugin's placeholders filled in, in every string.
    fn fill(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => {
                let root = self.shown.display().to_string();
                let data = self.data.display().to_string();
                Value::String(
                    text.replace("${CLAUDE_PLUGIN_ROOT}", &root)
                        .replace("${PLUGIN_ROOT}", &root)
                        .replace("${CLAUDE_PLUGIN_DATA}", &data)
                        .replace("${PLUGIN_DATA}", &data),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill(v)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.fill(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// A Claude Code plugin from its manifest's text.
fn claude_plugin(text: &[u8], places: &Places) -> Result<Plugin, PluginError> {
    let manifest: ClaudeManifest =
        serde_json::from_slice(text).map_err(|err| bad(CLAUDE_MANIFEST, err.to_string()))?;
    check_kebab(&manifest.name).map_err(|why| bad(CLAUDE_MANIFEST, why))?;
    let mut entries = Vec::new();
    let mut left_out = Vec::new();
    // Servers declared in the manifest, then `.mcp.json`'s: Claude Code
    // takes both.
    let declared = match &manifest.mcp_servers {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
    };
    let mut files: Vec<String> = Vec::new();
    for item in declared {
        match item {
            Value::Object(_) => entries.extend(
                server_entries(&serde_json::json!({ "mcpServers": item }))
                    .map_err(|why| bad(CLAUDE_MANIFEST, format!("mcpServers: {why}")))?,
            ),
            Value::String(path) => files.push(path.trim_start_matches("./").to_owned()),
            _ => {
                return Err(bad(
                    CLAUDE_MANIFEST,
                    "mcpServers is not an object, path or list",
                ));
            }
        }
    }
    let default_file = std::fs::symlink_metadata(places.root.join(CLAUDE_MCP_FILE)).is_ok();
    if default_file && !files.iter().any(|f| f == CLAUDE_MCP_FILE) {
        files.push(CLAUDE_MCP_FILE.to_owned());
    }
    for file in files {
        match mcp_file(places.root, &file) {
            Ok(found) => entries.extend(found),
            Err(why) => left_out.push((file, why)),
        }
    }
    let (servers, env_refs) = servers(entries, places, &mut left_out)?;
    Ok(Plugin {
        title: manifest
            .display_name
            .clone()
            .unwrap_or_else(|| manifest.name.clone()),
        version: manifest.version.clone(),
        description: manifest.description.clone().unwrap_or_default(),
        author: manifest.author.as_ref().map(|a| a.name().to_owned()),
        format: Format::ClaudeCode,
        servers,
        left_out,
        env_refs,
        studio: StudioSection::default(),
        has_studio_file: false,
        templates: Vec::new(),
        unused: manifest.unused(),
        name: manifest.name,
    })
}

/// An Agent Plugins plugin from its manifest's text.
fn agent_plugin(text: &[u8], places: &Places) -> Result<Plugin, PluginError> {
    let doc: Value =
        serde_json::from_slice(text).map_err(|err| bad(AGENT_PLUGINS_MANIFEST, err.to_string()))?;
    if doc.get("$schema").is_none() {
        return Err(bad(
            AGENT_PLUGINS_MANIFEST,
            format!(
                "no $schema: an Agent Plugins manifest names {}",
                manifest::AGENT_PLUGINS_SCHEMA
            ),
        ));
    }
    let manifest: AgentPluginsManifest =
        serde_json::from_value(doc).map_err(|err| bad(AGENT_PLUGINS_MANIFEST, err.to_string()))?;
    manifest
        .check()
        .map_err(|why| bad(AGENT_PLUGINS_MANIFEST, why))?;
    let mut left_out = Vec::new();
    let mut entries = Vec::new();
    if std::fs::symlink_metadata(places.root.join(AGENT_PLUGINS_MCP_FILE)).is_ok() {
        match agent_plugins_mcp(places.root) {
            Ok(found) => entries = found,
            // Its MCP servers are off; the plugin is not refused.
            Err(why) => left_out.push((AGENT_PLUGINS_MCP_FILE.to_owned(), why)),
        }
    }
    let (servers, env_refs) = servers(entries, places, &mut left_out)?;
    Ok(Plugin {
        title: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone().unwrap_or_default(),
        author: manifest.author.as_ref().and_then(|a| a.name.clone()),
        format: Format::AgentPlugins,
        servers,
        left_out,
        env_refs,
        studio: StudioSection::default(),
        has_studio_file: false,
        templates: Vec::new(),
        unused: manifest.other.keys().cloned().collect(),
        name: manifest.name,
    })
}

/// The server entries of a Claude Code MCP file (flat or wrapped).
fn mcp_file(root: &Path, rel: &str) -> Result<Vec<(String, Value)>, String> {
    let text = read_inside_of(root, rel, MAX_MANIFEST_BYTES, PLACE)?;
    let doc: Value = serde_json::from_slice(&text).map_err(|err| err.to_string())?;
    server_entries(&doc)
}

/// The server entries of an Agent Plugins `mcp.json`: its `$schema`, then
/// `mcpServers` and nothing else; each entry names its `type`.
fn agent_plugins_mcp(root: &Path) -> Result<Vec<(String, Value)>, String> {
    let text = read_inside_of(root, AGENT_PLUGINS_MCP_FILE, MAX_MANIFEST_BYTES, PLACE)?;
    let doc: Value = serde_json::from_slice(&text).map_err(|err| err.to_string())?;
    let schema = doc.get("$schema").and_then(Value::as_str);
    if schema != Some(manifest::AGENT_PLUGINS_MCP_SCHEMA) {
        return Err(format!(
            "$schema {schema:?} is not {}",
            manifest::AGENT_PLUGINS_MCP_SCHEMA
        ));
    }
    if doc.get("mcpServers").is_none() {
        return Err("no mcpServers".to_owned());
    }
    let entries = server_entries(&doc)?;
    Ok(entries
        .into_iter()
        .map(|(name, mut entry)| {
            // "streamable-http" is the spec's name for what Claude calls "http".
            if entry.get("type").and_then(Value::as_str) == Some("streamable-http")
                && let Some(map) = entry.as_object_mut()
            {
                map.insert("type".to_owned(), Value::from("http"));
            }
            (name, entry)
        })
        .collect())
}

/// Each entry as a server the daemon keeps (a bad one left out), and the
/// environment variables they refer to.
fn servers(
    entries: Vec<(String, Value)>,
    places: &Places,
    left_out: &mut Vec<(String, String)>,
) -> Result<(Vec<McpServerConfig>, Vec<String>), PluginError> {
    if entries.len() > MAX_SERVERS {
        return Err(bad(
            "mcpServers",
            format!("{} servers, more than {MAX_SERVERS}", entries.len()),
        ));
    }
    let mut servers = Vec::new();
    let mut env_refs = Vec::new();
    for (name, entry) in entries {
        let filled = places.fill(&entry);
        for var in env_references(&filled) {
            if !env_refs.contains(&var) {
                env_refs.push(var);
            }
        }
        match crate::mcp_import::parse_entry(&name, &filled) {
            Ok(server)
                if servers
                    .iter()
                    .any(|s: &McpServerConfig| s.name == server.name) =>
            {
                left_out.push((format!("server {name}"), "declared twice".to_owned()));
            }
            Ok(server) => servers.push(server),
            Err(why) => left_out.push((format!("server {name}"), why)),
        }
    }
    Ok((servers, env_refs))
}

/// The `${NAME}` and `${NAME:-default}` a value's strings refer to.
fn env_references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else { break };
                let inner = &after[..end];
                let name = inner.split(":-").next().unwrap_or_default();
                let plain = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if plain {
                    found.push(name.to_owned());
                }
                rest = &after[end + 1..];
            }
        }
        Value::Array(items) => items.iter().for_each(|v| found.extend(env_references(v))),
        Value::Object(map) => map.values().for_each(|v| found.extend(env_references(v))),
        _ => {}
    }
    found
}

/// A template the plugin brings.
fn template(root: &Path, rel: &str) -> Result<AgentFile, String> {
    let text = read_inside_of(root, rel, crate::gallery::index::MAX_TEMPLATE_BYTES, PLACE)?;
    let text = String::from_utf8(text).map_err(|_| "not UTF-8".to_owned())?;
    let file = AgentFile::parse(&text)?;
    if file.template.is_none() {
        return Err("not a template (no [template] table)".to_owned());
    }
    Ok(file)
}

/// A Claude Code plugin name: kebab-case, 1 to 64 characters.
pub(crate) fn check_kebab(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "name {name:?}: use 1 to 64 of a-z, 0-9 and '-' (kebab-case)"
        ))
    }
}

/// A TOML error on one line.
fn one_line(err: &toml::de::Error) -> String {
    err.message().to_owned()
}

#[cfg(test)]
mod tests;
