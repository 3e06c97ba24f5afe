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
//!
//! This file holds the room's state and the dispatch of inputs; each concern has a module:
//! [`connections`] (open, close, `connect`, versions), [`subscriptions`] (runs, caps,
//! subscribe), [`mutations`] (exactly-once commits), [`fanout`] (re-runs and transitions),
//! [`results`] (shared runs, the diff cache), [`http`] (one-shot calls), [`auth`] (who is
//! calling), [`limits`] (allowances per spender), [`rows`] (memory copies of the room
//! tables) and [`stats`].
//!
//! A `&mut self` state machine (as str0m's `Rtc`): every input takes the room mutably and
//! runs to its end, so its memory state (the subscription index, the result cache, the
//! allowances, the row copies, the activity counters) needs no `RefCell`. A host whose
//! events arrive through `&self` (the Durable Object) holds the one `RefCell` at its edge.

use crate::auth::{Identity, TokenVerifier};
use crate::engine::environment::Environment;
use crate::engine::registry::FunctionDef;
use crate::engine::tx::Caller;
use crate::engine::{store, App, FnError, FunctionKind, ReadSet, SubscriptionIndex, Tx};
use crate::model::ids::ConnId;
use crate::model::schema::Schema;
use crate::model::text::hash_text;
use crate::protocol::diff::ValueDiff;
use crate::protocol::{
    ClientMessage, ErrorCode, MutationOutcome, QueryId, QueryModification, QuerySubscription, RequestId, ServerMessage,
    StateVersion, Ts,
};
use crate::storage::{Sql, SqlValue, StorageError};
use serde_json::Value as Json;
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
const ROOM_TABLES_VERSION: i64 = 5;

/// The room's own tables, beside the document store's.
const ROOM_MIGRATIONS: &[&str] = &[
    // Text facts about the room (its name); `_meta` holds numbers.
    "CREATE TABLE IF NOT EXISTS _room_text (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _conns (
        conn_id TEXT PRIMARY KEY, query_set INTEGER NOT NULL, ts INTEGER NOT NULL, session_id TEXT,
        identity INTEGER NOT NULL DEFAULT 0, caller TEXT, address TEXT)",
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
    /// A socket was accepted (from no client address the host knows).
    Open { conn: &'a ConnId },
    /// A socket was accepted from a client `address` the host vouches for (the edge's
    /// `CF-Connecting-IP`, an IPv6 address cut to its /64): its signed-out frames spend that
    /// address's allowances, shared by all its signed-out sockets.
    OpenFrom { conn: &'a ConnId, address: &'a str },
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

/// One room's engine over its storage.
pub struct Room<S: Sql> {
    sql: S,
    /// The app this room serves (shared by every room of the host).
    app: Arc<App>,
    /// `schema.hash()`, computed once: every `connect` compares it, and computing it
    /// renders the whole schema as JSON.
    schema_hash: String,
    subscriptions: SubscriptionIndex<SubKey>,
    /// The last result sent per subscription (hash, value, size), to send diffs against.
    results: ResultCache,
    limits: RoomLimits,
    /// What each spender has left of the room's allowances (memory only).
    allowances: limits::Allowances,
    auth: AuthPolicy,
    activity: stats::Activity,
    /// Memory copies of `_conns` / `_subs` rows (write-through, filled lazily).
    rows: rows::Rows,
    /// What each connection was sent and has not acknowledged (slow consumers).
    unread: unread::Unread,
    /// Query runs left for later ([`Room::continue_work`]), oldest first: re-runs after an
    /// identity change, and subscriptions' first runs.
    pending: std::collections::VecDeque<(ConnId, Vec<PendingRun>)>,
    /// What a connection's burst of control frames changed in memory only, written by
    /// [`Room::save_connection_state`] before anything else reads it (`write_behind`).
    unsaved: BTreeMap<ConnId, write_behind::Unsaved>,
}

impl<S: Sql> Room<S> {
    /// Opens the room of an app — its roles, schema and functions — over `sql`, creating or
    /// migrating its tables on first use.
    pub fn open(sql: S, app: Arc<App>) -> Result<Self, StorageError> {
        let schema = app.schema();
        crate::storage::sql_docs::create_document_tables(&sql)?;
        let version = sql.exec("SELECT value FROM _meta WHERE key = 'room_tables'", &[])?;
        if version.first().map(|r| int_at(r, 0)) != Some(ROOM_TABLES_VERSION) {
            sql.exec("DROP TABLE IF EXISTS _conns", &[])?;
            sql.exec("DROP TABLE IF EXISTS _subs", &[])?;
            sql.exec(
                "INSERT INTO _meta (key, value) VALUES ('room_tables', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[ROOM_TABLES_VERSION.into()],
            )?;
        }
        for statement in crate::engine::migrate::MIGRATIONS.iter().chain(ROOM_MIGRATIONS) {
            sql.exec(statement, &[])?;
        }
        sql.atomically(|| crate::engine::migrate::migrate(&sql, schema))?;
        let mut index = SubscriptionIndex::default();
        let mut pending: std::collections::VecDeque<(ConnId, Vec<PendingRun>)> = Default::default();
        for row in
            sql.exec("SELECT conn_id, query_id, read_set, result_hash FROM _subs ORDER BY conn_id, query_id", &[])?
        {
            let conn = ConnId::from_stored(text_at(&row, 0)?);
            let query_id = int_at(&row, 1) as QueryId;
            // An unreadable read set must not hide updates: fall back to "everything".
            let read_set = ReadSet::from_text(&text_at(&row, 2)?).unwrap_or_else(|| everything(schema));
            // A subscription stored but never run (its first run was waiting when the
            // process went): run it first thing.
            if text_at(&row, 3)?.is_empty() {
                match pending.back_mut() {
                    Some((last, runs)) if *last == conn => runs.push(PendingRun { query_id, resumed: None }),
                    _ => pending.push_back((conn.clone(), vec![PendingRun { query_id, resumed: None }])),
                }
            }
            index.insert((conn, query_id), &read_set);
        }
        Ok(Self {
            sql,
            schema_hash: schema.hash(),
            rows: rows::Rows::new(*app.roles()),
            app,
            subscriptions: index,
            results: ResultCache::default(),
            limits: RoomLimits::default(),
            allowances: limits::Allowances::default(),
            auth: AuthPolicy::TrustAll,
            activity: stats::Activity::default(),
            unread: unread::Unread::default(),
            pending,
            unsaved: BTreeMap::new(),
        })
    }

    /// The app this room serves.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Sets how callers are authenticated (the default trusts everyone).
    pub fn with_auth(mut self, auth: AuthPolicy) -> Self {
        self.set_auth(auth);
        self
    }

    /// Replaces how callers are authenticated (a Durable Object learns its room's name from
    /// its first request, after it was constructed).
    pub fn set_auth(&mut self, auth: AuthPolicy) {
        // Tokens name roles of this room's app, whatever the verifier was built with: a
        // role name must never resolve to a rank of another app's list.
        let auth = match auth {
            AuthPolicy::Tokens(verifier) => AuthPolicy::Tokens(verifier.with_roles(*self.app.roles())),
            other => other,
        };
        self.auth = auth;
    }

    /// The room's name, as remembered by [`Room::remember_name`].
    pub fn name(&self) -> Result<Option<String>, StorageError> {
        let rows = self.sql.exec("SELECT value FROM _room_text WHERE key = 'name'", &[])?;
        Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::as_text).map(str::to_string))
    }

    /// Stores the room's name, so that a room woken from hibernation by a socket message
    /// (which carries no URL) still knows which room its tokens must name.
    pub fn remember_name(&mut self, name: &str) -> Result<(), StorageError> {
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
    fn take_mutation(&mut self, who: Spender, now_ms: f64) -> Result<(), (String, u64)> {
        let taken = self.allowances.mutation(&self.limits, who.clone(), now_ms);
        let (rate, burst) = (self.limits.mutations_per_second, self.limits.mutation_burst);
        taken.map_err(|wait_ms| (refusal_text("mutations", &who, rate, burst, wait_ms), wait_ms))
    }

    /// Takes one HTTP query from the spender's allowance, like [`Room::take_mutation`].
    fn take_http_query(&mut self, who: Spender, now_ms: f64) -> Result<(), (String, u64)> {
        let taken = self.allowances.http_query(&self.limits, who.clone(), now_ms);
        let (rate, burst) = (self.limits.http_queries_per_second, self.limits.http_query_burst);
        taken.map_err(|wait_ms| (refusal_text("HTTP queries", &who, rate, burst, wait_ms), wait_ms))
    }

    /// Whether every caller is the host's trusted identity (native hosts, tests): then there
    /// are no users to tell apart, and allowances are per socket.
    fn trusts_all(&self) -> bool {
        matches!(self.auth, AuthPolicy::TrustAll)
    }

    /// Whose allowances a socket's frames spend: its user when signed in (all their sockets
    /// together), else its client address (all its signed-out sockets together), else the
    /// socket alone.
    fn spender_of(&mut self, conn: &ConnId, now_ms: f64) -> Result<Spender, StorageError> {
        if let Some(identity) = self.caller_of(conn, now_ms)?.filter(|_| !self.trusts_all()) {
            return Ok(Spender::User(identity.subject));
        }
        Ok(match self.rows.conn(&self.sql, conn)?.and_then(|row| row.address) {
            Some(address) => Spender::Address(address),
            None => Spender::Socket(conn.clone()),
        })
    }

    /// Takes one control frame from the socket's allowance.
    fn take_control(&mut self, conn: &ConnId, now_ms: f64) -> Result<(), u64> {
        self.allowances.control(&self.limits, conn, now_ms)
    }

    pub fn storage(&self) -> &S {
        &self.sql
    }

    /// Live subscriptions in this room.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// Handles one input and returns the frames to deliver, in order.
    pub fn handle(&mut self, input: RoomInput<'_>, env: &mut dyn Environment) -> Vec<Outgoing> {
        self.activity.woke_at_ms.get_or_insert(env.now_ms());
        let result = match input {
            RoomInput::Open { conn } => {
                self.save_connection_state().and_then(|()| self.open_connection(conn)).map(|()| Vec::new())
            }
            RoomInput::OpenFrom { conn, address } => self
                .save_connection_state()
                .and_then(|()| self.open_connection(conn))
                .and_then(|()| self.set_address(conn, address))
                .map(|()| Vec::new()),
            RoomInput::Close { conn } => {
                self.save_connection_state().and_then(|()| self.close_connection(conn)).map(|()| Vec::new())
            }
            RoomInput::Frame { conn, text } if text.len() > MAX_FRAME_BYTES => Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!("frame of {} bytes is over the {MAX_FRAME_BYTES}-byte limit", text.len()),
            )]),
            RoomInput::Frame { conn, text } => match ClientMessage::parse(text) {
                Ok(message) => self.handle_message(conn, message, env),
                Err(malformed) => Ok(vec![error_to(conn, ErrorCode::BadFrame, malformed.0)]),
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
            (
                Err(e),
                RoomInput::Frame { conn, .. }
                | RoomInput::Binary { conn, .. }
                | RoomInput::Open { conn }
                | RoomInput::OpenFrom { conn, .. },
            ) => {
                vec![error_to(conn, ErrorCode::Internal, e.to_string())]
            }
            (Err(_), RoomInput::Close { .. }) => Vec::new(),
        }
    }

    /// One more of the socket's frames refused: past its allowance, the room forgets the
    /// connection and tells the host to close the socket (an `OVERLOADED` frame with a
    /// hint). Answering refused frames is cheap, but not free: a socket that keeps sending
    /// them would delay every other socket's frames behind its own.
    fn count_refusal(&mut self, conn: &ConnId, now_ms: f64) -> Option<Outgoing> {
        let who = self.spender_of(conn, now_ms).unwrap_or_else(|_| Spender::Socket(conn.clone()));
        let wait_ms = self.allowances.refusal(&self.limits, who, now_ms).err()?;
        self.activity.sockets_closed_for_refusals += 1;
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

    fn handle_message(
        &mut self,
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
                ClientMessage::SubscribeMany { .. } => "subscribeMany",
                ClientMessage::Unsubscribe { .. } => "unsubscribe",
                ClientMessage::Ack { .. } => "ack",
                _ => "mutation",
            };
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!("send connect first: this socket sent {kind} before its connect frame"),
            )]);
        }
        // An acknowledgement is always applied (refusing it would leave frames counted that
        // the client already read) and spends a unit of room time like any frame: past the
        // client's allowance it counts as a refused frame, unanswered, so a flood of them
        // closes the socket like any other. A client that reads acknowledges every 32 frames.
        if let ClientMessage::Ack { frames } = message {
            self.unread.acknowledged(conn, frames);
            let who = self.spender_of(conn, env.now_ms())?;
            if self.allowances.work(&self.limits, who, 1.0, env.now_ms()).is_err() {
                return Ok(self.count_refusal(conn, env.now_ms()).into_iter().collect());
            }
            return Ok(Vec::new());
        }
        // Room time first: it bounds what one client's frames, of any kind and on any number
        // of sockets, make everyone else wait behind.
        let who = self.spender_of(conn, env.now_ms())?;
        if let Err(wait_ms) = self.allowances.work(&self.limits, who.clone(), limits::work_of(&message), env.now_ms()) {
            if matches!(message, ClientMessage::Mutation { .. } | ClientMessage::Authenticate { .. }) {
                // The client holds these and sends them again after the hint.
                let (rate, burst) = (self.limits.work_per_second, self.limits.work_burst);
                let text = refusal_text("frames (a mutation counts as ten)", &who, rate, burst, wait_ms);
                return Ok(self.frame_refused(conn, &message, text, wait_ms));
            }
            // A query set change is served (a query failed for room time would stay failed
            // until a reload), but counts as a refused frame: a flood of them closes its socket
            // once the client's refusal allowance is spent.
            if let Some(close) = self.count_refusal(conn, env.now_ms()) {
                return Ok(vec![close]);
            }
        }
        if !matches!(message, ClientMessage::Mutation { .. }) {
            if let Err(wait_ms) = self.take_control(conn, env.now_ms()) {
                let text = format!(
                    "too many subscribe, unsubscribe and authenticate frames on this connection (at most {} per second, bursts of {}); retry in {wait_ms} ms",
                    self.limits.control_per_second, self.limits.control_burst
                );
                return Ok(self.frame_refused(conn, &message, text, wait_ms));
            }
        }
        // Control frames write behind (`write_behind`); an identity change writes first.
        if !matches!(
            message,
            ClientMessage::Subscribe { .. }
                | ClientMessage::SubscribeMany { .. }
                | ClientMessage::Unsubscribe { .. }
                | ClientMessage::Authenticate { .. }
        ) {
            self.save_connection_state()?;
        }
        match message {
            ClientMessage::Connect { .. } => unreachable!("handled above"),
            ClientMessage::Authenticate { token } => self.authenticate(conn, token.as_deref(), env.now_ms()),
            ClientMessage::Subscribe { query_id, udf_path, args, result_hash } => {
                self.subscribe(conn, QuerySubscription { query_id, udf_path, args, result_hash }, env.now_ms())
            }
            ClientMessage::SubscribeMany { queries } => self.subscribe_many(conn, queries, env.now_ms()),
            ClientMessage::Unsubscribe { query_id } => self.unsubscribe(conn, query_id),
            ClientMessage::Ack { .. } => unreachable!("handled above"),
            ClientMessage::Mutation { request_id, udf_path, args } => {
                self.mutate(conn, request_id, &udf_path, &args, env)
            }
        }
    }

    /// The room's storage (tests read it directly).
    #[cfg(test)]
    pub(crate) fn sql(&self) -> &S {
        &self.sql
    }
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
        .ok_or_else(|| StorageError::Corrupt(format!("expected text in column {column}, found {:?}", row.get(column))))
}

/// Whether the answer to a socket's frame refuses it without doing its work: a malformed
/// frame, a frame out of order, or one over an allowance (the caller should have waited).
/// An application's errors (validation, unknown function, forbidden) are answers, not
/// refusals.
fn refused(conn: &ConnId, out: &[Outgoing]) -> bool {
    let refusal = |code: &ErrorCode| matches!(code, ErrorCode::BadFrame | ErrorCode::LimitExceeded);
    // A refused subscribe is one transition that moves nothing; a transition split in frames
    // (its later frames move nothing either) is an answer, not a refusal.
    let transitions =
        out.iter().filter(|o| o.to == *conn && matches!(o.message, ServerMessage::Transition { .. })).count();
    out.iter().filter(|o| o.to == *conn).any(|o| match &o.message {
        ServerMessage::Error { code, .. } => refusal(code),
        ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, .. }, .. } => refusal(code),
        ServerMessage::Transition { start_version, end_version, modifications } => {
            transitions == 1
                && start_version == end_version
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
mod connections;
mod fanout;
mod http;
mod limits;
mod mutations;
mod results;
mod rows;
mod stats;
mod subscriptions;
mod unread;
mod write_behind;

use fanout::everything;
use results::{QueryRun, ResultCache, SharedRuns, UPDATE_CHUNK};
use subscriptions::PendingRun;
use write_behind::NewSubscription;

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
