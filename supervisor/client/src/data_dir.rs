//! Creating a data dir as the daemon expects it: private to the user
//! (mode 0700, tightened if it exists) and short enough for its socket
//! paths. Both the daemon and a client starting it create it.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

use protocol::layout::Layout;

/// Longest path a Unix socket may have (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Creates the data dir and run dir of `layout` with mode 0700
/// (tightening existing ones), and checks that its socket paths fit the
/// kernel's limit.
pub fn create(layout: &Layout) -> io::Result<()> {
    for dir in [layout.root().to_path_buf(), layout.run_dir()] {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    for socket in [layout.control_socket(), layout.worker_socket()] {
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "socket path {} is {len} bytes, over the limit of {MAX_SOCKET_PATH}: choose a shorter --data-dir",
                    socket.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Reads the client token the daemon wrote (trimmed).
pub fn read_client_token(layout: &Layout) -> io::Result<String> {
    fs::read_to_string(layout.client_token()).map(|t| t.trim().to_owned())
}
