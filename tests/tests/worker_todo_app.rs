//! The second app through the same worker build path: the edge worker built with the
//! `todo-app` feature (`ROOMSYNC_WORKER_APP=todo bash scripts/build-worker.sh`, configured by
//! `tests/todo-app/wrangler.toml`) serves the to-do app under `wrangler dev` — its own roles
//! in tokens and dev tokens, its functions over real sockets and HTTP, live updates.

use roomsync_shared::protocol::{ErrorCode, MutationOutcome, QueryModification, ServerMessage};
use roomsync_tests::wrangler::{http_request, json_body};
use roomsync_tests::{failure_code, token, RoomSocket, WranglerDev};
use serde_json::{json, Value};
use std::time::Duration;

const CONFIG: &str = "tests/todo-app/wrangler.toml";

#[test]
fn the_todo_app_is_served_by_the_same_worker_build() {
    let state = roomsync_tests::repo_root().join(".test-state").join(format!("todo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let dev = WranglerDev::start_config(&state, Some(CONFIG), &[]);
    let url = dev.ws_url("home");

    // The app's own roles: an NGO role is refused, naming the to-do app's roles.
    let mut stranger = RoomSocket::connect(&url);
    match stranger.authenticate(Some(token("home", "m", "manager"))) {
        ServerMessage::Error { code: ErrorCode::Unauthenticated, message, .. } => {
            assert!(message.contains(r#""manager" is not one of owner, editor, guest"#), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let dev_token = http_request(dev.port, "POST", "/rooms/home/dev-token", &[], r#"{"sub": "x", "role": "admin"}"#)
        .unwrap_or_default();
    assert!(
        dev_token.starts_with("HTTP/1.1 400") && dev_token.contains("not one of owner, editor, guest"),
        "{dev_token}"
    );

    let mut editor = RoomSocket::signed_in(&url, "home", "editor");
    let MutationOutcome::Success { result: list, .. } = editor.mutate(1, "lists:create", json!({"name": "Market"}))
    else {
        panic!("an editor creates lists")
    };
    let mut guest = RoomSocket::signed_in(&url, "home", "guest");
    let outcome = guest.mutate(1, "items:add", json!({"list": list, "text": "süt"}));
    assert_eq!(failure_code(&outcome), Some(ErrorCode::Forbidden), "{outcome:?}");
    let first = guest.subscribe(1, "items:ofList", json!({"list": list}));
    assert!(matches!(&first, QueryModification::QueryUpdated { value, .. } if value == &json!([])), "{first:?}");

    // A write over HTTP reaches the guest's live query without a re-subscribe.
    let body = json!({"udfPath": "items:add", "args": {"list": list, "text": "Ekmek"}}).to_string();
    let bearer = format!("Bearer {}", token("home", "e", "editor"));
    let reply = http_request(dev.port, "POST", "/rooms/home/mutation", &[("Authorization", &bearer)], &body)
        .unwrap_or_default();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let mut seen = Value::Null;
    for _ in 0..20 {
        if let Some(ServerMessage::Transition { modifications, .. }) = guest.recv_within(Duration::from_secs(1)) {
            if let Some(QueryModification::QueryUpdated { value, .. }) = modifications.into_iter().next() {
                seen = value;
                break;
            }
        }
    }
    assert_eq!(seen[0]["text"], "Ekmek", "the guest's live list: {seen}");

    // Only owners archive; the engine's HTTP query route runs the app's queries too.
    let outcome = editor.mutate(2, "lists:archive", json!({"id": list}));
    assert_eq!(failure_code(&outcome), Some(ErrorCode::Forbidden), "{outcome:?}");
    let mut owner = RoomSocket::signed_in(&url, "home", "owner");
    assert!(matches!(owner.mutate(1, "lists:archive", json!({"id": list})), MutationOutcome::Success { .. }));
    let query = json!({"udfPath": "items:openCount", "args": {"list": list}}).to_string();
    let reply =
        http_request(dev.port, "POST", "/rooms/home/query", &[("Authorization", &bearer)], &query).unwrap_or_default();
    assert_eq!(json_body(&reply)["value"], json!(1.0), "{reply}");
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}
