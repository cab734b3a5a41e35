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

/// Credentials given with one request rather than stored (their `Debug` never
/// shows the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The registry as `docker login` names it (empty: Docker Hub).
    pub server: String,
    pub credentials: kujira_registry::Credentials,
}

impl Engine {
    /// A registry client with this machine's configuration.
    pub fn registry_client(&self) -> Result<Client, EngineError> {
        self.registry_client_with(None)
    }

    /// A client that uses `auth` for its registry, when given (an API request's
    /// `X-Registry-Auth`), before any stored credentials.
    pub fn registry_client_with(&self, auth: Option<&RegistryAuth>) -> Result<Client, EngineError> {
        let config = RegistryConfig::load().map_err(registry_error)?;
        let client = Client::new(config);
        Ok(match auth {
            Some(a) => client.with_credentials(&a.server, a.credentials.clone()),
            None => client,
        })
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
