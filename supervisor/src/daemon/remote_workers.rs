//! The TCP worker listener, for workers that run on other machines (the
//! jobs of a remote launcher, `launcher::slurm`): off unless one is
//! configured (`DaemonConfig::worker_listen`).
//!
//! TLS comes first, with a certificate the daemon made and keeps
//! ([`WorkerTls`], in `Layout::worker_tls`): no authority vouches for it;
//! the worker pins it by the SHA-256 fingerprint it is handed with its
//! one-time token (never on a command line, never in a file others may
//! read). Then the same Hello as on the worker socket. A remote worker
//! has no pid the kernel can vouch for, so only a session that expects a
//! remote worker (`WorkerRegistry::expect_remote`) takes its token.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol::handshake::PeerRole;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::Shared;
use super::listener::{self, HANDSHAKE_TIMEOUT, Peer, WorkerConnected, WorkerLink};

/// The certificate's file, in the worker TLS directory.
const CERT_FILE: &str = "cert.der";
/// Its private key's (PKCS #8), mode 0600.
const KEY_FILE: &str = "key.der";

/// The daemon's TLS identity for remote workers.
struct WorkerTls {
    acceptor: TlsAcceptor,
    /// The SHA-256 fingerprint of its certificate, as workers pin it.
    fingerprint: String,
}

impl WorkerTls {
    /// The identity kept in `dir`, made (and kept, private) the first
    /// time: a daemon restarted keeps it, so its workers still trust it.
    fn load_or_create(dir: &Path) -> io::Result<WorkerTls> {
        let (cert, key) = match (
            std::fs::read(dir.join(CERT_FILE)),
            std::fs::read(dir.join(KEY_FILE)),
        ) {
            (Ok(cert), Ok(key)) => (cert, key),
            _ => create(dir)?,
        };
        let fingerprint = fingerprint(&cert);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .map_err(|err| io::Error::other(format!("the worker TLS identity: {err}")))?;
        Ok(WorkerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            fingerprint,
        })
    }
}

/// Makes a self-signed certificate and its key in `dir` (0700; the key
/// 0600).
fn create(dir: &Path) -> io::Result<(Vec<u8>, Vec<u8>)> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let made = rcgen::generate_simple_self_signed(vec!["studio-daemon".to_owned()])
        .map_err(|err| io::Error::other(format!("cannot make a certificate: {err}")))?;
    let cert = made.cert.der().to_vec();
    let key = made.signing_key.serialize_der();
    for (name, bytes) in [(KEY_FILE, &key), (CERT_FILE, &cert)] {
        let path = dir.join(name);
        let temporary = dir.join(format!("{name}.new"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
    }
    Ok((cert, key))
}

/// The listener as remote workers reach it.
pub(crate) struct Offered {
    /// The `HOST:PORT` they dial.
    pub(crate) address: String,
    /// The fingerprint they pin.
    pub(crate) fingerprint: String,
}

/// Listens on `address` with the data dir's TLS identity, and serves
/// remote workers on a task of its own (returned); what they dial and pin
/// goes in `Shared::remote`.
pub(crate) async fn offer(
    address: std::net::SocketAddr,
    config: &super::DaemonConfig,
    shared: Arc<Shared>,
) -> io::Result<tokio::task::JoinHandle<()>> {
    let tls = WorkerTls::load_or_create(&config.data_dir.layout().worker_tls())?;
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let dialed = config
        .worker_address
        .clone()
        .unwrap_or_else(|| bound.to_string());
    tracing::info!(%bound, dialed, fingerprint = tls.fingerprint, "worker listener (TLS) ready");
    let _ = shared.remote.set(Offered {
        address: dialed,
        fingerprint: tls.fingerprint.clone(),
    });
    Ok(tokio::spawn(serve(listener, Arc::new(tls), shared)))
}

/// A certificate's SHA-256 fingerprint: 64 lowercase hex digits.
fn fingerprint(certificate: &[u8]) -> String {
    Sha256::digest(certificate)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Accepts remote workers forever, each on its own task.
async fn serve(listener: TcpListener, tls: Arc<WorkerTls>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((tcp, address)) => {
                let tls = Arc::clone(&tls);
                let shared = Arc::clone(&shared);
                tokio::spawn(async move { serve_one(tcp, address, &tls, shared).await });
            }
            Err(err) => {
                tracing::warn!(%err, "worker listener: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// TLS, then the Hello and the claim, then the connection goes to its
/// session.
async fn serve_one(
    tcp: TcpStream,
    address: std::net::SocketAddr,
    tls: &WorkerTls,
    shared: Arc<Shared>,
) {
    let _ = tcp.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            tracing::info!(%address, %err, "remote worker refused: TLS failed");
            return;
        }
        Err(_) => {
            tracing::info!(%address, "remote worker refused: no TLS within 5s");
            return;
        }
    };
    let (mut reader, mut writer) = tokio::io::split(stream);
    let hello = match listener::read_hello(&mut reader, true).await {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(reason) => return listener::refuse_on(&mut writer, &reason).await,
    };
    let PeerRole::Worker { session } = hello.role else {
        return;
    };
    let actor = match shared.workers.claim(session, &hello.token, Peer::Remote) {
        Ok(actor) => actor,
        Err(reason) => {
            tracing::warn!(%address, %session, reason, "remote worker refused");
            return listener::refuse_on(&mut writer, reason).await;
        }
    };
    if listener::accept_on(&mut writer).await.is_err() {
        return;
    }
    tracing::info!(%address, %session, "remote worker connected");
    let link = WorkerLink {
        reader: Box::new(reader),
        writer: Box::new(writer),
    };
    let _ = actor.send_message(WorkerConnected(link));
}
