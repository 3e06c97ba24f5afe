//! `fanout-bench`: how one room under `wrangler dev` fans a commit out to many sockets.
//!
//! For each subscriber count (1 as the same-run baseline, then 100 and 1,000 by default, or
//! the counts given as arguments) it opens that many signed-in sockets in one room, each
//! subscribed to `tasks:list`, then commits `ROUNDS` tasks one at a time and measures, per
//! commit, the time from sending the mutation to the moment the *last* subscriber received
//! its transition. It prints p50/p99 per count with the ratio to the 1-subscriber baseline,
//! and the resident memory of the workerd processes with the sockets open. Loopback only;
//! wrangler is stopped by process group at the end.

use roomsync_shared::protocol::ServerMessage;
use roomsync_tests::{Next, RoomSocket, WranglerDev};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 40;
/// Most time one commit may take to reach everyone before the run is declared stuck.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

struct Round {
    /// Subscribers that received the transition of this commit.
    received: AtomicUsize,
    last: Mutex<Option<Instant>>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Resident memory of the workerd processes in wrangler's process group, in bytes.
fn workerd_rss(group: u32) -> u64 {
    let output = std::process::Command::new("ps").args(["-e", "-o", "pgid=,rss=,comm="]).output();
    let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let (pgid, rss, comm) =
                (fields.next()?.parse::<u32>().ok()?, fields.next()?.parse::<u64>().ok()?, fields.next()?);
            (pgid == group && comm.contains("workerd")).then_some(rss)
        })
        .sum::<u64>()
        * 1024
}

struct Measured {
    subscribers: usize,
    p50: Duration,
    p99: Duration,
    rss_before: u64,
    rss_with_sockets: u64,
    connect_time: Duration,
}

fn run(dev: &WranglerDev, subscribers: usize) -> Measured {
    let room = format!("fanout-{subscribers}-{}", std::process::id());
    let url = dev.ws_url(&room);
    let rss_before = workerd_rss(dev.process_group());
    let started = Instant::now();
    let rounds: Arc<Vec<Round>> =
        Arc::new((0..=ROUNDS).map(|_| Round { received: AtomicUsize::new(0), last: Mutex::new(None) }).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let mut socket = RoomSocket::signed_in(&url, &room, "viewer");
        socket.send_subscribe(1, "tasks:list", json!({"status": "pending"}));
        let (rounds, stop, ready, lost) = (rounds.clone(), stop.clone(), ready.clone(), lost.clone());
        readers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let text = match socket.next_text(Duration::from_millis(200)) {
                    Next::Text(text) => text,
                    Next::Timeout => continue,
                    Next::Closed(_) => {
                        lost.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let Ok(ServerMessage::Transition { end_version, .. }) = ServerMessage::parse(&text) else { continue };
                let at = Instant::now();
                let ts = end_version.ts.0 as usize;
                if ts == 0 {
                    ready.fetch_add(1, Ordering::Relaxed);
                } else if let Some(round) = rounds.get(ts) {
                    *round.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
                    round.received.fetch_add(1, Ordering::Release);
                }
            }
            socket.close();
        }));
    }
    let deadline = Instant::now() + ROUND_TIMEOUT;
    while ready.load(Ordering::Relaxed) < subscribers && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let connect_time = started.elapsed();
    eprintln!(
        "fanout-bench: {subscribers} sockets: {} got their first result in {connect_time:?}",
        ready.load(Ordering::Relaxed)
    );
    let held = ready.load(Ordering::Relaxed);
    if held < subscribers {
        stop.store(true, Ordering::Relaxed);
        println!(
            "{subscribers} sockets: only {held} got their first result within {ROUND_TIMEOUT:?}; {} were closed by the server",
            lost.load(Ordering::Relaxed)
        );
        let rss_with_sockets = workerd_rss(dev.process_group());
        for reader in readers {
            let _ = reader.join();
        }
        let zero = Duration::ZERO;
        return Measured { subscribers: held, p50: zero, p99: zero, rss_before, rss_with_sockets, connect_time };
    }
    let rss_with_sockets = workerd_rss(dev.process_group());
    let mut writer = RoomSocket::signed_in(&url, &room, "admin");
    writer.send_mutation(1, "users:ensure", json!({"name": "Bench", "email": "bench@x", "role": "admin"}));
    let user = loop {
        if let ServerMessage::MutationResponse { outcome, .. } = writer.recv() {
            break serde_json::to_value(outcome).ok().and_then(|o| o["result"].as_str().map(str::to_string));
        }
    }
    .unwrap_or_default();
    // users:ensure was commit 1 (no subscriber reads users): tasks start at commit 2.
    let mut latencies = Vec::new();
    for ts in 2..=ROUNDS {
        let sent = Instant::now();
        writer.send_mutation(ts as u32, "tasks:create", json!({"title": format!("task {ts}"), "created_by": user}));
        let round = &rounds[ts];
        let deadline = sent + ROUND_TIMEOUT;
        while round.received.load(Ordering::Acquire) < subscribers {
            assert!(
                Instant::now() < deadline,
                "commit {ts} reached {} of {subscribers}",
                round.received.load(Ordering::Relaxed)
            );
            std::thread::yield_now();
        }
        let last = round.last.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or(sent);
        latencies.push(last.saturating_duration_since(sent));
        // Drain the writer's own frames (its response).
        while let Next::Text(_) = writer.next_text(Duration::from_millis(1)) {}
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let _ = reader.join();
    }
    writer.close();
    latencies.sort();
    Measured {
        subscribers,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        rss_before,
        rss_with_sockets,
        connect_time,
    }
}

fn main() {
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { vec![100, 1000] } else { counts };
    let state = roomsync_tests::repo_root().join(".test-state").join(format!("fanout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    // No reconnect-storm shedding: the benchmark opens its sockets as fast as it can.
    let dev = WranglerDev::start_with(
        &state,
        &[("ROOMSYNC_CONNECT_BURST", "100000"), ("ROOMSYNC_SOCKETS_PER_ADDRESS", "100000")],
    );
    let baseline = run(&dev, 1);
    let mut rows = vec![];
    for n in counts {
        rows.push(run(&dev, n));
    }
    println!("\n| subscribers | mutation → last subscriber p50 | p99 | p50 vs 1 subscriber | sockets open in | workerd RSS before → with sockets |");
    println!("|---|---|---|---|---|---|");
    for m in std::iter::once(&baseline).chain(rows.iter()) {
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.1}× | {:.1} s | {:.0} MiB → {:.0} MiB |",
            m.subscribers,
            m.p50.as_secs_f64() * 1e3,
            m.p99.as_secs_f64() * 1e3,
            m.p50.as_secs_f64() / baseline.p50.as_secs_f64().max(1e-9),
            m.connect_time.as_secs_f64(),
            m.rss_before as f64 / 1048576.0,
            m.rss_with_sockets as f64 / 1048576.0,
        );
    }
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
}
