//! The setup command of a run's own workspace (`workspace_per_run.setup`):
//! run once, before the run's first turn, as the `shell` tool runs a
//! command (in the agent's sandbox, its network as the agent says) but
//! allowed to write the workspace whatever the agent's safety mode, and
//! recorded as `workspace.setup`.

use protocol::event::EventKind;
use protocol::worker::StartTurn;

use super::{Context, shell};
use crate::connection::Outbox;

/// Longest a setup may take, in seconds (an `npm ci` of a large project).
const SETUP_TIMEOUT_SECS: u64 = 600;

/// Runs `command` in the run's workspace; `Err` says why the run cannot
/// go on (the setup failed, or could not run).
pub async fn run(
    start: &StartTurn,
    command: &str,
    outbox: &Outbox,
) -> anyhow::Result<Result<(), String>> {
    let context = match Context::for_turn(start) {
        Ok(context) => context.writing_workspace(),
        Err(why) => return Ok(Err(format!("the workspace's setup could not run: {why}"))),
    };
    let (exit_code, output, ending) =
        match shell::execute(&context, command, Some(SETUP_TIMEOUT_SECS)).await {
            Ok(ran) => (ran.code, ran.text, ran.ending),
            Err(why) => (None, why.clone(), why),
        };
    outbox
        .event(EventKind::WorkspaceSetup {
            command: command.to_owned(),
            exit_code,
            output,
        })
        .await?;
    Ok(match exit_code {
        Some(0) => Ok(()),
        _ => Err(format!("the workspace's setup command failed ({ending})")),
    })
}
