//! `studio diff RUN` and `studio apply RUN`: what a run changed in its
//! own workspace (an agent's `workspace_per_run`), and bringing it into
//! the workspace it was made from.

use std::io::IsTerminal;

use clap::Args;
use protocol::control::{ControlRequest, ControlResponse};
use protocol::workspace::{Changes, RunWorkspace, WorkspaceKind};
use serde_json::json;

use super::output::{print_json, table, terminal_safe, write_stdout};
use super::{CliError, Ctx};

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The run (id, short id or prefix).
    run: String,
    /// Only the files with lines added and removed, not the patch.
    #[arg(long)]
    stat: bool,
    /// How its result differs from this other run's (the old side).
    #[arg(long, value_name = "RUN")]
    against: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ApplyArgs {
    /// The run (id, short id or prefix).
    run: String,
    /// Only check that its changes apply; write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) async fn diff(args: DiffArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = ControlRequest::WorkspaceDiff {
        id: args.run,
        against: args.against,
    };
    let ControlResponse::Diff(diff) = client.request(request).await? else {
        return Err(CliError::msg("unexpected answer to diff"));
    };
    if ctx.json {
        print_json(&json!({
            "workspace": workspace_json(&diff.workspace),
            "changes": changes_json(&diff.changes),
            "patch": diff.patch,
            "patch_cut": diff.patch_cut,
            "against": diff.against.map(|a| a.to_string()),
        }));
        return Ok(());
    }
    if args.stat || diff.changes.is_empty() {
        print_changes(&diff.changes);
        return Ok(());
    }
    // Raw into a pipe (`studio diff RUN | git apply`); on a terminal the
    // agent-written text cannot drive it.
    if std::io::stdout().is_terminal() {
        write_stdout(&terminal_safe(&diff.patch));
    } else {
        write_stdout(&diff.patch);
    }
    if diff.patch_cut {
        errln!("(the patch was cut; `studio apply` applies the whole of it)");
    }
    Ok(())
}

pub(crate) async fn apply(args: ApplyArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let request = ControlRequest::Apply {
        id: args.run,
        dry_run: args.dry_run,
    };
    let ControlResponse::Applied(report) = client.request(request).await? else {
        return Err(CliError::msg("unexpected answer to apply"));
    };
    if ctx.json {
        print_json(&json!({
            "origin": report.origin,
            "applied": report.applied,
            "changes": changes_json(&report.changes),
        }));
        return Ok(());
    }
    if report.changes.is_empty() {
        outln!("the run changed nothing: nothing to apply");
        return Ok(());
    }
    print_changes(&report.changes);
    if report.applied {
        outln!("applied to {}", report.origin);
    } else {
        outln!("these apply cleanly to {} (nothing written)", report.origin);
    }
    Ok(())
}

/// One line per file, then the totals.
fn print_changes(changes: &Changes) {
    if changes.is_empty() {
        outln!("no changes");
        return;
    }
    let mut t = table(&["FILE", "+", "-"]);
    for file in &changes.files {
        let (added, removed) = if file.binary {
            ("bin".to_owned(), "bin".to_owned())
        } else {
            (file.added.to_string(), file.removed.to_string())
        };
        t.add_row(vec![file.path.clone(), added, removed]);
    }
    outln!("{t}");
    if changes.more > 0 {
        outln!("and {} more file(s)", changes.more);
    }
    outln!("{}", changes.short());
}

/// The JSON of a run's changes (as `studio group --json` gives them too).
pub(crate) fn changes_json(changes: &Changes) -> serde_json::Value {
    json!({
        "files_changed": changes.file_count(),
        "lines_added": changes.added,
        "lines_removed": changes.removed,
        "files": changes.files.iter().map(|f| json!({
            "path": f.path, "added": f.added, "removed": f.removed, "binary": f.binary,
        })).collect::<Vec<_>>(),
    })
}

fn workspace_json(workspace: &RunWorkspace) -> serde_json::Value {
    let (kind, branch) = match &workspace.kind {
        WorkspaceKind::Worktree { branch } => ("worktree", Some(branch.as_str())),
        WorkspaceKind::Copy => ("copy", None),
    };
    json!({
        "kind": kind,
        "branch": branch,
        "path": workspace.path,
        "origin": workspace.origin,
        "base": workspace.base,
    })
}
