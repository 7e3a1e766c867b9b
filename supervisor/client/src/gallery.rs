//! Gallery sources: git repositories or folders of templates with an
//! index that gives each one's SHA-256 ([`index`]), fetched ([`fetch`])
//! and checked by `studio template source add|update`, shown and used
//! beside the bundled templates ([`crate::templates`]) by `studio
//! template list|show|use`, with the templates installed plugins bring
//! (`Origin::Plugin`, spelled `plugin:NAME/TEMPLATE`, added by
//! `crate::plugin::templates`). Client-side, in the data dir:
//!
//! ```text
//! DATA_DIR/gallery/      0700
//!   sources.toml         0600  each source: name, URL or folder, kind,
//!                              when added and updated, the commit, what
//!                              was left out and why
//!   NAME/                      its checked copy: the index and the
//!                              templates that passed, nothing else
//!   .lock                      held while a source changes
//! ```
//!
//! A source is fetched into a scratch folder beside the copies, checked,
//! and only then swapped with its copy in one `rename` (an exchange), so a
//! failed fetch or a bad index leaves the copy as it was. Reading a copy
//! checks it again.

pub mod fetch;
pub mod index;

pub use fetch::{SourceKind, short};

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use protocol::Timestamp;
use protocol::layout::Layout;
use serde::{Deserialize, Serialize};

use self::fetch::{FetchError, Location};
use self::index::{Checked, IndexError, LeftOut};
use crate::agent_file::AgentFile;
use crate::private_files::{self, FileError, Scratch, private_dir, swap_in, write_private};
use crate::templates;

/// What `template list` calls the bundled templates' source; no gallery
/// source may take the name.
pub const BUILT_IN: &str = "built-in";

/// The list of sources, in the gallery folder.
const SOURCES_FILE: &str = "sources.toml";

/// A gallery source as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Its name: `a-z`, `0-9` and `-`.
    pub name: String,
    /// The git URL or the folder, as fetched.
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
    /// The templates that passed, by name.
    #[serde(default)]
    pub templates: Vec<String>,
    /// The templates left out at the last fetch, each with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    sources: Vec<Source>,
}

/// Where a template came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Bundled with AI Studio.
    BuiltIn,
    /// A gallery source.
    Source {
        /// The source's name.
        name: String,
        /// Its URL or folder.
        url: String,
        /// The commit fetched (git only).
        commit: Option<String>,
    },
    /// An installed, enabled plugin.
    Plugin {
        /// `plugin:NAME`, its source's name in `SOURCE/NAME` (no gallery
        /// source may have a ':').
        label: String,
        /// The plugin's version.
        version: String,
    },
}

impl Origin {
    /// The source's name, [`BUILT_IN`] for the bundled ones.
    pub fn source_name(&self) -> &str {
        match self {
            Origin::BuiltIn => BUILT_IN,
            Origin::Source { name, .. } => name,
            Origin::Plugin { label, .. } => label,
        }
    }

    /// "SOURCE (URL) at COMMIT", for people.
    pub fn describe(&self) -> String {
        match self {
            Origin::BuiltIn => "the templates that come with AI Studio".to_owned(),
            Origin::Source { name, url, commit } => match commit {
                Some(commit) => format!("{name} ({url}) at {}", short(commit)),
                None => format!("{name} ({url})"),
            },
            Origin::Plugin { label, version } => format!("the installed {label} {version}")
                .trim_end()
                .to_owned(),
        }
    }
}

/// The bundled templates, as [`Template`]s.
pub fn builtin() -> Vec<Template> {
    templates::builtin()
        .into_iter()
        .filter_map(|file| {
            let text = templates::text(&file.agent.name)?.to_owned();
            Some(Template {
                file,
                text,
                origin: Origin::BuiltIn,
            })
        })
        .collect()
}

/// A template and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// The template.
    pub file: AgentFile,
    /// Its text, as fetched (or shipped).
    pub text: String,
    /// Where it came from.
    pub origin: Origin,
}

impl Template {
    /// Its name (its agent's).
    pub fn name(&self) -> &str {
        &self.file.agent.name
    }

    /// `SOURCE/NAME`, which names it wherever else a name is.
    pub fn spelling(&self) -> String {
        format!("{}/{}", self.origin.source_name(), self.name())
    }
}

/// What adding or updating a source found.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The source as now recorded (its templates, left out, commit).
    pub source: Source,
}

/// Why a gallery operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// Where the source is cannot be used.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A source name that is not `[a-z0-9-]+`, or is reserved.
    #[error(
        "invalid source name {0:?}: use 1-64 of a-z, 0-9 and '-', not starting with '-', not {BUILT_IN:?} (choose one with --name)"
    )]
    BadName(String),
    /// A source of that name exists.
    #[error("there is already a source named {0:?} (remove it, or choose another with --name)")]
    NameTaken(String),
    /// The gallery's index is bad, or the gallery unreadable.
    #[error("source {name}: {err}")]
    Index {
        /// The source.
        name: String,
        /// What is wrong.
        #[source]
        err: IndexError,
    },
    /// No source of that name.
    #[error("no gallery source {0:?}")]
    NoSource(String),
    /// No template of that name.
    #[error("no template {name:?}; there are: {}", known.join(", "))]
    NoTemplate {
        /// The name asked for.
        name: String,
        /// What there is.
        known: Vec<String>,
    },
    /// A name more than one source has.
    #[error("template {name:?} is in more than one source: say which, {}", spellings.join(" or "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// Each `SOURCE/NAME`.
        spellings: Vec<String>,
    },
    /// `sources.toml` does not read.
    #[error("{}: {reason}", path.display())]
    BadSources {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file or folder of the gallery could not be read or written.
    #[error(transparent)]
    Io(#[from] FileError),
    /// An installed plugin's templates could not be read.
    #[error("{0}")]
    Plugin(String),
}

impl GalleryError {
    /// Whether what was given is at fault (a URL, a name, an index).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            GalleryError::Fetch(FetchError::BadUrl(_))
                | GalleryError::BadName(_)
                | GalleryError::NameTaken(_)
                | GalleryError::Index {
                    err: IndexError::Bad(_),
                    ..
                }
                | GalleryError::NoTemplate { .. }
                | GalleryError::Ambiguous { .. }
        )
    }

    /// Whether a source asked for is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, GalleryError::NoSource(_))
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> GalleryError + '_ {
    move |source| GalleryError::Io(private_files::at(path)(source))
}

/// Checks a source's name: 1-64 of `a-z`, `0-9` and `-`, not starting
/// with `-`, not [`BUILT_IN`].
pub fn check_name(name: &str) -> Result<(), GalleryError> {
    if fetch::is_name(name) && name != BUILT_IN {
        Ok(())
    } else {
        Err(GalleryError::BadName(name.to_owned()))
    }
}

/// The gallery sources of one data dir.
#[derive(Clone, Debug)]
pub struct Gallery {
    dir: PathBuf,
}

impl Gallery {
    /// The sources of the instance at `layout`.
    pub fn new(layout: &Layout) -> Gallery {
        Gallery {
            dir: layout.gallery(),
        }
    }

    /// The sources, in the order they were added.
    pub fn sources(&self) -> Result<Vec<Source>, GalleryError> {
        let path = self.dir.join(SOURCES_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io_at(&path)(err)),
        };
        let file: SourcesFile = toml::from_str(&text).map_err(|err| GalleryError::BadSources {
            path: path.clone(),
            reason: err.to_string(),
        })?;
        Ok(file.sources)
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Result<Source, GalleryError> {
        self.sources()?
            .into_iter()
            .find(|source| source.name == name)
            .ok_or_else(|| GalleryError::NoSource(name.to_owned()))
    }

    /// Adds the gallery at `target` (a git URL or a folder) as `name`
    /// (else one made from `target`): fetched, checked, copied.
    /// `progress` hears what takes a while.
    pub async fn add(
        &self,
        target: &str,
        name: Option<&str>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Fetched, GalleryError> {
        let location = Location::of(target)?;
        let name = name.map_or_else(|| fetch::default_name(target), str::to_owned);
        check_name(&name)?;
        let _lock = self.lock()?;
        let mut sources = self.sources()?;
        if sources.iter().any(|source| source.name == name) {
            return Err(GalleryError::NameTaken(name));
        }
        let now = Timestamp::now();
        let mut source = Source {
            name: name.clone(),
            url: location.as_text(),
            kind: match location {
                Location::Git(_) => SourceKind::Git,
                Location::Folder(_) => SourceKind::Folder,
            },
            added: now,
            updated: now,
            commit: None,
            templates: Vec::new(),
            left_out: Vec::new(),
        };
        self.fetch_into(&mut source, &location, progress).await?;
        sources.push(source.clone());
        self.write_sources(&sources)?;
        Ok(Fetched { source })
    }

    /// Fetches the source `name` again; its copy changes only when the
    /// new fetch passes.
    pub async fn update(
        &self,
        name: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Fetched, GalleryError> {
        let _lock = self.lock()?;
        let mut sources = self.sources()?;
        let Some(at) = sources.iter().position(|source| source.name == name) else {
            return Err(GalleryError::NoSource(name.to_owned()));
        };
        let mut source = sources[at].clone();
        let location = match source.kind {
            SourceKind::Git => Location::Git(source.url.clone()),
            SourceKind::Folder => Location::Folder(PathBuf::from(&source.url)),
        };
        source.updated = Timestamp::now();
        self.fetch_into(&mut source, &location, progress).await?;
        sources[at] = source.clone();
        self.write_sources(&sources)?;
        Ok(Fetched { source })
    }

    /// Removes the source `name` and its copy.
    pub fn remove(&self, name: &str) -> Result<Source, GalleryError> {
        let _lock = self.lock()?;
        let mut sources = self.sources()?;
        let Some(at) = sources.iter().position(|source| source.name == name) else {
            return Err(GalleryError::NoSource(name.to_owned()));
        };
        let source = sources.remove(at);
        self.write_sources(&sources)?;
        let copy = self.dir.join(&source.name);
        private_files::remove_tree(&copy)?;
        Ok(source)
    }

    /// The templates of `source`'s copy, checked again.
    pub fn templates_of(&self, source: &Source) -> Result<Vec<Template>, GalleryError> {
        let checked =
            index::check(&self.dir.join(&source.name)).map_err(|err| GalleryError::Index {
                name: source.name.clone(),
                err,
            })?;
        let origin = Origin::Source {
            name: source.name.clone(),
            url: source.url.clone(),
            commit: source.commit.clone(),
        };
        Ok(checked
            .templates
            .into_iter()
            .map(|found| Template {
                file: found.file,
                text: found.text,
                origin: origin.clone(),
            })
            .collect())
    }

    /// Every template: the bundled ones, then each source's; and what
    /// kept a source's templates from being read.
    pub fn all(&self) -> (Vec<Template>, Vec<GalleryError>) {
        let mut all = builtin();
        let mut problems = Vec::new();
        match self.sources() {
            Ok(sources) => {
                for source in &sources {
                    match self.templates_of(source) {
                        Ok(found) => all.extend(found),
                        Err(err) => problems.push(err),
                    }
                }
            }
            Err(err) => problems.push(err),
        }
        (all, problems)
    }

    /// The template `spelling` names: `SOURCE/NAME`, or `NAME` (a bundled
    /// one first, else the one source that has it; refused when several
    /// do).
    pub fn find(&self, spelling: &str) -> Result<Template, GalleryError> {
        self.find_among(self.all().0, spelling)
    }

    /// [`Gallery::find`] among `all` (the gallery's templates and others,
    /// such as those of installed plugins).
    pub fn find_among(&self, all: Vec<Template>, spelling: &str) -> Result<Template, GalleryError> {
        let unknown = |all: &[Template]| GalleryError::NoTemplate {
            name: spelling.to_owned(),
            known: all.iter().map(|t| t.name().to_owned()).collect(),
        };
        if spelling.contains('/') {
            return match all.iter().find(|t| t.spelling() == spelling) {
                Some(found) => Ok(found.clone()),
                None => match spelling.split_once('/') {
                    Some((source, _)) if source != BUILT_IN && !source.contains(':') => {
                        self.source(source)?;
                        Err(unknown(&all))
                    }
                    _ => Err(unknown(&all)),
                },
            };
        }
        let mut named: Vec<&Template> = all.iter().filter(|t| t.name() == spelling).collect();
        if let Some(builtin) = named.iter().find(|t| t.origin == Origin::BuiltIn) {
            return Ok((*builtin).clone());
        }
        match named.len() {
            0 => Err(unknown(&all)),
            1 => Ok(named.remove(0).clone()),
            _ => Err(GalleryError::Ambiguous {
                name: spelling.to_owned(),
                spellings: named.iter().map(|t| t.spelling()).collect(),
            }),
        }
    }

    /// Fetches `location` into a scratch folder, checks it, writes the
    /// copy and swaps it in; records in `source` what was found.
    async fn fetch_into(
        &self,
        source: &mut Source,
        location: &Location,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(), GalleryError> {
        let scratch = Scratch::new(self.dir.join(format!(".fetch-{}", source.name)))?;
        let bad_index = |err| GalleryError::Index {
            name: source.name.clone(),
            err,
        };
        let checked = match location {
            Location::Git(url) => {
                progress(&format!("fetching {url}…"));
                let checkout = scratch.path().join("checkout");
                let commit = fetch::clone(url, &checkout, fetch::FETCH_TIMEOUT).await?;
                let checked = index::check(&checkout).map_err(bad_index)?;
                source.commit = Some(commit);
                checked
            }
            Location::Folder(path) => index::check(path).map_err(bad_index)?,
        };
        let copy = scratch.path().join("copy");
        write_copy(&checked, &copy)?;
        let target = self.dir.join(&source.name);
        swap_in(&copy, &target)?;
        source.templates = checked
            .templates
            .iter()
            .map(|found| found.entry.name.clone())
            .collect();
        source.left_out = checked.left_out;
        Ok(())
    }

    /// Holds the gallery's lock (created 0700 first) until dropped.
    fn lock(&self) -> Result<File, GalleryError> {
        Ok(private_files::lock(&self.dir)?)
    }

    fn write_sources(&self, sources: &[Source]) -> Result<(), GalleryError> {
        let text = toml::to_string_pretty(&SourcesFile {
            sources: sources.to_vec(),
        })
        .map_err(|err| GalleryError::BadSources {
            path: self.dir.join(SOURCES_FILE),
            reason: err.to_string(),
        })?;
        Ok(private_files::replace_private(
            &self.dir,
            SOURCES_FILE,
            text.as_bytes(),
        )?)
    }
}

/// The checked copy of a gallery at `copy`: its index and the templates
/// that passed, at their paths, as read (and hashed).
fn write_copy(checked: &Checked, copy: &Path) -> Result<(), GalleryError> {
    private_dir(copy)?;
    write_private(&copy.join(index::INDEX_FILE), &checked.index_text)?;
    for found in &checked.templates {
        let parts = index::plain_relative(&found.entry.path).map_err(|reason| {
            GalleryError::BadSources {
                path: copy.to_path_buf(),
                reason,
            }
        })?;
        let path = parts
            .iter()
            .fold(copy.to_path_buf(), |path, p| path.join(p));
        if let Some(parent) = path.parent() {
            private_dir(parent)?;
        }
        write_private(&path, found.text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
