//! The room Durable Object: accepts hibernatable WebSockets and drives the shared engine.
//!
//! Hibernation-first: the object may be evicted between any two messages while its sockets
//! stay open. The only per-socket state in memory is the socket's attachment (its `ConnId`);
//! subscriptions and versions live in SQLite, where a re-created engine finds them.
//!
//! Auth: the room's name arrives with every request the worker forwards (`ROOM_HEADER`);
//! the object stores it, so that after waking from hibernation on a socket message (which
//! carries no URL) it still checks that tokens name this room.
//!
//! Durability: SQL writes made while handling a message are committed before any frame sent
//! in that handler leaves the object (the runtime's output gate), so no client ever sees an
//! update or acknowledgement for a write that could still be lost.

use crate::do_sql::DoSql;
use crate::entropy::{random_u128, WorkerEnv};
use crate::error::WorkerError;
use roomsync_shared::auth::TokenVerifier;
use roomsync_shared::engine::FunctionKind;
use roomsync_shared::room::{AuthPolicy, RoomLimits};
use roomsync_shared::{ConnId, ErrorCode, Outgoing, Room, RoomInput, ServerMessage, StorageError};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{
    durable_object, Env, Error, Method, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair, WebSocketRequestResponsePair,
};

/// What each socket carries through hibernation (kept small: attachments live in memory).
#[derive(Serialize, Deserialize)]
struct Attachment {
    conn: ConnId,
    /// The room shed this socket (closing it): frames still arriving on it are dropped
    /// unread, not answered on a closing socket.
    #[serde(default)]
    shed: bool,
}

/// Queries an identity change re-runs before the object lets other events in
/// (`ROOMSYNC_RERUNS_PER_STEP`). Four keeps each step to a few ms: the attack suite measured
/// another client's round trip during 20 identity switches on a socket with 100 queries at
/// 81–194 ms with steps of 16 (four accepted changes put 64 re-runs ahead of it) and 3–7 ms
/// with steps of 4.
const RERUNS_PER_STEP: f64 = 4.0;
/// Connections an outgoing batch may go to for their sockets to be found by tag, one lookup
/// each, rather than by one pass over every socket.
const TAGGED_LOOKUPS: usize = 8;
/// Steps one event drives at most (a connection's 256 queries take 64); other events drive
/// the rest.
const MAX_STEPS_PER_EVENT: usize = 64;

/// The header through which the worker tells the object its room's name.
pub const ROOM_HEADER: &str = "x-roomsync-room";
/// `"1"` turns on test hooks (`POST /rooms/:room/__evict`); set only by the test harness.
const TEST_HOOKS_BINDING: &str = "ROOMSYNC_TEST_HOOKS";

/// The room's limits: the defaults, each overridable by a variable holding a positive number
/// (`ROOMSYNC_CONNECTS_PER_SECOND`, `ROOMSYNC_CONNECT_BURST`, `ROOMSYNC_MUTATIONS_PER_SECOND`,
/// `ROOMSYNC_MUTATION_BURST`, `ROOMSYNC_HTTP_QUERIES_PER_SECOND`, `ROOMSYNC_HTTP_QUERY_BURST`,
/// `ROOMSYNC_CONTROL_PER_SECOND`, `ROOMSYNC_CONTROL_BURST`,
/// `ROOMSYNC_IDENTITY_CHANGES_PER_SECOND`, `ROOMSYNC_IDENTITY_CHANGE_BURST`,
/// `ROOMSYNC_SOCKETS_PER_ADDRESS`, `ROOMSYNC_UNREAD_BYTES_PER_SOCKET`,
/// `ROOMSYNC_REFUSALS_PER_SECOND`, `ROOMSYNC_REFUSAL_BURST`, `ROOMSYNC_WORK_PER_SECOND`,
/// `ROOMSYNC_WORK_BURST`, `ROOMSYNC_SOCKET_OPENS_PER_SECOND`, `ROOMSYNC_SOCKET_OPEN_BURST`).
fn limits(env: &Env) -> RoomLimits {
    let number =
        |name: &str| env.var(name).ok().and_then(|v| v.to_string().trim().parse::<f64>().ok()).filter(|n| *n > 0.0);
    let d = RoomLimits::default();
    RoomLimits {
        connects_per_second: number("ROOMSYNC_CONNECTS_PER_SECOND").unwrap_or(d.connects_per_second),
        connect_burst: number("ROOMSYNC_CONNECT_BURST").unwrap_or(d.connect_burst),
        mutations_per_second: number("ROOMSYNC_MUTATIONS_PER_SECOND").unwrap_or(d.mutations_per_second),
        mutation_burst: number("ROOMSYNC_MUTATION_BURST").unwrap_or(d.mutation_burst),
        http_queries_per_second: number("ROOMSYNC_HTTP_QUERIES_PER_SECOND").unwrap_or(d.http_queries_per_second),
        http_query_burst: number("ROOMSYNC_HTTP_QUERY_BURST").unwrap_or(d.http_query_burst),
        control_per_second: number("ROOMSYNC_CONTROL_PER_SECOND").unwrap_or(d.control_per_second),
        control_burst: number("ROOMSYNC_CONTROL_BURST").unwrap_or(d.control_burst),
        identity_changes_per_second: number("ROOMSYNC_IDENTITY_CHANGES_PER_SECOND")
            .unwrap_or(d.identity_changes_per_second),
        identity_change_burst: number("ROOMSYNC_IDENTITY_CHANGE_BURST").unwrap_or(d.identity_change_burst),
        sockets_per_address: number("ROOMSYNC_SOCKETS_PER_ADDRESS").unwrap_or(d.sockets_per_address),
        unread_bytes_per_socket: number("ROOMSYNC_UNREAD_BYTES_PER_SOCKET").unwrap_or(d.unread_bytes_per_socket),
        // This host yields between events: an identity change re-runs its queries in steps.
        reruns_per_step: number("ROOMSYNC_RERUNS_PER_STEP").unwrap_or(RERUNS_PER_STEP),
        refusals_per_second: number("ROOMSYNC_REFUSALS_PER_SECOND").unwrap_or(d.refusals_per_second),
        refusal_burst: number("ROOMSYNC_REFUSAL_BURST").unwrap_or(d.refusal_burst),
        work_per_second: number("ROOMSYNC_WORK_PER_SECOND").unwrap_or(d.work_per_second),
        work_burst: number("ROOMSYNC_WORK_BURST").unwrap_or(d.work_burst),
        socket_opens_per_second: number("ROOMSYNC_SOCKET_OPENS_PER_SECOND").unwrap_or(d.socket_opens_per_second),
        socket_open_burst: number("ROOMSYNC_SOCKET_OPEN_BURST").unwrap_or(d.socket_open_burst),
    }
}

#[durable_object]
pub struct RoomObject {
    state: State,
    env: Env,
    /// The token secret, read once per object (not per request); without it the object
    /// refuses every request (the message says what to set).
    secret: std::result::Result<Vec<u8>, String>,
    /// The room's name is known and stored: requests need not check it again.
    bound: std::cell::Cell<bool>,
    /// The engine; replaced only by the eviction test hook.
    room: RefCell<std::result::Result<Room<DoSql>, StorageError>>,
}

impl RoomObject {
    /// Opens the engine over the object's storage, with token auth for the room's stored
    /// name. Never trusting: a room that has not learned its name yet checks tokens against
    /// the empty name, which no token can carry, until the first request names it.
    fn open(state: &State, env: &Env, secret: &[u8]) -> std::result::Result<Room<DoSql>, StorageError> {
        let mut room = Room::open(DoSql::new(state.storage()), crate::app())?.with_limits(limits(env));
        let name = room.name()?.unwrap_or_default();
        room.set_auth(AuthPolicy::Tokens(TokenVerifier::new(secret.to_vec(), name, *room.app().roles())));
        Ok(room)
    }

    /// Runs `f` on the engine. The one `RefCell` of the room: the runtime hands every event
    /// to `&self`, and each runs to its end before the next (no `await` inside `f`), so the
    /// engine itself is a plain `&mut` state machine.
    fn with_room<T>(&self, f: impl FnOnce(&mut Room<DoSql>) -> T) -> std::result::Result<T, WorkerError> {
        let secret = self.secret.as_ref().map_err(|problem| WorkerError::NotConfigured(problem.clone()))?;
        // A storage that failed to open for a passing reason is tried again on the next
        // request, not answered 503 until the object is evicted.
        let transient = matches!(&*self.room.borrow(), Err(e) if e.is_transient());
        if transient {
            *self.room.borrow_mut() = Self::open(&self.state, &self.env, secret);
        }
        match &mut *self.room.borrow_mut() {
            Ok(room) => Ok(f(room)),
            Err(e) => Err(WorkerError::Storage(e.clone())),
        }
    }

    /// Learns the room's name from a forwarded request (first request, or after a rename
    /// of nothing: the name never changes for one object).
    fn bind_name(&self, req: &Request) -> std::result::Result<(), WorkerError> {
        if self.bound.get() {
            return Ok(());
        }
        let Some(name) = req.headers().get(ROOM_HEADER)? else { return Ok(()) };
        let known = self.with_room(|room| room.name())??;
        if known.as_deref() != Some(name.as_str()) {
            let secret = self.secret.clone().map_err(WorkerError::NotConfigured)?;
            self.with_room(|room| {
                room.remember_name(&name)?;
                let roles = *room.app().roles();
                room.set_auth(AuthPolicy::Tokens(TokenVerifier::new(secret, name, roles)));
                Ok::<(), StorageError>(())
            })??;
        }
        self.bound.set(true);
        Ok(())
    }

    fn conn_of(ws: &WebSocket) -> Option<ConnId> {
        ws.deserialize_attachment::<Attachment>().ok().flatten().map(|a| a.conn)
    }

    /// The sockets of the connections `outgoing` goes to. A few (an answer, a step of an
    /// identity change) are found by their tag; many (a fan-out) by one pass over every
    /// socket's attachment, which also finds the ones without a tag (accepted by an older
    /// build) and leaves out the ones that are gone.
    fn sockets_of(&self, outgoing: &[Outgoing]) -> HashMap<ConnId, WebSocket> {
        let mut wanted: Vec<&ConnId> = outgoing.iter().map(|o| &o.to).collect();
        wanted.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        wanted.dedup();
        if wanted.len() <= TAGGED_LOOKUPS {
            let found: HashMap<ConnId, WebSocket> = wanted
                .iter()
                .filter_map(|conn| {
                    let ws = self.state.get_websockets_with_tag(&conn_tag(conn)).into_iter().next()?;
                    Some(((*conn).clone(), ws))
                })
                .collect();
            if found.len() == wanted.len() {
                return found;
            }
        }
        self.state.get_websockets().into_iter().filter_map(|ws| Self::conn_of(&ws).map(|conn| (conn, ws))).collect()
    }

    /// Delivers frames to their connections. A socket that fails to send is left for the
    /// runtime to close; the others still get theirs.
    fn deliver(&self, outgoing: Vec<Outgoing>) {
        if outgoing.is_empty() {
            return;
        }
        let sockets = self.sockets_of(&outgoing);
        let mut gone: Vec<ConnId> = Vec::new();
        let mut sent: Vec<(ConnId, usize)> = Vec::new();
        for Outgoing { to, message } in outgoing {
            match sockets.get(&to) {
                Some(ws) => {
                    let text = message.to_json();
                    match ws.send_with_str(&text) {
                        Ok(()) => sent.push((to, text.len())),
                        Err(e) => worker::console_warn!("send to {to} failed: {e}"),
                    }
                }
                None if !gone.contains(&to) => gone.push(to),
                None => {}
            }
        }
        self.account(sent, |conn| sockets.get(conn).cloned());
        // A socket that vanished without a close event (it happens across restarts): drop
        // its subscriptions so later commits stop re-running them.
        let _ = self.with_room(|room| {
            for conn in gone {
                room.handle(RoomInput::Close { conn: &conn }, &mut WorkerEnv);
            }
        });
    }

    /// Tells the room what was sent to whom, and sheds the sockets it finds too far behind
    /// (a client that stopped reading: the runtime would buffer for it without end).
    fn account(&self, sent: Vec<(ConnId, usize)>, socket_of: impl Fn(&ConnId) -> Option<WebSocket>) {
        if sent.is_empty() {
            return;
        }
        let shed = self.with_room(|room| {
            let mut shed: Vec<Outgoing> = Vec::new();
            for (conn, bytes) in &sent {
                if !shed.iter().any(|o| &o.to == conn) {
                    shed.extend(room.sent(conn, *bytes, js_sys::Date::now()));
                }
            }
            shed
        });
        for Outgoing { to, message } in shed.unwrap_or_default() {
            if let Some(ws) = socket_of(&to) {
                let _ = ws.send_with_str(message.to_json());
                Self::close_shed(&ws, &to);
            }
        }
    }

    /// Closes a socket the room shed — 1013: try again later (the frame sent just before says
    /// when). Frames it sends meanwhile are dropped unread (`shed` in its attachment).
    fn close_shed(ws: &WebSocket, conn: &ConnId) {
        let _ = ws.serialize_attachment(Attachment { conn: conn.clone(), shed: true });
        let _ = ws.close(Some(1013), Some("overloaded: retry later"));
    }

    fn send_error(ws: &WebSocket, code: ErrorCode, message: String) {
        let _ = ws.send_with_str(ServerMessage::Error { code, message, retry_after_ms: None }.to_json());
    }

    /// Test hook: drops the engine and opens a new one over the same storage — what waking
    /// from hibernation does — while the sockets stay open.
    fn evict(&self) -> std::result::Result<Response, WorkerError> {
        let hooks = self.env.var(TEST_HOOKS_BINDING).map(|v| v.to_string() == "1").unwrap_or(false);
        if !hooks {
            return Err(WorkerError::Off("test hooks are off".into()));
        }
        let secret = self.secret.as_ref().map_err(|problem| WorkerError::NotConfigured(problem.clone()))?;
        // As a hibernating runtime would find it: what a burst kept in memory is written once
        // the object is idle (the steps that write it keep it from hibernating before).
        self.with_room(|room| room.save_connection_state())??;
        let fresh = Self::open(&self.state, &self.env, secret);
        *self.room.borrow_mut() = fresh;
        Ok(Response::ok("evicted")?)
    }

    /// A request forwarded by the worker: a socket to accept, or a one-shot call.
    async fn serve(&self, mut req: Request) -> std::result::Result<Response, WorkerError> {
        self.bind_name(&req)?;
        let path = req.path();
        let authorization = req.headers().get("Authorization")?;
        if path.ends_with("/__evict") {
            return self.evict();
        }
        if path.ends_with("/stats") {
            let reply = self.with_room(|room| room.stats_http(authorization.as_deref(), js_sys::Date::now()))?;
            return Ok(Response::from_json(&reply.body)?.with_status(reply.status));
        }
        if req.method() == Method::Post {
            let kind = if path.ends_with("/mutation") { FunctionKind::Mutation } else { FunctionKind::Query };
            let body = req.text().await?;
            // The caller's address, as Cloudflare's edge saw it: signed-out calls from one
            // address share an allowance.
            let address = address_tag(req.headers().get("CF-Connecting-IP")?.as_deref())
                .map(|tag| tag.trim_start_matches("address:").to_string());
            let (reply, out) = self.with_room(|room| {
                room.http_call_from(kind, &body, authorization.as_deref(), address.as_deref(), &mut WorkerEnv)
            })?;
            self.deliver(out);
            return Ok(Response::from_json(&reply.body)?.with_status(reply.status));
        }
        // Sockets are counted per client address, as Cloudflare's edge saw it: the runtime
        // keeps each socket's tag through hibernation and finds them by it.
        let tag = address_tag(req.headers().get("CF-Connecting-IP")?.as_deref());
        if let Some(tag) = &tag {
            let open = self.state.get_websockets_with_tag(tag).len();
            let address = tag.trim_start_matches("address:");
            if let Err(reply) = self.with_room(|room| room.admit_socket(address, open, js_sys::Date::now()))? {
                return Ok(Response::from_json(&reply.body)?.with_status(reply.status));
            }
        }
        let pair = WebSocketPair::new()?;
        let conn = ConnId::from_random(random_u128());
        let own = conn_tag(&conn);
        match &tag {
            Some(tag) => self.state.accept_websocket_with_tags(&pair.server, &[&own, tag]),
            None => self.state.accept_websocket_with_tags(&pair.server, &[&own]),
        }
        pair.server.serialize_attachment(Attachment { conn: conn.clone(), shed: false })?;
        let out = self.with_room(|room| {
            let input = match &tag {
                Some(tag) => RoomInput::OpenFrom { conn: &conn, address: tag.trim_start_matches("address:") },
                None => RoomInput::Open { conn: &conn },
            };
            room.handle(input, &mut WorkerEnv)
        })?;
        self.deliver(out);
        Ok(Response::from_websocket(pair.client)?)
    }
}

impl worker::DurableObject for RoomObject {
    fn new(state: State, env: Env) -> Self {
        let secret = crate::auth::secret(&env).map_err(|e| e.to_string());
        let mut opened = match &secret {
            Ok(secret) => Self::open(&state, &env, secret),
            // Never served: `with_room` refuses first.
            Err(problem) => Err(StorageError::Driver(problem.clone())),
        };
        if let Ok(room) = &mut opened {
            // Rows of sockets that did not survive the restart go now, not when a fan-out
            // happens to find them gone.
            let live: Vec<ConnId> = state.get_websockets().iter().filter_map(Self::conn_of).collect();
            if let Err(e) = room.retain_connections(&live) {
                worker::console_warn!("could not drop the rows of closed connections: {e}");
            }
        }
        let room = RefCell::new(opened);
        // Keep-alive pings are answered by the runtime without waking the object.
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        Self { state, env, secret, bound: std::cell::Cell::new(false), room }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        crate::error::answer(self.serve(req).await)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        // Frames still arriving on a socket the room closed (a flood it refused) are dropped
        // on the cheapest check there is; then one attachment read per frame.
        let raw: &web_sys::WebSocket = ws.as_ref();
        if raw.ready_state() >= web_sys::WebSocket::CLOSING {
            return Ok(());
        }
        let conn = match ws.deserialize_attachment::<Attachment>().ok().flatten() {
            Some(Attachment { shed: true, .. }) => return Ok(()),
            Some(Attachment { conn, .. }) => conn,
            None => {
                Self::send_error(&ws, ErrorCode::Internal, "this socket lost its connection id; reconnect".into());
                return Ok(());
            }
        };
        let handled = self.with_room(|room| {
            let input = match &message {
                WebSocketIncomingMessage::String(text) => RoomInput::Frame { conn: &conn, text },
                WebSocketIncomingMessage::Binary(bytes) => RoomInput::Binary { conn: &conn, bytes: bytes.len() },
            };
            room.handle(input, &mut WorkerEnv)
        });
        match handled {
            Ok(out) => {
                let shed = out.iter().any(|o| o.to == conn && o.closes_connection());
                // Answers to this socket go out on it directly: finding the others means
                // reading every socket's attachment, which a refused frame must not cost.
                let (own, others): (Vec<Outgoing>, Vec<Outgoing>) = out.into_iter().partition(|o| o.to == conn);
                let mut sent = Vec::new();
                for Outgoing { message, .. } in own {
                    let text = message.to_json();
                    match ws.send_with_str(&text) {
                        Ok(()) => sent.push((conn.clone(), text.len())),
                        Err(e) => worker::console_warn!("send to {conn} failed: {e}"),
                    }
                }
                if shed {
                    Self::close_shed(&ws, &conn);
                } else {
                    self.account(sent, |_| Some(ws.clone()));
                }
                self.deliver(others);
            }
            Err(e) => Self::send_error(&ws, ErrorCode::Internal, e.to_string()),
        }
        self.continue_work().await;
        Ok(())
    }

    /// The client closed its socket: completes the close handshake (the runtime does not
    /// answer for us at this compatibility date), echoing the client's code when it may be
    /// sent, then forgets the connection.
    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _was_clean: bool) -> Result<()> {
        let _ = ws.close(Some(echo_close_code(code)), Some(reason));
        self.forget(&ws)
    }

    async fn websocket_error(&self, ws: WebSocket, _error: Error) -> Result<()> {
        self.forget(&ws)
    }
}

impl RoomObject {
    /// Re-runs an identity change left for later, one step at a time, yielding between steps
    /// so that other sockets' frames are served in between (a zero-delay timer lets the
    /// runtime deliver waiting events; SQLite calls never do).
    async fn continue_work(&self) {
        for _ in 0..MAX_STEPS_PER_EVENT {
            if !self.with_room(|room| room.has_pending_work()).unwrap_or(false) {
                return;
            }
            worker::Delay::from(std::time::Duration::ZERO).await;
            match self.with_room(|room| room.continue_work(&mut WorkerEnv)) {
                Ok(out) => self.deliver(out),
                Err(_) => return,
            }
        }
    }

    fn forget(&self, ws: &WebSocket) -> Result<()> {
        if let Some(conn) = Self::conn_of(ws) {
            let _ = self.with_room(|room| room.handle(RoomInput::Close { conn: &conn }, &mut WorkerEnv));
        }
        Ok(())
    }
}

/// The tag a socket from `address` carries (`None`: the host forwarded no address, as
/// outside Cloudflare's edge; such sockets are bounded by the room-wide connect allowance).
/// An IPv6 address counts by its /64 prefix — one host usually holds a whole /64 — and
/// anything else is cut to the runtime's limit on tags.
fn address_tag(address: Option<&str>) -> Option<String> {
    let address = address?.trim();
    if address.is_empty() {
        return None;
    }
    if let Some(v6) = address.parse::<std::net::Ipv6Addr>().ok().filter(|v6| v6.to_ipv4_mapped().is_none()) {
        let s = v6.segments();
        return Some(format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]));
    }
    Some(format!("address:{}", address.chars().take(64).collect::<String>()))
}

/// The tag through which a connection's socket is found without reading every socket.
fn conn_tag(conn: &ConnId) -> String {
    format!("conn:{conn}")
}

/// The close code to answer with: the client's own, unless it is one that may not be sent in
/// a close frame (1005 "no status", 1006 "abnormal", 1015 "TLS", or out of range) — then 1000.
fn echo_close_code(code: usize) -> u16 {
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => code as u16,
        _ => 1000,
    }
}
