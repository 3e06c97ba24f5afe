//! Whole client sessions against a real room, over a lossy network, in virtual time — each
//! app of the repository. The clients are [`Session`]s (the same state machine the browser
//! driver runs); this file is their host: it carries out their [`Effect`]s (sockets with
//! latency, a token server, timers) and injects faults:
//! - sockets that die with frames in flight both ways, and sockets that fail to open;
//! - a token server that is down for stretches (fetches throw), slow, and now and then hands
//!   out a token that has already expired (the room refuses it);
//! - tokens that expire during the run (so they are refreshed);
//! - a small mutation allowance (so the room throttles);
//! - page reloads: a client replaced by a new one that restores the old one's saved outbox.
//!
//! Then the network heals, the run goes on until every client is quiet, and the checks are:
//! every create the application asked for is in the room exactly once; no mutation was ever
//! refused — in particular none `UNAUTHENTICATED` (never sent signed out) and none throttled
//! for good; every client's live results equal a fresh run; every client signed in again.

use proptest::prelude::*;
use roomsync_shared::auth::{sign, Claims, TokenVerifier};
use roomsync_shared::client::frame::Incoming;
use roomsync_shared::client::session::{Effect, Session, Timer};
use roomsync_shared::client::{ClientCore, ClientEvent, Credentials};
use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::room::{AuthPolicy, RoomLimits};
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::{ConnId, Room, RoomInput, ServerMessage};
use roomsync_tests::dice::Dice;
use roomsync_tests::workload::{ngo::Ngo, todo::Todo, Workload};
use serde_json::{json, Value as Json};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

const SECRET: &[u8] = b"session-suite-secret-of-32-bytes!!";
const ROOM: &str = "sessions";
const START_MS: f64 = 1_800_000_000_000.0;
/// How long the tokens the token server signs live (short, so they are refreshed).
const TOKEN_TTL_MS: f64 = 8_000.0;
const CLIENTS: usize = 3;

/// Where the dice fell for one run.
#[derive(Clone, Debug)]
struct Plan {
    seed: u64,
    /// Creates each client asks for.
    creates: usize,
    /// Chance in 1000 that an action kills a socket.
    kill: u32,
    /// Chance in 1000 that an action reloads the page.
    reload: u32,
    /// Stretches (start, length in ms from the run's start) when the token server is down.
    outages: Vec<(u64, u64)>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (any::<u64>(), 8usize..30, 0u32..120, 0u32..60, prop::collection::vec((0u64..20_000, 1000u64..15_000), 0..3))
        .prop_map(|(seed, creates, kill, reload, outages)| Plan { seed, creates, kill, reload, outages })
}

#[derive(Clone, Debug)]
enum Event {
    /// A client's timer, if still armed with this arming.
    Timer { client: usize, timer: Timer, arming: u64 },
    /// The socket a client asked for opened (or failed to).
    Opened { client: usize, socket: u64, ok: bool },
    /// A frame reaches the room from a socket.
    ToRoom { client: usize, socket: u64, text: String },
    /// A frame (or `pong`) reaches a client's socket.
    ToClient { client: usize, socket: u64, text: String },
    /// The room learns that a socket closed.
    RoomClose { conn: ConnId },
    /// The client learns that its socket closed.
    ClientClose { client: usize, socket: u64 },
    /// The token server answers a fetch.
    Token { client: usize, incarnation: u64, generation: u32, answer: Option<Option<(String, f64)>> },
    /// The application does something.
    Act { client: usize },
    /// The saved outbox of a new page has been read.
    Restore { client: usize, incarnation: u64, saved: Option<roomsync_shared::client::frame::Outbox> },
}

struct Client {
    user: String,
    session: Session<Json>,
    /// Bumped by each reload: answers meant for the page before are lost with it.
    incarnation: u64,
    socket: Option<u64>,
    timers: BTreeMap<u32, u64>,
    /// Live queries: (query id, function, args).
    subs: Vec<(u32, &'static str, Json)>,
    creates_left: usize,
    signed_in: bool,
    /// The page has read its saved outbox: from then on it saves its own (as the driver's
    /// IndexedDB record), after every step.
    restored: bool,
    /// The saved outbox record (IndexedDB), which outlives pages.
    record: Option<roomsync_shared::client::frame::Outbox>,
    /// Writes made before the page read its saved outbox: not saved yet, so a reload then
    /// loses them (they were never sent either: the socket waits for the outbox).
    unsaved: Vec<String>,
}

struct World<'w> {
    workload: &'w dyn Workload,
    plan: Plan,
    dice: Dice,
    room: Room<NativeSql>,
    env: TestEnvironment,
    now: f64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Event>,
    seq: u64,
    clients: Vec<Client>,
    context: Vec<String>,
    /// Per socket: when its last frame in each direction arrives (frames stay in order).
    last_arrival: BTreeMap<(u64, bool), f64>,
    healed: bool,
    labels_asked: Vec<String>,
    /// Creates made by a page that reloaded before it had read its saved outbox.
    lost_with_page: Vec<String>,
    label_seq: usize,
    refusals: Vec<String>,
    stats: Stats,
}

#[derive(Default, Debug)]
struct Stats {
    sockets_killed: u32,
    reloads: u32,
    token_fetches: u32,
    token_failures: u32,
    expired_tokens: u32,
    throttled: u32,
    mutations_answered: u32,
}

fn conn(socket: u64) -> ConnId {
    ConnId::from_stored(format!("s{socket}"))
}

impl<'w> World<'w> {
    fn new(workload: &'w dyn Workload, plan: Plan) -> Self {
        let app = workload.app();
        let limits = RoomLimits { mutations_per_second: 4.0, mutation_burst: 6.0, ..RoomLimits::unlimited() };
        let mut room = Room::open(NativeSql::in_memory().expect("SQLite opens"), app.clone())
            .expect("the room opens")
            .with_limits(limits);
        let mut env = TestEnvironment::new(START_MS);
        // The workload's setup, trusted, before tokens are checked.
        let setup = ConnId::from_stored("setup".to_string());
        room.handle(RoomInput::Open { conn: &setup }, &mut env);
        let hello = json!({"type": "connect", "sessionId": "setup-session-0123456789"});
        room.handle(RoomInput::Frame { conn: &setup, text: &hello.to_string() }, &mut env);
        let mut next = 0u32;
        let mut mutate = |path: &str, args: Json| -> Json {
            next += 1;
            let frame = json!({"type": "mutation", "requestId": next, "udfPath": path, "args": args});
            room.handle(RoomInput::Frame { conn: &setup, text: &frame.to_string() }, &mut env)
                .into_iter()
                .find_map(|o| match o.message {
                    ServerMessage::MutationResponse {
                        outcome: roomsync_shared::protocol::MutationOutcome::Success { result, .. },
                        ..
                    } => Some(result),
                    _ => None,
                })
                .unwrap_or(Json::Null)
        };
        let context = workload.setup(&mut mutate);
        room.handle(RoomInput::Close { conn: &setup }, &mut env);
        room.set_auth(AuthPolicy::Tokens(TokenVerifier::new(SECRET.to_vec(), ROOM, *app.roles())));
        let dice = Dice::new(plan.seed);
        let mut world = World {
            workload,
            dice,
            room,
            env,
            now: START_MS,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            seq: 0,
            clients: Vec::new(),
            context,
            last_arrival: BTreeMap::new(),
            healed: false,
            labels_asked: Vec::new(),
            lost_with_page: Vec::new(),
            label_seq: 0,
            refusals: Vec::new(),
            stats: Stats::default(),
            plan,
        };
        for i in 0..CLIENTS {
            let creates = world.plan.creates;
            world.clients.push(Client {
                user: format!("user-{i}"),
                session: Session::new(ClientCore::new(format!("session-{i}-0-0123456789abcdef"))),
                incarnation: 0,
                socket: None,
                timers: BTreeMap::new(),
                subs: Vec::new(),
                creates_left: creates,
                signed_in: false,
                restored: false,
                record: None,
                unsaved: Vec::new(),
            });
            world.boot(i, None);
        }
        world
    }

    fn at(&mut self, in_ms: f64, event: Event) {
        self.seq += 1;
        let due = (self.now + in_ms.max(0.0)).round() as u64;
        self.queue.push(Reverse((due, self.seq)));
        self.events.insert(self.seq, event);
    }

    /// A new page for client `i` (a saved outbox from the page before, on a reload).
    fn boot(&mut self, i: usize, saved: Option<roomsync_shared::client::frame::Outbox>) {
        let c = &mut self.clients[i];
        c.session.outbox_loading(true, self.now);
        c.session.sign_in();
        c.session.start();
        // The saved outbox is read a little later (IndexedDB): the socket waits for it, and
        // writes made meanwhile follow it under new ids.
        let (incarnation, reading) = (c.incarnation, 20.0 + self.dice.below(600) as f64);
        self.at(reading, Event::Restore { client: i, incarnation, saved });
        let queries = self.workload.queries(&self.context);
        for k in 0..2 {
            let (path, args) = queries[(i + k * 3) % queries.len()].clone();
            let query_id = self.clients[i].session.subscribe(path, args.clone()).expect("subscribes");
            self.clients[i].subs.push((query_id, path, args));
        }
        self.run_effects(i);
        let first = 50.0 + self.dice.below(500) as f64;
        self.at(first, Event::Act { client: i });
    }

    /// `event` after one network latency (and `extra` ms).
    fn later(&mut self, extra: f64, event: Event) {
        let latency = self.latency();
        self.at(latency + extra, event);
    }

    fn latency(&mut self) -> f64 {
        1.0 + self.dice.below(if self.healed { 20 } else { 120 }) as f64
    }

    /// Carries out what client `i`'s session asks for.
    fn run_effects(&mut self, i: usize) {
        let effects = self.clients[i].session.take_effects();
        for effect in effects {
            match effect {
                Effect::Open => {
                    if let Some(old) = self.clients[i].socket.take() {
                        self.later(0.0, Event::RoomClose { conn: conn(old) });
                    }
                    self.seq += 1;
                    let socket = self.seq;
                    self.clients[i].socket = Some(socket);
                    let ok = self.healed || !self.dice.chance(100);
                    if ok {
                        let c = conn(socket);
                        self.room.handle(RoomInput::Open { conn: &c }, &mut self.env);
                    }
                    let latency = self.latency();
                    self.at(latency, Event::Opened { client: i, socket, ok });
                }
                Effect::Drop => {
                    if let Some(old) = self.clients[i].socket.take() {
                        self.later(0.0, Event::RoomClose { conn: conn(old) });
                    }
                }
                Effect::Send(frame) => self.send_to_room(i, frame.to_json()),
                Effect::Ping => self.send_to_room(i, "ping".into()),
                Effect::FetchToken { generation, .. } => {
                    self.stats.token_fetches += 1;
                    let incarnation = self.clients[i].incarnation;
                    let answer = self.token_answer(i);
                    let delay = 5.0 + self.dice.below(300) as f64;
                    self.at(delay, Event::Token { client: i, incarnation, generation, answer });
                }
                Effect::Arm { timer, in_ms } => {
                    self.seq += 1;
                    let arming = self.seq;
                    self.clients[i].timers.insert(timer.index(), arming);
                    self.at(in_ms, Event::Timer { client: i, timer, arming });
                }
                Effect::Disarm(timer) => {
                    self.clients[i].timers.remove(&timer.index());
                }
                Effect::Live => {}
                Effect::AuthChanged(accepted) => self.clients[i].signed_in = accepted,
                // The room refusing a frame means the client sent one it should not have (a
                // query before its sign-in, say).
                Effect::Warn(why) if why.starts_with("server refused a frame") => {
                    self.refusals.push(format!("client {i}: {why}"));
                }
                Effect::Warn(_) => {}
                Effect::Stop(why) => panic!("client {i} stopped: {why}"),
            }
        }
    }

    /// What the token server answers now: a token, `None` while it is down, or now and then
    /// one already expired.
    fn token_answer(&mut self, i: usize) -> Option<Option<(String, f64)>> {
        let since = (self.now - START_MS) as u64;
        let down = !self.healed && self.plan.outages.iter().any(|(start, len)| since >= *start && since < start + len);
        if down {
            self.stats.token_failures += 1;
            return None;
        }
        let expired = !self.healed && self.dice.chance(50);
        if expired {
            self.stats.expired_tokens += 1;
        }
        let exp_ms = if expired { self.now - 1000.0 } else { self.now + TOKEN_TTL_MS };
        let role = self.workload.app().roles().strongest().as_str().to_string();
        let claims =
            Claims { sub: self.clients[i].user.clone(), role, room: ROOM.into(), exp: exp_ms / 1000.0, name: None };
        Some(Some((sign(&claims, SECRET), exp_ms)))
    }

    fn send_to_room(&mut self, i: usize, text: String) {
        let Some(socket) = self.clients[i].socket else { return };
        let arrive = (self.now + self.latency()).max(self.last_arrival.get(&(socket, true)).copied().unwrap_or(0.0));
        self.last_arrival.insert((socket, true), arrive);
        self.at(arrive - self.now, Event::ToRoom { client: i, socket, text });
    }

    fn send_to_client(&mut self, i: usize, socket: u64, text: String) {
        let arrive = (self.now + self.latency()).max(self.last_arrival.get(&(socket, false)).copied().unwrap_or(0.0));
        self.last_arrival.insert((socket, false), arrive);
        self.at(arrive - self.now, Event::ToClient { client: i, socket, text });
    }

    fn owner_of(&self, c: &ConnId) -> Option<(usize, u64)> {
        let socket: u64 = c.as_str().strip_prefix('s')?.parse().ok()?;
        let i = self.clients.iter().position(|cl| cl.socket == Some(socket))?;
        Some((i, socket))
    }

    fn events_for(&mut self, i: usize, events: Vec<ClientEvent<Json>>) {
        for event in events {
            if let ClientEvent::Mutation { result, .. } = event {
                self.stats.mutations_answered += 1;
                if let Err(e) = result {
                    self.refusals.push(format!("client {i}: {} {}", e.code.as_str(), e.message));
                }
            } else if let ClientEvent::MutationsThrottled = event {
                self.stats.throttled += 1;
            }
        }
    }

    fn step(&mut self) -> bool {
        let Some(Reverse((due, seq))) = self.queue.pop() else { return false };
        self.now = self.now.max(due as f64);
        self.env.now_ms = self.now;
        let Some(event) = self.events.remove(&seq) else { return true };
        match event {
            Event::Timer { client, timer, arming } => {
                if self.clients[client].timers.get(&timer.index()) == Some(&arming) {
                    self.clients[client].timers.remove(&timer.index());
                    let random = self.dice.unit();
                    let events = self.clients[client].session.timer(timer, self.now, random);
                    self.events_for(client, events);
                }
            }
            Event::Opened { client, socket, ok } => {
                if self.clients[client].socket == Some(socket) {
                    if ok {
                        self.clients[client].session.socket_opened(self.now);
                    } else {
                        self.clients[client].socket = None;
                        let random = self.dice.unit();
                        let events = self.clients[client].session.socket_closed(self.now, random);
                        self.events_for(client, events);
                    }
                }
            }
            Event::ToRoom { client, socket, text } => {
                if self.clients[client].socket != Some(socket) {
                    return true; // the socket is gone: so is what it carried
                }
                if text == "ping" {
                    self.send_to_client(client, socket, "pong".into());
                    return true;
                }
                let c = conn(socket);
                let out = self.room.handle(RoomInput::Frame { conn: &c, text: &text }, &mut self.env);
                for o in out {
                    let closes = o.closes_connection();
                    if let Some((i, s)) = self.owner_of(&o.to) {
                        self.send_to_client(i, s, o.message.to_json());
                        if closes {
                            self.later(1.0, Event::ClientClose { client: i, socket: s });
                        }
                    }
                }
            }
            Event::ToClient { client, socket, text } => {
                if self.clients[client].socket != Some(socket) {
                    return true;
                }
                if text == "pong" {
                    self.clients[client].session.alive(self.now);
                } else {
                    let frame: Result<Incoming<Json>, String> =
                        ServerMessage::parse(&text).map(Incoming::from).map_err(|m| m.0);
                    let random = self.dice.unit();
                    let events = self.clients[client].session.received(frame, text.len(), self.now, random);
                    self.events_for(client, events);
                }
            }
            Event::RoomClose { conn } => {
                self.room.handle(RoomInput::Close { conn: &conn }, &mut self.env);
            }
            Event::ClientClose { client, socket } => {
                if self.clients[client].socket == Some(socket) {
                    self.clients[client].socket = None;
                    self.later(0.0, Event::RoomClose { conn: conn(socket) });
                    let random = self.dice.unit();
                    let events = self.clients[client].session.socket_closed(self.now, random);
                    self.events_for(client, events);
                }
            }
            Event::Token { client, incarnation, generation, answer } => {
                if self.clients[client].incarnation != incarnation {
                    return true; // the page that asked is gone
                }
                let owner = self.clients[client].user.clone();
                let session = &mut self.clients[client].session;
                match answer {
                    Some(Some((token, exp))) => {
                        session.token_fetched(generation, Some(Credentials { token, owner }), Some(exp), self.now);
                    }
                    Some(None) => session.token_fetched(generation, None, None, self.now),
                    None => {
                        let random = self.dice.unit();
                        session.token_failed(generation, random);
                    }
                }
            }
            Event::Act { client } => self.act(client),
            Event::Restore { client, incarnation, saved } => {
                if self.clients[client].incarnation == incarnation {
                    let c = &mut self.clients[client];
                    if let Some(outbox) = saved {
                        c.session.restore(outbox).expect("the saved outbox restores");
                    }
                    c.session.outbox_loading(false, self.now);
                    c.restored = true;
                    self.labels_asked.append(&mut c.unsaved);
                }
            }
        }
        self.run_effects_all();
        true
    }

    fn run_effects_all(&mut self) {
        for i in 0..self.clients.len() {
            self.run_effects(i);
            let c = &mut self.clients[i];
            if c.restored {
                let outbox = c.session.core().outbox();
                c.record = (!outbox.is_empty()).then_some(outbox);
            }
        }
    }

    /// The application does one thing, and a fault may strike.
    fn act(&mut self, i: usize) {
        if !self.healed && self.dice.chance(self.plan.kill) {
            if let Some(socket) = self.clients[i].socket {
                self.stats.sockets_killed += 1;
                // Both ends learn late; frames in flight are lost.
                self.clients[i].socket = None;
                self.later(0.0, Event::RoomClose { conn: conn(socket) });
                let random = self.dice.unit();
                let events = self.clients[i].session.socket_closed(self.now, random);
                self.events_for(i, events);
            }
        }
        if !self.healed && self.dice.chance(self.plan.reload) {
            self.reload(i);
        }
        if self.clients[i].creates_left > 0 {
            // Mostly one write; now and then a burst past the room's allowance (throttled,
            // then sent again).
            let burst = if self.dice.chance(150) { 12 } else { 1 };
            for _ in 0..burst.min(self.clients[i].creates_left) {
                self.clients[i].creates_left -= 1;
                self.label_seq += 1;
                let label = format!("c{i}-{}", self.label_seq);
                let variant = self.dice.below(8) as usize;
                let (path, args) = self.workload.create(&self.context, &label, variant);
                match self.clients[i].session.mutation(path, args) {
                    Ok(_) if self.clients[i].restored => self.labels_asked.push(label),
                    Ok(_) => self.clients[i].unsaved.push(label),
                    Err(e) => self.refusals.push(format!("client {i} create refused before sending: {}", e.message)),
                }
            }
            let next = 100.0 + self.dice.below(2000) as f64;
            self.at(next, Event::Act { client: i });
        }
    }

    /// The page reloads: the old one's socket and answers are gone; the new one continues
    /// its session from the saved outbox.
    fn reload(&mut self, i: usize) {
        self.stats.reloads += 1;
        if let Some(socket) = self.clients[i].socket.take() {
            self.later(0.0, Event::RoomClose { conn: conn(socket) });
        }
        let c = &mut self.clients[i];
        c.incarnation += 1;
        c.timers.clear();
        c.subs.clear();
        c.signed_in = false;
        c.restored = false;
        // Writes of a page that had not read its saved outbox yet were never saved: lost
        // with it (and never sent). Everything else is in the record the new page reads.
        self.lost_with_page.append(&mut c.unsaved);
        c.session = Session::new(ClientCore::new(format!("session-{i}-{}-0123456789abcdef", c.incarnation)));
        let saved = c.record.clone();
        self.boot(i, saved);
    }

    fn quiet(&self) -> bool {
        let network_idle = || {
            !self.events.values().any(|e| {
                matches!(e, Event::ToRoom { .. } | Event::ToClient { .. } | Event::Token { .. } | Event::Opened { .. })
            })
        };
        self.clients.iter().all(|c| {
            c.creates_left == 0
                && c.session.is_live()
                && c.signed_in
                && c.session.core().pending_mutations() == 0
                && !c.session.is_fetching_token()
        }) && network_idle()
    }
}

fn run(workload: &dyn Workload, plan: Plan) -> Stats {
    let mut world = World::new(workload, plan.clone());
    // Faults for a while, then a healed network until everyone is quiet.
    let mut steps = 0u64;
    while world.step() {
        steps += 1;
        if !world.healed && (world.now - START_MS > 240_000.0 || world.clients.iter().all(|c| c.creates_left == 0)) {
            world.healed = true;
            // Every client gets a sign of life: a wake (online again).
            for i in 0..CLIENTS {
                world.clients[i].session.wake(false);
            }
            world.run_effects_all();
        }
        if world.healed && world.quiet() {
            break;
        }
        assert!(steps < 2_000_000 && world.now - START_MS < 3_600_000.0, "no quiet after {steps} steps: {plan:?}");
    }
    assert!(world.quiet(), "the run ended before every client was quiet: {plan:?} {:?}", world.stats);
    assert!(world.refusals.is_empty(), "mutations refused: {:?} ({plan:?})", world.refusals);
    let lookup = |path: &str, args: &Json| world.room.query_once(path, args).unwrap_or_else(|e| panic!("{path}: {e}"));
    let counted = world.workload.counted(&lookup);
    for label in &world.lost_with_page {
        let copies = counted.iter().filter(|(_, l)| l == label).count();
        assert_eq!(copies, 0, "create {label:?}, never sent, is in the room {copies} times ({plan:?})");
    }
    for label in &world.labels_asked {
        let copies = counted.iter().filter(|(_, l)| l == label).count();
        assert_eq!(copies, 1, "create {label:?} is in the room {copies} times ({plan:?}, {:?})", world.stats);
    }
    for (i, client) in world.clients.iter().enumerate() {
        for (query_id, path, args) in &client.subs {
            let held = client.session.core().cached(*query_id).cloned().and_then(Result::ok);
            let fresh = lookup(path, args);
            let rows = |v: &Json| v.as_array().map_or(1, Vec::len);
            assert!(
                held.as_ref() == Some(&fresh),
                "client {i}'s {path} {args} is not the room's: {:?} rows held, {} in the room ({plan:?})",
                held.as_ref().map(rows),
                rows(&fresh)
            );
        }
    }
    world.stats
}

/// Runs the plans (deterministically seeded, so the check that every kind of fault
/// happened is stable; `ROOMSYNC_SESSION_CASES` runs more) and checks each kind of fault
/// struck at least once over the run.
fn run_cases(workload: &dyn Workload) {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let cases = std::env::var("ROOMSYNC_SESSION_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(12);
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let totals = std::cell::RefCell::new(Stats::default());
    runner
        .run(&plan(), |plan| {
            let stats = run(workload, plan);
            let mut t = totals.borrow_mut();
            t.sockets_killed += stats.sockets_killed;
            t.reloads += stats.reloads;
            t.token_fetches += stats.token_fetches;
            t.token_failures += stats.token_failures;
            t.expired_tokens += stats.expired_tokens;
            t.throttled += stats.throttled;
            t.mutations_answered += stats.mutations_answered;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let t = totals.into_inner();
    eprintln!("session runs: {cases} plans, {t:?}");
    for (fault, count) in [
        ("sockets killed", t.sockets_killed),
        ("page reloads", t.reloads),
        ("token fetches failed", t.token_failures),
        ("expired tokens handed out", t.expired_tokens),
        ("throttled bursts", t.throttled),
    ] {
        assert!(count > 0, "no {fault} in {cases} plans: the suite would not have tested it");
    }
}

#[test]
fn reference_app_sessions_lose_nothing_through_faults() {
    run_cases(&Ngo);
}

#[test]
fn todo_app_sessions_lose_nothing_through_faults() {
    run_cases(&Todo);
}
