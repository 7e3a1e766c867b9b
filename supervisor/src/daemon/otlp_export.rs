//! Continuous OTLP export: once a client has set an endpoint (`studio
//! otlp set`, [`ControlRequest::SetOtlp`]), [`run`] sends every turn that
//! ends (a chat's `session.idle`, a session's terminal event) as spans
//! (`crate::otlp`), from the committed events only.
//!
//! It learns which sessions to look at from the Broker's status changes,
//! and at start (or after falling behind) from the sessions active since
//! [`OtlpExportSetting::sent_before`], the point before which every turn
//! was sent. That point is stored only while nothing is waiting, a minute
//! behind, so a daemon that dies loses no turn; it may send the turns of
//! its last minute again, with the same span ids.
//!
//! A failed send is tried again with a growing pause (up to
//! [`MAX_BACKOFF`]); `studio otlp status` shows the last error.
//!
//! [`ControlRequest::SetOtlp`]: protocol::control::ControlRequest::SetOtlp

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::control::OtlpSettings;
use protocol::{Secret, SessionId, SessionStatus, Timestamp};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Shared;
use super::broker::{BrokerItem, BrokerMsg, Topic};
use crate::otlp::{self, SessionFacts, Target};
use crate::store::StoreError;
use crate::store::records::OtlpExportSetting;

/// The longest pause between two failed sends.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How far behind now the stored [`OtlpExportSetting::sent_before`] is
/// kept, for turns whose status change arrives late.
const SAFETY_MARGIN: Duration = Duration::from_secs(60);

/// Where the secret store keeps the header values.
const HEADERS_SECRET: &str = "otlp/headers";

/// The exporter's side of [`Shared`]: the target it sends to, and what
/// it did, for `studio otlp status`.
#[derive(Debug)]
pub(crate) struct OtlpExport {
    target: watch::Sender<Option<Arc<Target>>>,
    stats: Mutex<OtlpSettings>,
}

impl Default for OtlpExport {
    fn default() -> Self {
        Self {
            target: watch::Sender::new(None),
            stats: Mutex::new(OtlpSettings::default()),
        }
    }
}

impl OtlpExport {
    /// What `studio otlp status` shows.
    pub(crate) fn status(&self) -> OtlpSettings {
        let mut status = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let target = self.target.borrow();
        status.url = target.as_ref().map(|t| t.url.clone());
        status.header_names = target
            .as_ref()
            .map(|t| t.headers.iter().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default();
        status
    }

    fn update(&self, change: impl FnOnce(&mut OtlpSettings)) {
        if let Ok(mut stats) = self.stats.lock() {
            change(&mut stats);
        }
    }
}

/// Sets (or with `url` `None`, stops) the export: the header values into
/// the secret store, the URL and header names into the database, then the
/// running exporter. Turns that ended before export was first set are not
/// sent; those waiting when it is set again go to the new endpoint.
pub(crate) async fn set(
    shared: &Shared,
    url: Option<String>,
    headers: Vec<(String, Secret)>,
) -> Result<OtlpSettings, SetError> {
    let target = match url {
        Some(url) => {
            let url = otlp::traces_url(&url).map_err(|e| SetError::Invalid(e.to_string()))?;
            otlp::check_headers(&headers).map_err(|e| SetError::Invalid(e.to_string()))?;
            Some(Target { url, headers })
        }
        None => None,
    };
    let headers = target
        .as_ref()
        .map(|t| t.headers.as_slice())
        .unwrap_or_default();
    if headers.is_empty() {
        shared
            .secrets
            .remove(HEADERS_SECRET)
            .await
            .map_err(|e| SetError::Secrets(e.to_string()))?;
    } else {
        let values =
            serde_json::to_string(headers).map_err(|e| SetError::Secrets(e.to_string()))?;
        shared
            .secrets
            .set(HEADERS_SECRET, Secret::new(values))
            .await
            .map_err(|e| SetError::Secrets(e.to_string()))?;
    }
    // Turns still waiting to be sent go to the new endpoint too: only a
    // first `set` starts from now.
    let before = shared.store.otlp_export().await?;
    let sent_before = match (&before.url, &target) {
        (Some(_), Some(_)) => before.sent_before,
        _ => Timestamp::now(),
    };
    let setting = OtlpExportSetting {
        url: target.as_ref().map(|t| t.url.clone()),
        header_names: headers.iter().map(|(name, _)| name.clone()).collect(),
        sent_before,
    };
    shared.store.put_otlp_export(&setting).await?;
    shared.otlp.update(|stats| {
        stats.last_error = None;
        stats.pending_sessions = 0;
    });
    shared.otlp.target.send_replace(target.map(Arc::new));
    Ok(shared.otlp.status())
}

/// Why [`set`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetError {
    /// A bad URL or header name.
    #[error("{0}")]
    Invalid(String),
    /// The header values could not be stored.
    #[error("cannot keep the header values: {0}")]
    Secrets(String),
    /// The setting could not be stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The exporter: loads the stored target, then sends ended turns to
/// whichever target is set, until the daemon stops.
pub(crate) async fn run(shared: Arc<Shared>) {
    if let Some(target) = stored_target(&shared).await {
        shared.otlp.target.send_replace(Some(Arc::new(target)));
    }
    let mut targets = shared.otlp.target.subscribe();
    loop {
        let target = targets.borrow_and_update().clone();
        if let Some(target) = target {
            let sent_before = match shared.store.otlp_export().await {
                Ok(setting) => setting.sent_before,
                Err(err) => {
                    tracing::warn!(%err, "cannot read how far OTLP export got; sending from now on");
                    Timestamp::now()
                }
            };
            tokio::select! {
                () = export_to(&shared, &target, sent_before) => {}
                changed = targets.changed() => if changed.is_err() { return },
            }
        } else if targets.changed().await.is_err() {
            return;
        }
    }
}

/// The stored target with its header values, if export is set.
async fn stored_target(shared: &Shared) -> Option<Target> {
    let setting = match shared.store.otlp_export().await {
        Ok(setting) => setting,
        Err(err) => {
            tracing::warn!(%err, "cannot read the OTLP export setting; export is off");
            return None;
        }
    };
    let url = setting.url?;
    let mut headers = Vec::new();
    if !setting.header_names.is_empty() {
        let stored = shared.secrets.get(HEADERS_SECRET).await.ok().flatten();
        match stored.and_then(|s| serde_json::from_str::<Vec<(String, Secret)>>(s.expose()).ok()) {
            Some(values) => headers = values,
            None => {
                tracing::warn!(
                    url,
                    "the OTLP headers' values are missing; export is off until set again"
                );
                return None;
            }
        }
    }
    Some(Target { url, headers })
}

/// What the exporter knows of the sessions it watches.
struct Exporting {
    /// Every turn that ended before this was sent.
    sent_before: Timestamp,
    /// For sessions sent since: when their last sent turn ended.
    sent: HashMap<SessionId, Timestamp>,
    /// Sessions with a turn that may have ended unsent.
    dirty: HashMap<SessionId, SessionFacts>,
}

async fn export_to(shared: &Shared, target: &Target, sent_before: Timestamp) {
    let sender = match otlp::Sender::new(target) {
        Ok(sender) => sender,
        Err(err) => {
            tracing::warn!(%err, "OTLP export cannot start");
            shared.otlp.update(|s| s.last_error = Some(err.to_string()));
            return std::future::pending().await;
        }
    };
    let mut state = Exporting {
        sent_before,
        sent: HashMap::new(),
        dirty: HashMap::new(),
    };
    let mut changes = subscribe(shared);
    state.scan(shared).await;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut keep = tokio::time::interval(Duration::from_secs(15));
    let mut backoff = Duration::from_secs(1);
    let mut next_try = Instant::now();
    loop {
        tokio::select! {
            item = changes.recv() => match item {
                Some(BrokerItem::Changed(summary)) => {
                    if summary.status == SessionStatus::Idle || summary.status.is_terminal() {
                        state.dirty.insert(summary.id, facts_of(&summary));
                    }
                }
                Some(_) => {}
                None => {
                    // Dropped for falling behind: look again at everything.
                    changes = subscribe(shared);
                    state.scan(shared).await;
                }
            },
            _ = tick.tick() => {
                shared.otlp.update(|s| s.pending_sessions = u32::try_from(state.dirty.len()).unwrap_or(u32::MAX));
                if state.dirty.is_empty() || Instant::now() < next_try {
                    continue;
                }
                match state.flush(shared, &sender).await {
                    Ok(()) => backoff = Duration::from_secs(1),
                    Err(error) => {
                        tracing::warn!(url = target.url, %error, "OTLP export failed; trying again");
                        shared.otlp.update(|s| s.last_error = Some(error));
                        next_try = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            _ = keep.tick() => state.keep(shared).await,
        }
    }
}

fn subscribe(shared: &Shared) -> mpsc::Receiver<BrokerItem> {
    let id = shared
        .next_subscription
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(4096);
    let topic = Topic::AllSessions;
    if shared
        .broker
        .cast(BrokerMsg::Subscribe { id, topic, tx })
        .is_err()
    {
        tracing::warn!("the broker is gone; OTLP export sees no new turns");
    }
    rx
}

fn facts_of(summary: &protocol::control::SessionSummary) -> SessionFacts {
    SessionFacts {
        agent: summary.agent.clone(),
        group: summary.batch,
        label: summary.label.clone(),
    }
}

impl Exporting {
    /// Marks every session active since `sent_before` as dirty.
    async fn scan(&mut self, shared: &Shared) {
        match shared.store.sessions(true, usize::MAX).await {
            Ok(sessions) => {
                for summary in sessions {
                    if summary.last_activity >= self.sent_before {
                        self.dirty.insert(summary.id, facts_of(&summary));
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "OTLP export cannot list sessions"),
        }
    }

    /// Sends the unsent ended turns of every dirty session, in one export.
    async fn flush(&mut self, shared: &Shared, sender: &otlp::Sender) -> Result<(), String> {
        let mut spans = Vec::new();
        let mut last_ends = Vec::new();
        let mut turn_count = 0u64;
        for (session, facts) in &self.dirty {
            let events = shared
                .store
                .events(*session, 0, usize::MAX)
                .await
                .map_err(|e| format!("reading the events of {session}: {e}"))?;
            let sent = self.sent.get(session).copied();
            let turns: Vec<otlp::Turn> = otlp::turns(*session, facts, &events)
                .into_iter()
                .filter(|turn| {
                    turn.ended_at >= self.sent_before && sent.is_none_or(|at| turn.ended_at > at)
                })
                .collect();
            if let Some(last) = turns.last() {
                last_ends.push((*session, last.ended_at));
            }
            turn_count += turns.len() as u64;
            spans.extend(turns.into_iter().flat_map(|turn| turn.spans));
        }
        let count = if spans.is_empty() {
            0
        } else {
            sender.send(spans).await.map_err(|e| e.to_string())?
        };
        for (session, ended) in last_ends {
            self.sent.insert(session, ended);
        }
        self.dirty.clear();
        shared.otlp.update(|s| {
            s.exported_turns += turn_count;
            s.exported_spans += count as u64;
            s.pending_sessions = 0;
            s.last_error = None;
            if count > 0 {
                s.last_export_at = Some(Timestamp::now());
            }
        });
        Ok(())
    }

    /// Stores how far export got, while nothing waits, a margin behind.
    async fn keep(&mut self, shared: &Shared) {
        if !self.dirty.is_empty() {
            return;
        }
        let now = Timestamp::now();
        let margin = u64::try_from(SAFETY_MARGIN.as_micros()).unwrap_or(u64::MAX);
        let point = Timestamp(now.0.saturating_sub(margin)).max(self.sent_before);
        if point == self.sent_before {
            return;
        }
        let Ok(mut setting) = shared.store.otlp_export().await else {
            return;
        };
        setting.sent_before = point;
        if let Err(err) = shared.store.put_otlp_export(&setting).await {
            tracing::warn!(%err, "cannot store how far OTLP export got");
            return;
        }
        self.sent_before = point;
        self.sent.retain(|_, ended| *ended > point);
    }
}
