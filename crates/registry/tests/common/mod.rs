//! Shared helpers for the integration tests: a client configured for an
//! isolated `config.json` and no system certs.d, and blob reading.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use kujira_reference::Reference;
use kujira_registry::{BlobSource, Client, RegistryConfig};
use kujira_test_support::registry::Registry;
use sha2::{Digest, Sha256};

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A config that reads nothing from the machine: credentials in `dir`,
/// no certs.d, quick retries.
pub fn config(dir: &Path) -> RegistryConfig {
    RegistryConfig {
        docker_config: dir.join("config.json"),
        certs_dirs: vec![],
        retry_delay: Duration::from_millis(20),
        ..RegistryConfig::default()
    }
}

pub fn client(dir: &Path) -> Client {
    Client::new(config(dir))
}

pub fn reference(reg: &Registry, repo_tag: &str) -> Reference {
    Reference::parse(&format!("{}/{repo_tag}", reg.host())).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Reads a whole blob through the sync reader on a blocking thread, the
/// way the engine will.
pub async fn read_blob(
    client: &Client,
    source: &BlobSource,
    digest: &str,
    size: Option<u64>,
) -> Vec<u8> {
    let reader = client.open_blob(source, digest, size, 0).await.unwrap();
    let mut sync = reader.into_sync(tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut sync, &mut out).map(|_| out)
    })
    .await
    .unwrap()
    .unwrap()
}
