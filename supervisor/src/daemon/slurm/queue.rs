//! One watcher for every Slurm job of the daemon ([`JobWatcher`]): a
//! single `squeue` of this user's jobs each [`POLL`], however many
//! sessions run on the cluster (one `squeue` per job would be 250
//! commands and controller calls a second with 50 runs). A job missing
//! from the listing has left the queue; `scontrol show job` then tells
//! how it ended ([`JobEnd`]), and the session that asked is told.
//!
//! A job is judged only by a listing taken after it was asked about, so
//! one submitted while a listing was under way is never taken for gone.
//! While the listing fails (the controller restarting), nothing is
//! judged; after [`GIVE_UP`] of failures, every watched job is taken as
//! ended, unknown how, so no session waits forever.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use protocol::event::ExitInfo;
use tokio::sync::{mpsc, oneshot};

use super::{POLL, slurm};

/// How long the listing may keep failing before the watched jobs are
/// taken as ended.
const GIVE_UP: Duration = Duration::from_secs(120);

/// How a job ended, as `scontrol show job` tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JobEnd {
    /// `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `OUT_OF_MEMORY`,
    /// `NODE_FAIL`, `PREEMPTED`, ... (empty when Slurm forgot the job).
    pub(crate) state: String,
    /// Slurm's reason, when it gives one.
    pub(crate) reason: String,
    /// The batch script's exit, which is the worker's.
    pub(crate) exit: ExitInfo,
}

/// A job to watch and whom to tell when it ended.
type Ask = (String, oneshot::Sender<JobEnd>);

/// The daemon's one watcher of its jobs, started with the first job.
#[derive(Debug, Default)]
pub(crate) struct JobWatcher {
    asks: OnceLock<mpsc::UnboundedSender<Ask>>,
}

impl JobWatcher {
    /// Waits until job `id` has left the queue; how it ended.
    pub(crate) async fn watch(&self, id: String) -> JobEnd {
        let asks = self.asks.get_or_init(|| {
            let (asks, asked) = mpsc::unbounded_channel();
            tokio::spawn(watch_queue(asked, queued_jobs, read_end, POLL));
            asks
        });
        let (tell, told) = oneshot::channel();
        if asks.send((id.clone(), tell)).is_err() {
            tracing::error!(job = id, "the job watcher is gone");
            return JobEnd::default();
        }
        told.await.unwrap_or_default()
    }
}

/// The ids of this user's jobs in the queue; `None` when Slurm could not
/// be asked.
async fn queued_jobs() -> Option<HashSet<String>> {
    let uid = rustix::process::getuid().as_raw().to_string();
    let args = [
        "-h".to_owned(),
        "-u".to_owned(),
        uid,
        "-o".to_owned(),
        "%i".to_owned(),
    ];
    match slurm("squeue", &args, None).await {
        Ok(out) => Some(out.lines().map(|l| l.trim().to_owned()).collect()),
        Err(err) => {
            tracing::warn!(%err, "cannot list the queue");
            None
        }
    }
}

/// How job `id` ended, as far as Slurm remembers.
async fn read_end(id: String) -> JobEnd {
    let args = [
        "show".to_owned(),
        "job".to_owned(),
        "-o".to_owned(),
        id.clone(),
    ];
    match slurm("scontrol", &args, None).await {
        Ok(out) => parse_end(&out),
        Err(err) => {
            tracing::warn!(job = id, %err, "cannot read how the job ended");
            JobEnd::default()
        }
    }
}

/// The watcher's loop: takes asks, lists the queue every `poll`, and
/// tells each asker once its job is gone from a listing taken after it
/// asked. Ends once the [`JobWatcher`] is dropped and no job is left to
/// watch.
async fn watch_queue<L, LF, E, EF>(
    mut asked: mpsc::UnboundedReceiver<Ask>,
    list: L,
    read_end: E,
    poll: Duration,
) where
    L: Fn() -> LF,
    LF: Future<Output = Option<HashSet<String>>>,
    E: Fn(String) -> EF + Clone + Send + 'static,
    EF: Future<Output = JobEnd> + Send,
{
    let mut watched: HashMap<String, Vec<oneshot::Sender<JobEnd>>> = HashMap::new();
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        if watched.is_empty() {
            let Some((id, tell)) = asked.recv().await else {
                return;
            };
            watched.entry(id).or_default().push(tell);
        }
        // Every ask so far is judged by the listing that follows.
        while let Ok((id, tell)) = asked.try_recv() {
            watched.entry(id).or_default().push(tell);
        }
        watched.retain(|_, tells| {
            tells.retain(|tell| !tell.is_closed());
            !tells.is_empty()
        });
        let gone: Vec<String> = match list().await {
            Some(queued) => {
                failing_since = None;
                watched
                    .keys()
                    .filter(|id| !queued.contains(*id))
                    .cloned()
                    .collect()
            }
            None => {
                let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() < GIVE_UP {
                    Vec::new()
                } else {
                    tracing::error!(
                        "the queue could not be listed for {GIVE_UP:?}: taking its jobs as ended"
                    );
                    watched.keys().cloned().collect()
                }
            }
        };
        for id in gone {
            let tells = watched.remove(&id).unwrap_or_default();
            let read_end = read_end.clone();
            // Off the loop: one slow `scontrol` holds up no other job.
            tokio::spawn(async move {
                let end = read_end(id).await;
                for tell in tells {
                    let _ = tell.send(end.clone());
                }
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// `JobState=`, `Reason=` and `ExitCode=CODE:SIGNAL` of `scontrol show
/// job -o`'s line.
fn parse_end(line: &str) -> JobEnd {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
            .to_owned()
    };
    let (code, signal) = field("ExitCode")
        .split_once(':')
        .map(|(code, signal)| (code.parse().ok(), signal.parse().ok()))
        .unwrap_or((None, None));
    JobEnd {
        state: field("JobState"),
        reason: field("Reason"),
        exit: ExitInfo {
            code,
            signal: signal.filter(|s: &i32| *s != 0),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn how_a_job_ended_is_read_from_scontrol() {
        let end = parse_end(
            "JobId=12 JobName=studio-x UserId=root(0) JobState=CANCELLED Reason=None Dependency=(null) ExitCode=0:9",
        );
        assert_eq!(end.state, "CANCELLED");
        assert_eq!(
            end.exit,
            ExitInfo {
                code: Some(0),
                signal: Some(9)
            }
        );
        let done = parse_end("JobState=COMPLETED Reason=None ExitCode=0:0");
        assert_eq!(
            done.exit,
            ExitInfo {
                code: Some(0),
                signal: None
            }
        );
    }

    /// A queue the test fills and empties; each listing counted.
    #[derive(Clone, Default)]
    struct FakeQueue {
        jobs: Arc<Mutex<HashSet<String>>>,
        listings: Arc<Mutex<u32>>,
        /// Held while a listing is under way, so the test can act inside it.
        during: Arc<tokio::sync::Mutex<()>>,
    }

    /// Lists `queue` as squeue would.
    fn lister(
        queue: FakeQueue,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Option<HashSet<String>>> + Send>> {
        move || {
            let queue = queue.clone();
            Box::pin(async move {
                // Taken at the start, as squeue answers what was then.
                let snapshot = queue.jobs.lock().unwrap().clone();
                let _inside = queue.during.lock().await;
                *queue.listings.lock().unwrap() += 1;
                Some(snapshot)
            })
        }
    }

    async fn ended(id: String) -> JobEnd {
        JobEnd {
            state: format!("COMPLETED {id}"),
            ..JobEnd::default()
        }
    }

    #[tokio::test]
    async fn one_listing_serves_every_job_and_each_is_told_once_it_is_gone() {
        let queue = FakeQueue::default();
        let (asks, asked) = mpsc::unbounded_channel();
        tokio::spawn(watch_queue(
            asked,
            lister(queue.clone()),
            ended,
            Duration::from_millis(5),
        ));
        let mut told = Vec::new();
        for id in ["1", "2", "3"] {
            queue.jobs.lock().unwrap().insert(id.to_owned());
            let (tell, rx) = oneshot::channel();
            asks.send((id.to_owned(), tell)).unwrap();
            told.push(rx);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let listings = *queue.listings.lock().unwrap();
        assert!(
            listings < 20,
            "one listing per poll, not per job: {listings}"
        );
        queue.jobs.lock().unwrap().remove("2");
        let second = told.remove(1);
        assert_eq!(second.await.unwrap().state, "COMPLETED 2");
        for rx in &mut told {
            assert!(
                rx.try_recv().is_err(),
                "a job still queued was told it ended"
            );
        }
        queue.jobs.lock().unwrap().clear();
        for rx in told {
            assert!(rx.await.unwrap().state.starts_with("COMPLETED"));
        }
    }

    #[tokio::test]
    async fn a_job_asked_about_during_a_listing_is_not_taken_for_gone() {
        let queue = FakeQueue::default();
        let (asks, asked) = mpsc::unbounded_channel();
        tokio::spawn(watch_queue(
            asked,
            lister(queue.clone()),
            ended,
            Duration::from_millis(5),
        ));
        queue.jobs.lock().unwrap().insert("1".to_owned());
        let (tell, first) = oneshot::channel();
        asks.send(("1".to_owned(), tell)).unwrap();
        // Hold a listing open; it saw the queue before job 2 was in it.
        let held = queue.during.lock().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.jobs.lock().unwrap().insert("2".to_owned());
        let (tell, mut second) = oneshot::channel();
        asks.send(("2".to_owned(), tell)).unwrap();
        drop(held);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(second.try_recv().is_err(), "job 2 was taken for gone");
        queue.jobs.lock().unwrap().clear();
        assert_eq!(second.await.unwrap().state, "COMPLETED 2");
        assert_eq!(first.await.unwrap().state, "COMPLETED 1");
    }
}
