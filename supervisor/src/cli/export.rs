//! `studio export ID [--format jsonl|md] [--out FILE]`: a session as JSON
//! lines, to keep, share or analyse elsewhere, or as a Markdown transcript
//! for people (`studio_client::transcript`). `studio export --group ID
//! [--format jsonl|csv|md]`: a group's results, one record per run
//! (`studio_client::results`). With `--otlp URL`, OpenTelemetry traces
//! instead (`super::otlp`).
//!
//! The first line says what the session was set up with (its summary, the
//! agent as it was, a run's spec); every other line is one event, as
//! `studio events --json` prints it. Nothing secret is in either: keys and
//! MCP servers' settings are never part of a session. A file is written
//! whole or not at all (a temporary file renamed at the end).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use protocol::control::{ControlRequest, ControlResponse, MAX_ANSWER_CHARS, Setup};
use serde_json::{Value, json};
use studio_client::results;

use super::batch::progress_bar;
use super::output::{event_json, safe_json};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// The session (id or unique prefix).
    #[arg(required_unless_present = "group", value_name = "ID")]
    id: Option<String>,
    /// A group's results instead: one record per run (its answer whole,
    /// status, tokens, cost, duration and ids).
    #[arg(long, value_name = "ID", conflicts_with = "id")]
    group: Option<String>,
    /// Write to this file (created or replaced) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// JSON lines (every event, for tools) or a Markdown transcript (for
    /// people: messages, tool calls with their decisions and results,
    /// errors, the figures).
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Send the session (or each run of the group) as OpenTelemetry
    /// traces to this OTLP/HTTP endpoint instead: `http://HOST:4318`, or a
    /// full `…/v1/traces` URL. One trace per session; a span per turn,
    /// model call and tool call (GenAI semantic conventions).
    #[arg(long, value_name = "URL", conflicts_with = "out")]
    otlp: Option<String>,
    /// With --otlp: a header the endpoint wants (auth), by name; its value
    /// is read from stdin (one line per header, in order) or asked for
    /// without echo. Repeatable.
    #[arg(long = "header", value_name = "NAME", requires = "otlp")]
    headers: Vec<String>,
}

/// What `studio export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// JSON lines: the setup, then one event a line (a group: one run a
    /// line).
    Jsonl,
    /// A Markdown transcript (a group: its results table, then each answer).
    Md,
    /// A group's results as CSV, one run a row.
    Csv,
}

pub(crate) async fn execute(args: ExportArgs, ctx: &Ctx) -> Result<(), CliError> {
    if let Some(url) = &args.otlp {
        if args.format != Format::Jsonl {
            return Err(CliError::invalid(
                "--otlp sends traces; it takes no --format",
            ));
        }
        let target = super::otlp::target(url, &args.headers)?;
        let client = ctx.client().await?;
        return match (&args.id, &args.group) {
            (_, Some(group)) => super::otlp::export_group(&client, group, &target, ctx).await,
            (Some(id), None) => super::otlp::export_session(&client, id, &target, ctx).await,
            (None, None) => Err(CliError::invalid("name a session, or a group with --group")),
        };
    }
    let client = ctx.client().await?;
    let id = match (&args.id, &args.group) {
        (_, Some(group)) => return group_results(&client, group, &args, ctx).await,
        (Some(id), None) => id.clone(),
        (None, None) => return Err(CliError::invalid("name a session, or a group with --group")),
    };
    if args.format == Format::Csv {
        return Err(CliError::invalid(
            "CSV is for a group's results (--group ID); a session exports as jsonl or md",
        ));
    }
    let request = ControlRequest::SessionSetup { id };
    let setup = match client.request(request).await? {
        ControlResponse::Setup(setup) => *setup,
        other => return Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    };
    if args.format == Format::Md {
        return markdown(&client, &setup, args.out.as_deref(), ctx).await;
    }
    let header = studio_client::export::header(&setup);
    let summary = setup.summary;
    let mut out = Output::open(args.out.as_deref())?;
    // The bar shows only when writing a file from a terminal.
    let progress = progress_bar(summary.events, args.out.is_none() || ctx.json);
    let mut count = 0;
    let wrote = async {
        out.line(&header)?;
        client
            .each_events_page(summary.id, 0, |page| {
                for event in &page {
                    out.line(&event_json(event))?;
                }
                count += page.len() as u64;
                progress.inc(page.len() as u64);
                Ok::<_, CliError>(true)
            })
            .await
    }
    .await;
    progress.finish_and_clear();
    if let Err(err) = wrote {
        out.abandon();
        return Err(err);
    }
    let written = out.finish()?;
    if let Some(path) = written {
        if ctx.json {
            super::output::print_json(&json!({
                "session": summary.id.to_string(),
                "events": count,
                "file": path.display().to_string(),
            }));
        } else {
            errln!(
                "{count} events of {} written to {}",
                summary.id,
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes the Markdown transcript of the session `setup` describes.
async fn markdown(
    client: &studio_client::Client,
    setup: &Setup,
    path: Option<&Path>,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let events = client.all_events(setup.summary.id, 0).await?;
    // Control characters are shown, not written: a transcript is read in
    // terminals too.
    let transcript = studio_client::transcript::markdown(setup, &events);
    let text = super::output::terminal_safe(&transcript);
    if let Some(path) = write_whole(path, &text)? {
        if ctx.json {
            super::output::print_json(&json!({
                "session": setup.summary.id.to_string(),
                "events": events.len(),
                "file": path.display().to_string(),
            }));
        } else {
            errln!(
                "the transcript of {} written to {}",
                setup.summary.id,
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes the results of group `id`, every answer whole.
async fn group_results(
    client: &studio_client::Client,
    id: &str,
    args: &ExportArgs,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let (group, runs) = super::groups::whole(client, id, MAX_ANSWER_CHARS).await?;
    let text = match args.format {
        Format::Jsonl => results::jsonl(&group, &runs),
        Format::Csv => results::csv(&group, &runs)
            .map_err(|e| CliError::msg(format!("cannot write CSV: {e}")))?,
        Format::Md => results::markdown(&group, &runs),
    };
    // Control characters are shown, not written (as in a transcript): the
    // results are read in terminals too. JSON escapes its own.
    let text = super::output::terminal_safe(&text);
    if let Some(path) = write_whole(args.out.as_deref(), &text)? {
        if ctx.json {
            super::output::print_json(&json!({
                "group": group.id.to_string(),
                "runs": runs.len(),
                "file": path.display().to_string(),
            }));
        } else {
            errln!(
                "the results of {} runs of group {} written to {}",
                runs.len(),
                group.id.short(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes `text` to standard output, or whole to `path` (nothing is left
/// there when writing fails); the file's path once in place.
fn write_whole(path: Option<&Path>, text: &str) -> Result<Option<PathBuf>, CliError> {
    let mut out = Output::open(path)?;
    if let Err(err) = out.text(text) {
        out.abandon();
        return Err(err);
    }
    out.finish()
}

/// Standard output, or a temporary file next to the one asked for.
enum Output {
    Stdout(std::io::StdoutLock<'static>),
    File {
        file: std::io::BufWriter<std::fs::File>,
        temp: PathBuf,
        path: PathBuf,
    },
}

impl Output {
    fn open(path: Option<&Path>) -> Result<Self, CliError> {
        let Some(path) = path else {
            return Ok(Self::Stdout(std::io::stdout().lock()));
        };
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        let temp = path.with_file_name(name);
        let file = std::fs::File::create(&temp)
            .map_err(|e| CliError::msg(format!("cannot create {}: {e}", temp.display())))?;
        Ok(Self::File {
            file: std::io::BufWriter::new(file),
            temp,
            path: path.to_owned(),
        })
    }

    fn line(&mut self, value: &Value) -> Result<(), CliError> {
        let written = match self {
            Self::Stdout(out) => writeln!(out, "{}", safe_json(value)),
            Self::File { file, .. } => writeln!(file, "{value}"),
        };
        written.map_err(|e| CliError::msg(format!("cannot write the export: {e}")))
    }

    fn text(&mut self, text: &str) -> Result<(), CliError> {
        let written = match self {
            Self::Stdout(out) => out.write_all(text.as_bytes()),
            Self::File { file, .. } => file.write_all(text.as_bytes()),
        };
        written.map_err(|e| CliError::msg(format!("cannot write the export: {e}")))
    }

    /// Removes a file not finished (a failed export leaves nothing).
    fn abandon(self) {
        if let Self::File { temp, .. } = self {
            let _ = std::fs::remove_file(temp);
        }
    }

    /// Flushes, and puts a file in place; returns its path.
    fn finish(self) -> Result<Option<PathBuf>, CliError> {
        match self {
            Self::Stdout(mut out) => {
                out.flush()
                    .map_err(|e| CliError::msg(format!("cannot write the export: {e}")))?;
                Ok(None)
            }
            Self::File { file, temp, path } => {
                let failed = |e: std::io::Error| {
                    let _ = std::fs::remove_file(&temp);
                    CliError::msg(format!("cannot write {}: {e}", path.display()))
                };
                let file = file.into_inner().map_err(|e| failed(e.into_error()))?;
                file.sync_all().map_err(failed)?;
                std::fs::rename(&temp, &path).map_err(failed)?;
                Ok(Some(path))
            }
        }
    }
}
