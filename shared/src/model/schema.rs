//! The schema DSL: tables with field validators, indexes, search indexes and unique keys.
//!
//! ```
//! use roomsync_shared::auth::{Role, Roles};
//! use roomsync_shared::model::schema::{define_schema, table};
//! use roomsync_shared::model::validator::v;
//!
//! const ROLES: Roles = Roles::new(&[Role::new(0, "staff")]);
//! let schema = define_schema(ROLES, [
//!     table("users", [("name", v::string()), ("email", v::string())])
//!         .index("by_email", ["email"])
//!         .unique(["email"]),
//!     table("tasks", [
//!         ("title", v::string()),
//!         ("status", v::enumeration(["pending", "in_progress", "completed"])),
//!         ("assigned_to", v::optional(v::id("users"))),
//!     ])
//!     .index("by_status", ["status"])
//!     .search_index("by_title", "title", ["status"]),
//! ])
//! .expect("a valid schema");
//! assert!(schema.table("tasks").is_some());
//! ```
//!
//! Definition errors (a typo in an index field, an id of a missing table, …) are collected
//! by [`define_schema`] and reported together, each naming the table and the element.

use crate::model::access::Access;
use crate::model::ids::table_code;
use crate::model::roles::Roles;
use crate::model::validation::ValidationError;
use crate::model::validator::{check_fields, describe_value, Path, Validator};
use crate::model::value::Value;
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Largest document, measured as its JSON encoding.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Most fields in one index (or unique key).
pub const MAX_INDEX_FIELDS: usize = 16;
/// Most indexes (plain and search) on one table.
pub const MAX_INDEXES_PER_TABLE: usize = 64;
/// Most filter fields on one search index.
pub const MAX_SEARCH_FILTER_FIELDS: usize = 16;
/// Longest table, field or index name.
pub const MAX_NAME_CHARS: usize = 64;
/// System tables that ids may point to without being declared: `_storage` holds uploaded
/// files (as in Convex, which the reference app was written for).
pub const SYSTEM_TABLES: [&str; 1] = ["_storage"];
/// System fields every document has, set by the room.
pub const SYSTEM_FIELDS: [&str; 2] = ["_id", "_creationTime"];

/// A plain index: documents ordered by these field paths (then by `_creationTime`).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexDef {
    pub name: String,
    pub fields: Vec<String>,
}

/// A full-text index over one string field, with equality filters.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchIndexDef {
    pub name: String,
    pub search_field: String,
    pub filter_fields: Vec<String>,
}

/// A unique key: no two documents may hold the same values in these fields. Documents
/// missing any of the fields are not constrained (as SQL treats NULL).
#[derive(Clone, Debug, PartialEq)]
pub struct UniqueDef {
    pub fields: Vec<String>,
}

/// One table's definition.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub name: String,
    /// Fields in declaration order (the order generated types and docs follow).
    pub fields: Vec<(String, Validator)>,
    pub indexes: Vec<IndexDef>,
    pub search_indexes: Vec<SearchIndexDef>,
    pub uniques: Vec<UniqueDef>,
    /// Who may read and who may write the table's documents through functions; `None`
    /// until set by [`TableDef::read_access`] / [`TableDef::write_access`] or, when the
    /// schema is defined, by the app's defaults (every role reads, the writers write). Read
    /// with [`TableDef::reads`] and [`TableDef::writes`]. Private, so that nothing can set
    /// them in a way the defaults then overwrite.
    read: Option<Access>,
    write: Option<Access>,
    /// Top-level fields only some roles may read; others get the document without them.
    pub field_access: BTreeMap<String, Access>,
    lookup: BTreeMap<String, Validator>,
}

/// Builds a table: `table("users", [("name", v::string())]).index("by_name", ["name"])`.
pub fn table<'a>(name: &str, fields: impl IntoIterator<Item = (&'a str, Validator)>) -> TableDef {
    let fields: Vec<(String, Validator)> = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let lookup = fields.iter().cloned().collect();
    TableDef {
        name: name.to_string(),
        fields,
        indexes: Vec::new(),
        search_indexes: Vec::new(),
        uniques: Vec::new(),
        read: None,
        write: None,
        field_access: BTreeMap::new(),
        lookup,
    }
}

impl TableDef {
    /// Adds an index over `fields`, in key order (compound when more than one).
    pub fn index<'a>(mut self, name: &str, fields: impl IntoIterator<Item = &'a str>) -> Self {
        self.indexes
            .push(IndexDef { name: name.to_string(), fields: fields.into_iter().map(str::to_string).collect() });
        self
    }

    /// Adds a full-text index on `search_field` with equality `filter_fields`.
    pub fn search_index<'a>(
        mut self,
        name: &str,
        search_field: &str,
        filter_fields: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.search_indexes.push(SearchIndexDef {
            name: name.to_string(),
            search_field: search_field.to_string(),
            filter_fields: filter_fields.into_iter().map(str::to_string).collect(),
        });
        self
    }

    /// Makes `fields` (one or several: a compound key) unique across the table.
    pub fn unique<'a>(mut self, fields: impl IntoIterator<Item = &'a str>) -> Self {
        self.uniques.push(UniqueDef { fields: fields.into_iter().map(str::to_string).collect() });
        self
    }

    /// Sets who may read the table (e.g. `Access::AtLeast(ADMIN)` for audit logs).
    pub fn read_access(mut self, access: Access) -> Self {
        self.read = Some(access);
        self
    }

    /// Sets who may write the table.
    pub fn write_access(mut self, access: Access) -> Self {
        self.write = Some(access);
        self
    }

    /// Who may read the table's documents through functions (closed until the schema is
    /// defined).
    pub fn reads(&self) -> Access {
        self.read.unwrap_or(Access::Nobody)
    }

    /// Who may insert, patch, replace or delete (closed until the schema is defined).
    pub fn writes(&self) -> Access {
        self.write.unwrap_or(Access::Nobody)
    }

    /// Gives the accesses the definition left unset the app's defaults, and checks that
    /// every rule names one of the app's roles.
    fn settle_access(&mut self, roles: &Roles, problems: &mut Vec<SchemaProblem>) {
        let read = *self.read.get_or_insert(Access::AtLeast(roles.weakest()));
        let write = *self.write.get_or_insert(Access::AtLeast(roles.writers()));
        let rules = [("read access", &read), ("write access", &write)];
        let fields = self.field_access.iter().map(|(f, a)| (f.as_str(), a));
        for (what, access) in rules.into_iter().chain(fields) {
            if let Access::AtLeast(role) = access {
                if !roles.contains(*role) {
                    let problem = format!(
                        "names role {:?}, which is not one of the app's roles ({})",
                        role.as_str(),
                        roles.names()
                    );
                    problems.push(SchemaProblem::at(what, problem).in_table(&self.name));
                }
            }
        }
    }

    /// Restricts who may read one top-level field (e.g. national id numbers). Callers
    /// without access get documents without the field; writes by callers who cannot read it
    /// keep the stored value unless they set a new one.
    pub fn field_access(mut self, field: &str, access: Access) -> Self {
        self.field_access.insert(field.to_string(), access);
        self
    }

    /// The validator of a top-level field.
    pub fn field(&self, name: &str) -> Option<&Validator> {
        self.lookup.get(name)
    }

    /// The validator at a dotted path (`location_coordinates.lat`), through nested objects.
    /// System fields resolve to their types.
    pub fn resolve(&self, path: &str) -> Option<Validator> {
        match path {
            "_id" => return Some(Validator::Id(self.name.clone())),
            "_creationTime" => return Some(Validator::Number),
            _ => {}
        }
        let mut parts = path.split('.');
        let mut current = self.lookup.get(parts.next()?)?;
        for part in parts {
            current = match unwrap_optional(current) {
                Validator::Object(fields) => fields.get(part)?,
                _ => return None,
            };
        }
        Some(current.clone())
    }

    /// Checks a new document's user fields: system fields may not be set, every declared
    /// required field must be present, no unknown field, and the size limit holds.
    pub fn validate_insert(&self, doc: &Value) -> Result<(), ValidationError> {
        let path = Path::root(&self.name);
        let Value::Object(fields) = doc else {
            return Err(ValidationError::new(&self.name, "an object (a document)", describe_value(doc)));
        };
        if let Some(system) = fields.keys().find(|k| k.starts_with('_')) {
            return Err(ValidationError::new(
                format!("{}.{system}", self.name),
                "no field starting with '_' (system fields are set by the room)",
                describe_value(&fields[system]),
            ));
        }
        check_fields(&self.lookup, fields, &path, 0)?;
        let size = doc.to_json().to_string().len();
        if size > MAX_DOCUMENT_BYTES {
            return Err(ValidationError::new(
                &self.name,
                format!("a document of at most {MAX_DOCUMENT_BYTES} bytes (1 MiB)"),
                format!("{size} bytes"),
            ));
        }
        Ok(())
    }

    fn check_definition(&self, tables: &BTreeMap<String, TableDef>, errors: &mut Vec<SchemaProblem>) {
        let t = &self.name;
        let mut push = |p: SchemaProblem| errors.push(p.in_table(t));
        if let Err(problem) = check_name(&self.name, false) {
            push(SchemaProblem::new(format!("table name {problem}")));
        }
        let mut seen = BTreeSet::new();
        for (name, validator) in &self.fields {
            if !seen.insert(name) {
                push(SchemaProblem::new(format!("field {name:?} is declared twice")));
            }
            if let Err(problem) = check_name(name, false) {
                push(SchemaProblem::new(format!("field name {problem}")));
            }
            check_validator(validator, name, true, tables, &mut push);
        }
        let mut index_names = BTreeSet::new();
        let total = self.indexes.len() + self.search_indexes.len();
        if total > MAX_INDEXES_PER_TABLE {
            push(SchemaProblem::new(format!("{total} indexes; at most {MAX_INDEXES_PER_TABLE} are allowed")));
        }
        for index in &self.indexes {
            let i = &index.name;
            if !index_names.insert(i.as_str()) {
                push(SchemaProblem::new(format!("index name {i:?} is used twice")));
            }
            if let Err(problem) = check_name(i, false) {
                push(SchemaProblem::new(format!("index name {problem}")));
            }
            if matches!(i.as_str(), "by_id" | "by_creation_time") {
                push(SchemaProblem::new(format!("index name {i:?} is reserved for the built-in indexes")));
            }
            self.check_key_fields(&format!("index {i}"), &index.fields, &mut push);
        }
        for search in &self.search_indexes {
            let s = &search.name;
            if !index_names.insert(s.as_str()) {
                push(SchemaProblem::new(format!("index name {s:?} is used twice")));
            }
            match self.resolve(&search.search_field).as_ref().map(unwrap_optional) {
                Some(Validator::String) => {}
                Some(other) => push(SchemaProblem::at(
                    format!("search index {s}"),
                    format!(
                        "search field {:?} must be a string field, but it is {}",
                        search.search_field,
                        other.describe()
                    ),
                )),
                None => push(SchemaProblem::at(
                    format!("search index {s}"),
                    format!("search field {:?} does not exist", search.search_field),
                )),
            }
            if search.filter_fields.len() > MAX_SEARCH_FILTER_FIELDS {
                push(SchemaProblem::at(
                    format!("search index {s}"),
                    format!("at most {MAX_SEARCH_FILTER_FIELDS} filter fields"),
                ));
            }
            for field in &search.filter_fields {
                if self.resolve(field).is_none() {
                    push(SchemaProblem::at(
                        format!("search index {s}"),
                        format!("filter field {field:?} does not exist"),
                    ));
                }
            }
        }
        for field in self.field_access.keys() {
            if self.field(field).is_none() {
                push(SchemaProblem::at("field access rule", format!("field {field:?} does not exist")));
            }
        }
        let mut unique_keys = BTreeSet::new();
        for unique in &self.uniques {
            if !unique_keys.insert(unique.fields.clone()) {
                push(SchemaProblem::new(format!("unique key {:?} is declared twice", unique.fields)));
            }
            self.check_key_fields(&format!("unique key {:?}", unique.fields), &unique.fields, &mut push);
        }
    }

    fn check_key_fields(&self, what: &str, fields: &[String], push: &mut impl FnMut(SchemaProblem)) {
        if fields.is_empty() || fields.len() > MAX_INDEX_FIELDS {
            push(SchemaProblem::at(what, format!("must have 1 to {MAX_INDEX_FIELDS} fields, has {}", fields.len())));
        }
        let mut seen = BTreeSet::new();
        for field in fields {
            if !seen.insert(field) {
                push(SchemaProblem::at(what, format!("field {field:?} appears twice")));
            }
            if self.resolve(field).is_none() {
                let known: Vec<&str> = self.fields.iter().map(|(n, _)| n.as_str()).collect();
                let hint = known
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(field) || crate::model::text::edit_distance(k, field) <= 2)
                    .map(|k| format!("did you mean {k:?}?"));
                push(SchemaProblem { hint, ..SchemaProblem::at(what, format!("field {field:?} does not exist")) });
            }
        }
    }
}

fn unwrap_optional(v: &Validator) -> &Validator {
    match v {
        Validator::Optional(inner) => inner,
        other => other,
    }
}

fn check_validator(
    validator: &Validator,
    path: &str,
    field_level: bool,
    tables: &BTreeMap<String, TableDef>,
    push: &mut impl FnMut(SchemaProblem),
) {
    match validator {
        Validator::Optional(inner) => {
            if !field_level {
                push(SchemaProblem::at(
                    format!("field {path}"),
                    "optional is only allowed directly on an object field",
                ));
            }
            check_validator(inner, path, false, tables, push);
        }
        Validator::Id(table) if !tables.contains_key(table) && !SYSTEM_TABLES.contains(&table.as_str()) => push(
            SchemaProblem::at(format!("field {path}"), format!("id of table {table:?}, which is not in the schema")),
        ),
        Validator::Union(options) => {
            if options.is_empty() {
                push(SchemaProblem::at(format!("field {path}"), "a union needs at least one option"));
            }
            options.iter().for_each(|o| check_validator(o, path, false, tables, push));
        }
        Validator::Array(items) => check_validator(items, &format!("{path}[]"), false, tables, push),
        Validator::Object(fields) => {
            for (name, inner) in fields {
                if let Err(problem) = check_name(name, true) {
                    push(SchemaProblem::at(format!("field {path}"), format!("field name {problem}")));
                }
                check_validator(inner, &format!("{path}.{name}"), true, tables, push);
            }
        }
        Validator::Record { keys, values } => {
            if !matches!(**keys, Validator::String | Validator::Id(_) | Validator::Literal(_) | Validator::Union(_)) {
                push(SchemaProblem::at(format!("field {path}"), "record keys must be strings, ids or string literals"));
            }
            check_validator(keys, path, false, tables, push);
            check_validator(values, path, false, tables, push);
        }
        _ => {}
    }
}

/// Table, field and index names: a letter (or `_` inside nested objects) then letters,
/// digits and `_`, at most 64 characters. Top-level `_…` names belong to the system.
fn check_name(name: &str, nested: bool) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || (nested && c == '_'));
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > MAX_NAME_CHARS {
        return Err(format!(
            "{name:?} is not allowed: use 1 to {MAX_NAME_CHARS} letters, digits and '_', starting with a letter"
        ));
    }
    Ok(())
}

/// A checked schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    tables: Vec<TableDef>,
    by_name: BTreeMap<String, usize>,
    roles: Roles,
}

/// Everything wrong with a schema definition, one [`SchemaProblem`] per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    pub problems: Vec<SchemaProblem>,
}

/// One thing wrong with a schema definition: where (the table, and the element in it — an
/// index, a field, a rule), what, and a hint when there is one. Displayed as
/// `table users: index by_name: field "nmae" does not exist (did you mean "name"?)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The table it is in; `None` for the schema as a whole (its roles, a rule naming no
    /// declared table).
    pub table: Option<String>,
    /// The element of the table: `index by_name`, `field owner`, `search index by_text`,
    /// `unique key ["email"]`, `field access rule`, `read access`.
    pub element: Option<String>,
    pub problem: String,
    /// What to write instead, when a near name is known.
    pub hint: Option<String>,
}

impl SchemaProblem {
    pub fn new(problem: impl Into<String>) -> Self {
        Self { table: None, element: None, problem: problem.into(), hint: None }
    }

    pub fn at(element: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { element: Some(element.into()), ..Self::new(problem) }
    }

    fn in_table(self, table: &str) -> Self {
        Self { table: Some(table.to_string()), ..self }
    }
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(table) = &self.table {
            write!(f, "table {table}: ")?;
        }
        if let Some(element) = &self.element {
            write!(f, "{element}: ")?;
        }
        f.write_str(&self.problem)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, "schema", &self.problems)
    }
}

/// "invalid {what} (N problems):" and one line per problem: how definition errors read.
pub(crate) fn write_problems(f: &mut fmt::Formatter<'_>, what: &str, problems: &[impl fmt::Display]) -> fmt::Result {
    write!(f, "invalid {what} ({} problems):", problems.len())?;
    for p in problems {
        write!(f, "\n- {p}")?;
    }
    Ok(())
}

impl std::error::Error for SchemaError {}

/// An access rule: the table it applies to, and what it sets on it (`read_access`,
/// `write_access`, `field_access`).
pub type AccessRule = (&'static str, fn(TableDef) -> TableDef);

/// [`define_schema`] with access rules by table name: each rule is applied to the table it
/// names. A rule naming no declared table is a definition error, not a rule silently left
/// out (which would leave that table readable and writable by the default roles).
pub fn define_schema_with_rules(
    roles: Roles,
    tables: impl IntoIterator<Item = TableDef>,
    rules: &[AccessRule],
) -> Result<Schema, SchemaError> {
    let mut tables: Vec<TableDef> = tables.into_iter().collect();
    let mut problems = Vec::new();
    for (name, rule) in rules {
        match tables.iter().position(|t| t.name == *name) {
            Some(i) => {
                let placeholder = table(name, std::iter::empty::<(&str, Validator)>());
                let def = std::mem::replace(&mut tables[i], placeholder);
                tables[i] = rule(def);
            }
            None => problems.push(SchemaProblem::at(
                format!("access rule for table {name:?}"),
                "the schema declares no such table",
            )),
        }
    }
    match define_schema(roles, tables) {
        Ok(schema) if problems.is_empty() => Ok(schema),
        Ok(_) => Err(SchemaError { problems }),
        Err(mut e) => {
            problems.append(&mut e.problems);
            Err(SchemaError { problems })
        }
    }
}

/// Checks and assembles a schema from its tables, for an app with these roles (tables
/// whose access is not set are read by every role and written by the app's writers).
pub fn define_schema(roles: Roles, tables: impl IntoIterator<Item = TableDef>) -> Result<Schema, SchemaError> {
    let mut tables: Vec<TableDef> = tables.into_iter().collect();
    let mut problems = Vec::new();
    if let Err(problem) = roles.check() {
        problems.push(SchemaProblem::at("roles", problem.0));
    }
    for table in &mut tables {
        table.settle_access(&roles, &mut problems);
    }
    let mut map = BTreeMap::new();
    let mut codes: BTreeMap<String, &str> = SYSTEM_TABLES.iter().map(|t| (table_code(t), *t)).collect();
    for table in &tables {
        if map.insert(table.name.clone(), table.clone()).is_some() {
            problems.push(SchemaProblem::new("defined twice").in_table(&table.name));
        }
        if let Some(other) = codes.insert(table_code(&table.name), &table.name) {
            if other != table.name {
                problems.push(
                    SchemaProblem::new(format!("its id code collides with table {other}; rename one of them"))
                        .in_table(&table.name),
                );
            }
        }
    }
    for table in &tables {
        table.check_definition(&map, &mut problems);
    }
    if !problems.is_empty() {
        return Err(SchemaError { problems });
    }
    let by_name = tables.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    Ok(Schema { tables, by_name, roles })
}

impl Schema {
    /// The roles of the app this schema belongs to.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    /// Tables in declaration order.
    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    /// Validates a document to be inserted into `table`.
    pub fn validate_insert(&self, table: &str, doc: &Value) -> Result<(), ValidationError> {
        match self.table(table) {
            Some(def) => def.validate_insert(doc),
            None => Err(ValidationError::new(table, "a table of the schema", format!("no table named {table:?}"))),
        }
    }

    /// The schema as data, in the reference format (`kafkasder-schema.json`), plus each
    /// table's `unique` keys.
    pub fn to_json(&self) -> Json {
        json!({ "tables": self.tables.iter().map(table_json).collect::<Vec<_>>() })
    }

    /// A stable hash of everything a client depends on (tables, fields, validators,
    /// indexes, unique keys), as 16 hex digits. Equal schemas hash equal on every platform.
    pub fn hash(&self) -> String {
        // serde_json's map is sorted by key, so this text is canonical.
        crate::model::text::hash_text(&self.to_json().to_string())
    }
}

fn table_json(t: &TableDef) -> Json {
    let fields: Map<String, Json> = t.fields.iter().map(|(n, v)| (n.clone(), validator_json(v))).collect();
    json!({
        "name": t.name,
        "fields": fields,
        "indexes": t.indexes.iter().map(|i| json!({"name": i.name, "fields": i.fields})).collect::<Vec<_>>(),
        "search_indexes": t.search_indexes.iter().map(|s| json!({
            "name": s.name, "searchField": s.search_field, "filterFields": s.filter_fields
        })).collect::<Vec<_>>(),
        "unique": t.uniques.iter().map(|u| json!(u.fields)).collect::<Vec<_>>(),
    })
}

/// A validator in the reference format: `{ "type": …, "optional"?: true, … }`.
pub fn validator_json(v: &Validator) -> Json {
    match v {
        Validator::Optional(inner) => {
            let mut j = validator_json(inner);
            if let Json::Object(map) = &mut j {
                map.insert("optional".into(), Json::Bool(true));
            }
            j
        }
        Validator::String => json!({"type": "string"}),
        Validator::Number => json!({"type": "number"}),
        Validator::Int64 => json!({"type": "int64"}),
        Validator::Boolean => json!({"type": "boolean"}),
        Validator::Null => json!({"type": "null"}),
        Validator::Any => json!({"type": "any"}),
        Validator::Bytes => json!({"type": "bytes"}),
        Validator::Id(table) => json!({"type": "id", "table": table}),
        Validator::Array(items) => json!({"type": "array", "items": validator_json(items)}),
        Validator::Object(fields) => json!({
            "type": "object",
            "fields": fields.iter().map(|(n, v)| (n.clone(), validator_json(v))).collect::<Map<_, _>>()
        }),
        Validator::Record { keys, values } => {
            json!({"type": "record", "keys": validator_json(keys), "values": validator_json(values)})
        }
        Validator::Literal(l) => json!({"type": "literal", "value": literal_json(l)}),
        Validator::Union(options) => {
            let strings: Option<Vec<&str>> = options
                .iter()
                .map(|o| match o {
                    Validator::Literal(crate::model::validator::Literal::String(s)) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            match strings {
                Some(values) => json!({"type": "enum", "values": values}),
                None => {
                    json!({"type": "union", "options": options.iter().map(validator_json).collect::<Vec<_>>()})
                }
            }
        }
    }
}

fn literal_json(l: &crate::model::validator::Literal) -> Json {
    use crate::model::validator::Literal;
    match l {
        Literal::String(s) => json!(s),
        Literal::Number(n) => json!(n),
        Literal::Int64(i) => json!({"$int64": i.to_string()}),
        Literal::Boolean(b) => json!(b),
    }
}

#[cfg(test)]
mod tests;
