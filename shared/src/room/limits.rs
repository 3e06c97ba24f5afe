//! What one client may make the room do, per second: the room's allowances.
//!
//! Every allowance is a token bucket (a burst, refilled at a rate) kept in memory — a restart
//! forgives everyone, which is fine: a restart also drops every socket. Buckets are keyed by
//! who spends them ([`Spender`]): a signed-in user's allowance is shared by all their sockets
//! and their HTTP calls (five tabs of one token do not get five times the rate), a signed-out
//! socket has its own, and signed-out HTTP calls share one per client address the host
//! forwards. What each allowance protects:
//!
//! - mutations: the room's write throughput (and the fan-out every write causes);
//! - one-shot queries over HTTP (`POST /rooms/:room/query`): each runs a query, with no
//!   socket whose control allowance could hold it back;
//! - control frames (`subscribe`, `unsubscribe`, `authenticate`) per socket: each subscribe
//!   runs a query; a changed identity re-runs every query of the socket;
//! - new connections, room-wide: every deploy drops every socket, and each reconnect re-runs
//!   that client's queries, so a storm is spread out (refused ones get `OVERLOADED` with a
//!   retry hint) instead of starving live traffic.
//!
//! - open sockets per client address (counted by the host, which knows its sockets): a
//!   signed-out socket costs the room a connection row and its subscriptions' arguments
//!   (bounded per socket), so the number of them one address can hold is bounded too;
//!
//! - refused frames per socket: answering a frame the room refuses (malformed, before
//!   `connect`, over an allowance) still costs room time, so a socket that keeps sending
//!   after being refused is closed (`OVERLOADED`, reconnect after the hint) instead of
//!   delaying everyone else's frames. A client that waits for the hints it gets (the
//!   browser client pauses a second after a throttled write, with at most 32 in flight)
//!   stays far below it.
//!
//! - room time per client: every frame a socket sends (and every HTTP call) spends units of
//!   the room's time from its client's allowance — the user when signed in (all their
//!   sockets together), otherwise the client address the host forwarded (all its signed-out
//!   sockets together), otherwise the socket. The Durable Object serves one event at a time,
//!   so whatever one client sends at once, everyone else's frames wait behind; this bounds
//!   that wait whatever the mix of frames and however many sockets carry them. Refused
//!   frames count per client the same way: past the refusal allowance, every further
//!   refused frame closes its socket;
//! - sockets opened per client address per second (the host asks before upgrading): each
//!   costs the room an upgrade and a connection row.
//!
//! A refusal always says when to retry.

use crate::model::ids::ConnId;
use std::collections::HashMap;

/// Units of room time a frame costs ([`RoomLimits::work_burst`]): one unit is about what
/// the Durable Object spends on the cheapest frame (about 0.14 ms under `wrangler dev` on a
/// 2-core machine); a mutation commits and fans out, about ten times that.
pub(super) fn work_of(message: &crate::protocol::ClientMessage) -> f64 {
    use crate::protocol::ClientMessage;
    match message {
        ClientMessage::Mutation { .. } => MUTATION_WORK,
        // The frame, and its query's first run (in a later step, but ahead of the frames
        // that arrive after it): about 0.4 ms in all.
        ClientMessage::Subscribe { .. } => 3.0,
        // Each query runs in later steps, which frames arriving after this one are served
        // between.
        ClientMessage::SubscribeMany { queries } => 1.0 + queries.len() as f64 / 8.0,
        _ => 1.0,
    }
}

/// Units of room time a mutation costs (over HTTP too).
pub(super) const MUTATION_WORK: f64 = 10.0;

/// Units of room time a one-shot HTTP query costs (a request and a query run).
pub(super) const HTTP_QUERY_WORK: f64 = 2.0;

/// Buckets of one kind held per spender before refilled ones are dropped.
const PRUNE_AT: usize = 4096;

/// Who spends an allowance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Spender {
    /// A signed-in user (the token's subject): all their sockets and HTTP calls.
    User(String),
    /// A signed-out socket.
    Socket(ConnId),
    /// Signed-out HTTP calls from one client address (as the host forwards it), or from
    /// anywhere when the host forwards none.
    Address(String),
}

/// The room's allowances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomLimits {
    /// Sustained mutations per second per spender (WebSocket and HTTP together).
    pub mutations_per_second: f64,
    /// Mutations a spender may send at once before the rate applies.
    pub mutation_burst: f64,
    /// Sustained one-shot HTTP queries per second per spender.
    pub http_queries_per_second: f64,
    /// One-shot HTTP queries a spender may send at once: a server render of a page runs a
    /// handful; a script paging through a table waits for each page, so the rate is what
    /// it meets. Each costs the room a request and a query run, so a burst is what other
    /// clients wait behind.
    pub http_query_burst: f64,
    /// Sustained `subscribe` / `unsubscribe` / `authenticate` frames per second per socket.
    pub control_per_second: f64,
    /// Control frames a socket may send at once: enough for a reconnect that re-subscribes
    /// every one of its queries (at most 256) and signs in.
    pub control_burst: f64,
    /// Sustained sign-ins with a changed identity per second per socket (each re-runs every
    /// query of the socket; a refresh of the same identity re-runs nothing and is free).
    pub identity_changes_per_second: f64,
    /// Identity changes at once: signing in, out and in as someone else. Small, because a
    /// change on a socket with 256 subscriptions runs 256 queries ahead of everyone else's
    /// frames.
    pub identity_change_burst: f64,
    /// Sustained new connections per second, room-wide.
    pub connects_per_second: f64,
    /// New connections accepted at once before the rate applies.
    pub connect_burst: f64,
    /// Open sockets one client address may hold to the room, signed in or not (the host
    /// counts them; see [`crate::Room::admit_socket`]). An office behind one address — dozens
    /// of staff, a few tabs each — stays below it; a script opening signed-out sockets until
    /// the room's memory runs out does not.
    pub sockets_per_address: f64,
    /// Bytes of frames a socket may leave unacknowledged for longer than 10 s before the room
    /// sheds it as a slow consumer ([`crate::Room::sent`]; eight times as much at any age):
    /// what the runtime may have to buffer for one socket that stopped reading. The browser
    /// client acknowledges every 32 frames or 128 K characters, within a round trip.
    pub unread_bytes_per_socket: f64,
    /// Queries an identity change re-runs at once; the rest wait for
    /// [`crate::Room::continue_work`], which a host that can yield between events calls after
    /// letting other sockets' frames in (the Durable Object: 4). Unlimited by default: a
    /// host that never calls `continue_work` gets every re-run at once.
    pub reruns_per_step: f64,
    /// Sustained refused frames per second per client (user, address, or socket) before
    /// the room closes the socket that sent the next one.
    pub refusals_per_second: f64,
    /// Refused frames a client may send at once before the rate applies.
    pub refusal_burst: f64,
    /// Sustained units of room time per second per client — the user when signed in, else
    /// the client address, else the socket ([`work_of`]: a frame 1, a subscribe 3, a
    /// mutation 10).
    pub work_per_second: f64,
    /// Units of room time a client may spend at once: what another client's frame may have
    /// to wait behind. 200 units is about 28 ms under `wrangler dev`, leaving room within
    /// the 100 ms budget for the refused frames and for what the runtime spends dropping the
    /// frames still arriving on sockets the room closed. It covers a reconnect (connect, sign
    /// in, subscriptions in a few frames, and 18 writes at once; the rest of a long outbox
    /// follows the retry hints, 50 writes a second).
    pub work_burst: f64,
    /// Sustained sockets opened per second per client address.
    pub socket_opens_per_second: f64,
    /// Sockets one client address may open at once.
    pub socket_open_burst: f64,
}

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            mutations_per_second: 50.0,
            // About 1.4 ms of room time each under `wrangler dev` on a 2-core machine: 20 at
            // once (the room-time allowance's 200 units) keep another client's round trip
            // well under the 100 ms budget; the browser client's further writes in flight
            // follow the retry hints.
            mutation_burst: 20.0,
            http_queries_per_second: 50.0,
            http_query_burst: 60.0,
            control_per_second: 50.0,
            // A reconnect re-subscribing 256 queries and signing in passes; 300 written-behind
            // frames at once cost another client about 40 ms.
            control_burst: 300.0,
            identity_changes_per_second: 0.2,
            identity_change_burst: 4.0,
            connects_per_second: 200.0,
            connect_burst: 400.0,
            sockets_per_address: 256.0,
            // Two results at their size limit (2 MiB each) fit.
            unread_bytes_per_socket: 8.0 * 1024.0 * 1024.0,
            reruns_per_step: f64::INFINITY,
            refusals_per_second: 40.0,
            refusal_burst: 64.0,
            work_per_second: 500.0,
            work_burst: 200.0,
            socket_opens_per_second: 20.0,
            socket_open_burst: 64.0,
        }
    }
}

impl RoomLimits {
    /// No limit (tests and benchmarks that drive many calls through simulated time).
    pub fn unlimited() -> Self {
        let none = f64::INFINITY;
        Self {
            mutations_per_second: none,
            mutation_burst: none,
            http_queries_per_second: none,
            http_query_burst: none,
            control_per_second: none,
            control_burst: none,
            identity_changes_per_second: none,
            identity_change_burst: none,
            connects_per_second: none,
            connect_burst: none,
            sockets_per_address: none,
            unread_bytes_per_socket: none,
            reruns_per_step: none,
            refusals_per_second: none,
            refusal_burst: none,
            work_per_second: none,
            work_burst: none,
            socket_opens_per_second: none,
            socket_open_burst: none,
        }
    }
}

/// A token bucket: `tokens` refill at the limit's rate up to its burst.
#[derive(Clone, Copy, Debug)]
struct TokenBucket {
    tokens: f64,
    at_ms: f64,
}

impl TokenBucket {
    fn full(burst: f64, now_ms: f64) -> Self {
        Self { tokens: burst, at_ms: now_ms }
    }

    /// Takes one token; `Err(wait_ms)` until the next one when none is left.
    fn take(&mut self, rate: f64, burst: f64, now_ms: f64) -> Result<(), u64> {
        self.take_n(rate, burst, 1.0, now_ms)
    }

    /// Takes `cost` tokens (at most a whole burst); `Err(wait_ms)` until there are enough.
    fn take_n(&mut self, rate: f64, burst: f64, cost: f64, now_ms: f64) -> Result<(), u64> {
        if rate.is_infinite() {
            return Ok(());
        }
        let cost = cost.min(burst);
        self.tokens = self.refilled(rate, burst, now_ms);
        self.at_ms = now_ms;
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            Err(((cost - self.tokens) * 1000.0 / rate).ceil() as u64)
        }
    }

    /// The tokens the bucket would hold at `now_ms`.
    fn refilled(&self, rate: f64, burst: f64, now_ms: f64) -> f64 {
        (self.tokens + (now_ms - self.at_ms).max(0.0) * rate / 1000.0).min(burst)
    }
}

/// Buckets keyed by spender, pruned of refilled ones when they grow past [`PRUNE_AT`].
#[derive(Default)]
struct SpenderBuckets(HashMap<Spender, TokenBucket>);

impl SpenderBuckets {
    fn take(&mut self, rate: f64, burst: f64, who: Spender, now_ms: f64) -> Result<(), u64> {
        self.take_n(rate, burst, who, 1.0, now_ms)
    }

    fn take_n(&mut self, rate: f64, burst: f64, who: Spender, cost: f64, now_ms: f64) -> Result<(), u64> {
        if self.0.len() >= PRUNE_AT {
            self.prune(rate, burst, now_ms);
        }
        self.0.entry(who).or_insert(TokenBucket::full(burst, now_ms)).take_n(rate, burst, cost, now_ms)
    }

    /// Drops users' and addresses' buckets that refilled completely: they hold nothing a new
    /// full bucket would not. Keeps memory bounded by the spenders active in the last while
    /// (sockets' buckets go when the socket closes).
    fn prune(&mut self, rate: f64, burst: f64, now_ms: f64) {
        self.0.retain(|who, bucket| matches!(who, Spender::Socket(_)) || bucket.refilled(rate, burst, now_ms) < burst);
    }
}

/// The allowances' buckets.
#[derive(Default)]
pub(super) struct Allowances {
    mutations: SpenderBuckets,
    http_queries: SpenderBuckets,
    control: HashMap<ConnId, TokenBucket>,
    identity_changes: HashMap<ConnId, TokenBucket>,
    refusals: SpenderBuckets,
    work: SpenderBuckets,
    socket_opens: SpenderBuckets,
    connects: Option<TokenBucket>,
}

impl Allowances {
    pub(super) fn mutation(&mut self, limits: &RoomLimits, who: Spender, now_ms: f64) -> Result<(), u64> {
        self.mutations.take(limits.mutations_per_second, limits.mutation_burst, who, now_ms)
    }

    pub(super) fn http_query(&mut self, limits: &RoomLimits, who: Spender, now_ms: f64) -> Result<(), u64> {
        self.http_queries.take(limits.http_queries_per_second, limits.http_query_burst, who, now_ms)
    }

    pub(super) fn control(&mut self, limits: &RoomLimits, conn: &ConnId, now_ms: f64) -> Result<(), u64> {
        let (rate, burst) = (limits.control_per_second, limits.control_burst);
        self.control.entry(conn.clone()).or_insert(TokenBucket::full(burst, now_ms)).take(rate, burst, now_ms)
    }

    pub(super) fn identity_change(&mut self, limits: &RoomLimits, conn: &ConnId, now_ms: f64) -> Result<(), u64> {
        let (rate, burst) = (limits.identity_changes_per_second, limits.identity_change_burst);
        self.identity_changes.entry(conn.clone()).or_insert(TokenBucket::full(burst, now_ms)).take(rate, burst, now_ms)
    }

    /// The room refused one of a client's frames; `Err(wait_ms)`: too many, close its socket.
    pub(super) fn refusal(&mut self, limits: &RoomLimits, who: Spender, now_ms: f64) -> Result<(), u64> {
        self.refusals.take(limits.refusals_per_second, limits.refusal_burst, who, now_ms)
    }

    /// Spends `cost` units of a client's room time.
    pub(super) fn work(&mut self, limits: &RoomLimits, who: Spender, cost: f64, now_ms: f64) -> Result<(), u64> {
        self.work.take_n(limits.work_per_second, limits.work_burst, who, cost, now_ms)
    }

    /// One more socket opens from a client address.
    pub(super) fn socket_open(&mut self, limits: &RoomLimits, address: &str, now_ms: f64) -> Result<(), u64> {
        let who = Spender::Address(address.to_string());
        self.socket_opens.take(limits.socket_opens_per_second, limits.socket_open_burst, who, now_ms)
    }

    pub(super) fn connect(&mut self, limits: &RoomLimits, now_ms: f64) -> Result<(), u64> {
        let (rate, burst) = (limits.connects_per_second, limits.connect_burst);
        self.connects.get_or_insert(TokenBucket::full(burst, now_ms)).take(rate, burst, now_ms)
    }

    /// A socket closed: its own buckets go (a user's stay: their other sockets share them).
    pub(super) fn forget_socket(&mut self, conn: &ConnId) {
        self.mutations.0.remove(&Spender::Socket(conn.clone()));
        self.control.remove(conn);
        self.identity_changes.remove(conn);
        self.refusals.0.remove(&Spender::Socket(conn.clone()));
        self.work.0.remove(&Spender::Socket(conn.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_of_spenders_gone_quiet_are_dropped_and_busy_ones_kept() {
        let limits = RoomLimits { http_queries_per_second: 1.0, http_query_burst: 2.0, ..RoomLimits::default() };
        let mut a = Allowances::default();
        let busy = Spender::User("busy".into());
        assert_eq!(a.http_query(&limits, busy.clone(), 0.0), Ok(()));
        assert_eq!(a.http_query(&limits, busy.clone(), 0.0), Ok(()));
        for i in 1..PRUNE_AT {
            assert_eq!(a.http_query(&limits, Spender::Address(format!("address {i}")), 0.0), Ok(()));
        }
        assert_eq!(a.http_queries.0.len(), PRUNE_AT);
        // 1.5 s later every address has refilled (one token spent) and goes; the busy user
        // (two spent) has not, and keeps what is left of their bucket.
        assert_eq!(a.http_query(&limits, Spender::Address("new".into()), 1500.0), Ok(()));
        assert_eq!(a.http_queries.0.len(), 2);
        assert_eq!(a.http_query(&limits, busy.clone(), 1500.0), Ok(()));
        assert_eq!(a.http_query(&limits, busy, 1500.0), Err(500), "a fresh bucket would have allowed it");
    }
}
