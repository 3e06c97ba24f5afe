//! The attack suite against the real worker under `wrangler dev`: each flood or probe is
//! refused with a specific code, changes no data, and a second client's round trip is
//! measured while it runs (printed as a table: `cargo test -p roomsync-tests --test
//! worker_attacks -- --nocapture`; figures in RELIABILITY.md). Round trips are reported, not
//! asserted: these machines are shared and noisy.

use roomsync_shared::protocol::{ClientMessage, ErrorCode, MutationOutcome, QueryModification, ServerMessage};
use roomsync_tests::wrangler::{http_request, json_body};
use roomsync_tests::{failure_code, token, RoomSocket, WranglerDev};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROOM: &str = "attacks";
/// The bound on sockets from one client address in this suite's worker (the default is 256).
const SOCKETS_PER_ADDRESS: usize = 40;
/// The bound on what a socket may leave unacknowledged in this suite's worker (the default
/// is 8 MiB).
const UNREAD_BYTES: usize = 256 * 1024;

/// A signed-in client that measures its own round trip: one mutation and its answer.
struct Victim {
    socket: RoomSocket,
    next: u32,
}

impl Victim {
    fn round_trip(&mut self) -> Duration {
        self.next += 1;
        let request_id = self.next;
        let started = Instant::now();
        let args = json!({"name": "Victim", "email": "victim@x", "role": "admin"});
        self.socket.send_mutation(request_id, "users:ensure", args);
        loop {
            if let ServerMessage::MutationResponse { request_id: r, outcome } = self.socket.recv() {
                if r == request_id {
                    assert!(matches!(outcome, MutationOutcome::Success { .. }), "the victim is served: {outcome:?}");
                    return started.elapsed();
                }
            }
        }
    }
}

/// Reads answers until `count` mutation responses arrived or the room closed the socket for
/// sending too many refused frames; returns the refusal codes and whether it was closed.
fn responses(socket: &mut RoomSocket, count: usize) -> (Vec<Option<ErrorCode>>, bool) {
    let mut codes = Vec::with_capacity(count);
    while codes.len() < count {
        match socket.recv() {
            ServerMessage::MutationResponse { outcome, .. } => codes.push(failure_code(&outcome)),
            ServerMessage::Error { code: ErrorCode::Overloaded, message, retry_after_ms } => {
                assert!(message.starts_with("this socket sent too many frames the room refused"), "{message}");
                assert!(retry_after_ms.is_some_and(|ms| ms >= 10_000), "{retry_after_ms:?}");
                assert!(socket.is_closed_within(Duration::from_secs(5)), "the room closes the socket");
                return (codes, true);
            }
            _ => {}
        }
    }
    (codes, false)
}

/// A socket signed in as `subject` with `role`.
fn signed_in_as(url: &str, subject: &str, role: &str) -> RoomSocket {
    let mut socket = RoomSocket::connect(url);
    socket.authenticate(Some(token(ROOM, subject, role)));
    socket
}

/// Sends `pairs` subscribes and unsubscribes on every socket at once, measures the victim's
/// round trip meanwhile, then counts what the sockets were sent.
fn churn(victim: &mut Victim, sockets: &mut [RoomSocket], pairs: u32) -> (Duration, usize) {
    for socket in sockets.iter_mut() {
        for query_id in 1..=pairs {
            socket.send_subscribe(query_id, "tasks:list", json!({}));
            socket.send(&ClientMessage::Unsubscribe { query_id });
        }
    }
    let during = victim.round_trip();
    (during, sockets.iter_mut().map(drain).sum())
}

/// Reads and counts what a socket is sent until it goes quiet for half a second or closes.
fn drain(socket: &mut RoomSocket) -> usize {
    let mut frames = 0;
    while let roomsync_tests::Next::Text(_) = socket.next_text(Duration::from_millis(500)) {
        frames += 1;
    }
    frames
}

/// `tasks:list` over the HTTP query route, as an admin: the reply's body.
fn tasks_over_http(port: u16) -> Value {
    let admin = format!("Bearer {}", token(ROOM, "auditor", "admin"));
    let body = json!({"udfPath": "tasks:list", "args": {}}).to_string();
    let reply = http_request(port, "POST", &format!("/rooms/{ROOM}/query"), &[("Authorization", &admin)], &body)
        .expect("the query route answers");
    json_body(&reply)
}

struct Row {
    attack: &'static str,
    result: String,
    idle: Duration,
    during: Duration,
}

#[test]
fn floods_and_probes_are_refused_specifically_and_others_stay_served() {
    let state = roomsync_tests::repo_root().join(".test-state").join(format!("attacks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    // The default allowances (each flood passes them in a moment), but for a smaller bound
    // on sockets per address and on unread bytes; the victim is another user with its own.
    let dev = WranglerDev::start_with(
        &state,
        &[
            ("ROOMSYNC_SOCKETS_PER_ADDRESS", &SOCKETS_PER_ADDRESS.to_string()),
            ("ROOMSYNC_UNREAD_BYTES_PER_SOCKET", &UNREAD_BYTES.to_string()),
        ],
    );
    let url = dev.ws_url(ROOM);
    let port = dev.port;
    let mut victim = Victim { socket: RoomSocket::signed_in(&url, ROOM, "admin"), next: 0 };
    victim.round_trip(); // warm
    let idle = victim.round_trip();
    let mut rows = Vec::new();

    // 1. One user's token on five sockets floods mutations: the allowance is the user's.
    let mut tabs: Vec<RoomSocket> = (0..5).map(|_| RoomSocket::signed_in(&url, ROOM, "member")).collect();
    let started = Instant::now();
    for (i, tab) in tabs.iter_mut().enumerate() {
        for j in 0..100 {
            let n = i * 100 + j;
            tab.send_mutation(
                n as u32 + 1,
                "users:ensure",
                json!({"name": format!("f{n}"), "email": format!("f{n}@x"), "role": "member"}),
            );
        }
    }
    let during = victim.round_trip();
    let answers: Vec<(Vec<Option<ErrorCode>>, bool)> = tabs.iter_mut().map(|t| responses(t, 100)).collect();
    let codes: Vec<Option<ErrorCode>> = answers.iter().flat_map(|(codes, _)| codes.clone()).collect();
    let closed = answers.iter().filter(|(_, closed)| *closed).count();
    let accepted = codes.iter().filter(|c| c.is_none()).count();
    let most = 20 + (50.0 * started.elapsed().as_secs_f64()).ceil() as usize;
    assert!(codes.iter().all(|c| matches!(c, None | Some(ErrorCode::LimitExceeded))), "{codes:?}");
    assert!((20..=most).contains(&accepted), "the user's burst of 20 (plus 50/s), not 5 × 20: {accepted} accepted");
    rows.push(Row {
        attack: "5 sockets, one token: 500 mutations",
        result: format!(
            "{accepted} accepted, {} LIMIT_EXCEEDED; {closed} of 5 sockets closed for refused frames",
            codes.len() - accepted
        ),
        idle,
        during,
    });

    // 2. The HTTP mutation route shares the user's allowance: checked natively
    //    (`room::limits_tests`).

    // 3. 256 subscribe frames at once (the most one connection may hold): each is answered at
    //    once and the queries run in steps of four with other sockets' frames between them;
    //    past the client's room time (200 units, a subscribe 3) they are still served (a
    //    query failed for room time would stay failed) but count as refused frames, and past
    //    those the socket is closed. (The client subscribes in one `subscribeMany` instead.)
    let mut subscriber = signed_in_as(&url, "subscriber", "viewer");
    for query_id in 1..=256 {
        subscriber.send_subscribe(query_id, "tasks:list", json!({}));
    }
    let during = victim.round_trip();
    let mut served = 0;
    let mut overloaded = false;
    while let Some(frame) = subscriber.recv_until_closed(Duration::from_secs(2)) {
        match frame {
            // The answers (the query set moved); the first results follow in later steps.
            ServerMessage::Transition { start_version, end_version, .. } => {
                served += usize::from(end_version.query_set > start_version.query_set)
            }
            ServerMessage::Error { code: ErrorCode::Overloaded, .. } => overloaded = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(overloaded && (100..256).contains(&served), "{served} served, closed: {overloaded}");
    rows.push(Row {
        attack: "256 subscribe frames at once",
        result: format!("{served} served, then closed (OVERLOADED)"),
        idle,
        during,
    });
    //    The same 256 in one `subscribeMany` frame (what a client sends when it reconnects):
    //    all served. Then that socket switches identity over and over: limited.
    let mut switcher = signed_in_as(&url, "switcher", "viewer");
    switcher.send_subscribe_many(1..=256, "tasks:list", json!({}));
    let during = victim.round_trip();
    let results = switcher.first_results(256);
    assert!(results.iter().all(|m| matches!(m, QueryModification::QueryUpdated { .. })), "all served");
    rows.push(Row { attack: "256 queries in one subscribeMany", result: "all served".into(), idle, during });
    for n in 0..20 {
        let role = ["viewer", "member"][n % 2];
        switcher.send(&ClientMessage::Authenticate { token: Some(token(ROOM, &format!("switch-{n}"), role)) });
    }
    let during = victim.round_trip();
    let mut limited = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match switcher.recv_within(Duration::from_millis(1500)) {
            Some(ServerMessage::Error { code: ErrorCode::LimitExceeded, retry_after_ms, .. }) => {
                assert!(retry_after_ms.is_some_and(|ms| ms > 0));
                limited += 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(limited >= 10, "identity changes past the burst are refused: {limited}");
    rows.push(Row {
        attack: "256 subscriptions, 20 identity switches",
        result: format!("{limited} × LIMIT_EXCEEDED"),
        idle,
        during,
    });

    // 3b. Control frames that write (unsubscribes, token refreshes) are written behind, so a
    //     client's whole room time of them costs others little; and one socket spending
    //     every allowance at once — its user's 20 mutations, 300 control frames, then
    //     refused frames until it is closed — stays within the budget too.
    let mut churner = signed_in_as(&url, "churner", "viewer");
    let (during, answered) = churn(&mut victim, std::slice::from_mut(&mut churner), 45);
    assert!(answered >= 90, "every frame answered: {answered}");
    rows.push(Row {
        attack: "45 × subscribe + unsubscribe at once (the room time)",
        result: format!("{answered} answers"),
        idle,
        during,
    });
    let mut refresher = RoomSocket::connect(&url);
    let refreshed = token(ROOM, "refresher", "viewer");
    refresher.authenticate(Some(refreshed.clone()));
    for _ in 0..190 {
        refresher.send(&ClientMessage::Authenticate { token: Some(refreshed.clone()) });
    }
    let during = victim.round_trip();
    let answered = drain(&mut refresher);
    assert_eq!(answered, 190, "each refresh answered");
    rows.push(Row { attack: "190 token refreshes at once", result: "all answered".into(), idle, during });
    let mut spender = signed_in_as(&url, "spender", "admin");
    for n in 0..20 {
        let args = json!({"name": format!("s{n}"), "email": format!("s{n}@x"), "role": "member"});
        spender.send_mutation(n + 1, "users:ensure", args);
    }
    for query_id in 1..=150 {
        spender.send_subscribe(query_id, "tasks:list", json!({}));
        spender.send(&ClientMessage::Unsubscribe { query_id });
    }
    for n in 0..100 {
        spender.send_mutation(
            100 + n,
            "users:ensure",
            json!({"name": "x", "email": format!("x{n}@x"), "role": "member"}),
        );
    }
    let during = victim.round_trip();
    drain(&mut spender);
    rows.push(Row {
        attack: "one socket spends every allowance at once",
        result: "20 mutations + 300 control frames + 100 mutations past the allowance".into(),
        idle,
        during,
    });

    // 3c. Room time is bounded per client, not per socket: one token on five sockets, and
    //     ten signed-out sockets from one address, each socket sending its whole control
    //     allowance at once.
    let mut tabs: Vec<RoomSocket> = (0..5).map(|_| signed_in_as(&url, "five-tabs", "viewer")).collect();
    let (during, answered) = churn(&mut victim, &mut tabs, 150);
    rows.push(Row {
        attack: "one token on 5 sockets: 1,500 control frames",
        result: format!("{answered} answers (refusals close the sockets past the allowance)"),
        idle,
        during,
    });
    let address = "203.0.113.9";
    let mut crowd: Vec<RoomSocket> = (0..10)
        .map(|n| {
            let mut socket = RoomSocket::open_from(&url, address).expect("opened");
            socket.send(&ClientMessage::Connect {
                session_id: format!("crowd-session-{n}-0123456789"),
                protocol_version: Some(roomsync_shared::PROTOCOL_VERSION),
                schema_hash: None,
            });
            socket
        })
        .collect();
    let (during, answered) = churn(&mut victim, &mut crowd, 150);
    rows.push(Row {
        attack: "10 signed-out sockets, one address: 3,000 control frames",
        result: format!("{answered} answers (refusals close the sockets past the allowance)"),
        idle,
        during,
    });

    // 4. `connect` spam on one socket spends nothing of the room-wide allowance, is closed
    //    after its refusal allowance (64 at once), and new sockets still open.
    let mut spammer = RoomSocket::connect(&url);
    for _ in 0..500 {
        spammer.send(&ClientMessage::Connect {
            session_id: "spam-session-0123456789".into(),
            protocol_version: Some(roomsync_shared::PROTOCOL_VERSION),
            schema_hash: None,
        });
    }
    let during = victim.round_trip();
    let mut refused = 0;
    loop {
        let next = spammer.recv_within(Duration::from_secs(15));
        let Some(next) = next else {
            panic!("after {refused} refusals the room sent nothing more and did not close the socket")
        };
        match next {
            ServerMessage::Error { code: ErrorCode::BadFrame, message, .. }
                if message == "this socket already sent connect" =>
            {
                refused += 1
            }
            ServerMessage::Error { code: ErrorCode::Overloaded, message, .. } => {
                assert!(message.starts_with("this socket sent too many frames the room refused"), "{message}");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!((64..200).contains(&refused), "closed after its allowance of refusals: {refused}");
    assert!(spammer.is_closed_within(Duration::from_secs(5)), "the room closes the socket");
    for _ in 0..20 {
        let mut fresh = RoomSocket::signed_in(&url, ROOM, "viewer");
        let first = fresh.subscribe(1, "auth:whoami", json!({}));
        assert!(matches!(first, QueryModification::QueryUpdated { .. }), "a new socket is served: {first:?}");
    }
    rows.push(Row {
        attack: "500 connect frames on one socket",
        result: format!("{refused} × BAD_FRAME, then closed (OVERLOADED); 20 of 20 new sockets served"),
        idle,
        during,
    });

    // 5. A socket that skips `connect` is refused everything.
    let mut skipper = RoomSocket::open(&url);
    skipper.send_subscribe(1, "tasks:list", json!({}));
    match skipper.recv() {
        ServerMessage::Error { code: ErrorCode::BadFrame, message, .. } => {
            assert!(message.starts_with("send connect first"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    rows.push(Row {
        attack: "subscribe without connect",
        result: "BAD_FRAME".into(),
        idle,
        during: victim.round_trip(),
    });

    // 6. Member-written huge titles: the list fails for its subscribers, the room serves on.
    assert_eq!(tasks_over_http(port)["value"], json!([]));
    let mut writer = RoomSocket::signed_in(&url, ROOM, "admin");
    writer.send_mutation(1, "users:ensure", json!({"name": "W", "email": "w@x", "role": "admin"}));
    let user = match responses_value(&mut writer) {
        Value::String(id) => id,
        other => panic!("{other:?}"),
    };
    let big = "x".repeat(900 * 1024);
    for n in 0..3 {
        writer.send_mutation(10 + n, "tasks:create", json!({"title": format!("{n}{big}"), "created_by": user}));
        responses_value(&mut writer);
    }
    let mut reader = RoomSocket::signed_in(&url, ROOM, "viewer");
    reader.send_subscribe(1, "tasks:list", json!({}));
    let during = victim.round_trip();
    match reader.first_result(1) {
        QueryModification::QueryFailed { code: ErrorCode::LimitExceeded, message, .. } => {
            assert!(message.contains("over the 2097152-byte limit"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(tasks_over_http(port)["code"], "LIMIT_EXCEEDED", "the HTTP read is refused the same way, not truncated");
    rows.push(Row {
        attack: "3 × 900 KB titles, then tasks:list",
        result: "LIMIT_EXCEEDED for that query".into(),
        idle,
        during,
    });

    // 7. Signed-out sockets from one address, opened until refused: the bound holds before
    //    the upgrade (429 LIMIT_EXCEEDED, with a retry hint), another address is served, and
    //    a closed socket frees its place. (Every other socket of this suite comes from
    //    loopback; these claim an address of their own, as Cloudflare's edge would set it.)
    let address = "203.0.113.7";
    let mut held = Vec::new();
    let refusal = loop {
        match RoomSocket::open_from(&url, address) {
            Ok(socket) => held.push(socket),
            Err(refusal) => break refusal,
        }
        assert!(held.len() <= SOCKETS_PER_ADDRESS, "{} sockets from one address", held.len());
    };
    let during = victim.round_trip();
    assert_eq!(held.len(), SOCKETS_PER_ADDRESS);
    assert_eq!(refusal.0, 429, "{refusal:?}");
    // The refusal's body, read over plain HTTP (the WebSocket client drops it).
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("CF-Connecting-IP", address),
    ];
    let reply = http_request(port, "GET", &format!("/rooms/{ROOM}/sync"), &upgrade, "").unwrap_or_default();
    assert!(reply.starts_with("HTTP/1.1 429"), "{reply}");
    let body = json_body(&reply);
    assert_eq!(body["code"], "LIMIT_EXCEEDED", "{body}");
    assert!(body["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0), "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("holds {SOCKETS_PER_ADDRESS} open sockets")), "{message}");
    let mut neighbour = RoomSocket::open_from(&url, "203.0.113.8").expect("another address is served");
    neighbour.send(&ClientMessage::Connect {
        session_id: "neighbour-session-0123456789".into(),
        protocol_version: Some(roomsync_shared::PROTOCOL_VERSION),
        schema_hash: None,
    });
    neighbour.authenticate(Some(token(ROOM, "neighbour", "viewer")));
    if let Some(socket) = held.pop() {
        assert_eq!(socket.close_handshake(1000), Some(1000));
    }
    let reopened = (0..50).find_map(|_| {
        RoomSocket::open_from(&url, address).ok().or_else(|| {
            std::thread::sleep(Duration::from_millis(100));
            None
        })
    });
    assert!(reopened.is_some(), "a closed socket frees its place");
    rows.push(Row {
        attack: "signed-out sockets from one address",
        result: format!("{} opened, the next refused (429 LIMIT_EXCEEDED); another address served", held.len() + 1),
        idle,
        during,
    });

    // 8. A subscriber that stops reading while writes continue: shed once it leaves more than
    //    the hard bound unacknowledged (eight times this suite's 256 KiB, at any age: the
    //    bound itself counts only what waited over 10 s); a subscriber that reads and
    //    acknowledges sees every write.
    let mut slow = RoomSocket::signed_in(&url, ROOM, "manager");
    slow.send_subscribe(1, "users:list", json!({}));
    let mut reader = RoomSocket::signed_in(&url, ROOM, "viewer");
    reader.send_subscribe(1, "users:list", json!({}));
    let mut flooder = signed_in_as(&url, "flood-writer", "admin");
    let name = "n".repeat(120 * 1024);
    let writes = 19;
    let mut seen = 0;
    let mut read = |reader: &mut RoomSocket| {
        while let Some(frame) = reader.recv_within(Duration::from_millis(200)) {
            reader.send(&ClientMessage::Ack { frames: 1 });
            if let ServerMessage::Transition { modifications, .. } = frame {
                seen += modifications.len();
            }
        }
    };
    for n in 0..writes {
        let args = json!({"name": format!("{n}{name}"), "email": format!("slow{n}@x"), "role": "member"});
        flooder.send_mutation(n + 1, "users:ensure", args);
        responses_value(&mut flooder);
        read(&mut reader);
    }
    let during = victim.round_trip();
    read(&mut reader);
    assert!(seen > writes as usize, "the reading subscriber saw its first result and every write: {seen}");
    let mut shed_message = None;
    while let Some(frame) = slow.recv_within(Duration::from_secs(2)) {
        if let ServerMessage::Error { code: ErrorCode::Overloaded, message, retry_after_ms } = frame {
            assert!(retry_after_ms.is_some_and(|ms| ms > 0));
            shed_message = Some(message);
            break;
        }
    }
    let shed_message = shed_message.expect("the slow subscriber is told it was shed");
    assert!(shed_message.contains("has not acknowledged"), "{shed_message}");
    assert!(slow.is_closed_within(Duration::from_secs(5)), "the room closes the slow socket");
    rows.push(Row {
        attack: "a subscriber stops reading; 19 writes of 120 KB",
        result: format!(
            "shed past {} KiB unacknowledged (OVERLOADED, closed); the reading one saw all",
            8 * UNREAD_BYTES / 1024
        ),
        idle,
        during,
    });

    println!("| attack | result | other client's round trip idle | during |");
    println!("| --- | --- | --- | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms |",
            row.attack,
            row.result,
            row.idle.as_secs_f64() * 1e3,
            row.during.as_secs_f64() * 1e3
        );
    }
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

/// The next mutation response's result (panics on a failure).
fn responses_value(socket: &mut RoomSocket) -> Value {
    loop {
        if let ServerMessage::MutationResponse { outcome, .. } = socket.recv() {
            match outcome {
                MutationOutcome::Success { result, .. } => return result,
                MutationOutcome::Failure { code, message } => panic!("{code}: {message}"),
            }
        }
    }
}
