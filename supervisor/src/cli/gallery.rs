//! `studio template source add|update|list|remove`: gallery sources
//! (`studio_client::gallery`), git repositories or folders of templates
//! with an index of their checksums, fetched and checked into the data
//! dir; no daemon needed. What each fetch found, and what it left out and
//! why, is said; `studio template list|show|use` read the sources too.

use clap::Subcommand;
use protocol::Timestamp;
use serde_json::json;
use studio_client::gallery::{Gallery, GalleryError, Source, short};
use studio_client::human::ago;

use super::output::{print_json, table};
use super::{CliError, Ctx};

/// `studio template source`.
#[derive(Subcommand, Debug)]
pub(crate) enum SourceCommand {
    /// Add a gallery: a git URL (https, ssh, git or file://) or a local
    /// folder, with an index.toml giving each template's sha256; fetched
    /// and checked now.
    Add {
        /// A git URL or a folder's path.
        #[arg(value_name = "URL|PATH", allow_hyphen_values = true)]
        url: String,
        /// Its name (a-z, 0-9, '-') [default: the last part of URL|PATH].
        #[arg(long)]
        name: Option<String>,
    },
    /// Fetch a source again (every one without NAME); its templates change
    /// only when the new fetch passes.
    Update {
        /// The source.
        name: Option<String>,
    },
    /// List the sources: where each is, when it was fetched, its templates.
    List,
    /// Remove a source and the templates fetched from it.
    #[command(visible_alias = "rm")]
    Remove {
        /// The source.
        name: String,
    },
}

impl From<GalleryError> for CliError {
    fn from(err: GalleryError) -> Self {
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

pub(crate) async fn source(command: SourceCommand, ctx: &Ctx) -> Result<(), CliError> {
    let gallery = Gallery::new(ctx.dir.layout());
    let json = ctx.json;
    let progress = move |text: &str| {
        if !json {
            errln!("{text}");
        }
    };
    match command {
        SourceCommand::Add { url, name } => {
            let fetched = gallery.add(&url, name.as_deref(), &progress).await?;
            report("added", &fetched.source, json);
        }
        SourceCommand::Update { name: Some(name) } => {
            let fetched = gallery.update(&name, &progress).await?;
            report("updated", &fetched.source, json);
        }
        SourceCommand::Update { name: None } => {
            let sources = gallery.sources()?;
            if sources.is_empty() && !json {
                outln!("no gallery sources; add one with `studio template source add URL|PATH`");
            }
            let mut reports = Vec::new();
            let mut failed = None;
            for source in &sources {
                match gallery.update(&source.name, &progress).await {
                    Ok(fetched) if json => reports.push(json!(fetched.source)),
                    Ok(fetched) => report("updated", &fetched.source, json),
                    Err(err) => {
                        errln!("studio: {err}");
                        reports.push(json!({ "name": source.name, "error": err.to_string() }));
                        failed.get_or_insert(CliError::from(err).code);
                    }
                }
            }
            if json {
                print_json(&json!(reports));
            }
            if let Some(code) = failed {
                // Each failure is said above.
                return Err(CliError {
                    message: String::new(),
                    code,
                });
            }
        }
        SourceCommand::List => list(&gallery.sources()?, json),
        SourceCommand::Remove { name } => {
            let removed = gallery.remove(&name)?;
            if json {
                print_json(&json!({ "removed": removed.name }));
            } else {
                outln!(
                    "source {name} removed, and its {} template(s)",
                    removed.templates.len()
                );
            }
        }
    }
    Ok(())
}

/// What a fetch found: its templates, and each left out with the reason.
fn report(done: &str, source: &Source, json: bool) {
    if json {
        print_json(&json!(source));
        return;
    }
    let at = source
        .commit
        .as_deref()
        .map(|commit| format!(" at {}", short(commit)))
        .unwrap_or_default();
    outln!(
        "source {} {done}: {} template(s) from {}{at}",
        source.name,
        source.templates.len(),
        source.url
    );
    for name in &source.templates {
        outln!("  {}/{name}", source.name);
    }
    if !source.left_out.is_empty() {
        outln!("left out {}:", source.left_out.len());
        for left in &source.left_out {
            outln!("  {} ({}): {}", left.name, left.path, left.reason);
        }
    }
}

fn list(sources: &[Source], json: bool) {
    if json {
        print_json(&json!(sources));
        return;
    }
    if sources.is_empty() {
        outln!("no gallery sources; add one with `studio template source add URL|PATH`");
        return;
    }
    let now = Timestamp::now();
    let mut t = table(&["NAME", "KIND", "URL", "COMMIT", "UPDATED", "TEMPLATES"]);
    for source in sources {
        let mut templates = source.templates.len().to_string();
        if !source.left_out.is_empty() {
            templates.push_str(&format!(" ({} left out)", source.left_out.len()));
        }
        t.add_row(vec![
            source.name.clone(),
            format!("{:?}", source.kind).to_lowercase(),
            source.url.clone(),
            source
                .commit
                .as_deref()
                .map(short)
                .unwrap_or("-")
                .to_owned(),
            ago(source.updated, now),
            templates,
        ]);
    }
    outln!("{t}");
}
