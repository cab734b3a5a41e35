//! Errors as dockerd answers them: `{"message": …}` with its status codes. The
//! engine's error kinds map to statuses here, in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kujira_engine::EngineError;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn server(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m)
    }
}

/// The status dockerd gives the engine's error.
fn status_of(e: &EngineError) -> StatusCode {
    use EngineError::*;
    match e {
        NoSuchImage(_) | NoSuchContainer(_) | NoSuchNetwork(_) | NoSuchVolume(_)
        | NoSuchPath(_) => StatusCode::NOT_FOUND,
        Forbidden(_) => StatusCode::FORBIDDEN,
        Network(
            kujira_network::NetworkError::InvalidCidr(_)
            | kujira_network::NetworkError::InvalidAddress(_),
        ) => StatusCode::BAD_REQUEST,
        Network(kujira_network::NetworkError::AddressInUse(_)) => StatusCode::CONFLICT,
        Conflict(_)
        | NameConflict { .. }
        | MultipleRepositories { .. }
        | InUse { .. }
        | NotRunning(_) => StatusCode::CONFLICT,
        Reference(_) | InvalidArchive(_) | Layer { .. } => StatusCode::BAD_REQUEST,
        InvalidArgument(m)
            if m.contains("running container")
                || m.contains("in use")
                || m.contains("container is running")
                || m.contains("container is paused")
                || m.contains("already paused")
                || m.contains("is not paused") =>
        {
            StatusCode::CONFLICT
        }
        InvalidArgument(_) => StatusCode::BAD_REQUEST,
        StartFailed { code, .. } if *code == 126 || *code == 127 => StatusCode::BAD_REQUEST,
        Registry(m) if m.contains("not found") || m.contains("manifest unknown") => {
            StatusCode::NOT_FOUND
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::new(status_of(&e), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("page not found: {}", uri.path()),
    )
}
