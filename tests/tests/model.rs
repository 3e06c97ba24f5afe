//! Model-based property test of reactivity, over each app of the repository: random
//! subscriptions and mutations from several clients (each a real [`ClientCore`] applying the
//! frames it is sent). After every step, every live subscription's result as the client
//! holds it must equal a fresh run of its query (the oracle), every counted document must
//! exist exactly once, and every client's version chain must be unbroken and move forward.

use proptest::prelude::*;
use roomsync_shared::client::{ClientCore, ClientEvent, Frame};
use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::room::RoomLimits;
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::{ConnId, Outgoing, QueryId, RequestId, Room, RoomInput, ServerMessage, StateVersion};
use roomsync_tests::workload::{ngo::Ngo, todo::Todo, Workload};
use serde_json::Value as Json;
use std::collections::BTreeMap;

const CLIENTS: usize = 3;

#[derive(Clone, Debug)]
enum Step {
    Subscribe {
        client: usize,
        query: usize,
    },
    Unsubscribe {
        client: usize,
        nth: usize,
    },
    /// A counted create.
    Create {
        client: usize,
        variant: usize,
    },
    /// One of the workload's other mutations.
    Other {
        client: usize,
        kind: usize,
        pick: usize,
        variant: usize,
    },
    Reconnect {
        client: usize,
    },
    /// The socket dies after the room committed a create but before its answer arrived.
    CreateAnswerLost {
        client: usize,
        variant: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CLIENTS;
    prop_oneof![
        3 => (c.clone(), 0..64usize).prop_map(|(client, query)| Step::Subscribe { client, query }),
        1 => (c.clone(), 0..8usize).prop_map(|(client, nth)| Step::Unsubscribe { client, nth }),
        3 => (c.clone(), 0..8usize).prop_map(|(client, variant)| Step::Create { client, variant }),
        8 => (c.clone(), 0..64usize, 0..8usize, 0..9usize)
            .prop_map(|(client, kind, pick, variant)| Step::Other { client, kind, pick, variant }),
        1 => c.clone().prop_map(|client| Step::Reconnect { client }),
        1 => (c, 0..8usize).prop_map(|(client, variant)| Step::CreateAnswerLost { client, variant }),
    ]
}

struct Client {
    conn: ConnId,
    core: ClientCore,
    /// (query id, function, args) of live subscriptions.
    subs: Vec<(QueryId, &'static str, Json)>,
    last_version: StateVersion,
    generation: u32,
}

struct World<'w> {
    workload: &'w dyn Workload,
    room: Room<NativeSql>,
    env: TestEnvironment,
    clients: Vec<Client>,
    context: Vec<String>,
    labels: usize,
    /// Counted documents that exist by the answers clients got.
    expected: i64,
    /// What each client's outstanding mutations do to the count when they succeed.
    delta: BTreeMap<(usize, RequestId), i64>,
    /// While set, frames to this client are lost (its socket is dying).
    deaf: Option<usize>,
}

impl<'w> World<'w> {
    fn new(workload: &'w dyn Workload) -> Self {
        let room =
            Room::open(NativeSql::in_memory().unwrap(), workload.app()).unwrap().with_limits(RoomLimits::unlimited());
        let mut world = World {
            workload,
            room,
            env: TestEnvironment::new(1.7e12),
            clients: Vec::new(),
            context: Vec::new(),
            labels: 0,
            expected: 0,
            delta: BTreeMap::new(),
            deaf: None,
        };
        for i in 0..CLIENTS {
            let mut core = ClientCore::new(format!("session-{i}-0123456789abcdef"));
            let conn = ConnId::from_stored(format!("c{i}-0"));
            world.room.handle(RoomInput::Open { conn: &conn }, &mut world.env);
            let hello = core.on_open();
            world.clients.push(Client {
                conn,
                core,
                subs: Vec::new(),
                last_version: StateVersion::default(),
                generation: 0,
            });
            for frame in hello {
                world.send(i, frame);
            }
        }
        let mut mutate = |path: &str, args: Json| world_mutation(&mut world, path, args);
        let context = workload.setup(&mut mutate);
        world.context = context;
        world
    }

    /// Sends a frame from a client and routes every outgoing frame to its client's core.
    fn send(&mut self, client: usize, frame: Frame) -> Vec<ClientEvent> {
        self.env.now_ms += 1.0;
        let conn = self.clients[client].conn.clone();
        let out = self.room.handle(RoomInput::Frame { conn: &conn, text: &frame.to_json() }, &mut self.env);
        let mut own_events = Vec::new();
        for Outgoing { to, message } in out {
            let Some(target) = self.clients.iter_mut().position(|c| c.conn == to) else { continue };
            if self.deaf == Some(target) {
                continue;
            }
            if let ServerMessage::Transition { start_version, end_version, .. } = &message {
                let c = &mut self.clients[target];
                assert!(end_version.ts >= start_version.ts && end_version.query_set >= start_version.query_set);
                assert!(end_version.ts >= c.last_version.ts, "versions only move forward");
                c.last_version = *end_version;
            }
            let events = self.clients[target].core.receive(&message.to_json());
            // Every unanswered mutation fits the in-flight window here (one step, one frame).
            assert!(self.clients[target].core.flush().is_empty());
            for e in &events {
                assert!(!matches!(e, ClientEvent::ResyncRequired { .. }), "client {target} saw a gap: {e:?}");
                if let ClientEvent::Mutation { request_id, result: Ok(_) } = e {
                    self.expected += self.delta.remove(&(target, *request_id)).unwrap_or(0);
                }
            }
            if target == client {
                own_events.extend(events);
            }
        }
        own_events
    }

    fn mutation(&mut self, client: usize, path: &str, args: Json) -> Option<Json> {
        let (request_id, frame) = self.clients[client].core.mutation(path, args).unwrap();
        self.delta.insert((client, request_id), self.workload.count_delta(path));
        let events = self.send(client, frame.expect("connected"));
        events.into_iter().find_map(|e| match e {
            ClientEvent::Mutation { request_id: r, result } if r == request_id => result.ok(),
            _ => None,
        })
    }

    fn lookup(&self) -> impl Fn(&str, &Json) -> Json + '_ {
        |path: &str, args: &Json| self.room.query_once(path, args).unwrap_or_else(|e| panic!("{path} {args}: {e}"))
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Subscribe { client, query } => {
                let queries = self.workload.queries(&self.context);
                let (path, args) = queries[query % queries.len()].clone();
                let (query_id, frame) = self.clients[client].core.subscribe(path, args.clone()).unwrap();
                self.clients[client].subs.push((query_id, path, args));
                // An identical subscription shares the live one: nothing to send.
                if let Some(frame) = frame {
                    self.send(client, frame);
                }
            }
            Step::Unsubscribe { client, nth } => {
                let subs = &mut self.clients[client].subs;
                if subs.is_empty() {
                    return;
                }
                let (query_id, _, _) = subs.remove(nth % subs.len());
                if let Some(frame) = self.clients[client].core.unsubscribe(query_id) {
                    self.send(client, frame);
                }
            }
            Step::Create { client, variant } => {
                self.labels += 1;
                let (path, args) = self.workload.create(&self.context, &format!("made {}", self.labels), variant);
                self.mutation(client, path, args);
            }
            Step::Other { client, kind, pick, variant } => {
                let kind = kind % self.workload.other_kinds();
                let other = self.workload.other(&self.context, kind, pick, variant, &self.lookup());
                if let Some((path, args)) = other {
                    self.mutation(client, path, args);
                }
            }
            Step::CreateAnswerLost { client, variant } => {
                self.deaf = Some(client);
                self.labels += 1;
                let (path, args) = self.workload.create(&self.context, &format!("lost {}", self.labels), variant);
                self.mutation(client, path, args);
                self.deaf = None;
                // The client reconnects and re-sends; the room must not create it twice.
                self.apply(&Step::Reconnect { client });
            }
            Step::Reconnect { client } => {
                let old = self.clients[client].conn.clone();
                self.room.handle(RoomInput::Close { conn: &old }, &mut self.env);
                self.clients[client].core.on_close();
                let c = &mut self.clients[client];
                c.generation += 1;
                c.conn = ConnId::from_stored(format!("c{client}-{}", c.generation));
                c.last_version = StateVersion::default();
                let conn = c.conn.clone();
                self.room.handle(RoomInput::Open { conn: &conn }, &mut self.env);
                for frame in self.clients[client].core.on_open() {
                    self.send(client, frame);
                }
            }
        }
    }

    fn check_oracle(&self) {
        let lookup = self.lookup();
        assert_eq!(self.workload.counted(&lookup).len() as i64, self.expected, "every counted document exactly once");
        for (i, client) in self.clients.iter().enumerate() {
            for (query_id, path, args) in &client.subs {
                let fresh = lookup(path, args);
                let held = client.core.cached(*query_id).cloned().and_then(Result::ok);
                assert_eq!(held.as_ref(), Some(&fresh), "client {i} query {query_id} {path} {args}");
            }
        }
    }
}

/// A setup mutation by client 0 (trusted: rooms here run without token checks).
fn world_mutation(world: &mut World<'_>, path: &str, args: Json) -> Json {
    world.mutation(0, path, args.clone()).unwrap_or_else(|| panic!("setup {path} {args} failed"))
}

fn run(workload: &dyn Workload, steps: &[Step]) {
    let mut world = World::new(workload);
    for step in steps {
        world.apply(step);
        world.check_oracle();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn ngo_app_every_subscription_matches_a_fresh_run_after_every_step(steps in prop::collection::vec(step(), 1..120)) {
        run(&Ngo, &steps);
    }

    #[test]
    fn todo_app_every_subscription_matches_a_fresh_run_after_every_step(steps in prop::collection::vec(step(), 1..120)) {
        run(&Todo, &steps);
    }
}
