//! The `tasks` table: the first table of the walking skeleton.
//!
//! A task is `{ title, status, assigned_to? }`. The general schema DSL replaces this
//! hand-written validator later; the error shapes it produces stay the same.

use crate::validation::{describe, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const TABLE: &str = "tasks";
/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest `assigned_to` accepted, in characters.
pub const MAX_ASSIGNEE_CHARS: usize = 200;

/// Where a task stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    #[default]
    Todo,
    Doing,
    Done,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 3] = [TaskStatus::Todo, TaskStatus::Doing, TaskStatus::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::Doing => "doing",
            TaskStatus::Done => "done",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The user-writable fields of a task, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub title: String,
    pub status: TaskStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

impl NewTask {
    /// Validates an untrusted JSON object as a new task. `status` defaults to `todo`.
    /// Unknown fields are rejected so that a typo (`asigned_to`) is not silently dropped.
    pub fn from_json(input: &Value) -> Result<Self, ValidationError> {
        let object = input.as_object().ok_or_else(|| {
            ValidationError::at(
                TABLE,
                "an object with fields title, status?, assigned_to?",
                input,
            )
        })?;
        reject_unknown_fields(object)?;
        let title = match object.get("title") {
            None => {
                return Err(ValidationError::new(
                    field("title"),
                    "a string (required)",
                    "nothing: the field is missing",
                ))
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(ValidationError::new(
                    field("title"),
                    "a non-empty string",
                    "an empty string",
                ));
            }
            Some(Value::String(s)) if s.chars().count() > MAX_TITLE_CHARS => {
                return Err(ValidationError::at(
                    field("title"),
                    format!("at most {MAX_TITLE_CHARS} characters"),
                    &object["title"],
                ));
            }
            Some(Value::String(s)) => s.trim().to_string(),
            Some(other) => return Err(ValidationError::at(field("title"), "a string", other)),
        };
        let status = match object.get("status") {
            None | Some(Value::Null) => TaskStatus::default(),
            Some(Value::String(s)) => {
                TaskStatus::parse(s).ok_or_else(|| status_error(&object["status"]))?
            }
            Some(other) => return Err(status_error(other)),
        };
        let assigned_to = match object.get("assigned_to") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() > MAX_ASSIGNEE_CHARS => {
                return Err(ValidationError::at(
                    field("assigned_to"),
                    format!("at most {MAX_ASSIGNEE_CHARS} characters"),
                    &object["assigned_to"],
                ));
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(ValidationError::at(
                    field("assigned_to"),
                    "a string or nothing",
                    other,
                ))
            }
        };
        Ok(Self {
            title,
            status,
            assigned_to,
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a task always serializes")
    }
}

fn field(name: &str) -> String {
    format!("{TABLE}.{name}")
}

fn status_error(found: &Value) -> ValidationError {
    let allowed: Vec<String> = TaskStatus::ALL
        .iter()
        .map(|s| format!("{:?}", s.as_str()))
        .collect();
    ValidationError::new(
        field("status"),
        format!("one of {}", allowed.join(", ")),
        describe(found),
    )
}

fn reject_unknown_fields(object: &Map<String, Value>) -> Result<(), ValidationError> {
    const KNOWN: [&str; 3] = ["title", "status", "assigned_to"];
    match object.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        Some(unknown) => Err(ValidationError::new(
            field(unknown),
            "no such field (tasks has title, status, assigned_to)",
            describe(&object[unknown]),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(input: Value) -> String {
        NewTask::from_json(&input).unwrap_err().to_string()
    }

    #[test]
    fn valid_task_with_defaults() {
        let task = NewTask::from_json(&json!({"title": "  Call donor  "})).unwrap();
        assert_eq!(
            task,
            NewTask {
                title: "Call donor".into(),
                status: TaskStatus::Todo,
                assigned_to: None
            }
        );
        assert_eq!(
            task.to_json(),
            json!({"title": "Call donor", "status": "todo"})
        );
    }

    #[test]
    fn valid_task_with_all_fields() {
        let task =
            NewTask::from_json(&json!({"title": "T", "status": "doing", "assigned_to": "ayse"}))
                .unwrap();
        assert_eq!(task.status, TaskStatus::Doing);
        assert_eq!(task.assigned_to.as_deref(), Some("ayse"));
    }

    #[test]
    fn each_error_names_field_expected_and_found() {
        assert_eq!(
            err(json!({})),
            "tasks.title: expected a string (required), found nothing: the field is missing"
        );
        assert_eq!(
            err(json!({"title": "  "})),
            "tasks.title: expected a non-empty string, found an empty string"
        );
        assert_eq!(
            err(json!({"title": 5})),
            "tasks.title: expected a string, found number 5"
        );
        assert_eq!(
            err(json!({"title": "x", "status": "later"})),
            r#"tasks.status: expected one of "todo", "doing", "done", found string "later""#
        );
        assert_eq!(
            err(json!({"title": "x", "status": true})),
            r#"tasks.status: expected one of "todo", "doing", "done", found boolean true"#
        );
        assert_eq!(
            err(json!({"title": "x", "assigned_to": []})),
            "tasks.assigned_to: expected a string or nothing, found array of 0 items"
        );
        assert_eq!(
            err(json!({"title": "x", "asigned_to": "a"})),
            r#"tasks.asigned_to: expected no such field (tasks has title, status, assigned_to), found string "a""#
        );
        assert_eq!(
            err(json!("x")),
            r#"tasks: expected an object with fields title, status?, assigned_to?, found string "x""#
        );
        assert!(err(json!({"title": "x".repeat(201)}))
            .starts_with("tasks.title: expected at most 200 characters, found string"));
    }
}
