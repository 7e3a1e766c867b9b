//! Installing and updating a plugin: what was asked for ([`Spec`]: a
//! folder, a git URL, or `NAME[@MARKET]`) is fetched into a scratch
//! folder, its files copied out of the checkout and summed
//! ([`super::tree::copy`]), the sum checked against the marketplace's
//! pin, and the copy read as a plugin. The result is a [`Ready`]: what
//! it brings and asks for (and, for an update, what changed), for the
//! person to agree to before [`super::store::Plugins::commit`] puts it in
//! place. Dropping a `Ready` leaves nothing behind.

use std::path::{Path, PathBuf};

use super::changes::{self, Changes};
use super::marketplace::{MarketEntry, PluginSource};
use super::store::{self, Installed, Origin, Plugins, StoreError};
use super::{Plugin, tree};
use crate::gallery::fetch::{self, Location};
use crate::private_files::{self, Scratch};
use protocol::Timestamp;

/// Names of the files beside installed plugins' folders, which no plugin
/// may take (an Agent Plugins name may have a '.').
const RESERVED_NAMES: [&str; 2] = ["installed.toml", "marketplaces.toml"];

/// What `studio plugin install` was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// A folder on this machine (canonical).
    Folder(PathBuf),
    /// A git repository, at a branch or tag.
    Git {
        /// Its URL.
        url: String,
        /// The branch or tag.
        git_ref: Option<String>,
    },
    /// A marketplace's plugin: `NAME@MARKET`, or `NAME` when one
    /// marketplace lists it.
    Listed {
        /// The plugin.
        name: String,
        /// The marketplace.
        market: Option<String>,
    },
}

impl Spec {
    /// Reads `text`: `NAME` or `NAME@MARKET` (kebab-case names), else a
    /// folder (a path with a `/`) or a git URL; `git_ref` only with a URL.
    pub fn parse(text: &str, git_ref: Option<&str>) -> Result<Spec, StoreError> {
        let is_name = |s: &str| super::check_kebab(s).is_ok();
        let listed = match text.split_once('@') {
            Some((name, market)) if is_name(name) && is_name(market) => Some(Spec::Listed {
                name: name.to_owned(),
                market: Some(market.to_owned()),
            }),
            None if is_name(text) => Some(Spec::Listed {
                name: text.to_owned(),
                market: None,
            }),
            _ => None,
        };
        if let Some(listed) = listed {
            if git_ref.is_some() {
                return Err(StoreError::BadSpec(
                    "--ref is for a git URL; a marketplace's entry names its own".to_owned(),
                ));
            }
            return Ok(listed);
        }
        match Location::of(text)? {
            Location::Folder(path) if git_ref.is_none() => Ok(Spec::Folder(path)),
            Location::Folder(_) => Err(StoreError::BadSpec(
                "--ref is for a git URL, not a folder".to_owned(),
            )),
            Location::Git(url) => Ok(Spec::Git {
                url,
                git_ref: git_ref.map(str::to_owned),
            }),
        }
    }
}

/// A plugin fetched and checked, waiting to be agreed to.
#[derive(Debug)]
pub struct Ready {
    /// The plugin, read from the checked copy.
    pub plugin: Plugin,
    /// The checksum of its files.
    pub sha256: String,
    /// Where it came from.
    pub origin: Origin,
    /// The plugin it replaces, for an update.
    pub previous: Option<Installed>,
    /// What the update changes (for an update).
    pub changes: Option<Changes>,
    scratch: Scratch,
}

impl Ready {
    /// The checked copy.
    pub(super) fn copy_path(&self) -> PathBuf {
        self.scratch.path().join("copy")
    }

    /// What the person must agree to: for an install, everything its
    /// permissions ask; for an update, what they ask beyond the grant.
    pub fn to_agree(&self) -> Vec<String> {
        match &self.changes {
            Some(changes) => changes.more.clone(),
            None => changes::asks(&self.plugin.studio.permissions),
        }
    }
}

/// Where a fetched plugin's files are, and what is known of them.
struct Fetched {
    root: PathBuf,
    origin: Origin,
    /// The name a marketplace lists it under.
    listed_as: Option<String>,
    /// The checksum a marketplace pins.
    pinned: Option<String>,
    /// The folder `root` must stay inside (a checkout, a marketplace's
    /// files): a source path through a link out of it is refused.
    within: Option<PathBuf>,
}

impl Plugins {
    /// Fetches and checks what `spec` names, for an install.
    pub async fn prepare_install(
        &self,
        spec: &Spec,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Ready, StoreError> {
        if let Spec::Listed { name, .. } = spec {
            self.refuse_installed(name)?;
        }
        let scratch = self.scratch("install")?;
        let fetched = self.fetch(spec, &scratch, progress).await?;
        let ready = self.check(fetched, scratch, None)?;
        self.refuse_installed(&ready.plugin.name)?;
        Ok(ready)
    }

    /// Fetches the installed plugin `name` again from where it came
    /// (a marketplace is fetched again first), and says what changed.
    pub async fn prepare_update(
        &self,
        name: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Ready, StoreError> {
        let previous = self.get(name)?;
        let spec = match &previous.origin {
            Origin::Folder { path } => Spec::Folder(PathBuf::from(path)),
            Origin::Git { url, git_ref, .. } => Spec::Git {
                url: url.clone(),
                git_ref: git_ref.clone(),
            },
            Origin::Marketplace { market, .. } => {
                self.update_market(market, progress).await?;
                Spec::Listed {
                    name: name.to_owned(),
                    market: Some(market.clone()),
                }
            }
        };
        let scratch = self.scratch(&format!("update-{name}"))?;
        let fetched = self.fetch(&spec, &scratch, progress).await?;
        let ready = self.check(fetched, scratch, Some(previous))?;
        Ok(ready)
    }

    /// Puts a checked plugin in place: its files swapped in whole, its
    /// record written with what was granted. An update is refused if the
    /// plugin was removed meanwhile, an install if one of that name was
    /// installed meanwhile.
    pub fn commit(&self, ready: Ready) -> Result<Installed, StoreError> {
        let _lock = self.lock()?;
        let mut all = self.installed()?;
        let name = ready.plugin.name.clone();
        let at = all.iter().position(|p| p.name == name);
        let now = Timestamp::now();
        let installed_at = match (at, &ready.previous) {
            (Some(at), Some(_)) => all[at].installed,
            (None, None) => now,
            (Some(_), None) => return Err(StoreError::AlreadyInstalled(name)),
            (None, Some(_)) => return Err(StoreError::NotInstalled(name)),
        };
        let record = Installed {
            name: name.clone(),
            title: ready.plugin.title.clone(),
            version: ready.plugin.version.clone(),
            format: store::format_name(ready.plugin.format).to_owned(),
            origin: ready.origin.clone(),
            sha256: ready.sha256.clone(),
            enabled: ready.previous.as_ref().is_none_or(|p| p.enabled),
            granted: ready.plugin.studio.permissions.clone(),
            servers: ready
                .plugin
                .servers
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            installed: installed_at,
            updated: now,
        };
        private_files::swap_in(&ready.copy_path(), &self.files_of(&name))?;
        private_files::private_dir(&self.data_of(&name))?;
        match at {
            Some(at) => all[at] = record.clone(),
            None => all.push(record.clone()),
        }
        self.write_installed(&all)?;
        Ok(record)
    }

    fn refuse_installed(&self, name: &str) -> Result<(), StoreError> {
        if self.installed()?.iter().any(|p| p.name == name) {
            return Err(StoreError::AlreadyInstalled(name.to_owned()));
        }
        Ok(())
    }

    /// Brings what `spec` names into `scratch` (a folder is read where
    /// it is).
    async fn fetch(
        &self,
        spec: &Spec,
        scratch: &Scratch,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Fetched, StoreError> {
        let checkout = scratch.path().join("checkout");
        match spec {
            Spec::Folder(path) => Ok(Fetched {
                root: path.clone(),
                origin: Origin::Folder {
                    path: path.display().to_string(),
                },
                listed_as: None,
                pinned: None,
                within: None,
            }),
            Spec::Git { url, git_ref } => {
                progress(&format!("fetching {url}…"));
                let commit = fetch::clone_at(
                    url,
                    &checkout,
                    git_ref.as_deref(),
                    None,
                    fetch::FETCH_TIMEOUT,
                )
                .await?;
                Ok(Fetched {
                    root: checkout.clone(),
                    within: Some(checkout),
                    origin: Origin::Git {
                        url: url.clone(),
                        git_ref: git_ref.clone(),
                        commit,
                    },
                    listed_as: None,
                    pinned: None,
                })
            }
            Spec::Listed { name, market } => {
                let (market, entry) = self.find_listed(name, market.as_deref())?;
                let record = self.market(&market)?;
                let (root, within, commit) = match &entry.source {
                    PluginSource::Path { path } => {
                        let files = self.market_files(&market);
                        let root = path.split('/').fold(files.clone(), |p, part| p.join(part));
                        (root, files, record.commit.clone())
                    }
                    PluginSource::Git {
                        url,
                        git_ref,
                        sha,
                        subdir,
                    } => {
                        if !matches!(Location::of(url)?, Location::Git(_)) {
                            return Err(StoreError::Refused {
                                what: format!("{name}@{market}"),
                                why: format!("its source {url} is not a git URL"),
                            });
                        }
                        progress(&format!("fetching {url}…"));
                        let commit = fetch::clone_at(
                            url,
                            &checkout,
                            git_ref.as_deref(),
                            sha.as_deref(),
                            fetch::FETCH_TIMEOUT,
                        )
                        .await?;
                        let root = subdir
                            .iter()
                            .flat_map(|s| s.split('/'))
                            .fold(checkout.clone(), |p, part| p.join(part));
                        (root, checkout.clone(), Some(commit))
                    }
                };
                Ok(Fetched {
                    root,
                    origin: Origin::Marketplace {
                        market,
                        source: entry.source.clone(),
                        commit,
                    },
                    listed_as: Some(entry.name.clone()),
                    pinned: entry.sha256.clone(),
                    within: Some(within),
                })
            }
        }
    }

    /// Copies the fetched files out, sums them, checks the pin and reads
    /// the copy as a plugin.
    fn check(
        &self,
        fetched: Fetched,
        scratch: Scratch,
        previous: Option<Installed>,
    ) -> Result<Ready, StoreError> {
        let what = fetched
            .listed_as
            .clone()
            .unwrap_or_else(|| fetched.origin.describe());
        let refused = |why: String| StoreError::Refused {
            what: what.clone(),
            why,
        };
        let Ok(root) = fetched.root.canonicalize() else {
            return Err(refused("its folder is not there".to_owned()));
        };
        if !root.is_dir() {
            return Err(refused("its folder is not there".to_owned()));
        }
        // A checkout may hold links: its folder must be inside it.
        if let Some(within) = &fetched.within {
            let within = within
                .canonicalize()
                .map_err(|err| refused(err.to_string()))?;
            if !root.starts_with(&within) {
                return Err(refused(
                    "its folder leads out of the repository through a symbolic link".to_owned(),
                ));
            }
        }
        let copy = scratch.path().join("copy");
        let sha256 = tree::copy(&root, &copy).map_err(&refused)?;
        if let Some(pinned) = &fetched.pinned
            && *pinned != sha256
        {
            return Err(refused(format!(
                "its files sum to sha256 {sha256}, but the marketplace pins {pinned}"
            )));
        }
        // Its name first, then read again as where it will be installed,
        // so its placeholders name those folders.
        let name = super::read(&copy, Path::new("/nonexistent"))?.name;
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(refused(format!(
                "{name:?} is a name AI Studio keeps for itself"
            )));
        }
        let plugin = super::read_as(&copy, &self.files_of(&name), &self.data_of(&name))?;
        if let Some(listed) = &fetched.listed_as
            && *listed != plugin.name
        {
            return Err(refused(format!(
                "the marketplace lists it as {listed:?} but its manifest names {:?}",
                plugin.name
            )));
        }
        if let Some(previous) = &previous
            && previous.name != plugin.name
        {
            return Err(refused(format!(
                "it is now named {:?}, not {:?}",
                plugin.name, previous.name
            )));
        }
        let changes = previous.as_ref().map(|old| {
            let installed = self.read_installed(&old.name).ok();
            changes::between(old, installed.as_ref(), &plugin, &sha256)
        });
        Ok(Ready {
            plugin,
            sha256,
            origin: fetched.origin,
            previous,
            changes,
            scratch,
        })
    }

    /// The marketplace and entry `name` (in `market`, else the one
    /// marketplace that lists it).
    pub fn find_listed(
        &self,
        name: &str,
        market: Option<&str>,
    ) -> Result<(String, MarketEntry), StoreError> {
        if let Some(market) = market {
            self.market(market)?;
            let index = self.market_index(market)?;
            return match index.plugins.into_iter().find(|e| e.name == name) {
                Some(entry) => Ok((market.to_owned(), entry)),
                None => Err(StoreError::NotListed {
                    name: name.to_owned(),
                    known: self.listed_names(),
                }),
            };
        }
        let mut found: Vec<(String, MarketEntry)> = Vec::new();
        for record in self.markets()? {
            if let Ok(index) = self.market_index(&record.name)
                && let Some(entry) = index.plugins.into_iter().find(|e| e.name == name)
            {
                found.push((record.name, entry));
            }
        }
        match found.len() {
            0 => Err(StoreError::NotListed {
                name: name.to_owned(),
                known: self.listed_names(),
            }),
            1 => Ok(found.remove(0)),
            _ => Err(StoreError::Ambiguous {
                name: name.to_owned(),
                spellings: found.iter().map(|(m, _)| format!("{name}@{m}")).collect(),
            }),
        }
    }

    /// Every `NAME@MARKET` the marketplaces list.
    fn listed_names(&self) -> Vec<String> {
        let Ok(markets) = self.markets() else {
            return Vec::new();
        };
        markets
            .iter()
            .filter_map(|m| self.market_index(&m.name).ok().map(|i| (m.name.clone(), i)))
            .flat_map(|(market, index)| {
                index
                    .plugins
                    .into_iter()
                    .map(move |e| format!("{}@{market}", e.name))
            })
            .collect()
    }
}
