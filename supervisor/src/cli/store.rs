//! `studio daemon check` and `studio daemon salvage`: the database file
//! decoded record by record, and every readable record copied to a new one.

use std::path::PathBuf;

use clap::Args;
use protocol::control::{ControlRequest, ControlResponse, StoreReport, TableReport};
use studio_client::{Client, ClientError};
use supervisor::store::{self, SalvageReport, StoreError};

use super::batch::progress_bar;
use super::output::print_json;
use super::{CliError, Ctx};

/// Exit code of `studio daemon check` when records do not decode.
pub(crate) const DAMAGED: u8 = 6;

#[derive(Args, Debug)]
pub(crate) struct SalvageArgs {
    /// The new file [default: studio.salvaged.redb in the data dir].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Put the new file in place of the damaged one, which is kept next to
    /// it as studio.redb.corrupt-TIME.
    #[arg(long)]
    replace: bool,
}

/// `studio daemon check`: reads the file itself when no daemon holds it,
/// else asks the daemon to (in one read transaction).
pub(crate) async fn check(ctx: &Ctx) -> Result<(), CliError> {
    let path = ctx.dir.database();
    if !path.exists() {
        return Err(CliError {
            message: format!("no database at {}", path.display()),
            code: 4,
        });
    }
    let bar = progress_bar(0, ctx.json);
    let shown = bar.clone();
    let scanned = blocking(move || {
        store::check(&path, &|read, total| {
            shown.set_length(total);
            shown.set_position(read);
        })
    })
    .await;
    bar.finish_and_clear();
    let report = match scanned {
        Ok(report) => report,
        Err(StoreError::AlreadyOpen(_)) => ask_daemon(ctx).await?,
        Err(err) => return Err(unreadable(err)),
    };
    show_check(&report, ctx);
    if report.damaged.is_empty() {
        return Ok(());
    }
    Err(CliError {
        message: format!(
            "{} damaged record(s); `studio daemon salvage` copies every readable record to a new file",
            report.damaged.len()
        ),
        code: DAMAGED,
    })
}

/// The daemon holds the file: it checks it.
async fn ask_daemon(ctx: &Ctx) -> Result<StoreReport, CliError> {
    if !ctx.json {
        errln!("the daemon has the file open: it checks it (this reads every record)");
    }
    let client = Client::connect(&ctx.dir).await?;
    match client.request(ControlRequest::StoreCheck).await? {
        ControlResponse::StoreCheck(report) => Ok(report),
        other => Err(CliError::msg(format!("unexpected answer: {other:?}"))),
    }
}

fn show_check(report: &StoreReport, ctx: &Ctx) {
    if ctx.json {
        print_json(&serde_json::json!({
            "path": report.path,
            "clean": report.damaged.is_empty(),
            "records": report.records(),
            "tables": tables_json(&report.tables),
            "damaged": damaged_json(&report.damaged),
        }));
        return;
    }
    outln!(
        "{}: {} records in {} tables",
        report.path,
        report.records(),
        report.tables.len()
    );
    for table in &report.tables {
        outln!(
            "  {:<12} {:>10} records{}",
            table.name,
            table.records,
            damaged_note(table.damaged, "damaged")
        );
    }
    if report.damaged.is_empty() {
        outln!("every record decodes");
    } else {
        outln!("damaged:");
        show_damaged(&report.damaged);
    }
}

fn damaged_note(count: u64, word: &str) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(", {count} {word}")
    }
}

fn show_damaged(damaged: &[protocol::control::DamagedRecord]) {
    // A session's records are keyed by its id: the key names the session.
    for record in damaged {
        outln!("  {} {}: {}", record.table, record.key, record.error);
    }
}

fn tables_json(tables: &[TableReport]) -> serde_json::Value {
    tables
        .iter()
        .map(|t| serde_json::json!({ "name": t.name, "records": t.records, "damaged": t.damaged }))
        .collect()
}

fn damaged_json(damaged: &[protocol::control::DamagedRecord]) -> serde_json::Value {
    damaged
        .iter()
        .map(|d| {
            serde_json::json!({
                "table": d.table,
                "key": d.key,
                "session": d.session.map(|s| s.to_string()),
                "error": d.error,
            })
        })
        .collect()
}

/// `studio daemon salvage`: only with the daemon stopped.
pub(crate) async fn salvage(args: SalvageArgs, ctx: &Ctx) -> Result<(), CliError> {
    match Client::connect(&ctx.dir).await {
        Err(ClientError::NotRunning(_)) => {}
        _ => return Err(running()),
    }
    let from = ctx.dir.database();
    if !from.exists() {
        return Err(CliError {
            message: format!("no database at {}", from.display()),
            code: 4,
        });
    }
    let to = args
        .out
        .unwrap_or_else(|| from.with_file_name("studio.salvaged.redb"));
    let bar = progress_bar(0, ctx.json);
    let shown = bar.clone();
    let (source, target) = (from.clone(), to.clone());
    let salvaged = blocking(move || {
        store::salvage(&source, &target, &|read, total| {
            shown.set_length(total);
            shown.set_position(read);
        })
    })
    .await;
    bar.finish_and_clear();
    let report = match salvaged {
        Ok(report) => report,
        Err(StoreError::AlreadyOpen(_)) => return Err(running()),
        Err(StoreError::Conflict(message)) => return Err(CliError::invalid(message)),
        Err(err) => return Err(unreadable(err)),
    };
    let kept = if args.replace {
        let (db, new) = (from.clone(), to.clone());
        match blocking(move || store::replace_with_salvaged(&db, &new)).await {
            Ok(kept) => Some(kept),
            Err(StoreError::AlreadyOpen(_)) => return Err(running()),
            Err(err) => return Err(CliError::msg(err.to_string())),
        }
    } else {
        None
    };
    show_salvage(&report, kept.as_deref(), ctx);
    Ok(())
}

fn show_salvage(report: &SalvageReport, kept: Option<&std::path::Path>, ctx: &Ctx) {
    if ctx.json {
        print_json(&serde_json::json!({
            "from": report.from,
            "to": report.to,
            "copied": report.copied(),
            "tables": tables_json(&report.tables),
            "left_out": damaged_json(&report.left_out),
            "repaired": report.repaired,
            "replaced": kept.is_some(),
            "kept_as": kept,
        }));
        return;
    }
    if report.repaired {
        outln!("the file was not closed cleanly: redb repaired a copy of it first");
    }
    outln!(
        "copied {} records from {} to {}",
        report.copied(),
        report.from.display(),
        report.to.display()
    );
    for table in &report.tables {
        outln!(
            "  {:<12} {:>10} records{}",
            table.name,
            table.records,
            damaged_note(table.damaged, "left out")
        );
    }
    if report.left_out.is_empty() {
        outln!("nothing was left out");
    } else {
        outln!(
            "left out (still in {}):",
            kept.unwrap_or(&report.from).display()
        );
        show_damaged(&report.left_out);
    }
    match kept {
        Some(kept) => outln!(
            "{} is now the salvaged file; the damaged one is kept as {}",
            report.from.display(),
            kept.display()
        ),
        None => outln!(
            "to use it, with the daemon stopped: `mv {from} {from}.corrupt && mv {to} {from}` (or run `studio daemon salvage --replace`, which keeps the old file as {from}.corrupt-TIME)",
            from = report.from.display(),
            to = report.to.display()
        ),
    }
}

fn running() -> CliError {
    CliError::invalid(
        "the daemon is running: stop it first (`studio daemon stop`); salvage reads the file while nothing writes to it",
    )
}

/// An error from reading the file; one redb itself cannot open is named so.
fn unreadable(err: StoreError) -> CliError {
    match err {
        StoreError::Open { path, source } => CliError::msg(format!(
            "redb cannot open {}: {source}. The damage is in redb's own structures (page tables or checksums), not only in records: it cannot be read record by record; restore the file from a backup",
            path.display()
        )),
        other => CliError::msg(other.to_string()),
    }
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| {
            Err(StoreError::Io {
                context: "the check stopped".to_owned(),
                source: std::io::Error::other(err.to_string()),
            })
        })
}
