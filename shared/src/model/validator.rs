//! Field validators and the checks every write goes through.
//!
//! A [`Validator`] describes what a field may hold; the [`v`] module is the DSL that builds
//! them (`v::string()`, `v::optional(v::id("users"))`, `v::enumeration(["TRY", "USD"])` …).
//! [`Validator::check`] walks a value and returns the first problem as a
//! [`ValidationError`] with its exact path (`donations.location_coordinates.lat`), what was
//! expected and what was found. It never panics, whatever the input.

use crate::model::ids::DocumentId;
use crate::model::validation::ValidationError;
use crate::model::value::Value;
use std::collections::BTreeMap;

/// Deepest nesting of arrays and objects in one document.
pub const MAX_NESTING_DEPTH: usize = 32;
/// Most elements in one array.
pub const MAX_ARRAY_LENGTH: usize = 8192;
/// Longest dynamic key (of a `record` or inside `any`), in bytes.
pub const MAX_DYNAMIC_KEY_BYTES: usize = 1024;

/// A literal value a field must equal.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Int64(i64),
    Boolean(bool),
}

impl Literal {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Literal::String(a), Value::String(b)) => a == b,
            (Literal::Number(a), Value::Number(b)) => a == b,
            (Literal::Int64(a), Value::Int64(b)) => a == b,
            (Literal::Boolean(a), Value::Boolean(b)) => a == b,
            _ => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Literal::String(s) => format!("{s:?}"),
            Literal::Number(n) => n.to_string(),
            Literal::Int64(i) => format!("{i}n"),
            Literal::Boolean(b) => b.to_string(),
        }
    }
}

/// What a field may hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Validator {
    String,
    Number,
    Int64,
    Boolean,
    Null,
    Any,
    Bytes,
    Literal(Literal),
    /// Any one of the options. A union of string literals is an enum.
    Union(Vec<Validator>),
    /// The field may be absent. Only meaningful as an object field.
    Optional(Box<Validator>),
    Array(Box<Validator>),
    /// Exactly these fields: unknown fields are refused, required ones must be present.
    Object(BTreeMap<String, Validator>),
    /// Any keys matching `keys`, each value matching `values`.
    Record {
        keys: Box<Validator>,
        values: Box<Validator>,
    },
    /// An id of a document in the named table.
    Id(String),
}

/// The schema DSL: `v::object([("lat", v::number()), ("lng", v::number())])`.
pub mod v {
    use super::{Literal, Validator};

    pub fn string() -> Validator {
        Validator::String
    }
    pub fn number() -> Validator {
        Validator::Number
    }
    pub fn int64() -> Validator {
        Validator::Int64
    }
    pub fn boolean() -> Validator {
        Validator::Boolean
    }
    pub fn null() -> Validator {
        Validator::Null
    }
    pub fn any() -> Validator {
        Validator::Any
    }
    pub fn bytes() -> Validator {
        Validator::Bytes
    }
    pub fn id(table: &str) -> Validator {
        Validator::Id(table.to_string())
    }
    pub fn literal(value: &str) -> Validator {
        Validator::Literal(Literal::String(value.to_string()))
    }
    pub fn literal_number(value: f64) -> Validator {
        Validator::Literal(Literal::Number(value))
    }
    pub fn literal_bool(value: bool) -> Validator {
        Validator::Literal(Literal::Boolean(value))
    }
    /// A union of string literals: `v::enumeration(["TRY", "USD", "EUR"])`.
    pub fn enumeration<'a>(values: impl IntoIterator<Item = &'a str>) -> Validator {
        Validator::Union(values.into_iter().map(literal).collect())
    }
    pub fn union(options: impl IntoIterator<Item = Validator>) -> Validator {
        Validator::Union(options.into_iter().collect())
    }
    pub fn optional(inner: Validator) -> Validator {
        Validator::Optional(Box::new(inner))
    }
    pub fn array(items: Validator) -> Validator {
        Validator::Array(Box::new(items))
    }
    pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Validator)>) -> Validator {
        Validator::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn record(keys: Validator, values: Validator) -> Validator {
        Validator::Record { keys: Box::new(keys), values: Box::new(values) }
    }
}

/// A path into a document, rendered `table.field[3].sub` in errors.
#[derive(Clone, Debug, Default)]
pub struct Path(String);

impl Path {
    pub fn root(name: &str) -> Self {
        Path(name.to_string())
    }
    fn field(&self, name: &str) -> Path {
        Path(format!("{}.{name}", self.0))
    }
    fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Validator {
    /// The words used for this validator in error messages and docs.
    pub fn describe(&self) -> String {
        match self {
            Validator::String => "string".into(),
            Validator::Number => "number".into(),
            Validator::Int64 => "int64".into(),
            Validator::Boolean => "boolean".into(),
            Validator::Null => "null".into(),
            Validator::Any => "any value".into(),
            Validator::Bytes => "bytes".into(),
            Validator::Literal(l) => l.describe(),
            Validator::Union(options) if options.iter().all(|o| matches!(o, Validator::Literal(_))) => {
                let values: Vec<String> = options.iter().map(Validator::describe).collect();
                format!("one of {}", values.join(", "))
            }
            Validator::Union(options) => options.iter().map(Validator::describe).collect::<Vec<_>>().join(" | "),
            Validator::Optional(inner) => format!("{} or nothing", inner.describe()),
            Validator::Array(items) => format!("array of {}", items.describe()),
            Validator::Object(_) => "object".into(),
            Validator::Record { keys, values } => {
                format!("record of {} to {}", keys.describe(), values.describe())
            }
            Validator::Id(table) => format!("id of a {table} document"),
        }
    }

    /// Checks `value` against this validator. `path` names the value in errors.
    pub fn check(&self, value: &Value, path: &Path) -> Result<(), ValidationError> {
        self.check_at(value, path, 0)
    }

    fn check_at(&self, value: &Value, path: &Path, depth: usize) -> Result<(), ValidationError> {
        if depth > MAX_NESTING_DEPTH {
            return Err(ValidationError::new(
                path.as_str(),
                format!("at most {MAX_NESTING_DEPTH} levels of nesting"),
                "deeper nesting",
            ));
        }
        let mismatch = || Err(ValidationError::new(path.as_str(), self.describe(), describe_value(value)));
        match (self, value) {
            (Validator::Any, _) => check_any(value, path, depth),
            (Validator::String, Value::String(_))
            | (Validator::Number, Value::Number(_))
            | (Validator::Int64, Value::Int64(_))
            | (Validator::Boolean, Value::Boolean(_))
            | (Validator::Null, Value::Null)
            | (Validator::Bytes, Value::Bytes(_)) => Ok(()),
            (Validator::Literal(l), _) if l.matches(value) => Ok(()),
            (Validator::Id(table), Value::String(s)) => match DocumentId::parse_for_table(s, table) {
                Ok(_) => Ok(()),
                Err(problem) => Err(ValidationError::new(path.as_str(), self.describe(), problem.to_string())),
            },
            // A present optional field that is wrong: say that leaving it out is fine too.
            (Validator::Optional(inner), _) => inner.check_at(value, path, depth).map_err(|e| {
                if e.path == path.as_str() {
                    ValidationError { expected: self.describe(), ..e }
                } else {
                    e
                }
            }),
            (Validator::Union(options), _) => self.check_union(options, value, path, depth),
            (Validator::Array(items), Value::Array(values)) => {
                if values.len() > MAX_ARRAY_LENGTH {
                    return Err(ValidationError::new(
                        path.as_str(),
                        format!("an array of at most {MAX_ARRAY_LENGTH} items"),
                        format!("{} items", values.len()),
                    ));
                }
                values.iter().enumerate().try_for_each(|(i, v)| items.check_at(v, &path.index(i), depth + 1))
            }
            (Validator::Object(fields), Value::Object(values)) => check_fields(fields, values, path, depth),
            (Validator::Record { keys, values: value_validator }, Value::Object(entries)) => {
                for (key, item) in entries {
                    let key_path = path.field(key);
                    check_dynamic_key(key, &key_path)?;
                    keys.check_at(&Value::String(key.clone()), &key_path, depth + 1)
                        .map_err(|e| ValidationError { expected: format!("a key that is {}", e.expected), ..e })?;
                    value_validator.check_at(item, &key_path, depth + 1)?;
                }
                Ok(())
            }
            _ => mismatch(),
        }
    }

    fn check_union(
        &self,
        options: &[Validator],
        value: &Value,
        path: &Path,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let mut object_errors = Vec::new();
        for option in options {
            match option.check_at(value, path, depth) {
                Ok(()) => return Ok(()),
                Err(e) if matches!(option, Validator::Object(_)) => object_errors.push(e),
                Err(_) => {}
            }
        }
        // An object that fits no option: if only one option is an object, its error is
        // the precise one ("donations.x.lat: expected number …").
        if matches!(value, Value::Object(_)) && object_errors.len() == 1 {
            return Err(object_errors.remove(0));
        }
        Err(ValidationError::new(path.as_str(), self.describe(), describe_value(value)))
    }
}

/// Checks an object's fields: every declared required field present, no unknown field.
pub fn check_fields(
    fields: &BTreeMap<String, Validator>,
    values: &BTreeMap<String, Value>,
    path: &Path,
    depth: usize,
) -> Result<(), ValidationError> {
    if let Some(unknown) = values.keys().find(|k| !fields.contains_key(*k)) {
        let known: Vec<&str> = fields.keys().map(String::as_str).collect();
        return Err(ValidationError::new(
            path.field(unknown).as_str(),
            format!("no such field (allowed: {})", shorten_list(&known)),
            describe_value(&values[unknown]),
        ));
    }
    for (name, validator) in fields {
        let field_path = path.field(name);
        match (values.get(name), validator) {
            (None, Validator::Optional(_)) => {}
            (None, _) => {
                return Err(ValidationError::new(
                    field_path.as_str(),
                    format!("{} (required)", validator.describe()),
                    "nothing: the field is missing",
                ))
            }
            (Some(value), _) => validator.check_at(value, &field_path, depth + 1)?,
        }
    }
    Ok(())
}

/// `any` still enforces the document-wide limits: depth, array length, key rules.
fn check_any(value: &Value, path: &Path, depth: usize) -> Result<(), ValidationError> {
    if depth > MAX_NESTING_DEPTH {
        return Err(ValidationError::new(
            path.as_str(),
            format!("at most {MAX_NESTING_DEPTH} levels of nesting"),
            "deeper nesting",
        ));
    }
    match value {
        Value::Array(items) => {
            if items.len() > MAX_ARRAY_LENGTH {
                return Err(ValidationError::new(
                    path.as_str(),
                    format!("an array of at most {MAX_ARRAY_LENGTH} items"),
                    format!("{} items", items.len()),
                ));
            }
            items.iter().enumerate().try_for_each(|(i, v)| check_any(v, &path.index(i), depth + 1))
        }
        Value::Object(entries) => entries.iter().try_for_each(|(k, v)| {
            let key_path = path.field(k);
            check_dynamic_key(k, &key_path)?;
            check_any(v, &key_path, depth + 1)
        }),
        _ => Ok(()),
    }
}

fn check_dynamic_key(key: &str, path: &Path) -> Result<(), ValidationError> {
    if key.is_empty() || key.len() > MAX_DYNAMIC_KEY_BYTES || key.starts_with('$') {
        return Err(ValidationError::new(
            path.as_str(),
            format!("a field name of 1 to {MAX_DYNAMIC_KEY_BYTES} bytes not starting with '$'"),
            format!("{key:?}"),
        ));
    }
    Ok(())
}

fn shorten_list(items: &[&str]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!("{}, … {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
    }
}

/// Describes a value for an error message: its type and a short excerpt.
pub fn describe_value(value: &Value) -> String {
    const MAX_CHARS: usize = 60;
    match value {
        Value::Null => "null".into(),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::Int64(i) => format!("int64 {i}"),
        Value::String(s) => {
            let short: String = s.chars().take(MAX_CHARS).collect();
            if short.len() < s.len() {
                format!("string {short:?}… ({} characters)", s.chars().count())
            } else {
                format!("string {short:?}")
            }
        }
        Value::Bytes(b) => format!("bytes ({} bytes)", b.len()),
        Value::Array(items) => format!("array of {} items", items.len()),
        Value::Object(_) => "object".into(),
    }
}

#[cfg(test)]
mod tests;
