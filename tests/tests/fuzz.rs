//! Fuzzing the room's front door, over each app of the repository: random and mutated frames
//! — the frame decoder, every function's argument validators, pagination cursors, search
//! text, tokens — from an anonymous socket, the app's weakest signed-in role and its
//! strongest, into one real `Room` (native SQLite) that lives through the whole run.
//!
//! Every frame must be answered, never with a panic or an internal error:
//! - a frame that does not decode gets exactly one `BAD_FRAME`;
//! - a `subscribe` gets exactly one answer for its query (a result, a failure with a code,
//!   or one error frame), a `mutation` exactly one `mutationResponse` or one error frame,
//!   an `unsubscribe` or `authenticate` at most one error;
//! - no error text is longer than [`MAX_MESSAGE`] (nothing typed is echoed at length);
//! - no answer to the anonymous or the weakest socket holds a value planted where their role
//!   cannot read it (the reference app's TC number);
//! - afterwards the room still serves: a fresh socket subscribes and writes.
//!
//! Cases come from proptest strategies that mix valid frames, valid frames with one part
//! replaced by random JSON, and raw text. `ROOMSYNC_FUZZ_CASES` sets the number of cases
//! (default [`DEFAULT_CASES`] in the test command; the full run is
//! `ROOMSYNC_FUZZ_CASES=100000 cargo test --release -p roomsync-tests --test fuzz`). Inputs
//! that once broke something live in `tests/fuzz-corpus/frames.txt` (one JSON string per
//! line: the frame text) and are replayed on every socket first; a failing case prints the
//! line to add there.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roomsync_shared::auth::{sign, Claims, TokenVerifier};
use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::engine::FunctionKind;
use roomsync_shared::protocol::{MutationOutcome, QueryModification};
use roomsync_shared::room::{AuthPolicy, RoomLimits};
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::{ClientMessage, ConnId, ErrorCode, Outgoing, Room, RoomInput, ServerMessage};
use roomsync_tests::workload::{ngo::Ngo, todo::Todo, Workload};
use serde_json::{json, Value as Json};
use std::cell::RefCell;

const DEFAULT_CASES: u32 = 1500;
/// The longest error text the room may answer with.
const MAX_MESSAGE: usize = 1024;
const ROOM: &str = "fuzz";

fn cases() -> u32 {
    std::env::var("ROOMSYNC_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// Who sends a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sender {
    Anonymous,
    Weakest,
    Strongest,
}

const SENDERS: [Sender; 3] = [Sender::Anonymous, Sender::Weakest, Sender::Strongest];

struct World {
    room: Room<NativeSql>,
    env: TestEnvironment,
    conns: [ConnId; 3],
    /// Valid (function, args) pairs to mutate: the workload's queries and creates.
    examples: Vec<(FunctionKind, String, Json)>,
    functions: Vec<(FunctionKind, &'static str)>,
    /// Values that must never reach the anonymous or the weakest socket.
    secrets: Vec<String>,
    /// Tokens for the roles of the app, and some that must be refused.
    tokens: Vec<String>,
    /// Each sender's own sign-in (`None`: signed out), restored after a fuzzed one.
    identities: [Option<String>; 3],
    frames: u64,
}

/// A token of the tests' secret (the room's clock is the wall clock, as tokens' expiry is).
fn token(sub: &str, role: &str, room: &str, ttl_s: f64) -> String {
    roomsync_tests::token_for(room, sub, role, ttl_s)
}

fn wall_clock_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl World {
    fn new(workload: &dyn Workload, plant: fn(&mut World) -> Vec<String>) -> Self {
        let app = workload.app();
        let roles = *app.roles();
        let names: Vec<&'static str> = roles.all().iter().map(|r| r.as_str()).collect();
        let (weakest, strongest) = (roles.weakest().as_str(), roles.strongest().as_str());
        let room = Room::open(NativeSql::in_memory().expect("SQLite opens"), app.clone())
            .expect("the room opens")
            .with_limits(RoomLimits::unlimited())
            .with_auth(AuthPolicy::Tokens(TokenVerifier::new(
                roomsync_tests::TEST_SECRET.as_bytes().to_vec(),
                ROOM,
                roles,
            )));
        let functions = [FunctionKind::Query, FunctionKind::Mutation]
            .into_iter()
            .flat_map(|kind| app.registry().names(kind).into_iter().map(move |name| (kind, name)))
            .collect();
        let mut tokens: Vec<String> = names.iter().map(|role| token(role, role, ROOM, 3600.0)).collect();
        tokens.push(token("x", strongest, "another-room", 3600.0));
        tokens.push(token("x", strongest, ROOM, -10.0));
        tokens.push(token("x", "emperor", ROOM, 3600.0));
        let forged = sign(
            &Claims {
                sub: "x".into(),
                role: strongest.into(),
                room: ROOM.into(),
                exp: wall_clock_ms() / 1000.0 + 60.0,
                name: None,
            },
            b"another-secret-of-at-least-32-bytes",
        );
        tokens.push(forged);
        let mut world = World {
            room,
            env: TestEnvironment::new(wall_clock_ms()),
            conns: SENDERS.map(|s| ConnId::from_stored(format!("{s:?}"))),
            examples: Vec::new(),
            functions,
            secrets: Vec::new(),
            tokens,
            identities: [
                None,
                Some(token(weakest, weakest, ROOM, 3600.0)),
                Some(token(strongest, strongest, ROOM, 3600.0)),
            ],
            frames: 0,
        };
        for (i, sender) in SENDERS.iter().enumerate() {
            let conn = world.conns[i].clone();
            world.room.handle(RoomInput::Open { conn: &conn }, &mut world.env);
            world.raw(
                *sender,
                &json!({"type": "connect", "sessionId": format!("session-{sender:?}-0123456789")}).to_string(),
            );
            if let Some(token) = world.identities[i].clone() {
                let out = world.raw(*sender, &json!({"type": "authenticate", "token": token}).to_string());
                assert!(matches!(out.first().map(|o| &o.message), Some(ServerMessage::Transition { .. })), "{out:?}");
            }
        }
        let mut next = 0u32;
        let mut mutate = |w: &mut World, path: &str, args: Json| -> Json {
            next += 1;
            let frame = json!({"type": "mutation", "requestId": next, "udfPath": path, "args": args});
            w.raw(Sender::Strongest, &frame.to_string())
                .into_iter()
                .find_map(|o| match o.message {
                    ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, .. }, .. } => {
                        Some(result)
                    }
                    _ => None,
                })
                .unwrap_or(Json::Null)
        };
        let context = {
            let world = &mut world;
            workload.setup(&mut |path, args| mutate(world, path, args))
        };
        world.secrets = plant(&mut world);
        for (path, args) in workload.queries(&context) {
            world.examples.push((FunctionKind::Query, path.to_string(), args));
        }
        for variant in 0..4 {
            let (path, args) = workload.create(&context, &format!("fuzz {variant}"), variant);
            world.examples.push((FunctionKind::Mutation, path.to_string(), args));
        }
        world
    }

    fn index(sender: Sender) -> usize {
        SENDERS.iter().position(|s| *s == sender).unwrap_or(0)
    }

    fn conn(&self, sender: Sender) -> &ConnId {
        &self.conns[Self::index(sender)]
    }

    fn raw(&mut self, sender: Sender, text: &str) -> Vec<Outgoing> {
        self.env.now_ms += 1.0;
        self.frames += 1;
        let conn = self.conn(sender).clone();
        self.room.handle(RoomInput::Frame { conn: &conn, text }, &mut self.env)
    }

    /// Sends `text` from `sender` and checks the answers (see the module docs).
    fn check(&mut self, sender: Sender, text: &str) -> Result<(), TestCaseError> {
        let out = self.raw(sender, text);
        let conn = self.conn(sender).clone();
        let mine: Vec<&ServerMessage> = out.iter().filter(|o| o.to == conn).map(|o| &o.message).collect();
        let errors: Vec<(ErrorCode, &str)> = mine
            .iter()
            .filter_map(|m| match m {
                ServerMessage::Error { code, message, .. } => Some((*code, message.as_str())),
                _ => None,
            })
            .collect();
        for o in &out {
            let text = o.message.to_json();
            let messages = failure_messages(&o.message);
            for (code, message) in &messages {
                prop_assert!(*code != ErrorCode::Internal, "an internal error answered {text:?}: {message}");
                prop_assert!(message.len() <= MAX_MESSAGE, "a {}-byte error text: {message:.200}", message.len());
            }
            let reader = self.conns.iter().position(|c| *c == o.to).map(|i| SENDERS[i]);
            if matches!(reader, Some(Sender::Anonymous | Sender::Weakest)) {
                for secret in &self.secrets {
                    prop_assert!(
                        !text.contains(secret.as_str()),
                        "a value the role cannot read reached it: {text:.300}"
                    );
                }
            }
        }
        prop_assert!(errors.len() <= 1, "{} errors for one frame: {errors:?}", errors.len());
        match ClientMessage::parse(text) {
            Err(_) => {
                prop_assert!(
                    errors.len() == 1 && errors[0].0 == ErrorCode::BadFrame && mine.len() == 1,
                    "a frame that does not decode got {mine:?}"
                );
            }
            Ok(ClientMessage::Subscribe { query_id, .. }) => {
                let answers = mine
                    .iter()
                    .map(|m| match m {
                        ServerMessage::Transition { modifications, .. } => modifications
                            .iter()
                            .filter(|m| match m {
                                QueryModification::QueryUpdated { query_id: q, .. }
                                | QueryModification::QueryFailed { query_id: q, .. }
                                | QueryModification::QueryUnchanged { query_id: q } => *q == query_id,
                                _ => false,
                            })
                            .count(),
                        ServerMessage::Error { .. } => 1,
                        _ => 0,
                    })
                    .sum::<usize>();
                prop_assert!(answers == 1, "subscribe got {answers} answers: {mine:?}");
                // Keep the socket's query set small and the ids free for the next case.
                self.raw(sender, &json!({"type": "unsubscribe", "queryId": query_id}).to_string());
            }
            Ok(ClientMessage::SubscribeMany { queries }) => {
                // One answer for each query (a result, a failure, or a confirmation) — or one
                // error for the whole frame.
                let answered: Vec<u32> = mine
                    .iter()
                    .flat_map(|m| match m {
                        ServerMessage::Transition { modifications, .. } => {
                            modifications.iter().map(QueryModification::query_id).collect()
                        }
                        _ => Vec::new(),
                    })
                    .collect();
                let mut asked: Vec<u32> = queries.iter().map(|q| q.query_id).collect();
                let mut got = answered.clone();
                asked.sort_unstable();
                got.sort_unstable();
                prop_assert!(
                    got == asked || (errors.len() == 1 && answered.is_empty()),
                    "subscribeMany of {asked:?} got {mine:?}"
                );
                for query_id in asked {
                    self.raw(sender, &json!({"type": "unsubscribe", "queryId": query_id}).to_string());
                }
            }
            Ok(ClientMessage::Mutation { request_id, .. }) => {
                let responses = mine
                    .iter()
                    .filter(|m| matches!(m, ServerMessage::MutationResponse { request_id: r, .. } if *r == request_id))
                    .count();
                prop_assert!(responses + errors.len() == 1, "mutation got {responses} responses and {errors:?}");
            }
            Ok(ClientMessage::Authenticate { .. }) => {
                // Back to who this socket is: the secrets check depends on it.
                let token = self.identities[Self::index(sender)].clone();
                let out = self.raw(sender, &json!({"type": "authenticate", "token": token}).to_string());
                prop_assert!(
                    !out.iter().any(|o| matches!(o.message, ServerMessage::Error { .. })),
                    "signing back in failed: {out:?}"
                );
            }
            Ok(ClientMessage::Connect { .. } | ClientMessage::Unsubscribe { .. } | ClientMessage::Ack { .. }) => {}
        }
        Ok(())
    }

    /// After the storm: a fresh socket of the strongest role still subscribes and writes.
    fn still_serves(&mut self) {
        let conn = ConnId::from_stored("probe".to_string());
        self.room.handle(RoomInput::Open { conn: &conn }, &mut self.env);
        let strongest = self.identities[Self::index(Sender::Strongest)].clone();
        for frame in [
            json!({"type": "connect", "sessionId": "session-probe-0123456789"}),
            json!({"type": "authenticate", "token": strongest}),
        ] {
            self.room.handle(RoomInput::Frame { conn: &conn, text: &frame.to_string() }, &mut self.env);
        }
        let (_, path, args) =
            self.examples.iter().find(|(k, _, _)| *k == FunctionKind::Query).cloned().expect("a query");
        let frame = json!({"type": "subscribe", "queryId": 1, "udfPath": path, "args": args});
        let out = self.room.handle(RoomInput::Frame { conn: &conn, text: &frame.to_string() }, &mut self.env);
        let served = out.iter().any(|o| {
            matches!(&o.message, ServerMessage::Transition { modifications, .. }
                if modifications.iter().any(|m| matches!(m, QueryModification::QueryUpdated { .. })))
        });
        assert!(served, "the room stopped serving after {} frames: {out:?}", self.frames);
        let (_, path, args) =
            self.examples.iter().find(|(k, _, _)| *k == FunctionKind::Mutation).cloned().expect("a mutation");
        let frame = json!({"type": "mutation", "requestId": 1, "udfPath": path, "args": args});
        let out = self.room.handle(RoomInput::Frame { conn: &conn, text: &frame.to_string() }, &mut self.env);
        let wrote = out.iter().any(|o| {
            matches!(&o.message, ServerMessage::MutationResponse { outcome: MutationOutcome::Success { .. }, .. })
        });
        assert!(wrote, "the room stopped writing after {} frames: {out:?}", self.frames);
    }
}

/// Every (code, message) an answer carries.
fn failure_messages(message: &ServerMessage) -> Vec<(ErrorCode, String)> {
    match message {
        ServerMessage::Error { code, message, .. } => vec![(*code, message.clone())],
        ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, message }, .. } => {
            vec![(*code, message.clone())]
        }
        ServerMessage::Transition { modifications, .. } => modifications
            .iter()
            .filter_map(|m| match m {
                QueryModification::QueryFailed { code, message, .. } => Some((*code, message.clone())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Text a person or an attacker might type: Turkish letters, combining marks, FTS5 syntax,
/// quotes, the tag an earlier search layout stored, control characters, long runs.
fn nasty_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "ayşe",
        "İstanbul",
        "ı",
        "I",
        "i̇",
        "\u{0307}",
        "\u{0301}",
        "z",
        "zz",
        "zzix",
        "\"",
        "*",
        "NEAR(",
        "OR",
        "AND",
        "NOT",
        "-",
        "^",
        ":",
        "(",
        ")",
        "'; DROP TABLE _docs; --",
        "\\",
        "\u{0000}",
        "\u{202E}",
        "😀",
        "\u{FFFF}",
        " ",
        "  ",
        "\n",
        "%",
        "_",
        "12345678901",
        "__proto__",
        "constructor",
    ]);
    prop_oneof![
        3 => prop::collection::vec(pieces, 0..8).prop_map(|p| p.concat()),
        1 => any::<String>(),
        1 => ("[a-zçğıöşü ]{0,3}", 0usize..5000).prop_map(|(s, n)| s.repeat(n.min(5000 / s.len().max(1)))),
    ]
}

/// Any JSON value, nested a little, with numbers at the edges.
fn any_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        prop::sample::select(vec![0.0, -0.0, 1.0, -1.0, 0.5, 1e21, -1e300, 9007199254740993.0, 4294967296.0, 1e-7])
            .prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        nasty_text().prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec(("[a-z_]{0,8}|_id|_creationTime|__proto__|paginationOpts", inner), 0..4)
                .prop_map(|fields| Json::Object(fields.into_iter().collect())),
        ]
    })
}

/// One fuzz input: who sends it and how it is made from the world's examples.
#[derive(Clone, Debug)]
enum Input {
    /// Raw text, nothing like a frame.
    Text(String),
    /// A frame object with random fields.
    Object(Json),
    /// An example call with one part changed.
    Call { example: usize, kind: Change, value: Json, text: String, as_mutation: bool, query_id: u32 },
    /// A function by name (of the app, or near one) with random arguments.
    Named { function: usize, typo: u8, args: Json, query_id: u32 },
    /// A sign-in with one of the tokens, cut or changed.
    Token { token: usize, cut: usize, flip: Option<usize> },
    /// A page request with a cursor of a real page, changed, or random.
    Cursor { example: usize, cursor: Option<String>, flip: usize, size: Json },
}

#[derive(Clone, Copy, Debug)]
enum Change {
    /// One argument replaced by a random value.
    Replace,
    /// One argument removed.
    Remove,
    /// A random argument added.
    Add,
    /// Every string argument replaced by typed text.
    Text,
    /// The arguments replaced whole.
    Whole,
}

fn input() -> impl Strategy<Value = (usize, Input)> {
    let sender = 0..SENDERS.len();
    let change = prop::sample::select(vec![Change::Replace, Change::Remove, Change::Add, Change::Text, Change::Whole]);
    let inputs = prop_oneof![
        1 => any::<String>().prop_map(Input::Text),
        1 => nasty_text().prop_map(Input::Text),
        2 => any_json().prop_map(Input::Object),
        2 => (prop::sample::select(vec!["connect", "subscribe", "subscribeMany", "unsubscribe", "authenticate", "mutation", "ack", "Mutation", ""]),
              prop::collection::vec(("type|sessionId|queryId|requestId|udfPath|args|token|resultHash|protocolVersion|schemaHash|frames", any_json()), 0..6))
            .prop_map(|(kind, fields)| {
                let mut frame: serde_json::Map<String, Json> = fields.into_iter().collect();
                frame.insert("type".into(), json!(kind));
                Input::Object(Json::Object(frame))
            }),
        8 => (0..64usize, change, any_json(), nasty_text(), any::<bool>(), 0..8u32)
            .prop_map(|(example, kind, value, text, as_mutation, query_id)| Input::Call { example, kind, value, text, as_mutation, query_id }),
        3 => (0..256usize, 0..4u8, any_json(), 0..8u32).prop_map(|(function, typo, args, query_id)| Input::Named { function, typo, args, query_id }),
        1 => (0..16usize, 0..400usize, prop::option::of(0..400usize)).prop_map(|(token, cut, flip)| Input::Token { token, cut, flip }),
        2 => (0..64usize, prop::option::of(nasty_text()), 0..64usize, any_json())
            .prop_map(|(example, cursor, flip, size)| Input::Cursor { example, cursor, flip, size }),
    ];
    (sender, inputs)
}

impl World {
    /// The frame text of an input.
    fn frame(&mut self, input: &Input, sender: Sender) -> String {
        match input {
            Input::Text(text) => text.clone(),
            Input::Object(value) => value.to_string(),
            Input::Call { example, kind, value, text, as_mutation, query_id } => {
                let (function_kind, path, mut args) = self.examples[example % self.examples.len()].clone();
                change(&mut args, *kind, value, text);
                call(function_kind, *as_mutation, &path, args, *query_id)
            }
            Input::Named { function, typo, args, query_id } => {
                let (kind, name) = self.functions[function % self.functions.len()];
                let mut path = name.to_string();
                match typo {
                    1 => path.insert(path.len() / 2, 'x'),
                    2 => path = path.to_uppercase(),
                    3 => path = path.repeat(200),
                    _ => {}
                }
                call(kind, false, &path, args.clone(), *query_id)
            }
            Input::Token { token, cut, flip } => {
                let mut token = self.tokens[token % self.tokens.len()].clone().into_bytes();
                token.truncate(token.len().saturating_sub(*cut % 8 * 7));
                if let Some(at) = flip.filter(|_| !token.is_empty()).map(|f| f % token.len()) {
                    token[at] = if token[at] == b'A' { b'B' } else { b'A' };
                }
                json!({"type": "authenticate", "token": String::from_utf8_lossy(&token)}).to_string()
            }
            Input::Cursor { example, cursor, flip, size } => {
                let (path, args) = self.page_call(*example);
                let cursor = match cursor {
                    Some(text) => json!(text),
                    None => {
                        // A real cursor of this page, with one character changed.
                        let mut real = self.first_page_cursor(sender, &path, &args).into_bytes();
                        if !real.is_empty() {
                            let at = flip % real.len();
                            real[at] = if real[at] == b'A' { b'z' } else { b'A' };
                        }
                        json!(String::from_utf8_lossy(&real))
                    }
                };
                let mut args = args;
                args["paginationOpts"] = json!({"numItems": size, "cursor": cursor});
                call(FunctionKind::Query, false, &path, args, 7)
            }
        }
    }

    /// A paginated query of the app (one whose arguments take `paginationOpts`), else any
    /// query.
    fn page_call(&self, example: usize) -> (String, Json) {
        let pages: Vec<&(FunctionKind, &str)> =
            self.functions.iter().filter(|(k, name)| *k == FunctionKind::Query && name.contains("page")).collect();
        match pages.get(example % pages.len().max(1)) {
            Some((_, name)) => (name.to_string(), json!({})),
            None => {
                let (_, path, args) = &self.examples[example % self.examples.len()];
                (path.clone(), args.clone())
            }
        }
    }

    fn first_page_cursor(&mut self, sender: Sender, path: &str, args: &Json) -> String {
        let mut args = args.clone();
        args["paginationOpts"] = json!({"numItems": 1, "cursor": null});
        let frame = json!({"type": "subscribe", "queryId": 6, "udfPath": path, "args": args});
        let out = self.raw(sender, &frame.to_string());
        self.raw(sender, &json!({"type": "unsubscribe", "queryId": 6}).to_string());
        out.iter()
            .find_map(|o| match &o.message {
                ServerMessage::Transition { modifications, .. } => modifications.iter().find_map(|m| match m {
                    QueryModification::QueryUpdated { value, .. } => {
                        value.get("continueCursor").and_then(Json::as_str).map(str::to_string)
                    }
                    _ => None,
                }),
                _ => None,
            })
            .unwrap_or_default()
    }
}

fn change(args: &mut Json, kind: Change, value: &Json, text: &str) {
    let Json::Object(fields) = args else {
        *args = value.clone();
        return;
    };
    let keys: Vec<String> = fields.keys().cloned().collect();
    let pick = keys.get(text.len() % keys.len().max(1)).cloned();
    match (kind, pick) {
        (Change::Replace, Some(key)) => {
            fields.insert(key, value.clone());
        }
        (Change::Remove, Some(key)) => {
            fields.remove(&key);
        }
        (Change::Text, _) => {
            for v in fields.values_mut().filter(|v| v.is_string()) {
                *v = json!(text);
            }
        }
        (Change::Whole, _) => *args = value.clone(),
        _ => {
            fields.insert(text.chars().take(16).collect(), value.clone());
        }
    }
}

fn call(kind: FunctionKind, as_mutation: bool, path: &str, args: Json, query_id: u32) -> String {
    if kind == FunctionKind::Mutation || as_mutation {
        json!({"type": "mutation", "requestId": 1_000_000 + query_id, "udfPath": path, "args": args})
    } else {
        json!({"type": "subscribe", "queryId": 100 + query_id, "udfPath": path, "args": args})
    }
    .to_string()
}

/// The regression corpus: frames that once broke something (one JSON string per line).
fn corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz-corpus/frames.txt");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| serde_json::from_str::<String>(l).unwrap_or_else(|e| panic!("{path}: {l:.80}: {e}")))
        .collect()
}

fn fuzz(app: &str, workload: &dyn Workload, plant: fn(&mut World) -> Vec<String>) {
    let world = RefCell::new(World::new(workload, plant));
    for text in corpus() {
        for sender in SENDERS {
            if let Err(e) = world.borrow_mut().check(sender, &text) {
                panic!("corpus frame {text:.200?} from {sender:?}: {e}");
            }
        }
    }
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(input(), 1..6), |inputs| {
        let mut world = world.borrow_mut();
        for (sender, input) in &inputs {
            let sender = SENDERS[*sender];
            let text = world.frame(input, sender);
            world.check(sender, &text).map_err(|e| {
                TestCaseError::fail(format!(
                    "{e}\nfrom {sender:?}; to keep it in the corpus, add this line to tests/fuzz-corpus/frames.txt:\n{}",
                    json!(text)
                ))
            })?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let mut world = world.into_inner();
    world.still_serves();
    eprintln!("fuzz: {app}: {} frames into one room, no panic, every answer checked", world.frames);
}

/// The reference app: a beneficiary whose TC number only managers and admins may read.
fn plant_tc_number(world: &mut World) -> Vec<String> {
    // Random per run, so no strategy can type it by chance.
    let tc: String = (0..11)
        .map(|i| char::from(b'1' + ((wall_clock_ms() as u64 / 7 + i * 31 + std::process::id() as u64) % 9) as u8))
        .collect();
    let frame = json!({"type": "mutation", "requestId": 999_999, "udfPath": "beneficiaries:create", "args": {
        "name": "Gizli Kişi", "tc_no": tc, "phone": "0555", "address": "a", "city": "İzmir", "district": "d",
        "neighborhood": "n", "family_size": 2, "status": "AKTIF"}});
    let out = world.raw(Sender::Strongest, &frame.to_string());
    assert!(
        out.iter().any(|o| matches!(
            &o.message,
            ServerMessage::MutationResponse { outcome: MutationOutcome::Success { .. }, .. }
        )),
        "the planted beneficiary was not stored: {out:?}"
    );
    // The row reaches both roles; only the strongest sees the number (else the leak check
    // below would hold for a row nobody sees).
    for (sender, sees_number) in [(Sender::Weakest, false), (Sender::Strongest, true)] {
        let frame =
            json!({"type": "subscribe", "queryId": 5, "udfPath": "beneficiaries:list", "args": {"search": "gizli"}});
        let answer: String = world.raw(sender, &frame.to_string()).iter().map(|o| o.message.to_json()).collect();
        world.raw(sender, &json!({"type": "unsubscribe", "queryId": 5}).to_string());
        assert!(answer.contains("Gizli Kişi"), "{sender:?} does not see the planted row: {answer:.300}");
        assert_eq!(answer.contains(&tc), sees_number, "{sender:?}: {answer:.300}");
    }
    vec![tc]
}

fn nothing_planted(_: &mut World) -> Vec<String> {
    Vec::new()
}

#[test]
fn the_reference_app_answers_every_fuzzed_frame_once_and_leaks_nothing() {
    fuzz("reference app", &Ngo, plant_tc_number);
}

#[test]
fn the_todo_app_answers_every_fuzzed_frame_once() {
    fuzz("to-do app", &Todo, nothing_planted);
}
