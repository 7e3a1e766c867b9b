//! AI Studio's own part of a plugin, `studio-plugin.toml` beside its
//! manifest: what the published formats lack. What the plugin's
//! processes may do (paths to read and write, the network, shell
//! commands, the environment variables it needs, whose values are asked
//! of the user and kept as secrets), its UI panels (MCP Apps resources of
//! its servers), and the agent templates and approval rules it brings.
//! Without the file a plugin gets nothing beyond its own folder: no
//! network, no paths, no shell.
//!
//! ```toml
//! format = 1
//! templates = ["templates/triager.toml"]
//!
//! [permissions]
//! read = ["~/notes"]
//! write = []
//! network = ["tracker.example.com"]   # or "off" (the default), or "on"
//! shell = false
//!
//! [[permissions.env]]
//! name = "TRACKER_TOKEN"
//! description = "An API token of your tracker account"
//!
//! [[panels]]
//! server = "tracker"
//! resource = "ui://tracker/issues"
//! title = "Issues"
//!
//! [[rules]]
//! matches = "tracker.list_issues"
//! decision = "allow"
//! ```

use serde::{Deserialize, Serialize};

use crate::agent_file::FileRule;

/// The file's name, beside the manifest at the plugin's root.
pub const STUDIO_FILE: &str = "studio-plugin.toml";
/// The version of the file this release reads.
pub const STUDIO_FORMAT: u32 = 1;

/// `studio-plugin.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudioSection {
    /// [`STUDIO_FORMAT`].
    pub format: u32,
    /// What its processes may do.
    #[serde(default)]
    pub permissions: Permissions,
    /// Its panels.
    #[serde(default)]
    pub panels: Vec<Panel>,
    /// Agent templates it brings: paths of template files in the plugin.
    #[serde(default)]
    pub templates: Vec<String>,
    /// Approval rules it brings (for its own tools, typically).
    #[serde(default)]
    pub rules: Vec<FileRule>,
}

/// What a plugin's processes may do; nothing by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// Paths they may read (`~` is the user's home).
    #[serde(default)]
    pub read: Vec<String>,
    /// Paths they may write.
    #[serde(default)]
    pub write: Vec<String>,
    /// The network they may reach (none when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Whether they may run shell commands.
    #[serde(default)]
    pub shell: bool,
    /// Environment variables they need.
    #[serde(default)]
    pub env: Vec<EnvNeed>,
}

/// The network a plugin's processes may reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "network = \"off\", \"on\" or a list of host names"
)]
pub enum Network {
    /// `"off"` or `"on"`.
    Switch(NetworkSwitch),
    /// These hosts only (`*.example.com` for its subdomains).
    Hosts(Vec<String>),
}

/// `network = "off"` or `"on"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkSwitch {
    /// No network.
    Off,
    /// Any host.
    On,
}

impl Permissions {
    /// Whether no host may be reached.
    pub fn network_is_off(&self) -> bool {
        match &self.network {
            None | Some(Network::Switch(NetworkSwitch::Off)) => true,
            Some(Network::Hosts(hosts)) => hosts.is_empty(),
            Some(Network::Switch(NetworkSwitch::On)) => false,
        }
    }
}

/// An environment variable a plugin needs; its value is asked of the
/// user and kept as a secret, never in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvNeed {
    /// Its name (`[A-Z_][A-Z0-9_]*`).
    pub name: String,
    /// What to put there, for the person asked.
    #[serde(default)]
    pub description: String,
}

/// A panel: an MCP Apps UI resource of one of the plugin's servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// The plugin's server that serves it.
    pub server: String,
    /// Its `ui://` resource.
    pub resource: String,
    /// Its title.
    pub title: String,
}

impl StudioSection {
    /// Checks what serde cannot: the format, names and forms.
    pub fn check(&self) -> Result<(), String> {
        if self.format != STUDIO_FORMAT {
            return Err(format!(
                "{STUDIO_FILE}: format {} is not {STUDIO_FORMAT}",
                self.format
            ));
        }
        for need in &self.permissions.env {
            let plain = need
                .name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && need
                    .name
                    .starts_with(|c: char| c.is_ascii_uppercase() || c == '_');
            if !plain {
                return Err(format!(
                    "{STUDIO_FILE}: environment variable {:?}: use A-Z, 0-9 and '_'",
                    need.name
                ));
            }
        }
        if let Some(Network::Hosts(hosts)) = &self.permissions.network
            && let Some(bad) = hosts.iter().find(|host| !is_host_pattern(host))
        {
            return Err(format!(
                "{STUDIO_FILE}: network host {bad:?} is not a host name (or *.domain)"
            ));
        }
        for path in self.permissions.read.iter().chain(&self.permissions.write) {
            if !(path.starts_with('/') || path == "~" || path.starts_with("~/")) {
                return Err(format!(
                    "{STUDIO_FILE}: path {path:?} must be absolute or start with ~/"
                ));
            }
        }
        for panel in &self.panels {
            if !panel.resource.starts_with("ui://") {
                return Err(format!(
                    "{STUDIO_FILE}: panel {:?}: its resource must be a ui:// URI",
                    panel.title
                ));
            }
        }
        for rule in &self.rules {
            rule.rule_match()?;
        }
        Ok(())
    }
}

/// `example.com`, `api.example.com` or `*.example.com`.
fn is_host_pattern(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
