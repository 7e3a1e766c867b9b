//! A plugin marketplace as Claude Code's are published: a git repository
//! (or a folder) with `.claude-plugin/marketplace.json`, an index of
//! plugins, each with its `name`, `source`, and optionally `version`,
//! `description`, `keywords`, `category` and our `sha256`.
//!
//! Sources read: a relative path (`"./plugins/tracker"`, inside the
//! marketplace, after `metadata.pluginRoot` for a bare name), and git:
//! `{"source": "github", "repo": "OWNER/NAME"}`, `{"source": "url", "url":
//! URL}`, `{"source": "git-subdir", "url": URL, "path": DIR}`, each with
//! an optional `ref` (branch or tag) and `sha` (the commit, checked). npm
//! and other sources are listed with the reason they cannot be installed.
//!
//! `sha256` is AI Studio's checksum of the plugin's files (what `studio
//! plugin check` prints, [`super::tree::digest`]); when an entry gives
//! one, an install whose files sum otherwise is refused.

use serde::Deserialize;
use serde_json::Value;

use crate::gallery::index::plain_relative;

/// Where the index is, from the marketplace's root.
pub const MARKETPLACE_FILE: &str = ".claude-plugin/marketplace.json";
/// The largest index read.
pub const MAX_MARKETPLACE_BYTES: u64 = 1024 * 1024;
/// The most plugins one index may list.
pub const MAX_ENTRIES: usize = 2000;

/// A marketplace's index, as far as it is used.
#[derive(Clone, Debug, PartialEq)]
pub struct Marketplace {
    /// Its name, as its index gives it.
    pub name: String,
    /// Who keeps it.
    pub owner: Option<String>,
    /// What it holds.
    pub description: String,
    /// The plugins that can be installed.
    pub plugins: Vec<MarketEntry>,
    /// Entries that cannot be used, each with the reason.
    pub left_out: Vec<(String, String)>,
}

/// One plugin of a marketplace.
#[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
pub struct MarketEntry {
    /// Its name (kebab-case, as its manifest's).
    pub name: String,
    /// Where its files are.
    pub source: PluginSource,
    /// The version the index names.
    pub version: Option<String>,
    /// What it does.
    pub description: String,
    /// Words and a category to find it by.
    pub keywords: Vec<String>,
    /// The checksum its files must have, if the index pins one.
    pub sha256: Option<String>,
}

/// Where a marketplace entry's files are.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PluginSource {
    /// A folder inside the marketplace, `/`-separated.
    Path {
        /// The folder.
        path: String,
    },
    /// A git repository (a folder of it, for `git-subdir`).
    Git {
        /// Its URL.
        url: String,
        /// A branch or tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        git_ref: Option<String>,
        /// The commit it must be at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha: Option<String>,
        /// The folder inside it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subdir: Option<String>,
    },
}

impl PluginSource {
    /// Where it is, for people.
    pub fn describe(&self) -> String {
        match self {
            PluginSource::Path { path } => format!("./{path} in the marketplace"),
            PluginSource::Git {
                url,
                git_ref,
                sha,
                subdir,
            } => {
                let mut text = url.clone();
                if let Some(subdir) = subdir {
                    text.push_str(&format!(" ({subdir})"));
                }
                if let Some(git_ref) = git_ref {
                    text.push_str(&format!(" at {git_ref}"));
                }
                if let Some(sha) = sha {
                    text.push_str(&format!(" pinned to {}", crate::gallery::fetch::short(sha)));
                }
                text
            }
        }
    }
}

/// The index at the top, as written.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIndex {
    name: String,
    #[serde(default)]
    owner: Option<Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<RawMetadata>,
    plugins: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    plugin_root: Option<String>,
}

/// One entry, as written.
#[derive(Deserialize)]
struct RawEntry {
    name: String,
    source: Value,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// Reads a marketplace index. A document that is not one is refused; an
/// entry that cannot be used is left out with its reason.
pub fn parse(text: &[u8]) -> Result<Marketplace, String> {
    let raw: RawIndex = serde_json::from_slice(text).map_err(|err| err.to_string())?;
    super::check_kebab(&raw.name).map_err(|why| format!("the marketplace's {why}"))?;
    if raw.plugins.len() > MAX_ENTRIES {
        return Err(format!(
            "{} plugins, more than {MAX_ENTRIES}",
            raw.plugins.len()
        ));
    }
    let root = raw.metadata.as_ref().and_then(|m| m.plugin_root.clone());
    let mut plugins: Vec<MarketEntry> = Vec::new();
    let mut left_out = Vec::new();
    for (at, value) in raw.plugins.into_iter().enumerate() {
        let label = value
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("plugin {}", at + 1), str::to_owned);
        match entry(value, root.as_deref()) {
            Ok(found) if plugins.iter().any(|p| p.name == found.name) => {
                left_out.push((label, "listed twice".to_owned()));
            }
            Ok(found) => plugins.push(found),
            Err(why) => left_out.push((label, why)),
        }
    }
    let description = raw
        .description
        .or_else(|| raw.metadata.and_then(|m| m.description))
        .unwrap_or_default();
    let owner = raw.owner.and_then(|owner| match owner {
        Value::String(name) => Some(name),
        Value::Object(map) => map.get("name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    });
    Ok(Marketplace {
        name: raw.name,
        owner,
        description,
        plugins,
        left_out,
    })
}

fn entry(value: Value, plugin_root: Option<&str>) -> Result<MarketEntry, String> {
    let raw: RawEntry = serde_json::from_value(value).map_err(|err| err.to_string())?;
    super::check_kebab(&raw.name)?;
    if let Some(sum) = &raw.sha256
        && !(sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!("sha256 {sum:?} is not 64 hex digits"));
    }
    let mut keywords = raw.keywords;
    keywords.extend(raw.tags);
    keywords.extend(raw.category);
    Ok(MarketEntry {
        source: source(&raw.source, plugin_root)?,
        name: raw.name,
        version: raw.version,
        description: raw.description.unwrap_or_default(),
        keywords,
        sha256: raw.sha256.map(|s| s.to_ascii_lowercase()),
    })
}

/// An entry's `source`.
fn source(value: &Value, plugin_root: Option<&str>) -> Result<PluginSource, String> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    match value {
        Value::String(path) => {
            let path = match plugin_root {
                Some(root) if !path.starts_with("./") => format!("{root}/{path}"),
                _ => path.clone(),
            };
            let parts = plain_relative(&path).map_err(|why| format!("source: {why}"))?;
            Ok(PluginSource::Path {
                path: parts.join("/"),
            })
        }
        Value::Object(_) => {
            let kind = text("source").ok_or("source: an object without \"source\"")?;
            let url = match kind.as_str() {
                "github" => {
                    let repo = text("repo").ok_or("source: github without \"repo\"")?;
                    let plain = repo.split('/').count() == 2
                        && repo.split('/').all(|part| {
                            !part.is_empty()
                                && !part.starts_with('.')
                                && part
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        });
                    if !plain {
                        return Err(format!("source: repo {repo:?} is not OWNER/NAME"));
                    }
                    format!("https://github.com/{repo}.git")
                }
                "url" | "git" | "git-subdir" => {
                    text("url").ok_or_else(|| format!("source: {kind} without \"url\""))?
                }
                other => {
                    return Err(format!(
                        "source {other:?} cannot be installed here (a path, github, url or git-subdir can)"
                    ));
                }
            };
            let subdir = match text("path") {
                Some(path) => Some(
                    plain_relative(&path)
                        .map_err(|why| format!("source path: {why}"))?
                        .join("/"),
                ),
                None if kind == "git-subdir" => {
                    return Err("source: git-subdir without \"path\"".to_owned());
                }
                None => None,
            };
            let sha = text("sha");
            if let Some(sha) = &sha
                && !(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(format!("source: sha {sha:?} is not a 40-digit commit"));
            }
            let git_ref = text("ref");
            if let Some(git_ref) = &git_ref
                && (git_ref.starts_with('-') || git_ref.contains([' ', '\0', '\n']))
            {
                return Err(format!("source: ref {git_ref:?} is not a branch or tag"));
            }
            Ok(PluginSource::Git {
                url,
                git_ref,
                sha: sha.map(|s| s.to_ascii_lowercase()),
                subdir,
            })
        }
        _ => Err("source is not a path or an object".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_as_claude_code_publishes_it_reads_with_each_kind_of_source() {
        let text = serde_json::json!({
            "name": "team-tools",
            "owner": {"name": "Team", "email": "t@example.com"},
            "metadata": {"description": "Our plugins", "pluginRoot": "./plugins"},
            "plugins": [
                {"name": "tracker", "source": "./plugins/tracker", "version": "1.0.0",
                 "description": "Issues", "tags": ["issues"], "category": "productivity",
                 "sha256": "AB".repeat(32)},
                {"name": "formatter", "source": "formatter"},
                {"name": "gh", "source": {"source": "github", "repo": "acme/gh-plugin", "ref": "v2"}},
                {"name": "sub", "source": {"source": "git-subdir", "url": "https://example.com/m.git",
                  "path": "plugins/sub", "sha": "0123456789abcdef0123456789abcdef01234567"}},
                {"name": "from-npm", "source": {"source": "npm", "package": "@acme/p"}},
                {"name": "escape", "source": "../outside"},
                {"name": "Bad Name", "source": "./x"},
                {"name": "tracker", "source": "./again"},
                {"name": "dash", "source": {"source": "url", "url": "https://e.com/r.git", "ref": "--upload-pack=x"}}
            ]
        });
        let market = parse(text.to_string().as_bytes()).unwrap();
        assert_eq!(market.name, "team-tools");
        assert_eq!(market.owner.as_deref(), Some("Team"));
        assert_eq!(market.description, "Our plugins");
        let names: Vec<&str> = market.plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["tracker", "formatter", "gh", "sub"]);
        assert_eq!(
            market.plugins[0].source,
            PluginSource::Path {
                path: "plugins/tracker".into()
            }
        );
        assert_eq!(
            market.plugins[0].sha256.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(market.plugins[0].keywords, ["issues", "productivity"]);
        assert_eq!(
            market.plugins[1].source,
            PluginSource::Path {
                path: "plugins/formatter".into()
            }
        );
        assert_eq!(
            market.plugins[2].source,
            PluginSource::Git {
                url: "https://github.com/acme/gh-plugin.git".into(),
                git_ref: Some("v2".into()),
                sha: None,
                subdir: None
            }
        );
        let left: Vec<(&str, &str)> = market
            .left_out
            .iter()
            .map(|(n, w)| (n.as_str(), w.as_str()))
            .collect();
        assert_eq!(left.len(), 5, "{left:?}");
        assert!(left[0].0 == "from-npm" && left[0].1.contains("cannot be installed here"));
        assert!(
            left[1].0 == "escape" && left[1].1.contains("leaves"),
            "{left:?}"
        );
        assert!(left[2].1.contains("kebab-case"));
        assert!(left[3].0 == "tracker" && left[3].1 == "listed twice");
        assert!(left[4].1.contains("not a branch or tag"));
    }

    #[test]
    fn the_official_claude_code_marketplace_reads_whole() {
        // Its index as published (tests/plugins/published/README.md).
        let text = include_bytes!(
            "../../../../tests/plugins/published/claude-plugins-official/.claude-plugin/marketplace.json"
        );
        let market = parse(text).unwrap();
        assert_eq!(market.name, "claude-plugins-official");
        assert_eq!(market.owner.as_deref(), Some("Anthropic"));
        assert!(market.left_out.is_empty(), "{:?}", market.left_out);
        assert_eq!(market.plugins.len(), 286);
        let pinned = market
            .plugins
            .iter()
            .filter(|p| matches!(&p.source, PluginSource::Git { sha: Some(_), .. }))
            .count();
        let paths = market
            .plugins
            .iter()
            .filter(|p| matches!(p.source, PluginSource::Path { .. }))
            .count();
        assert_eq!(paths, 53);
        assert!(pinned > 100, "{pinned} pinned by sha");
    }

    #[test]
    fn what_is_not_an_index_is_refused() {
        for (text, says) in [
            ("not json", "expected"),
            ("{\"plugins\": []}", "missing field `name`"),
            (
                "{\"name\": \"Market Place\", \"plugins\": []}",
                "kebab-case",
            ),
        ] {
            let err = parse(text.as_bytes()).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
