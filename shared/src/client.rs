//! The browser client's brain, sans-IO: which queries are subscribed, which version of
//! them the client holds, and which mutations await an answer.
//!
//! The driver (`client-wasm`) owns the socket and the timers; it feeds this core the frames
//! it receives and the fact that the socket opened or closed, and sends what the core returns.
//!
//! Invariants:
//! - A transition is applied only if its `startVersion` equals the version held; otherwise
//!   the core asks for a resync (the driver reconnects and everything is re-subscribed), so
//!   the client never shows a torn state.
//! - All query results in one transition are applied together, then reported.
//! - A mutation that was sent but not answered when the socket dropped is failed with
//!   [`ClientErrorCode::ConnectionLost`]: whether it was applied is unknown, so it is not
//!   silently re-sent. Mutations requested while offline are queued and sent on connect.

use crate::protocol::{
    ClientMessage, ErrorCode, MutationOutcome, QueryId, QueryModification, RequestId, ServerMessage, StateVersion,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a client-side operation failed. Server codes pass through; some are the client's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientErrorCode {
    Server(ErrorCode),
    /// The socket closed while the mutation was in flight; it may or may not have committed.
    ConnectionLost,
    /// The client was closed.
    Closed,
}

impl ClientErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientErrorCode::Server(code) => code.as_str(),
            ClientErrorCode::ConnectionLost => "CONNECTION_LOST",
            ClientErrorCode::Closed => "CLIENT_CLOSED",
        }
    }
}

/// An error for a query or a mutation: a code and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub code: ClientErrorCode,
    pub message: String,
}

/// What the driver must report to the application.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientEvent {
    /// A query has a new result (or failed).
    Query { query_id: QueryId, result: Result<Value, ClientError> },
    /// A mutation finished.
    Mutation { request_id: RequestId, result: Result<Value, ClientError> },
    /// The server refused a frame; nothing to retry, but worth logging.
    ServerError { code: ErrorCode, message: String },
    /// The transition chain broke: reconnect to rebuild state from scratch.
    ResyncRequired { reason: String },
}

struct Query {
    udf_path: String,
    args: Value,
    last: Option<Result<Value, ClientError>>,
}

enum Pending {
    /// Not yet sent (requested while offline).
    Queued(ClientMessage),
    /// On the wire; answer outstanding.
    Sent,
}

/// The client's sans-IO core.
#[derive(Default)]
pub struct ClientCore {
    connected: bool,
    version: StateVersion,
    next_query_id: QueryId,
    next_request_id: RequestId,
    queries: BTreeMap<QueryId, Query>,
    pending: BTreeMap<RequestId, Pending>,
}

impl ClientCore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The version of the query results held.
    pub fn version(&self) -> StateVersion {
        self.version
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Mutations sent or queued that have no answer yet.
    pub fn pending_mutations(&self) -> usize {
        self.pending.len()
    }

    pub fn subscription_count(&self) -> usize {
        self.queries.len()
    }

    /// The last result of a query, kept through reconnects so screens never flash empty.
    pub fn cached(&self, query_id: QueryId) -> Option<&Result<Value, ClientError>> {
        self.queries.get(&query_id).and_then(|q| q.last.as_ref())
    }

    /// Adds a subscription; returns its id and the frame to send now (if connected).
    pub fn subscribe(&mut self, udf_path: &str, args: Value) -> (QueryId, Option<ClientMessage>) {
        self.next_query_id += 1;
        let query_id = self.next_query_id;
        self.queries.insert(query_id, Query { udf_path: udf_path.to_string(), args: args.clone(), last: None });
        let frame = self.connected.then(|| ClientMessage::Subscribe { query_id, udf_path: udf_path.to_string(), args });
        (query_id, frame)
    }

    /// Removes a subscription; returns the frame to send now (if connected and it existed).
    pub fn unsubscribe(&mut self, query_id: QueryId) -> Option<ClientMessage> {
        let existed = self.queries.remove(&query_id).is_some();
        (existed && self.connected).then_some(ClientMessage::Unsubscribe { query_id })
    }

    /// Requests a mutation; returns its id and the frame to send now (if connected).
    pub fn mutation(&mut self, udf_path: &str, args: Value) -> (RequestId, Option<ClientMessage>) {
        self.next_request_id += 1;
        let request_id = self.next_request_id;
        let frame = ClientMessage::Mutation { request_id, udf_path: udf_path.to_string(), args };
        if self.connected {
            self.pending.insert(request_id, Pending::Sent);
            (request_id, Some(frame))
        } else {
            self.pending.insert(request_id, Pending::Queued(frame));
            (request_id, None)
        }
    }

    /// The socket opened: a fresh server connection starts at version zero, so every
    /// subscription is sent again, then every queued mutation, in order.
    pub fn on_open(&mut self) -> Vec<ClientMessage> {
        self.connected = true;
        self.version = StateVersion::default();
        let mut frames: Vec<ClientMessage> = self
            .queries
            .iter()
            .map(|(&query_id, q)| ClientMessage::Subscribe {
                query_id,
                udf_path: q.udf_path.clone(),
                args: q.args.clone(),
            })
            .collect();
        for pending in self.pending.values_mut() {
            if let Pending::Queued(frame) = std::mem::replace(pending, Pending::Sent) {
                frames.push(frame);
            }
        }
        frames
    }

    /// The socket closed: in-flight mutations fail with `ConnectionLost`; queries keep
    /// their last results until the next connection refreshes them.
    pub fn on_close(&mut self) -> Vec<ClientEvent> {
        self.connected = false;
        let lost: Vec<RequestId> =
            self.pending.iter().filter(|(_, p)| matches!(p, Pending::Sent)).map(|(&id, _)| id).collect();
        lost.into_iter()
            .map(|request_id| {
                self.pending.remove(&request_id);
                ClientEvent::Mutation {
                    request_id,
                    result: Err(ClientError {
                        code: ClientErrorCode::ConnectionLost,
                        message: "the connection closed before the server answered; the mutation may or may not have been applied".into(),
                    }),
                }
            })
            .collect()
    }

    /// The client is shutting down: every pending mutation fails with `Closed`.
    pub fn close(&mut self) -> Vec<ClientEvent> {
        self.connected = false;
        self.queries.clear();
        std::mem::take(&mut self.pending)
            .into_keys()
            .map(|request_id| ClientEvent::Mutation {
                request_id,
                result: Err(ClientError { code: ClientErrorCode::Closed, message: "the client was closed".into() }),
            })
            .collect()
    }

    /// Handles one text frame from the server.
    pub fn receive(&mut self, text: &str) -> Vec<ClientEvent> {
        match ServerMessage::parse(text) {
            Ok(message) => self.receive_message(message),
            Err(reason) => vec![ClientEvent::ResyncRequired { reason }],
        }
    }

    fn receive_message(&mut self, message: ServerMessage) -> Vec<ClientEvent> {
        match message {
            ServerMessage::Transition { start_version, end_version, modifications } => {
                if start_version != self.version {
                    return vec![ClientEvent::ResyncRequired {
                        reason: format!(
                            "transition starts at {start_version:?} but the client holds {:?}",
                            self.version
                        ),
                    }];
                }
                self.version = end_version;
                let mut events = Vec::with_capacity(modifications.len());
                for modification in modifications {
                    let (query_id, result) = match modification {
                        QueryModification::QueryUpdated { query_id, value } => (query_id, Ok(value)),
                        QueryModification::QueryFailed { query_id, code, message } => {
                            (query_id, Err(ClientError { code: ClientErrorCode::Server(code), message }))
                        }
                        QueryModification::QueryRemoved { .. } => continue,
                    };
                    // A result for a query unsubscribed meanwhile is dropped.
                    if let Some(query) = self.queries.get_mut(&query_id) {
                        query.last = Some(result.clone());
                        events.push(ClientEvent::Query { query_id, result });
                    }
                }
                events
            }
            ServerMessage::MutationResponse { request_id, outcome } => {
                if self.pending.remove(&request_id).is_none() {
                    return Vec::new();
                }
                let result = match outcome {
                    MutationOutcome::Success { result, .. } => Ok(result),
                    MutationOutcome::Failure { code, message } => {
                        Err(ClientError { code: ClientErrorCode::Server(code), message })
                    }
                };
                vec![ClientEvent::Mutation { request_id, result }]
            }
            ServerMessage::Error { code, message } => {
                vec![ClientEvent::ServerError { code, message }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Ts;
    use serde_json::json;

    fn transition(start: (u32, u64), end: (u32, u64), modifications: Vec<QueryModification>) -> String {
        ServerMessage::Transition {
            start_version: StateVersion { query_set: start.0, ts: Ts(start.1) },
            end_version: StateVersion { query_set: end.0, ts: Ts(end.1) },
            modifications,
        }
        .to_json()
    }

    #[test]
    fn offline_subscriptions_and_mutations_are_sent_on_open() {
        let mut core = ClientCore::new();
        let (q, frame) = core.subscribe("tasks:list", json!({}));
        assert!(frame.is_none());
        let (r, frame) = core.mutation("tasks:create", json!({"title": "x"}));
        assert!(frame.is_none());
        let frames = core.on_open();
        assert_eq!(
            frames,
            vec![
                ClientMessage::Subscribe { query_id: q, udf_path: "tasks:list".into(), args: json!({}) },
                ClientMessage::Mutation { request_id: r, udf_path: "tasks:create".into(), args: json!({"title": "x"}) },
            ]
        );
        assert_eq!(core.pending_mutations(), 1);
    }

    #[test]
    fn transitions_apply_in_a_chain_and_gaps_ask_for_resync() {
        let mut core = ClientCore::new();
        core.on_open();
        let (q, _) = core.subscribe("tasks:list", json!({}));
        let events = core.receive(&transition(
            (0, 0),
            (1, 0),
            vec![QueryModification::QueryUpdated { query_id: q, value: json!([]) }],
        ));
        assert_eq!(events, vec![ClientEvent::Query { query_id: q, result: Ok(json!([])) }]);
        let events = core.receive(&transition((1, 5), (1, 6), vec![]));
        assert!(matches!(&events[..], [ClientEvent::ResyncRequired { .. }]), "{events:?}");
        assert_eq!(core.version(), StateVersion { query_set: 1, ts: Ts(0) });
    }

    #[test]
    fn in_flight_mutations_fail_on_close_and_results_are_kept() {
        let mut core = ClientCore::new();
        core.on_open();
        let (q, _) = core.subscribe("tasks:list", json!({}));
        core.receive(&transition(
            (0, 0),
            (1, 0),
            vec![QueryModification::QueryUpdated { query_id: q, value: json!([1]) }],
        ));
        let (r, frame) = core.mutation("tasks:create", json!({}));
        assert!(frame.is_some());
        let events = core.on_close();
        assert!(
            matches!(&events[..], [ClientEvent::Mutation { request_id, result: Err(ClientError { code: ClientErrorCode::ConnectionLost, .. }) }] if *request_id == r)
        );
        assert_eq!(core.cached(q), Some(&Ok(json!([1]))));
        // Reconnecting re-subscribes from version zero.
        assert_eq!(core.on_open().len(), 1);
        assert_eq!(core.version(), StateVersion::default());
    }

    #[test]
    fn mutation_responses_settle_once() {
        let mut core = ClientCore::new();
        core.on_open();
        let (r, _) = core.mutation("tasks:create", json!({}));
        let response = ServerMessage::MutationResponse {
            request_id: r,
            outcome: MutationOutcome::Success { result: json!("id"), ts: Ts(1) },
        }
        .to_json();
        assert_eq!(core.receive(&response), vec![ClientEvent::Mutation { request_id: r, result: Ok(json!("id")) }]);
        assert_eq!(core.receive(&response), vec![]);
        assert_eq!(core.pending_mutations(), 0);
    }

    #[test]
    fn unsubscribed_results_are_dropped() {
        let mut core = ClientCore::new();
        core.on_open();
        let (q, _) = core.subscribe("tasks:list", json!({}));
        assert_eq!(core.unsubscribe(q), Some(ClientMessage::Unsubscribe { query_id: q }));
        let events = core.receive(&transition(
            (0, 0),
            (1, 0),
            vec![QueryModification::QueryUpdated { query_id: q, value: json!([]) }],
        ));
        assert!(events.is_empty());
        assert_eq!(core.unsubscribe(q), None);
    }

    #[test]
    fn garbage_from_the_server_asks_for_resync() {
        let mut core = ClientCore::new();
        assert!(matches!(&core.receive("<html>")[..], [ClientEvent::ResyncRequired { .. }]));
    }
}
