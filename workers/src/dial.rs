//! Reaching a daemon on another machine ([`connect`]): a worker that runs
//! where the daemon's Unix socket is not (a Slurm job) dials its TCP
//! worker listener, with TLS. The daemon's certificate is its own, made by
//! the daemon, so no authority vouches for it: the worker accepts only the
//! certificate whose SHA-256 fingerprint it was given ([`Pinned`]), and
//! the handshake's signature must be made by that certificate's key.

use std::sync::Arc;

use anyhow::Context;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The name the worker asks for; the fingerprint, not the name, is
/// checked.
const DAEMON_NAME: &str = "studio-daemon";

/// A certificate's SHA-256 fingerprint as the daemon gives it: 64
/// lowercase hex digits.
pub fn fingerprint(certificate: &[u8]) -> String {
    Sha256::digest(certificate)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Connects to the daemon's worker listener at `address` (`HOST:PORT`)
/// and completes TLS with the certificate `pinned` names.
pub async fn connect(address: &str, pinned: &str) -> anyhow::Result<TlsStream<TcpStream>> {
    let pinned = pinned.trim().to_ascii_lowercase();
    anyhow::ensure!(
        pinned.len() == 64 && pinned.chars().all(|c| c.is_ascii_hexdigit()),
        "the daemon's fingerprint is not 64 hex digits"
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Pinned {
        fingerprint: pinned,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let tcp = TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to the daemon at {address}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(DAEMON_NAME).context("the daemon's name")?;
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with the daemon at {address}"))
}

/// Accepts only the certificate with this fingerprint.
#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the daemon's certificate is not the one pinned (its fingerprint differs)"
                    .to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
