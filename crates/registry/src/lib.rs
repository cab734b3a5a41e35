//! A client of real container registries: the OCI distribution spec and
//! Docker registry v2 (Docker Hub, distribution, Harbor, Zot, ghcr.io, …).
//! It is what kujira's `pull`, `push`, `login`, `logout`, `search` and
//! `manifest inspect` stand on; it knows nothing about the store.
//!
//! # Overview
//!
//! ```no_run
//! # async fn demo() -> Result<(), kujira_registry::Error> {
//! use kujira_reference::Reference;
//! use kujira_registry::{Client, Platform, RegistryConfig};
//!
//! let client = Client::new(RegistryConfig::load()?);
//! let r = Reference::parse_with_default_tag("nginx").unwrap();
//! // Mirrors first, then the registry; manifest list → this host's platform.
//! let img = client.resolve(&r, None).await?;
//! println!("Digest: {}", img.digest);
//! for layer in img.manifest.layers() {
//!     let reader = client
//!         .open_blob(&img.source(), &layer.digest().to_string(), Some(layer.size()), 0)
//!         .await?;
//!     // Feed a blocking extractor: hash + decompress + untar on a thread.
//!     let mut sync = reader.into_sync(tokio::runtime::Handle::current());
//!     tokio::task::spawn_blocking(move || std::io::copy(&mut sync, &mut std::io::sink()));
//! }
//! # Ok(()) }
//! ```
//!
//! # API
//!
//! * Configuration — [`RegistryConfig`] (`Default`, [`RegistryConfig::load`]
//!   reading `/etc/kujira/config.toml`, `~/.config/kujira/config.toml` and
//!   `KUJIRA_REGISTRY_MIRROR`): mirrors per registry, insecure registries
//!   (loopback is insecure by default), certs.d directories, the Docker
//!   `config.json` path, `max_concurrent_downloads`, retries.
//! * [`Client::new`]`(config)`; one per process (it is `Clone`).
//! * Pull: [`Client::resolve`]`(&Reference, Option<&Platform>) ->
//!   `[`ResolvedImage`] (endpoint that answered, repository, top digest,
//!   top manifest/index bytes, chosen platform, platform manifest bytes and
//!   parsed [`oci_spec::image::ImageManifest`], verified config bytes);
//!   [`Client::open_blob`]`(&BlobSource, digest, Option<size>, offset) ->
//!   `[`BlobReader`] (async [`BlobReader::chunk`], [`BlobReader::counter`]
//!   for progress, [`BlobReader::into_sync`]`(Handle) -> `[`SyncBlobReader`]
//!   which is `std::io::Read + Send`). Get the [`BlobSource`] from
//!   [`ResolvedImage::source`]. Readers hold one of
//!   `max_concurrent_downloads` slots until dropped, and resume cut
//!   connections with Range requests by themselves. Digests of layers are
//!   *not* verified by the reader (the caller hashes while storing);
//!   manifests and configs are.
//! * Push (always to the registry, never a mirror), each taking the
//!   destination as a [`Reference`](kujira_reference::Reference) whose tag
//!   is ignored: [`Client::blob_exists`], [`Client::mount_blob`] (returns
//!   `false` when the registry will not mount: upload then),
//!   [`Client::upload_blob`]`(repo, digest, size, impl AsyncRead)`,
//!   [`Client::put_manifest`]`(repo, tag_or_digest, media_type, bytes) ->
//!   digest`. A push is: for each layer and the config, `blob_exists` →
//!   `mount_blob` (if a source repository is known) → `upload_blob`; then
//!   `put_manifest`.
//! * Accounts: [`Client::login`]`(server, user, password) -> key` (checks
//!   against `/v2/`, then stores in `config.json` or its credential
//!   helper), [`Client::logout`]`(server) -> bool`,
//!   [`Client::credentials`]`(server)`.
//! * Listings: [`Client::catalog`]`(registry)`, [`Client::tags`]`(repo)`,
//!   [`Client::search`]`(term, limit)` (Docker Hub's API).
//! * Errors: [`Error`], whose `Display` is meant for the user as is and
//!   follows Docker's wording (`pull access denied for …`, `manifest for …
//!   not found: manifest unknown: …`, `no matching manifest for … in the
//!   manifest list entries`). [`Error::is_transient`] tells a retryable
//!   failure.
//!
//! Authentication is automatic: the first 401's `WWW-Authenticate`
//! challenge selects basic auth or bearer tokens (anonymous, or with
//! credentials from `config.json`: `auths`, `credHelpers`, `credsStore`);
//! tokens are cached per registry and scope.
//!
//! The client must run on a multi-threaded or current-thread tokio runtime
//! with time enabled; a [`SyncBlobReader`] must be read outside async code
//! (e.g. in `spawn_blocking`).

mod auth;
mod blob;
mod client;
mod config;
mod endpoint;
mod error;
mod manifest;
mod platform;
mod push;
mod search;

pub use auth::{Challenge, Credentials};
pub use blob::{BlobReader, BlobSource, SyncBlobReader};
pub use client::{server_key, Client};
pub use config::{
    config_files, default_docker_config, RegistryConfig, CONFIG_ENV, DOCKER_HUB,
    DOCKER_HUB_AUTH_KEY, DOCKER_HUB_ORIGIN, DOCKER_HUB_SEARCH, MIRROR_ENV, SYSTEM_CONFIG,
};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use manifest::{
    ManifestData, ResolvedImage, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};
pub use platform::Platform;
pub use search::SearchResult;
