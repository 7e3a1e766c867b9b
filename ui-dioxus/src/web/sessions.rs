//! Browser sessions: a sign-in mints a random id that the cookie carries
//! in place of the client token. Sessions live in memory (a restart of
//! `studio-ui` signs everyone out) and last [`LIFETIME`] from sign-in,
//! fixed, not sliding: a stolen cookie is worth at most that long, and a
//! day's work needs one sign-in. Signing out ends one at once, and with
//! it every websocket opened with it ([`Live::ended`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a session lasts from sign-in.
pub(super) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The sessions signed in, by id.
pub(super) struct Sessions {
    lifetime: Duration,
    by_id: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    expires: Instant,
    /// Dropped when the session ends: its sockets see their channel close.
    ended: watch::Sender<()>,
}

/// A session found valid, handed to the route that serves the request.
#[derive(Clone)]
pub(super) struct Live {
    expires: Instant,
    ended: watch::Receiver<()>,
}

impl Live {
    /// Completes when the session is signed out or expires.
    pub(super) fn ended(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut ended = self.ended.clone();
        let expires = self.expires;
        async move {
            tokio::select! {
                // Never sent to: this returns when the sender is dropped.
                _ = ended.changed() => {}
                () = tokio::time::sleep_until(expires) => {}
            }
        }
    }
}

impl Sessions {
    /// No sessions yet; each will last `lifetime` ([`LIFETIME`] but in tests).
    pub(super) fn new(lifetime: Duration) -> Sessions {
        Sessions {
            lifetime,
            by_id: Mutex::default(),
        }
    }

    /// How long each session lasts.
    pub(super) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Starts a session; returns its id (256 random bits, hex).
    pub(super) fn mint(&self) -> anyhow::Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|err| anyhow::anyhow!("{err}"))
            .context("cannot draw a session id from the OS")?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut by_id = self.lock();
        by_id.retain(|_, entry| entry.expires > now);
        by_id.insert(
            id.clone(),
            Entry {
                expires: now + self.lifetime,
                ended: watch::Sender::new(()),
            },
        );
        Ok(id)
    }

    /// The session `id` names, if it is signed in and not expired.
    pub(super) fn check(&self, id: &str) -> Option<Live> {
        let mut by_id = self.lock();
        let entry = by_id.get(id)?;
        if entry.expires <= Instant::now() {
            by_id.remove(id);
            return None;
        }
        Some(Live {
            expires: entry.expires,
            ended: entry.ended.subscribe(),
        })
    }

    /// Signs `id` out; its open websockets end.
    pub(super) fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The map stays consistent even if a holder panicked.
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_is_random_checked_and_ends_with_its_sockets() {
        let sessions = Sessions::new(LIFETIME);
        let one = sessions.mint().unwrap();
        let two = sessions.mint().unwrap();
        assert_eq!(one.len(), 64);
        assert!(one.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(one, two);
        let live = sessions.check(&one).unwrap();
        assert!(sessions.check("not-a-session").is_none());

        let ended = tokio::spawn(live.ended());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!ended.is_finished(), "a live session's sockets ended");
        sessions.end(&one);
        tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .unwrap()
            .unwrap();
        assert!(sessions.check(&one).is_none());
        assert!(sessions.check(&two).is_some());
    }

    #[tokio::test]
    async fn a_session_expires_after_its_lifetime() {
        let sessions = Sessions::new(Duration::from_millis(300));
        let id = sessions.mint().unwrap();
        let ended = tokio::spawn(sessions.check(&id).unwrap().ended());
        assert!(sessions.check(&id).is_some());
        tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .unwrap()
            .unwrap();
        assert!(sessions.check(&id).is_none());
    }
}
