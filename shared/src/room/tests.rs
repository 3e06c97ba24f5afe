use super::*;
use crate::engine::environment::TestEnvironment;
use crate::model::ids::DocumentId;
use crate::storage::sqlite::NativeSql;
use serde_json::{json, Value as Json};

struct Harness {
    room: Room<NativeSql>,
    env: TestEnvironment,
    /// Connections that sent `connect` (the harness sends it before a socket's first frame).
    connected: std::collections::HashSet<ConnId>,
    next_request: u32,
}

impl Harness {
    fn new() -> Self {
        Self::over(crate::app::open_room(NativeSql::in_memory().unwrap()).unwrap())
    }

    fn over(room: Room<NativeSql>) -> Self {
        Self {
            room,
            env: TestEnvironment::new(1_700_000_000_000.0),
            connected: Default::default(),
            next_request: 10_000,
        }
    }

    fn frame(&mut self, conn: &ConnId, msg: Json) -> Vec<Outgoing> {
        if msg["type"] != "connect" && self.connected.insert(conn.clone()) {
            let hello = json!({"type": "connect", "sessionId": format!("session-{conn}-0123456789")});
            let out = self.room.handle(RoomInput::Frame { conn, text: &hello.to_string() }, &mut self.env);
            assert!(out.is_empty(), "{out:?}");
        }
        self.env.now_ms += 1.0;
        self.room.handle(RoomInput::Frame { conn, text: &msg.to_string() }, &mut self.env)
    }

    fn subscribe(&mut self, conn: &ConnId, query_id: u32, path: &str, args: Json) -> Json {
        let out = self.frame(conn, json!({"type": "subscribe", "queryId": query_id, "udfPath": path, "args": args}));
        match single(out) {
            ServerMessage::Transition { modifications, .. } => match modifications.into_iter().next() {
                Some(QueryModification::QueryUpdated { value, .. }) => value,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn mutate(&mut self, conn: &ConnId, request_id: u32, path: &str, args: Json) -> Vec<Outgoing> {
        self.frame(conn, json!({"type": "mutation", "requestId": request_id, "udfPath": path, "args": args}))
    }

    /// Runs a mutation that must succeed; returns its result.
    fn ok(&mut self, conn: &ConnId, path: &str, args: Json) -> Json {
        self.next_request += 1;
        let out = self.mutate(conn, self.next_request, path, args);
        match out.last().map(|o| &o.message) {
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, .. }, .. }) => {
                result.clone()
            }
            other => panic!("{path} failed: {other:?}"),
        }
    }

    fn user(&mut self, conn: &ConnId) -> String {
        let id = self.ok(conn, "users:ensure", json!({"name": "Ayşe", "email": "ayse@example.org", "role": "admin"}));
        id.as_str().unwrap().to_string()
    }
}

fn conn(name: &str) -> ConnId {
    ConnId::from_stored(name.to_string())
}

fn single(out: Vec<Outgoing>) -> ServerMessage {
    assert_eq!(out.len(), 1, "{out:?}");
    out.into_iter().next().unwrap().message
}

fn titles(value: &Json) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect()
}

fn failure(out: Vec<Outgoing>) -> (ErrorCode, String) {
    match single(out) {
        ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, message }, .. } => (code, message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn subscribe_gets_initial_result_at_version_1() {
    let mut h = Harness::new();
    let a = conn("a");
    h.room.handle(RoomInput::Open { conn: &a }, &mut h.env);
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list"}));
    assert_eq!(
        single(out),
        ServerMessage::Transition {
            start_version: StateVersion { query_set: 0, identity: 0, ts: Ts(0) },
            end_version: StateVersion { query_set: 1, identity: 0, ts: Ts(0) },
            modifications: vec![QueryModification::QueryUpdated {
                query_id: 1,
                value: json!([]),
                hash: hash_text("[]")
            }],
        }
    );
}

#[test]
fn a_commit_reaches_every_affected_subscriber_then_answers_the_writer() {
    let mut h = Harness::new();
    let (a, b) = (conn("a"), conn("b"));
    let user = h.user(&a);
    h.subscribe(&a, 7, "tasks:list", json!({}));
    h.subscribe(&b, 7, "tasks:list", json!({}));
    let out =
        h.mutate(&a, 1, "tasks:create", json!({"title": "Koli dağıtımı", "created_by": user, "priority": "high"}));
    assert_eq!(out.len(), 3, "{out:?}");
    for (o, who) in out[..2].iter().zip([&a, &b]) {
        assert_eq!(&o.to, who);
        let ServerMessage::Transition { start_version, end_version, modifications } = &o.message else { panic!() };
        assert_eq!(
            *start_version,
            StateVersion { query_set: 1, identity: 0, ts: Ts(1) },
            "subscribed after the user was created"
        );
        assert_eq!(*end_version, StateVersion { query_set: 1, identity: 0, ts: Ts(2) });
        let QueryModification::QueryUpdated { value, .. } = &modifications[0] else { panic!() };
        assert_eq!(titles(value), ["Koli dağıtımı"]);
        assert_eq!(value[0]["status"], "pending");
        assert_eq!(value[0]["is_read"], false);
        assert_eq!(value[0]["_id"].as_str().map(str::len), Some(30));
    }
    let ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, ts }, .. } = &out[2].message
    else {
        panic!()
    };
    assert_eq!(*ts, Ts(2));
    assert!(DocumentId::parse_for_table(result.as_str().unwrap(), "tasks").is_ok());
}

#[test]
fn only_affected_queries_rerun_and_unchanged_results_send_nothing() {
    let mut h = Harness::new();
    let (a, b, c) = (conn("a"), conn("b"), conn("c"));
    let user = h.user(&a);
    h.subscribe(&a, 1, "tasks:list", json!({"status": "completed"}));
    h.subscribe(&b, 1, "tasks:list", json!({}));
    h.subscribe(&c, 1, "tasks:list", json!({"assigned_to": user, "status": "in_progress"}));
    // A pending task assigned to the user: C's range (by assignee) is hit but its filtered
    // result does not change; A's range (status completed) is not hit at all.
    let out = h.mutate(&a, 1, "tasks:create", json!({"title": "t", "created_by": user, "assigned_to": user}));
    let receivers: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(receivers, ["b", "a"], "B's transition, then A's response: {out:?}");
    assert!(matches!(out[1].message, ServerMessage::MutationResponse { .. }));
}

#[test]
fn state_survives_reopening_the_room() {
    let mut h = Harness::new();
    let a = conn("a");
    let user = h.user(&a);
    h.subscribe(&a, 1, "tasks:list", json!({}));
    h.ok(&a, "tasks:create", json!({"title": "x", "created_by": user}));
    // Hand the storage to a new engine, as after a hibernation wake-up.
    let Harness { room, env, connected, next_request } = h;
    let mut h = Harness {
        room: crate::app::open_room(room.sql).unwrap(),
        env: TestEnvironment { now_ms: env.now_ms + 1.0, next_random: 100 },
        connected,
        next_request,
    };
    assert_eq!(h.room.subscription_count(), 1);
    let out = h.mutate(&a, 2, "tasks:create", json!({"title": "y", "created_by": user}));
    let ServerMessage::Transition { start_version, end_version, modifications } = &out[0].message else {
        panic!("{out:?}")
    };
    assert_eq!(*start_version, StateVersion { query_set: 1, identity: 0, ts: Ts(2) });
    assert_eq!(*end_version, StateVersion { query_set: 1, identity: 0, ts: Ts(3) });
    let QueryModification::QueryUpdated { value, .. } = &modifications[0] else { panic!() };
    assert_eq!(titles(value), ["y", "x"]);
}

#[test]
fn invalid_writes_are_refused_with_the_path_and_nothing_is_written() {
    let mut h = Harness::new();
    let a = conn("a");
    let user = h.user(&a);
    let ts = h.room.current_ts().unwrap();
    let (code, message) =
        failure(h.mutate(&a, 9, "tasks:create", json!({"title": "x", "created_by": user, "status": "later"})));
    assert_eq!(code, ErrorCode::Validation);
    assert_eq!(
        message,
        r#"args.status: expected one of "pending", "in_progress", "completed", "cancelled" or nothing, found string "later""#
    );
    let (_, message) = failure(h.mutate(&a, 10, "tasks:create", json!({"title": "x", "created_by": "nobody"})));
    assert_eq!(
        message,
        r#"args.created_by: expected id of a users document, found string "nobody", which is not a document id"#
    );
    let (_, message) = failure(h.mutate(&a, 11, "beneficiaries:create", json!({"name": "x", "tc_no": "123"})));
    assert_eq!(message, r#"beneficiaries.tc_no: expected a TC number of exactly 11 digits, found string "123""#);
    assert_eq!(h.room.current_ts().unwrap(), ts);
}

fn beneficiary(name: &str, tc: &str, city: &str, status: &str) -> Json {
    json!({
        "name": name, "tc_no": tc, "phone": "0555", "address": "a", "city": city, "district": "d",
        "neighborhood": "n", "family_size": 4, "status": status,
    })
}

#[test]
fn unique_tc_numbers_name_the_holder_and_roll_back() {
    let mut h = Harness::new();
    let a = conn("a");
    let first = h.ok(&a, "beneficiaries:create", beneficiary("Ayşe", "12345678901", "Ankara", "AKTIF"));
    let (code, message) =
        failure(h.mutate(&a, 2, "beneficiaries:create", beneficiary("Başka", "12345678901", "İzmir", "AKTIF")));
    assert_eq!(code, ErrorCode::UniqueViolation);
    assert_eq!(
        message,
        format!(
            r#"beneficiaries.tc_no must be unique: "12345678901" is already used by beneficiaries {}"#,
            first.as_str().unwrap()
        )
    );
}

#[test]
fn beneficiary_lists_filter_search_and_count() {
    let mut h = Harness::new();
    let a = conn("a");
    for (i, (name, city, status)) in [
        ("Ayşe Yılmaz", "İstanbul", "AKTIF"),
        ("Mehmet Çelik", "Ankara", "AKTIF"),
        ("Şükrü Işık", "ISPARTA", "PASIF"),
        ("Ayten Kaya", "İstanbul", "TASLAK"),
    ]
    .into_iter()
    .enumerate()
    {
        h.ok(&a, "beneficiaries:create", beneficiary(name, &format!("1000000000{i}"), city, status));
    }
    let list = h.subscribe(&a, 1, "beneficiaries:list", json!({"search": "ay"}));
    assert_eq!(list["total"], 2.0);
    let names: Vec<&str> = list["documents"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ayten Kaya", "Ayşe Yılmaz"]);
    let active = h.subscribe(&a, 2, "beneficiaries:list", json!({"status": "AKTIF", "limit": 1}));
    assert_eq!(active["total"], 2.0);
    assert_eq!(active["documents"].as_array().unwrap().len(), 1);
    let isik = h.subscribe(&a, 3, "beneficiaries:list", json!({"search": "sukru isik"}));
    assert_eq!(isik["total"], 1.0);
    let city = h.subscribe(&a, 4, "beneficiaries:list", json!({"city": "İstanbul", "skip": 1}));
    assert_eq!(city["total"], 2.0);
    assert_eq!(city["documents"][0]["name"], "Ayşe Yılmaz");
    let out =
        h.frame(&a, json!({"type": "subscribe", "queryId": 5, "udfPath": "beneficiaries:list", "args": {"limit": -1}}));
    let ServerMessage::Transition { modifications, .. } = single(out) else { panic!() };
    assert!(matches!(&modifications[0], QueryModification::QueryFailed { code: ErrorCode::Validation, message, .. }
        if message == "args.limit: expected a whole number from 0 to 500, found number -1"));
}

#[test]
fn malformed_frames_get_an_error_and_the_room_keeps_serving() {
    let mut h = Harness::new();
    let a = conn("a");
    let out = h.room.handle(RoomInput::Frame { conn: &a, text: "{nope" }, &mut h.env);
    let ServerMessage::Error { code, message, .. } = single(out) else { panic!() };
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(message.starts_with("malformed frame: "), "{message}");
    let big = "x".repeat(MAX_FRAME_BYTES + 1);
    let ServerMessage::Error { code, message, .. } =
        single(h.room.handle(RoomInput::Frame { conn: &a, text: &big }, &mut h.env))
    else {
        panic!()
    };
    assert_eq!(code, ErrorCode::BadFrame);
    assert_eq!(message, "frame of 1048577 bytes is over the 1048576-byte limit");
    h.user(&a);
}

#[test]
fn unknown_functions_are_named_and_not_kept() {
    let mut h = Harness::new();
    let a = conn("a");
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:lst"}));
    let ServerMessage::Transition { modifications, .. } = single(out) else { panic!() };
    assert_eq!(
        modifications,
        vec![QueryModification::QueryFailed {
            query_id: 1,
            code: ErrorCode::UnknownFunction,
            message: r#"no query named "tasks:lst"; did you mean "tasks:list"?"#.into()
        }]
    );
    assert_eq!(h.room.subscription_count(), 0);
    let (code, _) = failure(h.mutate(&a, 1, "tasks:list", json!({})));
    assert_eq!(code, ErrorCode::UnknownFunction, "a query is not a mutation");
}

#[test]
fn unsubscribe_duplicates_and_close() {
    let mut h = Harness::new();
    let (a, b) = (conn("a"), conn("b"));
    let user = h.user(&b);
    h.subscribe(&a, 1, "tasks:list", json!({}));
    let dup = single(h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list"})));
    assert!(matches!(dup, ServerMessage::Error { code: ErrorCode::BadQueryId, .. }));
    let removed = single(h.frame(&a, json!({"type": "unsubscribe", "queryId": 1})));
    assert!(matches!(removed, ServerMessage::Transition { ref modifications, .. }
        if modifications == &vec![QueryModification::QueryRemoved { query_id: 1 }]));
    assert_eq!(h.mutate(&b, 1, "tasks:create", json!({"title": "x", "created_by": user})).len(), 1);
    let again = single(h.frame(&a, json!({"type": "unsubscribe", "queryId": 1})));
    assert!(matches!(again, ServerMessage::Error { code: ErrorCode::BadQueryId, .. }));
    h.subscribe(&a, 2, "tasks:list", json!({}));
    h.room.handle(RoomInput::Close { conn: &a }, &mut h.env);
    assert_eq!(h.room.subscription_count(), 0);
    assert_eq!(h.mutate(&b, 2, "tasks:create", json!({"title": "y", "created_by": user})).len(), 1);
}

#[test]
fn handshake_refuses_other_protocols_and_schemas() {
    let mut h = Harness::new();
    let a = conn("a");
    let connect = |version: u32, hash: &str| json!({"type": "connect", "sessionId": "session-0123456789abcdef", "protocolVersion": version, "schemaHash": hash});
    let ours = crate::app::schema().hash();
    assert!(h.frame(&a, connect(crate::PROTOCOL_VERSION, &ours)).is_empty());
    let ServerMessage::Error { code, message, .. } = single(h.frame(&a, connect(99, &ours))) else { panic!() };
    assert_eq!(code, ErrorCode::ProtocolMismatch);
    assert_eq!(
        message,
        "this client speaks protocol 99 but the room speaks 2: reload the page to get the current client"
    );
    let ServerMessage::Error { code, message, .. } =
        single(h.frame(&a, connect(crate::PROTOCOL_VERSION, "0000000000000000")))
    else {
        panic!()
    };
    assert_eq!(code, ErrorCode::SchemaMismatch);
    assert!(message.ends_with("reload the page to get the matching client"), "{message}");
}

#[test]
fn subscriptions_per_connection_are_limited_and_the_connection_keeps_serving() {
    // 256 single subscribes at once are past one client's room time (the client sends them
    // in one `subscribeMany`): unlimited here, this test is about the connection's limit.
    let room = crate::app::open_room(NativeSql::in_memory().unwrap()).unwrap();
    let mut h = Harness::over(room.with_limits(RoomLimits { work_per_second: f64::INFINITY, ..RoomLimits::default() }));
    let a = conn("a");
    for q in 0..MAX_SUBSCRIPTIONS_PER_CONNECTION as u32 {
        h.subscribe(&a, q, "users:list", json!({}));
    }
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 9999, "udfPath": "users:list"}));
    let ServerMessage::Error { code, message, .. } = single(out) else { panic!() };
    assert_eq!(code, ErrorCode::LimitExceeded);
    assert_eq!(message, "at most 256 subscriptions per connection; unsubscribe some first (queryId 9999 refused)");
    h.frame(&a, json!({"type": "unsubscribe", "queryId": 0}));
    h.subscribe(&a, 9999, "users:list", json!({}));
}

#[test]
fn one_shot_http_calls_answer_with_status_and_reach_live_subscribers() {
    let mut h = Harness::new();
    let watcher = conn("w");
    h.subscribe(&watcher, 1, "users:list", json!({}));
    let body = json!({"udfPath": "users:ensure", "args": {"name": "A", "email": "a@x", "role": "admin"}}).to_string();
    let (reply, out) = h.room.http_call(FunctionKind::Mutation, &body, None, &mut h.env);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["ts"], "1");
    assert_eq!(out.len(), 1, "the live subscriber gets the new user");
    assert_eq!(out[0].to, watcher);
    let (reply, _) =
        h.room.http_call(FunctionKind::Query, &json!({"udfPath": "users:list"}).to_string(), None, &mut h.env);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["value"][0]["email"], "a@x");
    let cases = [
        (FunctionKind::Query, "{oops".to_string(), 400, "BAD_FRAME"),
        (FunctionKind::Query, json!({"args": {}}).to_string(), 400, "BAD_FRAME"),
        (FunctionKind::Query, json!({"udfPath": "users:lst"}).to_string(), 404, "UNKNOWN_FUNCTION"),
        (
            FunctionKind::Mutation,
            json!({"udfPath": "users:ensure", "args": {"name": 1}}).to_string(),
            400,
            "VALIDATION",
        ),
        (
            FunctionKind::Mutation,
            json!({"udfPath": "tasks:remove", "args": {"id": crate::DocumentId::new("tasks", 5).to_string()}})
                .to_string(),
            404,
            "NOT_FOUND",
        ),
    ];
    for (kind, body, status, code) in cases {
        let (reply, out) = h.room.http_call(kind, &body, None, &mut h.env);
        assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{body}: {}", reply.body);
        assert!(out.is_empty());
    }
}

#[test]
fn a_flooding_connection_is_slowed_and_others_keep_writing() {
    let mut h = Harness::new();
    h.room = std::mem::replace(&mut h.room, crate::app::open_room(NativeSql::in_memory().unwrap()).unwrap())
        .with_limits(RoomLimits { mutations_per_second: 10.0, mutation_burst: 3.0, ..RoomLimits::default() });
    let (a, b) = (conn("a"), conn("b"));
    let args = json!({"name": "x", "email": "x@x", "role": "r"});
    for _ in 0..3 {
        h.ok(&a, "users:ensure", args.clone());
        h.env.now_ms -= 1.0; // the harness moves the clock 1 ms per frame: hold it, a burst
    }
    let (code, message) = failure(h.mutate(&a, 50, "users:ensure", args.clone()));
    assert_eq!(code, ErrorCode::LimitExceeded);
    assert_eq!(message, "too many mutations by this connection (at most 10 per second, bursts of 3); retry in 100 ms");
    h.ok(&b, "users:ensure", args.clone());
    h.env.now_ms += 150.0;
    h.ok(&a, "users:ensure", args);
}

#[test]
fn a_fan_out_to_hundreds_is_written_in_batches_that_survive_reopening() {
    let mut h = Harness::new();
    h.room = crate::app::open_room(NativeSql::in_memory().unwrap()).unwrap().with_limits(RoomLimits::unlimited());
    let writer = conn("writer");
    let user = h.user(&writer);
    let watchers: Vec<ConnId> = (0..200).map(|i| conn(&format!("w{i}"))).collect();
    for w in &watchers {
        h.subscribe(w, 1, "tasks:list", json!({}));
    }
    let first = h.mutate(&writer, 1, "tasks:create", json!({"title": "one", "created_by": user}));
    assert_eq!(first.len(), 201, "200 transitions and the response");
    let sent_hash = first
        .iter()
        .find_map(|o| match &o.message {
            ServerMessage::Transition { modifications, .. } => match &modifications[0] {
                QueryModification::QueryUpdated { hash, .. } | QueryModification::QueryDiff { hash, .. } => {
                    Some(hash.clone())
                }
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    let stored = h.room.storage().exec("SELECT DISTINCT result_hash FROM _subs WHERE conn_id LIKE 'w%'", &[]).unwrap();
    assert_eq!(stored, vec![vec![SqlValue::Text(sent_hash)]], "every row got the hash it was sent");
    let ts = h.room.storage().exec("SELECT DISTINCT ts FROM _conns WHERE conn_id GLOB 'w[0-9]*'", &[]).unwrap();
    assert_eq!(ts, vec![vec![SqlValue::Integer(2)]]);
    // Rebuild the engine over the same storage (hibernation): versions and hashes were stored.
    let Harness { room, env, connected, next_request } = h;
    let mut h = Harness {
        room: crate::app::open_room(room.sql).unwrap().with_limits(RoomLimits::unlimited()),
        env,
        connected,
        next_request,
    };
    let second = h.mutate(&writer, 2, "tasks:create", json!({"title": "two", "created_by": user}));
    let transitions: Vec<_> = second
        .iter()
        .filter_map(|o| match &o.message {
            ServerMessage::Transition { start_version, end_version, modifications } => {
                Some((start_version.ts, end_version.ts, modifications.len()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(transitions.len(), 200);
    assert!(transitions.iter().all(|t| *t == (Ts(2), Ts(3), 1)), "{:?}", &transitions[..3]);
}

#[test]
fn an_unknown_name_of_any_length_costs_a_bounded_answer_and_is_not_echoed() {
    let mut h = Harness::new();
    let a = conn("a");
    let name = "x".repeat(1_000_000);
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": name}));
    let ServerMessage::Transition { modifications, .. } = single(out) else { panic!() };
    let QueryModification::QueryFailed { code, message, .. } = &modifications[0] else { panic!("{modifications:?}") };
    assert_eq!(*code, ErrorCode::UnknownFunction);
    assert!(message.len() < 200, "{} bytes", message.len());
    assert!(message.ends_with("function names are at most 128 bytes (\"table:function\"); this one has 1000000"));
    assert_eq!(h.room.subscription_count(), 0);
}

/// Bytes of subscription arguments the room stores.
fn stored_args_bytes(h: &Harness) -> i64 {
    let rows = h.room.sql().exec("SELECT COALESCE(SUM(LENGTH(args)), 0) FROM _subs", &[]).unwrap();
    int_at(&rows[0], 0)
}

#[test]
fn what_one_socket_makes_the_room_store_is_bounded() {
    let mut h = Harness::new();
    let a = conn("a");
    // One subscription with arguments over the limit: refused for that query, not stored.
    let big = "y".repeat(MAX_SUBSCRIPTION_ARGS_BYTES);
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list", "args": {"x": big}}));
    let ServerMessage::Transition { modifications, .. } = single(out) else { panic!() };
    let QueryModification::QueryFailed { code, message, .. } = &modifications[0] else { panic!("{modifications:?}") };
    assert_eq!(
        (*code, message.as_str()),
        (ErrorCode::LimitExceeded, "arguments of 16392 bytes are over the 16384-byte limit of a subscription")
    );
    // Many just under it: kept until the connection's budget is spent, then refused.
    let args = json!({"search": "z".repeat(MAX_SUBSCRIPTION_ARGS_BYTES - 32)});
    let mut refused = 0;
    for query_id in 2..60 {
        let out = h.frame(
            &a,
            json!({"type": "subscribe", "queryId": query_id, "udfPath": "beneficiaries:list", "args": args}),
        );
        let ServerMessage::Transition { modifications, .. } = single(out) else { panic!() };
        if let QueryModification::QueryFailed { code: ErrorCode::LimitExceeded, .. } = modifications[0] {
            refused += 1;
        }
    }
    assert!(refused > 30, "{refused}");
    let stored = stored_args_bytes(&h);
    assert!(stored <= MAX_CONNECTION_ARGS_BYTES as i64, "{stored}");
    assert!(stored > MAX_CONNECTION_ARGS_BYTES as i64 - MAX_SUBSCRIPTION_ARGS_BYTES as i64, "{stored}");
}

#[test]
fn rows_of_sockets_gone_without_a_close_are_dropped_when_the_host_starts() {
    let mut h = Harness::new();
    let (a, b) = (conn("a"), conn("b"));
    for c in [&a, &b] {
        h.room.handle(RoomInput::Open { conn: c }, &mut h.env);
        h.subscribe(c, 1, "tasks:list", json!({}));
    }
    assert_eq!(h.room.subscription_count(), 2);
    // The host restarted: only `b`'s socket survived.
    assert_eq!(h.room.retain_connections(std::slice::from_ref(&b)).unwrap(), 1);
    let count = |room: &Room<NativeSql>, table: &str| {
        int_at(&room.sql().exec(&format!("SELECT COUNT(*) FROM {table}"), &[]).unwrap()[0], 0)
    };
    assert_eq!((count(&h.room, "_conns"), count(&h.room, "_subs")), (1, 1));
    assert_eq!(h.room.retain_connections(&[]).unwrap(), 1);
    assert_eq!((count(&h.room, "_conns"), count(&h.room, "_subs")), (0, 0));
}
