use kujira_engine::EngineError;

/// Why a build failed. `Step` errors name the Dockerfile line, as BuildKit's do.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse (1-based line and column).
    #[error("dockerfile parse error on line {line}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    /// An instruction failed (bad argument, missing file, failing RUN).
    #[error("{message}")]
    Step {
        line: usize,
        end_line: usize,
        message: String,
        /// A failing RUN's exit status.
        exit_code: Option<i32>,
    },
    /// Bad options or context before any step runs.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> BuildError {
        BuildError::Io {
            what: what.into(),
            source,
        }
    }

    /// The lines an error points at, for the excerpt of the Dockerfile shown with it.
    pub fn lines(&self) -> Option<(usize, usize)> {
        match self {
            BuildError::Parse { line, .. } => Some((*line, *line)),
            BuildError::Step { line, end_line, .. } => Some((*line, *end_line)),
            _ => None,
        }
    }
}

impl From<kujira_store::StoreError> for BuildError {
    fn from(e: kujira_store::StoreError) -> BuildError {
        BuildError::Engine(e.into())
    }
}
