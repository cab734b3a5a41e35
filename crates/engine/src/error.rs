//! The engine's error type. Messages follow Docker's wording, because scripts and people
//! match on them; [`EngineError::exit_code`] gives the CLI Docker's exit status.

use kujira_archive::ArchiveError;
use kujira_reference::ReferenceError;
use kujira_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid layer {layer}: {source}")]
    Layer {
        layer: String,
        #[source]
        source: ArchiveError,
    },
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    #[error("invalid image config {digest}: {reason}")]
    InvalidConfig { digest: String, reason: String },
    #[error("conflict: unable to delete {reference} (must be forced) - image is referenced in multiple repositories")]
    MultipleRepositories { reference: String },
    #[error("conflict: unable to remove repository reference \"{reference}\" (must force) - container {container} is using its referenced image {image}")]
    InUse {
        reference: String,
        container: String,
        image: String,
    },
    #[error("{0}")]
    InvalidArgument(String),
    /// A registry's answer, already in Docker's words.
    #[error("{0}")]
    Registry(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> EngineError {
        EngineError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether the message came from "the daemon" in Docker's terms; the CLI then
    /// prefixes it with `Error response from daemon: ` as Docker does.
    pub fn is_daemon_error(&self) -> bool {
        !matches!(self, EngineError::Reference(_))
    }
}
