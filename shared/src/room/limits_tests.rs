//! The room's allowances: each refusal is specific, says when to retry, changes nothing, and
//! the allowance belongs to whom it should (a user across sockets, a signed-out socket alone).

use super::*;
use crate::auth::{sign, Claims, TokenVerifier};
use crate::engine::environment::TestEnvironment;
use crate::storage::sqlite::NativeSql;
use serde_json::{json, Value as Json};

const SECRET: &[u8] = b"limits-test-secret";
const ROOM: &str = "org-l";

fn token(subject: &str, role: &str) -> String {
    let claims =
        Claims { sub: subject.into(), role: role.into(), room: ROOM.into(), name: None, exp: 1_700_000_000.0 + 3600.0 };
    sign(&claims, SECRET)
}

struct Harness {
    room: Room<NativeSql>,
    env: TestEnvironment,
    next: u32,
}

impl Harness {
    fn new(limits: RoomLimits) -> Self {
        let room = crate::app::open_room(NativeSql::in_memory().unwrap())
            .unwrap()
            .with_auth(AuthPolicy::Tokens(TokenVerifier::new(SECRET.to_vec(), ROOM, crate::app::roles::ROLES)))
            .with_limits(limits);
        Self { room, env: TestEnvironment::new(1_700_000_000_000.0), next: 0 }
    }

    fn frame(&mut self, conn: &ConnId, msg: Json) -> Vec<Outgoing> {
        self.room.handle(RoomInput::Frame { conn, text: &msg.to_string() }, &mut self.env)
    }

    /// A socket that sent `connect` and, with a subject, signed in as that user.
    fn socket(&mut self, name: &str, user: Option<(&str, &str)>) -> ConnId {
        let conn = ConnId::from_stored(name.into());
        self.room.handle(RoomInput::Open { conn: &conn }, &mut self.env);
        assert!(self
            .frame(&conn, json!({"type": "connect", "sessionId": format!("session-{name}-0123456789")}))
            .is_empty());
        if let Some((subject, role)) = user {
            let out = self.frame(&conn, json!({"type": "authenticate", "token": token(subject, role)}));
            assert!(matches!(out[0].message, ServerMessage::Transition { .. }), "{out:?}");
        }
        conn
    }

    /// Runs the steps the room left for later, as a host does between events; what they sent.
    fn drain(&mut self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            if !self.room.has_pending_work() {
                return out;
            }
            out.extend(self.room.continue_work(&mut self.env));
        }
        panic!("the room's work did not end in 1,000 steps")
    }

    fn mutate(&mut self, conn: &ConnId, path: &str, args: Json) -> MutationOutcome {
        self.next += 1;
        let out = self.frame(conn, json!({"type": "mutation", "requestId": self.next, "udfPath": path, "args": args}));
        match out.into_iter().last().map(|o| o.message) {
            Some(ServerMessage::MutationResponse { outcome, .. }) => outcome,
            other => panic!("{other:?}"),
        }
    }
}

fn refused(outcome: &MutationOutcome) -> Option<(ErrorCode, &str)> {
    match outcome {
        MutationOutcome::Failure { code, message } => Some((*code, message.as_str())),
        MutationOutcome::Success { .. } => None,
    }
}

fn tight() -> RoomLimits {
    RoomLimits { mutations_per_second: 1.0, mutation_burst: 3.0, ..RoomLimits::default() }
}

#[test]
fn a_users_mutation_allowance_is_shared_by_all_their_sockets_and_http_calls() {
    let mut h = Harness::new(tight());
    let sockets: Vec<ConnId> = (0..5).map(|i| h.socket(&format!("tab{i}"), Some(("ayse", "admin")))).collect();
    let ensure = |i: usize| json!({"name": format!("u{i}"), "email": format!("u{i}@x"), "role": "member"});
    let outcomes: Vec<MutationOutcome> = (0..5).map(|i| h.mutate(&sockets[i], "users:ensure", ensure(i))).collect();
    let refusals: Vec<_> = outcomes.iter().filter_map(refused).collect();
    assert_eq!(refusals.len(), 2, "a burst of 3 for the user, not 3 per socket: {outcomes:?}");
    for (code, message) in refusals {
        assert_eq!(code, ErrorCode::LimitExceeded);
        assert!(
            message.starts_with("too many mutations by this user (at most 1 per second, bursts of 3); retry in "),
            "{message}"
        );
    }
    // The same user over HTTP draws on the same allowance.
    let body = json!({"udfPath": "users:ensure", "args": ensure(9)}).to_string();
    let bearer = format!("Bearer {}", token("ayse", "admin"));
    let (reply, _) = h.room.http_call(FunctionKind::Mutation, &body, Some(&bearer), &mut h.env);
    assert_eq!(reply.status, 429, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "LIMIT_EXCEEDED");
    assert!(reply.body["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0), "{:?}", reply.body);
    // Another user is not affected; a second later the first may write again.
    let other = h.socket("other", Some(("mehmet", "admin")));
    assert_eq!(refused(&h.mutate(&other, "users:ensure", ensure(10))), None);
    h.env.now_ms += 1000.0;
    assert_eq!(refused(&h.mutate(&sockets[0], "users:ensure", ensure(11))), None);
}

#[test]
fn signed_out_http_calls_share_an_allowance_per_client_address() {
    let mut h = Harness::new(tight());
    let body = json!({"udfPath": "auth:whoami", "args": {}}).to_string();
    let call = |h: &mut Harness, address: Option<&str>| {
        h.room.http_call_from(FunctionKind::Mutation, &body, None, address, &mut h.env).0.status
    };
    // `auth:whoami` is a query: as a mutation it is unknown — every call still spends.
    let statuses: Vec<u16> = (0..4).map(|_| call(&mut h, Some("203.0.113.7"))).collect();
    assert_eq!(statuses, [404, 404, 404, 429]);
    assert_eq!(call(&mut h, Some("198.51.100.1")), 404, "another address has its own allowance");
}

#[test]
fn connect_comes_once_and_first_and_repeats_spend_nothing() {
    let limits = RoomLimits { connects_per_second: 1.0, connect_burst: 2.0, ..RoomLimits::default() };
    let mut h = Harness::new(limits);
    let a = h.socket("a", None);
    for _ in 0..20 {
        let out = h.frame(&a, json!({"type": "connect", "sessionId": "session-a-0123456789"}));
        let ServerMessage::Error { code, message, .. } = &out[0].message else { panic!("{out:?}") };
        assert_eq!((*code, message.as_str()), (ErrorCode::BadFrame, "this socket already sent connect"));
    }
    // The room-wide allowance is intact: a second socket still connects.
    h.socket("b", None);
    // A socket that skips `connect` is refused everything, and nothing is stored for it.
    let c = ConnId::from_stored("c".into());
    h.room.handle(RoomInput::Open { conn: &c }, &mut h.env);
    for frame in [
        json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list", "args": {}}),
        json!({"type": "mutation", "requestId": 1, "udfPath": "tasks:create", "args": {}}),
        json!({"type": "authenticate", "token": token("x", "admin")}),
    ] {
        let out = h.frame(&c, frame);
        let ServerMessage::Error { code, message, .. } = &out[0].message else { panic!("{out:?}") };
        assert_eq!(*code, ErrorCode::BadFrame);
        assert!(message.starts_with("send connect first"), "{message}");
    }
    assert_eq!(h.room.subscription_count(), 0);
}

#[test]
fn control_frames_and_identity_changes_are_limited_per_socket() {
    let limits = RoomLimits {
        control_per_second: 1.0,
        control_burst: 5.0,
        identity_changes_per_second: 0.1,
        identity_change_burst: 2.0,
        ..RoomLimits::default()
    };
    let mut h = Harness::new(limits);
    let a = h.socket("a", Some(("ayse", "admin"))); // one control frame spent
    let mut failed = Vec::new();
    for query_id in 1..=6 {
        let out = h.frame(&a, json!({"type": "subscribe", "queryId": query_id, "udfPath": "tasks:list", "args": {}}));
        if let ServerMessage::Transition { modifications, .. } = &out[0].message {
            if let QueryModification::QueryFailed { code, message, .. } = &modifications[0] {
                failed.push((query_id, *code, message.clone()));
            }
        }
    }
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].1, ErrorCode::LimitExceeded);
    assert!(failed[0].2.contains("retry in"), "{}", failed[0].2);
    assert_eq!(h.room.subscription_count(), 4, "refused subscriptions are not kept");
    // A refresh of the same identity is free of re-runs; a changed identity is limited.
    h.env.now_ms += 60_000.0;
    let b = h.socket("b", Some(("b", "admin")));
    let mut answers = Vec::new();
    for (i, role) in ["manager", "member", "viewer", "admin"].iter().enumerate() {
        let out = h.frame(&b, json!({"type": "authenticate", "token": token(&format!("u{i}"), role)}));
        answers.push(out.into_iter().next().map(|o| o.message));
    }
    let limited: Vec<_> = answers
        .iter()
        .filter_map(|m| match m {
            Some(ServerMessage::Error { code: ErrorCode::LimitExceeded, message, retry_after_ms }) => {
                Some((message.clone(), *retry_after_ms))
            }
            _ => None,
        })
        .collect();
    // Signing in as "b" spent one of the burst of 2, "u0" the other.
    assert_eq!(limited.len(), 3, "{answers:?}");
    assert!(matches!(answers[0], Some(ServerMessage::Transition { .. })), "{answers:?}");
    assert!(limited[0].1.is_some_and(|ms| ms > 0));
    assert!(limited[0].0.starts_with("too many sign-ins with another identity on this connection"), "{}", limited[0].0);
}

#[test]
fn a_result_over_the_size_limit_fails_for_its_query_only() {
    let mut h = Harness::new(RoomLimits::unlimited());
    let a = h.socket("a", Some(("ayse", "admin")));
    let user = match h.mutate(&a, "users:ensure", json!({"name": "A", "email": "a@x", "role": "admin"})) {
        MutationOutcome::Success { result, .. } => result,
        other => panic!("{other:?}"),
    };
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list", "args": {}}));
    assert!(matches!(&out[0].message, ServerMessage::Transition { .. }));
    let big = "x".repeat(900 * 1024);
    for i in 0..3 {
        let title = format!("{i}{big}");
        assert_eq!(refused(&h.mutate(&a, "tasks:create", json!({"title": title, "created_by": user}))), None);
    }
    // The list is now over 2 MiB: that subscription gets a clear error, the room serves on.
    let out =
        h.frame(&a, json!({"type": "subscribe", "queryId": 2, "udfPath": "tasks:list", "args": {"status": "pending"}}));
    let ServerMessage::Transition { modifications, .. } = &out[0].message else { panic!("{out:?}") };
    let QueryModification::QueryFailed { code, message, .. } = &modifications[0] else { panic!("{modifications:?}") };
    assert_eq!(*code, ErrorCode::LimitExceeded);
    assert!(message.starts_with("the result of tasks:list is 2"), "{message}");
    assert!(message.contains("over the 2097152-byte limit"), "{message}");
    let out = h.frame(&a, json!({"type": "subscribe", "queryId": 3, "udfPath": "users:list", "args": {}}));
    let ServerMessage::Transition { modifications, .. } = &out[0].message else { panic!("{out:?}") };
    assert!(matches!(&modifications[0], QueryModification::QueryUpdated { .. }), "{modifications:?}");
}

#[test]
fn a_socket_that_keeps_sending_refused_frames_is_closed_and_others_are_not() {
    // (Mutations and room time unlimited: thirty mutations at once are past their defaults.)
    let limits = RoomLimits {
        refusals_per_second: 2.0,
        refusal_burst: 10.0,
        work_per_second: f64::INFINITY,
        mutations_per_second: f64::INFINITY,
        ..RoomLimits::default()
    };
    let mut h = Harness::new(limits);
    let spammer = h.socket("spammer", Some(("ayse", "admin")));
    let other = h.socket("other", None);
    let bad_frame =
        |out: &[Outgoing]| matches!(&out[0].message, ServerMessage::Error { code: ErrorCode::BadFrame, .. });
    // An application's errors are answers, not refusals: any number of them.
    for _ in 0..30 {
        let outcome = h.mutate(&spammer, "tasks:remove", json!({"id": "not-an-id"}));
        assert!(matches!(refused(&outcome), Some((ErrorCode::Validation | ErrorCode::NotFound, _))), "{outcome:?}");
    }
    // Refused frames of every kind count: malformed, repeated `connect`, binary.
    let connect = json!({"type": "connect", "sessionId": "session-spammer-0123456789"}).to_string();
    for i in 0..10 {
        let out = match i % 3 {
            0 => h.room.handle(RoomInput::Frame { conn: &spammer, text: "{not json" }, &mut h.env),
            1 => h.room.handle(RoomInput::Frame { conn: &spammer, text: &connect }, &mut h.env),
            _ => h.room.handle(RoomInput::Binary { conn: &spammer, bytes: 12 }, &mut h.env),
        };
        assert!(out.len() == 1 && bad_frame(&out), "refusal {i} is answered and the socket kept: {out:?}");
    }
    // The eleventh in a row: answered, then the socket is closed with a hint and forgotten.
    let out = h.room.handle(RoomInput::Frame { conn: &spammer, text: "[]" }, &mut h.env);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(bad_frame(&out));
    assert!(out[1].closes_connection());
    let ServerMessage::Error { message, retry_after_ms, .. } = &out[1].message else { panic!("{out:?}") };
    assert!(message
        .starts_with("this socket sent too many frames the room refused (at most 10 at once, then 2 per second)"));
    assert!(retry_after_ms.is_some_and(|ms| ms >= 10_000), "{retry_after_ms:?}");
    let stats = h.room.stats().unwrap();
    assert_eq!((stats.connections, stats.sockets_closed_for_refusals_since_wake), (1, 1));
    // Another socket has its own allowance, and it refills.
    for _ in 0..10 {
        assert!(bad_frame(&h.room.handle(RoomInput::Frame { conn: &other, text: "{" }, &mut h.env)));
    }
    h.env.now_ms += 1000.0;
    for _ in 0..2 {
        assert_eq!(h.room.handle(RoomInput::Frame { conn: &other, text: "{" }, &mut h.env).len(), 1);
    }
    assert_eq!(
        h.frame(&other, json!({"type": "subscribe", "queryId": 1, "udfPath": "auth:whoami", "args": {}})).len(),
        1
    );
}

#[test]
fn a_users_subscriptions_are_limited_over_all_their_sockets() {
    let mut h = Harness::new(RoomLimits::unlimited());
    let subscribe = |h: &mut Harness, conn: &ConnId, query_id: u32| {
        let out = h.frame(conn, json!({"type": "subscribe", "queryId": query_id, "udfPath": "tasks:list", "args": {}}));
        out.into_iter().next().map(|o| o.message)
    };
    let tabs: Vec<ConnId> = (0..4).map(|i| h.socket(&format!("tab{i}"), Some(("ayse", "member")))).collect();
    for tab in &tabs {
        for query_id in 1..=256 {
            assert!(matches!(subscribe(&mut h, tab, query_id), Some(ServerMessage::Transition { .. })));
        }
    }
    // A fifth tab of the same user is refused; another user is not.
    let fifth = h.socket("tab4", Some(("ayse", "member")));
    let answer = subscribe(&mut h, &fifth, 1);
    let Some(ServerMessage::Error { code, message, .. }) = answer else { panic!("{answer:?}") };
    assert_eq!(code, ErrorCode::LimitExceeded);
    assert_eq!(
        message,
        "at most 1024 subscriptions per user over all their connections; this user holds 1024: close other tabs or unsubscribe some first (queryId 1 refused)"
    );
    let other = h.socket("other", Some(("mehmet", "member")));
    assert!(matches!(subscribe(&mut h, &other, 1), Some(ServerMessage::Transition { .. })));
    // A signed-out socket's subscriptions come along when it signs in: refused as that user,
    // kept signed out.
    let anonymous = h.socket("anonymous", None);
    assert!(matches!(subscribe(&mut h, &anonymous, 1), Some(ServerMessage::Transition { .. })));
    let out = h.frame(&anonymous, json!({"type": "authenticate", "token": token("ayse", "member")}));
    let ServerMessage::Error { code, message, .. } = &out[0].message else { panic!("{out:?}") };
    assert_eq!(*code, ErrorCode::LimitExceeded);
    assert!(message.contains("this user holds 1025"), "{message}");
    // Closing a tab frees its share.
    h.room.handle(RoomInput::Close { conn: &tabs[0] }, &mut h.env);
    assert!(matches!(subscribe(&mut h, &fifth, 1), Some(ServerMessage::Transition { .. })));
}

#[test]
fn http_queries_are_limited_per_user_and_per_signed_out_address() {
    let limits = RoomLimits { http_queries_per_second: 1.0, http_query_burst: 3.0, ..RoomLimits::default() };
    let mut h = Harness::new(limits);
    let body = json!({"udfPath": "auth:whoami", "args": {}}).to_string();
    let ayse = format!("Bearer {}", token("ayse", "admin"));
    let query = |h: &mut Harness, bearer: Option<&str>, address: Option<&str>| {
        h.room.http_call_from(FunctionKind::Query, &body, bearer, address, &mut h.env).0
    };
    // A signed-in user: a burst of 3 wherever they call from, then refused with a hint.
    let statuses: Vec<u16> = ["203.0.113.7", "198.51.100.1", "192.0.2.9"]
        .iter()
        .map(|a| query(&mut h, Some(&ayse), Some(a)).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200]);
    let refused = query(&mut h, Some(&ayse), Some("203.0.113.8"));
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("LIMIT_EXCEEDED")), "{:?}", refused.body);
    let message = refused.body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("too many HTTP queries by this user (at most 1 per second, bursts of 3); retry in "),
        "{message}"
    );
    assert!(refused.body["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000), "{:?}", refused.body);
    // Mutations draw on their own allowance, and another user on theirs.
    let mehmet = format!("Bearer {}", token("mehmet", "admin"));
    assert_eq!(query(&mut h, Some(&mehmet), None).status, 200);
    // Signed out: one allowance per address.
    let statuses: Vec<u16> = (0..4).map(|_| query(&mut h, None, Some("203.0.113.7")).status).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert_eq!(query(&mut h, None, Some("198.51.100.1")).status, 200, "another address has its own allowance");
    // A second later one more is allowed.
    h.env.now_ms += 1000.0;
    assert_eq!(query(&mut h, Some(&ayse), None).status, 200);
    assert_eq!(query(&mut h, Some(&ayse), None).status, 429);
}

#[test]
fn sockets_per_client_address_are_bounded_and_the_refusal_says_when_to_retry() {
    let mut h = Harness::new(RoomLimits { sockets_per_address: 3.0, ..RoomLimits::default() });
    let now = h.env.now_ms;
    for open in 0..3 {
        assert!(h.room.admit_socket("a", open, now).is_ok(), "{open} open");
    }
    for open in [3, 4, 1_000] {
        let Err(reply) = h.room.admit_socket("a", open, now) else { panic!("{open} open: admitted") };
        assert_eq!(reply.status, 429);
        assert_eq!(reply.body["code"], "LIMIT_EXCEEDED");
        assert_eq!(reply.body["retryAfterMs"], 5_000);
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("holds {open} open sockets")) && message.contains("(3)"), "{message}");
    }
    // The default bound leaves room for an office behind one address.
    let mut h = Harness::new(RoomLimits::default());
    assert!(h.room.admit_socket("a", 200, now).is_ok());
    assert!(h.room.admit_socket("a", 256, now).is_err());
    // Opened at once: 64 from one address, then 20 a second; another address has its own.
    let opened = (0..100).filter(|_| h.room.admit_socket("b", 0, now).is_ok()).count();
    assert_eq!(opened, 64);
    let Err(reply) = h.room.admit_socket("b", 0, now) else { panic!("admitted") };
    assert!(reply.body["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0 && ms <= 50), "{reply:?}");
    assert!(h.room.admit_socket("c", 0, now).is_ok());
    assert!(h.room.admit_socket("b", 0, now + 100.0).is_ok(), "a socket per 50 ms");
}

#[test]
fn a_socket_that_leaves_too_much_unread_is_shed_and_readers_are_not() {
    let mut h = Harness::new(RoomLimits { unread_bytes_per_socket: 1_000.0, ..RoomLimits::default() });
    let slow = h.socket("slow", Some(("ayse", "admin")));
    let reader = h.socket("reader", Some(("mehmet", "admin")));
    for conn in [&slow, &reader] {
        let out = h.frame(conn, json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list", "args": {}}));
        assert!(matches!(out[0].message, ServerMessage::Transition { .. }), "{out:?}");
    }
    let t = 1_700_000_000_000.0;
    // A burst to a reader — six times the bound before its first acknowledgement can be
    // back — is not shed; the reader acknowledges it all.
    for n in 0..10 {
        assert_eq!(h.room.sent(&reader, 600, t), None, "frame {n} of the burst");
    }
    assert!(h.frame(&reader, json!({"type": "ack", "frames": 10})).is_empty(), "an ack is not answered");
    assert_eq!(h.room.unread_bytes(&reader), 0);
    // One frame bigger than the bound is not shed either, and acknowledged later.
    assert_eq!(h.room.sent(&reader, 5_000, t + 20_000.0), None);
    assert!(h.frame(&reader, json!({"type": "ack", "frames": 1})).is_empty());
    // The slow one: 1,200 bytes unacknowledged for over ten seconds when the next frame goes out.
    assert_eq!(h.room.sent(&slow, 600, t), None);
    assert_eq!(h.room.sent(&slow, 600, t), None);
    let shed = h.room.sent(&slow, 600, t + 10_001.0).expect("shed");
    assert_eq!(shed.to, slow);
    assert!(shed.closes_connection());
    let ServerMessage::Error { code, message, retry_after_ms } = &shed.message else { panic!("{shed:?}") };
    assert_eq!(*code, ErrorCode::Overloaded);
    assert!(retry_after_ms.is_some_and(|ms| ms > 0));
    assert!(
        message.contains("has not acknowledged 3 frames (1800 bytes, 1200 of them sent over 10 s ago)"),
        "{message}"
    );
    // The room forgot it: its query is no longer run, the reader's is.
    assert_eq!(h.room.subscription_count(), 1);
    assert_eq!(h.room.unread_bytes(&slow), 0);
    assert_eq!(h.room.stats().unwrap().slow_consumers_shed_since_wake, 1);
    // Acknowledging more than was sent (counts forgotten by a hibernation) is absorbed.
    assert!(h.frame(&reader, json!({"type": "ack", "frames": 4_000_000_000u32})).is_empty());
    assert_eq!(h.room.sent(&reader, 10, t), None);
    assert_eq!(h.room.unread_bytes(&reader), 10);
}

#[test]
fn a_socket_that_never_acknowledges_is_shed_past_the_hard_bound_or_many_small_frames() {
    let t = 1_700_000_000_000.0;
    let mut h = Harness::new(RoomLimits { unread_bytes_per_socket: 1_000.0, ..RoomLimits::default() });
    let flooded = h.socket("flooded", None);
    // However recent: past eight times the bound, the connection goes.
    for _ in 0..8 {
        assert_eq!(h.room.sent(&flooded, 1_000, t), None);
    }
    assert!(h.room.sent(&flooded, 1_000, t).is_some_and(|o| o.closes_connection()));
    let mut h = Harness::new(RoomLimits::default());
    let silent = h.socket("silent", None);
    for _ in 0..super::unread::MAX_UNREAD_FRAMES {
        assert_eq!(h.room.sent(&silent, 20, t), None);
    }
    assert!(h.room.sent(&silent, 20, t).is_some_and(|o| o.closes_connection()));
}

#[test]
fn a_transition_over_large_results_goes_out_in_frames_of_about_a_mebibyte() {
    let mut h = Harness::new(RoomLimits::unlimited());
    let writer = h.socket("writer", Some(("ayse", "admin")));
    let reader = h.socket("reader", Some(("mehmet", "manager")));
    let user = match h.mutate(&writer, "users:ensure", json!({"name": "A", "email": "a@x", "role": "admin"})) {
        MutationOutcome::Success { result, .. } => result,
        other => panic!("{other:?}"),
    };
    // Four live queries of the reader over the tasks.
    for query_id in 1..=4 {
        let out =
            h.frame(&reader, json!({"type": "subscribe", "queryId": query_id, "udfPath": "tasks:list", "args": {}}));
        assert!(matches!(&out[0].message, ServerMessage::Transition { .. }), "{out:?}");
    }
    // One commit changes all four by a 600 KB task: more than a mebibyte in all.
    let title = "x".repeat(600 * 1024);
    h.next += 1;
    let create = json!({"type": "mutation", "requestId": h.next, "udfPath": "tasks:create",
                        "args": {"title": title, "created_by": user}});
    let out = h.frame(&writer, create);
    let frames: Vec<(StateVersion, StateVersion, usize, usize)> = out
        .iter()
        .filter(|o| o.to == reader)
        .map(|o| match &o.message {
            ServerMessage::Transition { start_version, end_version, modifications } => {
                (*start_version, *end_version, modifications.len(), o.message.to_json().len())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(frames.len() >= 2, "{frames:?}");
    let (start, end) = (frames[0].0, frames[0].1);
    assert!(end.ts > start.ts, "the first frame moves the version");
    for (s, e, modifications, bytes) in &frames[1..] {
        assert_eq!((*s, *e), (end, end), "the others continue at the new version");
        assert!(*modifications >= 1 && *bytes < 2 * super::fanout::TRANSITION_BYTES, "{frames:?}");
    }
    assert_eq!(frames.iter().map(|f| f.2).sum::<usize>(), 4, "every query re-ran once: {frames:?}");
    // The writer's answer still comes after the whole transition of its own socket.
    assert!(matches!(out.last().map(|o| &o.message), Some(ServerMessage::MutationResponse { .. })));
}

#[test]
fn an_identity_change_re_runs_in_steps_when_the_host_yields() {
    let mut h = Harness::new(RoomLimits { reruns_per_step: 4.0, ..RoomLimits::unlimited() });
    let a = h.socket("a", Some(("ayse", "admin")));
    let c = h.socket("c", Some(("can", "admin")));
    for conn in [&a, &c] {
        for query_id in 1..=10 {
            let frame = json!({"type": "subscribe", "queryId": query_id, "udfPath": "auth:whoami", "args": {}});
            assert!(matches!(h.frame(conn, frame)[0].message, ServerMessage::Transition { .. }));
        }
    }
    h.drain();
    let whoami = |modifications: &[QueryModification]| -> Vec<(QueryId, Json)> {
        modifications
            .iter()
            .map(|m| match m {
                QueryModification::QueryUpdated { query_id, value, .. } => (*query_id, value["subject"].clone()),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    // The change re-runs four queries now and moves the identity…
    let out = h.frame(&a, json!({"type": "authenticate", "token": token("mehmet", "manager")}));
    let ServerMessage::Transition { start_version, end_version, modifications } = &out[0].message else {
        panic!("{out:?}")
    };
    assert_eq!(end_version.identity, start_version.identity + 1);
    assert_eq!(whoami(modifications), (1..=4).map(|q| (q, json!("mehmet"))).collect::<Vec<_>>());
    let version = *end_version;
    // …and the rest in steps the host drives, each at the connection's version.
    let mut later = Vec::new();
    let mut steps = 0;
    while h.room.has_pending_work() {
        steps += 1;
        for o in h.room.continue_work(&mut h.env) {
            let ServerMessage::Transition { start_version, end_version, modifications } = o.message else {
                panic!("{o:?}")
            };
            assert_eq!((o.to.clone(), start_version, end_version), (a.clone(), version, version));
            later.extend(whoami(&modifications));
        }
        assert!(steps <= 10, "bounded");
    }
    assert_eq!(steps, 2);
    assert_eq!(later, (5..=10).map(|q| (q, json!("mehmet"))).collect::<Vec<_>>());

    // A newer change replaces the re-runs an earlier one left; a closed socket leaves none.
    h.frame(&a, json!({"type": "authenticate", "token": token("zeynep", "viewer")}));
    h.frame(&a, json!({"type": "authenticate", "token": token("ayse", "admin")}));
    let mut rerun = 0;
    while h.room.has_pending_work() {
        rerun += h.room.continue_work(&mut h.env).len();
    }
    assert_eq!(rerun, 2, "six queries in two steps, once");
    h.frame(&c, json!({"type": "authenticate", "token": token("mehmet", "manager")}));
    assert!(h.room.has_pending_work());
    h.room.handle(RoomInput::Close { conn: &c }, &mut h.env);
    assert!(!h.room.has_pending_work());
}

/// The modifications of a transition, or a panic.
fn modifications_of(message: &ServerMessage) -> &[QueryModification] {
    match message {
        ServerMessage::Transition { modifications, .. } => modifications,
        other => panic!("expected a transition, got {other:?}"),
    }
}

#[test]
fn a_burst_of_subscriptions_runs_in_steps_and_other_sockets_are_served_between_them() {
    let mut h = Harness::new(RoomLimits { reruns_per_step: 4.0, ..RoomLimits::unlimited() });
    let flood = h.socket("flood", Some(("ayse", "admin")));
    let other = h.socket("other", Some(("can", "admin")));
    // Each subscribe is answered at once with the query set moved and no result yet.
    for query_id in 1..=256 {
        let frame = json!({"type": "subscribe", "queryId": query_id, "udfPath": "users:list", "args": {}});
        let out = h.frame(&flood, frame);
        let [answer] = &out[..] else { panic!("{out:?}") };
        let ServerMessage::Transition { start_version, end_version, modifications } = &answer.message else {
            panic!("{answer:?}")
        };
        assert!(modifications.is_empty(), "no run yet: {modifications:?}");
        assert_eq!(end_version.query_set, start_version.query_set + 1);
    }
    // One step runs four queries; another socket's write goes through between steps, and
    // the queries that run after it see it.
    let step = h.room.continue_work(&mut h.env);
    assert_eq!(step.iter().map(|o| modifications_of(&o.message).len()).sum::<usize>(), 4);
    let written = h.mutate(&other, "users:ensure", json!({"name": "Between", "email": "b@x", "role": "member"}));
    assert!(refused(&written).is_none(), "{written:?}");
    let rest = h.drain();
    let mut seen = 4;
    for o in &rest {
        assert_eq!(o.to, flood);
        for m in modifications_of(&o.message) {
            let QueryModification::QueryUpdated { value, .. } = m else { panic!("{m:?}") };
            assert_eq!(value.as_array().map(Vec::len), Some(1), "the write between the steps is in: {value}");
            seen += 1;
        }
    }
    assert_eq!(seen, 256, "every subscription got its first result, once");
    assert!(rest.len() <= 64, "at most four runs a step: {} steps", rest.len());
}

#[test]
fn a_deferred_first_run_confirms_a_resumed_result_and_refuses_what_can_never_run_at_once() {
    let mut h = Harness::new(RoomLimits { reruns_per_step: 4.0, ..RoomLimits::unlimited() });
    let a = h.socket("a", Some(("ayse", "admin")));
    h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "auth:whoami", "args": {}}));
    let first = h.drain();
    let Some(QueryModification::QueryUpdated { hash, .. }) =
        first.first().map(|o| modifications_of(&o.message)[0].clone())
    else {
        panic!("{first:?}")
    };
    // Resumed with that result: confirmed, not sent again.
    let b = h.socket("b", Some(("ayse", "admin")));
    h.frame(&b, json!({"type": "subscribe", "queryId": 1, "udfPath": "auth:whoami", "args": {}, "resultHash": hash}));
    let resumed = h.drain();
    assert!(
        matches!(modifications_of(&resumed[0].message), [QueryModification::QueryUnchanged { query_id: 1 }]),
        "{resumed:?}"
    );
    // Resumed with a stale result: the whole result.
    h.frame(
        &b,
        json!({"type": "subscribe", "queryId": 2, "udfPath": "auth:whoami", "args": {}, "resultHash": "stale"}),
    );
    let stale = h.drain();
    assert!(matches!(modifications_of(&stale[0].message), [QueryModification::QueryUpdated { query_id: 2, .. }]));
    // No such function, or invalid arguments: answered at once, not kept, nothing left to run.
    for (query_id, path, args) in [(3, "tasks:lst", json!({})), (4, "tasks:list", json!({"status": "later"}))] {
        let out = h.frame(&b, json!({"type": "subscribe", "queryId": query_id, "udfPath": path, "args": args}));
        assert!(matches!(modifications_of(&out[0].message), [QueryModification::QueryFailed { .. }]), "{out:?}");
        assert!(h.drain().is_empty(), "nothing left to run");
        let again =
            h.frame(&b, json!({"type": "subscribe", "queryId": query_id, "udfPath": "auth:whoami", "args": {}}));
        assert!(modifications_of(&again[0].message).is_empty(), "the id is free again: {again:?}");
        h.drain();
    }
    // Unsubscribed before its run: nothing is sent for it.
    h.frame(&b, json!({"type": "subscribe", "queryId": 9, "udfPath": "auth:whoami", "args": {}}));
    h.frame(&b, json!({"type": "unsubscribe", "queryId": 9}));
    assert!(h.drain().is_empty());
    // Signed in as someone else before its run: it runs as the new user.
    h.frame(&b, json!({"type": "subscribe", "queryId": 10, "udfPath": "auth:whoami", "args": {}}));
    h.frame(&b, json!({"type": "authenticate", "token": token("mehmet", "manager")}));
    let runs: Vec<QueryModification> = h.drain().iter().flat_map(|o| modifications_of(&o.message).to_vec()).collect();
    let mine = runs.iter().find_map(|m| match m {
        QueryModification::QueryUpdated { query_id: 10, value, .. } => Some(value["subject"].clone()),
        _ => None,
    });
    assert_eq!(mine, Some(json!("mehmet")), "{runs:?}");
}

#[test]
fn a_burst_of_subscriptions_is_written_once_before_anything_else_reads_it() {
    let mut h = Harness::new(RoomLimits { reruns_per_step: 4.0, ..RoomLimits::unlimited() });
    let stored = |h: &Harness, conn: Option<&str>| {
        let rows = h
            .room
            .sql()
            .exec(
                "SELECT COUNT(*) FROM _subs WHERE conn_id = COALESCE(?, conn_id)",
                &[conn.map_or(SqlValue::Null, SqlValue::from)],
            )
            .unwrap();
        int_at(&rows[0], 0)
    };
    let subscribe = |h: &mut Harness, conn: &ConnId, query_id: u32| {
        h.frame(conn, json!({"type": "subscribe", "queryId": query_id, "udfPath": "auth:whoami", "args": {}}))
    };
    let refusal = |out: &[Outgoing]| match out.first().map(|o| &o.message) {
        Some(ServerMessage::Error { code, message, .. }) => Some((*code, message.clone())),
        _ => None,
    };
    let a = h.socket("a", Some(("ayse", "admin")));
    for query_id in 1..=200 {
        assert_eq!(refusal(&subscribe(&mut h, &a, query_id)), None);
    }
    assert_eq!(stored(&h, None), 0, "answered from memory");
    assert_eq!(h.room.stats().unwrap().subscriptions, 200, "and counted");
    // The connection's limits count what is not written yet: an id in use, its 256.
    assert!(matches!(refusal(&subscribe(&mut h, &a, 7)), Some((ErrorCode::BadQueryId, _))));
    for query_id in 201..=256 {
        subscribe(&mut h, &a, query_id);
    }
    assert!(matches!(refusal(&subscribe(&mut h, &a, 999)), Some((ErrorCode::LimitExceeded, _))));
    // A socket opening writes them first; another socket's subscribe does not.
    let b = h.socket("b", Some(("ayse", "admin")));
    assert_eq!(stored(&h, Some("a")), 256);
    subscribe(&mut h, &b, 1);
    assert_eq!(stored(&h, Some("b")), 0);
    // The user's limit (1,024 over all their sockets) counts what is not written yet, on this
    // socket and on the user's others.
    let sockets: Vec<ConnId> = ["c", "d", "e"].iter().map(|name| h.socket(name, Some(("ayse", "admin")))).collect();
    let (c, d, e) = (&sockets[0], &sockets[1], &sockets[2]);
    for query_id in 1..=256 {
        assert_eq!(refusal(&subscribe(&mut h, c, query_id)), None);
        if query_id < 256 {
            assert_eq!(refusal(&subscribe(&mut h, d, query_id)), None);
        }
        if query_id > 1 {
            assert_eq!(refusal(&subscribe(&mut h, &b, query_id)), None, "query {query_id}");
        }
    }
    assert_eq!(stored(&h, None), 257, "a's and b's first (written when c opened); the rest is in memory");
    assert_eq!(refusal(&subscribe(&mut h, e, 1)), None, "the 1,024th");
    let Some((ErrorCode::LimitExceeded, message)) = refusal(&subscribe(&mut h, e, 2)) else { panic!() };
    assert!(message.contains("this user holds 1024"), "{message}");
    // The next step writes them, with the version each client was sent.
    assert_eq!(stored(&h, Some("e")), 0);
    h.drain();
    assert_eq!((stored(&h, Some("e")), stored(&h, None)), (1, 1024));
    let unsubscribed = h.frame(&b, json!({"type": "unsubscribe", "queryId": 256}));
    let ServerMessage::Transition { start_version, .. } = &unsubscribed[0].message else { panic!("{unsubscribed:?}") };
    assert_eq!(start_version.query_set, 256, "the stored version is the one sent");
    let conns = h.room.sql().exec("SELECT query_set FROM _conns WHERE conn_id = 'e'", &[]).unwrap();
    assert_eq!(int_at(&conns[0], 0), 1, "e's version, written before the run");
}

#[test]
fn unsubscribes_and_token_refreshes_write_behind_and_what_is_stored_matches_what_was_sent() {
    let mut h = Harness::new(RoomLimits { reruns_per_step: 4.0, ..RoomLimits::unlimited() });
    let a = h.socket("a", Some(("ayse", "admin")));
    let subs = |h: &Harness| -> Vec<i64> {
        let rows = h.room.sql().exec("SELECT query_id FROM _subs WHERE conn_id = 'a' ORDER BY query_id", &[]).unwrap();
        rows.iter().map(|r| int_at(r, 0)).collect()
    };
    let conn_row = |h: &Harness| -> (i64, i64, String) {
        let rows =
            h.room.sql().exec("SELECT query_set, identity, caller FROM _conns WHERE conn_id = 'a'", &[]).unwrap();
        (int_at(&rows[0], 0), int_at(&rows[0], 1), text_at(&rows[0], 2).unwrap())
    };
    let version = |out: &[Outgoing]| match &out[0].message {
        ServerMessage::Transition { end_version, .. } => *end_version,
        other => panic!("{other:?}"),
    };
    for query_id in 1..=3 {
        h.frame(&a, json!({"type": "subscribe", "queryId": query_id, "udfPath": "auth:whoami", "args": {}}));
    }
    h.drain();
    assert_eq!(subs(&h), [1, 2, 3]);
    // Churn: 200 subscribes and unsubscribes, a stored one dropped and taken again, a token
    // refresh — none of it written until the step.
    for query_id in 100..300 {
        h.frame(&a, json!({"type": "subscribe", "queryId": query_id, "udfPath": "auth:whoami", "args": {}}));
        h.frame(&a, json!({"type": "unsubscribe", "queryId": query_id}));
    }
    h.frame(&a, json!({"type": "unsubscribe", "queryId": 2}));
    let gone = h.frame(&a, json!({"type": "unsubscribe", "queryId": 2}));
    assert!(matches!(&gone[0].message, ServerMessage::Error { code: ErrorCode::BadQueryId, .. }), "{gone:?}");
    let retaken = h.frame(&a, json!({"type": "subscribe", "queryId": 2, "udfPath": "auth:whoami", "args": {}}));
    assert!(modifications_of(&retaken[0].message).is_empty());
    h.frame(&a, json!({"type": "unsubscribe", "queryId": 3}));
    let refreshed = h.frame(&a, json!({"type": "authenticate", "token": token("ayse", "admin")}));
    let sent = version(&refreshed);
    let before = conn_row(&h);
    assert_eq!(subs(&h), [1, 2, 3], "nothing written yet");
    assert!(before.0 < i64::from(sent.query_set));
    let runs = h.drain();
    assert_eq!(subs(&h), [1, 2], "what the socket holds");
    let after = conn_row(&h);
    assert_eq!((after.0, after.1), (i64::from(sent.query_set), i64::from(sent.identity)), "the version sent");
    assert!(after.2.contains("ayse"));
    // Only the retaken query ran; the churned ones never did.
    let ran: Vec<QueryId> =
        runs.iter().flat_map(|o| modifications_of(&o.message).iter().map(QueryModification::query_id)).collect();
    assert_eq!(ran, [2]);
    // The next frame continues from the version sent.
    let out = h.frame(&a, json!({"type": "unsubscribe", "queryId": 1}));
    let ServerMessage::Transition { start_version, .. } = &out[0].message else { panic!("{out:?}") };
    assert_eq!(*start_version, sent);
}

#[test]
fn subscribe_many_answers_in_one_transition_and_refuses_per_query() {
    for stepped in [false, true] {
        let steps = if stepped { 4.0 } else { f64::INFINITY };
        let mut h = Harness::new(RoomLimits { reruns_per_step: steps, ..RoomLimits::unlimited() });
        let a = h.socket("a", Some(("ayse", "admin")));
        let query = |id: u32, path: &str, args: Json| json!({"queryId": id, "udfPath": path, "args": args});
        let held: Vec<Json> = [1].into_iter().chain(500..506).map(|id| query(id, "auth:whoami", json!({}))).collect();
        h.frame(&a, json!({"type": "subscribeMany", "queries": held}));
        h.drain();
        let mut queries = vec![
            query(1, "auth:whoami", json!({})),
            query(2, "auth:whoami", json!({})),
            query(2, "auth:whoami", json!({})),
            query(3, "tasks:lst", json!({})),
            query(4, "tasks:list", json!({"search": "x".repeat(20 * 1024)})),
        ];
        queries.extend((10..261).map(|id| query(id, "auth:whoami", json!({}))));
        let out = h.frame(&a, json!({"type": "subscribeMany", "queries": queries}));
        let [answer] = &out[..] else { panic!("one transition: {out:?}") };
        let ServerMessage::Transition { start_version, end_version, modifications } = &answer.message else {
            panic!("{answer:?}")
        };
        assert_eq!(end_version.query_set, start_version.query_set + 1, "the query set moves once");
        let failed: Vec<(QueryId, ErrorCode)> = modifications
            .iter()
            .filter_map(|m| match m {
                QueryModification::QueryFailed { query_id, code, .. } => Some((*query_id, *code)),
                _ => None,
            })
            .collect();
        let mut expected = vec![
            (1, ErrorCode::BadQueryId),
            (2, ErrorCode::BadQueryId),
            (3, ErrorCode::UnknownFunction),
            (4, ErrorCode::LimitExceeded),
        ];
        // Seven held, 2 and 10..=257 fill the connection's 256; the rest are refused.
        expected.extend((258..261).map(|id| (id, ErrorCode::LimitExceeded)));
        assert_eq!(failed, expected, "stepped: {stepped}");
        let mut results: Vec<QueryId> = modifications
            .iter()
            .filter(|m| matches!(m, QueryModification::QueryUpdated { .. }))
            .map(QueryModification::query_id)
            .collect();
        results.extend(
            h.drain().iter().flat_map(|o| modifications_of(&o.message).iter().map(QueryModification::query_id)),
        );
        let mut expected: Vec<QueryId> = vec![2];
        expected.extend(10..258);
        assert_eq!(results, expected, "each admitted query's first result, once (stepped: {stepped})");
        let held = h.room.sql().exec("SELECT COUNT(*) FROM _subs WHERE conn_id = 'a'", &[]).unwrap();
        assert_eq!(int_at(&held[0], 0), 256);
        let too_many: Vec<Json> = (0..257).map(|id| query(1000 + id, "auth:whoami", json!({}))).collect();
        let out = h.frame(&a, json!({"type": "subscribeMany", "queries": too_many}));
        assert!(matches!(&out[0].message, ServerMessage::Error { code: ErrorCode::BadFrame, .. }), "{out:?}");
    }
}

#[test]
fn room_time_is_bounded_per_client_over_all_its_sockets_and_frame_kinds() {
    let limits = RoomLimits {
        work_burst: 100.0,
        work_per_second: 50.0,
        refusal_burst: 20.0,
        refusals_per_second: 1.0,
        ..RoomLimits::unlimited()
    };
    let mut h = Harness::new(limits);
    let limited = |out: &[Outgoing]| {
        out.iter().any(|o| match &o.message {
            ServerMessage::Error { code, message, .. }
            | ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, message }, .. } => {
                *code == ErrorCode::LimitExceeded && message.contains("bursts of 100")
            }
            _ => false,
        })
    };
    let mutation = |h: &mut Harness| {
        h.next += 1;
        json!({"type": "mutation", "requestId": h.next, "udfPath": "tasks:nothing", "args": {}})
    };
    // One user on five sockets: 100 units in all, whatever the frames and sockets. Each tab
    // sends two mutations (20 units) and a subscribe (1): 105 units asked for.
    let tabs: Vec<ConnId> = (0..5).map(|n| h.socket(&format!("tab{n}"), Some(("ayse", "admin")))).collect();
    let mut refused_mutations = 0;
    let mut queries = 0;
    for (n, tab) in tabs.iter().enumerate() {
        for _ in 0..2 {
            let frame = mutation(&mut h);
            if limited(&h.frame(tab, frame)) {
                refused_mutations += 1;
            }
        }
        // A subscription is never failed for room time (it would stay failed): served.
        let out = h.frame(tab, json!({"type": "subscribe", "queryId": n, "udfPath": "auth:whoami", "args": {}}));
        assert!(!limited(&out), "{out:?}");
        queries += modifications_of(&out[0].message).len() + h.drain().len();
    }
    assert!((1..=2).contains(&refused_mutations), "the user's 100 units, shared by the tabs: {refused_mutations}");
    assert_eq!(queries, 5, "every subscription served");
    // Another user is served; this one's sign-ins are refused until the allowance refills.
    let other = h.socket("other", Some(("can", "admin")));
    let frame = mutation(&mut h);
    assert!(!limited(&h.frame(&other, frame)));
    let refresh = json!({"type": "authenticate", "token": token("ayse", "admin")});
    assert!((0..10).any(|_| limited(&h.frame(&tabs[0], refresh.clone()))), "what is left is spent");
    h.env.now_ms += 1000.0;
    assert!(!limited(&h.frame(&tabs[0], refresh)));
    // Signed-out sockets share their address's allowance; a socket from another address
    // (or from none the host knows) has its own.
    let open_from = |h: &mut Harness, name: &str, address: &str| {
        let conn = ConnId::from_stored(name.into());
        h.room.handle(RoomInput::OpenFrom { conn: &conn, address }, &mut h.env);
        h.frame(&conn, json!({"type": "connect", "sessionId": format!("session-{name}-0123456789")}));
        conn
    };
    let anonymous: Vec<ConnId> = (0..4).map(|n| open_from(&mut h, &format!("anon{n}"), "203.0.113.7")).collect();
    let mut served = 0;
    for conn in &anonymous {
        for _ in 0..4 {
            let frame = mutation(&mut h);
            if !limited(&h.frame(conn, frame)) {
                served += 1;
            }
        }
    }
    assert_eq!(served, 10, "one address: 100 units over its four sockets");
    let neighbour = open_from(&mut h, "neighbour", "198.51.100.1");
    let frame = mutation(&mut h);
    assert!(!limited(&h.frame(&neighbour, frame)));
    let unknown = h.socket("unknown", None);
    let frame = mutation(&mut h);
    assert!(!limited(&h.frame(&unknown, frame)));
    // Query-set frames past the allowance are served but counted as refused frames: a flood
    // of them closes its socket.
    let flood = open_from(&mut h, "flood", "203.0.113.7");
    let closed = (0..100).position(|q| {
        let out = h.frame(&flood, json!({"type": "unsubscribe", "queryId": q}));
        out.iter().any(Outgoing::closes_connection)
    });
    assert!(closed.is_some_and(|n| n <= 21), "closed past the refusal allowance: {closed:?}");
}

#[test]
fn refused_frames_count_per_client_and_close_each_socket_past_the_allowance() {
    let limits = RoomLimits { refusal_burst: 10.0, refusals_per_second: 1.0, ..RoomLimits::unlimited() };
    let mut h = Harness::new(limits);
    let tabs: Vec<ConnId> = (0..3).map(|n| h.socket(&format!("tab{n}"), Some(("ayse", "admin")))).collect();
    let closes = |out: &[Outgoing]| out.iter().any(Outgoing::closes_connection);
    // Ten refused frames spread over the user's sockets; the eleventh closes its socket,
    // and so does the next refused frame on each other socket.
    for n in 0..10 {
        assert!(!closes(&h.frame(&tabs[n % 3], json!({"type": "nonsense"}))), "refusal {n}");
    }
    for tab in &tabs {
        assert!(closes(&h.frame(tab, json!({"type": "nonsense"}))), "{tab}");
    }
    // Another user's socket is not affected.
    let other = h.socket("other", Some(("can", "admin")));
    assert!(!closes(&h.frame(&other, json!({"type": "nonsense"}))));
}

#[test]
fn acknowledgements_are_applied_always_and_a_flood_of_them_closes_the_socket() {
    let limits = RoomLimits {
        work_burst: 10.0,
        work_per_second: 1.0,
        refusal_burst: 5.0,
        refusals_per_second: 1.0,
        ..RoomLimits::unlimited()
    };
    let mut h = Harness::new(limits);
    let a = h.socket("a", None);
    let mut closed_at = None;
    for n in 0..100 {
        let out = h.frame(&a, json!({"type": "ack", "frames": 1}));
        if out.iter().any(Outgoing::closes_connection) {
            closed_at = Some(n);
            break;
        }
        assert!(out.is_empty(), "acknowledgements are not answered: {out:?}");
    }
    // Ten within the allowance, five refused, the next closes the socket.
    assert_eq!(closed_at, Some(15));
}

#[test]
fn a_socket_closed_with_a_burst_in_memory_leaves_no_row_behind() {
    let limits =
        RoomLimits { reruns_per_step: 4.0, refusal_burst: 1.0, refusals_per_second: 1.0, ..RoomLimits::unlimited() };
    let mut h = Harness::new(limits);
    let a = h.socket("a", Some(("ayse", "admin")));
    let b = h.socket("b", Some(("can", "admin")));
    h.frame(&a, json!({"type": "subscribe", "queryId": 1, "udfPath": "auth:whoami", "args": {}}));
    // Closed by the room for refused frames, while its subscribe is in memory only.
    let mut closed = false;
    for _ in 0..5 {
        closed |= h.frame(&a, json!({"type": "nonsense"})).iter().any(Outgoing::closes_connection);
    }
    assert!(closed);
    h.frame(&b, json!({"type": "subscribe", "queryId": 1, "udfPath": "auth:whoami", "args": {}}));
    h.drain();
    let rows = |table: &str| {
        let rows = h.room.sql().exec(&format!("SELECT COUNT(*) FROM {table} WHERE conn_id = 'a'"), &[]).unwrap();
        int_at(&rows[0], 0)
    };
    assert_eq!((rows("_conns"), rows("_subs")), (0, 0), "nothing of the closed socket written back");
}
