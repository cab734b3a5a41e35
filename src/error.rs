//! The CLI's error: a message for standard error and Docker's exit status.

use kujira_engine::EngineError;

use crate::format::table::FormatError;

#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// An exit status with nothing more to say (the output already said it).
    pub fn silent(code: i32) -> CliError {
        CliError::new(code, "")
    }
}

/// Engine failures read as Docker's daemon errors do.
impl From<EngineError> for CliError {
    fn from(e: EngineError) -> CliError {
        if e.is_daemon_error() {
            CliError::new(1, format!("Error response from daemon: {e}"))
        } else {
            CliError::new(1, format!("Error: {e}"))
        }
    }
}

impl From<FormatError> for CliError {
    fn from(e: FormatError) -> CliError {
        CliError::new(e.exit_code(), e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::silent(0);
        }
        CliError::new(1, format!("Error: {e}"))
    }
}
