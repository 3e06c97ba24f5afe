//! Chaos against the real worker: the `wrangler dev` process group is killed (SIGKILL, no
//! graceful shutdown) while mutations are in flight. The client is the real sans-IO
//! [`ClientCore`] the browser runs; after a restart it reconnects with its session and
//! re-sends what was unanswered. Every mutation must then exist exactly once.

use roomsync_shared::client::{ClientCore, ClientEvent, Frame};
use roomsync_tests::{token, Next, RoomSocket, WranglerDev};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROOM: &str = "chaos";
const MUTATIONS: usize = 40;

/// The client core on one socket: sends what the core says, feeds it what arrives.
struct Client {
    core: ClientCore,
    socket: Option<RoomSocket>,
    results: Vec<(u32, Result<Value, String>)>,
    /// When to send again after the room's rate limit refused mutations.
    resume_at: Option<Instant>,
    throttled: usize,
}

impl Client {
    fn new(session: &str) -> Self {
        Self { core: ClientCore::new(session.into()), socket: None, results: vec![], resume_at: None, throttled: 0 }
    }

    fn connect(&mut self, dev: &WranglerDev) {
        self.core.on_close();
        // The core writes the socket's frames, `connect` first.
        let mut socket = RoomSocket::open(&dev.ws_url(ROOM));
        for frame in self.core.on_open() {
            socket.send_text(&frame.to_json());
        }
        self.socket = Some(socket);
    }

    fn send(&mut self, frame: Option<Frame>) {
        if let (Some(frame), Some(socket)) = (frame, self.socket.as_mut()) {
            // A send into a dead socket is fine: the core re-sends after reconnecting.
            socket.try_send_text(&frame.to_json());
        }
    }

    /// Feeds frames to the core until `done` holds, the socket dies, or `timeout` passes.
    fn pump(&mut self, timeout: Duration, done: impl Fn(&ClientCore) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !done(&self.core) {
            let Some(socket) = self.socket.as_mut() else { return false };
            if self.resume_at.is_some_and(|at| Instant::now() >= at) {
                self.resume_at = None;
                self.core.resume_sending();
                for frame in self.core.flush() {
                    socket.try_send_text(&frame.to_json());
                }
            }
            match socket.next_text(Duration::from_millis(100)) {
                Next::Text(text) => {
                    for event in self.core.receive(&text) {
                        match event {
                            ClientEvent::Mutation { request_id, result } => {
                                self.results.push((request_id, result.map_err(|e| e.message)));
                            }
                            ClientEvent::MutationsThrottled => {
                                self.throttled += 1;
                                self.resume_at = Some(Instant::now() + Duration::from_millis(1000));
                            }
                            _ => {}
                        }
                    }
                    // Answers free room in the in-flight window.
                    for frame in self.core.flush() {
                        socket.try_send_text(&frame.to_json());
                    }
                }
                Next::Timeout => {}
                Next::Closed(_) => {
                    self.socket = None;
                    return false;
                }
            }
        }
        done(&self.core)
    }
}

#[test]
fn killing_the_worker_mid_mutation_loses_nothing_and_doubles_nothing() {
    let state = roomsync_tests::repo_root().join(".test-state").join(format!("chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let mut dev = WranglerDev::start(&state);
    let mut client = Client::new("chaos-session-0123456789");
    client.core.set_auth(Some(token(ROOM, "chaos-user", "admin").into()));
    client.connect(&dev);
    let (_, frame) = client
        .core
        .mutation("users:ensure", json!({"name": "Chaos", "email": "chaos@x", "role": "admin"}))
        .expect("a small call");
    client.send(frame);
    assert!(client.pump(Duration::from_secs(15), |core| core.pending_mutations() == 0), "users:ensure answered");
    let user = client.results.pop().and_then(|(_, r)| r.ok()).expect("a user id");
    let (query_id, frame) = client.core.subscribe("tasks:list", json!({})).expect("a small call");
    client.send(frame);

    // Fire every mutation, let a few get answered, then kill the worker mid-stream.
    for i in 0..MUTATIONS {
        let (_, frame) = client
            .core
            .mutation("tasks:create", json!({"title": format!("chaos {i:02}"), "created_by": user}))
            .expect("a small call");
        client.send(frame);
    }
    client.pump(Duration::from_secs(15), |core| core.pending_mutations() < MUTATIONS - 5);
    let unanswered_at_kill = client.core.pending_mutations();
    eprintln!("killing the worker with {unanswered_at_kill} of {MUTATIONS} mutations unanswered");
    dev.kill();
    assert!(!client.pump(Duration::from_secs(5), |_| false), "the socket dies with the worker");

    // Restart on the same state; the client reconnects as the same session and re-sends.
    let dev = WranglerDev::start(&state);
    client.connect(&dev);
    assert!(
        client.pump(Duration::from_secs(30), |core| core.pending_mutations() == 0),
        "every unanswered mutation answered after the restart ({} left)",
        client.core.pending_mutations()
    );
    let failures: Vec<_> = client.results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(client.pump(Duration::from_secs(10), |core| {
        core.cached(query_id)
            .and_then(|r| r.as_ref().ok())
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() >= MUTATIONS)
    }));
    let tasks = client.core.cached(query_id).and_then(|r| r.clone().ok()).unwrap_or_default();
    let mut titles: Vec<&str> = tasks.as_array().into_iter().flatten().filter_map(|t| t["title"].as_str()).collect();
    titles.sort();
    let expected: Vec<String> = (0..MUTATIONS).map(|i| format!("chaos {i:02}")).collect();
    assert_eq!(titles, expected, "each mutation exactly once ({unanswered_at_kill} were unanswered at the kill)");
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_backlog_larger_than_the_rooms_burst_is_delivered_in_full() {
    let state = roomsync_tests::repo_root().join(".test-state").join(format!("backlog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let dev = WranglerDev::start(&state);
    let mut client = Client::new("backlog-session-0123456789");
    client.core.set_auth(Some(token(ROOM, "backlog-user", "admin").into()));
    // Written offline: 300 mutations wait in the outbox (the room's burst is 200, then 50/s).
    let (_, _) = client
        .core
        .mutation("users:ensure", json!({"name": "B", "email": "b@x", "role": "admin"}))
        .expect("a small call");
    for i in 0..300 {
        client
            .core
            .mutation("users:ensure", json!({"name": format!("u{i}"), "email": format!("u{i}@x"), "role": "member"}))
            .expect("a small call");
    }
    client.connect(&dev);
    assert!(
        client.pump(Duration::from_secs(60), |core| core.pending_mutations() == 0),
        "{} still pending",
        client.core.pending_mutations()
    );
    let failures: Vec<_> = client.results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(client.results.len(), 301);
    assert!(client.throttled >= 1, "the room's rate limit was reached and waited out");
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}
