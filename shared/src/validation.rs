//! Validation errors that say exactly what was wrong: where, what was expected, what came.

use serde_json::Value;
use thiserror::Error;

/// Maximum characters of a found value quoted back in an error message.
const MAX_FOUND_CHARS: usize = 60;

/// One failed check on one path of a document or argument object.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{path}: expected {expected}, found {found}")]
pub struct ValidationError {
    /// Dotted path from the table or function name, e.g. `tasks.status`.
    pub path: String,
    /// What the schema allows there, in words.
    pub expected: String,
    /// What the input held there, quoted and shortened.
    pub found: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Self { path: path.into(), expected: expected.into(), found: found.into() }
    }

    /// A check failed on a value that was present.
    pub fn at(path: impl Into<String>, expected: impl Into<String>, found: &Value) -> Self {
        Self::new(path, expected, describe(found))
    }
}

/// Describes a JSON value for an error message: its type and a short excerpt.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(MAX_FOUND_CHARS).collect();
            if short.len() < s.len() {
                format!("string {short:?}… ({} characters)", s.chars().count())
            } else {
                format!("string {short:?}")
            }
        }
        Value::Array(items) => format!("array of {} items", items.len()),
        Value::Object(_) => "object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_names_path_expected_and_found() {
        let err = ValidationError::at("tasks.status", r#"one of "todo", "doing", "done""#, &json!("later"));
        assert_eq!(err.to_string(), r#"tasks.status: expected one of "todo", "doing", "done", found string "later""#);
    }

    #[test]
    fn long_strings_are_shortened() {
        let found = describe(&json!("x".repeat(500)));
        assert!(found.ends_with("… (500 characters)"), "{found}");
        assert!(found.len() < 100);
    }
}
