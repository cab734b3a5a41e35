use std::path::PathBuf;

/// Everything that can go wrong building a spec, a bundle or running a runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Docker's message when neither the image nor the flags give a command.
    #[error("No command specified")]
    NoCommand,
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UserNotFound(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    GroupNotFound(String),
    #[error("uids and gids must be in range 0-2147483647")]
    IdOutOfRange,
    #[error("unknown capability: \"{0}\"")]
    UnknownCapability(String),
    #[error("invalid mount spec {spec:?}: {reason}")]
    InvalidMount { spec: String, reason: String },
    #[error("invalid ulimit {name}: {reason}")]
    InvalidUlimit { name: String, reason: String },
    #[error("invalid {what}: {reason}")]
    InvalidOption { what: &'static str, reason: String },
    #[error("seccomp profile {origin}: {reason}")]
    SeccompProfile { origin: String, reason: String },
    #[error("invalid --security-opt: {value:?}: {reason}")]
    InvalidSecurityOpt { value: String, reason: String },
    #[error("building the OCI spec: {0}")]
    Spec(String),
    /// Plugging the container into its networks failed (the engine's message).
    #[error("{0}")]
    Network(String),
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mounting the overlay at {path}: {source}")]
    Mount {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("running {runtime} {action}: {source}")]
    Spawn {
        runtime: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{runtime} {action} failed ({status}): {stderr}")]
    RuntimeFailed {
        runtime: String,
        action: &'static str,
        status: String,
        stderr: String,
    },
    /// The built-in runtime could not start the container's process.
    #[error("kujira create failed: unable to start container process: {0}")]
    Embedded(String),
    #[error("{runtime} state: unreadable output: {reason}")]
    BadState { runtime: String, reason: String },
}

impl RuntimeError {
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            context,
            path: path.into(),
            source,
        }
    }
}
