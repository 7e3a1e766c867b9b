//! The app's one connection to the daemon's control socket, owned by one
//! task: it sends what the components ask for ([`Command`]) and folds every
//! answer and push into the store as an [`Update`]. Components never talk
//! to the daemon themselves.
//!
//! It starts the daemon when none is running as the app opens (through
//! `studio daemon start`, as the CLI does), and reconnects after the
//! daemon restarts. A daemon stopped on purpose (`studio daemon stop`,
//! which removes its socket) is left stopped: the app says so and waits
//! for [`Command::StartDaemon`] or a daemon started elsewhere; one that
//! crashed (its socket left behind) is started again.
//!
//! Here: connecting, and the task's loop ([`run`]). [`command`]: what
//! components ask. `wire`: how a command becomes requests and an answer
//! becomes an update.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::control::ControlRequest;
use protocol::layout::Layout;
use protocol::{SessionId, Timestamp};
use studio_client::{Client, ClientError};
use tokio::sync::mpsc;

use crate::state::Update;

pub mod command;
mod export;
mod inherited;
mod requests;
mod sign_in;
mod wire;

pub use command::{Command, NewRule, RuleChanges};
pub use export::ExportFormat;
use requests::Asked;
use wire::{FollowUp, Incoming, Wire};

/// Pause between connection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// How often the approvals inbox and the sessions' live figures (events,
/// memory) are asked again: pushes carry status changes only.
const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// How often live durations move on.
const CLOCK_EVERY: Duration = Duration::from_secs(1);
/// Sessions listed at connect.
const SESSIONS_LISTED: u32 = 1000;

/// Which daemon to talk to, and how to start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The instance's files.
    pub layout: Layout,
    /// The `studio` executable, for `studio daemon start`.
    pub studio_bin: PathBuf,
}

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot start the daemon: {0}")]
    Start(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Runs until the app closes: connects (starting the daemon if needed),
/// serves the connection, and reconnects when it breaks.
pub async fn run(
    target: Target,
    mut commands: impl futures_util::Stream<Item = Command> + Unpin,
    mut update: impl FnMut(Update),
) {
    // The session the Inspector follows, followed again after a reconnect.
    let mut inspected: Option<SessionId> = None;
    loop {
        let reason = match connect(&target).await {
            Ok(client) => serve(client, &target, &mut commands, &mut update, &mut inspected).await,
            Err(err) => err.to_string(),
        };
        if stopped_on_purpose(&target) {
            tracing::info!("the daemon was stopped; waiting to be asked to start it");
            update(Update::Stopped);
            if !wait_for_start(&target, &mut commands, &mut update).await {
                return;
            }
            continue;
        }
        tracing::info!(%reason, "daemon connection down; retrying");
        update(Update::Disconnected(reason));
        tokio::time::sleep(RETRY).await;
    }
}

/// Whether no daemon runs because one was stopped cleanly: a stopping
/// daemon removes its socket, a crashed one leaves it behind.
fn stopped_on_purpose(target: &Target) -> bool {
    !target.layout.control_socket().exists()
}

/// While the daemon is stopped: returns when the person asked to start it
/// ([`Command::StartDaemon`]) or one was started elsewhere (its socket is
/// back); `false` when the app is closing. Other commands are refused
/// with a word.
async fn wait_for_start(
    target: &Target,
    commands: &mut (impl futures_util::Stream<Item = Command> + Unpin),
    update: &mut impl FnMut(Update),
) -> bool {
    let mut poll = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            _ = poll.tick() => if !stopped_on_purpose(target) {
                return true;
            },
            command = commands.next() => match command {
                None => return false,
                Some(Command::StartDaemon) => return true,
                Some(_) => update(Update::Failed(
                    "the daemon is stopped: start it first (the button at the top)".to_owned(),
                )),
            },
        }
    }
}

/// Connects and shakes hands (`studio_client`, as the CLI does),
/// starting the daemon when none listens.
async fn connect(target: &Target) -> Result<Client, ConnectError> {
    match Client::connect(&target.layout).await {
        Ok(client) => Ok(client),
        Err(ClientError::NotRunning(_)) => {
            start_daemon(target).await?;
            Ok(Client::connect(&target.layout).await?)
        }
        Err(err) => Err(err.into()),
    }
}

/// `studio daemon start`: returns once the daemon answers, or why not.
pub(crate) async fn start_daemon(target: &Target) -> Result<(), ConnectError> {
    tracing::info!("no daemon is running: starting one");
    let output = studio_process::command(&target.studio_bin, studio_process::ChildEnv::Inherit)
        .arg("--data-dir")
        .arg(target.layout.root())
        .args(["daemon", "start"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|err| ConnectError::Start(format!("{}: {err}", target.studio_bin.display())))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(ConnectError::Start(stderr.trim().to_owned()))
}

/// Serves one connection until it breaks; returns why. `inspected` is the
/// session the Inspector followed on the last connection (followed again
/// here: the store drops the events it holds already), and is left as the
/// one it follows when this connection ends.
async fn serve(
    client: Client,
    target: &Target,
    commands: &mut (impl futures_util::Stream<Item = Command> + Unpin),
    update: &mut impl FnMut(Update),
    inspected: &mut Option<SessionId>,
) -> String {
    let (incoming, mut frames) = mpsc::channel(256);
    let mut wire = Wire::new(client, incoming);
    let reason = pump(&mut wire, &mut frames, target, commands, update, *inspected).await;
    *inspected = wire.inspecting.map(|(_, session)| session);
    // An agent saved with rules whose answer never came: its rules were
    // never sent, and it is not known whether the agent was stored.
    for asked in wire.asked.into_values() {
        if let Asked::AgentSaved(name, rules) = asked
            && !rules.is_empty()
        {
            update(Update::Failed(format!(
                "the connection broke before agent {name} was saved; {}",
                rules.not_made(&name)
            )));
        }
    }
    reason
}

/// Sends the opening requests (and follows `inspected` again), then
/// carries commands and frames until the connection breaks; returns why.
async fn pump(
    wire: &mut Wire,
    frames: &mut mpsc::Receiver<Incoming>,
    target: &Target,
    commands: &mut (impl futures_util::Stream<Item = Command> + Unpin),
    update: &mut impl FnMut(Update),
    inspected: Option<SessionId>,
) -> String {
    // Every list the daemon owns is asked for once its watch is
    // subscribed (`Asked::ListWatch`); the status also at once, so the
    // app shows it is connected before anything else arrives.
    for (request, asked) in [
        (ControlRequest::Status, Asked::Status),
        (ControlRequest::WatchSessions, Asked::Stream),
        (ControlRequest::WatchLists, Asked::ListWatch),
        (
            ControlRequest::SessionList {
                all: true,
                limit: SESSIONS_LISTED,
            },
            Asked::Sessions,
        ),
        (ControlRequest::ApprovalList, Asked::Approvals),
    ] {
        if let Err(err) = wire.send(request, asked).await {
            return err.to_string();
        }
    }
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.tick().await;
    let mut clock = tokio::time::interval(CLOCK_EVERY);
    // Sign-ins run beside the connection and report here.
    let (sign_in_news, mut signing_in) = mpsc::unbounded_channel();
    if let Some(session) = inspected
        && let Err(err) = wire.command(Command::Inspect(session), update).await
    {
        return err.to_string();
    }
    loop {
        tokio::select! {
            _ = clock.tick() => update(Update::Tick(Timestamp::now())),
            Some((server, news)) = signing_in.recv() => update(Update::McpSignIn(server, news)),
            frame = frames.recv() => match frame {
                Some(Ok(frame)) => {
                    let sent = match wire.fold(frame, update) {
                        Some(FollowUp::Request(request, asked)) => wire.send(*request, asked).await.map(|_| ()),
                        Some(FollowUp::Requests(requests)) => wire.send_all(requests).await,
                        Some(FollowUp::Command(command)) => wire.command(command, update).await,
                        None => Ok(()),
                    };
                    if let Err(err) = sent {
                        return err.to_string();
                    }
                }
                // Refused before a byte was written (say, a huge batch):
                // the connection stays up.
                Some(Err(ClientError::TooLarge { len, max })) => update(Update::Failed(format!(
                    "not sent: the request takes {len} bytes, more than the {max} one message may hold"
                ))),
                Some(Err(err)) => return err.to_string(),
                None => return "the daemon closed the connection".to_owned(),
            },
            command = commands.next() => {
                let Some(command) = command else {
                    return "the app is closing".to_owned();
                };
                if let Command::SignInMcp(server) = command {
                    update(Update::McpSignIn(server.clone(), crate::state::SignIn::Waiting(None)));
                    tokio::spawn(sign_in::sign_in(target.clone(), server, sign_in_news.clone()));
                    continue;
                }
                if let Err(err) = wire.command(command, update).await {
                    return err.to_string();
                }
            }
            _ = refresh.tick() => {
                let sessions = ControlRequest::SessionList { all: true, limit: SESSIONS_LISTED };
                // Status too: it says when the store cannot write.
                for (request, asked) in [(ControlRequest::ApprovalList, Asked::Approvals), (sessions, Asked::Sessions), (ControlRequest::Status, Asked::Status)] {
                    if let Err(err) = wire.send(request, asked).await {
                        return err.to_string();
                    }
                }
            }
        }
    }
}

/// Aborts its task when dropped.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_daemon_binary_is_a_clear_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("{err}"));
        let tmp = std::env::temp_dir().join(format!("studio-ui-test-{}", std::process::id()));
        let target = Target {
            layout: Layout::new(&tmp),
            studio_bin: PathBuf::from("/nonexistent/studio"),
        };
        let err = runtime
            .block_on(connect(&target))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("cannot start the daemon: /nonexistent/studio"),
            "{err}"
        );
    }
}
