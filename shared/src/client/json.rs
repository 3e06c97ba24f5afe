//! The core over `serde_json::Value` results: what native hosts (tests, benchmarks, the
//! end-to-end suites) run. Decodes frames with the serde types of [`crate::protocol`] and
//! checks every applied diff against the room's hash.

use super::frame::{FailedMutation, Frame, Incoming, Modification, Outbox};
use super::{ClientCore, ClientError, ClientErrorCode, ClientEvent, Payload};
use crate::protocol::diff::ValueDiff;
use crate::protocol::hash::hash_value;
use crate::protocol::{ClientMessage, MutationOutcome, QueryModification, ServerMessage};
use serde_json::Value;

impl Payload for Value {
    type Diff = ValueDiff;

    fn apply_diff(&self, diff: &ValueDiff) -> Option<Self> {
        diff.apply(self)
    }

    fn has_hash(&self, hash: &str) -> bool {
        hash_value(self) == hash
    }

    fn rows(&self) -> usize {
        match self {
            Value::Array(items) => items.len(),
            Value::Object(fields) => ["documents", "page"]
                .iter()
                .find_map(|k| fields.get(*k).and_then(Value::as_array).map(Vec::len))
                .unwrap_or(1),
            Value::Null => 0,
            _ => 1,
        }
    }
}

/// Native callers pass arguments as values; the core keeps their JSON text.
pub trait IntoArgs {
    fn into_args(self) -> String;
}

impl IntoArgs for Value {
    fn into_args(self) -> String {
        self.to_string()
    }
}

impl IntoArgs for String {
    fn into_args(self) -> String {
        self
    }
}

impl From<ServerMessage> for Incoming<Value> {
    fn from(message: ServerMessage) -> Self {
        match message {
            ServerMessage::Transition { start_version, end_version, modifications } => Incoming::Transition {
                start_version,
                end_version,
                modifications: modifications
                    .into_iter()
                    .map(|m| match m {
                        QueryModification::QueryUpdated { query_id, value, hash } => {
                            Modification::Updated { query_id, value, hash }
                        }
                        QueryModification::QueryUnchanged { query_id } => Modification::Unchanged { query_id },
                        QueryModification::QueryDiff { query_id, base_hash, hash, diff } => {
                            Modification::Diff { query_id, base_hash, hash, diff }
                        }
                        QueryModification::QueryFailed { query_id, code, message } => {
                            Modification::Failed { query_id, code, message }
                        }
                        QueryModification::QueryRemoved { query_id } => Modification::Removed { query_id },
                    })
                    .collect(),
            },
            ServerMessage::MutationResponse { request_id, outcome } => Incoming::MutationResponse {
                request_id,
                outcome: match outcome {
                    MutationOutcome::Success { result, .. } => Ok(result),
                    MutationOutcome::Failure { code, message } => Err((code, message)),
                },
            },
            ServerMessage::Error { code, message, retry_after_ms } => Incoming::Error { code, message, retry_after_ms },
        }
    }
}

impl ClientCore<Value> {
    /// Handles one text frame from the server; one that does not parse asks for a resync.
    pub fn receive(&mut self, text: &str) -> Vec<ClientEvent<Value>> {
        match ServerMessage::parse(text) {
            Ok(message) => self.receive_frame(message.into()),
            Err(malformed) => vec![ClientEvent::ResyncRequired { reason: malformed.0 }],
        }
    }
}

impl Frame {
    /// The frame as the room's serde type (what the room will parse it as).
    pub fn to_message(&self) -> ClientMessage {
        match ClientMessage::parse(&self.to_json()) {
            Ok(message) => message,
            Err(e) => unreachable!("the client wrote a frame the room cannot read: {e}"),
        }
    }
}

impl Outbox {
    /// Reads what [`Outbox::to_json`] wrote; says what is wrong otherwise.
    pub fn parse(text: &str) -> Result<Outbox, crate::protocol::Malformed> {
        Self::parse_text(text).map_err(crate::protocol::Malformed)
    }

    fn parse_text(text: &str) -> Result<Outbox, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Saved {
            session_id: String,
            next_request_id: u32,
            pending: Vec<ClientMessage>,
            #[serde(default)]
            failed: Vec<SavedFailure>,
            /// Absent in outboxes saved before writes had owners: theirs go to the next sign-in.
            #[serde(default)]
            owners: std::collections::BTreeMap<String, String>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct SavedFailure {
            request_id: u32,
            udf_path: String,
            args: Value,
            code: String,
            message: String,
        }
        let saved: Saved = serde_json::from_str(text).map_err(|e| format!("not a saved outbox: {e}"))?;
        let failed = saved
            .failed
            .into_iter()
            .map(|f| {
                let code = ClientErrorCode::from_name(&f.code)
                    .ok_or_else(|| format!("a saved outbox names an unknown error code {:?}", f.code))?;
                Ok(FailedMutation {
                    frame: Frame::Mutation { request_id: f.request_id, udf_path: f.udf_path, args: f.args.to_string() },
                    error: ClientError { code, message: f.message },
                })
            })
            .collect::<Result<_, String>>()?;
        let pending = saved
            .pending
            .into_iter()
            .map(|m| match m {
                ClientMessage::Mutation { request_id, udf_path, args } => {
                    Ok(Frame::Mutation { request_id, udf_path, args: args.to_string() })
                }
                _ => Err("a saved outbox holds only mutations".to_string()),
            })
            .collect::<Result<_, _>>()?;
        let owners = saved
            .owners
            .into_iter()
            .map(|(id, owner)| {
                let id = id.parse().map_err(|_| format!("a saved outbox names an owner for request {id:?}"))?;
                Ok((id, owner))
            })
            .collect::<Result<_, String>>()?;
        Ok(Outbox { session_id: saved.session_id, next_request_id: saved.next_request_id, pending, failed, owners })
    }
}
