//! The manifests plugins are published with, read as their publishers
//! write them:
//!
//! - Claude Code's `.claude-plugin/plugin.json` (only `name` is required;
//!   unknown fields are kept aside, as Claude Code warns and loads), with
//!   its MCP servers inline (`mcpServers` as an object), in a file it names
//!   (`"mcpServers": "./x.json"`), or in `.mcp.json` at the plugin's root,
//!   wrapped (`{"mcpServers": {...}}`) or flat (`{"name": {...}}`);
//! - the vendor-neutral Agent Plugins 1.0.0 `plugin.json` at the root, with
//!   its required `$schema` ([`AGENT_PLUGINS_SCHEMA`]), a closed set of
//!   fields, and its servers in `mcp.json`.
//!
//! Fields read from Claude Code's manifest: `name`, `displayName`,
//! `version`, `description`, `author` (an object with `name`, or a
//! string), `homepage`, `repository`, `license`, `keywords`, `mcpServers`.
//! Its other components (`commands`, `agents`, `skills`, `hooks`,
//! `outputStyles`, `lspServers`, ...) are named in
//! [`ClaudeManifest::unused`] so an install can say they are not used here.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The `$schema` of an Agent Plugins 1.0.0 manifest.
pub const AGENT_PLUGINS_SCHEMA: &str = "https://agent-plugins.org/schemas/1.0.0/plugin.schema.json";
/// The `$schema` of an Agent Plugins 1.0.0 `mcp.json`.
pub const AGENT_PLUGINS_MCP_SCHEMA: &str =
    "https://agent-plugins.org/schemas/1.0.0/mcp.schema.json";

/// Claude Code's manifest, as far as it is read here.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaudeManifest {
    /// The plugin's name (kebab-case); the one required field.
    pub name: String,
    /// A name for people.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its version (semver by convention; `latest` is seen too).
    #[serde(default)]
    pub version: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub author: Option<Author>,
    /// Its home page.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Its source repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// Its licence (SPDX).
    #[serde(default)]
    pub license: Option<String>,
    /// Words to find it by.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// MCP servers: inline, a `./` path to a JSON file, or a list of either.
    #[serde(default)]
    pub mcp_servers: Option<Value>,
    /// Every other field, kept to be named.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Components of a Claude Code plugin that AI Studio does not use.
const UNUSED_COMPONENTS: [&str; 9] = [
    "commands",
    "agents",
    "skills",
    "hooks",
    "outputStyles",
    "lspServers",
    "workflows",
    "experimental",
    "channels",
];

impl ClaudeManifest {
    /// The components the manifest declares that are not used here.
    pub fn unused(&self) -> Vec<String> {
        UNUSED_COMPONENTS
            .iter()
            .filter(|name| self.other.contains_key(**name))
            .map(|name| (*name).to_owned())
            .collect()
    }
}

/// A plugin's author: `{"name": ..., "email": ..., "url": ...}` or a string.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Author {
    /// The object form.
    Person {
        /// Their name.
        name: String,
        /// Their address.
        #[serde(default)]
        email: Option<String>,
        /// Their page.
        #[serde(default)]
        url: Option<String>,
    },
    /// A bare name.
    Name(String),
}

impl Author {
    /// The author's name.
    pub fn name(&self) -> &str {
        match self {
            Author::Person { name, .. } | Author::Name(name) => name,
        }
    }
}

/// An Agent Plugins 1.0.0 manifest: a closed set of fields (another is
/// reported and ignored, as the specification says).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AgentPluginsManifest {
    /// Must be [`AGENT_PLUGINS_SCHEMA`].
    #[serde(rename = "$schema")]
    pub schema: String,
    /// `[a-z0-9.-]`, 1 to 64 characters.
    pub name: String,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub author: Option<AgentPluginsAuthor>,
    /// Its home page.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Its source repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// Its licence.
    #[serde(default)]
    pub license: Option<String>,
    /// Words to find it by.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Clients' own sections.
    #[serde(default)]
    pub extensions: Option<Value>,
    /// Fields the specification does not have, kept to be named.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An Agent Plugins author.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPluginsAuthor {
    /// Their name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their address.
    #[serde(default)]
    pub email: Option<String>,
    /// Their page.
    #[serde(default)]
    pub url: Option<String>,
}

impl AgentPluginsManifest {
    /// Checks what serde cannot: the schema's version and the name's form.
    pub fn check(&self) -> Result<(), String> {
        if self.schema != AGENT_PLUGINS_SCHEMA {
            return Err(format!(
                "$schema {:?} is not Agent Plugins 1.0.0 ({AGENT_PLUGINS_SCHEMA})",
                self.schema
            ));
        }
        let name = &self.name;
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !name.contains("--")
            && !name.contains("..");
        if !plain {
            return Err(format!(
                "name {name:?}: 1 to 64 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
            ));
        }
        Ok(())
    }
}

/// The server entries of an MCP servers document, sorted by name:
/// `{"mcpServers": {...}}` when it has that object,
/// else every object at the top (Claude Code's flat `.mcp.json`; other
/// values, such as a `_comment`, are skipped).
pub fn server_entries(doc: &Value) -> Result<Vec<(String, Value)>, String> {
    let top = doc.as_object().ok_or("not a JSON object")?;
    let servers = match top.get("mcpServers") {
        Some(Value::Object(servers)) => servers,
        Some(_) => return Err("\"mcpServers\" is not an object".to_owned()),
        None => top,
    };
    Ok(servers
        .iter()
        .filter(|(_, entry)| entry.is_object())
        .map(|(name, entry)| (name.clone(), entry.clone()))
        .collect())
}
