//! The room end to end: the real worker under `wrangler dev`, real sockets.

use roomsync_shared::protocol::{ClientMessage, ErrorCode, MutationOutcome, QueryModification, ServerMessage};
use roomsync_tests::{RoomSocket, WranglerDev};
use serde_json::{json, Value};
use std::path::PathBuf;

fn state_dir(name: &str) -> PathBuf {
    let dir = roomsync_tests::repo_root().join(".test-state").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn subscribe_tasks(socket: &mut RoomSocket, query_id: u32) -> Value {
    match socket.subscribe(query_id, "tasks:list", json!({})) {
        QueryModification::QueryUpdated { query_id: q, value, .. } if q == query_id => value,
        other => panic!("unexpected modification {other:?}"),
    }
}

/// The id of the demo user (created on first use), for `created_by`.
fn ensure_user(socket: &mut RoomSocket) -> String {
    let args = json!({"name": "Ayşe Yılmaz", "email": "ayse@example.org", "role": "admin"});
    match socket.mutate(1000, "users:ensure", args) {
        MutationOutcome::Success { result, .. } => result.as_str().unwrap_or_default().to_string(),
        MutationOutcome::Failure { message, .. } => panic!("users:ensure failed: {message}"),
    }
}

/// Reads frames until the query's next update arrives.
fn next_update(socket: &mut RoomSocket, query_id: u32) -> Value {
    for _ in 0..10 {
        if let ServerMessage::Transition { modifications, .. } = socket.recv() {
            for m in modifications {
                if let QueryModification::QueryUpdated { query_id: q, value, .. } = m {
                    if q == query_id {
                        return value;
                    }
                }
            }
        }
    }
    panic!("no update for query {query_id}");
}

fn titles(value: &Value) -> Vec<String> {
    value.as_array().expect("a list").iter().map(|t| t["title"].as_str().unwrap_or_default().to_string()).collect()
}

fn failure(outcome: MutationOutcome) -> (ErrorCode, String) {
    match outcome {
        MutationOutcome::Failure { code, message } => (code, message),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn two_clients_sync_and_data_survives_a_restart() {
    let state = state_dir("sync");
    let mut dev = WranglerDev::start(&state);
    let url = dev.ws_url("ngo-1");
    let mut a = RoomSocket::signed_in(&url, "ngo-1", "admin");
    let mut b = RoomSocket::signed_in(&url, "ngo-1", "member");
    let user = ensure_user(&mut a);
    assert_eq!(subscribe_tasks(&mut a, 1), json!([]));
    assert_eq!(subscribe_tasks(&mut b, 1), json!([]));

    let task = json!({"title": "Call the donor", "status": "in_progress", "assigned_to": user, "created_by": user});
    a.send_mutation(1, "tasks:create", task);
    let seen_by_b = next_update(&mut b, 1);
    assert_eq!(titles(&seen_by_b), ["Call the donor"]);
    let task = &seen_by_b[0];
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["assigned_to"], user.as_str());
    assert_eq!(task["_id"].as_str().map(str::len), Some(30));
    assert!(task["_creationTime"].as_f64().is_some_and(|t| t > 1.7e12));
    // The writer sees the transition first, then its response (read-your-writes).
    assert_eq!(titles(&next_update(&mut a, 1)), ["Call the donor"]);
    match a.recv() {
        ServerMessage::MutationResponse { request_id: 1, outcome: MutationOutcome::Success { result, .. } } => {
            assert_eq!(result, task["_id"]);
        }
        other => panic!("expected the mutation response, got {other:?}"),
    }

    // Another room is another database.
    let mut other_room = RoomSocket::signed_in(&dev.ws_url("ngo-2"), "ngo-2", "admin");
    assert_eq!(subscribe_tasks(&mut other_room, 1), json!([]));

    a.close();
    b.close();
    other_room.close();
    dev.stop();

    let dev = WranglerDev::start(&state);
    let mut c = RoomSocket::signed_in(&dev.ws_url("ngo-1"), "ngo-1", "admin");
    assert_eq!(titles(&subscribe_tasks(&mut c, 5)), ["Call the donor"], "data must persist across a restart");
    assert_eq!(ensure_user(&mut c), user, "the user is found again by its unique email");
    c.send_mutation(1, "tasks:create", json!({"title": "Second", "created_by": user}));
    assert_eq!(titles(&next_update(&mut c, 5)), ["Second", "Call the donor"]);
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn bad_input_gets_a_named_error_and_the_room_keeps_serving() {
    let state = state_dir("bad-input");
    let dev = WranglerDev::start(&state);
    let url = dev.ws_url("bad-input");
    let mut a = RoomSocket::signed_in(&url, "bad-input", "admin");
    let mut b = RoomSocket::signed_in(&url, "bad-input", "admin");
    let user = ensure_user(&mut a);
    subscribe_tasks(&mut b, 1);

    a.send_text("{this is not json");
    match a.recv() {
        ServerMessage::Error { code: ErrorCode::BadFrame, message, .. } => {
            assert!(message.starts_with("malformed frame"), "{message}")
        }
        other => panic!("expected BAD_FRAME, got {other:?}"),
    }
    a.send_binary(vec![1, 2, 3]);
    match a.recv() {
        ServerMessage::Error { code: ErrorCode::BadFrame, message, .. } => {
            assert!(message.contains("binary frames"), "{message}")
        }
        other => panic!("expected BAD_FRAME, got {other:?}"),
    }
    let (code, message) =
        failure(a.mutate(7, "tasks:create", json!({"title": "x", "status": "someday", "created_by": user})));
    assert_eq!(code, ErrorCode::Validation);
    assert_eq!(
        message,
        r#"args.status: expected one of "pending", "in_progress", "completed", "cancelled" or nothing, found string "someday""#
    );
    let (_, message) = failure(a.mutate(8, "tasks:create", json!({"status": "pending", "created_by": user})));
    assert_eq!(message, "args.title: expected string (required), found nothing: the field is missing");

    // Unique keys hold in the Durable Object too, and the refusal names the holder.
    let beneficiary = json!({
        "name": "A", "tc_no": "12345678901", "phone": "1", "address": "a", "city": "c", "district": "d",
        "neighborhood": "n", "family_size": 1, "status": "AKTIF",
    });
    let MutationOutcome::Success { result: first, .. } = a.mutate(20, "beneficiaries:create", beneficiary.clone())
    else {
        panic!("first insert failed")
    };
    let (code, message) = failure(a.mutate(21, "beneficiaries:create", beneficiary));
    assert_eq!(code, ErrorCode::UniqueViolation);
    let holder = first.as_str().unwrap_or_default();
    assert_eq!(
        message,
        format!(r#"beneficiaries.tc_no must be unique: "12345678901" is already used by beneficiaries {holder}"#)
    );

    // Everyone is still served: a valid write reaches the other client.
    a.send_mutation(9, "tasks:create", json!({"title": "Still works", "created_by": user}));
    assert_eq!(titles(&next_update(&mut b, 1)), ["Still works"]);
    // The room completes the close handshake, echoing the client's code.
    assert_eq!(a.close_handshake(1000), Some(1000));
    assert_eq!(b.close_handshake(4001), Some(4001));
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn routes_refuse_bad_requests() {
    let state = state_dir("routes");
    let dev = WranglerDev::start(&state);
    let health = roomsync_tests::wrangler::http_get(dev.port, "/health").unwrap_or_default();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let not_ws = roomsync_tests::wrangler::http_get(dev.port, "/rooms/ngo-1/sync").unwrap_or_default();
    assert!(not_ws.starts_with("HTTP/1.1 426"), "{not_ws}");
    assert!(not_ws.contains("expected a WebSocket upgrade"), "{not_ws}");
    let bad_name = roomsync_tests::wrangler::http_get(dev.port, "/rooms/bad.name/sync").unwrap_or_default();
    assert!(bad_name.starts_with("HTTP/1.1 400"), "{bad_name}");
    assert!(bad_name.contains("room name may only hold"), "{bad_name}");
    // The worker's refusals have the room's shape: `{code, message}` (one error type maps
    // them to statuses, edge-worker/src/error.rs).
    let codes = [(&not_ws, "BAD_REQUEST"), (&bad_name, "INVALID_ROOM")];
    for (reply, code) in codes {
        assert_eq!(roomsync_tests::wrangler::json_body(reply)["code"], code, "{reply}");
    }
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

/// Deployed as `wrangler.toml` says, without `ROOMSYNC_JWT_SECRET`: no room is served (each
/// request says what to set; there is no public fallback secret anyone could sign with), and
/// no other origin may call the HTTP routes.
#[test]
fn without_its_secret_the_worker_serves_no_room_and_no_origin_is_allowed_by_default() {
    use roomsync_tests::wrangler::{http_request, json_body};
    let state = state_dir("unconfigured");
    let dev = WranglerDev::start_with(&state, &[("ROOMSYNC_JWT_SECRET", ""), ("ROOMSYNC_ALLOWED_ORIGINS", "")]);
    let health = roomsync_tests::wrangler::http_get(dev.port, "/health").unwrap_or_default();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let json = [("Content-Type", "application/json")];
    let query = r#"{"udfPath":"auth:whoami"}"#;
    for (path, body) in [("/rooms/ngo-1/query", query), ("/rooms/ngo-1/dev-token", r#"{"sub":"a","role":"admin"}"#)] {
        let reply = http_request(dev.port, "POST", path, &json, body).unwrap_or_default();
        assert!(reply.starts_with("HTTP/1.1 503"), "{path}: {reply}");
        assert_eq!(json_body(&reply)["code"], "NOT_CONFIGURED", "{reply}");
        assert!(json_body(&reply)["message"]
            .as_str()
            .unwrap_or_default()
            .contains("wrangler secret put ROOMSYNC_JWT_SECRET"));
    }
    let origin = [("Origin", "http://panel.example.org"), ("Content-Type", "application/json")];
    let preflight = http_request(dev.port, "OPTIONS", "/rooms/ngo-1/query", &origin, "").unwrap_or_default();
    assert!(!preflight.to_ascii_lowercase().contains("access-control-allow-origin"), "{preflight}");
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn resent_mutations_apply_once_and_resume_confirms_unchanged_results() {
    let state = state_dir("resume");
    let mut dev = WranglerDev::start(&state);
    let session = "session-0123456789abcdef".to_string();
    let mut a = RoomSocket::session(&dev.ws_url("resume"), &session);
    a.authenticate(Some(roomsync_tests::token("resume", "admin-user", "admin")));
    let user = ensure_user(&mut a);
    let task = json!({"title": "Exactly once", "created_by": user});
    let MutationOutcome::Success { result: first, .. } = a.mutate(1, "tasks:create", task.clone()) else {
        panic!("create failed")
    };
    a.send_subscribe(1, "tasks:list", json!({}));
    let QueryModification::QueryUpdated { hash, .. } = a.first_result(1) else { panic!("no first result") };
    a.close();
    // Every deploy drops every socket: restart the worker, then reconnect as the same session.
    dev.stop();
    let dev = WranglerDev::start(&state);
    let mut b = RoomSocket::session(&dev.ws_url("resume"), &session);
    b.authenticate(Some(roomsync_tests::token("resume", "admin-user", "admin")));
    b.send(&ClientMessage::Subscribe {
        query_id: 1,
        udf_path: "tasks:list".into(),
        args: json!({}),
        result_hash: Some(hash),
    });
    assert_eq!(b.first_result(1), QueryModification::QueryUnchanged { query_id: 1 }, "no rows re-sent");
    // The client did not see the answer before, so it re-sends request 1: same outcome, no second task.
    let MutationOutcome::Success { result: again, .. } = b.mutate(1, "tasks:create", task) else {
        panic!("re-send failed")
    };
    assert_eq!(again, first);
    let tasks = subscribe_tasks(&mut b, 2);
    assert_eq!(titles(&tasks), ["Exactly once"]);
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn turkish_search_is_live_in_the_durable_object() {
    let state = state_dir("search");
    let dev = WranglerDev::start(&state);
    let mut a = RoomSocket::signed_in(&dev.ws_url("search"), "search", "admin");
    let beneficiary = |name: &str, tc: &str| {
        json!({
            "name": name, "tc_no": tc, "phone": "1", "address": "a", "city": "İstanbul", "district": "Şişli",
            "neighborhood": "n", "family_size": 3, "status": "AKTIF",
        })
    };
    assert!(matches!(
        a.mutate(1, "beneficiaries:create", beneficiary("İSMAİL ŞAHİN", "11111111111")),
        MutationOutcome::Success { .. }
    ));
    a.send_subscribe(1, "beneficiaries:list", json!({"search": "ismail sah"}));
    let first = next_update(&mut a, 1);
    assert_eq!(first["total"], 1.0);
    assert_eq!(first["documents"][0]["name"], "İSMAİL ŞAHİN");
    a.send_mutation(2, "beneficiaries:create", beneficiary("Ismail Şahbaz", "22222222222"));
    let second = next_update(&mut a, 1);
    assert_eq!(second["total"], 2.0, "a new match reaches the live search");
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn one_shot_http_routes_with_cors_reach_live_subscribers() {
    use roomsync_tests::wrangler::{http_request, json_body};
    let state = state_dir("http");
    let dev = WranglerDev::start(&state);
    let bearer = format!("Bearer {}", roomsync_tests::token("http-room", "script", "admin"));
    let origin = [
        ("Origin", "http://panel.example.org"),
        ("Content-Type", "application/json"),
        ("Authorization", bearer.as_str()),
    ];
    let mut live = RoomSocket::signed_in(&dev.ws_url("http-room"), "http-room", "admin");
    live.subscribe(1, "users:list", json!({}));

    let preflight = http_request(dev.port, "OPTIONS", "/rooms/http-room/mutation", &origin, "").unwrap_or_default();
    assert!(preflight.starts_with("HTTP/1.1 204"), "{preflight}");
    assert!(
        preflight.to_ascii_lowercase().contains("access-control-allow-origin: http://panel.example.org"),
        "{preflight}"
    );

    let body =
        json!({"udfPath": "users:ensure", "args": {"name": "Script", "email": "s@x", "role": "admin"}}).to_string();
    let created = http_request(dev.port, "POST", "/rooms/http-room/mutation", &origin, &body).unwrap_or_default();
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    assert!(
        created.to_ascii_lowercase().contains("access-control-allow-origin: http://panel.example.org"),
        "{created}"
    );
    assert_eq!(json_body(&created)["ts"], "1");
    // The script's write reaches the live panel.
    assert_eq!(next_update(&mut live, 1)[0]["email"], "s@x");

    let listed = http_request(dev.port, "POST", "/rooms/http-room/query", &origin, r#"{"udfPath":"users:list"}"#)
        .unwrap_or_default();
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    assert_eq!(json_body(&listed)["value"][0]["name"], "Script");

    let bad = http_request(dev.port, "POST", "/rooms/http-room/query", &origin, "{nope").unwrap_or_default();
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert_eq!(json_body(&bad)["code"], "BAD_FRAME");
    let missing = http_request(dev.port, "POST", "/rooms/http-room/query", &origin, r#"{"udfPath":"users:lst"}"#)
        .unwrap_or_default();
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert_eq!(json_body(&missing)["message"], r#"no query named "users:lst"; did you mean "users:list"?"#);
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}
