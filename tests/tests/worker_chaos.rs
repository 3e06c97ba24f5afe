//! Chaos against the real worker.
//!
//! The history-checked suite: 20 real clients (the browser's `Session`, on real sockets)
//! write through a TCP proxy that resets and stalls connections while `wrangler dev` is
//! killed (SIGKILL) and restarted on its state; every operation's invocation and outcome is
//! recorded and checked against fresh reads (see `roomsync_tests::chaos`). The test command
//! runs a small configuration; the full one is in RELIABILITY.md:
//!
//! ```sh
//! ROOMSYNC_CHAOS_MUTATIONS=10000 ROOMSYNC_CHAOS_RESTARTS=3 \
//!   cargo test -p roomsync-tests --test worker_chaos history -- --nocapture
//! ```
//!
//! And a backlog past the room's burst: the client core holds what the room throttles and
//! delivers all of it.

use roomsync_shared::client::{ClientCore, ClientEvent};
use roomsync_tests::chaos::{self, Config};
use roomsync_tests::{token, Next, RoomSocket, WranglerDev};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROOM: &str = "chaos";

#[test]
fn a_history_of_writes_through_worker_restarts_and_a_faulty_network_checks_out() {
    let config = Config::from_env();
    let report = chaos::run(&config);
    eprintln!("{report}");
    assert!(report.anomalies.is_empty(), "{report}");
    assert_eq!(report.answered, config.mutations, "{report}");
    assert_eq!(report.restarts, config.restarts, "{report}");
    assert!(report.proxy.reset > 0 && report.proxy.stalls > 0, "every kind of network fault struck: {report}");
}

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
