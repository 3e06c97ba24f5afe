//! Model-based property test of reactivity: random subscriptions and mutations from several
//! clients (each a real [`ClientCore`] applying the frames it is sent). After every step,
//! every live subscription's result as the client holds it must equal a fresh run of its
//! query (the oracle), and every client's version chain must be unbroken and move forward.

use super::*;
use crate::client::{ClientCore, ClientEvent, Frame};
use crate::environment::TestEnvironment;
use crate::sqlite::NativeSql;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

const CLIENTS: usize = 3;
const CITIES: [&str; 3] = ["Ankara", "İzmir", "Şişli"];
const B_STATUSES: [&str; 3] = ["AKTIF", "PASIF", "TASLAK"];
const T_STATUSES: [&str; 3] = ["pending", "in_progress", "completed"];

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
    CreateTask {
        client: usize,
        status: usize,
        assigned: bool,
    },
    SetTaskStatus {
        client: usize,
        nth: usize,
        status: usize,
    },
    RemoveTask {
        client: usize,
        nth: usize,
    },
    CreateBeneficiary {
        client: usize,
        city: usize,
        status: usize,
        tc: u8,
    },
    MoveBeneficiary {
        client: usize,
        nth: usize,
        city: usize,
    },
    RemoveBeneficiary {
        client: usize,
        nth: usize,
    },
    Reconnect {
        client: usize,
    },
    /// The socket dies after the room committed a task but before its answer arrived.
    CreateTaskAnswerLost {
        client: usize,
    },
    CreateDonation {
        client: usize,
        currency: usize,
        receipt: u8,
    },
    ApproveDonation {
        client: usize,
        nth: usize,
    },
}

fn query_specs(user: &str) -> Vec<(&'static str, Json)> {
    vec![
        ("tasks:list", json!({})),
        ("tasks:list", json!({"status": "pending"})),
        ("tasks:list", json!({"status": "completed"})),
        ("tasks:list", json!({"assigned_to": user})),
        ("tasks:list", json!({"assigned_to": user, "status": "in_progress"})),
        ("beneficiaries:list", json!({})),
        ("beneficiaries:list", json!({"status": "AKTIF", "limit": 2})),
        ("beneficiaries:list", json!({"city": "Ankara", "skip": 1, "limit": 2})),
        ("beneficiaries:list", json!({"search": "sis"})),
        ("users:list", json!({})),
        ("donations:totals", json!({"status": "approved"})),
        ("donations:list", json!({"status": "pending", "limit": 3})),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CLIENTS;
    prop_oneof![
        3 => (c.clone(), 0..12usize).prop_map(|(client, query)| Step::Subscribe { client, query }),
        1 => (c.clone(), 0..8usize).prop_map(|(client, nth)| Step::Unsubscribe { client, nth }),
        3 => (c.clone(), 0..3usize, any::<bool>()).prop_map(|(client, status, assigned)| Step::CreateTask { client, status, assigned }),
        2 => (c.clone(), 0..8usize, 0..3usize).prop_map(|(client, nth, status)| Step::SetTaskStatus { client, nth, status }),
        1 => (c.clone(), 0..8usize).prop_map(|(client, nth)| Step::RemoveTask { client, nth }),
        3 => (c.clone(), 0..3usize, 0..3usize, 0..6u8).prop_map(|(client, city, status, tc)| Step::CreateBeneficiary { client, city, status, tc }),
        2 => (c.clone(), 0..8usize, 0..3usize).prop_map(|(client, nth, city)| Step::MoveBeneficiary { client, nth, city }),
        1 => (c.clone(), 0..8usize).prop_map(|(client, nth)| Step::RemoveBeneficiary { client, nth }),
        1 => c.clone().prop_map(|client| Step::Reconnect { client }),
        1 => c.clone().prop_map(|client| Step::CreateTaskAnswerLost { client }),
        2 => (c.clone(), 0..3usize, 0..6u8).prop_map(|(client, currency, receipt)| Step::CreateDonation { client, currency, receipt }),
        2 => (c, 0..8usize).prop_map(|(client, nth)| Step::ApproveDonation { client, nth }),
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

struct World {
    room: Room<NativeSql>,
    env: TestEnvironment,
    clients: Vec<Client>,
    user: String,
    request: u32,
    /// Tasks that exist by the answers clients got: each create and remove counted once.
    expected_tasks: i64,
    /// What each client's outstanding mutations do to the task count when they succeed.
    task_delta: BTreeMap<(usize, RequestId), i64>,
    /// While set, frames to this client are lost (its socket is dying).
    deaf: Option<usize>,
}

impl World {
    fn new() -> Self {
        let room = crate::app::open_room(NativeSql::in_memory().unwrap()).unwrap().with_limits(RoomLimits::unlimited());
        let mut world = World {
            room,
            env: TestEnvironment::new(1.7e12),
            clients: Vec::new(),
            user: String::new(),
            request: 0,
            expected_tasks: 0,
            task_delta: BTreeMap::new(),
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
        let out = world.raw_mutation(0, "users:ensure", json!({"name": "U", "email": "u@x", "role": "admin"}));
        world.user = out.and_then(|v| v.as_str().map(str::to_string)).expect("user created");
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
            }
            for e in &events {
                if let ClientEvent::Mutation { request_id, result: Ok(_) } = e {
                    self.expected_tasks += self.task_delta.remove(&(target, *request_id)).unwrap_or(0);
                }
            }
            if target == client {
                own_events.extend(events);
            }
        }
        own_events
    }

    fn raw_mutation(&mut self, client: usize, path: &str, args: Json) -> Option<Json> {
        let (request_id, frame) = self.clients[client].core.mutation(path, args).unwrap();
        let delta = match path {
            "tasks:create" => 1,
            "tasks:remove" => -1,
            _ => 0,
        };
        self.task_delta.insert((client, request_id), delta);
        let events = self.send(client, frame.expect("connected"));
        events.into_iter().find_map(|e| match e {
            ClientEvent::Mutation { request_id: r, result } if r == request_id => result.ok(),
            _ => None,
        })
    }

    fn ids(&self, table: &str) -> Vec<String> {
        let path = format!("{table}:list");
        let args = if table == "beneficiaries" { json!({"limit": 500}) } else { json!({}) };
        let value = self.room.query_once(&path, &args).unwrap();
        let docs = if table == "beneficiaries" { value["documents"].clone() } else { value };
        docs.as_array().unwrap().iter().map(|d| d["_id"].as_str().unwrap().to_string()).collect()
    }

    fn nth(&self, table: &str, nth: usize) -> Option<String> {
        let ids = self.ids(table);
        (!ids.is_empty()).then(|| ids[nth % ids.len()].clone())
    }

    fn apply(&mut self, step: &Step) {
        let user = self.user.clone();
        match *step {
            Step::Subscribe { client, query } => {
                let (path, args) = query_specs(&user)[query].clone();
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
            Step::CreateTask { client, status, assigned } => {
                let mut task =
                    json!({"title": format!("t{}", self.request), "created_by": user, "status": T_STATUSES[status]});
                if assigned {
                    task["assigned_to"] = json!(user);
                }
                self.request += 1;
                self.raw_mutation(client, "tasks:create", task);
            }
            Step::SetTaskStatus { client, nth, status } => {
                if let Some(id) = self.nth("tasks", nth) {
                    self.raw_mutation(client, "tasks:update", json!({"id": id, "status": T_STATUSES[status]}));
                }
            }
            Step::RemoveTask { client, nth } => {
                if let Some(id) = self.nth("tasks", nth) {
                    self.raw_mutation(client, "tasks:remove", json!({"id": id}));
                }
            }
            Step::CreateBeneficiary { client, city, status, tc } => {
                // Few TC numbers, so unique violations (and their rollbacks) happen often.
                let b = json!({
                    "name": format!("{} {}", CITIES[city], self.request), "tc_no": format!("1000000000{tc}"),
                    "phone": "1", "address": "a", "city": CITIES[city], "district": "d", "neighborhood": "n",
                    "family_size": 3, "status": B_STATUSES[status],
                });
                self.request += 1;
                self.raw_mutation(client, "beneficiaries:create", b);
            }
            Step::MoveBeneficiary { client, nth, city } => {
                if let Some(id) = self.nth("beneficiaries", nth) {
                    self.raw_mutation(client, "beneficiaries:update", json!({"id": id, "city": CITIES[city]}));
                }
            }
            Step::RemoveBeneficiary { client, nth } => {
                if let Some(id) = self.nth("beneficiaries", nth) {
                    self.raw_mutation(client, "beneficiaries:remove", json!({"id": id}));
                }
            }
            Step::CreateTaskAnswerLost { client } => {
                self.deaf = Some(client);
                let task = json!({"title": format!("lost {}", self.request), "created_by": user});
                self.request += 1;
                self.raw_mutation(client, "tasks:create", task);
                self.deaf = None;
                // The client reconnects and re-sends; the room must not create it twice.
                self.apply(&Step::Reconnect { client });
            }
            Step::CreateDonation { client, currency, receipt } => {
                let currency = ["TRY", "USD", "EUR"][currency];
                let d = json!({
                    "donor_name": "D", "donor_phone": "1", "amount": 10.0 + receipt as f64,
                    "currency": currency, "donation_type": "cash", "payment_method": "NAKIT",
                    "donation_purpose": "p", "receipt_number": format!("R-{receipt}"),
                });
                self.raw_mutation(client, "donations:create", d);
            }
            Step::ApproveDonation { client, nth } => {
                let all = self.room.query_once("donations:list", &json!({"limit": 500})).unwrap();
                let ids: Vec<String> = all["documents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["_id"].as_str().unwrap().to_string())
                    .collect();
                if !ids.is_empty() {
                    let id = ids[nth % ids.len()].clone();
                    self.raw_mutation(client, "donations:approve", json!({"id": id, "approved_by": user}));
                }
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
        let tasks = self.room.query_once("tasks:list", &json!({})).unwrap();
        assert_eq!(tasks.as_array().unwrap().len() as i64, self.expected_tasks, "every task exactly once");
        for (i, client) in self.clients.iter().enumerate() {
            for (query_id, path, args) in &client.subs {
                let fresh = self.room.query_once(path, args).unwrap();
                let held = client.core.cached(*query_id).cloned().and_then(Result::ok);
                assert_eq!(held.as_ref(), Some(&fresh), "client {i} query {query_id} {path} {args}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn every_subscription_matches_a_fresh_run_after_every_step(steps in prop::collection::vec(step(), 1..120)) {
        let mut world = World::new();
        for step in &steps {
            world.apply(step);
            world.check_oracle();
        }
    }
}
