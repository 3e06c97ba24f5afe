//! Validation errors that say exactly what was wrong: where, what was expected, what came.

use thiserror::Error;

/// One failed check on one path of a document or argument object.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{path}: expected {expected}, found {found}")]
pub struct ValidationError {
    /// Dotted path from the table or `args`, e.g. `donations.location_coordinates.lat`.
    pub path: String,
    /// What the schema allows there, in words.
    pub expected: String,
    /// What the input held there, described by [`crate::model::validator::describe_value`].
    pub found: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Self { path: path.into(), expected: expected.into(), found: found.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validator::describe_value;
    use crate::model::value::Value;

    #[test]
    fn message_names_path_expected_and_found() {
        let err =
            ValidationError::new("tasks.status", r#"one of "pending", "completed""#, describe_value(&"later".into()));
        assert_eq!(err.to_string(), r#"tasks.status: expected one of "pending", "completed", found string "later""#);
    }

    #[test]
    fn long_strings_are_shortened() {
        let found = describe_value(&Value::String("x".repeat(500)));
        assert!(found.ends_with("… (500 characters)"), "{found}");
        assert!(found.len() < 100);
    }
}
