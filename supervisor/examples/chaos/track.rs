//! What the harness saw of each session: every event a client was shown
//! (acknowledged), the worker pid, the stop requests it sent and when.
//!
//! Each accepted run is followed (`ControlRequest::Follow`) from the moment
//! it is accepted; every pushed event is recorded, checked for a gapless
//! seq, and counted. When the terminal event arrives, the worker's process
//! group is scanned at once: nothing of it may be left by then.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use protocol::control::{ControlRequest, ControlResponse, Push};
use protocol::event::{Event, EventKind};
use protocol::{SessionId, Timestamp};
use studio_client::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::plan::RunPlan;
use crate::procfs;

/// How long a request may take before the harness calls the daemon stuck.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A session's progress as the follow stream shows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Chunk events seen.
    pub chunks: u32,
    /// Worker pid from `session.started`.
    pub pid: Option<u32>,
    /// Highest seq seen.
    pub last_seq: u64,
    /// Whether the terminal event was seen.
    pub ended: bool,
}

/// A stop request the harness sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// `ControlRequest::Cancel`.
    Cancel,
    /// `ControlRequest::Kill`.
    Kill,
}

/// How a planned harness action went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Not run (yet).
    Pending,
    /// Its first step reached the worker or daemon at this time.
    Landed(Timestamp),
    /// It did not happen; why (usually: the run ended first).
    Missed(String),
}

/// Everything recorded about one session.
#[derive(Debug)]
pub struct Seen {
    /// Events pushed by Follow streams, in arrival order.
    pub followed: Vec<Event>,
    /// Events returned by `Events` requests.
    pub polled: Vec<Event>,
    /// What marks the session's processes, read when it started.
    pub mark: Option<procfs::SessionMark>,
    /// Live processes of the session when its terminal event arrived.
    pub leftovers: Vec<u32>,
    /// Anomalies of the follow stream or of `Events` pages.
    pub stream_problems: Vec<String>,
    /// The first stop request and when it was sent.
    pub first_stop: Option<(StopKind, Timestamp)>,
    /// When the daemon first answered a cancel `Ok`: it answers once the
    /// cancel is under way (its grace period running), so what the
    /// harness's own queueing added before the request reached it is not
    /// counted as the daemon's.
    pub cancel_acknowledged: Option<Timestamp>,
    /// Answers to stop requests that were neither `Ok` nor "already ended".
    pub bad_answers: Vec<String>,
    /// The planned action's outcome.
    pub action: ActionOutcome,
}

/// One session the harness started.
pub struct Track {
    /// Its id.
    pub id: SessionId,
    /// How it was planned.
    pub plan: RunPlan,
    /// Which daemon incarnation accepted it.
    pub incarnation: u32,
    seen: Mutex<Seen>,
    progress: watch::Sender<Progress>,
    follow: Mutex<Option<(u32, JoinHandle<FollowEnd>)>>,
}

/// How a follow stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowEnd {
    /// With the terminal event.
    Terminal,
    /// Before it; why.
    Broken(String),
}

impl Track {
    /// A session accepted by daemon `incarnation`.
    pub fn new(id: SessionId, plan: RunPlan, incarnation: u32) -> Arc<Track> {
        Arc::new(Track {
            id,
            plan,
            incarnation,
            seen: Mutex::new(Seen {
                followed: Vec::new(),
                polled: Vec::new(),
                mark: None,
                leftovers: Vec::new(),
                stream_problems: Vec::new(),
                first_stop: None,
                cancel_acknowledged: None,
                bad_answers: Vec::new(),
                action: ActionOutcome::Pending,
            }),
            progress: watch::channel(Progress::default()).0,
            follow: Mutex::new(None),
        })
    }

    /// What was recorded so far.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current progress.
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Waits until `ready` holds for the progress or `timeout` passes;
    /// returns the progress then.
    pub async fn wait_for(&self, timeout: Duration, ready: impl Fn(&Progress) -> bool) -> Progress {
        let mut rx = self.progress.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|p| ready(p))).await;
        self.progress()
    }

    /// Records one pushed event.
    fn record_followed(&self, event: Event) -> bool {
        let terminal = event.kind.is_terminal();
        let before = self.progress();
        {
            let mut seen = self.seen();
            if before.ended {
                seen.stream_problems.push(format!(
                    "event seq {} ({}) pushed after the terminal event",
                    event.seq,
                    event.kind.name()
                ));
            } else if event.seq != before.last_seq + 1 {
                seen.stream_problems.push(format!(
                    "pushed seq {} ({}) after seq {}",
                    event.seq,
                    event.kind.name(),
                    before.last_seq
                ));
            }
            seen.followed.push(event.clone());
        }
        let pid = match event.kind {
            EventKind::SessionStarted { pid, .. } => {
                self.seen().mark = procfs::SessionMark::of(pid);
                Some(pid)
            }
            _ => before.pid,
        };
        if terminal {
            let mark = self.seen().mark.clone();
            let leftovers = mark.map(|m| m.members()).unwrap_or_default();
            if !leftovers.is_empty() {
                self.seen().leftovers = leftovers;
            }
        }
        self.progress.send_modify(|p| {
            p.last_seq = p.last_seq.max(event.seq);
            p.pid = pid;
            if matches!(event.kind, EventKind::LlmResponseChunk { .. }) {
                p.chunks += 1;
            }
            p.ended |= terminal;
        });
        terminal
    }

    /// Records a page returned by an `Events` request for `after_seq`.
    pub fn record_polled(&self, after_seq: u64, page: Vec<Event>) {
        let mut seen = self.seen();
        for (i, event) in page.iter().enumerate() {
            let expected = after_seq + 1 + i as u64;
            if event.seq != expected || event.session != self.id {
                seen.stream_problems.push(format!(
                    "Events after seq {after_seq} returned seq {} of {} at position {i}",
                    event.seq, event.session
                ));
                break;
            }
        }
        seen.polled.extend(page);
    }

    /// Notes that a stop request of `kind` is about to be sent.
    pub fn note_stop(&self, kind: StopKind) -> Timestamp {
        let now = Timestamp::now();
        let mut seen = self.seen();
        if seen.first_stop.is_none() {
            seen.first_stop = Some((kind, now));
        }
        now
    }

    /// Notes that the daemon answered a cancel `Ok` (the first time only).
    pub fn note_cancel_acknowledged(&self) {
        let mut seen = self.seen();
        if seen.cancel_acknowledged.is_none() {
            seen.cancel_acknowledged = Some(Timestamp::now());
        }
    }

    /// Records how the planned action went (the first outcome sticks).
    pub fn set_action(&self, outcome: ActionOutcome) {
        let mut seen = self.seen();
        if seen.action == ActionOutcome::Pending {
            seen.action = outcome;
        }
    }

    /// Whether the planned action reached the worker or the daemon.
    pub fn action_landed(&self) -> bool {
        matches!(self.seen().action, ActionOutcome::Landed(_))
    }

    /// Starts following the session from the last event seen, on `client`
    /// of daemon `incarnation`.
    pub fn start_follow(self: &Arc<Self>, client: Client, incarnation: u32) {
        let track = Arc::clone(self);
        let task = tokio::spawn(async move { follow(client, track).await });
        *self.follow.lock().unwrap_or_else(|p| p.into_inner()) = Some((incarnation, task));
    }

    /// Takes the running follow task, with the incarnation it follows.
    pub fn take_follow(&self) -> Option<(u32, JoinHandle<FollowEnd>)> {
        self.follow.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Follows `track` until its terminal event or the stream ends.
async fn follow(client: Client, track: Arc<Track>) -> FollowEnd {
    let request = ControlRequest::Follow {
        session: track.id,
        after_seq: track.progress().last_seq,
    };
    let mut sub = match tokio::time::timeout(REQUEST_TIMEOUT, client.subscribe(request)).await {
        Ok(Ok(sub)) => sub,
        Ok(Err(err)) => return FollowEnd::Broken(format!("Follow refused: {err}")),
        Err(_) => return FollowEnd::Broken("Follow got no answer within 10s".to_owned()),
    };
    while let Some(push) = sub.next().await {
        if let Push::Event(event) = push
            && track.record_followed(event)
        {
            return FollowEnd::Terminal;
        }
    }
    FollowEnd::Broken("the stream ended before the terminal event".to_owned())
}

/// Asks for a page of `track`'s events and records it as acknowledged.
pub async fn poll_events(
    client: &Client,
    track: &Track,
    after_seq: u64,
    limit: u32,
) -> Result<usize, String> {
    let request = ControlRequest::Events {
        session: track.id,
        after_seq,
        limit,
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, client.request(request)).await {
        Ok(Ok(ControlResponse::Events(page))) => {
            let n = page.len();
            track.record_polled(after_seq, page);
            Ok(n)
        }
        Ok(Ok(other)) => Err(format!("Events answered {other:?}")),
        Ok(Err(err)) => Err(format!("Events failed: {err}")),
        Err(_) => Err("Events got no answer within 10s".to_owned()),
    }
}
