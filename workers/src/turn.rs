//! The command loop: waits for `Start`, runs the turn while still
//! listening for commands, and ends it with exactly one `Done`.
//!
//! Cancellation drops the running turn future, so the turn stops at its
//! next await point and sends nothing more; `Done(Cancelled)` follows at
//! once. Events the turn queued before that are still delivered, in order.

use protocol::ProviderKind;
use protocol::SessionId;
use protocol::worker::{FromWorker, StartTurn, ToWorker, TurnOutcome};
use tokio::sync::mpsc;

use crate::connection::Outbox;
use crate::{agent, mcp, scripted, tape};

/// Serves commands until the connection ends (or fails).
///
/// `session` is the session this worker was started for; turns for any
/// other session are refused.
pub async fn serve(
    session: SessionId,
    commands: &mut mpsc::UnboundedReceiver<ToWorker>,
    outbox: &Outbox,
) -> anyhow::Result<()> {
    let mut hub = mcp::Hub::default();
    while let Some(command) = commands.recv().await {
        match command {
            ToWorker::Start(start) => run_turn(session, *start, &mut hub, commands, outbox).await?,
            ToWorker::Cancel => tracing::debug!("cancel while idle: nothing to cancel"),
            other => ignore(&other),
        }
    }
    Ok(())
}

/// Runs one turn to its `Done`, honouring `Cancel` meanwhile and passing
/// approval decisions to the turn.
async fn run_turn(
    session: SessionId,
    start: StartTurn,
    hub: &mut mcp::Hub,
    commands: &mut mpsc::UnboundedReceiver<ToWorker>,
    outbox: &Outbox,
) -> anyhow::Result<()> {
    let outcome = match refusal(session, &start) {
        Some(error) => {
            tracing::warn!("refusing the turn: {error}");
            TurnOutcome::Failed { error }
        }
        None => {
            let (decide, mut decisions) = mpsc::unbounded_channel();
            let turn = async {
                if let Some(setup) = &start.setup
                    && let Err(error) = crate::tools::setup::setup(&start, setup, outbox).await?
                {
                    return Ok(TurnOutcome::Failed { error });
                }
                let sandbox = crate::tools::Context::for_turn(&start)
                    .ok()
                    .map(|c| c.sandbox);
                let plugins = crate::mcp::plugin_policies(&start);
                hub.sync(
                    &crate::mcp::wanted(&start, sandbox.as_ref(), &plugins),
                    outbox,
                )
                .await?;
                hub.read_panels(&start.plugin_servers, outbox).await?;
                let outcome = if let Some(call) = &start.app_call {
                    agent::app_call(&start, call, hub, &mut decisions, outbox).await?
                } else if let Some(tape) = &start.tape {
                    tape::play(&start, tape, hub, &mut decisions, outbox).await?
                } else if start.agent.provider == ProviderKind::Scripted {
                    scripted::run(&start, hub, &mut decisions, outbox).await?;
                    TurnOutcome::Completed
                } else {
                    agent::run(&start, hub, &mut decisions, outbox).await?
                };
                if outcome == TurnOutcome::Completed {
                    crate::tools::setup::check_commands(&start, outbox).await?;
                    crate::judge::ask_all(&start, outbox).await?;
                }
                Ok::<_, anyhow::Error>(outcome)
            };
            tokio::pin!(turn);
            loop {
                tokio::select! {
                    // Commands first: a Cancel that arrived is honoured even
                    // if the turn could make progress too.
                    biased;
                    command = commands.recv() => match command {
                        Some(ToWorker::Cancel) => {
                            tracing::debug!("turn cancelled");
                            break TurnOutcome::Cancelled;
                        }
                        Some(ToWorker::ApprovalDecision { call_id, approved, reason }) => {
                            let _ = decide.send(agent::Decision { call_id, approved, reason });
                        }
                        Some(other) => ignore(&other),
                        // The reader is gone, so the worker is ending.
                        None => return Ok(()),
                    },
                    finished = &mut turn => break finished?,
                }
            }
        }
    };
    outbox.send(FromWorker::Done(outcome)).await?;
    outbox.flush().await
}

/// Why this worker cannot run `start`, if it cannot.
fn refusal(session: SessionId, start: &StartTurn) -> Option<String> {
    if start.session != session {
        return Some(format!(
            "turn for session {} sent to the worker of session {session}",
            start.session
        ));
    }
    if start.agent.provider == ProviderKind::Scripted {
        return scripted::check(&start.script).err();
    }
    None
}

/// Logs a command that has no effect in the current state.
fn ignore(command: &ToWorker) {
    match command {
        ToWorker::ApprovalDecision { call_id, .. } => {
            tracing::debug!(
                call_id,
                "approval decision ignored: no tool call is waiting"
            );
        }
        ToWorker::Start(_) => tracing::warn!("Start while a turn is running: ignored"),
        other => tracing::debug!("command ignored: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use protocol::AgentConfig;

    use super::*;

    fn start(session: SessionId) -> StartTurn {
        StartTurn {
            session,
            agent: AgentConfig::scripted("a"),
            history: Vec::new(),
            input: "hi".to_owned(),
            script: protocol::Script::default(),
            tools: Vec::new(),
            endpoint: None,
            mcp_servers: Vec::new(),
            plugin_servers: Vec::new(),
            sandbox_support: Default::default(),
            tape: None,
            setup: None,
            check_commands: Vec::new(),
            judges: Vec::new(),
            app_call: None,
        }
    }

    #[test]
    fn a_valid_scripted_turn_is_accepted() {
        let session = SessionId::new();
        assert_eq!(refusal(session, &start(session)), None);
    }

    #[test]
    fn turns_for_other_sessions_and_bad_scripts_are_refused() {
        let session = SessionId::new();
        let other = refusal(session, &start(SessionId::new())).unwrap();
        assert!(other.contains("sent to the worker of session"), "{other}");

        let mut openai = start(session);
        openai.agent.provider = ProviderKind::OpenAi;
        openai.script.chunk_chars = 0;
        assert_eq!(
            refusal(session, &openai),
            None,
            "scripts do not matter to real providers"
        );

        let mut bad = start(session);
        bad.script.chunk_chars = 0;
        assert!(refusal(session, &bad).is_some());
    }
}
