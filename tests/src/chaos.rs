//! The history-checked chaos suite's machinery: many real clients (the browser's
//! [`Session`](roomsync_shared::client::session::Session), hosted on real sockets) write to a
//! room of the to-do app under `wrangler dev`, through a [`FaultProxy`] that resets and
//! stalls connections, while the worker is killed (SIGKILL) and restarted on its state.
//! Every operation's invocation and outcome goes into a [`History`]; once the faults stop
//! and every client is answered, [`History::check`] compares it with fresh reads of the
//! room, and every client's live results are compared with a fresh run as that client.
//!
//! `tests/tests/worker_chaos.rs` runs a small configuration in the test command;
//! `RELIABILITY.md` gives the command for the full one.

pub mod client;
pub mod history;
pub mod proxy;

use crate::dice::Dice;
use crate::wrangler::{http_request, json_body};
use crate::{token_for, WranglerDev};
use client::{ClientStats, LiveClient};
use history::{History, Op, Outcome, RoomItem, RoomList, Snapshot, COUNTER};
use proxy::{FaultProxy, ProxyStats};
use roomsync_shared::protocol::{QueryId, RequestId};
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The to-do app's worker (the tests' app with a counter and a unique name to race for).
pub const CONFIG: &str = "tests/todo-app/wrangler.toml";
const ROOM: &str = "chaos";
/// How many names the clients race for (each client claims them in order).
const RACES: usize = 40;
/// A list query returns at most this many items (the app's `MAX_ITEMS`).
const MAX_ITEMS: usize = roomsync_todo_app::MAX_ITEMS;

/// The size of a run.
#[derive(Clone, Debug)]
pub struct Config {
    pub clients: usize,
    pub mutations: usize,
    /// Worker restarts (SIGKILL, then a start on the same state), spread over the run.
    pub restarts: usize,
    /// Most unanswered mutations a client keeps (it writes again as answers come).
    pub window: usize,
    pub seed: u64,
    /// The run gives up (and reports what is unanswered) after this.
    pub deadline: Duration,
}

impl Config {
    /// The test command's configuration, overridden by `ROOMSYNC_CHAOS_CLIENTS`,
    /// `_MUTATIONS`, `_RESTARTS` and `_SEED`.
    pub fn from_env() -> Self {
        let var = |name: &str, default: u64| {
            std::env::var(format!("ROOMSYNC_CHAOS_{name}")).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
        };
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        let mutations = var("MUTATIONS", 2_000) as usize;
        Config {
            clients: var("CLIENTS", 20) as usize,
            mutations,
            restarts: var("RESTARTS", 2) as usize,
            window: 4,
            seed: var("SEED", seed),
            deadline: Duration::from_secs(120 + mutations as u64 / 20),
        }
    }
}

/// What a run did and found.
#[derive(Debug)]
pub struct Report {
    pub config: Config,
    pub anomalies: Vec<String>,
    pub answered: usize,
    pub claims_lost: usize,
    pub restarts: usize,
    pub faults: usize,
    pub proxy: ProxyStats,
    pub clients: ClientStats,
    pub elapsed: Duration,
    pub history: PathBuf,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, p) = (&self.clients, &self.proxy);
        writeln!(f, "chaos run, seed {} ({:.1} s):", self.config.seed, self.elapsed.as_secs_f64())?;
        writeln!(
            f,
            "  {} clients, {} mutations, {} answered ({} claims lost to another client's)",
            self.config.clients, self.config.mutations, self.answered, self.claims_lost
        )?;
        writeln!(
            f,
            "  faults: {} worker restarts (SIGKILL), {} network faults: {} connections reset, {} stalls, {} refused while down; {} of {} token fetches failed",
            self.restarts, self.faults, p.reset, p.stalls, p.refused, c.token_failures, c.token_fetches + c.token_failures
        )?;
        writeln!(
            f,
            "  clients: {} sockets opened ({} failed to open), {} lost, {} throttled bursts",
            c.opens, c.failed_opens, c.sockets_lost, c.throttled
        )?;
        writeln!(f, "  anomalies: {}; history: {}", self.anomalies.len(), self.history.display())?;
        for anomaly in self.anomalies.iter().take(20) {
            writeln!(f, "    {anomaly}")?;
        }
        Ok(())
    }
}

/// What one client's application does: writes to its own list, toggles and removes what it
/// added, bumps the counter, and claims the raced names in order.
struct Writer {
    list: String,
    left: usize,
    /// Items it added and saw acknowledged, not being removed: (text, id).
    items: Vec<(String, String)>,
    added: usize,
    next_race: usize,
    asked: HashMap<RequestId, Op>,
    /// Live queries, with their function and arguments (for the fresh run).
    queries: Vec<(QueryId, &'static str, Json)>,
    /// The client's user, for the fresh run of its queries.
    token: String,
}

impl Writer {
    fn pick(&mut self, client: usize, dice: &mut Dice) -> Op {
        let roll = dice.below(100);
        if roll < 45 || (self.items.is_empty() && roll < 70) {
            self.added += 1;
            return Op::Add { list: self.list.clone(), text: format!("c{client}-{}", self.added) };
        }
        if roll < 60 {
            let (text, id) = self.items[dice.below(self.items.len() as u64) as usize].clone();
            return Op::Toggle { text, id };
        }
        if roll < 70 {
            let (text, id) = self.items.swap_remove(dice.below(self.items.len() as u64) as usize);
            return Op::Remove { text, id };
        }
        if roll < 90 || self.next_race >= RACES {
            return Op::Bump;
        }
        self.next_race += 1;
        Op::Claim { name: format!("race-{}", self.next_race - 1) }
    }
}

/// The worker: serving, or starting again after a kill.
enum Worker {
    Up(WranglerDev),
    Restarting(JoinHandle<WranglerDev>),
}

fn start_worker(state: &Path) -> WranglerDev {
    WranglerDev::start_config(state, Some(CONFIG), &[])
}

/// A call over the HTTP routes (`kind`: `query` or `mutation`); the query's `value` or the
/// mutation's `result` of a 200 answer.
fn call(port: u16, kind: &str, token: &str, path: &str, args: &Json) -> Result<Json, String> {
    let body = json!({"udfPath": path, "args": args}).to_string();
    let bearer = format!("Bearer {token}");
    let reply = http_request(port, "POST", &format!("/rooms/{ROOM}/{kind}"), &[("Authorization", &bearer)], &body)
        .ok_or_else(|| format!("{path}: no answer"))?;
    if !reply.starts_with("HTTP/1.1 200") {
        return Err(format!("{path}: {}", reply.lines().next().unwrap_or_default()));
    }
    let field = if kind == "query" { "value" } else { "result" };
    Ok(json_body(&reply)[field].clone())
}

fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Runs the suite; panics only when the harness itself cannot run (the worker does not
/// start): what the room does wrong is in the report's anomalies.
pub fn run(config: &Config) -> Report {
    let started = Instant::now();
    let state = crate::repo_root().join(".test-state").join(format!("chaos-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let dev = start_worker(&state);
    let proxy = FaultProxy::start(dev.port);
    let owner = token_for(ROOM, "chaos-owner", "owner", 3600.0);
    let setup = |args: Json| call(dev.port, "mutation", &owner, "lists:create", &args).expect("setup: lists:create");
    let counter = setup(json!({"name": COUNTER})).as_str().unwrap_or_default().to_string();
    let lists: Vec<String> = (0..config.clients)
        .map(|i| setup(json!({"name": format!("client-{i}")})).as_str().unwrap_or_default().to_string())
        .collect();

    let mut dice = Dice::new(config.seed);
    let url = format!("ws://127.0.0.1:{}/rooms/{ROOM}/sync", proxy.port);
    let mut clients = Vec::new();
    let mut writers = Vec::new();
    for (i, list) in lists.iter().enumerate() {
        let user = format!("chaos-{i}");
        let token = token_for(ROOM, &user, "editor", 3600.0);
        let mut client = LiveClient::new(i, ROOM, user, "editor", url.clone(), proxy.port);
        let neighbour = &lists[(i + 1) % lists.len()];
        let queries: Vec<(&'static str, Json)> = vec![
            ("items:ofList", json!({"list": list})),
            ("items:ofList", json!({"list": neighbour, "done": false})),
            ("items:openCount", json!({"list": list})),
            ("lists:all", json!({})),
        ];
        let queries =
            queries.into_iter().map(|(path, args)| (client.subscribe(path, args.clone()), path, args)).collect();
        let left = config.mutations / config.clients + usize::from(i < config.mutations % config.clients);
        clients.push(client);
        writers.push(Writer {
            list: list.clone(),
            left,
            items: Vec::new(),
            added: 0,
            next_race: 0,
            asked: HashMap::new(),
            queries,
            token,
        });
    }

    let mut history = History::default();
    let mut worker = Worker::Up(dev);
    let (mut restarts, mut faults) = (0usize, 0usize);
    let mut next_fault = Instant::now() + Duration::from_millis(500 + dice.below(1500));
    let deadline = started + config.deadline;
    let mut issued = 0usize;
    let mut progress_at = Instant::now();
    loop {
        let now = Instant::now();
        if now >= progress_at {
            progress_at = now + Duration::from_secs(5);
            let up = if matches!(worker, Worker::Up(_)) { "up" } else { "restarting" };
            eprintln!(
                "chaos: {:>5.1} s, {issued} of {} mutations asked, {} unanswered, {restarts} restarts, worker {up}",
                started.elapsed().as_secs_f64(),
                config.mutations,
                history.unanswered()
            );
        }
        let healed = issued == config.mutations && restarts == config.restarts;
        // The applications write.
        for (client, writer) in clients.iter_mut().zip(writers.iter_mut()) {
            while writer.left > 0 && writer.asked.len() < config.window {
                let op = writer.pick(client.index, &mut dice);
                let (path, args) = op.call(&counter);
                let Some(request) = client.mutation(path, args) else { break };
                history.invoke(client.index, request, op.clone(), now_ms());
                writer.asked.insert(request, op);
                writer.left -= 1;
                issued += 1;
            }
        }
        // Faults, until every mutation has been asked for and every restart done.
        if !healed && now >= next_fault {
            faults += 1;
            match dice.below(3) {
                0 => {
                    proxy.reset_all();
                }
                1 => {
                    let half = dice.roll();
                    proxy.reset_some(|id| (id ^ half).is_multiple_of(2));
                }
                _ => proxy.stall(Duration::from_millis(100 + dice.below(4_000))),
            }
            next_fault = now + Duration::from_millis(200 + dice.below(1_000));
        }
        for client in clients.iter_mut() {
            client.token_failure = if healed { 0 } else { 100 };
        }
        let due_restart = (restarts + 1) * config.mutations / (config.restarts + 1);
        worker = match worker {
            Worker::Up(mut dev) if restarts < config.restarts && issued >= due_restart => {
                dev.kill();
                proxy.set_upstream(0);
                proxy.reset_all();
                restarts += 1;
                let state = state.clone();
                Worker::Restarting(std::thread::spawn(move || start_worker(&state)))
            }
            Worker::Restarting(handle) if handle.is_finished() => {
                let dev = handle.join().unwrap_or_else(|_| panic!("wrangler dev did not start again"));
                proxy.set_upstream(dev.port);
                Worker::Up(dev)
            }
            other => other,
        };
        // The clients do what is ready.
        let mut busy = false;
        for (client, writer) in clients.iter_mut().zip(writers.iter_mut()) {
            let (answers, moved) = client.poll();
            busy |= moved;
            for (start, end) in client.versions.drain(..) {
                history.observe_version(client.index, start, end);
            }
            for (request, outcome) in answers {
                let outcome = match outcome {
                    Ok(value) => Outcome::Ok(value),
                    Err((code, message)) => Outcome::Refused { code, message },
                };
                if let (Some(Op::Add { text, .. }), Outcome::Ok(id)) = (writer.asked.get(&request), &outcome) {
                    writer.items.push((text.clone(), id.as_str().unwrap_or_default().to_string()));
                }
                writer.asked.remove(&request);
                history.answer(client.index, request, outcome, now_ms());
            }
        }
        let quiet = clients.iter().all(|c| c.pending() == 0 && c.is_live());
        if healed && matches!(worker, Worker::Up(_)) && history.unanswered() == 0 && quiet {
            break;
        }
        if Instant::now() > deadline {
            history.anomaly(format!(
                "the run did not finish within {:?}: {} of {issued} mutations unanswered",
                config.deadline,
                history.unanswered()
            ));
            break;
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    let dev = match worker {
        Worker::Up(dev) => dev,
        Worker::Restarting(handle) => handle.join().unwrap_or_else(|_| panic!("wrangler dev did not start again")),
    };
    eprintln!("chaos: {:>5.1} s, every mutation answered; comparing live results", started.elapsed().as_secs_f64());
    // Every client's live results equal a fresh run as that client, once the room is quiet.
    let views_deadline = Instant::now() + Duration::from_secs(20);
    let mut differences = Vec::new();
    while Instant::now() < views_deadline {
        for client in clients.iter_mut() {
            client.poll();
        }
        differences = view_differences(dev.port, &clients, &writers);
        if differences.is_empty() {
            break;
        }
        for _ in 0..50 {
            for client in clients.iter_mut() {
                client.poll();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    for difference in differences {
        history.anomaly(difference);
    }
    for client in clients.iter_mut() {
        for anomaly in client.anomalies.drain(..) {
            history.anomaly(anomaly);
        }
    }

    let snapshot = read_room(dev.port, &owner, &mut history);
    let anomalies = history.check(&snapshot);
    let history_path = crate::repo_root().join("target").join("chaos").join(format!("history-{}.jsonl", config.seed));
    write_history(&history_path, &history);
    let mut totals = ClientStats::default();
    for c in &clients {
        totals += c.stats;
    }
    let claims_lost = history
        .entries
        .iter()
        .filter(|e| matches!((&e.op, &e.answered), (Op::Claim { .. }, Some((_, Outcome::Refused { .. })))))
        .count();
    let report = Report {
        config: config.clone(),
        anomalies,
        answered: history.entries.len() - history.unanswered(),
        claims_lost,
        restarts,
        faults,
        proxy: proxy.stats(),
        clients: totals,
        elapsed: started.elapsed(),
        history: history_path,
    };
    drop(clients);
    drop(proxy);
    drop(dev);
    let _ = std::fs::remove_dir_all(&state);
    report
}

/// Each client's live results that differ from a fresh run of the same query as that client.
fn view_differences(port: u16, clients: &[LiveClient], writers: &[Writer]) -> Vec<String> {
    let mut found = Vec::new();
    for (client, writer) in clients.iter().zip(writers) {
        for (query, path, args) in &writer.queries {
            let fresh = call(port, "query", &writer.token, path, args);
            let live = client.cached(*query);
            if fresh.as_ref().ok() != live {
                found.push(format!(
                    "client {}: {path} {args} is live {live:?}, a fresh run gives {fresh:?}",
                    client.index
                ));
            }
        }
    }
    found
}

/// Fresh reads of everything the checker needs, as the owner.
fn read_room(port: u16, owner: &str, history: &mut History) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let read = |path: &str, args: Json, history: &mut History| {
        call(port, "query", owner, path, &args).unwrap_or_else(|e| {
            history.anomaly(format!("the final read failed: {e}"));
            Json::Null
        })
    };
    let lists = read("lists:all", json!({}), history);
    for list in lists.as_array().into_iter().flatten() {
        let text = |field: &str| list[field].as_str().unwrap_or_default().to_string();
        snapshot.lists.push(RoomList {
            id: text("_id"),
            name: text("name"),
            bumps: list["bumps"].as_f64().unwrap_or(0.0),
        });
    }
    for list in snapshot.lists.clone().iter().filter(|l| l.name.starts_with("client-")) {
        let items = read("items:ofList", json!({"list": list.id}), history);
        let items = items.as_array().cloned().unwrap_or_default();
        if items.len() >= MAX_ITEMS {
            history.anomaly(format!("list {} has {} items or more: too many to read whole", list.name, MAX_ITEMS));
        }
        for item in items {
            let text = |field: &str| item[field].as_str().unwrap_or_default().to_string();
            snapshot.items.push(RoomItem {
                id: text("_id"),
                list: text("list"),
                text: text("text"),
                done: item["done"] == json!(true),
            });
        }
        let open = read("items:openCount", json!({"list": list.id}), history);
        snapshot.open_counts.insert(list.id.clone(), open.as_f64().unwrap_or(-1.0) as usize);
    }
    snapshot
}

fn write_history(path: &Path, history: &History) {
    let Some(dir) = path.parent() else { return };
    let _ = std::fs::create_dir_all(dir);
    if let Ok(mut file) = std::fs::File::create(path) {
        for entry in &history.entries {
            let _ = writeln!(file, "{}", entry.to_json());
        }
    }
}
