//! The client's view of the wire: the frames it sends, written by hand, and the frames it
//! receives, already decoded by the driver.
//!
//! Why not the serde types of [`crate::protocol`]: the browser build must stay small, and
//! serde_json's parser and `Value` were most of its weight. So the core only ever sees
//! decoded frames ([`Incoming`], whose results are the driver's own values: JS values in
//! the browser, `serde_json::Value` natively) and writes its frames as text with the few
//! lines below. Arguments travel as JSON text the driver produced (`JSON.stringify` in the
//! browser), which is also their identity for sharing identical subscriptions.
//! `tests` check every frame parses as the [`crate::protocol::ClientMessage`] the room reads.

use super::{ClientError, Payload};
use crate::model::number_text::decimal;
use crate::protocol::{ErrorCode, QueryId, RequestId, StateVersion};

/// A frame the client sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// First frame of a socket: the session, the protocol and the schema spoken.
    Connect {
        session_id: String,
        schema_hash: Option<String>,
    },
    Authenticate {
        token: Option<String>,
    },
    /// `args` is JSON text; `result_hash` the hash of the result held (resuming).
    Subscribe {
        query_id: QueryId,
        udf_path: String,
        args: String,
        result_hash: Option<String>,
    },
    Unsubscribe {
        query_id: QueryId,
    },
    /// `args` is JSON text.
    Mutation {
        request_id: RequestId,
        udf_path: String,
        args: String,
    },
}

impl Frame {
    /// The frame as the room reads it (`type`-tagged, camelCase).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        match self {
            Frame::Connect { session_id, schema_hash } => {
                out.push_str(r#"{"type":"connect","sessionId":"#);
                push_string(&mut out, session_id);
                out.push_str(r#","protocolVersion":"#);
                out.push_str(&decimal(u64::from(crate::PROTOCOL_VERSION)));
                if let Some(hash) = schema_hash {
                    out.push_str(r#","schemaHash":"#);
                    push_string(&mut out, hash);
                }
            }
            Frame::Authenticate { token } => {
                out.push_str(r#"{"type":"authenticate","token":"#);
                match token {
                    Some(token) => push_string(&mut out, token),
                    None => out.push_str("null"),
                }
            }
            Frame::Subscribe { query_id, udf_path, args, result_hash } => {
                out.push_str(r#"{"type":"subscribe","queryId":"#);
                out.push_str(&decimal(u64::from(*query_id)));
                push_call(&mut out, udf_path, args);
                if let Some(hash) = result_hash {
                    out.push_str(r#","resultHash":"#);
                    push_string(&mut out, hash);
                }
            }
            Frame::Unsubscribe { query_id } => {
                out.push_str(r#"{"type":"unsubscribe","queryId":"#);
                out.push_str(&decimal(u64::from(*query_id)));
            }
            Frame::Mutation { request_id, udf_path, args } => {
                out.push_str(r#"{"type":"mutation","requestId":"#);
                out.push_str(&decimal(u64::from(*request_id)));
                push_call(&mut out, udf_path, args);
            }
        }
        out.push('}');
        out
    }
}

fn push_call(out: &mut String, udf_path: &str, args: &str) {
    out.push_str(r#","udfPath":"#);
    push_string(out, udf_path);
    out.push_str(r#","args":"#);
    out.push_str(if args.trim().is_empty() { "{}" } else { args });
}

/// Appends `s` as a JSON string literal.
pub fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The unanswered mutations of a session, as persisted so that a page reload loses none:
/// after the reload the new client continues the same session and re-sends them, and the
/// room applies each exactly once.
#[derive(Clone, Debug, PartialEq)]
pub struct Outbox {
    pub session_id: String,
    pub next_request_id: RequestId,
    /// `Frame::Mutation`s, in request order.
    pub pending: Vec<Frame>,
    /// Mutations refused for good that the application has not discarded yet.
    pub failed: Vec<FailedMutation>,
    /// Who made each of them ([`crate::client::Credentials::owner`]); one made while a
    /// sign-in was on its way has no entry (it belongs to the next sign-in).
    pub owners: Vec<(RequestId, String)>,
}

/// A mutation the room refused for good (or too large to send): its promise rejected, and it
/// is kept — the application shows it ("N changes could not be saved") until it is discarded
/// or retried.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedMutation {
    /// The `Frame::Mutation` as it was sent.
    pub frame: Frame,
    pub error: ClientError,
}

impl Outbox {
    /// Nothing to keep: no unanswered and no refused mutation.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.failed.is_empty()
    }

    /// `{"sessionId", "nextRequestId", "pending": [mutation frames], "failed": [mutation
    /// frames with "code" and "message"], "owners": {"requestId": owner}}`.
    pub fn to_json(&self) -> String {
        let mut out = String::from(r#"{"sessionId":"#);
        push_string(&mut out, &self.session_id);
        out.push_str(r#","nextRequestId":"#);
        out.push_str(&decimal(u64::from(self.next_request_id)));
        out.push_str(r#","pending":["#);
        for (i, frame) in self.pending.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&frame.to_json());
        }
        out.push_str(r#"],"failed":["#);
        for (i, failed) in self.failed.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut frame = failed.frame.to_json();
            frame.pop(); // the closing brace: the error's fields follow
            out.push_str(&frame);
            out.push_str(r#","code":"#);
            push_string(&mut out, failed.error.code.as_str());
            out.push_str(r#","message":"#);
            push_string(&mut out, &failed.error.message);
            out.push('}');
        }
        out.push_str(r#"],"owners":{"#);
        for (i, (request_id, owner)) in self.owners.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(&decimal(u64::from(*request_id)));
            out.push_str("\":");
            push_string(&mut out, owner);
        }
        out.push_str("}}");
        out
    }
}

/// A frame from the room, decoded by the driver.
pub enum Incoming<P: Payload> {
    Transition {
        start_version: StateVersion,
        end_version: StateVersion,
        modifications: Vec<Modification<P>>,
    },
    /// `Err((code, message))` when the mutation failed.
    MutationResponse {
        request_id: RequestId,
        outcome: Result<P, (ErrorCode, String)>,
    },
    Error {
        code: ErrorCode,
        message: String,
        retry_after_ms: Option<u64>,
    },
}

/// One query's change within a transition.
pub enum Modification<P: Payload> {
    Updated { query_id: QueryId, value: P, hash: String },
    Unchanged { query_id: QueryId },
    Diff { query_id: QueryId, base_hash: String, hash: String, diff: P::Diff },
    Failed { query_id: QueryId, code: ErrorCode, message: String },
    Removed { query_id: QueryId },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ClientMessage;
    use serde_json::json;

    #[test]
    fn every_frame_is_what_the_room_reads() {
        let frames = [
            (
                Frame::Connect { session_id: "s\"1".into(), schema_hash: Some("h".into()) },
                ClientMessage::Connect {
                    session_id: "s\"1".into(),
                    protocol_version: Some(crate::PROTOCOL_VERSION),
                    schema_hash: Some("h".into()),
                },
            ),
            (Frame::Authenticate { token: None }, ClientMessage::Authenticate { token: None }),
            (Frame::Authenticate { token: Some("t".into()) }, ClientMessage::Authenticate { token: Some("t".into()) }),
            (
                Frame::Subscribe {
                    query_id: 7,
                    udf_path: "tasks:list".into(),
                    args: r#"{"q":"a\nb"}"#.into(),
                    result_hash: Some("00ff".into()),
                },
                ClientMessage::Subscribe {
                    query_id: 7,
                    udf_path: "tasks:list".into(),
                    args: json!({"q": "a\nb"}),
                    result_hash: Some("00ff".into()),
                },
            ),
            (Frame::Unsubscribe { query_id: 3 }, ClientMessage::Unsubscribe { query_id: 3 }),
            (
                Frame::Mutation { request_id: 9, udf_path: "tasks:create".into(), args: String::new() },
                ClientMessage::Mutation { request_id: 9, udf_path: "tasks:create".into(), args: json!({}) },
            ),
        ];
        for (frame, expected) in frames {
            assert_eq!(ClientMessage::parse(&frame.to_json()), Ok(expected), "{}", frame.to_json());
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\u{1}\tİş");
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), "a\"b\\c\u{1}\tİş");
    }
}
