//! `DATA_DIR/daemon.log`, rotated: everything the background daemon and
//! its workers write to stdout and stderr goes through one pipe into a
//! file cut at [`MAX_LOG_BYTES`], with [`KEPT_LOGS`] older ones kept
//! (`daemon.log.1` is the newest of them).
//!
//! A pipe rather than a logging layer, so that what the workers write
//! (they inherit the daemon's stderr) and a panic message are rotated with
//! the rest. The thread that drains the pipe never stops reading: when the
//! disk is full, lines are dropped rather than the daemon blocked.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// Size at which the log is cut, unless `STUDIO_LOG_MAX_BYTES` says
/// otherwise.
pub const MAX_LOG_BYTES: usize = 10 * 1024 * 1024;

/// Older logs kept beside `daemon.log`.
pub const KEPT_LOGS: usize = 3;

/// Sends this process's stdout and stderr (and so its children's) into
/// `path`, rotated at `max_bytes`.
pub fn capture(path: &Path, max_bytes: usize) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).create(true).append(true).mode(0o600);
    let mut log = FileRotate::new(
        path,
        AppendCount::new(KEPT_LOGS),
        ContentLimit::BytesSurpassed(max_bytes.max(1)),
        Compression::None,
        Some(options),
    );
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    // The new descriptors 1 and 2 are not close-on-exec: workers inherit them.
    rustix::stdio::dup2_stdout(&writer)?;
    rustix::stdio::dup2_stderr(&writer)?;
    drop(writer);
    let mut pipe = std::fs::File::from(reader);
    std::thread::Builder::new()
        .name("daemon-log".to_owned())
        .spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        // A full disk loses these lines, never the daemon.
                        let _ = log.write_all(&buf[..n]);
                        let _ = log.flush();
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(())
}
