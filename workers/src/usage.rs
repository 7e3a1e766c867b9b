//! What a worker on another machine uses, told to the daemon ([`report`]):
//! the daemon reads a local worker's `/proc` itself, but not a Slurm
//! node's, so a remote worker sums its own resident memory and that of
//! every process it started, and its CPU time, and sends them as
//! `FromWorker::Usage` twice a second.

use std::collections::HashMap;
use std::time::Duration;

use protocol::worker::FromWorker;

use crate::connection::Outbox;

/// How often the use is sent.
const EVERY: Duration = Duration::from_millis(500);

/// Sends the worker's use until the connection is gone.
pub async fn report(outbox: &Outbox) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        ticks.tick().await;
        let (rss_bytes, cpu_ms) = sample();
        outbox.send(FromWorker::Usage { rss_bytes, cpu_ms }).await?;
    }
}

/// Resident bytes of this process and its descendants, and this
/// process's CPU milliseconds.
fn sample() -> (u64, u64) {
    let own = std::process::id();
    let mut table: HashMap<u32, Stat> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                table.insert(pid, stat);
            }
        }
    }
    let cpu_ms = table.get(&own).map_or(0, |stat| stat.cpu_ms);
    (resident_under(&table, own), cpu_ms)
}

/// The resident bytes of `root` and every process below it in `table`.
fn resident_under(table: &HashMap<u32, Stat>, root: u32) -> u64 {
    let descends = |mut pid: u32| {
        // Bounded: a loop in what /proc says cannot hold the worker.
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match table.get(&pid) {
                Some(stat) if stat.ppid != 0 => pid = stat.ppid,
                _ => return false,
            }
        }
        false
    };
    table
        .iter()
        .filter(|(pid, _)| descends(**pid))
        .map(|(_, stat)| stat.rss_bytes)
        .sum()
}

/// What `/proc/PID/stat` says of a process.
struct Stat {
    ppid: u32,
    rss_bytes: u64,
    cpu_ms: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields follow the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
    // After the command: state (0), ppid (1), ..., utime (11), stime (12),
    // ..., rss in pages (21).
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    let page = rustix::param::page_size() as u64;
    Some(Stat {
        ppid: u32::try_from(field(1)?).ok()?,
        rss_bytes: field(21)? * page,
        cpu_ms: (field(11)? + field(12)?) * 1000 / ticks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_counts_itself_and_what_it_started_not_its_parents() {
        let stat = |ppid: u32, mib: u64| Stat {
            ppid,
            rss_bytes: mib << 20,
            cpu_ms: 0,
        };
        // 1 -> 10 (slurmstepd) -> 20 (the worker) -> 30 -> 40; 21 beside it.
        let table: HashMap<u32, Stat> = [
            (1, stat(0, 5)),
            (10, stat(1, 7)),
            (20, stat(10, 11)),
            (30, stat(20, 13)),
            (40, stat(30, 17)),
            (21, stat(10, 19)),
        ]
        .into_iter()
        .collect();
        assert_eq!(resident_under(&table, 20), (11 + 13 + 17) << 20);
        let (own, _) = sample();
        assert!(own > 0, "this process has memory");
    }
}
