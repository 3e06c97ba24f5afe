//! Named queries and mutations (`beneficiaries:list`, `tasks:create`, …) and their argument
//! validators. How a call can fail is [`super::error`]'s.

use super::error::FnError;
use super::tx::Tx;
use crate::auth::{Access, Identity, Roles};
use crate::model::validation::ValidationError;
use crate::model::validator::{Path, Validator};
use crate::model::value::Value;
use std::collections::BTreeMap;

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
            let closest = names.iter().map(|n| (crate::model::text::edit_distance(n, name), n)).min();
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
