//! The room engine: one tenant's database plus the live queries of everyone connected to it.
//!
//! Sans-IO: the driver (the Durable Object) feeds it [`RoomInput`]s with an
//! [`Environment`] (time, entropy), and delivers the [`Outgoing`] frames it returns.
//!
//! Reactivity: every subscription is stored with the read set of its last run. After a
//! mutation commits, the [`SubscriptionIndex`] yields exactly the subscriptions whose read
//! sets hold a written key; only those re-run, and only results whose hash changed are sent.
//! Each connection then gets one transition from the version it holds to the new commit
//! timestamp, carrying all its changed results together.
//!
//! Hibernation: everything that must outlive the process — documents, the commit
//! timestamp, each connection's version, each subscription with its read set, journal and
//! result hash — lives in SQL. A `Room` opened over the same storage rebuilds its in-memory
//! subscription index from it and carries on exactly where the last one stopped.

use crate::auth::{Identity, TokenVerifier};
use crate::engine::environment::Environment;
use crate::engine::registry::FunctionDef;
use crate::engine::tx::Caller;
use crate::engine::{store, App, FnError, FunctionKind, ReadSet, SubscriptionIndex, Tx};
use crate::model::ids::ConnId;
use crate::model::schema::Schema;
use crate::protocol::diff::{hash_text, ValueDiff};
use crate::protocol::{
    ClientMessage, ErrorCode, MutationOutcome, QueryId, QueryModification, RequestId, ServerMessage, StateVersion, Ts,
};
use crate::storage::{Sql, SqlValue, StorageError};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

/// Most bytes of last results kept in memory to diff against (beyond it, full results are
/// sent; after hibernation the cache starts empty and the first update is sent whole).
const RESULT_CACHE_BYTES: usize = 32 << 20;

/// Outcomes kept per session for exactly-once re-sends (the newest requests).
const MUTATION_WINDOW: i64 = 1024;
/// Outcomes older than this many commits are dropped (sessions of closed tabs).
const MUTATION_TS_WINDOW: i64 = 1_000_000;

/// Most live queries on one connection (a panel needs a few dozen).
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 256;

/// Most live queries of one signed-in user over all their connections: four tabs at the
/// connection limit. Without it, one token on many sockets could make the room hold (and
/// re-run on every write) any number of queries.
pub const MAX_SUBSCRIPTIONS_PER_USER: usize = 1024;

/// Largest arguments of one subscription, as JSON text (filters, a search, a cursor: a few
/// hundred bytes in practice). Subscriptions are stored, so this and the next bound what one
/// socket — signed in or not — can make the room keep.
pub const MAX_SUBSCRIPTION_ARGS_BYTES: usize = 16 * 1024;

/// Largest result of one query, as JSON text. A screen shows a page of rows; a result past this
/// fails for its subscription (`LIMIT_EXCEEDED`, "ask for less") instead of becoming a frame
/// of tens of MB for every subscriber (an isolate has 128 MB).
pub const MAX_RESULT_BYTES: usize = 2 * 1024 * 1024;

/// Most argument bytes all subscriptions of one connection may hold together.
pub const MAX_CONNECTION_ARGS_BYTES: usize = 256 * 1024;

pub use crate::protocol::MAX_FRAME_BYTES;

/// Version of the room's connection tables (`_conns`, `_subs`). They only hold state of live
/// sockets, which never outlive a deploy, so a build with another version drops and recreates
/// them instead of migrating (documents are never in them).
const ROOM_TABLES_VERSION: i64 = 4;

/// The room's own tables, beside the document store's.
const ROOM_MIGRATIONS: &[&str] = &[
    // Text facts about the room (its name); `_meta` holds numbers.
    "CREATE TABLE IF NOT EXISTS _room_text (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _conns (
        conn_id TEXT PRIMARY KEY, query_set INTEGER NOT NULL, ts INTEGER NOT NULL, session_id TEXT,
        identity INTEGER NOT NULL DEFAULT 0, caller TEXT)",
    // Exactly-once: the outcome of every committed mutation of a session, written in the
    // mutation's own transaction.
    "CREATE TABLE IF NOT EXISTS _mutations (
        session_id TEXT NOT NULL, request_id INTEGER NOT NULL, result TEXT NOT NULL, ts INTEGER NOT NULL,
        PRIMARY KEY (session_id, request_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS _mutations_by_ts ON _mutations (ts)",
    // What each recorded outcome answers: a digest of the caller and the call, so a repeated
    // (session, request id) gets the recorded outcome only for the same call by the same
    // caller. Kept beside `_mutations` (rows recorded before it existed have none).
    "CREATE TABLE IF NOT EXISTS _mutation_calls (
        session_id TEXT NOT NULL, request_id INTEGER NOT NULL, call TEXT NOT NULL,
        PRIMARY KEY (session_id, request_id)) WITHOUT ROWID",
    // Connections by the user they are signed in as (for the per-user subscription limit).
    "CREATE INDEX IF NOT EXISTS _conns_by_subject ON _conns (json_extract(caller, '$.subject'))",
    "CREATE TABLE IF NOT EXISTS _subs (
        conn_id TEXT NOT NULL, query_id INTEGER NOT NULL, udf_path TEXT NOT NULL, args TEXT NOT NULL,
        read_set TEXT NOT NULL, journal TEXT, result_hash TEXT NOT NULL,
        PRIMARY KEY (conn_id, query_id))",
];

/// What happened on a connection.
#[derive(Clone, Copy, Debug)]
pub enum RoomInput<'a> {
    /// A socket was accepted.
    Open { conn: &'a ConnId },
    /// A text frame arrived.
    Frame { conn: &'a ConnId, text: &'a str },
    /// A binary frame of `bytes` bytes arrived (refused: the protocol is JSON text).
    Binary { conn: &'a ConnId, bytes: usize },
    /// A socket closed or failed; its subscriptions are dropped.
    Close { conn: &'a ConnId },
}

/// The answer to a one-shot HTTP call: a status and a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub body: Json,
}

/// A frame to deliver to one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub to: ConnId,
    pub message: ServerMessage,
}

impl Outgoing {
    /// Whether the driver must close the socket after sending this frame (the room shed
    /// the connection; the client reconnects after the hint it carries).
    pub fn closes_connection(&self) -> bool {
        matches!(self.message, ServerMessage::Error { code: ErrorCode::Overloaded, .. })
    }
}

/// How a room learns who is calling.
#[derive(Clone, Debug)]
pub enum AuthPolicy {
    /// Every caller is a trusted admin: for tests and native hosts that authenticate
    /// before traffic reaches the room. Tokens are not checked.
    TrustAll,
    /// Callers authenticate with signed tokens for this room; signed-out callers reach only
    /// public functions. The worker always runs rooms this way.
    Tokens(TokenVerifier),
}

type SubKey = (ConnId, QueryId);

/// One query run: its result (or error), what it read, the journal it pinned.
struct QueryRun {
    result: Result<Json, FnError>,
    read_set: ReadSet,
    journal: Option<String>,
    /// Hash of the result (or of the error), computed once: it is compared, stored and sent.
    hash: String,
    /// Size of the result's JSON text (0 for an error), for the diff cache.
    size: usize,
    /// The function asked who is calling: the result may differ between callers with the
    /// same role, so it is not shared between them.
    personal: bool,
    /// The read set's stored text, made once however many subscribers share this run.
    read_set_text: std::cell::OnceCell<String>,
}

/// Query runs shared within one fan-out: subscribers of the same query with the same
/// arguments (the common case: every open panel shows the same list) cost one run, not one
/// each. Runs are keyed by the caller's role, or by the caller itself when the function
/// looked at who is calling.
#[derive(Default)]
struct SharedRuns {
    runs: HashMap<(String, String, Option<String>, String), Rc<QueryRun>>,
    /// Diffs by (base hash, new hash): `None` when the whole result is smaller to send.
    diffs: HashMap<(String, String), Option<ValueDiff>>,
    /// Runs to write to `_subs` once the fan-out is done ([`Room::flush_runs`]).
    stored: Vec<(SubKey, Rc<QueryRun>)>,
}

/// Connections per batched `UPDATE` (Durable Object SQLite binds at most 100 parameters).
const UPDATE_CHUNK: usize = 90;

impl SharedRuns {
    fn role_key(caller: Option<&Identity>) -> String {
        caller.map_or("-".into(), |c| c.role.as_str().into())
    }

    fn caller_key(caller: Option<&Identity>) -> String {
        caller.map_or("-".into(), |c| format!("{}|{}", c.role, c.subject))
    }
}

impl QueryRun {
    fn new(result: Result<Json, FnError>, read_set: ReadSet, journal: Option<String>) -> Self {
        let (hash, size) = match &result {
            Ok(value) => {
                let text = value.to_string();
                (hash_text(&text), text.len())
            }
            Err(e) => (hash_text(&format!("error:{}:{e}", e.code())), 0),
        };
        Self { result, read_set, journal, hash, size, personal: false, read_set_text: Default::default() }
    }

    fn modification(&self, query_id: QueryId) -> QueryModification {
        let hash = self.hash.clone();
        match &self.result {
            Ok(value) => QueryModification::QueryUpdated { query_id, value: value.clone(), hash },
            Err(e) => QueryModification::QueryFailed { query_id, code: e.code(), message: e.to_string() },
        }
    }
}

/// One room's engine over its storage.
pub struct Room<S: Sql> {
    sql: S,
    /// The app this room serves (shared by every room of the host).
    app: Arc<App>,
    /// `schema.hash()`, computed once: every `connect` compares it, and computing it
    /// renders the whole schema as JSON.
    schema_hash: String,
    subscriptions: RefCell<SubscriptionIndex<SubKey>>,
    /// The last result sent per subscription (hash, value, size), to send diffs against.
    results: RefCell<ResultCache>,
    limits: RoomLimits,
    /// What each spender has left of the room's allowances (memory only).
    allowances: RefCell<limits::Allowances>,
    auth: RefCell<AuthPolicy>,
    activity: RefCell<stats::Activity>,
    /// Memory copies of `_conns` / `_subs` rows (write-through, filled lazily).
    rows: rows::Rows,
}

/// The last result each subscription was sent, to diff against. Results are stored once per
/// hash: a thousand panels showing the same list hold one copy between them.
#[derive(Default)]
struct ResultCache {
    held: HashMap<SubKey, String>,
    values: HashMap<String, CachedResult>,
    bytes: usize,
}

struct CachedResult {
    value: Rc<Json>,
    size: usize,
    holders: usize,
}

impl ResultCache {
    fn remember(&mut self, key: SubKey, hash: String, value: &Json, size: usize) {
        self.forget(&key);
        match self.values.get_mut(&hash) {
            Some(cached) => cached.holders += 1,
            None if self.bytes + size <= RESULT_CACHE_BYTES => {
                self.bytes += size;
                self.values.insert(hash.clone(), CachedResult { value: Rc::new(value.clone()), size, holders: 1 });
            }
            None => return,
        }
        self.held.insert(key, hash);
    }

    fn forget(&mut self, key: &SubKey) {
        let Some(hash) = self.held.remove(key) else { return };
        if let Some(cached) = self.values.get_mut(&hash) {
            cached.holders -= 1;
            if cached.holders == 0 {
                self.bytes -= cached.size;
                self.values.remove(&hash);
            }
        }
    }

    /// The value `key` was last sent, if it is the one with `hash`.
    fn base(&self, key: &SubKey, hash: &str) -> Option<(Rc<Json>, usize)> {
        let held = self.held.get(key).filter(|h| *h == hash)?;
        self.values.get(held).map(|c| (c.value.clone(), c.size))
    }
}

impl<S: Sql> Room<S> {
    /// Opens the room of an app — its roles, schema and functions — over `sql`, creating or
    /// migrating its tables on first use.
    pub fn open(sql: S, app: Arc<App>) -> Result<Self, StorageError> {
        let schema = app.schema();
        for statement in store::MIGRATIONS {
            sql.exec(statement, &[])?;
        }
        let version = sql.exec("SELECT value FROM _meta WHERE key = 'room_tables'", &[])?;
        if version.first().map(|r| int_at(r, 0)) != Some(ROOM_TABLES_VERSION) {
            sql.exec("DROP TABLE IF EXISTS _conns", &[])?;
            sql.exec("DROP TABLE IF EXISTS _subs", &[])?;
            sql.exec(
                "INSERT INTO _meta (key, value) VALUES ('room_tables', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[ROOM_TABLES_VERSION.into()],
            )?;
        }
        for statement in store::MIGRATIONS
            .iter()
            .chain(crate::engine::search::MIGRATIONS)
            .chain(crate::engine::migrate::MIGRATIONS)
            .chain(ROOM_MIGRATIONS)
        {
            sql.exec(statement, &[])?;
        }
        sql.atomically(|| crate::engine::migrate::migrate(&sql, schema))?;
        let mut index = SubscriptionIndex::default();
        for row in sql.exec("SELECT conn_id, query_id, read_set FROM _subs", &[])? {
            let conn = ConnId::from_stored(text_at(&row, 0)?);
            let query_id = int_at(&row, 1) as QueryId;
            // An unreadable read set must not hide updates: fall back to "everything".
            let read_set = ReadSet::from_text(&text_at(&row, 2)?).unwrap_or_else(|| everything(schema));
            index.insert((conn, query_id), &read_set);
        }
        Ok(Self {
            sql,
            schema_hash: schema.hash(),
            rows: rows::Rows::new(*app.roles()),
            app,
            subscriptions: RefCell::new(index),
            results: RefCell::default(),
            limits: RoomLimits::default(),
            allowances: RefCell::default(),
            auth: RefCell::new(AuthPolicy::TrustAll),
            activity: RefCell::default(),
        })
    }

    /// The app this room serves.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Sets how callers are authenticated (the default trusts everyone).
    pub fn with_auth(self, auth: AuthPolicy) -> Self {
        self.set_auth(auth);
        self
    }

    /// Replaces how callers are authenticated (a Durable Object learns its room's name from
    /// its first request, after it was constructed).
    pub fn set_auth(&self, auth: AuthPolicy) {
        *self.auth.borrow_mut() = auth;
    }

    /// The room's name, as remembered by [`Room::remember_name`].
    pub fn name(&self) -> Result<Option<String>, StorageError> {
        let rows = self.sql.exec("SELECT value FROM _room_text WHERE key = 'name'", &[])?;
        Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::as_text).map(str::to_string))
    }

    /// Stores the room's name, so that a room woken from hibernation by a socket message
    /// (which carries no URL) still knows which room its tokens must name.
    pub fn remember_name(&self, name: &str) -> Result<(), StorageError> {
        self.sql.exec(
            "INSERT INTO _room_text (key, value) VALUES ('name', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[name.into()],
        )?;
        Ok(())
    }

    /// Replaces the per-connection limits.
    pub fn with_limits(mut self, limits: RoomLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Takes one mutation from the spender's allowance; `Err` says who spent it and when to
    /// retry (the message, and the wait in ms).
    fn take_mutation(&self, who: Spender, now_ms: f64) -> Result<(), (String, u64)> {
        let taken = self.allowances.borrow_mut().mutation(&self.limits, who.clone(), now_ms);
        let (rate, burst) = (self.limits.mutations_per_second, self.limits.mutation_burst);
        taken.map_err(|wait_ms| (refusal_text("mutations", &who, rate, burst, wait_ms), wait_ms))
    }

    /// Takes one HTTP query from the spender's allowance, like [`Room::take_mutation`].
    fn take_http_query(&self, who: Spender, now_ms: f64) -> Result<(), (String, u64)> {
        let taken = self.allowances.borrow_mut().http_query(&self.limits, who.clone(), now_ms);
        let (rate, burst) = (self.limits.http_queries_per_second, self.limits.http_query_burst);
        taken.map_err(|wait_ms| (refusal_text("HTTP queries", &who, rate, burst, wait_ms), wait_ms))
    }

    /// Whether every caller is the host's trusted identity (native hosts, tests): then there
    /// are no users to tell apart, and allowances are per socket.
    fn trusts_all(&self) -> bool {
        matches!(*self.auth.borrow(), AuthPolicy::TrustAll)
    }

    /// Takes one control frame from the socket's allowance.
    fn take_control(&self, conn: &ConnId, now_ms: f64) -> Result<(), u64> {
        self.allowances.borrow_mut().control(&self.limits, conn, now_ms)
    }

    pub fn storage(&self) -> &S {
        &self.sql
    }

    /// Live subscriptions in this room.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.borrow().len()
    }

    /// Handles one input and returns the frames to deliver, in order.
    pub fn handle(&self, input: RoomInput<'_>, env: &mut dyn Environment) -> Vec<Outgoing> {
        self.activity.borrow_mut().woke_at_ms.get_or_insert(env.now_ms());
        let result = match input {
            RoomInput::Open { conn } => self.open_connection(conn).map(|()| Vec::new()),
            RoomInput::Close { conn } => self.close_connection(conn).map(|()| Vec::new()),
            RoomInput::Frame { conn, text } if text.len() > MAX_FRAME_BYTES => Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!("frame of {} bytes is over the {MAX_FRAME_BYTES}-byte limit", text.len()),
            )]),
            RoomInput::Frame { conn, text } => match ClientMessage::parse(text) {
                Ok(message) => self.handle_message(conn, message, env),
                Err(message) => Ok(vec![error_to(conn, ErrorCode::BadFrame, message)]),
            },
            RoomInput::Binary { conn, bytes } => Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!("binary frames are not supported ({bytes} bytes received); send JSON text frames"),
            )]),
        };
        match (result, input) {
            (Ok(mut out), RoomInput::Frame { conn, .. } | RoomInput::Binary { conn, .. }) => {
                if refused(conn, &out) {
                    out.extend(self.count_refusal(conn, env.now_ms()));
                }
                out
            }
            (Ok(out), _) => out,
            (Err(e), RoomInput::Frame { conn, .. } | RoomInput::Binary { conn, .. } | RoomInput::Open { conn }) => {
                vec![error_to(conn, ErrorCode::Internal, e.to_string())]
            }
            (Err(_), RoomInput::Close { .. }) => Vec::new(),
        }
    }

    /// One more of the socket's frames refused: past its allowance, the room forgets the
    /// connection and tells the host to close the socket (an `OVERLOADED` frame with a
    /// hint). Answering refused frames is cheap, but not free: a socket that keeps sending
    /// them would delay every other socket's frames behind its own.
    fn count_refusal(&self, conn: &ConnId, now_ms: f64) -> Option<Outgoing> {
        let wait_ms = self.allowances.borrow_mut().refusal(&self.limits, conn, now_ms).err()?;
        self.activity.borrow_mut().sockets_closed_for_refusals += 1;
        let _ = self.close_connection(conn);
        // Long enough to matter to a flood; a jittered second on top spreads reconnects.
        let retry_after_ms = wait_ms.max(10_000) + (now_ms as u64 % 1000);
        Some(Outgoing {
            to: conn.clone(),
            message: ServerMessage::Error {
                code: ErrorCode::Overloaded,
                message: format!(
                    "this socket sent too many frames the room refused (at most {} at once, then {} per second): closing it; reconnect in {retry_after_ms} ms and wait for the retry hints refusals carry",
                    self.limits.refusal_burst, self.limits.refusals_per_second
                ),
                retry_after_ms: Some(retry_after_ms),
            },
        })
    }

    /// The room's latest commit timestamp.
    pub fn current_ts(&self) -> Result<Ts, StorageError> {
        let rows = self.sql.exec("SELECT value FROM _meta WHERE key = 'ts'", &[])?;
        Ok(Ts(rows.first().map(|r| int_at(r, 0)).unwrap_or(0) as u64))
    }

    fn open_connection(&self, conn: &ConnId) -> Result<(), StorageError> {
        self.sql
            .exec("INSERT OR IGNORE INTO _conns (conn_id, query_set, ts) VALUES (?, 0, 0)", &[conn.as_str().into()])?;
        self.rows.forget_conn_row(conn);
        Ok(())
    }

    /// Drops the rows of every connection whose socket is gone — `live` are the connections
    /// the host still holds sockets for. Sockets can vanish without a close event (a
    /// restart, a crash); the host calls this when it starts, so rows of dead sockets do not
    /// outlive it. Returns how many connections were dropped.
    pub fn retain_connections(&self, live: &[ConnId]) -> Result<usize, StorageError> {
        let rows = self.sql.exec("SELECT conn_id FROM _conns", &[])?;
        let mut dropped = 0;
        for row in rows {
            let conn = ConnId::from_stored(text_at(&row, 0)?);
            if !live.contains(&conn) {
                self.close_connection(&conn)?;
                dropped += 1;
            }
        }
        // Subscriptions of connections that have no row (left by a crash mid-close).
        self.sql.exec("DELETE FROM _subs WHERE conn_id NOT IN (SELECT conn_id FROM _conns)", &[])?;
        Ok(dropped)
    }

    fn close_connection(&self, conn: &ConnId) -> Result<(), StorageError> {
        self.allowances.borrow_mut().forget_socket(conn);
        let ids = self.sql.exec("SELECT query_id FROM _subs WHERE conn_id = ?", &[conn.as_str().into()])?;
        self.sql.atomically(|| {
            self.sql.exec("DELETE FROM _subs WHERE conn_id = ?", &[conn.as_str().into()])?;
            self.sql.exec("DELETE FROM _conns WHERE conn_id = ?", &[conn.as_str().into()])?;
            Ok::<(), StorageError>(())
        })?;
        self.rows.forget_conn(conn);
        let mut index = self.subscriptions.borrow_mut();
        let mut results = self.results.borrow_mut();
        for row in ids {
            let key = (conn.clone(), int_at(&row, 0) as QueryId);
            index.remove(&key);
            results.forget(&key);
        }
        Ok(())
    }

    fn handle_message(
        &self,
        conn: &ConnId,
        message: ClientMessage,
        env: &mut dyn Environment,
    ) -> Result<Vec<Outgoing>, StorageError> {
        if let ClientMessage::Connect { session_id, protocol_version, schema_hash } = &message {
            return self.connect(conn, session_id, *protocol_version, schema_hash.as_deref(), env.now_ms());
        }
        // Everything else needs a connected socket: `connect` checks the protocol and schema
        // and takes the socket's share of the room-wide allowance; skipping it skips neither.
        if self.session_of(conn)?.is_none() {
            let kind = match &message {
                ClientMessage::Authenticate { .. } => "authenticate",
                ClientMessage::Subscribe { .. } => "subscribe",
                ClientMessage::Unsubscribe { .. } => "unsubscribe",
                _ => "mutation",
            };
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!("send connect first: a {kind} frame came before this socket's connect frame"),
            )]);
        }
        if !matches!(message, ClientMessage::Mutation { .. }) {
            if let Err(wait_ms) = self.take_control(conn, env.now_ms()) {
                return Ok(self.control_refused(conn, &message, wait_ms));
            }
        }
        match message {
            ClientMessage::Connect { .. } => unreachable!("handled above"),
            ClientMessage::Authenticate { token } => self.authenticate(conn, token.as_deref(), env.now_ms()),
            ClientMessage::Subscribe { query_id, udf_path, args, result_hash } => {
                self.subscribe(conn, query_id, udf_path, args, result_hash, env.now_ms())
            }
            ClientMessage::Unsubscribe { query_id } => self.unsubscribe(conn, query_id),
            ClientMessage::Mutation { request_id, udf_path, args } => {
                self.mutate(conn, request_id, &udf_path, &args, env)
            }
        }
    }

    /// Binds the connection to a client session (for exactly-once mutations).
    fn connect(
        &self,
        conn: &ConnId,
        session_id: &str,
        protocol_version: Option<u32>,
        schema_hash: Option<&str>,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        if let Some(version) = protocol_version.filter(|v| *v != crate::PROTOCOL_VERSION) {
            return Ok(vec![error_to(
                conn,
                ErrorCode::ProtocolMismatch,
                format!(
                    "this client speaks protocol {version} but the room speaks {}: reload the page to get the current client",
                    crate::PROTOCOL_VERSION
                ),
            )]);
        }
        let ours = &self.schema_hash;
        if let Some(theirs) = schema_hash.filter(|h| *h != ours) {
            return Ok(vec![error_to(
                conn,
                ErrorCode::SchemaMismatch,
                format!(
                    "this client was built for schema {theirs} but the room runs schema {ours}: reload the page to get the matching client"
                ),
            )]);
        }
        let valid = (16..=64).contains(&session_id.len())
            && session_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!("sessionId must be 16 to 64 letters, digits, '-' or '_'; got {:?}", truncate(session_id, 80)),
            )]);
        }
        if self.session_of(conn)?.is_some() {
            // Once per socket: a repeat spends nothing of the room-wide allowance.
            return Ok(vec![error_to(conn, ErrorCode::BadFrame, "this socket already sent connect".into())]);
        }
        let allowed = self.allowances.borrow_mut().connect(&self.limits, now_ms);
        if let Err(wait_ms) = allowed {
            self.activity.borrow_mut().connects_refused += 1;
            // Spread the retries: a full second of jitter on top of the wait.
            let retry_after_ms = wait_ms + 1000 + (now_ms as u64 % 1000);
            self.close_connection(conn)?;
            return Ok(vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Error {
                    code: ErrorCode::Overloaded,
                    message: format!(
                        "the room is accepting at most {} new connections per second (everyone is reconnecting); retry in {retry_after_ms} ms",
                        self.limits.connects_per_second
                    ),
                    retry_after_ms: Some(retry_after_ms),
                },
            }]);
        }
        self.open_connection(conn)?;
        self.sql
            .exec("UPDATE _conns SET session_id = ? WHERE conn_id = ?", &[session_id.into(), conn.as_str().into()])?;
        self.rows.forget_conn_row(conn);
        Ok(Vec::new())
    }

    /// The answer to a control frame over the socket's allowance: a subscription fails for
    /// that query (its `onError`), the rest get an error frame; both say when to retry.
    fn control_refused(&self, conn: &ConnId, message: &ClientMessage, wait_ms: u64) -> Vec<Outgoing> {
        let text = format!(
            "too many subscribe, unsubscribe and authenticate frames on this connection (at most {} per second, bursts of {}); retry in {wait_ms} ms",
            self.limits.control_per_second, self.limits.control_burst
        );
        match message {
            ClientMessage::Subscribe { query_id, .. } => {
                let failed = QueryModification::QueryFailed {
                    query_id: *query_id,
                    code: ErrorCode::LimitExceeded,
                    message: text,
                };
                // No version moves: nothing of the connection changed.
                let version = self.rows.conn(&self.sql, conn).ok().flatten().map(|r| r.version).unwrap_or_default();
                vec![Outgoing {
                    to: conn.clone(),
                    message: ServerMessage::Transition {
                        start_version: version,
                        end_version: version,
                        modifications: vec![failed],
                    },
                }]
            }
            _ => vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Error {
                    code: ErrorCode::LimitExceeded,
                    message: text,
                    retry_after_ms: Some(wait_ms),
                },
            }],
        }
    }

    fn session_of(&self, conn: &ConnId) -> Result<Option<String>, StorageError> {
        Ok(self.rows.conn(&self.sql, conn)?.and_then(|row| row.session))
    }

    fn connection_version(&self, conn: &ConnId) -> Result<StateVersion, StorageError> {
        let row = match self.rows.conn(&self.sql, conn)? {
            Some(row) => row,
            None => {
                // A frame can arrive for a connection the room has not seen (a socket
                // accepted by an older build): register it on first use.
                self.open_connection(conn)?;
                self.rows.conn(&self.sql, conn)?.ok_or_else(|| StorageError(format!("connection {conn} vanished")))?
            }
        };
        Ok(row.version)
    }

    fn set_connection_version(&self, conn: &ConnId, version: StateVersion) -> Result<(), StorageError> {
        self.sql.exec(
            "UPDATE _conns SET query_set = ?, ts = ? WHERE conn_id = ?",
            &[i64::from(version.query_set).into(), (version.ts.0 as i64).into(), conn.as_str().into()],
        )?;
        self.rows.set_version(conn, version);
        Ok(())
    }

    /// The room's storage (tests read it directly).
    #[cfg(test)]
    pub(crate) fn sql(&self) -> &S {
        &self.sql
    }

    /// Runs a query once as a trusted admin, outside any subscription (tests' oracles,
    /// native hosts).
    pub fn query_once(&self, udf_path: &str, args: &Json) -> Result<Json, FnError> {
        self.run_query(udf_path, args, None, Some(&Identity::trusted(self.app.roles()))).result
    }

    /// Runs a registered query for a caller.
    fn run_query(&self, udf_path: &str, args: &Json, journal: Option<String>, caller: Option<&Identity>) -> QueryRun {
        let (def, args) = match self.app.registry().resolve(udf_path, FunctionKind::Query, args, caller) {
            Ok(found) => found,
            Err(e) => return QueryRun::new(Err(e), ReadSet::default(), None),
        };
        let mut tx = Tx::reader(&self.sql, self.app.schema(), journal).for_caller(Caller::Client(caller.cloned()));
        let result = (def.handler)(&mut tx, &args).map(|v| v.to_json());
        let personal = tx.read_identity();
        let (read_set, _, journal) = tx.finish();
        let run = QueryRun::new(result, read_set, journal);
        if run.size > MAX_RESULT_BYTES {
            // Failed for this query alone, and kept (the data can shrink): never a frame that
            // an isolate's memory or every subscriber's bandwidth pays for.
            let too_large =
                FnError::ResultTooLarge { function: udf_path.to_string(), bytes: run.size, limit: MAX_RESULT_BYTES };
            return QueryRun { personal, ..QueryRun::new(Err(too_large), run.read_set, run.journal) };
        }
        QueryRun { personal, ..run }
    }

    fn store_subscription(&self, conn: &ConnId, query_id: QueryId, run: &QueryRun) -> Result<(), StorageError> {
        self.sql.exec(
            "UPDATE _subs SET read_set = ?, journal = ?, result_hash = ? WHERE conn_id = ? AND query_id = ?",
            &[
                run.read_set_text.get_or_init(|| run.read_set.to_text()).clone().into(),
                run.journal.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null),
                run.hash.clone().into(),
                conn.as_str().into(),
                i64::from(query_id).into(),
            ],
        )?;
        self.remember_run(conn, query_id, run);
        Ok(())
    }

    /// The in-memory side of storing a run: the subscription index, the diff base, the row copy.
    fn remember_run(&self, conn: &ConnId, query_id: QueryId, run: &QueryRun) {
        self.rows.set_run(&(conn.clone(), query_id), run.journal.clone(), &run.hash);
        self.subscriptions.borrow_mut().insert((conn.clone(), query_id), &run.read_set);
        match &run.result {
            Ok(value) => {
                self.results.borrow_mut().remember((conn.clone(), query_id), run.hash.clone(), value, run.size)
            }
            Err(_) => self.results.borrow_mut().forget(&(conn.clone(), query_id)),
        }
    }

    /// Writes the runs of a fan-out to `_subs`: one `UPDATE` per shared run and query id
    /// for up to [`UPDATE_CHUNK`] connections, instead of one per subscriber.
    fn flush_runs(&self, shared: &mut SharedRuns) -> Result<(), StorageError> {
        let mut groups: BTreeMap<(usize, QueryId), (Rc<QueryRun>, Vec<ConnId>)> = BTreeMap::new();
        for ((conn, query_id), run) in std::mem::take(&mut shared.stored) {
            let key = (Rc::as_ptr(&run) as usize, query_id);
            groups.entry(key).or_insert_with(|| (run, Vec::new())).1.push(conn);
        }
        for ((_, query_id), (run, conns)) in groups {
            let read_set = run.read_set_text.get_or_init(|| run.read_set.to_text()).clone();
            let journal = run.journal.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null);
            for chunk in conns.chunks(UPDATE_CHUNK) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let mut params: Vec<SqlValue> =
                    vec![read_set.clone().into(), journal.clone(), run.hash.clone().into(), i64::from(query_id).into()];
                params.extend(chunk.iter().map(|c| SqlValue::from(c.as_str())));
                self.sql.exec(
                    &format!(
                        "UPDATE _subs SET read_set = ?, journal = ?, result_hash = ? WHERE query_id = ? AND conn_id IN ({marks})"
                    ),
                    &params,
                )?;
            }
        }
        Ok(())
    }

    /// Why `more` subscriptions on `conn` would pass its user's limit, if they would. Counts
    /// the user's subscriptions on their other connections (signed in as the same subject)
    /// plus this connection's own: a socket that signs in brings its subscriptions along.
    pub(super) fn user_subscriptions_refusal(
        &self,
        conn: &ConnId,
        more: usize,
        now_ms: f64,
    ) -> Result<Option<String>, StorageError> {
        let Some(subject) = self.caller_of(conn, now_ms)?.map(|identity| identity.subject) else {
            return Ok(None);
        };
        self.subscriptions_of(conn, &subject, more)
    }

    /// Like [`Self::user_subscriptions_refusal`], for `conn` signed in as `subject`.
    pub(super) fn subscriptions_of(
        &self,
        conn: &ConnId,
        subject: &str,
        more: usize,
    ) -> Result<Option<String>, StorageError> {
        if matches!(*self.auth.borrow(), AuthPolicy::TrustAll) {
            return Ok(None);
        }
        let rows = self.sql.exec(
            "SELECT COUNT(*) FROM _subs WHERE conn_id = ? OR conn_id IN
               (SELECT conn_id FROM _conns WHERE json_extract(caller, '$.subject') = ? AND conn_id != ?)",
            &[conn.as_str().into(), subject.into(), conn.as_str().into()],
        )?;
        let held = rows.first().map(|r| int_at(r, 0)).unwrap_or(0) as usize;
        Ok((held + more > MAX_SUBSCRIPTIONS_PER_USER).then(|| {
            format!(
                "at most {MAX_SUBSCRIPTIONS_PER_USER} subscriptions per user over all their connections; this user holds {held}: close other tabs or unsubscribe some first"
            )
        }))
    }

    fn subscribe(
        &self,
        conn: &ConnId,
        query_id: QueryId,
        udf_path: String,
        args: Json,
        result_hash: Option<String>,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let exists = self.sql.exec(
            "SELECT 1 FROM _subs WHERE conn_id = ? AND query_id = ?",
            &[conn.as_str().into(), i64::from(query_id).into()],
        )?;
        let held = self.sql.exec(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(args)), 0) FROM _subs WHERE conn_id = ?",
            &[conn.as_str().into()],
        )?;
        let (count, held_bytes) = held.first().map(|r| (int_at(r, 0), int_at(r, 1))).unwrap_or((0, 0));
        if count >= MAX_SUBSCRIPTIONS_PER_CONNECTION as i64 {
            return Ok(vec![error_to(
                conn,
                ErrorCode::LimitExceeded,
                format!(
                    "at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection; unsubscribe some first (queryId {query_id} refused)"
                ),
            )]);
        }
        if let Some(refusal) = self.user_subscriptions_refusal(conn, 1, now_ms)? {
            return Ok(vec![error_to(
                conn,
                ErrorCode::LimitExceeded,
                [refusal, format!(" (queryId {query_id} refused)")].concat(),
            )]);
        }
        if !exists.is_empty() {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is already subscribed on this connection"),
            )]);
        }
        let start = self.connection_version(conn)?;
        let end = StateVersion { query_set: start.query_set + 1, ts: self.current_ts()?, ..start };
        let args_bytes = args.to_string().len();
        if args_bytes > MAX_SUBSCRIPTION_ARGS_BYTES || held_bytes as usize + args_bytes > MAX_CONNECTION_ARGS_BYTES {
            // Answered for that query (its onError), neither run nor kept.
            let message = if args_bytes > MAX_SUBSCRIPTION_ARGS_BYTES {
                format!("arguments of {args_bytes} bytes are over the {MAX_SUBSCRIPTION_ARGS_BYTES}-byte limit of a subscription")
            } else {
                format!(
                    "this connection's subscriptions hold {held_bytes} bytes of arguments; {args_bytes} more would pass the {MAX_CONNECTION_ARGS_BYTES}-byte limit: unsubscribe some first"
                )
            };
            self.set_connection_version(conn, end)?;
            let failed = QueryModification::QueryFailed { query_id, code: ErrorCode::LimitExceeded, message };
            return Ok(vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Transition {
                    start_version: start,
                    end_version: end,
                    modifications: vec![failed],
                },
            }]);
        }
        let caller = self.caller_of(conn, now_ms)?;
        let run = self.run_query(&udf_path, &args, None, caller.as_ref());
        // A call that can never succeed (no such function, invalid arguments) is answered
        // but not kept; a query that failed on the data is kept, since data can change.
        let keep = !matches!(run.result, Err(FnError::UnknownFunction { .. } | FnError::Validation(_)));
        if keep {
            self.rows.forget_sub(&(conn.clone(), query_id));
            self.sql.exec(
                "INSERT INTO _subs (conn_id, query_id, udf_path, args, read_set, journal, result_hash)
                 VALUES (?, ?, ?, ?, '[]', NULL, '')",
                &[conn.as_str().into(), i64::from(query_id).into(), udf_path.into(), args.to_string().into()],
            )?;
            self.store_subscription(conn, query_id, &run)?;
        }
        self.set_connection_version(conn, end)?;
        // Resuming with the same result: confirm it instead of sending it again.
        let modification = if keep && result_hash.as_deref() == Some(run.hash.as_str()) {
            QueryModification::QueryUnchanged { query_id }
        } else {
            run.modification(query_id)
        };
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition {
                start_version: start,
                end_version: end,
                modifications: vec![modification],
            },
        }])
    }

    fn unsubscribe(&self, conn: &ConnId, query_id: QueryId) -> Result<Vec<Outgoing>, StorageError> {
        let removed = self.sql.exec(
            "DELETE FROM _subs WHERE conn_id = ? AND query_id = ? RETURNING query_id",
            &[conn.as_str().into(), i64::from(query_id).into()],
        )?;
        if removed.is_empty() {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is not subscribed on this connection"),
            )]);
        }
        self.subscriptions.borrow_mut().remove(&(conn.clone(), query_id));
        self.results.borrow_mut().forget(&(conn.clone(), query_id));
        self.rows.forget_sub(&(conn.clone(), query_id));
        let start = self.connection_version(conn)?;
        let end = StateVersion { query_set: start.query_set + 1, ..start };
        self.set_connection_version(conn, end)?;
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition {
                start_version: start,
                end_version: end,
                modifications: vec![QueryModification::QueryRemoved { query_id }],
            },
        }])
    }

    fn mutate(
        &self,
        conn: &ConnId,
        request_id: RequestId,
        udf_path: &str,
        args: &Json,
        env: &mut dyn Environment,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let respond =
            |outcome| Outgoing { to: conn.clone(), message: ServerMessage::MutationResponse { request_id, outcome } };
        let caller = self.mutation_caller(conn, env.now_ms())?;
        // A signed-in user's allowance is shared by all their sockets; a signed-out socket
        // (or one whose token ran out) spends its own.
        let who = match &caller {
            Ok(Some(identity)) if !self.trusts_all() => Spender::User(identity.subject.clone()),
            _ => Spender::Socket(conn.clone()),
        };
        if let Err((message, _)) = self.take_mutation(who, env.now_ms()) {
            return Ok(vec![respond(MutationOutcome::Failure { code: ErrorCode::LimitExceeded, message })]);
        }
        let caller = match caller {
            Ok(caller) => caller,
            Err(e) => return Ok(vec![respond(MutationOutcome::Failure { code: e.code(), message: e.to_string() })]),
        };
        let session = self.session_of(conn)?;
        let call = call_digest(caller.as_ref(), udf_path, args);
        // A request this session already committed (re-sent after a reconnect): answer with
        // the recorded outcome, do not run it again — if it is the same call by the same
        // caller. Anything else reusing the id is refused, and learns nothing of the outcome.
        if let Some(session) = &session {
            let key: [SqlValue; 2] = [session.as_str().into(), i64::from(request_id).into()];
            let rows =
                self.sql.exec("SELECT result, ts FROM _mutations WHERE session_id = ? AND request_id = ?", &key)?;
            if let Some(row) = rows.first() {
                let bound =
                    self.sql.exec("SELECT call FROM _mutation_calls WHERE session_id = ? AND request_id = ?", &key)?;
                if bound.first().map(|r| text_at(r, 0)).transpose()?.is_some_and(|recorded| recorded != call) {
                    let message = format!(
                        "requestId {request_id} of this session was already used for another call (another function, \
                         other arguments or another caller); a new call needs a new requestId"
                    );
                    return Ok(vec![respond(MutationOutcome::Failure { code: ErrorCode::BadFrame, message })]);
                }
                let result = serde_json::from_str(&text_at(row, 0)?).unwrap_or(Json::Null);
                return Ok(vec![respond(MutationOutcome::Success { result, ts: Ts(int_at(row, 1) as u64) })]);
            }
        }
        let session = session.as_deref().map(|s| (s, request_id, call.as_str()));
        let (result, writes, ts) = match self.commit(udf_path, args, env, session, caller.as_ref()) {
            Ok(done) => done,
            Err(e) => return Ok(vec![respond(MutationOutcome::Failure { code: e.code(), message: e.to_string() })]),
        };
        // Transitions first, response last: when the caller's promise resolves, the write is
        // already in what it shows.
        let mut out = self.fan_out(&writes, ts, env.now_ms())?;
        out.push(respond(MutationOutcome::Success { result, ts }));
        Ok(out)
    }

    /// Runs a mutation and commits it atomically, recording its outcome for exactly-once
    /// re-sends when it comes from a session.
    fn commit(
        &self,
        udf_path: &str,
        args: &Json,
        env: &mut dyn Environment,
        session: Option<(&str, RequestId, &str)>,
        caller: Option<&Identity>,
    ) -> Result<(Json, crate::engine::WriteSet, Ts), FnError> {
        let (def, args) = self.app.registry().resolve(udf_path, FunctionKind::Mutation, args, caller)?;
        self.sql
            .atomically(|| {
                let (result, writes, ts) = self.run_mutation(def, &args, env, caller)?;
                if let Some((session, request_id, call)) = session {
                    // Keep a bounded window: a client only ever re-sends its unanswered requests,
                    // which are its newest; outcomes of old commits are dropped.
                    let oldest = i64::from(request_id) - MUTATION_WINDOW;
                    self.sql.exec(
                        "DELETE FROM _mutation_calls WHERE (session_id = ? AND request_id < ?)
                         OR (session_id, request_id) IN (SELECT session_id, request_id FROM _mutations WHERE ts < ?)",
                        &[session.into(), oldest.into(), (ts.0 as i64 - MUTATION_TS_WINDOW).into()],
                    )?;
                    self.sql.exec(
                        "DELETE FROM _mutations WHERE (session_id = ? AND request_id < ?) OR ts < ?",
                        &[session.into(), oldest.into(), (ts.0 as i64 - MUTATION_TS_WINDOW).into()],
                    )?;
                    self.sql.exec(
                        "INSERT INTO _mutation_calls (session_id, request_id, call) VALUES (?, ?, ?)",
                        &[session.into(), i64::from(request_id).into(), call.into()],
                    )?;
                    self.sql.exec(
                        "INSERT INTO _mutations (session_id, request_id, result, ts) VALUES (?, ?, ?, ?)",
                        &[
                            session.into(),
                            i64::from(request_id).into(),
                            result.to_string().into(),
                            (ts.0 as i64).into(),
                        ],
                    )?;
                }
                Ok((result, writes, ts))
            })
            .inspect(|_| self.activity.borrow_mut().commits += 1)
    }

    /// A one-shot call over HTTP (`POST /rooms/:room/query` or `/mutation`) for scripts,
    /// server-side rendering and clients without WebSockets. `body` is
    /// `{"udfPath": "…", "args": {…}}`. A mutation's updates reach live subscribers like any
    /// other: deliver the returned frames. `authorization` is the request's
    /// `Authorization` header (`Bearer <token>`); without it the call is signed out.
    pub fn http_call(
        &self,
        kind: FunctionKind,
        body: &str,
        authorization: Option<&str>,
        env: &mut dyn Environment,
    ) -> (HttpReply, Vec<Outgoing>) {
        self.http_call_from(kind, body, authorization, None, env)
    }

    /// [`Room::http_call`] from a client `address` the host vouches for (the edge's
    /// `CF-Connecting-IP`): signed-out mutations spend that address's allowance (all
    /// signed-out callers share one without it); signed-in ones spend their user's, which
    /// their sockets share too.
    pub fn http_call_from(
        &self,
        kind: FunctionKind,
        body: &str,
        authorization: Option<&str>,
        address: Option<&str>,
        env: &mut dyn Environment,
    ) -> (HttpReply, Vec<Outgoing>) {
        self.activity.borrow_mut().woke_at_ms.get_or_insert(env.now_ms());
        let fail = |code: ErrorCode, message: String| (HttpReply::error(code, message), Vec::new());
        let caller = match self.http_caller(authorization, env.now_ms()) {
            Ok(caller) => caller,
            Err(reply) => return (reply, Vec::new()),
        };
        let who = match &caller {
            Some(identity) if !self.trusts_all() => Spender::User(identity.subject.clone()),
            _ => Spender::Address(address.unwrap_or_default().to_string()),
        };
        let taken = match kind {
            FunctionKind::Mutation => self.take_mutation(who, env.now_ms()),
            FunctionKind::Query => self.take_http_query(who, env.now_ms()),
        };
        if let Err((message, wait_ms)) = taken {
            let mut reply = HttpReply::error(ErrorCode::LimitExceeded, message);
            reply.body["retryAfterMs"] = wait_ms.into();
            return (reply, Vec::new());
        }
        if body.len() > MAX_FRAME_BYTES {
            return fail(
                ErrorCode::BadFrame,
                format!("body of {} bytes is over the {MAX_FRAME_BYTES}-byte limit", body.len()),
            );
        }
        let request: Json = match serde_json::from_str(body) {
            Ok(json) => json,
            Err(e) => return fail(ErrorCode::BadFrame, format!("body is not JSON: {e}")),
        };
        let Some(udf_path) = request.get("udfPath").and_then(Json::as_str) else {
            return fail(ErrorCode::BadFrame, "body must be {\"udfPath\": \"table:function\", \"args\": {…}}".into());
        };
        let args = request.get("args").cloned().unwrap_or(Json::Null);
        match kind {
            FunctionKind::Query => match self.run_query(udf_path, &args, None, caller.as_ref()).result {
                Ok(value) => (HttpReply { status: 200, body: serde_json::json!({"value": value}) }, Vec::new()),
                Err(e) => fail(e.code(), e.to_string()),
            },
            FunctionKind::Mutation => match self.commit(udf_path, &args, env, None, caller.as_ref()) {
                Ok((result, writes, ts)) => {
                    let out = self.fan_out(&writes, ts, env.now_ms()).unwrap_or_default();
                    (HttpReply { status: 200, body: serde_json::json!({"result": result, "ts": ts}) }, out)
                }
                Err(e) => fail(e.code(), e.to_string()),
            },
        }
    }

    fn run_mutation(
        &self,
        def: &FunctionDef,
        args: &crate::model::value::Value,
        env: &mut dyn Environment,
        caller: Option<&Identity>,
    ) -> Result<(Json, crate::engine::WriteSet, Ts), FnError> {
        let mut tx = Tx::writer(&self.sql, self.app.schema(), env).for_caller(Caller::Client(caller.cloned()));
        let result = (def.handler)(&mut tx, args)?;
        let (_, writes, _) = tx.finish();
        let ts = self.current_ts()?.next();
        self.sql.exec(
            "INSERT INTO _meta (key, value) VALUES ('ts', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[(ts.0 as i64).into()],
        )?;
        Ok((result.to_json(), writes, ts))
    }

    /// Re-runs the subscriptions a commit affected and sends each connection whose results
    /// changed one transition to `ts`.
    fn fan_out(&self, writes: &crate::engine::WriteSet, ts: Ts, now_ms: f64) -> Result<Vec<Outgoing>, StorageError> {
        let affected = self.subscriptions.borrow().affected(writes);
        let rerun = affected.len();
        let mut changed: BTreeMap<ConnId, Vec<QueryModification>> = BTreeMap::new();
        let mut shared = SharedRuns::default();
        for (conn, query_id) in affected {
            // From the row copy: no storage read per subscription.
            let caller = self.caller_of(&conn, now_ms)?;
            if let Some(modification) = self.rerun(&conn, query_id, caller.as_ref(), &mut shared)? {
                changed.entry(conn).or_default().push(modification);
            }
        }
        self.flush_runs(&mut shared)?;
        let mut out = Vec::with_capacity(changed.len());
        for (conn, modifications) in changed {
            let start = self.connection_version(&conn)?;
            let end = StateVersion { ts, ..start };
            out.push(Outgoing {
                to: conn,
                message: ServerMessage::Transition { start_version: start, end_version: end, modifications },
            });
        }
        // A fan-out moves only the commit timestamp of each connection it reaches.
        let conns: Vec<&ConnId> = out.iter().map(|o| &o.to).collect();
        for chunk in conns.chunks(UPDATE_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut params: Vec<SqlValue> = vec![(ts.0 as i64).into()];
            params.extend(chunk.iter().map(|c| SqlValue::from(c.as_str())));
            self.sql.exec(&format!("UPDATE _conns SET ts = ? WHERE conn_id IN ({marks})"), &params)?;
        }
        for o in &out {
            if let ServerMessage::Transition { end_version, .. } = &o.message {
                self.rows.set_version(&o.to, *end_version);
            }
        }
        self.activity.borrow_mut().record_fan_out(now_ms, ts, rerun, &out);
        Ok(out)
    }

    /// Re-runs one subscription for `caller`; the modification to send when its result
    /// changed (a diff against the result the client holds when that is clearly smaller).
    fn rerun(
        &self,
        conn: &ConnId,
        query_id: QueryId,
        caller: Option<&Identity>,
        shared: &mut SharedRuns,
    ) -> Result<Option<QueryModification>, StorageError> {
        let Some(row) = self.rows.sub(&self.sql, &(conn.clone(), query_id))? else { return Ok(None) };
        let rows::SubRow { udf_path, args: args_text, journal, result_hash: old_hash } = row;
        let key = |who: String| (udf_path.clone(), args_text.clone(), journal.clone(), who);
        let found = shared
            .runs
            .get(&key(SharedRuns::role_key(caller)))
            .or_else(|| shared.runs.get(&key(SharedRuns::caller_key(caller))))
            .cloned();
        let run = match found {
            Some(run) => run,
            None => {
                let args: Json = serde_json::from_str(&args_text).unwrap_or(Json::Null);
                let run = Rc::new(self.run_query(&udf_path, &args, journal.clone(), caller));
                let who = if run.personal { SharedRuns::caller_key(caller) } else { SharedRuns::role_key(caller) };
                shared.runs.insert(key(who), run.clone());
                run
            }
        };
        if run.hash == old_hash {
            // Same result: keep the new read set (it may differ), send nothing.
            self.remember_run(conn, query_id, &run);
            shared.stored.push(((conn.clone(), query_id), run));
            return Ok(None);
        }
        let key = (conn.clone(), query_id);
        let base = self.results.borrow().base(&key, &old_hash);
        let diff = match (&run.result, base) {
            (Ok(new), Some((old, old_size))) => shared
                .diffs
                .entry((old_hash.clone(), run.hash.clone()))
                .or_insert_with(|| {
                    let diff = ValueDiff::compute(&old, new);
                    // A diff only when it is clearly smaller than the result itself.
                    (diff.to_json().to_string().len() * 3 < old_size.max(64) * 2).then_some(diff)
                })
                .clone(),
            _ => None,
        };
        let modification = match diff {
            Some(diff) => QueryModification::QueryDiff { query_id, base_hash: old_hash, hash: run.hash.clone(), diff },
            None => run.modification(query_id),
        };
        self.remember_run(conn, query_id, &run);
        shared.stored.push(((conn.clone(), query_id), run));
        Ok(Some(modification))
    }
}

/// A read set covering every index of every table: the safe fallback.
fn everything(schema: &Schema) -> ReadSet {
    let mut read_set = ReadSet::default();
    for table in schema.tables() {
        read_set.add(crate::engine::read_set::KeyRange::prefix(&table.name, crate::engine::tx::BY_ID, Vec::new()));
        for (index, _) in store::indexes(table) {
            read_set.add(crate::engine::read_set::KeyRange::prefix(&table.name, &index, Vec::new()));
        }
    }
    read_set
}

/// What a recorded outcome answers: the caller (its subject; empty when signed out) and the
/// call (function and arguments), digested.
fn call_digest(caller: Option<&Identity>, udf_path: &str, args: &Json) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [caller.map_or("", |c| c.subject.as_str()), udf_path, &args.to_string()] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn int_at(row: &[SqlValue], column: usize) -> i64 {
    row.get(column).and_then(SqlValue::as_integer).unwrap_or(0)
}

fn text_at(row: &[SqlValue], column: usize) -> Result<String, StorageError> {
    row.get(column)
        .and_then(SqlValue::as_text)
        .map(str::to_string)
        .ok_or_else(|| StorageError(format!("expected text in column {column}, found {:?}", row.get(column))))
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// Whether the answer to a socket's frame refuses it without doing its work: a malformed
/// frame, a frame out of order, or one over an allowance (the caller should have waited).
/// An application's errors (validation, unknown function, forbidden) are answers, not
/// refusals.
fn refused(conn: &ConnId, out: &[Outgoing]) -> bool {
    let refusal = |code: &ErrorCode| matches!(code, ErrorCode::BadFrame | ErrorCode::LimitExceeded);
    out.iter().filter(|o| o.to == *conn).any(|o| match &o.message {
        ServerMessage::Error { code, .. } => refusal(code),
        ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, .. }, .. } => refusal(code),
        ServerMessage::Transition { start_version, end_version, modifications } => {
            start_version == end_version
                && modifications
                    .iter()
                    .any(|m| matches!(m, QueryModification::QueryFailed { code, .. } if refusal(code)))
        }
        _ => false,
    })
}

/// Why an allowance refused a call, naming whose allowance it was (never the user: the
/// caller knows who they are) and when to retry.
fn refusal_text(what: &str, who: &Spender, rate: f64, burst: f64, wait_ms: u64) -> String {
    let whose = match who {
        Spender::User(_) => "this user",
        Spender::Socket(_) => "this connection",
        Spender::Address(_) => "signed-out callers from this address",
    };
    format!("too many {what} by {whose} (at most {rate} per second, bursts of {burst}); retry in {wait_ms} ms")
}

fn error_to(conn: &ConnId, code: ErrorCode, message: String) -> Outgoing {
    Outgoing { to: conn.clone(), message: ServerMessage::Error { code, message, retry_after_ms: None } }
}

impl HttpReply {
    /// `{"code", "message"}` with the code's HTTP status.
    pub fn error(code: ErrorCode, message: String) -> Self {
        Self { status: code.http_status(), body: serde_json::json!({"code": code.as_str(), "message": message}) }
    }
}

mod auth;
mod limits;
mod rows;
mod stats;

pub use limits::{RoomLimits, Spender};

pub use stats::RoomStats;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod auth_tests;

#[cfg(test)]
mod limits_tests;
// The model and lossy-network property tests drive this engine over both apps of the
// repository from `tests/tests/{model,network}.rs` (they need only the public API).
