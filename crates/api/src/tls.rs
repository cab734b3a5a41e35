//! TLS for `-H tcp://…`, as dockerd's `--tls`/`--tlsverify`: the server's
//! certificate and key, and with `--tlsverify` only clients whose certificate the
//! given CA signed. rustls with the ring provider (already in the build for the
//! registry client), so no OpenSSL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::ApiError;

/// `--tlscacert`, `--tlscert`, `--tlskey`, and whether clients must present a
/// certificate the CA signed (`--tlsverify`).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub verify: bool,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, ApiError> {
    std::fs::read(path).map_err(|e| {
        ApiError::bad_request(format!("could not read {what} {}: {e}", path.display()))
    })
}

pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ApiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(&files.cert, "TLS certificate")?)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                ApiError::bad_request(format!("{}: bad certificate: {e}", files.cert.display()))
            })?;
    if certs.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{}: no certificate in the file",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key, "TLS key")?).map_err(|e| {
        ApiError::bad_request(format!("{}: bad private key: {e}", files.key.display()))
    })?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::server(format!("TLS: {e}")))?;
    let builder = if files.verify {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&read(&files.ca, "CA certificate")?) {
            let c = c.map_err(|e| {
                ApiError::bad_request(format!("{}: bad CA certificate: {e}", files.ca.display()))
            })?;
            roots.add(c).map_err(|e| {
                ApiError::bad_request(format!(
                    "{}: unusable CA certificate: {e}",
                    files.ca.display()
                ))
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| ApiError::bad_request(format!("{}: {e}", files.ca.display())))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| ApiError::bad_request(format!("TLS certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
