//! An app as a value: its roles, its schema and its functions, checked together once and
//! shared by every room that serves it.

use super::registry::{FunctionKind, Registry};
use crate::auth::{Access, Roles};
use crate::model::schema::Schema;
use std::fmt;

/// An application the engine serves: what [`crate::Room::open`] takes. Nothing in the
/// engine names an app; a host builds one (the reference app's `roomsync_ngo_app::app()`)
/// and hands it to each room, usually behind an `Arc`.
pub struct App {
    schema: Schema,
    registry: Registry,
}

/// Why a schema and a registry do not make an app: every problem found, not only the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppError {
    pub problems: Vec<AppProblem>,
}

/// One way a schema and a registry do not fit together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppProblem {
    /// The schema and the registry were declared with different role lists.
    #[error("the schema's roles ({schema}) are not the registry's ({registry})")]
    RolesDiffer {
        /// The schema's role names, strongest first.
        schema: String,
        registry: String,
    },
    /// A function's access names a role the app does not declare.
    #[error("{} {function:?}: its access names role {role:?}, which is not one of the app's roles ({roles})", kind_name(*kind))]
    UnknownRole { function: String, kind: FunctionKind, role: String, roles: String },
}

fn kind_name(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Query => "query",
        FunctionKind::Mutation => "mutation",
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::model::schema::write_problems(f, "app", &self.problems)
    }
}

impl std::error::Error for AppError {}

/// Why an app could not be defined: its schema, or how its schema and functions fit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DefineError {
    #[error(transparent)]
    Schema(#[from] crate::model::schema::SchemaError),
    #[error(transparent)]
    App(#[from] AppError),
}

impl App {
    /// Puts an app together. The schema and the registry must be declared with the same
    /// roles, and every function's access must name one of them.
    pub fn new(schema: Schema, registry: Registry) -> Result<Self, AppError> {
        let mut problems = Vec::new();
        let roles = schema.roles();
        if registry.roles() != roles {
            problems.push(AppProblem::RolesDiffer { schema: roles.names(), registry: registry.roles().names() });
        }
        for def in registry.functions() {
            if let Access::AtLeast(role) = def.access {
                if !roles.contains(role) {
                    problems.push(AppProblem::UnknownRole {
                        function: def.name.to_string(),
                        kind: def.kind,
                        role: role.as_str().to_string(),
                        roles: roles.names(),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(Self { schema, registry })
        } else {
            Err(AppError { problems })
        }
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn roles(&self) -> &Roles {
        self.schema.roles()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::model::schema::{define_schema, table};
    use crate::model::validator::v;
    use crate::model::value::Value;

    const STAFF: Role = Role::new(0, "staff");
    const ROLES: Roles = Roles::new(&[STAFF]);
    const OTHER: Roles = Roles::new(&[STAFF, Role::new(1, "boss")]);

    fn schema() -> Schema {
        define_schema(ROLES, [table("notes", [("text", v::string())])]).unwrap()
    }

    #[test]
    fn an_app_is_one_set_of_roles() {
        let registry = Registry::new(ROLES).query("notes:list", v::object([]), |_, _| Ok(Value::Null));
        let app = App::new(schema(), registry).unwrap();
        assert_eq!(app.roles(), &ROLES);

        let err = App::new(schema(), Registry::new(OTHER)).err().unwrap();
        assert!(err.to_string().contains("the schema's roles (staff) are not the registry's (boss, staff)"), "{err}");

        let foreign = Registry::new(ROLES)
            .mutation("notes:add", v::object([]), |_, _| Ok(Value::Null))
            .allow("notes:add", Access::AtLeast(Role::new(1, "boss")));
        let err = App::new(schema(), foreign).err().unwrap();
        assert!(err.to_string().contains(r#"mutation "notes:add": its access names role"#), "{err}");
        assert_eq!(
            err.problems,
            [AppProblem::UnknownRole {
                function: "notes:add".into(),
                kind: FunctionKind::Mutation,
                role: "boss".into(),
                roles: "staff".into()
            }]
        );
    }
}
