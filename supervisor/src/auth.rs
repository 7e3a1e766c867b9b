//! Secrets and peer checks for both sockets.
//!
//! - Clients present the token stored in the data dir's `client.token`
//!   (0600): whoever can read it is the user.
//! - Each worker gets a fresh one-time token on its stdin; it is never in
//!   argv or the environment, and is forgotten once used.
//! - Every connection's peer must run under our own effective uid.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A fresh random secret: 32 bytes as 64 hex digits.
pub fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares a presented token with the expected one in constant time.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes())
}

/// Reads the client token at `path`, creating it (mode 0600) if missing.
///
/// Refuses a token file that other users could read.
pub fn load_or_create_client_token(path: &Path) -> io::Result<String> {
    match fs::read_to_string(path) {
        Ok(token) => {
            let mode = fs::metadata(path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} has mode {mode:o}; it must be private to you (chmod 600)",
                        path.display()
                    ),
                ));
            }
            Ok(token.trim().to_owned())
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let token = new_token()?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(token.as_bytes())?;
            file.sync_all()?;
            Ok(token)
        }
        Err(err) => Err(err),
    }
}

/// Why a peer was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The kernel did not tell us who the peer is.
    #[error("cannot identify the peer process")]
    Unknown,
    /// The peer runs as another user.
    #[error("peer runs as uid {peer}, not {ours}")]
    OtherUser {
        /// The peer's effective uid.
        peer: u32,
        /// Ours.
        ours: u32,
    },
}

/// Accepts only peers running under our effective uid.
pub fn check_peer_uid(peer_euid: Option<u32>, our_euid: u32) -> Result<(), PeerError> {
    match peer_euid {
        None => Err(PeerError::Unknown),
        Some(peer) if peer != our_euid => Err(PeerError::OtherUser {
            peer,
            ours: our_euid,
        }),
        Some(_) => Ok(()),
    }
}

/// Our effective uid.
pub fn our_euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_comparison_needs_an_exact_match() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", "abc"));
    }

    #[test]
    fn client_token_is_created_private_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("client.token");
        let first = load_or_create_client_token(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create_client_token(&path).unwrap(), first);
        // What a client reads back (`studio_client::data_dir`).
        let layout = protocol::layout::Layout::new(tmp.path());
        assert_eq!(
            studio_client::data_dir::read_client_token(&layout).unwrap(),
            first
        );
    }

    #[test]
    fn a_readable_token_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("client.token");
        load_or_create_client_token(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_client_token(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn peers_of_another_uid_are_refused() {
        assert_eq!(check_peer_uid(Some(1000), 1000), Ok(()));
        assert_eq!(
            check_peer_uid(Some(0), 1000),
            Err(PeerError::OtherUser {
                peer: 0,
                ours: 1000
            })
        );
        assert_eq!(check_peer_uid(None, 1000), Err(PeerError::Unknown));
    }
}
