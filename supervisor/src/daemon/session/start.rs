//! How a session begins: its workspace, MCP servers and cgroup resolved,
//! its worker spawned and held (`containment`), and once the worker
//! connects, its first events and the socket's tasks.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::agent::SafetyMode;
use protocol::control::{ControlError, ErrorKind};
use protocol::event::{EventKind, ExitInfo};
use protocol::launch::Launcher;
use protocol::worker::ToWorker;
use ractor::ActorRef;
use tokio::sync::mpsc;

use super::plugins::PLUGIN_PREFIX;
use super::worker_io::{Meter, read_worker, write_worker};
use super::{
    CONNECT_TIMEOUT, FAST_TICK, Opening, Phase, SLOW_TICK, SessionMsg, SessionState, Stop,
};
use crate::daemon::containment::SessionProcesses;
use crate::daemon::listener::WorkerLink;
use crate::daemon::stderr_tail::StderrTail;
use crate::daemon::{containment, history, mcp_oauth, providers, worker_process};

impl SessionState {
    /// Looks up the agent's MCP servers (and the installed plugins it
    /// names, `plugin:NAME`); one that is not configured is an
    /// `mcp.server.failed` and the session goes on without it.
    pub(super) async fn resolve_mcp_servers(&mut self) {
        let wanted = &self.record.agent.mcp_servers;
        if wanted.is_empty() {
            return;
        }
        let configured = match self.shared.store.mcp_servers().await {
            Ok(configured) => configured,
            Err(err) => {
                tracing::warn!(session = %self.id, %err, "cannot read the MCP servers");
                Vec::new()
            }
        };
        for name in wanted.clone() {
            if let Some(plugin) = name.strip_prefix(PLUGIN_PREFIX) {
                self.resolve_plugin(plugin).await;
                continue;
            }
            // One stored by an older release may break today's rules (a
            // server named `fs` would pass for the built-in tools).
            let found = configured.iter().find(|s| s.name == name);
            match found.map(|server| (server, server.validate())) {
                Some((_, Err(why))) => self.append(EventKind::McpServerFailed {
                    message: why,
                    server: name,
                }),
                Some((server, Ok(()))) => {
                    let server = self.shared.secrets.with_mcp_secrets(server.clone()).await;
                    let server = mcp_oauth::with_oauth(&self.shared.secrets, server).await;
                    self.setup.mcp_servers.push(server);
                }
                None => self.append(EventKind::McpServerFailed {
                    message: format!(
                        "no MCP server named {name:?} is configured (see studio mcp list)"
                    ),
                    server: name,
                }),
            }
        }
    }

    /// The agent's workspace, its own or its default one, as a real path
    /// that is not the data dir, inside it or above it (a `full` agent's
    /// own workspace is not checked: it is not confined anyway).
    pub(super) fn resolve_workspace(&self) -> std::io::Result<std::path::PathBuf> {
        let data_dir = &self.shared.config.data_dir;
        let agent = &self.record.agent;
        if agent.safety != SafetyMode::Full {
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            data_dir.check_sandbox_paths(&agent.sandbox, home.as_deref())?;
        }
        match &agent.workspace {
            None => data_dir.default_workspace(&agent.name),
            Some(dir) if agent.safety == SafetyMode::Full => Ok(dir.into()),
            Some(dir) => data_dir.check_workspace(std::path::Path::new(dir)),
        }
    }

    /// Spawns the worker. Failures end the session with `session.failed`.
    pub(super) async fn start(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.chat.opening == Opening::Run {
            let queued_ms = u64::try_from(self.queued_for.as_millis()).unwrap_or(u64::MAX);
            self.append(EventKind::RunStarted { queued_ms });
        }
        let token = match crate::auth::new_token() {
            Ok(token) => token,
            Err(err) => {
                return self
                    .fail_to_start(myself, format!("cannot create a worker token: {err}"))
                    .await;
            }
        };
        let provider = self.record.agent.provider;
        let stored_key = self.shared.secrets.key(provider).await;
        self.setup.endpoint = providers::endpoint(&self.record.agent, stored_key);
        self.resolve_mcp_servers().await;
        self.resolve_judges().await;
        // A replayed run goes on from its original's conversation.
        if self.chat.opening == Opening::Run && self.record.parent.is_some() {
            match history::inherited(&self.shared.store, self.id, self.record.parent).await {
                Ok(events) => self.setup.inherited = Some(events.into()),
                Err(err) => {
                    let why = format!("cannot read the conversation it goes on from: {err}");
                    return self.fail_to_start(myself, why).await;
                }
            }
        }
        let mut dir = match self.resolve_workspace() {
            Ok(dir) => dir,
            Err(err) => return self.fail_to_start(myself, err.to_string()).await,
        };
        if self.chat.opening == Opening::Run && self.record.agent.workspace_per_run.is_some() {
            match self.make_run_workspace(&dir).await {
                Ok(own) => dir = own,
                Err(err) => return self.fail_to_start(myself, err).await,
            }
        }
        self.record.agent.workspace = Some(dir.display().to_string());
        self.worker.connect_within = CONNECT_TIMEOUT;
        let pid = match self.launcher.clone() {
            Launcher::Local => match self.spawn_local(myself, &token).await {
                Some(pid) => pid,
                None => return,
            },
            Launcher::Slurm { partition } => {
                if !self.start_on_slurm(myself, token.clone(), partition).await {
                    return;
                }
                // Not on this machine.
                0
            }
        };
        if self.chat.opening == Opening::Resume {
            // Committed before the client hears the session is open, so a
            // follower never mistakes it for the ended session it was.
            if let Err(err) = self
                .sequencer
                .append_committed(EventKind::SessionResumed { pid })
                .await
            {
                tracing::error!(session = %self.id, %err, "cannot record the resume");
            }
        }
        if let Some(opened) = self.chat.opened.take() {
            let _ = opened.send(Ok(()));
        }
        drop(myself.send_after(self.worker.connect_within, || SessionMsg::ConnectTimeout));
        let period = if self.record.budgets.max_memory_mib.is_some() {
            FAST_TICK
        } else {
            SLOW_TICK
        };
        myself.send_interval(period, || SessionMsg::Tick);
    }

    /// Spawns the worker here, held in the session's namespaces and
    /// cgroup, and hands it `token`; its pid, or `None` when it failed
    /// (the session then ends).
    async fn spawn_local(&mut self, myself: &ActorRef<SessionMsg>, token: &str) -> Option<u32> {
        let config = &self.shared.config;
        let spawned = containment::spawn_worker(
            &config.worker_bin,
            &config.data_dir.worker_socket(),
            self.id,
            self.create_cgroup(),
            config.hold_sessions,
        )
        .await;
        let (processes, mut child) = match spawned {
            Ok(spawned) => spawned,
            Err(err) => {
                self.fail_to_start(myself, err.to_string()).await;
                return None;
            }
        };
        self.worker.stderr = child.stderr.take().map(StderrTail::follow);
        // Register the pid before the worker can know its token, so that
        // only this process can ever present it.
        let pid = processes.worker();
        self.shared
            .workers
            .expect(self.id, token.to_owned(), pid, myself.get_derived());
        self.live.pid.store(pid, Ordering::Relaxed);
        self.worker.processes = Some(processes);
        if let Err(err) = worker_process::send_token(&mut child, token).await {
            tracing::warn!(session = %self.id, %err, "cannot hand the worker its token");
        }
        let actor = myself.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => worker_process::exit_info(status),
                Err(_) => ExitInfo::default(),
            };
            let _ = actor.cast(SessionMsg::Exited(exit));
        });
        Some(pid)
    }

    /// The session's cgroup, limited to its memory budget (with headroom:
    /// sampling enforces the budget itself, the kernel stops what is too
    /// fast to sample) and its process limit; `None` where the machine
    /// gives none.
    pub(super) fn create_cgroup(&self) -> Option<containment::SessionCgroup> {
        if !self.shared.config.hold_sessions {
            return None;
        }
        let memory_max = self.record.budgets.max_memory_mib.map(|mib| {
            let headroom = (mib / 4).max(32);
            (mib + headroom) * 1024 * 1024
        });
        let pids_max = self.record.agent.sandbox.max_processes();
        match self.shared.cgroups.create(self.id, memory_max, pids_max) {
            Ok(cgroup) => cgroup,
            Err(err) => {
                tracing::warn!(session = %self.id, %err, "cannot create the session's cgroup");
                None
            }
        }
    }

    pub(super) async fn fail_to_start(&mut self, myself: &ActorRef<SessionMsg>, error: String) {
        tracing::error!(session = %self.id, %error, "worker did not start");
        if let Some(opened) = self.chat.opened.take() {
            let _ = opened.send(Err(ControlError::new(ErrorKind::Internal, error.clone())));
        }
        self.ending.failure = Some(error);
        self.worker.exit = Some(ExitInfo::default());
        self.finish_if_over(myself).await;
    }

    pub(super) fn connected(&mut self, myself: &ActorRef<SessionMsg>, link: WorkerLink) {
        if self.worker.exit.is_some()
            || matches!(self.ending.stop, Some(Stop::Kill(_) | Stop::Interrupt))
        {
            return;
        }
        self.phase = Phase::Connected;
        self.live.touch();
        // 0: a worker that is not on this machine (a cluster job's).
        let pid = self
            .worker
            .processes
            .as_ref()
            .map_or(0, SessionProcesses::worker);
        let agent = &self.record.agent;
        if self.chat.opening != Opening::Resume {
            self.append(EventKind::SessionStarted {
                pid,
                agent: agent.name.clone(),
                provider: agent.provider.to_string(),
                model: agent.model.clone(),
            });
        }
        if let Some(processes) = &self.worker.processes {
            let mut containment = processes.containment(&self.shared.cgroups);
            // What its commands will run without, if it confines them.
            if self.record.agent.safety != SafetyMode::Full {
                let support = self.shared.sandbox_support;
                containment.missing.extend(
                    support
                        .missing()
                        .into_iter()
                        .map(|m| format!("{m} for its commands' sandbox")),
                );
            }
            self.append(EventKind::SessionContained { containment });
        }
        if self.chat.opening == Opening::Run {
            self.append(EventKind::MessageUser {
                text: self.record.prompt.clone(),
            });
        }
        let meter = Meter::new(
            Arc::clone(&self.shared),
            self.record.agent.model.clone(),
            self.record.budgets.clone(),
            self.caps.clone(),
            self.setup.tape.is_some(),
        );
        let WorkerLink { reader, writer } = link;
        self.worker.reader = Some(tokio::spawn(read_worker(
            reader,
            Arc::clone(&self.sequencer),
            Arc::clone(&self.live),
            meter,
            myself.clone(),
        )));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_worker(writer, rx));
        self.worker.to_worker = Some(tx);
        if self.chat.opening == Opening::Run {
            let history = self
                .setup
                .inherited
                .as_deref()
                .map(history::conversation)
                .unwrap_or_default();
            let mut start = self.start_turn(history, self.record.prompt.clone());
            if let ToWorker::Start(turn) = &mut start {
                turn.tape = self.setup.tape.take();
                turn.setup = self.workspace_setup();
                self.ask_checks(turn);
            }
            self.send(start);
            if let Some(Stop::Cancel { .. }) = self.ending.stop {
                self.send(ToWorker::Cancel);
            }
        } else if let Some((text, reply)) = self.chat.early_say.take() {
            // A message waited for the worker (a replay going on as a
            // chat): its turn starts at once, with no idle before it.
            let _ = myself.cast(SessionMsg::Say(text, reply));
        } else if self
            .setup
            .plugin_servers
            .iter()
            .any(|p| !p.panels.is_empty())
        {
            // Its plugins' panels show before the first message: the
            // servers start first, and the chat is idle once they did.
            self.chat.in_turn = true;
            self.chat.preparing = true;
            let mut start = self.start_turn(Vec::new(), String::new());
            if let ToWorker::Start(turn) = &mut start {
                turn.servers_only = true;
            }
            self.send(start);
        } else {
            self.go_idle(myself, None);
        }
    }
}
