//! Installed plugins, outside the data dir (`Layout::plugins`), since
//! their servers' sandboxes read their files:
//!
//! ```text
//! PLUGINS/               0700
//!   installed.toml       0600  each plugin: name, version, where it came
//!                              from (and the commit), the checksum of its
//!                              files, enabled or not, the permissions
//!                              granted, when installed and updated
//!   marketplaces.toml    0600  each marketplace: name, URL or folder,
//!                              commit, when added and updated
//!   NAME/                      a plugin's files, as checked (pinned: they
//!                              change only by `update`)
//!   .data/NAME/                what its processes keep
//!   .markets/NAME/             a marketplace's files, as fetched
//!   .lock                      held while anything here changes
//! ```
//!
//! An install or update is fetched and checked in a scratch folder
//! ([`super::install`]) and committed by `Plugins::commit` there, in one
//! exchange of folders, so a refused one leaves nothing behind.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use protocol::Timestamp;
use protocol::layout::Layout;
use serde::{Deserialize, Serialize};

use super::marketplace::PluginSource;
use super::studio::Permissions;
use super::{Format, Plugin, PluginError};
use crate::gallery::fetch::FetchError;
use crate::gallery::fetch::SourceKind;
use crate::private_files::{self, FileError, Scratch};

const INSTALLED_FILE: &str = "installed.toml";
const MARKETS_FILE: &str = "marketplaces.toml";

/// Where an installed plugin came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// A folder on this machine.
    Folder {
        /// The folder (canonical).
        path: String,
    },
    /// A git repository.
    Git {
        /// Its URL.
        url: String,
        /// The branch or tag asked for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        git_ref: Option<String>,
        /// The commit installed.
        commit: String,
    },
    /// A marketplace's entry.
    Marketplace {
        /// The marketplace's name.
        market: String,
        /// The entry's source.
        source: PluginSource,
        /// The commit installed: the marketplace's, or the entry's own
        /// repository's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
}

impl Origin {
    /// Where it came from, for people.
    pub fn describe(&self) -> String {
        match self {
            Origin::Folder { path } => path.clone(),
            Origin::Git {
                url,
                git_ref,
                commit,
            } => match git_ref {
                Some(git_ref) => format!(
                    "{url} ({git_ref}) at {}",
                    crate::gallery::fetch::short(commit)
                ),
                None => format!("{url} at {}", crate::gallery::fetch::short(commit)),
            },
            Origin::Marketplace {
                market,
                source,
                commit,
            } => {
                let at = commit
                    .as_deref()
                    .map(|c| format!(" at {}", crate::gallery::fetch::short(c)))
                    .unwrap_or_default();
                format!("marketplace {market}: {}{at}", source.describe())
            }
        }
    }
}

/// An installed plugin, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installed {
    /// Its name.
    pub name: String,
    /// What to call it.
    pub title: String,
    /// Its version, if it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `claude-code` or `agent-plugins`.
    pub format: String,
    /// Where it came from.
    pub origin: Origin,
    /// The checksum of its files ([`super::tree::digest`]).
    pub sha256: String,
    /// Whether new sessions get it.
    pub enabled: bool,
    /// What its processes were allowed when it was installed or updated.
    pub granted: Permissions,
    /// Its MCP servers, by name.
    #[serde(default)]
    pub servers: Vec<String>,
    /// When it was installed.
    pub installed: Timestamp,
    /// When its files last changed.
    pub updated: Timestamp,
}

/// A marketplace, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketRecord {
    /// Its name (its index's, or the one given).
    pub name: String,
    /// The git URL or the folder.
    pub url: String,
    /// Git or folder.
    pub kind: SourceKind,
    /// When it was added.
    pub added: Timestamp,
    /// When it was last fetched.
    pub updated: Timestamp,
    /// The commit fetched (git only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstalledFile {
    #[serde(default)]
    plugins: Vec<Installed>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketsFile {
    #[serde(default)]
    marketplaces: Vec<MarketRecord>,
}

/// Why a plugin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// What was asked for cannot be understood.
    #[error("{0}")]
    BadSpec(String),
    /// Where it is cannot be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The plugin's folder is not a usable plugin.
    #[error("{0}; nothing was installed")]
    Plugin(#[from] PluginError),
    /// The plugin or marketplace breaks a rule (its files, its checksum,
    /// its name); nothing was installed or changed.
    #[error("{what} is refused: {why}; nothing was installed")]
    Refused {
        /// Which plugin or marketplace.
        what: String,
        /// Why.
        why: String,
    },
    /// No installed plugin of that name.
    #[error("no plugin {0:?} is installed (studio plugin list shows what is)")]
    NotInstalled(String),
    /// A plugin of that name is installed.
    #[error("plugin {0:?} is already installed (studio plugin update {0} fetches it again)")]
    AlreadyInstalled(String),
    /// No marketplace of that name.
    #[error("no marketplace {0:?} (studio plugin marketplace list shows them)")]
    NoMarket(String),
    /// A marketplace of that name exists.
    #[error(
        "there is already a marketplace named {0:?} (remove it, or choose another with --name)"
    )]
    MarketTaken(String),
    /// No marketplace lists that plugin.
    #[error("no marketplace lists a plugin {name:?}{}", known_list(known))]
    NotListed {
        /// The name asked for.
        name: String,
        /// The `NAME@MARKET`s there are.
        known: Vec<String>,
    },
    /// More than one marketplace lists it.
    #[error("{name:?} is in more than one marketplace: say which, {}", spellings.join(" or "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// Each `NAME@MARKET`.
        spellings: Vec<String>,
    },
    /// A list file does not read.
    #[error("{}: {reason}", path.display())]
    BadRecords {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file or folder could not be read or written.
    #[error(transparent)]
    Io(#[from] FileError),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (add a marketplace with studio plugin marketplace add URL)".to_owned()
    } else {
        format!("; there are: {}", known.join(", "))
    }
}

impl StoreError {
    /// Whether what was given is at fault (a name, a source, the plugin).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            StoreError::BadSpec(_)
                | StoreError::Fetch(FetchError::BadUrl(_))
                | StoreError::Plugin(_)
                | StoreError::Refused { .. }
                | StoreError::AlreadyInstalled(_)
                | StoreError::MarketTaken(_)
                | StoreError::Ambiguous { .. }
        )
    }

    /// Whether something asked for is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::NotInstalled(_) | StoreError::NoMarket(_) | StoreError::NotListed { .. }
        )
    }
}

/// The plugins and marketplaces of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plugins {
    pub(super) dir: PathBuf,
}

impl Plugins {
    /// Those of the instance at `layout`.
    pub fn new(layout: &Layout) -> Plugins {
        Plugins {
            dir: layout.plugins(),
        }
    }

    /// Where the installed plugin `name`'s files are.
    pub fn files_of(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Where the installed plugin `name`'s processes keep their data.
    pub fn data_of(&self, name: &str) -> PathBuf {
        self.dir.join(".data").join(name)
    }

    /// Where the marketplace `name`'s files are.
    pub(super) fn market_files(&self, name: &str) -> PathBuf {
        self.dir.join(".markets").join(name)
    }

    /// The installed plugins, in the order they were installed.
    pub fn installed(&self) -> Result<Vec<Installed>, StoreError> {
        let file: InstalledFile = self.read_records(INSTALLED_FILE)?;
        Ok(file.plugins)
    }

    /// The installed plugin `name`.
    pub fn get(&self, name: &str) -> Result<Installed, StoreError> {
        self.installed()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::NotInstalled(name.to_owned()))
    }

    /// The installed plugin `name`, read from its files again (its
    /// servers with their placeholders filled for where it is).
    pub fn read_installed(&self, name: &str) -> Result<Plugin, StoreError> {
        Ok(super::read(&self.files_of(name), &self.data_of(name))?)
    }

    /// The marketplaces, in the order they were added.
    pub fn markets(&self) -> Result<Vec<MarketRecord>, StoreError> {
        let file: MarketsFile = self.read_records(MARKETS_FILE)?;
        Ok(file.marketplaces)
    }

    /// The marketplace `name`.
    pub fn market(&self, name: &str) -> Result<MarketRecord, StoreError> {
        self.markets()?
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| StoreError::NoMarket(name.to_owned()))
    }

    /// Turns the plugin `name` on or off for new sessions (sessions that
    /// run keep what they started with); the record as it now is.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<Installed, StoreError> {
        let _lock = self.lock()?;
        let mut all = self.installed()?;
        let found = all
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::NotInstalled(name.to_owned()))?;
        found.enabled = enabled;
        let now = found.clone();
        self.write_installed(&all)?;
        Ok(now)
    }

    /// Removes the plugin `name`: its record, files and data.
    pub fn remove(&self, name: &str) -> Result<Installed, StoreError> {
        let _lock = self.lock()?;
        let mut all = self.installed()?;
        let at = all
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| StoreError::NotInstalled(name.to_owned()))?;
        let gone = all.remove(at);
        self.write_installed(&all)?;
        private_files::remove_tree(&self.files_of(name))?;
        private_files::remove_tree(&self.data_of(name))?;
        Ok(gone)
    }

    /// Records `market` (added or fetched again) with its files, checked,
    /// at `copy`.
    pub(super) fn put_market(&self, market: MarketRecord, copy: &Path) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let mut all = self.markets()?;
        private_files::private_dir(&self.dir.join(".markets"))?;
        private_files::swap_in(copy, &self.market_files(&market.name))?;
        match all.iter().position(|m| m.name == market.name) {
            Some(at) => all[at] = market,
            None => all.push(market),
        }
        self.write_records(MARKETS_FILE, &MarketsFile { marketplaces: all })
    }

    /// Removes the marketplace `name` (plugins installed from it stay).
    pub fn remove_market(&self, name: &str) -> Result<MarketRecord, StoreError> {
        let _lock = self.lock()?;
        let mut all = self.markets()?;
        let at = all
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| StoreError::NoMarket(name.to_owned()))?;
        let gone = all.remove(at);
        self.write_records(MARKETS_FILE, &MarketsFile { marketplaces: all })?;
        private_files::remove_tree(&self.market_files(name))?;
        Ok(gone)
    }

    /// A scratch folder for one fetch, beside what it will replace.
    pub(super) fn scratch(&self, label: &str) -> Result<Scratch, StoreError> {
        private_files::private_dir(&self.dir)?;
        Ok(Scratch::new(self.dir.join(format!(".fetch-{label}")))?)
    }

    pub(super) fn lock(&self) -> Result<File, StoreError> {
        Ok(private_files::lock(&self.dir)?)
    }

    pub(super) fn write_installed(&self, all: &[Installed]) -> Result<(), StoreError> {
        self.write_records(
            INSTALLED_FILE,
            &InstalledFile {
                plugins: all.to_vec(),
            },
        )
    }

    fn read_records<T: Default + for<'de> Deserialize<'de>>(
        &self,
        name: &str,
    ) -> Result<T, StoreError> {
        let path = self.dir.join(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(T::default()),
            Err(err) => return Err(private_files::at(&path)(err).into()),
        };
        toml::from_str(&text).map_err(|err| StoreError::BadRecords {
            path,
            reason: err.message().to_owned(),
        })
    }

    fn write_records<T: Serialize>(&self, name: &str, records: &T) -> Result<(), StoreError> {
        let text = toml::to_string_pretty(records).map_err(|err| StoreError::BadRecords {
            path: self.dir.join(name),
            reason: err.to_string(),
        })?;
        Ok(private_files::replace_private(
            &self.dir,
            name,
            text.as_bytes(),
        )?)
    }
}

/// A format's name in records and `--json`.
pub fn format_name(format: Format) -> &'static str {
    match format {
        Format::ClaudeCode => "claude-code",
        Format::AgentPlugins => "agent-plugins",
    }
}
