//! Tokens, roles and field rules through the room, as a client on a socket sees them.

use super::*;
use crate::auth::{sign, Claims};
use crate::engine::environment::TestEnvironment;
use crate::storage::sqlite::NativeSql;
use serde_json::{json, Value as Json};

const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!!";
const NOW: f64 = 1_800_000_000_000.0;

struct Harness {
    room: Room<NativeSql>,
    env: TestEnvironment,
    next_request: u32,
}

fn token(sub: &str, role: &str, room: &str, ttl_s: f64) -> String {
    sign(
        &Claims { sub: sub.into(), role: role.into(), room: room.into(), exp: NOW / 1000.0 + ttl_s, name: None },
        SECRET,
    )
}

impl Harness {
    fn new() -> Self {
        let room = crate::app::open_room(NativeSql::in_memory().unwrap())
            .unwrap()
            .with_auth(AuthPolicy::Tokens(TokenVerifier::new(SECRET.to_vec(), "org-a", crate::app::roles::ROLES)));
        Self { room, env: TestEnvironment::new(NOW), next_request: 100 }
    }

    fn frame(&mut self, conn: &ConnId, msg: Json) -> Vec<Outgoing> {
        self.env.now_ms += 1.0;
        self.room.handle(RoomInput::Frame { conn, text: &msg.to_string() }, &mut self.env)
    }

    fn connect(&mut self, name: &str, role: Option<&str>) -> ConnId {
        let conn = ConnId::from_stored(name.to_string());
        self.room.handle(RoomInput::Open { conn: &conn }, &mut self.env);
        self.frame(&conn, json!({"type": "connect", "sessionId": format!("session-{name}-0123456789")}));
        if let Some(role) = role {
            let out = self.frame(&conn, json!({"type": "authenticate", "token": token(name, role, "org-a", 3600.0)}));
            assert!(matches!(out[0].message, ServerMessage::Transition { .. }), "{out:?}");
        }
        conn
    }

    /// A room with a member and a manager signed in (the pair most field rules are about).
    fn with_member_and_manager() -> (Self, ConnId, ConnId) {
        let mut h = Self::new();
        let member = h.connect("member", Some("member"));
        let manager = h.connect("manager", Some("manager"));
        (h, member, manager)
    }

    fn mutate(&mut self, conn: &ConnId, path: &str, args: Json) -> Result<Json, (ErrorCode, String)> {
        self.next_request += 1;
        let request_id = self.next_request;
        let out = self.frame(conn, json!({"type": "mutation", "requestId": request_id, "udfPath": path, "args": args}));
        match out.last().map(|o| o.message.clone()) {
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, .. }, .. }) => {
                Ok(result)
            }
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, message }, .. }) => {
                Err((code, message))
            }
            other => panic!("{other:?}"),
        }
    }

    fn subscribe(&mut self, conn: &ConnId, query_id: u32, path: &str, args: Json) -> QueryModification {
        let out = self.frame(conn, json!({"type": "subscribe", "queryId": query_id, "udfPath": path, "args": args}));
        match out.into_iter().next().map(|o| o.message) {
            Some(ServerMessage::Transition { mut modifications, .. }) => modifications.remove(0),
            other => panic!("{other:?}"),
        }
    }
}

fn beneficiary() -> Json {
    json!({"name": "Ayşe Yılmaz", "tc_no": "12345678901", "phone": "0555", "address": "Moda Cd. 1",
           "city": "İstanbul", "district": "Kadıköy", "neighborhood": "Moda", "family_size": 3, "status": "AKTIF"})
}

fn failed_code(m: &QueryModification) -> Option<ErrorCode> {
    match m {
        QueryModification::QueryFailed { code, .. } => Some(*code),
        _ => None,
    }
}

fn value(m: QueryModification) -> Json {
    match m {
        QueryModification::QueryUpdated { value, .. } => value,
        other => panic!("{other:?}"),
    }
}

#[test]
fn signed_out_callers_reach_public_functions_only() {
    let mut h = Harness::new();
    let a = h.connect("anon", None);
    assert_eq!(value(h.subscribe(&a, 1, "auth:whoami", json!({}))), Json::Null);
    assert_eq!(failed_code(&h.subscribe(&a, 2, "tasks:list", json!({}))), Some(ErrorCode::Unauthenticated));
    let (code, message) =
        h.mutate(&a, "users:ensure", json!({"name": "x", "email": "x@x", "role": "admin"})).unwrap_err();
    assert_eq!(code, ErrorCode::Unauthenticated);
    assert!(message.contains("mutation \"users:ensure\": sign in"), "{message}");
}

#[test]
fn tokens_for_another_room_forged_or_expired_are_refused_and_nothing_changes() {
    let mut h = Harness::new();
    let a = h.connect("anon", None);
    for (bad, expect) in [
        (token("u", "admin", "org-b", 60.0), "not for room \"org-a\""),
        (
            sign(
                &Claims { sub: "u".into(), role: "admin".into(), room: "org-a".into(), exp: 9e9, name: None },
                b"guess",
            ),
            "signature",
        ),
        (token("u", "admin", "org-a", -1.0), "expired"),
        ("not-a-token".to_string(), "not a JWT"),
    ] {
        let out = h.frame(&a, json!({"type": "authenticate", "token": bad}));
        let ServerMessage::Error { code, message, .. } = &out[0].message else { panic!("{out:?}") };
        assert_eq!(*code, ErrorCode::Unauthenticated);
        assert!(message.contains(expect), "{message}");
    }
    assert_eq!(h.mutate(&a, "tasks:remove", json!({"id": "x"})).unwrap_err().0, ErrorCode::Unauthenticated);
}

#[test]
fn roles_decide_who_writes_and_who_approves() {
    let mut h = Harness::new();
    let viewer = h.connect("viewer", Some("viewer"));
    let member = h.connect("member", Some("member"));
    let manager = h.connect("manager", Some("manager"));
    // Viewers read but never write.
    assert!(matches!(h.subscribe(&viewer, 1, "tasks:list", json!({})), QueryModification::QueryUpdated { .. }));
    let (code, message) = h.mutate(&viewer, "beneficiaries:create", beneficiary()).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(
        message.contains("allowed to the roles member, manager, admin only; you are signed in as viewer"),
        "{message}"
    );
    // A role writes only fields it reads: a member cannot set the TC number it may not see
    // (a unique key would tell it which numbers are taken), so managers register people.
    let (code, message) = h.mutate(&member, "beneficiaries:create", beneficiary()).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    assert_eq!(
        message,
        "writing beneficiaries.tc_no is allowed to the roles manager, admin only; you are signed in as member"
    );
    let id = h.mutate(&manager, "beneficiaries:create", beneficiary()).unwrap();
    // Members write other fields; removing a beneficiary is a manager's decision.
    h.mutate(&member, "beneficiaries:update", json!({"id": id, "phone": "0555 111 22 33"})).unwrap();
    assert_eq!(h.mutate(&member, "beneficiaries:remove", json!({"id": id})).unwrap_err().0, ErrorCode::Forbidden);
    h.mutate(&manager, "beneficiaries:remove", json!({"id": id})).unwrap();
}

#[test]
fn only_managers_and_admins_read_tc_numbers_and_members_cannot_erase_them() {
    let (mut h, member, manager) = Harness::with_member_and_manager();
    let id = h.mutate(&manager, "beneficiaries:create", beneficiary()).unwrap();
    let seen_by_member = value(h.subscribe(&member, 1, "beneficiaries:get", json!({"id": id})));
    assert_eq!(seen_by_member["name"], "Ayşe Yılmaz");
    assert!(seen_by_member.get("tc_no").is_none(), "{seen_by_member}");
    let listed = value(h.subscribe(&member, 2, "beneficiaries:list", json!({"search": "ayse"})));
    assert!(listed["documents"][0].get("tc_no").is_none(), "{listed}");
    assert_eq!(value(h.subscribe(&manager, 1, "beneficiaries:get", json!({"id": id})))["tc_no"], "12345678901");
    // A member's update keeps the number it cannot see, and cannot overwrite it.
    h.mutate(&member, "beneficiaries:update", json!({"id": id, "city": "Ankara"})).unwrap();
    let (code, _) = h.mutate(&member, "beneficiaries:update", json!({"id": id, "tc_no": "98765432109"})).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    let after = h.room.query_once("beneficiaries:get", &json!({"id": id})).unwrap();
    assert_eq!((after["city"].as_str(), after["tc_no"].as_str()), (Some("Ankara"), Some("12345678901")));
}

#[test]
fn no_answer_reveals_a_field_the_caller_cannot_read() {
    let (mut h, member, manager) = Harness::with_member_and_manager();
    let first = h.mutate(&manager, "beneficiaries:create", beneficiary()).unwrap();
    // Managers are told which document holds a taken TC number.
    let (code, message) = h.mutate(&manager, "beneficiaries:create", beneficiary()).unwrap_err();
    assert_eq!(code, ErrorCode::UniqueViolation);
    let holder = first.as_str().unwrap();
    assert_eq!(
        message,
        format!(r#"beneficiaries.tc_no must be unique: "12345678901" is already used by beneficiaries {holder}"#)
    );
    // A member cannot probe for a number: not by writing it (refused before any lookup,
    // whether the number is taken or not), and the refusal is the same either way.
    let taken = h.mutate(&member, "beneficiaries:create", beneficiary()).unwrap_err();
    let mut free = beneficiary();
    free["tc_no"] = json!("11111111111");
    assert_eq!(h.mutate(&member, "beneficiaries:create", free).unwrap_err(), taken);
    assert!(!taken.1.contains("12345678901") && !taken.1.contains(holder), "{}", taken.1);
    // Nor by searching or filtering on it: a search over the name does not match numbers.
    let listed = value(h.subscribe(&member, 1, "beneficiaries:list", json!({"search": "12345678901"})));
    assert_eq!(listed["total"].as_f64(), Some(0.0), "{listed}");
}

#[test]
fn refreshing_the_token_keeps_subscriptions_and_reruns_them_under_the_new_identity() {
    let mut h = Harness::new();
    let a = h.connect("anon", None);
    let manager = h.connect("manager", Some("manager"));
    let id = h.mutate(&manager, "beneficiaries:create", beneficiary()).unwrap();
    assert_eq!(
        failed_code(&h.subscribe(&a, 1, "beneficiaries:get", json!({"id": id}))),
        Some(ErrorCode::Unauthenticated)
    );
    assert_eq!(value(h.subscribe(&a, 2, "auth:whoami", json!({}))), Json::Null);
    // Sign in as a manager: both queries re-run in one transition, identity 0 → 1.
    let out = h.frame(&a, json!({"type": "authenticate", "token": token("boss", "manager", "org-a", 60.0)}));
    let ServerMessage::Transition { start_version, end_version, modifications } = &out[0].message else { panic!() };
    assert_eq!((start_version.identity, end_version.identity), (0, 1));
    assert_eq!(modifications.len(), 2, "{modifications:?}");
    assert_eq!(value(modifications[0].clone())["tc_no"], "12345678901");
    assert_eq!(value(modifications[1].clone())["role"], "manager");
    // The same identity again (a refresh): nothing to resend, the identity still moves.
    let out = h.frame(&a, json!({"type": "authenticate", "token": token("boss", "manager", "org-a", 120.0)}));
    let ServerMessage::Transition { end_version, modifications, .. } = &out[0].message else { panic!() };
    assert_eq!((end_version.identity, modifications.len()), (2, 0));
    // The token runs out: later commits re-run the queries signed out.
    h.env.now_ms += 200_000.0;
    let out = h.frame(&manager, json!({"type": "mutation", "requestId": 2, "udfPath": "beneficiaries:update", "args": {"id": id, "city": "Van"}}));
    let to_a: Vec<_> = out.iter().filter(|o| o.to == a).collect();
    let ServerMessage::Transition { modifications, .. } = &to_a[0].message else { panic!("{out:?}") };
    assert_eq!(failed_code(&modifications[0]), Some(ErrorCode::Unauthenticated));
    let (code, message) = h.mutate(&a, "tasks:remove", json!({"id": "x"})).unwrap_err();
    assert_eq!(code, ErrorCode::Unauthenticated);
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn identity_survives_reopening_the_room() {
    let mut h = Harness::new();
    let manager = h.connect("manager", Some("manager"));
    // Same storage, new engine (what waking from hibernation does).
    let Harness { room, env, next_request } = h;
    let sql = room.sql;
    let room = crate::app::open_room(sql).unwrap().with_auth(AuthPolicy::Tokens(TokenVerifier::new(
        SECRET.to_vec(),
        "org-a",
        crate::app::roles::ROLES,
    )));
    let mut h = Harness { room, env, next_request };
    assert!(h.mutate(&manager, "beneficiaries:create", beneficiary()).is_ok());
}

#[test]
fn stats_are_for_admins() {
    let mut h = Harness::new();
    let admin = h.connect("admin", Some("admin"));
    h.subscribe(&admin, 1, "tasks:list", json!({}));
    let reply = h.room.stats_http(None, NOW);
    assert_eq!(reply.status, 401);
    let manager = format!("Bearer {}", token("m", "manager", "org-a", 60.0));
    assert_eq!(h.room.stats_http(Some(&manager), NOW).status, 403);
    let admin_header = format!("Bearer {}", token("a", "admin", "org-a", 60.0));
    let reply = h.room.stats_http(Some(&admin_header), NOW);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!((reply.body["connections"].as_u64(), reply.body["subscriptions"].as_u64()), (Some(1), Some(1)));
    assert!(reply.body["sqliteBytes"].as_u64().unwrap() > 0);
    let other_room = format!("Bearer {}", token("a", "admin", "org-b", 60.0));
    assert_eq!(h.room.stats_http(Some(&other_room), NOW).status, 401);
}

#[test]
fn http_calls_carry_the_bearer_token() {
    let mut h = Harness::new();
    let body = json!({"udfPath": "tasks:list", "args": {}}).to_string();
    let (reply, _) = h.room.http_call(FunctionKind::Query, &body, None, &mut h.env);
    assert_eq!(reply.status, 401);
    let viewer = format!("Bearer {}", token("v", "viewer", "org-a", 60.0));
    let (reply, _) = h.room.http_call(FunctionKind::Query, &body, Some(&viewer), &mut h.env);
    assert_eq!(reply.status, 200);
    let create = json!({"udfPath": "beneficiaries:create", "args": beneficiary()}).to_string();
    let (reply, _) = h.room.http_call(FunctionKind::Mutation, &create, Some(&viewer), &mut h.env);
    assert_eq!((reply.status, reply.body["code"].as_str()), (403, Some("FORBIDDEN")));
    let (reply, _) = h.room.http_call(FunctionKind::Query, &body, Some("Basic abc"), &mut h.env);
    assert_eq!(reply.status, 401);
}

#[test]
fn a_reconnect_storm_is_spread_out_with_retry_hints() {
    let mut h = Harness::new();
    h.room.limits = RoomLimits { connects_per_second: 10.0, connect_burst: 5.0, ..RoomLimits::default() };
    let mut refused = Vec::new();
    for i in 0..20 {
        let conn = ConnId::from_stored(format!("c{i}"));
        h.room.handle(RoomInput::Open { conn: &conn }, &mut h.env);
        let out = h.room.handle(
            RoomInput::Frame {
                conn: &conn,
                text: &json!({"type": "connect", "sessionId": format!("session-{i:020}")}).to_string(),
            },
            &mut h.env,
        );
        if let Some(o) = out.first() {
            assert!(o.closes_connection());
            let ServerMessage::Error { code: ErrorCode::Overloaded, retry_after_ms: Some(ms), .. } = o.message else {
                panic!("{o:?}")
            };
            assert!((1000..=2200).contains(&ms), "{ms}");
            refused.push(i);
        }
    }
    assert_eq!(refused.len(), 15, "the burst of 5 is accepted, the rest wait");
    assert_eq!(h.room.stats().unwrap().connections, 5, "refused connections hold nothing");
    // A second later the allowance has refilled.
    h.env.now_ms += 1000.0;
    let late = ConnId::from_stored("late".into());
    let out = h.room.handle(
        RoomInput::Frame {
            conn: &late,
            text: &json!({"type": "connect", "sessionId": "session-late-000000"}).to_string(),
        },
        &mut h.env,
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_request_id_answers_only_the_call_and_the_caller_it_was_recorded_for() {
    let mut h = Harness::new();
    let admin = h.connect("admin", Some("admin"));
    let user = h.mutate(&admin, "users:ensure", json!({"name": "A", "email": "a@x", "role": "admin"})).unwrap();
    let send = |h: &mut Harness, conn: &ConnId, request_id: u32, path: &str, args: Json| {
        let out = h.frame(conn, json!({"type": "mutation", "requestId": request_id, "udfPath": path, "args": args}));
        match out.last().map(|o| &o.message) {
            Some(ServerMessage::MutationResponse { outcome, .. }) => outcome.clone(),
            other => panic!("{other:?}"),
        }
    };
    let task = json!({"title": "Keep me", "created_by": user});
    let MutationOutcome::Success { result: id, .. } = send(&mut h, &admin, 50, "tasks:create", task.clone()) else {
        panic!()
    };
    // The same call again (a re-send): the recorded outcome, nothing runs twice.
    assert!(
        matches!(send(&mut h, &admin, 50, "tasks:create", task), MutationOutcome::Success { result, .. } if result == id)
    );
    // Another function or other arguments under that id: refused, and nothing runs.
    for (path, args) in
        [("tasks:remove", json!({"id": id})), ("tasks:create", json!({"title": "Other", "created_by": user}))]
    {
        let MutationOutcome::Failure { code, message } = send(&mut h, &admin, 50, path, args) else { panic!() };
        assert_eq!(code, ErrorCode::BadFrame);
        assert!(message.starts_with("requestId 50 of this session was already used for another call"), "{message}");
    }
    let tasks = h.room.query_once("tasks:list", &json!({})).unwrap();
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    // Another caller presenting the same session id learns nothing of the outcome.
    let intruder = ConnId::from_stored("intruder".into());
    h.room.handle(RoomInput::Open { conn: &intruder }, &mut h.env);
    h.frame(&intruder, json!({"type": "connect", "sessionId": "session-admin-0123456789"}));
    h.frame(&intruder, json!({"type": "authenticate", "token": token("mallory", "admin", "org-a", 3600.0)}));
    let replay = send(&mut h, &intruder, 50, "tasks:create", json!({"title": "Keep me", "created_by": user}));
    assert!(matches!(replay, MutationOutcome::Failure { code: ErrorCode::BadFrame, .. }), "{replay:?}");
}
