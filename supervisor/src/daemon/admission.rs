//! How many connections a socket holds at once: at most
//! [`MAX_PER_PROCESS`] from one peer process and [`MAX_TOTAL`] in all.
//!
//! Each connection costs a file descriptor and some memory until its peer
//! closes it, so without a cap one process (a runaway script, an agent
//! with a shell) could take the daemon to its descriptor limit and starve
//! everyone else. A connection over a cap gets a refusal that says so and
//! is closed; the others are not disturbed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Connections one peer process may hold on one socket.
pub(crate) const MAX_PER_PROCESS: usize = 256;

/// Connections one socket holds in all.
pub(crate) const MAX_TOTAL: usize = 2048;

/// The open connections of one socket, counted per peer process.
#[derive(Debug)]
pub(crate) struct Admission {
    max_per_process: usize,
    max_total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_process: HashMap<Option<u32>, usize>,
}

/// A connection counted as open until this is dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    peer: Option<u32>,
}

impl Admission {
    /// A socket's count with the daemon's caps.
    pub(crate) fn new() -> Arc<Admission> {
        Admission::with_caps(MAX_PER_PROCESS, MAX_TOTAL)
    }

    /// A count with the given caps.
    pub(crate) fn with_caps(max_per_process: usize, max_total: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max_per_process,
            max_total,
            open: Mutex::default(),
        })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection from process `peer` (`None` when the kernel
    /// did not say), or says why it is refused.
    pub(crate) fn admit(self: &Arc<Self>, peer: Option<u32>) -> Result<Admitted, String> {
        let mut open = self.open();
        if open.total >= self.max_total {
            return Err(format!(
                "too many connections: the daemon holds {} at once; close some and retry",
                self.max_total
            ));
        }
        let mine = open.per_process.entry(peer).or_default();
        if *mine >= self.max_per_process {
            let who =
                peer.map_or_else(|| "this process".to_owned(), |pid| format!("process {pid}"));
            return Err(format!(
                "too many connections from {who}: {} are open, at most {} per process",
                *mine, self.max_per_process
            ));
        }
        *mine += 1;
        open.total += 1;
        Ok(Admitted {
            admission: Arc::clone(self),
            peer,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.open().total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_process.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_process.remove(&self.peer);
            }
        }
    }
}

/// Raises this process's soft limit of open files to its hard limit, so
/// the caps above, not the kernel's default of 1024, decide; returns the
/// limit in force.
pub(crate) fn raise_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(err) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(%err, "cannot raise the open-file limit");
            return getrlimit(Resource::Nofile).current;
        }
    }
    limit.current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_process_and_the_whole_socket_have_a_cap_and_closing_frees_a_place() {
        let admission = Admission::with_caps(2, 3);
        let a1 = admission.admit(Some(1)).unwrap();
        let _a2 = admission.admit(Some(1)).unwrap();
        let err = admission.admit(Some(1)).unwrap_err();
        assert!(err.contains("from process 1: 2 are open"), "{err}");
        let _b1 = admission.admit(Some(2)).unwrap();
        let err = admission.admit(Some(3)).unwrap_err();
        assert!(err.contains("holds 3 at once"), "{err}");
        drop(a1);
        assert_eq!(admission.total(), 2);
        let _c1 = admission.admit(Some(3)).unwrap();
        assert!(admission.admit(None).is_err());
    }
}
