//! The Root actor: starts the Broker, the store, Approvals and the
//! Scheduler, and stops the daemon if one of its children fails.
//!
//! ractor has no restart strategies, and neither child can be restarted
//! without losing what it holds (the Scheduler parents every live session;
//! the store's writer thread publishes to this Broker). So a failure there
//! is treated as fatal: the daemon stops, every live session is recorded as
//! interrupted, and a restart recovers from the log.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use protocol::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::approvals::Approvals;
use super::broker::{Broker, BrokerMsg};
use super::containment::{self, Cgroups};
use super::listener::WorkerRegistry;
use super::scheduler::{Scheduler, SchedulerMsg};
use super::{DaemonConfig, PricingState, Shared, worker_process};
use crate::secrets::SecretStore;
use crate::store::{Store, WriterThread};

/// What the listeners need from the tree.
#[derive(Clone)]
pub(crate) struct Handles {
    pub(crate) shared: Arc<Shared>,
    pub(crate) scheduler: ActorRef<SchedulerMsg>,
}

/// Messages to Root.
pub(crate) enum RootMsg {
    /// Replies the handles.
    Handles(RpcReplyPort<Handles>),
    /// Stops the store's writer after what is queued; replies its thread.
    CloseStore(RpcReplyPort<Option<WriterThread>>),
}

/// The Root actor.
pub(crate) struct Root;

/// Root's children and the store's writer.
pub(crate) struct RootState {
    handles: Handles,
    writer: Option<WriterThread>,
}

impl Actor for Root {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = (
        DaemonConfig,
        String,
        protocol::sandbox::SandboxSupport,
        SecretStore,
    );

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (config, client_token, sandbox_support, secrets): (
            DaemonConfig,
            String,
            protocol::sandbox::SandboxSupport,
            SecretStore,
        ),
    ) -> Result<Self::State, ActorProcessingErr> {
        let (broker, _) =
            Actor::spawn_linked(Some("broker".to_owned()), Broker, (), myself.get_cell()).await?;
        let sink_broker = broker.clone();
        let sink = Box::new(move |committed| {
            let _ = sink_broker.cast(BrokerMsg::Committed(committed));
        });
        let (store, writer, interrupted) = Store::open(&config.data_dir.database(), sink)?;
        let custom_prices = store.pricing().await?;
        let rules = store.rules().await?;
        // A run limit given on the command line wins over the stored one.
        let mut limits = store.limits().await?;
        if let Some(max) = config.max_concurrent_runs {
            limits.max_concurrent_runs = max;
        }
        let (approvals, _) = Actor::spawn_linked(
            Some("approvals".to_owned()),
            Approvals,
            (store.clone(), rules),
            myself.get_cell(),
        )
        .await?;
        for session in &interrupted {
            tracing::warn!(session = %session.session, "session was live when the previous daemon stopped; marked interrupted");
            if let Some(pid) = session.pid
                && worker_process::is_worker_of(pid, session.session)
            {
                containment::kill_group(pid);
            }
        }
        // Those whose workers ran as cluster jobs: nothing of them stays.
        // Off the start-up path: an unreachable cluster must not hold the
        // daemon up.
        let left: Vec<_> = interrupted.iter().map(|s| s.session).collect();
        tokio::spawn(async move {
            let cancelling = super::slurm::cancel_left_jobs(&left);
            if tokio::time::timeout(std::time::Duration::from_secs(30), cancelling)
                .await
                .is_err()
            {
                tracing::warn!(
                    "the cluster did not answer: jobs of interrupted sessions may be left"
                );
            }
        });
        let cgroups = Cgroups::detect(std::process::id());
        tracing::info!(cgroups = %cgroups.describe(), "session cgroups");
        let shared = Arc::new(Shared {
            config,
            cgroups,
            sandbox_support,
            store: store.clone(),
            secrets,
            broker,
            workers: WorkerRegistry::default(),
            client_token,
            started_at: Timestamp::now(),
            next_subscription: AtomicU64::new(1),
            next_batch: AtomicU64::new(1),
            stop_requested: tokio::sync::Notify::new(),
            pricing: tokio::sync::RwLock::new(PricingState::new(custom_prices)),
            approvals,
            ledger: Default::default(),
            otlp: Default::default(),
            remote: std::sync::OnceLock::new(),
            jobs: Default::default(),
        });
        let (scheduler, _) = Actor::spawn_linked(
            Some("scheduler".to_owned()),
            Scheduler,
            (Arc::clone(&shared), limits),
            myself.get_cell(),
        )
        .await?;
        Ok(RootState {
            handles: Handles { shared, scheduler },
            writer: Some(writer),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::Handles(reply) => {
                let _ = reply.send(state.handles.clone());
            }
            RootMsg::CloseStore(reply) => {
                state.handles.shared.store.shutdown();
                let _ = reply.send(state.writer.take());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(actor = ?cell.get_name(), %err, "core actor failed; stopping the daemon");
                myself.stop(Some("core actor failed".to_owned()));
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                tracing::error!(actor = ?cell.get_name(), ?reason, "core actor stopped; stopping the daemon");
                myself.stop(Some("core actor stopped".to_owned()));
            }
            _ => {}
        }
        Ok(())
    }
}
