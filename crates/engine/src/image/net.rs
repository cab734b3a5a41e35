//! The small tokio runtime the synchronous engine drives the async registry client
//! with, and the client itself configured from this machine's settings.

use kujira_registry::{Client, RegistryConfig};

use crate::{Engine, EngineError};

/// Two workers: one keeps sockets moving while the other hands bytes to the
/// blocking layer workers.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, EngineError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| EngineError::io("starting the network runtime", e))
}

pub(crate) fn registry_error(e: kujira_registry::Error) -> EngineError {
    EngineError::Registry(e.to_string())
}

impl Engine {
    /// A registry client with this machine's configuration.
    pub fn registry_client(&self) -> Result<Client, EngineError> {
        let config = RegistryConfig::load().map_err(registry_error)?;
        Ok(Client::new(config))
    }

    /// Tags of a repository in its registry (`pull --all-tags`).
    pub fn remote_tags(
        &self,
        repo: &kujira_reference::Reference,
    ) -> Result<Vec<String>, EngineError> {
        let client = self.registry_client()?;
        let mut tags = runtime()?
            .block_on(client.tags(repo))
            .map_err(registry_error)?;
        tags.sort();
        Ok(tags)
    }
}
