//! How a function call can end badly: [`FnError`], one variant per cause, each mapped to one
//! wire [`ErrorCode`]. Defined apart from the registry so that every engine module (the
//! transaction, queries, search, the registry) depends on it and not on each other.

use crate::auth::{Access, Identity, Role, Roles};
use crate::model::ids::DocumentId;
use crate::model::validation::ValidationError;
use crate::protocol::ErrorCode;
use crate::storage::StorageError;
use thiserror::Error;

/// How a function call failed. Each variant maps to one wire [`ErrorCode`].
#[derive(Clone, Debug, PartialEq, Error)]
pub enum FnError {
    /// Arguments or a document failed validation. Fix the input.
    #[error("{0}")]
    Validation(#[from] ValidationError),
    /// No such function. Check the name.
    #[error("no {kind} named {name:?}; {hint}")]
    UnknownFunction { kind: &'static str, name: String, hint: String },
    /// The document does not exist (any more).
    #[error("{table} {id} does not exist")]
    NotFound { table: String, id: String },
    /// A unique key is already taken. `taken` (the value and the document that holds it) is
    /// set only when the caller may read them; otherwise the message names the key alone.
    #[error("{table}.{} must be unique: {}", fields.join("+"), describe_taken(table, taken))]
    Unique { table: String, fields: Vec<String>, taken: Option<(String, DocumentId)> },
    /// A rule of the application refused the call.
    #[error("{0}")]
    Application(String),
    /// The function used the query API wrongly (unknown index, too many `eq`s …). A bug in
    /// the function, not in the input.
    #[error("bad query: {0}")]
    BadQuery(String),
    /// The function read more documents than one transaction may.
    #[error("the function scanned more than {limit} documents; use an index that narrows the range")]
    TooManyReads { limit: usize },
    /// The query's result is larger than one result may be.
    #[error("the result of {function} is {bytes} bytes, over the {limit}-byte limit of one query result; ask for less (a page or a filter)")]
    ResultTooLarge { function: String, bytes: usize, limit: usize },
    /// The call needs a signed-in caller (no token, or it expired).
    #[error("{0}: sign in (authenticate with a token for this room) first")]
    Unauthenticated(String),
    /// The caller's role may not do this.
    #[error("{action} is allowed to {allowed} only; you are signed in as {role}")]
    Forbidden { action: String, allowed: String, role: Role },
    /// Storage failed; retrying may help.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn describe_taken(table: &str, taken: &Option<(String, DocumentId)>) -> String {
    match taken {
        Some((value, existing)) => format!("{value} is already used by {table} {existing}"),
        None => "the value is already used by another document".into(),
    }
}

impl FnError {
    /// The refusal for a caller `access` does not allow to do `action` (in an app with
    /// `roles`, which name who is allowed).
    pub fn denied(access: Access, identity: Option<&Identity>, action: impl Into<String>, roles: &Roles) -> Self {
        match identity {
            None => FnError::Unauthenticated(action.into()),
            Some(identity) => {
                FnError::Forbidden { action: action.into(), allowed: access.describe(roles), role: identity.role }
            }
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            FnError::Validation(_) => ErrorCode::Validation,
            FnError::UnknownFunction { .. } => ErrorCode::UnknownFunction,
            FnError::NotFound { .. } => ErrorCode::NotFound,
            FnError::Unique { .. } => ErrorCode::UniqueViolation,
            FnError::Application(_) => ErrorCode::Application,
            FnError::BadQuery(_) => ErrorCode::BadQuery,
            FnError::TooManyReads { .. } => ErrorCode::TooManyReads,
            FnError::ResultTooLarge { .. } => ErrorCode::LimitExceeded,
            FnError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            FnError::Forbidden { .. } => ErrorCode::Forbidden,
            FnError::Storage(_) => ErrorCode::Internal,
        }
    }
}
