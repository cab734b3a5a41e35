//! `search` and `manifest inspect`: questions asked of a registry, nothing stored.
//! docker.io is searched through its configured mirrors' `/v2/_catalog` first, then
//! with Docker Hub's search API; other registries by filtering their catalog.

use kujira_reference::Reference;
use kujira_registry::{Client, SearchResult};

use super::net::{registry_error, runtime};
use crate::{Engine, EngineError};

impl Engine {
    /// Searches for `term` (`python`, or `registry.example.com/python`).
    pub fn search(&self, term: &str, limit: usize) -> Result<Vec<SearchResult>, EngineError> {
        let client = self.registry_client()?;
        let rt = runtime()?;
        let (registry, needle) = match term.split_once('/') {
            Some((host, rest))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), term.to_string()),
        };
        if registry == "docker.io" {
            // A configured Docker Hub mirror answers first (mirrors come before the
            // origin, and an offline machine's only registry is its mirror).
            for mirror in client.config().mirrors_for("docker.io") {
                let host = mirror
                    .split("://")
                    .last()
                    .unwrap_or(mirror)
                    .trim_end_matches('/')
                    .to_string();
                if let Ok(found) = catalog_search(&rt, &client, &host, &needle, limit, true) {
                    return Ok(found);
                }
            }
            return rt
                .block_on(client.search(&needle, limit))
                .map_err(registry_error);
        }
        catalog_search(&rt, &client, &registry, &needle, limit, false).map_err(registry_error)
    }

    /// The manifest (or index) of `name` as the registry serves it.
    pub fn manifest_raw(&self, name: &str) -> Result<(String, Vec<u8>), EngineError> {
        let reference = Reference::parse(name)?;
        let reference = reference.or_latest();
        let client = self.registry_client()?;
        let rt = runtime()?;
        let endpoints = rt
            .block_on(client.pull_endpoints(reference.domain()))
            .map_err(registry_error)?;
        let wanted = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_string();
        let mut last = None;
        for ep in endpoints {
            match rt.block_on(client.fetch_manifest(&ep, &reference, &wanted, reference.digest())) {
                Ok(m) => return Ok((m.media_type, m.bytes)),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .map(registry_error)
            .unwrap_or_else(|| EngineError::Registry(format!("no such manifest: {name}"))))
    }
}

/// Repositories of `registry` whose name contains `needle`, as search results.
/// On a Docker Hub mirror, `library/x` is shown as `x` and marked official.
fn catalog_search(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    registry: &str,
    needle: &str,
    limit: usize,
    hub_mirror: bool,
) -> Result<Vec<SearchResult>, kujira_registry::Error> {
    let repos = rt.block_on(client.catalog(registry))?;
    Ok(repos
        .into_iter()
        .filter(|r| r.contains(needle))
        .take(limit)
        .map(|r| {
            let official = hub_mirror && r.starts_with("library/");
            let name = match (hub_mirror, r.strip_prefix("library/")) {
                (true, Some(short)) => short.to_string(),
                (true, None) => r,
                (false, _) => format!("{registry}/{r}"),
            };
            SearchResult {
                name,
                description: String::new(),
                stars: 0,
                official,
                automated: false,
            }
        })
        .collect())
}
