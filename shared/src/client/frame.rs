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
    /// Several subscriptions (what a client sends when its socket opens): each is
    /// `(query id, function, args as JSON text, result hash held)`.
    SubscribeMany {
        queries: Vec<(QueryId, String, String, Option<String>)>,
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
    /// This many more of the room's frames were read (the room sheds a socket that leaves
    /// too much unacknowledged).
    Ack {
        frames: u32,
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
                out.push_str(r#"{"type":"subscribe","#);
                push_query(&mut out, *query_id, udf_path, args, result_hash.as_deref());
            }
            Frame::SubscribeMany { queries } => {
                out.push_str(r#"{"type":"subscribeMany","queries":["#);
                for (i, (query_id, udf_path, args, result_hash)) in queries.iter().enumerate() {
                    out.push_str(if i == 0 { "{" } else { ",{" });
                    push_query(&mut out, *query_id, udf_path, args, result_hash.as_deref());
                    out.push('}');
                }
                out.push(']');
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
            Frame::Ack { frames } => {
                out.push_str(r#"{"type":"ack","frames":"#);
                out.push_str(&decimal(u64::from(*frames)));
            }
        }
        out.push('}');
        out
    }
}

/// A subscription's fields, after the opening brace (and `type`, in `subscribe`).
fn push_query(out: &mut String, query_id: QueryId, udf_path: &str, args: &str, result_hash: Option<&str>) {
    out.push_str(r#""queryId":"#);
    out.push_str(&decimal(u64::from(query_id)));
    push_call(out, udf_path, args);
    if let Some(hash) = result_hash {
        out.push_str(r#","resultHash":"#);
        push_string(out, hash);
    }
}

fn push_call(out: &mut String, udf_path: &str, args: &str) {
    out.push_str(r#","udfPath":"#);
    push_string(out, udf_path);
    out.push_str(r#","args":"#);
    out.push_str(if args.trim().is_empty() { "{}" } else { args });
}

/// Appends `s` as a JSON string literal (the protocol's one string writer).
pub use crate::protocol::hash::push_json_string as push_string;

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

impl<P: Payload> Incoming<P> {
    /// A canonical one-line account of the decoded frame, with values and diffs shown by
    /// the caller: the golden-frame test compares what the browser's reader decoded with
    /// what the native decoder did (`client-wasm/src/golden-frames.json`). Not used outside
    /// tests, so it costs the client build nothing.
    pub fn describe(&self, value: impl Fn(&P) -> String, diff: impl Fn(&P::Diff) -> String) -> String {
        let version = |v: &StateVersion| format!("{}/{}/{}", v.query_set, v.identity, v.ts.0);
        match self {
            Incoming::Transition { start_version, end_version, modifications } => {
                let parts: Vec<String> = modifications
                    .iter()
                    .map(|m| match m {
                        Modification::Updated { query_id, value: v, hash } => {
                            format!("updated {query_id} {hash} {}", value(v))
                        }
                        Modification::Unchanged { query_id } => format!("unchanged {query_id}"),
                        Modification::Diff { query_id, base_hash, hash, diff: d } => {
                            format!("diff {query_id} {base_hash}->{hash} {}", diff(d))
                        }
                        Modification::Failed { query_id, code, message } => {
                            format!("failed {query_id} {} {message:?}", code.as_str())
                        }
                        Modification::Removed { query_id } => format!("removed {query_id}"),
                    })
                    .collect();
                format!("transition {}->{} [{}]", version(start_version), version(end_version), parts.join("; "))
            }
            Incoming::MutationResponse { request_id, outcome: Ok(result) } => {
                format!("mutation {request_id} ok {}", value(result))
            }
            Incoming::MutationResponse { request_id, outcome: Err((code, message)) } => {
                format!("mutation {request_id} failed {} {message:?}", code.as_str())
            }
            Incoming::Error { code, message, retry_after_ms } => {
                format!("error {} {message:?} retry {retry_after_ms:?}", code.as_str())
            }
        }
    }
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
            (
                Frame::SubscribeMany {
                    queries: vec![
                        (1, "tasks:list".into(), String::new(), None),
                        (2, "users:get".into(), r#"{"id":"u\"1"}"#.into(), Some("0a".into())),
                    ],
                },
                ClientMessage::SubscribeMany {
                    queries: vec![
                        crate::protocol::QuerySubscription {
                            query_id: 1,
                            udf_path: "tasks:list".into(),
                            args: json!({}),
                            result_hash: None,
                        },
                        crate::protocol::QuerySubscription {
                            query_id: 2,
                            udf_path: "users:get".into(),
                            args: json!({"id": "u\"1"}),
                            result_hash: Some("0a".into()),
                        },
                    ],
                },
            ),
            (Frame::SubscribeMany { queries: vec![] }, ClientMessage::SubscribeMany { queries: vec![] }),
            (Frame::Unsubscribe { query_id: 3 }, ClientMessage::Unsubscribe { query_id: 3 }),
            (Frame::Ack { frames: 32 }, ClientMessage::Ack { frames: 32 }),
            (
                Frame::Mutation { request_id: 9, udf_path: "tasks:create".into(), args: String::new() },
                ClientMessage::Mutation { request_id: 9, udf_path: "tasks:create".into(), args: json!({}) },
            ),
        ];
        for (frame, expected) in frames {
            assert_eq!(ClientMessage::parse(&frame.to_json()), Ok(expected), "{}", frame.to_json());
        }
    }

    /// Every kind of frame the room sends, as it writes them, with what the native decoder
    /// makes of them, in `client-wasm/src/golden-frames.json`: the browser's reader
    /// (`client-wasm/src/wire.rs`) is checked against them in Chromium. Regenerate with
    /// `ROOMSYNC_BLESS=1 cargo test -p roomsync-shared golden_frames`.
    #[test]
    fn golden_frames_for_the_browser_reader_are_current() {
        use crate::protocol::diff::ValueDiff;
        use crate::protocol::{MutationOutcome, QueryModification, ServerMessage, StateVersion, Ts};
        let v = |query_set, identity, ts| StateVersion { query_set, identity, ts: Ts(ts) };
        let rows = json!([{"_id": "a1", "title": "Çay \"ocak\"", "n": 3}, {"_id": "b2", "tags": [], "x": null}]);
        let diff = ValueDiff::compute(&rows, &json!([{"_id": "b2", "tags": ["k"], "x": null}]));
        let mut messages = vec![
            ServerMessage::Transition {
                start_version: v(0, 0, 0),
                end_version: v(1, 0, 9_007_199_254_740_993),
                modifications: vec![
                    QueryModification::QueryUpdated { query_id: 1, value: rows.clone(), hash: "00aa".into() },
                    QueryModification::QueryUnchanged { query_id: 2 },
                    QueryModification::QueryDiff { query_id: 3, base_hash: "0b".into(), hash: "0c".into(), diff },
                    QueryModification::QueryFailed {
                        query_id: 4,
                        code: ErrorCode::Forbidden,
                        message: "reading \"x\" is allowed to the role admin only".into(),
                    },
                    QueryModification::QueryRemoved { query_id: 5 },
                ],
            },
            ServerMessage::Transition { start_version: v(1, 0, 9), end_version: v(1, 1, 9), modifications: vec![] },
            ServerMessage::MutationResponse {
                request_id: 7,
                outcome: MutationOutcome::Success { result: json!("bene_0001"), ts: Ts(10) },
            },
            ServerMessage::MutationResponse {
                request_id: 8,
                outcome: MutationOutcome::Success { result: json!({"ok": true, "list": [1, 2]}), ts: Ts(11) },
            },
            ServerMessage::Error { code: ErrorCode::Overloaded, message: "busy".into(), retry_after_ms: Some(1500) },
            ServerMessage::Error { code: ErrorCode::BadFrame, message: "no".into(), retry_after_ms: None },
        ];
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            let outcome = MutationOutcome::Failure { code, message: format!("refused\n{i}") };
            messages.push(ServerMessage::MutationResponse { request_id: 100 + i as u32, outcome });
        }
        let cases: Vec<serde_json::Value> = messages
            .into_iter()
            .map(|message| {
                // Decoded natively from the text, as native clients read frames.
                let frame = message.to_json();
                let parsed = ServerMessage::parse(&frame).unwrap_or_else(|e| panic!("{frame}: {e}"));
                assert_eq!(parsed, message);
                let decoded = Incoming::<serde_json::Value>::from(parsed)
                    .describe(|value| value.to_string(), |diff| diff.to_json().to_string());
                json!({"frame": frame, "decoded": decoded})
            })
            .collect();
        let lines: Vec<String> = cases.iter().map(serde_json::Value::to_string).collect();
        let text = ["[\n", &lines.join(",\n"), "\n]\n"].concat();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-wasm/src/golden-frames.json");
        if std::env::var_os("ROOMSYNC_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let held = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            held == text,
            "{} is stale: ROOMSYNC_BLESS=1 cargo test -p roomsync-shared golden_frames",
            path.display()
        );
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\u{1}\tİş");
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), "a\"b\\c\u{1}\tİş");
    }
}
