//! The browser client's brain, sans-IO: which queries are subscribed, which version of
//! them the client holds, and which mutations await an answer.
//!
//! A [`session::Session`] drives this core: it feeds it the frames the socket delivers
//! (decoded, see [`frame::Incoming`]) and the fact that the socket opened or closed, and has
//! its host send what the core returns ([`frame::Frame`]s, written as text here).
//!
//! The core is generic over the results it holds ([`Payload`]): the browser keeps them as JS
//! values (parsed by the browser's own `JSON.parse`, so the client WASM carries no JSON
//! parser), native hosts as `serde_json::Value`. Arguments are JSON text.
//!
//! Invariants:
//! - A transition is applied only if its `startVersion` equals the version held; otherwise
//!   the core asks for a resync (the driver reconnects and everything is re-subscribed), so
//!   the client never shows a torn state.
//! - All query results in one transition are applied together, then reported.
//! - Exactly-once mutations: every mutation carries this session's id (sent in `connect`)
//!   and a request id that only grows. Every unanswered mutation is re-sent, in order, after
//!   a reconnect; the room answers a request it already committed with the recorded outcome
//!   instead of running it again. Nothing is lost, nothing is applied twice.
//! - Results are kept through reconnects (no flash to empty) and flagged stale until the
//!   room confirms or replaces them; resuming sends each result's hash, so unchanged results
//!   cost no rows.

pub mod backoff;
pub mod frame;
pub mod heartbeat;
mod json;
pub mod lifecycle;
pub mod session;
pub mod vec_map;

pub use frame::{FailedMutation, Frame, Incoming, Modification, Outbox};
pub use json::IntoArgs;
pub use vec_map::VecMap;

use crate::client::backoff::Backoff;
use crate::model::number_text::decimal;
use crate::protocol::{ErrorCode, QueryId, RequestId, StateVersion, MAX_FRAME_BYTES};

/// What the core needs of a query result.
pub trait Payload: Clone {
    /// How the room encodes a change of this result (see [`crate::protocol::diff`]).
    type Diff;
    /// The new result from this one and a diff; `None` when the diff does not fit.
    fn apply_diff(&self, diff: &Self::Diff) -> Option<Self>;
    /// Whether this value is the one the room hashed as `hash` (checked after a diff; a
    /// host that cannot recompute the room's hash trusts the base hash and says `true`).
    fn has_hash(&self, hash: &str) -> bool;
    /// Rows in the result, as devtools count them: its length if a list,
    /// `documents.length` / `page.length` if a page, else 1.
    fn rows(&self) -> usize;
}

/// Why a client-side operation failed. Server codes pass through; some are the client's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientErrorCode {
    Server(ErrorCode),
    /// The client was closed.
    Closed,
    /// The call's frame would be over [`MAX_FRAME_BYTES`]: refused before sending.
    TooLarge,
}

/// The code the browser driver gives arguments it refuses before the core sees them.
pub const INVALID_ARGS: &str = "INVALID_ARGS";

/// Every `code` an error the client throws or rejects with can carry: the endpoint's, the
/// driver's [`INVALID_ARGS`], the room's and the client's own. The TypeScript contract
/// (`client-wasm/src/lib.rs`) lists exactly these; a browser test checks it.
pub fn error_codes() -> Vec<&'static str> {
    let client = [ClientErrorCode::Closed, ClientErrorCode::TooLarge];
    let mut codes: Vec<&'static str> = crate::protocol::endpoint::EndpointError::CODES.to_vec();
    codes.push(INVALID_ARGS);
    codes.extend(ErrorCode::ALL.iter().map(|c| c.as_str()));
    codes.extend(client.iter().map(ClientErrorCode::as_str));
    codes
}

impl ClientErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientErrorCode::Server(code) => code.as_str(),
            ClientErrorCode::Closed => "CLIENT_CLOSED",
            ClientErrorCode::TooLarge => "TOO_LARGE",
        }
    }

    /// The code with this name (what [`ClientErrorCode::as_str`] wrote), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "CLIENT_CLOSED" => Some(ClientErrorCode::Closed),
            "TOO_LARGE" => Some(ClientErrorCode::TooLarge),
            _ => ErrorCode::from_name(name).map(ClientErrorCode::Server),
        }
    }
}

/// Where signing in stands, as far as sending mutations goes. A mutation is only ever sent
/// as the identity the application signs in with: never signed out because the token was
/// late, unavailable or refused (the room would refuse it, or worse, run it signed out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthState {
    /// The application does not sign in: calls run signed out.
    Anonymous,
    /// The application signs in but holds no usable token now (being fetched, the fetch
    /// failed, or the room refused the token): mutations wait in the outbox.
    Waiting,
    /// A token is set; mutations wait until the room accepts it on this socket.
    Unconfirmed,
    /// The room accepted the token on this socket: mutations go out.
    Confirmed,
}

/// Retries of a token fetch that failed (the auth server or the network is down): soon at
/// first, then every half minute at most, forever — the outbox waits meanwhile.
const TOKEN_RETRY: Backoff = Backoff { initial_ms: 1000.0, max_ms: 30_000.0 };

/// How long before a token expires it is refreshed (half its lifetime for short tokens).
pub const TOKEN_REFRESH_AHEAD_MS: f64 = 60_000.0;
/// The earliest a refresh is planned: never a tight loop, even for a token that is about to
/// expire or already has (the room refuses it, and `token_refused` takes over).
pub const TOKEN_REFRESH_MIN_MS: f64 = 5_000.0;
/// How long a throttled client pauses sending (plus up to half again, at random).
pub const THROTTLE_PAUSE_MS: f64 = 1_000.0;
/// The longest timer a browser keeps (`setTimeout` takes a signed 32-bit delay).
const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// ms from `now_ms` until a token that expires at `expires_at_ms` should be refreshed: a
/// minute early, or half its remaining lifetime for short tokens, never sooner than
/// [`TOKEN_REFRESH_MIN_MS`] and never beyond the longest timer.
#[allow(clippy::manual_clamp)] // clamp's panic message costs the client build; NaN must reach the floor
pub fn token_refresh_in(expires_at_ms: f64, now_ms: f64) -> f64 {
    let left = expires_at_ms - now_ms;
    // A NaN (no expiry) ends at the floor: `f64::max` drops NaN operands.
    (left - TOKEN_REFRESH_AHEAD_MS).max(left / 2.0).max(TOKEN_REFRESH_MIN_MS).min(MAX_TIMER_MS)
}

/// ms a throttled client waits before `resume_sending` ([`ClientEvent::MutationsThrottled`]),
/// with jitter from `random` in `[0, 1)` so throttled clients do not return together.
#[allow(clippy::manual_clamp)] // `f64::clamp`'s panic message costs the client build kilobytes
pub fn throttle_pause_ms(random: f64) -> f64 {
    THROTTLE_PAUSE_MS * (1.0 + 0.5 * random.max(0.0).min(1.0))
}

/// `backoff`'s delay for `attempt` with "equal jitter": at least half the ceiling, so a
/// failing fetch is never retried in a tight loop.
fn retry_delay_ms(attempt: u32, random: f64) -> f64 {
    (TOKEN_RETRY.ceiling(attempt) + TOKEN_RETRY.delay(attempt, random)) / 2.0
}

/// `Err(TOO_LARGE)` when `frame` is over the room's frame limit.
fn check_size(frame: &Frame, udf_path: &str) -> Result<(), ClientError> {
    let bytes = frame.to_json().len();
    if bytes <= MAX_FRAME_BYTES {
        return Ok(());
    }
    let mut message = String::from("the call of ");
    message.push_str(udf_path);
    message.push_str(" is ");
    message.push_str(&decimal(bytes as u64));
    message.push_str(" bytes as a frame, over the room's limit of ");
    message.push_str(&decimal(MAX_FRAME_BYTES as u64));
    message.push_str(" bytes (1 MiB); nothing was sent");
    Err(ClientError { code: ClientErrorCode::TooLarge, message })
}

/// What the application signs in with: the token the room checks, and who it belongs to.
///
/// `owner` binds writes to the person who made them. A write made as one user is only ever
/// sent as that user: after a sign-out, a switch of user in the same tab, or a reload where
/// someone else signs in, it is kept (in the outbox, unsent and not shown) until its owner
/// signs in again. The driver reads it from the token without verifying it (a JWT's `iss`
/// and `sub`); a token it cannot read gets one owner for every such token. The room still
/// checks every token: a forged owner can only make a write wait, never run as someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub token: String,
    pub owner: String,
}

/// The owner of a write made while a sign-in was on its way: the next token set owns it (an
/// owner the driver makes always has a space, or is "" or [`UNKNOWN_SUBJECT`]). Writes saved
/// by builds before owners have none, and are treated the same.
const NEXT_SIGN_IN: &str = "(next sign-in)";

/// The owner of tokens whose subject the client cannot read (and of native tests' tokens).
pub const UNKNOWN_SUBJECT: &str = "signed-in";

impl From<String> for Credentials {
    fn from(token: String) -> Self {
        Credentials { token, owner: UNKNOWN_SUBJECT.into() }
    }
}

impl From<&str> for Credentials {
    fn from(token: &str) -> Self {
        token.to_string().into()
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
pub enum ClientEvent<P = serde_json::Value> {
    /// A query has a new result (or failed).
    Query { query_id: QueryId, result: Result<P, ClientError> },
    /// A result held from before the reconnect is current again (the room confirmed it by
    /// hash): no longer stale, value unchanged.
    QueryConfirmed { query_id: QueryId },
    /// A mutation finished.
    Mutation { request_id: RequestId, result: Result<P, ClientError> },
    /// The server refused a frame; nothing to retry, but worth logging.
    ServerError { code: ErrorCode, message: String },
    /// The room refused the token (missing, expired, forged, for another room): fetch a
    /// fresh one and call `set_auth` again. Queries keep their last results meanwhile.
    AuthFailed { message: String },
    /// The room accepted the identity (`authenticate` was answered).
    Authenticated,
    /// The room is shedding load and will close the socket: reconnect no sooner than this.
    Overloaded { retry_after_ms: u64, message: String },
    /// The room's rate limit refused mutations (not applied): wait, then `resume_sending`
    /// and `flush` — they are sent again, nothing is lost.
    MutationsThrottled,
    /// The transition chain broke: reconnect to rebuild state from scratch.
    ResyncRequired { reason: String },
}

struct Query<P> {
    udf_path: String,
    /// JSON text.
    args: String,
    last: Option<Result<P, ClientError>>,
    /// The room's hash of `last` (when it was a value), for resuming.
    hash: Option<String>,
    /// Held from before the current connection and not yet confirmed.
    stale: bool,
    /// How many `subscribe` calls share this server query (identical function and args).
    listeners: usize,
}

/// What devtools show about one live query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryInfo {
    pub query_id: QueryId,
    pub udf_path: String,
    /// JSON text.
    pub args: String,
    pub listeners: usize,
    pub stale: bool,
    /// `None` while loading, else whether the last result was a value (not an error).
    pub ok: Option<bool>,
    /// Rows in the result ([`Payload::rows`]).
    pub rows: usize,
    pub hash: Option<String>,
}

/// Most mutations on the wire without an answer. The rest wait, in order, in the outbox: a
/// client back from a long time offline does not flood the room (whose per-connection
/// burst is 200) and get its own writes refused.
pub const MAX_IN_FLIGHT: usize = 32;

/// Subscriptions one `subscribeMany` frame carries at most (the room's limit).
const SUBSCRIPTIONS_PER_FRAME: usize = 256;

/// About how many bytes of subscriptions a `subscribeMany` frame carries before the next
/// starts: well under the room's 1 MiB frame limit.
const SUBSCRIBE_FRAME_BYTES: usize = 512 * 1024;

/// A version as people read it in a resync reason.
fn describe(v: StateVersion) -> String {
    let mut out = String::from("query set ");
    out.push_str(&decimal(u64::from(v.query_set)));
    out.push_str(", identity ");
    out.push_str(&decimal(u64::from(v.identity)));
    out.push_str(", ts ");
    out.push_str(&decimal(v.ts.0));
    out
}

/// The client's sans-IO core.
pub struct ClientCore<P = serde_json::Value> {
    session_id: String,
    /// The schema hash the application was built against, sent in `connect`.
    schema_hash: Option<String>,
    connected: bool,
    version: StateVersion,
    next_query_id: QueryId,
    next_request_id: RequestId,
    queries: VecMap<QueryId, Query<P>>,
    /// Every mutation without an answer yet, as its frame, in request order.
    pending: VecMap<RequestId, Frame>,
    /// Those sent on the current socket and not answered yet (at most [`MAX_IN_FLIGHT`]).
    in_flight: VecMap<RequestId, ()>,
    /// The room refused a mutation for the rate limit: hold the rest until `resume_sending`.
    throttled: bool,
    /// The token to authenticate with (sent after `connect`, before any query).
    token: Option<String>,
    /// Whose writes go out: the token's owner ([`Credentials::owner`]), "" signed out.
    signed_in_as: String,
    /// The owner of every pending and refused mutation ([`NEXT_SIGN_IN`] for one made while
    /// a sign-in was on its way: it belongs to the next token set).
    owners: VecMap<RequestId, String>,
    /// A sign-in is on its way ([`ClientCore::expect_auth`]), perhaps as someone else: whose
    /// writes are whose is known when its token comes (a token refresh after a refusal is not
    /// one: writes made then stay the signed-in user's).
    switching: bool,
    auth: AuthState,
    /// Token fetches that failed in a row, and tokens the room refused in a row (backoff).
    token_failures: u32,
    refusals: u32,
    /// Mutations refused for good, kept until the application discards or retries them.
    failed: VecMap<RequestId, FailedMutation>,
}

impl<P: Payload> ClientCore<P> {
    /// A core for one session. `session_id` must be unique per client instance (the driver
    /// makes it from 128 random bits).
    pub fn new(session_id: String) -> Self {
        Self {
            session_id,
            schema_hash: None,
            connected: false,
            version: StateVersion::default(),
            next_query_id: 0,
            next_request_id: 0,
            queries: VecMap::new(),
            pending: VecMap::new(),
            in_flight: VecMap::new(),
            throttled: false,
            token: None,
            signed_in_as: String::new(),
            owners: VecMap::new(),
            switching: false,
            auth: AuthState::Anonymous,
            token_failures: 0,
            refusals: 0,
            failed: VecMap::new(),
        }
    }

    /// Declares the schema hash the application was built against (from the generated
    /// types), so a room with another schema refuses the client instead of confusing it.
    pub fn with_schema_hash(mut self, hash: Option<String>) -> Self {
        self.schema_hash = hash;
        self
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The version of the query results held.
    pub fn version(&self) -> StateVersion {
        self.version
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The current user's mutations sent or queued that have no answer yet (those kept for
    /// other owners are [`ClientCore::held_for_others`]).
    pub fn pending_mutations(&self) -> usize {
        self.pending.keys().filter(|id| self.switching || self.is_visible(*id)).count()
    }

    pub fn subscription_count(&self) -> usize {
        self.queries.len()
    }

    /// The last result of a query, kept through reconnects so screens never flash empty.
    pub fn cached(&self, query_id: QueryId) -> Option<&Result<P, ClientError>> {
        self.queries.get(query_id).and_then(|q| q.last.as_ref())
    }

    /// Whether a query's result predates the current connection and is not yet confirmed.
    pub fn is_stale(&self, query_id: QueryId) -> bool {
        self.queries.get(query_id).is_some_and(|q| q.stale)
    }

    /// Sets (or with `None` signs out) the token; returns the frame to send now (if
    /// connected). Subscriptions stay; the room re-runs them under the new identity.
    /// Mutations wait until the room accepts a new token, except for a refresh of an
    /// accepted one by the same owner (the room keeps the accepted identity until it accepts
    /// the next). Writes made while this sign-in was on its way become the owner's; writes
    /// of other owners are held (see [`Credentials`]).
    pub fn set_auth(&mut self, credentials: Option<Credentials>) -> Option<Frame> {
        let (token, owner) = match credentials {
            Some(Credentials { token, owner }) => (Some(token), owner),
            None => (None, String::new()),
        };
        let same_owner = owner == self.signed_in_as;
        self.token = token.clone();
        self.auth = match (&token, self.auth) {
            (None, _) => AuthState::Anonymous,
            (Some(_), AuthState::Confirmed) if same_owner => AuthState::Confirmed,
            (Some(_), _) => AuthState::Unconfirmed,
        };
        if token.is_some() {
            self.token_failures = 0;
        }
        // The sign-in under way is over: writes made meanwhile are this owner's (signed out:
        // the signed-out caller's), never left waiting for a sign-in that will not come.
        self.switching = false;
        for (_, held) in self.owners.iter_mut() {
            if held == NEXT_SIGN_IN {
                held.clone_from(&owner);
            }
        }
        self.signed_in_as = owner;
        self.connected.then_some(Frame::Authenticate { token })
    }

    /// Whether a mutation is the current user's (or the sign-in's under way): the ones shown,
    /// discardable and retried. (While a sign-in is on its way every pending one is counted,
    /// none sent: "all changes saved" is never shown early.)
    fn is_visible(&self, request_id: RequestId) -> bool {
        self.owner_of(request_id).is_none_or(|owner| *owner == self.signed_in_as || owner == NEXT_SIGN_IN)
    }

    /// Whether a mutation may go out as the current identity.
    fn is_own(&self, request_id: RequestId) -> bool {
        self.owner_of(request_id) == Some(&self.signed_in_as)
    }

    /// One lookup for every owner check (kept out of line: the browser build pays for each
    /// inlined copy).
    #[inline(never)]
    fn owner_of(&self, request_id: RequestId) -> Option<&String> {
        self.owners.get(request_id)
    }

    /// Mutations kept for other owners (another user signed in, or signed out): unsent and
    /// not shown until their owner signs in again.
    pub fn held_for_others(&self) -> usize {
        self.pending.keys().chain(self.failed.keys()).filter(|id| !self.is_visible(*id)).count()
    }

    /// The application signs in, perhaps as someone else (its token is on the way):
    /// mutations wait for it — one made now must not run as the identity before. (A refresh
    /// of the same sign-in is [`ClientCore::set_auth`] alone and does not pause writes.)
    pub fn expect_auth(&mut self) {
        self.auth = AuthState::Waiting;
        self.switching = true;
    }

    pub fn auth_state(&self) -> AuthState {
        self.auth
    }

    /// The token fetch failed (auth server or network down): ms until the next attempt.
    /// The current token, if any, stays in use; mutations that need a token wait.
    pub fn token_unavailable(&mut self, random: f64) -> f64 {
        let delay = retry_delay_ms(self.token_failures, random);
        self.token_failures = self.token_failures.saturating_add(1);
        delay
    }

    /// The room refused the token ([`ClientEvent::AuthFailed`]): ms until a fresh one should
    /// be fetched — at once the first time (it was probably just stale), then with backoff.
    pub fn token_refused(&mut self, random: f64) -> f64 {
        let delay = match self.refusals {
            0 => 0.0,
            n => retry_delay_ms(n - 1, random),
        };
        self.refusals = self.refusals.saturating_add(1);
        delay
    }

    /// Whether mutations may go out now, as far as signing in goes.
    fn may_write(&self) -> bool {
        matches!(self.auth, AuthState::Anonymous | AuthState::Confirmed)
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The token the client authenticates with (what the application's `fetchToken` gave).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Adds a subscription (`args`: JSON text, or a value natively); returns its id and the
    /// frame to send now (if connected). An identical subscription (same function, same
    /// argument text) shares the existing server query: no frame, and its cached result (if
    /// any) is current. Arguments too large for one frame are refused (`TOO_LARGE`).
    pub fn subscribe(&mut self, udf_path: &str, args: impl IntoArgs) -> Result<(QueryId, Option<Frame>), ClientError> {
        let args = args.into_args();
        if let Some(query_id) = self.find_query(udf_path, &args) {
            if let Some(query) = self.queries.get_mut(query_id) {
                query.listeners += 1;
            }
            return Ok((query_id, None));
        }
        let query_id = self.next_query_id + 1;
        let frame = Frame::Subscribe { query_id, udf_path: udf_path.to_string(), args, result_hash: None };
        check_size(&frame, udf_path)?;
        self.next_query_id = query_id;
        let Frame::Subscribe { args, .. } = &frame else { unreachable!("built above") };
        self.queries.insert(
            query_id,
            Query {
                udf_path: udf_path.to_string(),
                args: args.clone(),
                last: None,
                hash: None,
                stale: false,
                listeners: 1,
            },
        );
        Ok((query_id, self.connected.then_some(frame)))
    }

    /// Drops one listener of a subscription; the last one removes it and returns the frame
    /// to send now (if connected).
    pub fn unsubscribe(&mut self, query_id: QueryId) -> Option<Frame> {
        let query = self.queries.get_mut(query_id)?;
        query.listeners = query.listeners.saturating_sub(1);
        if query.listeners > 0 {
            return None;
        }
        self.queries.remove(query_id);
        self.connected.then_some(Frame::Unsubscribe { query_id })
    }

    /// What must survive a reload: the session, its unanswered mutations and those the room
    /// refused that the application has not discarded yet.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            session_id: self.session_id.clone(),
            next_request_id: self.next_request_id,
            pending: self.pending.values().cloned().collect(),
            failed: self.failed.values().cloned().collect(),
            owners: self.owners.iter().map(|(id, owner)| (id, owner.clone())).collect(),
        }
    }

    /// Mutations refused for good (the room's answer, or too large to send), oldest first:
    /// their promises rejected; they stay here, and in the saved outbox, until
    /// [`ClientCore::discard`] or [`ClientCore::retry`].
    pub fn failed(&self) -> impl Iterator<Item = &FailedMutation> {
        self.failed.iter().filter(|(id, _)| self.is_visible(*id)).map(|(_, f)| f)
    }

    /// Forgets a refused mutation of the current user; `false` if there is none with this id.
    pub fn discard(&mut self, request_id: RequestId) -> bool {
        if !self.is_visible(request_id) || self.failed.remove(request_id).is_none() {
            return false;
        }
        self.owners.remove(request_id);
        true
    }

    /// Sends a refused mutation again, as a new request (the room never recorded the
    /// refusal, but a new id keeps the request ids growing). `None` if there is no such
    /// refused mutation, or it is still too large (it stays refused).
    pub fn retry(&mut self, request_id: RequestId) -> Option<(RequestId, Option<Frame>)> {
        if !self.is_visible(request_id) {
            return None;
        }
        let failed = self.failed.remove(request_id)?;
        let Frame::Mutation { udf_path, args, .. } = &failed.frame else { return None };
        match self.mutation(udf_path, args.clone()) {
            Ok(sent) => {
                self.owners.remove(request_id);
                Some(sent)
            }
            Err(_) => {
                self.failed.insert(request_id, failed);
                None
            }
        }
    }

    /// Continues a persisted session before the first connection: its unanswered mutations
    /// go first, in their order; mutations requested meanwhile (not sent yet) follow them
    /// with new request ids. Returns `(old id, new id)` for those. Refused once connected
    /// (the session was already announced), and for an outbox that is not well formed.
    pub fn restore(&mut self, outbox: Outbox) -> Result<Vec<(RequestId, RequestId)>, String> {
        if self.connected {
            return Err("the outbox must be restored before connecting".into());
        }
        let mut restored = VecMap::new();
        let mut failed = VecMap::new();
        for frame in outbox.pending {
            match &frame {
                Frame::Mutation { request_id, udf_path, .. } if *request_id <= outbox.next_request_id => {
                    // Saved by a build without the size check: it could never be sent.
                    let request_id = *request_id;
                    match check_size(&frame, udf_path) {
                        Ok(()) => {
                            restored.insert(request_id, frame);
                        }
                        Err(error) => {
                            failed.insert(request_id, FailedMutation { frame, error });
                        }
                    }
                }
                _ => return Err("an outbox entry is not an unanswered mutation of that session".into()),
            }
        }
        for entry in outbox.failed {
            match entry.frame {
                Frame::Mutation { request_id, .. } if request_id <= outbox.next_request_id => {
                    failed.insert(request_id, entry);
                }
                _ => return Err("an outbox entry is not a refused mutation of that session".into()),
            }
        }
        // Owners of ids no longer kept are never asked for: no need to filter them. A write
        // saved without an owner (by an older build) or for the next sign-in belongs to the
        // sign-in under way, or to the identity already set.
        let mut owners = VecMap::new();
        for (request_id, owner) in outbox.owners {
            owners.insert(request_id, owner);
        }
        let next = if self.switching { NEXT_SIGN_IN } else { &self.signed_in_as };
        for id in restored.keys().chain(failed.keys()) {
            if owners.get(id).is_none_or(|owner| owner == NEXT_SIGN_IN) {
                owners.insert(id, next.to_string());
            }
        }
        self.failed = failed;
        let queued = std::mem::replace(&mut self.pending, restored);
        let queued_owners = std::mem::replace(&mut self.owners, owners);
        self.session_id = outbox.session_id;
        self.next_request_id = outbox.next_request_id;
        let mut renumbered = Vec::with_capacity(queued.len());
        for (old, frame) in queued.into_entries() {
            self.next_request_id += 1;
            let new = self.next_request_id;
            if let Frame::Mutation { udf_path, args, .. } = frame {
                self.pending.insert(new, Frame::Mutation { request_id: new, udf_path, args });
            }
            if let Some(owner) = queued_owners.get(old) {
                self.owners.insert(new, owner.clone());
            }
            renumbered.push((old, new));
        }
        Ok(renumbered)
    }

    /// The live query for this function and these arguments (JSON text), if any.
    pub fn find_query(&self, udf_path: &str, args: &str) -> Option<QueryId> {
        self.queries.iter().find(|(_, q)| q.udf_path == udf_path && q.args == args).map(|(id, _)| id)
    }

    /// Every live query, for devtools.
    pub fn query_infos(&self) -> Vec<QueryInfo> {
        self.queries
            .iter()
            .map(|(query_id, q)| QueryInfo {
                query_id,
                udf_path: q.udf_path.clone(),
                args: q.args.clone(),
                listeners: q.listeners,
                stale: q.stale,
                ok: q.last.as_ref().map(Result::is_ok),
                rows: match &q.last {
                    Some(Ok(value)) => value.rows(),
                    _ => 0,
                },
                hash: q.hash.clone(),
            })
            .collect()
    }

    /// The current user's unanswered mutations, oldest first, for devtools.
    pub fn pending(&self) -> impl Iterator<Item = &Frame> {
        self.pending.iter().filter(|(id, _)| self.is_visible(*id)).map(|(_, f)| f)
    }

    /// Requests a mutation (`args`: JSON text, or a value natively); returns its id and the
    /// frame to send now (if connected, signed in as required and the in-flight window has
    /// room; otherwise it is sent by a later [`ClientCore::flush`]). A call too large for
    /// one frame is refused here (`TOO_LARGE`): it is never queued, so never re-sent.
    pub fn mutation(&mut self, udf_path: &str, args: impl IntoArgs) -> Result<(RequestId, Option<Frame>), ClientError> {
        let request_id = self.next_request_id + 1;
        let frame = Frame::Mutation { request_id, udf_path: udf_path.to_string(), args: args.into_args() };
        check_size(&frame, udf_path)?;
        self.next_request_id = request_id;
        self.pending.insert(request_id, frame);
        // Made while a sign-in is on its way: it belongs to whoever that is (set_auth).
        let owner = if self.switching { NEXT_SIGN_IN } else { &self.signed_in_as };
        self.owners.insert(request_id, owner.to_string());
        let mut frames = self.flush();
        debug_assert!(frames.len() <= 1, "only the new mutation can become sendable here");
        Ok((request_id, frames.pop()))
    }

    /// Queued mutations that may go out now, in request order (call after every `receive`
    /// and after `resume_sending`, and send what it returns).
    pub fn flush(&mut self) -> Vec<Frame> {
        if !self.connected || self.throttled || !self.may_write() {
            return Vec::new();
        }
        let room = MAX_IN_FLIGHT.saturating_sub(self.in_flight.len());
        let next: Vec<RequestId> =
            self.pending.keys().filter(|id| !self.in_flight.contains_key(*id) && self.is_own(*id)).take(room).collect();
        next.into_iter()
            .filter_map(|id| {
                self.in_flight.insert(id, ());
                self.pending.get(id).cloned()
            })
            .collect()
    }

    /// The rate-limit pause is over: `flush` sends again.
    pub fn resume_sending(&mut self) {
        self.throttled = false;
    }

    /// The socket opened: a fresh server connection starts at version zero. Sends the
    /// session, every subscription (with the hash of the result held), then every
    /// unanswered mutation in order — the room skips those it already committed.
    pub fn on_open(&mut self) -> Vec<Frame> {
        self.connected = true;
        self.version = StateVersion::default();
        let mut frames =
            vec![Frame::Connect { session_id: self.session_id.clone(), schema_hash: self.schema_hash.clone() }];
        // A new socket starts signed out: the token must be accepted again before writes.
        if self.auth == AuthState::Confirmed {
            self.auth = AuthState::Unconfirmed;
        }
        if let Some(token) = self.token.as_ref().filter(|_| self.auth != AuthState::Waiting) {
            frames.push(Frame::Authenticate { token: Some(token.clone()) });
        }
        // Every subscription in as few frames as the room allows (each frame costs the room
        // a share of its time that other clients wait behind).
        let mut batch: Vec<(QueryId, String, String, Option<String>)> = Vec::new();
        let mut bytes = 0;
        for (query_id, q) in self.queries.iter_mut() {
            q.stale = q.last.is_some();
            let size = q.udf_path.len() + q.args.len() + 64;
            if !batch.is_empty() && (batch.len() == SUBSCRIPTIONS_PER_FRAME || bytes + size > SUBSCRIBE_FRAME_BYTES) {
                frames.push(Frame::SubscribeMany { queries: std::mem::take(&mut batch) });
                bytes = 0;
            }
            bytes += size;
            batch.push((query_id, q.udf_path.clone(), q.args.clone(), q.hash.clone()));
        }
        if !batch.is_empty() {
            frames.push(Frame::SubscribeMany { queries: batch });
        }
        self.in_flight.clear();
        self.throttled = false;
        frames.extend(self.flush());
        frames
    }

    /// The socket closed. Queries keep their last results (marked stale on reopen);
    /// unanswered mutations wait to be re-sent.
    pub fn on_close(&mut self) -> Vec<ClientEvent<P>> {
        self.connected = false;
        Vec::new()
    }

    /// The client is shutting down: every pending mutation's promise fails with `Closed`,
    /// but the mutations stay in [`ClientCore::outbox`] — a saved outbox is not emptied by
    /// closing, so the next client for the room (a remount, a reload) sends them.
    pub fn close(&mut self) -> Vec<ClientEvent<P>> {
        self.connected = false;
        self.in_flight.clear();
        self.queries.clear();
        self.pending
            .keys()
            .map(|request_id| ClientEvent::Mutation {
                request_id,
                result: Err(ClientError {
                    code: ClientErrorCode::Closed,
                    message: "the client was closed before the room answered: the write may not have been \
                              applied; it is kept in the outbox and sent by the next client for this room"
                        .into(),
                }),
            })
            .collect()
    }

    /// Handles one decoded frame from the server.
    pub fn receive_frame(&mut self, message: Incoming<P>) -> Vec<ClientEvent<P>> {
        match message {
            Incoming::Transition { start_version, end_version, modifications } => {
                if start_version != self.version {
                    let mut reason = String::from("a transition starts at ");
                    reason.push_str(&describe(start_version));
                    reason.push_str(" but the client holds ");
                    reason.push_str(&describe(self.version));
                    return vec![ClientEvent::ResyncRequired { reason }];
                }
                let authenticated = end_version.identity != start_version.identity;
                self.version = end_version;
                let mut events = Vec::with_capacity(modifications.len() + 1);
                if authenticated {
                    if self.auth == AuthState::Unconfirmed {
                        self.auth = AuthState::Confirmed;
                        self.refusals = 0;
                    }
                    events.push(ClientEvent::Authenticated);
                }
                for modification in modifications {
                    let (query_id, result, hash) = match modification {
                        Modification::Updated { query_id, value, hash } => (query_id, Ok(value), Some(hash)),
                        Modification::Failed { query_id, code, message } => {
                            (query_id, Err(ClientError { code: ClientErrorCode::Server(code), message }), None)
                        }
                        Modification::Unchanged { query_id } => {
                            if let Some(query) = self.queries.get_mut(query_id) {
                                if std::mem::replace(&mut query.stale, false) {
                                    events.push(ClientEvent::QueryConfirmed { query_id });
                                }
                            }
                            continue;
                        }
                        Modification::Diff { query_id, base_hash, hash, diff } => {
                            let Some(query) = self.queries.get(query_id) else { continue };
                            let applied = match (&query.last, &query.hash) {
                                (Some(Ok(old)), Some(held)) if *held == base_hash => {
                                    old.apply_diff(&diff).filter(|v| v.has_hash(&hash))
                                }
                                _ => None,
                            };
                            match applied {
                                Some(value) => (query_id, Ok(value), Some(hash)),
                                None => {
                                    let mut reason = String::from("the diff for query ");
                                    reason.push_str(&decimal(u64::from(query_id)));
                                    reason.push_str(" does not apply to the result held");
                                    return vec![ClientEvent::ResyncRequired { reason }];
                                }
                            }
                        }
                        Modification::Removed { .. } => continue,
                    };
                    // A result for a query unsubscribed meanwhile is dropped.
                    if let Some(query) = self.queries.get_mut(query_id) {
                        query.last = Some(result.clone());
                        query.hash = hash;
                        query.stale = false;
                        events.push(ClientEvent::Query { query_id, result });
                    }
                }
                events
            }
            Incoming::MutationResponse { request_id, outcome } => {
                self.in_flight.remove(request_id);
                // Refused by the rate limit: not applied, so sending it again is safe.
                if let Err((ErrorCode::LimitExceeded, _)) = &outcome {
                    if self.pending.contains_key(request_id) {
                        let first = !self.throttled;
                        self.throttled = true;
                        return if first { vec![ClientEvent::MutationsThrottled] } else { Vec::new() };
                    }
                }
                // Refused for want of a valid token while the application signs in (expired,
                // refused, late): held until a token is accepted, then sent again.
                if let Err((ErrorCode::Unauthenticated, message)) = &outcome {
                    if self.auth != AuthState::Anonymous && self.pending.contains_key(request_id) {
                        let first = self.auth != AuthState::Waiting;
                        self.auth = AuthState::Waiting;
                        return if first {
                            vec![ClientEvent::AuthFailed { message: message.clone() }]
                        } else {
                            Vec::new()
                        };
                    }
                }
                let Some(frame) = self.pending.remove(request_id) else { return Vec::new() };
                if outcome.is_ok() {
                    self.owners.remove(request_id);
                }
                let result = outcome.map_err(|(code, message)| {
                    let error = ClientError { code: ClientErrorCode::Server(code), message };
                    self.failed.insert(request_id, FailedMutation { frame, error: error.clone() });
                    error
                });
                vec![ClientEvent::Mutation { request_id, result }]
            }
            Incoming::Error { code: ErrorCode::Unauthenticated, message, .. } => {
                if self.auth == AuthState::Unconfirmed {
                    self.auth = AuthState::Waiting;
                }
                vec![ClientEvent::AuthFailed { message }]
            }
            // The room limits sign-ins with a changed identity: a refused one is retried like a
            // refused token (a fresh fetch, with backoff), writes waiting meanwhile.
            Incoming::Error { code: ErrorCode::LimitExceeded, message, .. } if self.auth == AuthState::Unconfirmed => {
                self.auth = AuthState::Waiting;
                vec![ClientEvent::AuthFailed { message }]
            }
            Incoming::Error { code: ErrorCode::Overloaded, message, retry_after_ms } => {
                vec![ClientEvent::Overloaded { retry_after_ms: retry_after_ms.unwrap_or(1000), message }]
            }
            Incoming::Error { code, message, .. } => vec![ClientEvent::ServerError { code, message }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientMessage, MutationOutcome, QueryModification, ServerMessage, Ts};
    use serde_json::json;

    /// The frames as the room reads them.
    fn read(frames: &[Frame]) -> Vec<ClientMessage> {
        frames.iter().map(Frame::to_message).collect()
    }

    fn core(session: &str) -> ClientCore {
        ClientCore::new(session.into())
    }

    fn transition(start: (u32, u64), end: (u32, u64), modifications: Vec<QueryModification>) -> String {
        ServerMessage::Transition {
            start_version: StateVersion { query_set: start.0, identity: 0, ts: Ts(start.1) },
            end_version: StateVersion { query_set: end.0, identity: 0, ts: Ts(end.1) },
            modifications,
        }
        .to_json()
    }

    #[test]
    fn tokens_are_refreshed_a_minute_early_and_never_in_a_tight_loop() {
        let now = 1_800_000_000_000.0;
        assert_eq!(token_refresh_in(now + 3_600_000.0, now), 3_540_000.0, "an hour: a minute early");
        assert_eq!(token_refresh_in(now + 90_000.0, now), 45_000.0, "short: half the lifetime");
        assert_eq!(token_refresh_in(now + 1_000.0, now), TOKEN_REFRESH_MIN_MS, "about to expire");
        assert_eq!(token_refresh_in(now - 10_000.0, now), TOKEN_REFRESH_MIN_MS, "already expired");
        assert_eq!(token_refresh_in(f64::NAN, now), TOKEN_REFRESH_MIN_MS);
        assert_eq!(token_refresh_in(now + 1e12, now), 2_147_483_647.0, "beyond the longest timer");
        assert_eq!((throttle_pause_ms(0.0), throttle_pause_ms(0.999_9)), (1_000.0, 1_499.95));
        assert_eq!(throttle_pause_ms(7.0), 1_500.0);
    }

    #[test]
    fn the_token_is_sent_after_connect_and_before_queries_and_refreshed_in_place() {
        let mut core = core("s1");
        assert_eq!(core.set_auth(Some("t1".into())), None);
        core.subscribe("tasks:list", json!({})).unwrap();
        let frames = read(&core.on_open());
        assert!(matches!(frames[0], ClientMessage::Connect { .. }));
        assert_eq!(frames[1], ClientMessage::Authenticate { token: Some("t1".into()) });
        assert!(matches!(frames[2], ClientMessage::SubscribeMany { .. }));
        assert_eq!(core.set_auth(Some("t2".into())), Some(Frame::Authenticate { token: Some("t2".into()) }));
        let answer = ServerMessage::Transition {
            start_version: StateVersion::default(),
            end_version: StateVersion { identity: 1, ..StateVersion::default() },
            modifications: vec![],
        };
        assert_eq!(core.receive(&answer.to_json()), vec![ClientEvent::Authenticated]);
        let refused =
            ServerMessage::Error { code: ErrorCode::Unauthenticated, message: "expired".into(), retry_after_ms: None };
        assert_eq!(core.receive(&refused.to_json()), vec![ClientEvent::AuthFailed { message: "expired".into() }]);
        let shed =
            ServerMessage::Error { code: ErrorCode::Overloaded, message: "m".into(), retry_after_ms: Some(1500) };
        assert_eq!(
            core.receive(&shed.to_json()),
            vec![ClientEvent::Overloaded { retry_after_ms: 1500, message: "m".into() }]
        );
    }

    #[test]
    fn identical_subscriptions_share_one_server_query() {
        let mut core = core("s1");
        core.on_open();
        let (a, frame) = core.subscribe("tasks:list", json!({"status": "pending", "x": 1})).unwrap();
        assert!(frame.is_some());
        let (b, frame) = core.subscribe("tasks:list", json!({"x": 1, "status": "pending"})).unwrap();
        assert_eq!((b, frame), (a, None), "same function and equal args: one server query");
        let (c, frame) = core.subscribe("tasks:list", json!({"status": "completed"})).unwrap();
        assert_ne!(c, a);
        assert!(frame.is_some());
        assert_eq!(core.query_infos().iter().map(|q| q.listeners).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(core.unsubscribe(a), None, "one listener left");
        assert_eq!(core.unsubscribe(a), Some(Frame::Unsubscribe { query_id: a }));
        assert_eq!(core.unsubscribe(a), None, "already gone");
    }

    #[test]
    fn a_restored_outbox_goes_first_and_later_mutations_are_renumbered() {
        let mut before_reload = core("old-session");
        before_reload.mutation("tasks:create", json!({"title": "a"})).unwrap();
        before_reload.mutation("tasks:create", json!({"title": "b"})).unwrap();
        let saved = before_reload.outbox().to_json();

        let mut after_reload = core("new-session");
        let (early, _) = after_reload.mutation("tasks:create", json!({"title": "c"})).unwrap();
        let outbox = Outbox::parse(&saved).unwrap();
        assert_eq!(after_reload.restore(outbox).unwrap(), vec![(early, 3)]);
        let frames = read(&after_reload.on_open());
        assert_eq!(
            frames[0],
            ClientMessage::Connect {
                session_id: "old-session".into(),
                protocol_version: Some(crate::PROTOCOL_VERSION),
                schema_hash: None
            }
        );
        let titles: Vec<(u32, String)> = frames[1..]
            .iter()
            .map(|f| match f {
                ClientMessage::Mutation { request_id, args, .. } => {
                    (*request_id, args["title"].as_str().unwrap().to_string())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(titles, [(1, "a".to_string()), (2, "b".to_string()), (3, "c".to_string())]);
        assert!(after_reload
            .restore(Outbox {
                session_id: "x".into(),
                next_request_id: 0,
                pending: vec![],
                failed: vec![],
                owners: vec![]
            })
            .is_err());
    }

    #[test]
    fn at_most_a_window_of_mutations_is_in_flight_and_rate_limited_ones_are_resent() {
        let mut core = core("s1");
        for i in 0..40 {
            core.mutation("tasks:create", json!({"title": i})).unwrap();
        }
        let frames = core.on_open();
        let sent = |frames: &[Frame]| frames.iter().filter(|f| matches!(f, Frame::Mutation { .. })).count();
        assert_eq!(sent(&frames), MAX_IN_FLIGHT, "the rest wait in the outbox");
        assert!(core.flush().is_empty(), "the window is full");
        let answer = |request_id: u32, outcome: MutationOutcome| {
            ServerMessage::MutationResponse { request_id, outcome }.to_json()
        };
        core.receive(&answer(1, MutationOutcome::Success { result: json!(null), ts: Ts(1) }));
        assert_eq!(
            core.flush(),
            vec![core.pending().find(|m| matches!(m, Frame::Mutation { request_id: 33, .. })).cloned().unwrap()]
        );
        // The room's rate limit refused request 2: not lost, held, then sent again.
        let limited = MutationOutcome::Failure { code: ErrorCode::LimitExceeded, message: "retry in 20 ms".into() };
        assert_eq!(core.receive(&answer(2, limited.clone())), vec![ClientEvent::MutationsThrottled]);
        assert_eq!(core.receive(&answer(3, limited)), vec![], "one notice per pause");
        assert!(core.flush().is_empty(), "paused");
        assert_eq!(core.pending_mutations(), 39);
        core.resume_sending();
        let resent: Vec<u32> = core
            .flush()
            .iter()
            .map(|f| match f {
                Frame::Mutation { request_id, .. } => *request_id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(resent, [2, 3], "refused ones go out again, first");
    }

    #[test]
    fn subscriptions_go_out_in_as_few_frames_as_fit_when_the_socket_opens() {
        let mut core = core("s1");
        let big = "x".repeat(200 * 1024);
        for n in 0..300 {
            let args = if n < 3 { json!({"search": big, "n": n}) } else { json!({"n": n}) };
            core.subscribe("tasks:list", args).unwrap();
        }
        let frames = core.on_open();
        let sizes: Vec<usize> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::SubscribeMany { queries } => Some(queries.len()),
                _ => None,
            })
            .collect();
        // Two large ones fill a frame; then at most 256 a frame; every query once, in order.
        assert_eq!(sizes, [2, 256, 42]);
        assert!(frames.iter().all(|f| f.to_json().len() < 1024 * 1024), "each under the room's frame limit");
        let ids: Vec<QueryId> = frames
            .iter()
            .flat_map(|f| match f {
                Frame::SubscribeMany { queries } => queries.iter().map(|q| q.0).collect(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(ids, (1..=300).collect::<Vec<_>>());
    }

    #[test]
    fn offline_subscriptions_and_mutations_are_sent_on_open() {
        let mut core = core("s1");
        let (q, frame) = core.subscribe("tasks:list", json!({})).unwrap();
        assert!(frame.is_none());
        let (r, frame) = core.mutation("tasks:create", json!({"title": "x"})).unwrap();
        assert!(frame.is_none());
        let frames = read(&core.on_open());
        assert_eq!(
            frames,
            vec![
                ClientMessage::Connect {
                    session_id: "s1".into(),
                    protocol_version: Some(crate::PROTOCOL_VERSION),
                    schema_hash: None
                },
                ClientMessage::SubscribeMany {
                    queries: vec![crate::protocol::QuerySubscription {
                        query_id: q,
                        udf_path: "tasks:list".into(),
                        args: json!({}),
                        result_hash: None
                    }]
                },
                ClientMessage::Mutation { request_id: r, udf_path: "tasks:create".into(), args: json!({"title": "x"}) },
            ]
        );
        assert_eq!(core.pending_mutations(), 1);
    }

    #[test]
    fn transitions_apply_in_a_chain_and_gaps_ask_for_resync() {
        let mut core = core("s");
        core.on_open();
        let (q, _) = core.subscribe("tasks:list", json!({})).unwrap();
        let events = core.receive(&transition(
            (0, 0),
            (1, 0),
            vec![QueryModification::QueryUpdated { query_id: q, value: json!([]), hash: "h0".into() }],
        ));
        assert_eq!(events, vec![ClientEvent::Query { query_id: q, result: Ok(json!([])) }]);
        let events = core.receive(&transition((1, 5), (1, 6), vec![]));
        assert!(matches!(&events[..], [ClientEvent::ResyncRequired { .. }]), "{events:?}");
        assert_eq!(core.version(), StateVersion { query_set: 1, identity: 0, ts: Ts(0) });
    }

    #[test]
    fn reconnect_resends_unanswered_mutations_and_resumes_with_hashes() {
        let mut core = core("s");
        core.on_open();
        let (q, _) = core.subscribe("tasks:list", json!({})).unwrap();
        core.receive(&transition(
            (0, 0),
            (1, 0),
            vec![QueryModification::QueryUpdated { query_id: q, value: json!([1]), hash: "h1".into() }],
        ));
        let (r, frame) = core.mutation("tasks:create", json!({"title": "x"})).unwrap();
        assert!(frame.is_some());
        assert_eq!(core.on_close(), vec![]);
        assert_eq!(core.cached(q), Some(&Ok(json!([1]))), "results are kept while offline");
        let frames = read(&core.on_open());
        assert_eq!(
            frames,
            vec![
                ClientMessage::Connect {
                    session_id: "s".into(),
                    protocol_version: Some(crate::PROTOCOL_VERSION),
                    schema_hash: None
                },
                ClientMessage::SubscribeMany {
                    queries: vec![crate::protocol::QuerySubscription {
                        query_id: q,
                        udf_path: "tasks:list".into(),
                        args: json!({}),
                        result_hash: Some("h1".into())
                    }]
                },
                ClientMessage::Mutation { request_id: r, udf_path: "tasks:create".into(), args: json!({"title": "x"}) },
            ]
        );
        assert!(core.is_stale(q));
        assert_eq!(core.version(), StateVersion::default());
        let events = core.receive(&transition((0, 0), (1, 3), vec![QueryModification::QueryUnchanged { query_id: q }]));
        assert_eq!(events, vec![ClientEvent::QueryConfirmed { query_id: q }], "confirmed, value unchanged");
        assert!(!core.is_stale(q));
        assert_eq!(core.cached(q), Some(&Ok(json!([1]))));
        // Request ids keep growing across connections.
        let (r2, _) = core.mutation("tasks:create", json!({})).unwrap();
        assert!(r2 > r);
    }

    #[test]
    fn mutation_responses_settle_once() {
        let mut core = core("s");
        core.on_open();
        let (r, _) = core.mutation("tasks:create", json!({})).unwrap();
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
        let mut core = core("s");
        core.on_open();
        let (q, _) = core.subscribe("tasks:list", json!({})).unwrap();
        assert_eq!(core.unsubscribe(q), Some(Frame::Unsubscribe { query_id: q }));
        let events = core.receive(&transition(
            (0, 0),
            (1, 0),
            vec![QueryModification::QueryUpdated { query_id: q, value: json!([]), hash: "h0".into() }],
        ));
        assert!(events.is_empty());
        assert_eq!(core.unsubscribe(q), None);
    }

    fn identity_accepted(core: &mut ClientCore) -> Vec<ClientEvent> {
        let v = core.version();
        let answer = ServerMessage::Transition {
            start_version: v,
            end_version: StateVersion { identity: v.identity + 1, ..v },
            modifications: vec![],
        };
        core.receive(&answer.to_json())
    }

    fn answer(request_id: RequestId, outcome: MutationOutcome) -> String {
        ServerMessage::MutationResponse { request_id, outcome }.to_json()
    }

    fn refused(code: ErrorCode, message: &str) -> MutationOutcome {
        MutationOutcome::Failure { code, message: message.into() }
    }

    fn mutation_ids(frames: &[Frame]) -> Vec<RequestId> {
        frames
            .iter()
            .filter_map(|f| match f {
                Frame::Mutation { request_id, .. } => Some(*request_id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn mutations_wait_for_a_token_the_room_accepted_and_are_never_sent_signed_out() {
        let mut core = core("s");
        core.expect_auth();
        let (r, frame) = core.mutation("tasks:create", json!({"title": "saved offline"})).unwrap();
        assert_eq!(frame, None);
        // The socket opens while the token fetch fails (the auth server is down).
        let frames = core.on_open();
        assert_eq!(mutation_ids(&frames), [] as [u32; 0], "nothing is sent signed out");
        let first = core.token_unavailable(0.0);
        let later = core.token_unavailable(1.0);
        assert!((500.0..=1000.0).contains(&first) && (1000.0..=2000.0).contains(&later), "{first} {later}");
        for _ in 0..20 {
            assert!(core.token_unavailable(0.5) <= 30_000.0, "capped");
        }
        assert_eq!(core.auth_state(), AuthState::Waiting);
        assert_eq!(core.pending_mutations(), 1);
        // The token arrives: sent, but writes wait until the room accepts it.
        assert_eq!(core.set_auth(Some("t".into())), Some(Frame::Authenticate { token: Some("t".into()) }));
        assert!(core.flush().is_empty());
        assert_eq!(identity_accepted(&mut core), vec![ClientEvent::Authenticated]);
        assert_eq!(mutation_ids(&core.flush()), [r]);
        // A new socket must have the token accepted again before writes go out.
        core.on_close();
        let (r2, _) = core.mutation("tasks:create", json!({})).unwrap();
        let frames = core.on_open();
        assert!(matches!(frames[1], Frame::Authenticate { .. }));
        assert_eq!(mutation_ids(&frames), [] as [u32; 0]);
        identity_accepted(&mut core);
        assert_eq!(mutation_ids(&core.flush()), [r, r2]);
        // Signing in as someone else: writes made from now on wait for the new identity.
        core.expect_auth();
        let (r3, frame) = core.mutation("tasks:create", json!({})).unwrap();
        assert_eq!(frame, None, "never sent as the previous user");
        core.set_auth(Some("other user".into()));
        assert!(core.flush().is_empty());
        identity_accepted(&mut core);
        assert_eq!(mutation_ids(&core.flush()), [r3]);
        // A refresh of the same sign-in does not pause writes.
        core.set_auth(Some("refreshed".into()));
        assert!(core.mutation("tasks:create", json!({})).unwrap().1.is_some());
    }

    #[test]
    fn a_mutation_refused_for_an_expired_token_is_held_and_sent_again_with_a_fresh_one() {
        let mut core = core("s");
        core.expect_auth();
        core.set_auth(Some("old".into()));
        core.on_open();
        identity_accepted(&mut core);
        let (r, frame) = core.mutation("tasks:create", json!({})).unwrap();
        assert!(frame.is_some());
        let (r2, _) = core.mutation("tasks:create", json!({})).unwrap();
        let expired = refused(ErrorCode::Unauthenticated, "the token expired");
        assert_eq!(
            core.receive(&answer(r, expired.clone())),
            vec![ClientEvent::AuthFailed { message: "the token expired".into() }]
        );
        assert_eq!(core.receive(&answer(r2, expired)), vec![], "one notice per wait");
        assert_eq!((core.pending_mutations(), core.failed().count()), (2, 0), "held, not failed");
        assert!(core.flush().is_empty(), "waiting for a fresh token");
        assert_eq!(core.token_refused(0.3), 0.0, "the first refusal refetches at once");
        assert!(core.token_refused(0.3) >= 500.0, "then with backoff");
        core.set_auth(Some("fresh".into()));
        identity_accepted(&mut core);
        assert_eq!(mutation_ids(&core.flush()), [r, r2], "sent again, in order, under their ids");
        assert_eq!(core.token_refused(0.3), 0.0, "an accepted token resets the backoff");
    }

    #[test]
    fn a_refused_token_on_a_new_socket_holds_writes_until_one_is_accepted() {
        let mut core = core("s");
        core.set_auth(Some("forged".into()));
        core.mutation("tasks:create", json!({})).unwrap();
        let frames = core.on_open();
        assert_eq!(mutation_ids(&frames), [] as [u32; 0]);
        let refusal =
            ServerMessage::Error { code: ErrorCode::Unauthenticated, message: "bad".into(), retry_after_ms: None };
        assert_eq!(core.receive(&refusal.to_json()), vec![ClientEvent::AuthFailed { message: "bad".into() }]);
        assert_eq!(core.auth_state(), AuthState::Waiting);
        assert!(core.flush().is_empty());
        core.on_close();
        assert!(
            !core.on_open().iter().any(|f| matches!(f, Frame::Authenticate { .. })),
            "a refused token is not sent again"
        );
        // Signed out on purpose: the signed-in user's write is kept for them, never sent signed
        // out; a write made signed out goes out signed out, and the room's refusal is final.
        core.set_auth(None);
        assert!(core.flush().is_empty());
        assert_eq!(core.held_for_others(), 1);
        let (r2, frame) = core.mutation("tasks:create", json!({})).unwrap();
        assert!(frame.is_some());
        let events = core.receive(&answer(r2, refused(ErrorCode::Unauthenticated, "sign in")));
        assert!(matches!(&events[..], [ClientEvent::Mutation { request_id, result: Err(_) }] if *request_id == r2));
        assert_eq!(core.failed().count(), 1);
    }

    #[test]
    fn refused_mutations_are_kept_through_a_reload_until_discarded_or_retried() {
        let mut core = core("s");
        core.on_open();
        let (r, _) = core.mutation("tasks:remove", json!({"id": "x"})).unwrap();
        let (r2, _) = core.mutation("tasks:remove", json!({"id": "y"})).unwrap();
        let events = core.receive(&answer(r, refused(ErrorCode::Forbidden, "viewers may not remove tasks")));
        let error = ClientError {
            code: ClientErrorCode::Server(ErrorCode::Forbidden),
            message: "viewers may not remove tasks".into(),
        };
        assert_eq!(events, vec![ClientEvent::Mutation { request_id: r, result: Err(error.clone()) }]);
        assert_eq!(core.pending_mutations(), 1);
        assert_eq!(core.failed().map(|f| f.error.clone()).collect::<Vec<_>>(), std::slice::from_ref(&error));
        // The page reloads: the refusal is still there, next to the unanswered one.
        let saved = core.outbox().to_json();
        let mut after = self::core("new");
        after.restore(Outbox::parse(&saved).unwrap()).unwrap();
        assert_eq!(after.failed().count(), 1);
        assert_eq!(after.failed().next().unwrap().error, error);
        assert_eq!(after.pending_mutations(), 1);
        after.on_open();
        let (again, frame) = after.retry(r).unwrap();
        assert!(again > r2, "retried under a new id");
        assert!(frame.is_some());
        assert_eq!(after.failed().count(), 0);
        assert_eq!(after.retry(r), None);
        after.receive(&answer(again, refused(ErrorCode::Forbidden, "still not")));
        assert!(after.discard(again));
        assert!(!after.discard(again));
        assert!(after.outbox().failed.is_empty());
    }

    #[test]
    fn calls_too_large_for_one_frame_are_refused_before_sending() {
        let mut core = core("s");
        core.on_open();
        let big = json!({"title": "x".repeat(MAX_FRAME_BYTES)});
        let e = core.mutation("tasks:create", big.clone()).unwrap_err();
        assert_eq!(e.code, ClientErrorCode::TooLarge);
        assert!(e.message.starts_with("the call of tasks:create is 1048"), "{}", e.message);
        assert_eq!((core.pending_mutations(), core.failed().count()), (0, 0), "never queued, never re-sent");
        let e = core.subscribe("tasks:list", big).unwrap_err();
        assert_eq!(e.code, ClientErrorCode::TooLarge);
        assert_eq!(core.subscription_count(), 0);
        let (r, _) = core.mutation("tasks:create", json!({"title": "small"})).unwrap();
        assert_eq!(r, 1, "request ids are not used up by refused calls");
        // An outbox saved by an older build with such a call: kept as refused, not re-sent.
        let huge = Frame::Mutation {
            request_id: 1,
            udf_path: "tasks:create".into(),
            args: json!({"title": "x".repeat(MAX_FRAME_BYTES)}).to_string(),
        };
        let saved = Outbox {
            session_id: "old".into(),
            next_request_id: 1,
            pending: vec![huge],
            failed: vec![],
            owners: vec![],
        };
        let mut after = self::core("new");
        after.restore(Outbox::parse(&saved.to_json()).unwrap()).unwrap();
        assert_eq!(after.pending_mutations(), 0);
        assert_eq!(after.failed().next().unwrap().error.code, ClientErrorCode::TooLarge);
        assert_eq!(after.retry(1), None, "still too large");
        assert_eq!(after.failed().count(), 1);
    }

    #[test]
    fn garbage_from_the_server_asks_for_resync() {
        let mut core = core("s");
        assert!(matches!(&core.receive("<html>")[..], [ClientEvent::ResyncRequired { .. }]));
    }

    fn as_user(owner: &str) -> Option<Credentials> {
        Some(Credentials { token: format!("token of {owner}"), owner: owner.into() })
    }

    #[test]
    fn writes_go_out_only_as_the_user_who_made_them() {
        let mut core = core("s");
        core.set_auth(as_user("ayse"));
        core.on_open();
        identity_accepted(&mut core);
        let (a1, frame) = core.mutation("donations:create", json!({"n": 1})).unwrap();
        assert!(frame.is_some(), "sent as Ayşe");
        core.on_close();
        let (a2, _) = core.mutation("donations:create", json!({"n": 2})).unwrap();

        // Ayşe signs out (a1 was never answered): nothing of hers goes out signed out, and the
        // next person at the desk neither sees nor counts her writes.
        core.set_auth(None);
        assert!(mutation_ids(&core.on_open()).is_empty(), "never sent signed out");
        assert_eq!((core.pending_mutations(), core.held_for_others()), (0, 2));
        assert_eq!(core.pending().count(), 0);

        // Mehmet signs in on the same tab, then reloads: his writes go, hers stay held.
        core.expect_auth();
        assert_eq!(core.pending_mutations(), 2, "while a sign-in is on its way, all are counted");
        core.set_auth(as_user("mehmet"));
        identity_accepted(&mut core);
        assert!(core.flush().is_empty(), "Ayşe's writes are not sent as Mehmet");
        let (m1, frame) = core.mutation("tasks:create", json!({})).unwrap();
        assert_eq!(mutation_ids(&frame.into_iter().collect::<Vec<_>>()), [m1]);
        let saved = core.outbox().to_json();
        let mut reloaded = ClientCore::<serde_json::Value>::new("fresh".into());
        reloaded.restore(Outbox::parse(&saved).unwrap()).unwrap();
        reloaded.set_auth(as_user("mehmet"));
        let frames = reloaded.on_open();
        identity_accepted(&mut reloaded);
        let sent: Vec<RequestId> = mutation_ids(&frames).into_iter().chain(mutation_ids(&reloaded.flush())).collect();
        assert_eq!(sent, [m1], "only Mehmet's unanswered write is re-sent");
        assert_eq!(reloaded.held_for_others(), 2);

        // Ayşe signs in again: hers go, in order, under their own request ids.
        reloaded.expect_auth();
        reloaded.set_auth(as_user("ayse"));
        identity_accepted(&mut reloaded);
        assert_eq!(mutation_ids(&reloaded.flush()), [a1, a2]);
        assert_eq!(reloaded.held_for_others(), 1, "Mehmet's unanswered write waits for him");
    }

    #[test]
    fn a_switch_of_user_without_expect_auth_still_waits_for_the_room() {
        let mut core = core("s");
        core.set_auth(as_user("ayse"));
        core.on_open();
        identity_accepted(&mut core);
        core.set_auth(as_user("mehmet"));
        assert_eq!(core.auth_state(), AuthState::Unconfirmed, "another owner is not a refresh");
        let (_, frame) = core.mutation("tasks:create", json!({})).unwrap();
        assert_eq!(frame, None, "waits until the room accepts Mehmet");
        identity_accepted(&mut core);
        assert_eq!(core.flush().len(), 1);
    }

    #[test]
    fn refused_writes_of_another_user_are_neither_shown_nor_discardable() {
        let mut core = core("s");
        core.set_auth(as_user("ayse"));
        core.on_open();
        identity_accepted(&mut core);
        let (r, _) = core.mutation("tasks:remove", json!({"id": "x"})).unwrap();
        core.receive(&answer(r, refused(ErrorCode::Forbidden, "no")));
        assert_eq!(core.failed().count(), 1);
        core.set_auth(as_user("mehmet"));
        identity_accepted(&mut core);
        assert_eq!(core.failed().count(), 0, "Mehmet does not see Ayşe's refused write");
        assert!(!core.discard(r) && core.retry(r).is_none());
        core.set_auth(as_user("ayse"));
        identity_accepted(&mut core);
        assert!(core.discard(r));
        assert_eq!((core.failed().count(), core.held_for_others()), (0, 0));
    }

    #[test]
    fn closing_rejects_the_promises_but_keeps_the_writes_for_the_next_client() {
        let mut core = core("s");
        core.on_open();
        let (r, _) = core.mutation("tasks:create", json!({})).unwrap();
        let events = core.close();
        assert!(matches!(
            &events[..],
            [ClientEvent::Mutation { request_id, result: Err(ClientError { code: ClientErrorCode::Closed, .. }) }]
                if *request_id == r
        ));
        let saved = core.outbox();
        assert_eq!(saved.pending.len(), 1, "the outbox still holds the write");
        let mut next = ClientCore::<serde_json::Value>::new("next".into());
        next.restore(Outbox::parse(&saved.to_json()).unwrap()).unwrap();
        assert_eq!(mutation_ids(&next.on_open()), [r]);
    }

    #[test]
    fn writes_saved_without_an_owner_belong_to_whoever_this_page_signs_in_as() {
        // Saved by a build before owners, or by a page whose token never came.
        let saved = r#"{"sessionId":"old","nextRequestId":2,"pending":[{"type":"mutation","requestId":1,
            "udfPath":"tasks:create","args":{}},{"type":"mutation","requestId":2,"udfPath":"tasks:create","args":{}}],
            "failed":[],"owners":{"2":"(next sign-in)"}}"#;
        // An application that never signs in.
        let mut anonymous = core("a");
        anonymous.restore(Outbox::parse(saved).unwrap()).unwrap();
        assert_eq!(mutation_ids(&anonymous.on_open()), [1, 2]);
        // The token arrived before the outbox was read.
        let mut early = core("b");
        early.set_auth(as_user("ayse"));
        early.restore(Outbox::parse(saved).unwrap()).unwrap();
        early.on_open();
        identity_accepted(&mut early);
        assert_eq!(mutation_ids(&early.flush()), [1, 2]);
        // The outbox was read first, the token comes later.
        let mut late = core("c");
        late.expect_auth();
        late.restore(Outbox::parse(saved).unwrap()).unwrap();
        late.set_auth(as_user("mehmet"));
        late.on_open();
        identity_accepted(&mut late);
        assert_eq!(mutation_ids(&late.flush()), [1, 2]);
    }

    #[test]
    fn a_sign_in_that_ends_signed_out_leaves_no_write_waiting_and_a_refresh_wait_is_no_switch() {
        let mut core = core("s");
        core.expect_auth();
        core.mutation("tasks:create", json!({})).unwrap();
        core.set_auth(None); // fetchToken resolved null
        assert_eq!(mutation_ids(&core.on_open()), [1], "sent signed out, not stranded");
        // Ayşe's token is refused (a refresh wait): her write meanwhile stays hers.
        let mut core = core_signed_in("ayse");
        let (r, _) = core.mutation("tasks:create", json!({})).unwrap();
        core.receive(&answer(r, refused(ErrorCode::Unauthenticated, "expired")));
        let (r2, _) = core.mutation("tasks:create", json!({})).unwrap();
        core.expect_auth();
        core.set_auth(as_user("mehmet"));
        identity_accepted(&mut core);
        assert!(core.flush().is_empty(), "not sent as Mehmet");
        assert_eq!(core.held_for_others(), 2);
        core.set_auth(as_user("ayse"));
        identity_accepted(&mut core);
        assert_eq!(mutation_ids(&core.flush()), [r, r2]);
    }

    #[test]
    fn refused_writes_of_another_user_stay_hidden_while_the_next_sign_in_is_on_its_way() {
        let mut core = core_signed_in("ayse");
        let (r, _) = core.mutation("tasks:remove", json!({"id": "x"})).unwrap();
        core.receive(&answer(r, refused(ErrorCode::Forbidden, "no")));
        core.set_auth(None);
        core.expect_auth();
        assert_eq!(core.failed().count(), 0);
        assert!(!core.discard(r) && core.retry(r).is_none());
    }

    fn core_signed_in(owner: &str) -> ClientCore {
        let mut core = core("s");
        core.set_auth(as_user(owner));
        core.on_open();
        identity_accepted(&mut core);
        core
    }
}
