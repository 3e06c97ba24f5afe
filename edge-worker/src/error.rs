//! The worker's one error type. Every way a request can fail outside the room engine is a
//! variant here, and [`WorkerError::status_code`] is the only place that maps failures to
//! HTTP statuses; handlers return `Result<Response, WorkerError>` and the router turns the
//! error into a JSON `{code, message}` answer, like the room's own refusals.

use roomsync_shared::StorageError;
use thiserror::Error;
use worker::Response;

#[derive(Debug, Error)]
pub enum WorkerError {
    /// The room name in the path is not one (`validate_room_name` says why).
    #[error("{0}")]
    BadRoom(String),
    /// `/sync` without `Upgrade: websocket`.
    #[error("expected a WebSocket upgrade (Upgrade: websocket)")]
    NotWebSocket,
    /// A development-only route while it is off (`ROOMSYNC_DEV_TOKENS`, `ROOMSYNC_TEST_HOOKS`).
    #[error("{0}")]
    Off(String),
    /// A request body the route cannot use.
    #[error("{0}")]
    BadRequest(String),
    /// The room's storage could not be opened or read: the object is unusable until it is
    /// restarted (or storage recovers).
    #[error("room storage is unavailable: {0}")]
    Storage(#[from] StorageError),
    /// The platform failed (a binding, a header, the Durable Object stub).
    #[error("{0}")]
    Platform(#[from] worker::Error),
    /// The deployment lacks what it must have to serve (the token secret); the message says
    /// what to set.
    #[error("{0}")]
    NotConfigured(String),
}

impl WorkerError {
    pub fn status_code(&self) -> u16 {
        match self {
            WorkerError::BadRoom(_) | WorkerError::BadRequest(_) => 400,
            WorkerError::Off(_) => 404,
            WorkerError::NotWebSocket => 426,
            WorkerError::Storage(e) if e.is_transient() => 503,
            WorkerError::NotConfigured(_) => 503,
            WorkerError::Storage(_) | WorkerError::Platform(_) => 500,
        }
    }

    /// The wire code in the answer's body (the room's codes where one fits).
    fn code(&self) -> &'static str {
        match self {
            WorkerError::BadRoom(_) => "INVALID_ROOM",
            WorkerError::NotWebSocket | WorkerError::BadRequest(_) => "BAD_REQUEST",
            WorkerError::Off(_) => "NOT_FOUND",
            WorkerError::Storage(_) | WorkerError::Platform(_) => "INTERNAL",
            WorkerError::NotConfigured(_) => "NOT_CONFIGURED",
        }
    }

    /// The answer: `{code, message}` with [`WorkerError::status_code`]. Storage and
    /// platform failures are logged with their detail and answered without it (a driver's
    /// text is for the operator, not for whoever sent the request).
    pub fn into_response(self) -> worker::Result<Response> {
        let message = match &self {
            WorkerError::Storage(_) | WorkerError::Platform(_) => {
                worker::console_error!("roomsync: {self}");
                "the room could not serve this request; try again later".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({ "code": self.code(), "message": message });
        Ok(Response::from_json(&body)?.with_status(self.status_code()))
    }
}

/// A handler's result, answered either way.
pub fn answer(result: Result<Response, WorkerError>) -> worker::Result<Response> {
    result.or_else(WorkerError::into_response)
}
