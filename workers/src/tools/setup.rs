//! Commands the person set up, run in the run's workspace as the `shell`
//! tool runs a command (in the agent's sandbox, its network as the agent
//! says) but allowed to write the workspace whatever the agent's safety
//! mode: the setup of a run's own workspace (`workspace_per_run.setup`),
//! once before its first turn (`workspace.setup`), and the group's
//! command checks once its last turn completes (`check.command`).

use protocol::event::EventKind;
use protocol::worker::StartTurn;

use super::{Context, shell};
use crate::connection::Outbox;

/// Longest a setup or a check may take, in seconds (an `npm ci`, a test
/// suite).
const COMMAND_TIMEOUT_SECS: u64 = 600;

/// Runs the setup `command` in the run's workspace; `Err` says why the
/// run cannot go on (the setup failed, or could not run).
pub async fn setup(
    start: &StartTurn,
    command: &str,
    outbox: &Outbox,
) -> anyhow::Result<Result<(), String>> {
    let (exit_code, output, ending) = run(start, command).await;
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

/// Runs each of the turn's command checks, one `check.command` each.
pub async fn check_commands(start: &StartTurn, outbox: &Outbox) -> anyhow::Result<()> {
    for command in &start.check_commands {
        let (exit_code, output, _) = run(start, command).await;
        outbox
            .event(EventKind::CheckCommandRan {
                command: command.clone(),
                exit_code,
                output,
            })
            .await?;
    }
    Ok(())
}

/// Runs `command` in the turn's workspace: its exit code, its output and
/// how it ended.
async fn run(start: &StartTurn, command: &str) -> (Option<i32>, String, String) {
    let context = match Context::for_turn(start) {
        Ok(context) => context.writing_workspace(),
        Err(why) => {
            let why = format!("could not run: {why}");
            return (None, why.clone(), why);
        }
    };
    match shell::execute(&context, command, Some(COMMAND_TIMEOUT_SECS)).await {
        Ok(ran) => (ran.code, ran.text, ran.ending),
        Err(why) => (None, why.clone(), why),
    }
}
