//! A client session: every decision a client makes between its application and one room, as
//! a sans-IO state machine over the [`ClientCore`] (queries, outbox, owners), the
//! [`Lifecycle`] (attempts, backoff), the [`Heartbeat`] and signing in (token fetches,
//! refreshes, retries).
//!
//! A host feeds it what happened — the socket opened, closed or delivered a frame, a token
//! arrived or its fetch failed, a timer fired, the browser woke up — and carries out the
//! [`Effect`]s it queues ([`Session::take_effects`]): open or drop a socket, send a frame,
//! fetch a token, arm a timer, tell the application. The browser's host is
//! `client-wasm/src/driver.js`; the native suite (`tests/tests/session.rs`) is another, which
//! drives whole sessions against a real room in virtual time. Nothing here reads a clock or
//! draws random numbers: `now_ms` and `random` (uniform in `[0, 1)`) come with each input.
//!
//! The rules it keeps:
//! - a socket starts serving (`connect`, the token, subscriptions, the outbox) only once the
//!   saved outbox is read and, while the application signs in, its first token is there — so
//!   nothing runs signed out by accident;
//! - a token fetch that fails is retried with backoff (1 s doubling to 30 s, at once when the
//!   browser wakes), the current token staying in use; only a fetch that resolves to no token
//!   signs out; a token is refreshed a minute before it expires; a token the room refuses is
//!   fetched again at once, then with backoff;
//! - a throttled client pauses a second (plus jitter) before sending again;
//! - a socket silent past the heartbeat, or whose results broke their chain, is dropped and
//!   replaced at once; a lost one after the backoff, an overloaded room's no sooner than its
//!   hint;
//! - a room that speaks another protocol or runs another schema stops the client: retrying
//!   cannot help.

use super::heartbeat::{Heartbeat, HeartbeatAction};
use super::lifecycle::Lifecycle;
use super::{
    throttle_pause_ms, token_refresh_in, AuthState, ClientCore, ClientError, ClientEvent, Credentials, Frame, Payload,
};
use crate::client::frame::{Incoming, Outbox};
use crate::protocol::{ErrorCode, QueryId, RequestId};

/// The timers a session arms; each fires [`Session::timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The next connection attempt.
    Reconnect,
    /// The heartbeat's next look at the socket.
    Heartbeat,
    /// A token fetch again, after one failed or a token was refused.
    TokenRetry,
    /// A fresh token before the current one expires.
    TokenRefresh,
    /// Sending again after the room throttled mutations.
    ThrottleResume,
}

impl Timer {
    pub const ALL: [Timer; 5] =
        [Timer::Reconnect, Timer::Heartbeat, Timer::TokenRetry, Timer::TokenRefresh, Timer::ThrottleResume];

    /// The timer's number for hosts that key timers by number (the browser driver).
    pub fn index(self) -> u32 {
        self as u32
    }

    pub fn from_index(index: u32) -> Option<Timer> {
        Timer::ALL.get(index as usize).copied()
    }
}

/// What the host must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open a new socket to the room, dropping any other; then report
    /// [`Session::socket_opened`] or [`Session::socket_closed`].
    Open,
    /// Drop the socket without waiting for its close event (the session counts it gone
    /// already and has planned the next one).
    Drop,
    /// Send a frame on the socket.
    Send(Frame),
    /// Send the keep-alive `ping`.
    Ping,
    /// Call the application's `fetchToken({forceRefresh: force})`, then report
    /// [`Session::token_fetched`] or [`Session::token_failed`] with this generation.
    FetchToken { force: bool, generation: u32 },
    /// Call [`Session::timer`] for this timer in `in_ms` ms (replacing an earlier arming).
    Arm { timer: Timer, in_ms: f64 },
    /// Forget the timer's arming.
    Disarm(Timer),
    /// The socket serves: results held from before it are stale until the room confirms
    /// them (show them as such).
    Live,
    /// Tell the application whether the room accepted its sign-in.
    AuthChanged(bool),
    /// Worth a console line.
    Warn(String),
    /// This build cannot talk to the room (another protocol or schema): the session closed
    /// for good (as [`Session::close`]); release what the client holds and say why.
    Stop(String),
}

/// Where the socket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Socket {
    None,
    /// Asked for ([`Effect::Open`]), not open yet.
    Opening,
    /// Open, waiting for the saved outbox or the first token before it starts.
    Waiting,
    /// Serving.
    Live,
}

/// Where fetching a token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fetch {
    Idle,
    /// Out now (`force`: a refresh the cache must not answer).
    Out {
        force: bool,
    },
    /// Failed or refused: again when [`Timer::TokenRetry`] fires (or the browser wakes).
    Retry {
        force: bool,
    },
}

/// One client's session with one room.
pub struct Session<P = serde_json::Value> {
    core: ClientCore<P>,
    lifecycle: Lifecycle,
    heartbeat: Option<Heartbeat>,
    socket: Socket,
    /// The application signs in (it gave a token fetcher).
    signs_in: bool,
    fetch: Fetch,
    /// Bumped by every new sign-in and sign-out: answers of older fetches are ignored.
    generation: u32,
    outbox_loading: bool,
    /// Frames read on this socket since the last `ack`, and their size in the host's units.
    unacked: (u32, usize),
    effects: Vec<Effect>,
}

/// The client acknowledges the room's frames after this many of them…
pub const ACK_EVERY_FRAMES: u32 = 32;
/// …or this much of them (in the host's units: characters of the frame text), whichever
/// comes first: far below the room's bound on unacknowledged output (8 MiB), so that only a
/// client that stops reading is ever shed as a slow consumer.
pub const ACK_EVERY_SIZE: usize = 128 * 1024;

impl<P: Payload> Session<P> {
    pub fn new(core: ClientCore<P>) -> Self {
        Self {
            core,
            lifecycle: Lifecycle::default(),
            heartbeat: None,
            socket: Socket::None,
            signs_in: false,
            fetch: Fetch::Idle,
            generation: 0,
            outbox_loading: false,
            unacked: (0, 0),
            effects: Vec::new(),
        }
    }

    /// The queries, outbox and sign-in state (read only: changes go through the session).
    pub fn core(&self) -> &ClientCore<P> {
        &self.core
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// What the host must do now, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Whether the socket serves.
    pub fn is_live(&self) -> bool {
        self.socket == Socket::Live
    }

    /// Whether a token fetch is out or waiting to be retried.
    pub fn is_fetching_token(&self) -> bool {
        self.fetch != Fetch::Idle
    }

    // ---- The application

    /// Starts connecting.
    pub fn start(&mut self) {
        if self.socket == Socket::None {
            self.open();
        }
    }

    /// The saved outbox is being read (`true`) or was read and restored (`false`): a socket
    /// waits for it, so saved writes go out first and under the session they were made in.
    pub fn outbox_loading(&mut self, loading: bool, now_ms: f64) {
        self.outbox_loading = loading;
        if !loading {
            self.flush();
            self.start_if_ready(now_ms);
        }
    }

    /// Continues a saved session (before the socket starts); returns `(old id, new id)` for
    /// mutations made meanwhile, renumbered after the saved ones.
    pub fn restore(&mut self, outbox: Outbox) -> Result<Vec<(RequestId, RequestId)>, String> {
        self.core.restore(outbox)
    }

    /// The application signs in with a token fetcher (perhaps as someone else): writes wait
    /// for a token the room accepts; a token is fetched now.
    pub fn sign_in(&mut self) {
        self.new_generation();
        self.signs_in = true;
        self.core.expect_auth();
        self.fetch_now(false);
    }

    /// The application signs out: queries re-run signed out; the user's unsent writes are
    /// kept for them.
    pub fn sign_out(&mut self, now_ms: f64) {
        self.new_generation();
        self.signs_in = false;
        self.fetch = Fetch::Idle;
        let frame = self.core.set_auth(None);
        self.send_all(frame);
        self.flush();
        self.start_if_ready(now_ms);
    }

    pub fn subscribe(&mut self, udf_path: &str, args: impl super::IntoArgs) -> Result<QueryId, ClientError> {
        let (query_id, frame) = self.core.subscribe(udf_path, args)?;
        self.send_all(frame);
        Ok(query_id)
    }

    pub fn unsubscribe(&mut self, query_id: QueryId) {
        let frame = self.core.unsubscribe(query_id);
        self.send_all(frame);
    }

    pub fn mutation(&mut self, udf_path: &str, args: impl super::IntoArgs) -> Result<RequestId, ClientError> {
        let (request_id, frame) = self.core.mutation(udf_path, args)?;
        self.send_all(frame);
        Ok(request_id)
    }

    /// Sends a refused mutation again as a new request (`None`: no such refused mutation of
    /// the current user).
    pub fn retry(&mut self, request_id: RequestId) -> Option<RequestId> {
        let (new_id, frame) = self.core.retry(request_id)?;
        self.send_all(frame);
        Some(new_id)
    }

    pub fn discard(&mut self, request_id: RequestId) -> bool {
        self.core.discard(request_id)
    }

    /// Drops the socket and connects again now, as a first attempt (results stay, stale
    /// until confirmed).
    pub fn reconnect(&mut self) -> Vec<ClientEvent<P>> {
        let events = self.forget_socket(true);
        self.lifecycle.restart();
        self.effects.push(Effect::Disarm(Timer::Reconnect));
        self.open();
        events
    }

    /// Closes for good: unanswered mutations' promises fail with `CLIENT_CLOSED` (the writes
    /// stay in the outbox for the next client), every timer is disarmed.
    pub fn close(&mut self) -> Vec<ClientEvent<P>> {
        self.forget_socket(true);
        self.lifecycle.close();
        self.new_generation();
        self.fetch = Fetch::Idle;
        self.effects.extend(Timer::ALL.map(Effect::Disarm));
        self.core.close()
    }

    // ---- The host

    /// The browser is back online or the tab visible again (`hidden`: still hidden): a token
    /// fetch waiting out its backoff goes now, and a socket waiting out its backoff opens now.
    pub fn wake(&mut self, hidden: bool) {
        if let (Fetch::Retry { force }, false) = (self.fetch, hidden) {
            self.effects.push(Effect::Disarm(Timer::TokenRetry));
            self.fetch_now(force);
        }
        if self.lifecycle.wake(hidden, self.socket != Socket::None) {
            self.effects.push(Effect::Disarm(Timer::Reconnect));
            self.open();
        }
    }

    /// The token fetch of `generation` resolved: `Some` signs in (with when it expires, if
    /// known), `None` signs out. Answers of an earlier sign-in are ignored.
    pub fn token_fetched(
        &mut self,
        generation: u32,
        credentials: Option<Credentials>,
        expires_at_ms: Option<f64>,
        now_ms: f64,
    ) {
        if generation != self.generation || !self.signs_in {
            return;
        }
        self.fetch = Fetch::Idle;
        let frame = self.core.set_auth(credentials);
        self.send_all(frame);
        self.flush();
        self.start_if_ready(now_ms);
        match expires_at_ms.filter(|e| e.is_finite()) {
            Some(expires_at_ms) => {
                let in_ms = token_refresh_in(expires_at_ms, now_ms);
                self.effects.push(Effect::Arm { timer: Timer::TokenRefresh, in_ms });
            }
            // A token that does not expire: no refresh of the one before either.
            None => self.effects.push(Effect::Disarm(Timer::TokenRefresh)),
        }
    }

    /// The token fetch of `generation` threw or rejected (the auth server or the network is
    /// down): the current token stays; ms until it is tried again (`None`: an answer of an
    /// earlier sign-in, ignored).
    pub fn token_failed(&mut self, generation: u32, random: f64) -> Option<f64> {
        if generation != self.generation || !self.signs_in {
            return None;
        }
        let force = matches!(self.fetch, Fetch::Out { force: true } | Fetch::Retry { force: true });
        let in_ms = self.core.token_unavailable(random);
        self.retry_fetch(force, in_ms);
        Some(in_ms)
    }

    /// The socket asked for opened.
    pub fn socket_opened(&mut self, now_ms: f64) {
        if self.socket != Socket::Opening {
            return;
        }
        self.socket = Socket::Waiting;
        self.start_if_ready(now_ms);
    }

    /// The socket closed or failed (or could not be opened): the next attempt is planned.
    pub fn socket_closed(&mut self, now_ms: f64, random: f64) -> Vec<ClientEvent<P>> {
        if self.socket == Socket::None {
            return Vec::new();
        }
        let events = self.forget_socket(false);
        self.plan_reconnect(now_ms, random);
        events
    }

    /// Any text arrived on the socket (a `pong` too): it is alive.
    pub fn alive(&mut self, now_ms: f64) {
        if let Some(hb) = self.heartbeat.as_mut() {
            hb.on_receive(now_ms);
        }
    }

    /// A frame from the room (`Err`: one that does not decode, with why) of `size` (its text's
    /// length, in any unit the host counts consistently); returns what the application must
    /// hear (results, mutation outcomes), after acting on the rest. Frames read are
    /// acknowledged every [`ACK_EVERY_FRAMES`] frames or [`ACK_EVERY_SIZE`].
    pub fn received(
        &mut self,
        frame: Result<Incoming<P>, String>,
        size: usize,
        now_ms: f64,
        random: f64,
    ) -> Vec<ClientEvent<P>> {
        if self.socket != Socket::Live {
            return Vec::new();
        }
        self.unacked = (self.unacked.0 + 1, self.unacked.1.saturating_add(size));
        if self.unacked.0 >= ACK_EVERY_FRAMES || self.unacked.1 >= ACK_EVERY_SIZE {
            self.effects.push(Effect::Send(Frame::Ack { frames: self.unacked.0 }));
            self.unacked = (0, 0);
        }
        self.alive(now_ms);
        let events = match frame {
            Ok(frame) => self.core.receive_frame(frame),
            Err(reason) => vec![ClientEvent::ResyncRequired { reason }],
        };
        self.flush();
        let mut stop = false;
        for event in &events {
            stop |= self.act_on(event, now_ms, random);
        }
        if stop {
            // Closed here, not by the host: nothing after the stop may plan another attempt.
            let mut events = events;
            events.extend(self.close());
            return events;
        }
        events
    }

    /// A timer armed with [`Effect::Arm`] fired.
    pub fn timer(&mut self, timer: Timer, now_ms: f64, random: f64) -> Vec<ClientEvent<P>> {
        match timer {
            Timer::Reconnect => {
                if self.socket == Socket::None {
                    self.open();
                }
            }
            Timer::Heartbeat => return self.heartbeat_tick(now_ms, random),
            Timer::TokenRetry => {
                if let Fetch::Retry { force } = self.fetch {
                    self.fetch_now(force);
                }
            }
            Timer::TokenRefresh => {
                if self.signs_in && self.fetch == Fetch::Idle {
                    self.fetch_now(true);
                }
            }
            Timer::ThrottleResume => {
                self.core.resume_sending();
                self.flush();
            }
        }
        Vec::new()
    }

    // ---- Inside

    fn new_generation(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.effects.push(Effect::Disarm(Timer::TokenRetry));
        self.effects.push(Effect::Disarm(Timer::TokenRefresh));
    }

    fn fetch_now(&mut self, force: bool) {
        self.fetch = Fetch::Out { force };
        self.effects.push(Effect::FetchToken { force, generation: self.generation });
    }

    /// A fetch again in `in_ms` (now when 0).
    fn retry_fetch(&mut self, force: bool, in_ms: f64) {
        if in_ms > 0.0 {
            self.fetch = Fetch::Retry { force };
            self.effects.push(Effect::Arm { timer: Timer::TokenRetry, in_ms });
        } else {
            self.fetch_now(force);
        }
    }

    fn open(&mut self) {
        if self.lifecycle.connecting() {
            self.socket = Socket::Opening;
            self.effects.push(Effect::Open);
        }
    }

    fn send_all(&mut self, frames: impl IntoIterator<Item = Frame>) {
        // The core writes frames only while its socket serves.
        self.effects.extend(frames.into_iter().map(Effect::Send));
    }

    fn flush(&mut self) {
        let frames = self.core.flush();
        self.send_all(frames);
    }

    /// A socket waits until the saved outbox is read and, while a token is on its way,
    /// until it is there if the client holds none or holds one it may not use (a sign-in as
    /// someone else, a refused token): queries never run signed out, or as the user before,
    /// by accident. A refresh of a usable token does not hold a socket back.
    fn must_wait(&self) -> bool {
        let unusable = !self.core.has_token() || self.core.auth_state() == AuthState::Waiting;
        self.outbox_loading || (self.fetch != Fetch::Idle && unusable)
    }

    fn start_if_ready(&mut self, now_ms: f64) {
        if self.socket != Socket::Waiting || self.must_wait() {
            return;
        }
        self.socket = Socket::Live;
        let frames = self.core.on_open();
        self.send_all(frames);
        let heartbeat = Heartbeat::new(now_ms);
        let in_ms = heartbeat.next_tick_in(now_ms);
        self.heartbeat = Some(heartbeat);
        self.lifecycle.opened();
        self.effects.push(Effect::Arm { timer: Timer::Heartbeat, in_ms });
        self.effects.push(Effect::Live);
    }

    /// Forgets the socket (`drop`: and tells the host to drop it).
    fn forget_socket(&mut self, drop: bool) -> Vec<ClientEvent<P>> {
        if self.socket == Socket::None {
            return Vec::new();
        }
        if drop {
            self.effects.push(Effect::Drop);
        }
        self.socket = Socket::None;
        self.heartbeat = None;
        self.unacked = (0, 0);
        self.effects.push(Effect::Disarm(Timer::Heartbeat));
        self.effects.push(Effect::Disarm(Timer::ThrottleResume));
        self.core.on_close()
    }

    fn plan_reconnect(&mut self, now_ms: f64, random: f64) {
        if let Some(in_ms) = self.lifecycle.ended(now_ms, random) {
            self.effects.push(Effect::Arm { timer: Timer::Reconnect, in_ms });
        }
    }

    fn heartbeat_tick(&mut self, now_ms: f64, random: f64) -> Vec<ClientEvent<P>> {
        let Some(hb) = self.heartbeat.as_mut() else { return Vec::new() };
        match hb.tick(now_ms) {
            HeartbeatAction::SendPing => self.effects.push(Effect::Ping),
            HeartbeatAction::Dead => {
                self.effects.push(Effect::Warn("no answer from the server for 5 s; reconnecting".into()));
                self.lifecycle.closing_by_client();
                let events = self.forget_socket(true);
                self.plan_reconnect(now_ms, random);
                return events;
            }
            HeartbeatAction::Nothing => {}
        }
        let in_ms = hb.next_tick_in(now_ms);
        if in_ms >= 0.0 {
            self.effects.push(Effect::Arm { timer: Timer::Heartbeat, in_ms });
        }
        Vec::new()
    }

    /// The session's part of an event (the application hears it too); `true` when the
    /// client must stop.
    fn act_on(&mut self, event: &ClientEvent<P>, now_ms: f64, random: f64) -> bool {
        match event {
            ClientEvent::ServerError {
                code: code @ (ErrorCode::ProtocolMismatch | ErrorCode::SchemaMismatch),
                message,
            } => {
                let mut why = String::from(code.as_str());
                why.push_str(": ");
                why.push_str(message);
                self.effects.push(Effect::Stop(why));
                return true;
            }
            ClientEvent::ServerError { code, message } => {
                let mut why = String::from("server refused a frame (");
                why.push_str(code.as_str());
                why.push_str("): ");
                why.push_str(message);
                self.effects.push(Effect::Warn(why));
            }
            ClientEvent::Authenticated => self.effects.push(Effect::AuthChanged(true)),
            ClientEvent::AuthFailed { message } => {
                if !self.signs_in {
                    return false;
                }
                // A stale token: a fresh one at once; refused again: reported, then retried
                // with backoff. Writes wait in the outbox meanwhile.
                let in_ms = self.core.token_refused(random);
                if in_ms > 0.0 {
                    let mut why = String::from("the room refused the token: ");
                    why.push_str(message);
                    self.effects.push(Effect::Warn(why));
                    self.effects.push(Effect::AuthChanged(false));
                }
                self.retry_fetch(true, in_ms);
            }
            ClientEvent::MutationsThrottled => {
                let in_ms = throttle_pause_ms(random);
                self.effects.push(Effect::Arm { timer: Timer::ThrottleResume, in_ms });
            }
            ClientEvent::Overloaded { retry_after_ms, message } => {
                // The room closes the socket; the next one waits at least its hint.
                self.lifecycle.overloaded(*retry_after_ms);
                self.effects.push(Effect::Warn(message.clone()));
            }
            ClientEvent::ResyncRequired { reason } => {
                let mut why = String::from("resyncing: ");
                why.push_str(reason);
                self.effects.push(Effect::Warn(why));
                self.lifecycle.closing_by_client();
                // Results held stay (stale) until the new socket confirms or replaces them.
                self.forget_socket(true);
                self.plan_reconnect(now_ms, random);
            }
            ClientEvent::Query { .. } | ClientEvent::QueryConfirmed { .. } | ClientEvent::Mutation { .. } => {}
        }
        false
    }
}

#[cfg(test)]
mod tests;
