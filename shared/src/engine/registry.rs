//! Named queries and mutations (`beneficiaries:list`, `tasks:create`, …), their argument
//! validators, and the typed errors a function call can end with.

use super::tx::Tx;
use crate::auth::{Access, Identity, Role, Roles};
use crate::ids::DocumentId;
use crate::protocol::ErrorCode;
use crate::storage::StorageError;
use crate::validation::ValidationError;
use crate::validator::{Path, Validator};
use crate::value::Value;
use std::collections::BTreeMap;
use thiserror::Error;

/// Longest function name a caller may send. Names are `table:function`; this bounds what an
/// unknown name costs (the "did you mean" hint compares it with every function) and echoes.
pub const MAX_FUNCTION_NAME_BYTES: usize = 128;

/// Queries read; mutations read and write, atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Query,
    Mutation,
}

impl FunctionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::Query => "query",
            FunctionKind::Mutation => "mutation",
        }
    }
}

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

/// A function body: reads (and for mutations writes) through the transaction.
pub type Handler = fn(&mut Tx<'_>, &Value) -> Result<Value, FnError>;

/// One registered function.
#[derive(Clone)]
pub struct FunctionDef {
    pub name: &'static str,
    pub kind: FunctionKind,
    /// Validator of the arguments object, checked before the handler runs.
    pub args: Validator,
    pub handler: Handler,
    /// Who may call it. Queries default to any signed-in role, mutations to the app's
    /// writers ([`Roles::writers_from`]); [`Registry::allow`] changes it.
    pub access: Access,
}

/// Every function of an application, by name.
#[derive(Clone)]
pub struct Registry {
    functions: BTreeMap<&'static str, FunctionDef>,
    roles: Roles,
}

impl Registry {
    /// An empty registry of an app with these roles.
    pub fn new(roles: Roles) -> Self {
        Self { functions: BTreeMap::new(), roles }
    }

    /// The roles of the app these functions belong to.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// Every function, by name.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionDef> {
        self.functions.values()
    }

    pub fn query(mut self, name: &'static str, args: Validator, handler: Handler) -> Self {
        let access = Access::AtLeast(self.roles.weakest());
        self.functions.insert(name, FunctionDef { name, kind: FunctionKind::Query, args, handler, access });
        self
    }

    pub fn mutation(mut self, name: &'static str, args: Validator, handler: Handler) -> Self {
        let access = Access::AtLeast(self.roles.writers());
        self.functions.insert(name, FunctionDef { name, kind: FunctionKind::Mutation, args, handler, access });
        self
    }

    /// Sets who may call a registered function (`Access::Public` for signed-out callers).
    /// Naming a function that is not registered is a bug in the registry's definition.
    pub fn allow(mut self, name: &'static str, access: Access) -> Self {
        match self.functions.get_mut(name) {
            Some(def) => def.access = access,
            None => panic!("Registry::allow: no function named {name:?} is registered"),
        }
        self
    }

    /// Names of the functions of one kind.
    pub fn names(&self, kind: FunctionKind) -> Vec<&'static str> {
        self.functions.values().filter(|f| f.kind == kind).map(|f| f.name).collect()
    }

    /// Looks a function up, checks that the caller may call it, and checks its arguments.
    pub fn resolve(
        &self,
        name: &str,
        kind: FunctionKind,
        args: &serde_json::Value,
        identity: Option<&Identity>,
    ) -> Result<(&FunctionDef, Value), FnError> {
        if name.len() > MAX_FUNCTION_NAME_BYTES {
            // Refused before any lookup or hint: the cost of an answer must not grow with
            // what a caller sends, and the name is not echoed.
            return Err(FnError::UnknownFunction {
                kind: kind.as_str(),
                name: name.chars().take(32).chain(['…']).collect(),
                hint: format!(
                    "function names are at most {MAX_FUNCTION_NAME_BYTES} bytes (\"table:function\"); this one has {}",
                    name.len()
                ),
            });
        }
        let def = self.functions.get(name).filter(|f| f.kind == kind).ok_or_else(|| {
            let names = self.names(kind);
            let closest = names.iter().map(|n| (crate::text::edit_distance(n, name), n)).min();
            let hint = match closest.filter(|(distance, _)| *distance <= 2).map(|(_, n)| n) {
                Some(close) => format!("did you mean {close:?}?"),
                None => format!("available: {}", names.join(", ")),
            };
            FnError::UnknownFunction { kind: kind.as_str(), name: name.to_string(), hint }
        })?;
        if !def.access.allows(identity) {
            let action = format!("{kind} {name:?}", kind = kind.as_str());
            return Err(FnError::denied(def.access, identity, action, &self.roles));
        }
        let args = match args {
            serde_json::Value::Null => Value::Object(Default::default()),
            other => {
                Value::from_json(other, "args").map_err(|e| ValidationError::new(e.path, "a valid value", e.problem))?
            }
        };
        def.args.check(&args, &Path::root("args"))?;
        Ok((def, args))
    }
}
