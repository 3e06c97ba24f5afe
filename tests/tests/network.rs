//! The client state machine against the room over a simulated, unreliable network, over
//! each app of the repository: frames wait in per-socket queues and are delivered in random
//! interleavings across clients and directions, sockets die with frames in flight (both
//! ways), clients reconnect at random moments, and time passes. After every run the network
//! heals (everyone reconnects, every queue drains) and then:
//! - every mutation a client requested was answered exactly once, and every counted create
//!   committed exactly once;
//! - every client's live results equal a fresh run of their queries (convergence);
//! - every client's version only ever moved forward within a connection.

use proptest::prelude::*;
use roomsync_shared::client::{ClientCore, ClientEvent, Frame};
use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::protocol::MutationOutcome;
use roomsync_shared::room::RoomLimits;
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::{ConnId, QueryId, RequestId, Room, RoomInput, ServerMessage, StateVersion};
use roomsync_tests::workload::{ngo::Ngo, todo::Todo, Workload};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, VecDeque};

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
    Create {
        client: usize,
        variant: usize,
    },
    Other {
        client: usize,
        kind: usize,
        pick: usize,
        variant: usize,
    },
    /// Up to `n` frames from the client reach the room.
    DeliverToRoom {
        client: usize,
        n: usize,
    },
    /// Up to `n` frames from the room reach the client.
    DeliverToClient {
        client: usize,
        n: usize,
    },
    /// The socket dies: everything in flight, both ways, is lost.
    Drop {
        client: usize,
    },
    /// A dropped client opens a new socket.
    Connect {
        client: usize,
    },
    Tick {
        ms: u32,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CLIENTS;
    prop_oneof![
        2 => (c.clone(), 0..64usize).prop_map(|(client, query)| Step::Subscribe { client, query }),
        1 => (c.clone(), 0..4usize).prop_map(|(client, nth)| Step::Unsubscribe { client, nth }),
        3 => (c.clone(), 0..8usize).prop_map(|(client, variant)| Step::Create { client, variant }),
        2 => (c.clone(), 0..64usize, 0..6usize, 0..9usize)
            .prop_map(|(client, kind, pick, variant)| Step::Other { client, kind, pick, variant }),
        5 => (c.clone(), 1..4usize).prop_map(|(client, n)| Step::DeliverToRoom { client, n }),
        5 => (c.clone(), 1..4usize).prop_map(|(client, n)| Step::DeliverToClient { client, n }),
        1 => c.clone().prop_map(|client| Step::Drop { client }),
        2 => c.prop_map(|client| Step::Connect { client }),
        1 => (1..3000u32).prop_map(|ms| Step::Tick { ms }),
    ]
}

struct NetClient {
    core: ClientCore,
    conn: Option<ConnId>,
    generation: u32,
    to_room: VecDeque<String>,
    to_client: VecDeque<String>,
    subs: Vec<QueryId>,
    /// Answers per request id (must end up exactly one each).
    answers: BTreeMap<RequestId, Vec<Result<Json, String>>>,
    requested: Vec<Requested>,
    last_version: StateVersion,
}

/// A mutation a client requested: the label a counted create makes (it must succeed), what
/// a success does to the number of counted documents, and the label of the counted document
/// a removal takes away.
struct Requested {
    id: RequestId,
    creates: Option<String>,
    delta: i64,
    removes: Option<String>,
}

struct Net<'w> {
    workload: &'w dyn Workload,
    room: Room<NativeSql>,
    env: TestEnvironment,
    clients: Vec<NetClient>,
    context: Vec<String>,
    labels: Vec<String>,
}

impl<'w> Net<'w> {
    fn new(workload: &'w dyn Workload) -> Self {
        let mut room =
            Room::open(NativeSql::in_memory().unwrap(), workload.app()).unwrap().with_limits(RoomLimits::unlimited());
        let mut env = TestEnvironment::new(1_800_000_000_000.0);
        let setup = ConnId::from_stored("setup".into());
        let hello = json!({"type": "connect", "sessionId": "net-setup-0123456789"});
        room.handle(RoomInput::Frame { conn: &setup, text: &hello.to_string() }, &mut env);
        let mut request = 0;
        let mut mutate = |path: &str, args: Json| {
            request += 1;
            let frame = json!({"type": "mutation", "requestId": request, "udfPath": path, "args": args});
            let out = room.handle(RoomInput::Frame { conn: &setup, text: &frame.to_string() }, &mut env);
            match out.into_iter().last().map(|o| o.message) {
                Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, .. }, .. }) => {
                    result
                }
                other => panic!("setup {path}: {other:?}"),
            }
        };
        let context = workload.setup(&mut mutate);
        let clients = (0..CLIENTS)
            .map(|i| NetClient {
                core: ClientCore::new(format!("net-session-{i}-0123456789")),
                conn: None,
                generation: 0,
                to_room: VecDeque::new(),
                to_client: VecDeque::new(),
                subs: Vec::new(),
                answers: BTreeMap::new(),
                requested: Vec::new(),
                last_version: StateVersion::default(),
            })
            .collect();
        let mut net = Self { workload, room, env, clients, context, labels: Vec::new() };
        for client in 0..CLIENTS {
            net.connect(client);
        }
        net
    }

    fn send(&mut self, client: usize, frame: Option<Frame>) {
        let c = &mut self.clients[client];
        if let (Some(frame), Some(_)) = (frame, &c.conn) {
            c.to_room.push_back(frame.to_json());
        }
    }

    fn connect(&mut self, client: usize) {
        if self.clients[client].conn.is_some() {
            return;
        }
        let c = &mut self.clients[client];
        c.generation += 1;
        let conn = ConnId::from_stored(format!("c{client}-{}", c.generation));
        self.room.handle(RoomInput::Open { conn: &conn }, &mut self.env);
        c.conn = Some(conn);
        c.last_version = StateVersion::default();
        let frames = c.core.on_open();
        c.to_room.extend(frames.iter().map(Frame::to_json));
    }

    fn drop_socket(&mut self, client: usize) {
        let c = &mut self.clients[client];
        let Some(conn) = c.conn.take() else { return };
        c.to_room.clear();
        c.to_client.clear();
        c.core.on_close();
        self.room.handle(RoomInput::Close { conn: &conn }, &mut self.env);
    }

    fn deliver_to_room(&mut self, client: usize, n: usize) {
        for _ in 0..n {
            let Some(conn) = self.clients[client].conn.clone() else { return };
            let Some(text) = self.clients[client].to_room.pop_front() else { return };
            self.env.now_ms += 1.0;
            for out in self.room.handle(RoomInput::Frame { conn: &conn, text: &text }, &mut self.env) {
                if let Some(target) = self.clients.iter_mut().find(|c| c.conn.as_ref() == Some(&out.to)) {
                    target.to_client.push_back(out.message.to_json());
                }
            }
        }
    }

    fn deliver_to_client(&mut self, client: usize, n: usize) {
        for _ in 0..n {
            let Some(text) = self.clients[client].to_client.pop_front() else { return };
            let c = &mut self.clients[client];
            let events = c.core.receive(&text);
            // The in-flight window moved: queued mutations may go out now.
            let more = c.core.flush();
            c.to_room.extend(more.iter().map(Frame::to_json));
            let version = c.core.version();
            assert!(
                (version.query_set, version.identity, version.ts)
                    >= (c.last_version.query_set, c.last_version.identity, c.last_version.ts),
                "client {client}: version went back from {:?} to {version:?}",
                c.last_version
            );
            c.last_version = version;
            for event in events {
                match event {
                    ClientEvent::Mutation { request_id, result } => {
                        c.answers.entry(request_id).or_default().push(result.map_err(|e| e.message));
                    }
                    ClientEvent::ResyncRequired { reason } => panic!("client {client}: unexpected resync: {reason}"),
                    ClientEvent::MutationsThrottled => panic!("client {client}: throttled with unlimited limits"),
                    _ => {}
                }
            }
        }
    }

    fn mutate(&mut self, client: usize, path: &str, args: Json, creates: Option<String>) {
        let delta = self.workload.count_delta(path);
        let removes = if delta < 0 { self.label_of(&args["id"]) } else { None };
        let (id, frame) = self.clients[client].core.mutation(path, args).unwrap();
        self.clients[client].requested.push(Requested { id, creates, delta, removes });
        self.send(client, frame);
    }

    /// The label of the counted document with this id, as the room holds it now.
    fn label_of(&self, id: &Json) -> Option<String> {
        let lookup = |path: &str, args: &Json| self.room.query_once(path, args).unwrap_or(Json::Null);
        self.workload.counted(&lookup).into_iter().find(|(i, _)| i == id).map(|(_, label)| label)
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Subscribe { client, query } => {
                let queries = self.workload.queries(&self.context);
                let (path, args) = queries[query % queries.len()].clone();
                let (query_id, frame) = self.clients[client].core.subscribe(path, args).unwrap();
                self.clients[client].subs.push(query_id);
                self.send(client, frame);
            }
            Step::Unsubscribe { client, nth } => {
                let subs = &mut self.clients[client].subs;
                if subs.is_empty() {
                    return;
                }
                let query_id = subs.remove(nth % subs.len());
                let frame = self.clients[client].core.unsubscribe(query_id);
                self.send(client, frame);
            }
            Step::Create { client, variant } => {
                let label = format!("made {}", self.labels.len());
                self.labels.push(label.clone());
                let (path, args) = self.workload.create(&self.context, &label, variant);
                self.mutate(client, path, args, Some(label));
            }
            Step::Other { client, kind, pick, variant } => {
                let kind = kind % self.workload.other_kinds();
                let room = &self.room;
                let lookup = |path: &str, args: &Json| room.query_once(path, args).unwrap_or(Json::Null);
                if let Some((path, args)) = self.workload.other(&self.context, kind, pick, variant, &lookup) {
                    self.mutate(client, path, args, None);
                }
            }
            Step::DeliverToRoom { client, n } => self.deliver_to_room(client, n),
            Step::DeliverToClient { client, n } => self.deliver_to_client(client, n),
            Step::Drop { client } => self.drop_socket(client),
            Step::Connect { client } => self.connect(client),
            Step::Tick { ms } => self.env.now_ms += f64::from(ms),
        }
    }

    /// Everyone reconnects and every queue drains.
    fn heal(&mut self) {
        for client in 0..CLIENTS {
            self.connect(client);
        }
        for _ in 0..10_000 {
            let busy = self.clients.iter().any(|c| !c.to_room.is_empty() || !c.to_client.is_empty());
            if !busy {
                return;
            }
            for client in 0..CLIENTS {
                self.deliver_to_room(client, usize::MAX);
                self.deliver_to_client(client, usize::MAX);
            }
        }
        panic!("the network did not go quiet");
    }

    fn check(&self) {
        let mut expected = 0;
        let mut removed = std::collections::BTreeSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            assert_eq!(c.core.pending_mutations(), 0, "client {i} has unanswered mutations");
            for r in &c.requested {
                let answers = c.answers.get(&r.id).map(Vec::as_slice).unwrap_or_default();
                assert_eq!(answers.len(), 1, "client {i} request {}: answers {answers:?}", r.id);
                assert!(r.creates.is_none() || answers[0].is_ok(), "client {i} request {}: {answers:?}", r.id);
                if answers[0].is_ok() {
                    expected += r.delta;
                    removed.extend(r.removes.clone());
                }
            }
            for info in c.core.query_infos() {
                let args: Json = serde_json::from_str(&info.args).unwrap();
                let fresh = self.room.query_once(&info.udf_path, &args).unwrap();
                let held = c.core.cached(info.query_id).cloned().unwrap_or(Ok(Json::Null)).unwrap_or(Json::Null);
                assert_eq!(held, fresh, "client {i}: {} {} diverged", info.udf_path, info.args);
                assert!(!info.stale, "client {i}: {} still stale after healing", info.udf_path);
            }
        }
        let lookup = |path: &str, args: &Json| self.room.query_once(path, args).unwrap();
        // Each answered success applied once: the count is what the answers say, and every
        // requested create is stored exactly once — or not at all when a removal the room
        // confirmed took it away.
        let stored = self.workload.counted(&lookup);
        assert_eq!(stored.len() as i64, expected, "counted documents, by the answers");
        for label in &self.labels {
            let copies = stored.iter().filter(|(_, s)| s == label).count();
            let want = usize::from(!removed.contains(label));
            assert_eq!(copies, want, "{label:?} was requested once and is stored {copies} times");
        }
    }
}

fn run(workload: &dyn Workload, steps: &[Step]) {
    let mut net = Net::new(workload);
    for step in steps {
        net.apply(step);
    }
    net.heal();
    net.check();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ngo_app_clients_converge_and_mutate_exactly_once_over_a_lossy_network(steps in prop::collection::vec(step(), 1..150)) {
        run(&Ngo, &steps);
    }

    #[test]
    fn todo_app_clients_converge_and_mutate_exactly_once_over_a_lossy_network(steps in prop::collection::vec(step(), 1..150)) {
        run(&Todo, &steps);
    }
}
