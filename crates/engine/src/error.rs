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
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameConflict { name: String, id: String },
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// A request that clashes with what exists (dockerd's 409), in Docker's words.
    #[error("{0}")]
    Conflict(String),
    /// A request dockerd refuses as forbidden (403: a network in use, an overlap).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Network(#[from] kujira_network::NetworkError),
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// A path that is not in a container (the whole message).
    #[error("{0}")]
    NoSuchPath(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
    /// The container could not be started; `code` is Docker's exit status for it.
    #[error("{message}")]
    StartFailed { code: i32, message: String },
    #[error(transparent)]
    Runtime(#[from] kujira_runtime::RuntimeError),
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
