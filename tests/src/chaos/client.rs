//! A real client over a real socket: the [`Session`] the browser runs (reconnects, backoff,
//! heartbeat, token fetches, throttling, the outbox), hosted in real time on a non-blocking
//! WebSocket. Many of them share one thread: [`LiveClient::poll`] does what is ready and
//! returns.

use crate::dice::Dice;
use roomsync_shared::client::frame::Incoming;
use roomsync_shared::client::heartbeat::{PING, PONG};
use roomsync_shared::client::session::{Effect, Session, Timer};
use roomsync_shared::client::{ClientCore, ClientEvent, Credentials};
use roomsync_shared::protocol::{QueryId, RequestId, ServerMessage};
use serde_json::Value as Json;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// Most frames one poll reads from a socket (so that one busy socket does not starve the
/// other clients of the thread).
const FRAMES_PER_POLL: usize = 64;
/// How long the tokens the client's token server signs live: short, so that every client
/// refreshes its token (halfway through its life, for short tokens) every few seconds of a
/// run, faults and all.
const TOKEN_TTL_S: f64 = 10.0;
/// How long opening a socket (TCP and the WebSocket handshake) may block the thread.
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);

/// What a client saw, for the run's report.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientStats {
    pub opens: u32,
    pub failed_opens: u32,
    pub sockets_lost: u32,
    pub token_fetches: u32,
    pub token_failures: u32,
    pub throttled: u32,
}

impl std::ops::AddAssign for ClientStats {
    fn add_assign(&mut self, other: Self) {
        self.opens += other.opens;
        self.failed_opens += other.failed_opens;
        self.sockets_lost += other.sockets_lost;
        self.token_fetches += other.token_fetches;
        self.token_failures += other.token_failures;
        self.throttled += other.throttled;
    }
}

/// A mutation's answer: its request and the room's outcome (`Err`: code and message).
pub type Answer = (RequestId, Result<Json, (String, String)>);

pub struct LiveClient {
    pub index: usize,
    room: String,
    user: String,
    role: String,
    url: String,
    port: u16,
    session: Session<Json>,
    socket: Option<WebSocket<TcpStream>>,
    timers: [Option<Instant>; Timer::ALL.len()],
    dice: Dice,
    /// Chance in 1000 that a token fetch fails (the token server is down).
    pub token_failure: u32,
    clock: Instant,
    epoch_ms: f64,
    /// Transitions seen: (start ts, end ts), drained by the runner.
    pub versions: Vec<(u64, u64)>,
    /// Things a sound client never does (stops, frames the room refused).
    pub anomalies: Vec<String>,
    pub stats: ClientStats,
    answers: Vec<Answer>,
}

impl LiveClient {
    /// A client of `room` signing in as `user` with `role` (its token server signs short-lived
    /// tokens), talking to `url` through the proxy at `port`.
    pub fn new(index: usize, room: &str, user: String, role: &str, url: String, port: u16) -> Self {
        let session_id = format!("chaos-{index}-{}-0123456789", std::process::id());
        let epoch_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64);
        let mut client = Self {
            index,
            room: room.to_string(),
            user,
            role: role.to_string(),
            url,
            port,
            session: Session::new(ClientCore::new(session_id)),
            socket: None,
            timers: [None; Timer::ALL.len()],
            dice: Dice::new(index as u64 + 1),
            token_failure: 0,
            clock: Instant::now(),
            epoch_ms,
            versions: Vec::new(),
            anomalies: Vec::new(),
            stats: ClientStats::default(),
            answers: Vec::new(),
        };
        client.session.sign_in();
        client.session.start();
        client.run_effects();
        client
    }

    fn now(&self) -> f64 {
        self.epoch_ms + self.clock.elapsed().as_secs_f64() * 1000.0
    }

    pub fn subscribe(&mut self, path: &str, args: Json) -> QueryId {
        let id = self.session.subscribe(path, args).unwrap_or_else(|e| panic!("subscribe {path}: {e:?}"));
        self.run_effects();
        id
    }

    /// Asks for a mutation; `None` if the client refused it before sending (an anomaly here:
    /// every call of the run is small).
    pub fn mutation(&mut self, path: &str, args: Json) -> Option<RequestId> {
        let id = match self.session.mutation(path, args) {
            Ok(id) => Some(id),
            Err(e) => {
                self.anomalies.push(format!("client {}: {path} refused before sending: {e:?}", self.index));
                None
            }
        };
        self.run_effects();
        id
    }

    pub fn cached(&self, query: QueryId) -> Option<&Json> {
        self.session.core().cached(query).and_then(|r| r.as_ref().ok())
    }

    /// Mutations not yet answered.
    pub fn pending(&self) -> usize {
        self.session.core().pending_mutations()
    }

    pub fn is_live(&self) -> bool {
        self.session.is_live()
    }

    /// Does what is ready (due timers, arrived frames, buffered writes); returns the answers
    /// to mutations that came in, and whether anything happened.
    pub fn poll(&mut self) -> (Vec<Answer>, bool) {
        let mut busy = false;
        let now = Instant::now();
        for timer in Timer::ALL {
            if self.timers[timer.index() as usize].is_some_and(|at| at <= now) {
                self.timers[timer.index() as usize] = None;
                let (now_ms, random) = (self.now(), self.dice.unit());
                let events = self.session.timer(timer, now_ms, random);
                self.on_events(events);
                busy = true;
            }
        }
        for _ in 0..FRAMES_PER_POLL {
            let Some(ws) = self.socket.as_mut() else { break };
            match ws.read() {
                Ok(Message::Text(text)) => {
                    self.on_text(text.as_str());
                    busy = true;
                }
                Ok(Message::Close(_)) => {
                    self.lost();
                    busy = true;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.lost();
                    busy = true;
                }
            }
            self.run_effects();
        }
        if let Some(ws) = self.socket.as_mut() {
            match ws.flush() {
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => self.lost(),
                Ok(()) => {}
            }
        }
        self.run_effects();
        (std::mem::take(&mut self.answers), busy)
    }

    fn on_text(&mut self, text: &str) {
        let now_ms = self.now();
        if text == PONG {
            self.session.alive(now_ms);
            return;
        }
        let parsed = ServerMessage::parse(text);
        if let Ok(ServerMessage::Transition { start_version, end_version, .. }) = &parsed {
            self.versions.push((start_version.ts.0, end_version.ts.0));
        }
        let frame = parsed.map(Incoming::from).map_err(|m| m.0);
        let random = self.dice.unit();
        let events = self.session.received(frame, text.len(), now_ms, random);
        self.on_events(events);
    }

    /// The socket died under the session.
    fn lost(&mut self) {
        if self.socket.take().is_some() {
            self.stats.sockets_lost += 1;
            let (now_ms, random) = (self.now(), self.dice.unit());
            let events = self.session.socket_closed(now_ms, random);
            self.on_events(events);
        }
    }

    fn on_events(&mut self, events: Vec<ClientEvent<Json>>) {
        for event in events {
            match event {
                ClientEvent::Mutation { request_id, result } => {
                    let outcome = result.map_err(|e| (e.code.as_str().to_string(), e.message));
                    self.answers.push((request_id, outcome));
                }
                ClientEvent::MutationsThrottled => self.stats.throttled += 1,
                _ => {}
            }
        }
    }

    fn send(&mut self, text: String) {
        let Some(ws) = self.socket.as_mut() else { return };
        match ws.send(Message::text(text)) {
            Ok(()) => {}
            // Buffered: flushed by a later poll.
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.lost(),
        }
    }

    fn open(&mut self) -> Option<WebSocket<TcpStream>> {
        let stream = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, self.port).into(), OPEN_TIMEOUT).ok()?;
        stream.set_read_timeout(Some(OPEN_TIMEOUT)).ok()?;
        stream.set_write_timeout(Some(OPEN_TIMEOUT)).ok()?;
        let _ = stream.set_nodelay(true);
        let (ws, _) = tungstenite::client(self.url.as_str(), stream).ok()?;
        ws.get_ref().set_nonblocking(true).ok()?;
        Some(ws)
    }

    /// Carries out what the session asks for, until it asks for nothing more.
    fn run_effects(&mut self) {
        for _ in 0..1000 {
            let effects = self.session.take_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                self.effect(effect);
            }
        }
        self.anomalies.push(format!("client {}: the session kept asking for more", self.index));
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Open => {
                self.socket = None;
                self.stats.opens += 1;
                match self.open() {
                    Some(ws) => {
                        self.socket = Some(ws);
                        let now_ms = self.now();
                        self.session.socket_opened(now_ms);
                    }
                    None => {
                        self.stats.failed_opens += 1;
                        let (now_ms, random) = (self.now(), self.dice.unit());
                        let events = self.session.socket_closed(now_ms, random);
                        self.on_events(events);
                    }
                }
            }
            Effect::Drop => self.socket = None,
            Effect::Send(frame) => self.send(frame.to_json()),
            Effect::Ping => self.send(PING.to_string()),
            Effect::FetchToken { generation, .. } => {
                if self.dice.chance(self.token_failure) {
                    self.stats.token_failures += 1;
                    let random = self.dice.unit();
                    self.session.token_failed(generation, random);
                } else {
                    let token = crate::token_for(&self.room, &self.user, &self.role, TOKEN_TTL_S);
                    let credentials = Credentials { token, owner: self.user.clone() };
                    let now_ms = self.now();
                    let expires_ms = now_ms + TOKEN_TTL_S * 1000.0;
                    self.session.token_fetched(generation, Some(credentials), Some(expires_ms), now_ms);
                    self.stats.token_fetches += 1;
                }
            }
            Effect::Arm { timer, in_ms } => {
                self.timers[timer.index() as usize] =
                    Some(Instant::now() + Duration::from_secs_f64(in_ms.max(0.0) / 1000.0));
            }
            Effect::Disarm(timer) => self.timers[timer.index() as usize] = None,
            Effect::Live | Effect::AuthChanged(_) => {}
            Effect::Warn(why) if why.starts_with("server refused a frame") => {
                self.anomalies.push(format!("client {}: {why}", self.index));
            }
            Effect::Warn(_) => {}
            Effect::Stop(why) => self.anomalies.push(format!("client {} stopped: {why}", self.index)),
        }
    }
}
