//! The registry client's errors. Messages are what a person at a terminal
//! should read: Docker's wording where Docker has one, and always the
//! registry (and repository, when there is one) the failure is about.

use std::path::PathBuf;

/// Everything the registry client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry refused a pull (401/403) or hides a missing repository
    /// behind one, as Docker Hub does.
    #[error("pull access denied for {name}, repository does not exist or may require 'docker login': {detail}")]
    PullAccessDenied { name: String, detail: String },

    /// A request needed credentials the client does not have or that the
    /// registry refused.
    #[error("unauthorized: {detail} ({registry}{})", repo_suffix(.repository))]
    Unauthorized {
        registry: String,
        repository: Option<String>,
        detail: String,
    },

    /// `login` was refused.
    #[error("login to {registry} failed: unauthorized: incorrect username or password")]
    LoginFailed { registry: String },

    /// The tag or digest does not exist.
    #[error("manifest for {name} not found: {detail}")]
    ManifestUnknown { name: String, detail: String },

    /// A blob the registry should have does not exist there.
    #[error("blob {digest} not found in {registry}/{repository}: blob unknown")]
    BlobUnknown {
        registry: String,
        repository: String,
        digest: String,
    },

    /// No entry of a manifest list / OCI index is for the wanted platform.
    #[error("no matching manifest for {wanted} in the manifest list entries of {name} (available: {})", .available.join(", "))]
    NoMatchingPlatform {
        name: String,
        wanted: String,
        available: Vec<String>,
    },

    /// Docker schema 1 manifests (signed or not) are no longer supported.
    #[error("{name}: Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {name} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2")]
    Schema1 { name: String },

    /// A manifest of a media type the client does not understand.
    #[error("{name}: unsupported manifest media type {media_type}")]
    UnsupportedMediaType { name: String, media_type: String },

    /// A manifest, index or config that is not what it claims to be.
    #[error("{name}: invalid {what}: {reason}")]
    Invalid {
        name: String,
        what: &'static str,
        reason: String,
    },

    /// Content whose digest (or size) is not the one asked for.
    #[error(
        "{what} from {registry}/{repository}: digest mismatch: expected {expected}, got {actual}"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: String,
        actual: String,
    },

    /// A registry answer that is larger than any sane one of its kind.
    #[error("{what} from {registry} is larger than {limit} bytes")]
    TooLarge {
        registry: String,
        what: String,
        limit: u64,
    },

    /// Any other error answer from a registry, with the registry's own
    /// error code and message (`blob unknown: blob unknown to registry`).
    #[error("{registry}{}: {status}: {detail}", repo_suffix(.repository))]
    Registry {
        registry: String,
        repository: Option<String>,
        status: u16,
        detail: String,
    },

    /// The request did not get an HTTP answer: refused connection, DNS,
    /// TLS (e.g. unknown certificate authority), a cut connection.
    #[error("{method} \"{url}\": {detail}")]
    Connection {
        method: &'static str,
        url: String,
        detail: String,
    },

    /// A registry answer that does not follow the protocol.
    #[error("{url}: {reason}")]
    Protocol { url: String, reason: String },

    /// A configuration file that cannot be read or parsed.
    #[error("{}: {reason}", .path.display())]
    Config { path: PathBuf, reason: String },

    /// A `docker-credential-*` helper failed.
    #[error("docker-credential-{helper}: {detail}")]
    CredentialHelper { helper: String, detail: String },

    /// An invalid image reference or registry name.
    #[error(transparent)]
    Reference(#[from] kujira_reference::ReferenceError),

    /// Reading local data (e.g. a blob being uploaded) failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn repo_suffix(repository: &Option<String>) -> String {
    repository
        .as_ref()
        .map(|r| format!("/{r}"))
        .unwrap_or_default()
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders a `reqwest` error with its whole source chain, because the
/// top-level message alone ("error sending request") hides the cause the
/// person needs (connection refused, unknown CA, ...).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        src = s.source();
    }
    out
}

impl Error {
    pub(crate) fn connection(method: &'static str, url: &str, e: &reqwest::Error) -> Error {
        Error::Connection {
            method,
            url: url.to_string(),
            detail: chain(e),
        }
    }

    /// Whether trying again (or another endpoint) may help: connection
    /// problems and server-side failures, not refusals.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connection { .. } => true,
            Error::Registry { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
