//! The wire protocol between a browser client and a room: JSON text frames, `type`-tagged,
//! camelCase, with 64-bit counters encoded as strings (JS numbers stop at 2^53).
//!
//! The model is Convex's: state-based, versioned transitions. The server never says
//! "row X changed"; it says "your queries moved from version A to version B, here are their
//! new results". A client applies a transition only if its `startVersion` equals the version
//! it holds, so it can detect a gap and resync instead of showing a torn state.

pub mod diff;
pub mod endpoint;
pub mod hash;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// Client-chosen id of one subscription on one connection.
pub type QueryId = u32;
/// Client-chosen id of one mutation request on one connection.
pub type RequestId = u32;

/// Largest text frame (UTF-8 bytes) a room accepts from a client. Clients refuse to send a
/// larger one (the call fails at once with `TOO_LARGE`): the room could only answer it with a
/// `BAD_FRAME` tied to no request.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// A room's commit timestamp: a counter that moves forward by one per committed mutation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub u64);

impl Ts {
    pub fn next(self) -> Self {
        Ts(self.0 + 1)
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<u64>()
            .map(Ts)
            .map_err(|_| serde::de::Error::custom(format!("invalid timestamp {text:?}: expected a decimal u64 string")))
    }
}

/// What a client holds: which version of its query set, under which identity, at which
/// commit.
///
/// `query_set` moves when the client's subscriptions change; `identity` when it
/// authenticates again (results may differ per user); `ts` when a commit changes what the
/// room holds. All only move forward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateVersion {
    pub query_set: u32,
    pub identity: u32,
    pub ts: Ts,
}

/// Frames a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    /// First frame of a connection: names the client's session, which outlives sockets, so
    /// that mutations re-sent after a reconnect are applied exactly once.
    Connect {
        session_id: String,
        /// The protocol the client speaks; a room speaking another refuses it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol_version: Option<u32>,
        /// The hash of the schema the client was built against; a room with another schema
        /// refuses it (the user must reload to get the matching client).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema_hash: Option<String>,
    },
    /// Start a live query. The first result arrives in a `transition`. A client resuming
    /// after a reconnect passes the hash of the result it holds: if the result is unchanged,
    /// the room confirms it (`queryUnchanged`) instead of sending it again.
    Subscribe {
        query_id: QueryId,
        udf_path: String,
        #[serde(default)]
        args: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result_hash: Option<String>,
    },
    /// Start several live queries in one frame — what a client sends on every (re)connect,
    /// so that a reconnect costs the room a few frames instead of one per query (each frame
    /// costs the room a fixed share of its time, and other clients wait behind it). Answered
    /// by one transition: a query refused (a limit, an id in use) fails in it with its
    /// reason; the others' results follow as `subscribe`'s do. At most 256 a frame.
    SubscribeMany { queries: Vec<QuerySubscription> },
    /// Stop a live query.
    Unsubscribe { query_id: QueryId },
    /// Sign in, refresh the token, or sign out (`token: null`) on a live connection. The
    /// room re-runs the connection's queries under the new identity and answers with a
    /// transition whose `identity` moved by one (with the results that changed), or with an
    /// `UNAUTHENTICATED` error (the previous identity stays).
    Authenticate {
        #[serde(default)]
        token: Option<String>,
    },
    /// Run a mutation; answered by `mutationResponse` with the same `requestId`.
    Mutation {
        request_id: RequestId,
        udf_path: String,
        #[serde(default)]
        args: Value,
    },
    /// The client has read `frames` more of the room's frames (not answered). A socket that
    /// leaves too much unacknowledged is a slow consumer: the room sheds it
    /// (`OVERLOADED`), and the client resyncs on a new socket.
    Ack { frames: u32 },
}

/// Frames a room sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ServerMessage {
    /// The client's queries moved from `start_version` to `end_version`.
    Transition { start_version: StateVersion, end_version: StateVersion, modifications: Vec<QueryModification> },
    /// Outcome of one mutation. Sent after the transition that includes its write, so a
    /// client that resolves its promise here already shows the write (read-your-writes).
    MutationResponse {
        request_id: RequestId,
        #[serde(flatten)]
        outcome: MutationOutcome,
    },
    /// A frame the room could not act on. The connection stays open, except for
    /// `OVERLOADED`, after which the room closes it: reconnect no sooner than `retryAfterMs`.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

/// One query of a `subscribeMany` frame: the fields of a `subscribe`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuerySubscription {
    pub query_id: QueryId,
    pub udf_path: String,
    #[serde(default)]
    pub args: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_hash: Option<String>,
}

/// One query's change within a transition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum QueryModification {
    /// A new result, with its hash (echoed back as `resultHash` when resuming).
    QueryUpdated {
        query_id: QueryId,
        value: Value,
        hash: String,
    },
    /// The result the client said it holds (by hash) is still current.
    QueryUnchanged {
        query_id: QueryId,
    },
    /// The new result as a diff against the one the client holds (`baseHash`); applying it
    /// must give a value whose hash is `hash`, or the client resyncs.
    QueryDiff {
        query_id: QueryId,
        base_hash: String,
        hash: String,
        diff: crate::protocol::diff::ValueDiff,
    },
    QueryFailed {
        query_id: QueryId,
        code: ErrorCode,
        message: String,
    },
    QueryRemoved {
        query_id: QueryId,
    },
}

impl QueryModification {
    /// The query this modification is for.
    pub fn query_id(&self) -> QueryId {
        match self {
            Self::QueryUpdated { query_id, .. }
            | Self::QueryUnchanged { query_id }
            | Self::QueryDiff { query_id, .. }
            | Self::QueryFailed { query_id, .. }
            | Self::QueryRemoved { query_id } => *query_id,
        }
    }
}

/// Result of a mutation as sent on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum MutationOutcome {
    Success { result: Value, ts: Ts },
    Failure { code: ErrorCode, message: String },
}

/// Stable machine-readable error codes. The human message travels beside the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known message. Fix the client.
    BadFrame,
    /// The arguments or the document failed validation. Fix the input.
    Validation,
    /// No query or mutation of that name. Check the function path.
    UnknownFunction,
    /// A query id that is already subscribed, or not subscribed.
    BadQueryId,
    /// The document does not exist.
    NotFound,
    /// A unique key is already taken by another document (named in the message).
    UniqueViolation,
    /// A rule of the application refused the call.
    Application,
    /// A function used the query API wrongly: a bug in the function.
    BadQuery,
    /// A function read more documents than one transaction may.
    TooManyReads,
    /// A per-connection limit was reached (subscriptions); the connection keeps serving.
    LimitExceeded,
    /// The client speaks another protocol version: reload the page.
    ProtocolMismatch,
    /// The client was built against another schema: reload the page.
    SchemaMismatch,
    /// No valid token (missing, expired, forged, or for another room): sign in again.
    Unauthenticated,
    /// The caller's role may not do this.
    Forbidden,
    /// The room is shedding load (a reconnect storm after a deploy): retry after the hint.
    Overloaded,
    /// The room failed while storing or reading. Retrying may help.
    Internal,
}

impl ErrorCode {
    /// The HTTP status for this error on the one-shot routes.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadFrame | ErrorCode::Validation | ErrorCode::BadQueryId => 400,
            ErrorCode::UnknownFunction | ErrorCode::NotFound => 404,
            ErrorCode::UniqueViolation => 409,
            ErrorCode::Application => 422,
            ErrorCode::LimitExceeded => 429,
            ErrorCode::ProtocolMismatch | ErrorCode::SchemaMismatch => 409,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::Overloaded => 503,
            ErrorCode::BadQuery | ErrorCode::TooManyReads | ErrorCode::Internal => 500,
        }
    }

    /// Every code, for decoders that do without serde.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::BadFrame,
        ErrorCode::Validation,
        ErrorCode::UnknownFunction,
        ErrorCode::BadQueryId,
        ErrorCode::NotFound,
        ErrorCode::UniqueViolation,
        ErrorCode::Application,
        ErrorCode::BadQuery,
        ErrorCode::TooManyReads,
        ErrorCode::LimitExceeded,
        ErrorCode::ProtocolMismatch,
        ErrorCode::SchemaMismatch,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::Overloaded,
        ErrorCode::Internal,
    ];

    /// The code with this wire name (`"NOT_FOUND"`), if any.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "BAD_FRAME",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::UnknownFunction => "UNKNOWN_FUNCTION",
            ErrorCode::BadQueryId => "BAD_QUERY_ID",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::UniqueViolation => "UNIQUE_VIOLATION",
            ErrorCode::Application => "APPLICATION",
            ErrorCode::BadQuery => "BAD_QUERY",
            ErrorCode::TooManyReads => "TOO_MANY_READS",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::ProtocolMismatch => "PROTOCOL_MISMATCH",
            ErrorCode::SchemaMismatch => "SCHEMA_MISMATCH",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Overloaded => "OVERLOADED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame (or a saved outbox) that is not what the protocol says, and why — what the room
/// answers with `BAD_FRAME`, or the client with a resync.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl Malformed {
    /// serde's text quotes the offending value whole ("unknown variant `…`", "invalid type:
    /// string \"…\""): keep its start and the position, never the whole of what was sent.
    fn from_serde(what: &str, e: &serde_json::Error) -> Self {
        let text = e.to_string();
        // The position is serde's, not found in the text: a value may say " at line " itself.
        let at = match e.line() {
            0 => String::new(),
            line => format!(" at line {line} column {}", e.column()),
        };
        let problem = text.strip_suffix(at.as_str()).unwrap_or(&text);
        Malformed(format!("{what}: {}{at}", crate::model::text::elide(problem, MAX_QUOTED_CHARS)))
    }
}

/// Most characters of a bad frame's problem an answer quotes.
pub const MAX_QUOTED_CHARS: usize = 160;

impl ClientMessage {
    /// Parses one text frame, with a message that says what was wrong with it.
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        serde_json::from_str(text).map_err(|e| Malformed::from_serde("malformed frame", &e))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialize")
    }
}

impl ServerMessage {
    pub fn parse(text: &str) -> Result<Self, Malformed> {
        serde_json::from_str(text).map_err(|e| Malformed::from_serde("malformed server frame", &e))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bad_frame_is_quoted_briefly_with_its_position() {
        let long = "ö".repeat(5000);
        let says_at = format!("a at line {long}");
        for frame in [
            json!([long]).to_string(),
            json!({"type": long}).to_string(),
            json!(long).to_string(),
            json!({"type": "unsubscribe", "queryId": says_at}).to_string(),
        ] {
            let Malformed(message) = ClientMessage::parse(&frame).unwrap_err();
            assert!(message.chars().count() < MAX_QUOTED_CHARS + 60, "{message}");
            assert!(message.starts_with("malformed frame: "), "{message}");
            // serde places syntax and shape errors; a field's value errors have no position.
            assert_eq!(message.contains(" at line 1 column "), !frame.contains("unsubscribe"), "{message}");
        }
        let Malformed(message) = ClientMessage::parse(r#"{"type":"subscribe"}"#).unwrap_err();
        assert_eq!(message, "malformed frame: missing field `queryId`");
    }

    #[test]
    fn subscribe_wire_shape() {
        let msg = ClientMessage::parse(r#"{"type":"subscribe","queryId":1,"udfPath":"tasks:list","args":{}}"#).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Subscribe { query_id: 1, udf_path: "tasks:list".into(), args: json!({}), result_hash: None }
        );
        assert_eq!(ClientMessage::parse(&msg.to_json()).unwrap(), msg);
    }

    #[test]
    fn transition_encodes_ts_as_string() {
        let msg = ServerMessage::Transition {
            start_version: StateVersion { query_set: 0, identity: 0, ts: Ts(0) },
            end_version: StateVersion { query_set: 1, identity: 0, ts: Ts(u64::MAX) },
            modifications: vec![QueryModification::QueryUpdated { query_id: 1, value: json!([]), hash: "h".into() }],
        };
        let text = msg.to_json();
        assert_eq!(
            text,
            r#"{"type":"transition","startVersion":{"querySet":0,"identity":0,"ts":"0"},"endVersion":{"querySet":1,"identity":0,"ts":"18446744073709551615"},"modifications":[{"type":"queryUpdated","queryId":1,"value":[],"hash":"h"}]}"#
        );
        assert_eq!(ServerMessage::parse(&text).unwrap(), msg);
    }

    #[test]
    fn mutation_response_wire_shape() {
        let ok = ServerMessage::MutationResponse {
            request_id: 7,
            outcome: MutationOutcome::Success { result: json!("abc"), ts: Ts(3) },
        };
        assert_eq!(
            ok.to_json(),
            r#"{"type":"mutationResponse","requestId":7,"outcome":"success","result":"abc","ts":"3"}"#
        );
        let err = ServerMessage::MutationResponse {
            request_id: 8,
            outcome: MutationOutcome::Failure { code: ErrorCode::Validation, message: "m".into() },
        };
        assert_eq!(
            err.to_json(),
            r#"{"type":"mutationResponse","requestId":8,"outcome":"failure","code":"VALIDATION","message":"m"}"#
        );
        assert_eq!(ServerMessage::parse(&err.to_json()).unwrap(), err);
    }

    #[test]
    fn malformed_frames_say_why() {
        let err = ClientMessage::parse("{not json").unwrap_err().0;
        assert!(err.starts_with("malformed frame: "), "{err}");
        let err = ClientMessage::parse(r#"{"type":"subscribe","queryId":"x","udfPath":"tasks:list"}"#).unwrap_err().0;
        assert!(err.contains("queryId") || err.contains("invalid type"), "{err}");
        let err = ClientMessage::parse(r#"{"type":"explode"}"#).unwrap_err().0;
        assert!(err.contains("unknown variant `explode`"), "{err}");
        let err = ClientMessage::parse(r#"{"type":"unsubscribe","queryId":1,"extra":1}"#).unwrap_err().0;
        assert!(err.contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn every_error_code_is_found_by_its_wire_name() {
        for code in ErrorCode::ALL {
            let wire: String = serde_json::from_value(serde_json::to_value(code).unwrap()).unwrap();
            assert_eq!(ErrorCode::from_name(&wire), Some(code));
        }
        assert_eq!(ErrorCode::from_name("NOPE"), None);
    }

    #[test]
    fn bad_ts_is_rejected() {
        let err = ServerMessage::parse(
            r#"{"type":"transition","startVersion":{"querySet":0,"identity":0,"ts":"-1"},"endVersion":{"querySet":0,"identity":0,"ts":"1"},"modifications":[]}"#,
        )
        .unwrap_err();
        assert!(err.0.contains("invalid timestamp"), "{err}");
    }
}
