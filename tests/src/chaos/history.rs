//! The history of a chaos run — every operation's invocation and outcome — and the checker
//! that compares it with what the room holds afterwards.
//!
//! The operations are chosen so that a lost, doubled or reordered write shows in the final
//! state: inserts carry unique texts (each acknowledged one present exactly once, none
//! present twice), toggles are not idempotent (an item's `done` is the parity of its
//! acknowledged toggles), a counter's increments each return the new value (the values
//! returned are exactly 1..N, and the counter ends at N), and unique-name claims race across
//! clients (exactly one winner per name, whose id the room holds).

use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};

/// What a client asked the room to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `items:add` with a text no other operation uses.
    Add { list: String, text: String },
    /// `items:toggle` of an item this client added (and saw acknowledged).
    Toggle { text: String, id: String },
    /// `items:remove` of an item this client added, once.
    Remove { text: String, id: String },
    /// `lists:bump` of the shared counter.
    Bump,
    /// `lists:create` of a name every client races for.
    Claim { name: String },
}

impl Op {
    /// The mutation's function and arguments (`counter`: the shared counter's list id).
    pub fn call(&self, counter: &str) -> (&'static str, Json) {
        match self {
            Op::Add { list, text } => ("items:add", json!({"list": list, "text": text})),
            Op::Toggle { id, .. } => ("items:toggle", json!({"id": id})),
            Op::Remove { id, .. } => ("items:remove", json!({"id": id})),
            Op::Bump => ("lists:bump", json!({"id": counter})),
            Op::Claim { name } => ("lists:create", json!({"name": name})),
        }
    }
}

/// How the room answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Ok(Json),
    Refused { code: String, message: String },
}

/// One operation: who, what, when it was invoked and how and when it was answered.
#[derive(Clone, Debug)]
pub struct Entry {
    pub client: usize,
    pub request: u32,
    pub op: Op,
    pub invoked_ms: f64,
    pub answered: Option<(f64, Outcome)>,
}

impl Entry {
    fn ok(&self) -> Option<&Json> {
        match &self.answered {
            Some((_, Outcome::Ok(value))) => Some(value),
            _ => None,
        }
    }

    /// One line of the history file.
    pub fn to_json(&self) -> Json {
        let (answered_ms, outcome) = match &self.answered {
            None => (Json::Null, Json::Null),
            Some((at, Outcome::Ok(v))) => (json!(at), json!({"ok": v})),
            Some((at, Outcome::Refused { code, message })) => (json!(at), json!({"code": code, "message": message})),
        };
        json!({
            "client": self.client, "request": self.request, "op": format!("{:?}", self.op),
            "invokedMs": self.invoked_ms, "answeredMs": answered_ms, "outcome": outcome,
        })
    }
}

/// Every operation of a run, in invocation order.
#[derive(Default)]
pub struct History {
    pub entries: Vec<Entry>,
    by_request: HashMap<(usize, u32), usize>,
    /// Per client, the highest commit timestamp it has seen.
    seen_ts: HashMap<usize, u64>,
    anomalies: Vec<String>,
}

/// A document of the room, read afresh after the run.
#[derive(Clone, Debug)]
pub struct RoomItem {
    pub id: String,
    pub list: String,
    pub text: String,
    pub done: bool,
}

#[derive(Clone, Debug)]
pub struct RoomList {
    pub id: String,
    pub name: String,
    pub bumps: f64,
}

/// What the room holds after the run (fresh reads).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub items: Vec<RoomItem>,
    pub lists: Vec<RoomList>,
    /// `items:openCount` of each list (the room's own total).
    pub open_counts: BTreeMap<String, usize>,
}

impl History {
    pub fn invoke(&mut self, client: usize, request: u32, op: Op, now_ms: f64) {
        self.by_request.insert((client, request), self.entries.len());
        self.entries.push(Entry { client, request, op, invoked_ms: now_ms, answered: None });
    }

    /// Records an answer; returns the operation it answers. A second answer to one request,
    /// or an answer to nothing asked, is an anomaly.
    pub fn answer(&mut self, client: usize, request: u32, outcome: Outcome, now_ms: f64) -> Option<&Entry> {
        let Some(&at) = self.by_request.get(&(client, request)) else {
            self.anomaly(format!("client {client}: an answer to request {request}, which it never made"));
            return None;
        };
        if let Some((_, first)) = &self.entries[at].answered {
            let first = first.clone();
            self.anomaly(format!("client {client}: request {request} answered twice ({first:?}, then {outcome:?})"));
            return None;
        }
        self.entries[at].answered = Some((now_ms, outcome));
        Some(&self.entries[at])
    }

    /// A transition `start_ts → end_ts` reached `client`: versions only move forward, on
    /// one socket and across reconnects and restarts.
    pub fn observe_version(&mut self, client: usize, start_ts: u64, end_ts: u64) {
        let seen = self.seen_ts.entry(client).or_default();
        let problem = if end_ts < start_ts {
            Some(format!("client {client}: a transition went back from ts {start_ts} to {end_ts}"))
        } else if end_ts < *seen {
            Some(format!("client {client}: saw ts {end_ts} after ts {seen}"))
        } else {
            *seen = end_ts;
            None
        };
        if let Some(problem) = problem {
            self.anomaly(problem);
        }
    }

    pub fn anomaly(&mut self, what: String) {
        self.anomalies.push(what);
    }

    pub fn unanswered(&self) -> usize {
        self.entries.iter().filter(|e| e.answered.is_none()).count()
    }

    /// Checks the history against the room; returns every anomaly (none: the run is sound).
    pub fn check(&self, room: &Snapshot) -> Vec<String> {
        let mut found = self.anomalies.clone();
        self.check_answers(&mut found);
        self.check_items(room, &mut found);
        self.check_counter(room, &mut found);
        self.check_claims(room, &mut found);
        check_totals(room, &mut found);
        found
    }

    /// Every operation was answered, and only claims may lose (to another claim).
    fn check_answers(&self, found: &mut Vec<String>) {
        for e in &self.entries {
            match (&e.answered, &e.op) {
                (None, _) => found.push(format!("client {}: {:?} was never answered", e.client, e.op)),
                (Some((_, Outcome::Refused { code, .. })), Op::Claim { .. }) if code == "UNIQUE_VIOLATION" => {}
                (Some((_, Outcome::Refused { code, message })), op) => {
                    found.push(format!("client {}: {op:?} refused: {code} {message}", e.client))
                }
                _ => {}
            }
        }
    }

    /// Each acknowledged insert is present exactly once (unless its removal was
    /// acknowledged), with the id it was acknowledged with and the parity of its acknowledged
    /// toggles; nothing else is present.
    fn check_items(&self, room: &Snapshot, found: &mut Vec<String>) {
        let mut in_room: HashMap<&str, Vec<&RoomItem>> = HashMap::new();
        for item in &room.items {
            in_room.entry(item.text.as_str()).or_default().push(item);
        }
        let mut asked: HashMap<&str, (Option<&Json>, usize, bool)> = HashMap::new();
        for e in &self.entries {
            match &e.op {
                Op::Add { text, .. } => {
                    asked.entry(text).or_default().0 = e.ok();
                }
                Op::Toggle { text, .. } if e.ok().is_some() => asked.entry(text).or_default().1 += 1,
                Op::Remove { text, .. } if e.ok().is_some() => asked.entry(text).or_default().2 = true,
                _ => {}
            }
        }
        for (text, copies) in &in_room {
            match asked.get(text) {
                None => found.push(format!("item {text:?} is in the room but no client added it")),
                Some(_) if copies.len() > 1 => {
                    found.push(format!("item {text:?} is in the room {} times", copies.len()))
                }
                _ => {}
            }
        }
        for (text, (added, toggles, removed)) in &asked {
            let copies = in_room.get(text).map(Vec::as_slice).unwrap_or_default();
            match (added, removed, copies) {
                (_, true, [_, ..]) => {
                    found.push(format!("item {text:?} is in the room after its removal was acknowledged"))
                }
                (Some(id), false, []) => found.push(format!("item {text:?} (acknowledged as {id}) is not in the room")),
                (Some(id), false, [item]) => {
                    if id.as_str() != Some(item.id.as_str()) {
                        found.push(format!("item {text:?} was acknowledged as {id} but the room holds {}", item.id));
                    }
                    if item.done != (toggles % 2 == 1) {
                        found.push(format!(
                            "item {text:?}: {toggles} acknowledged toggles but done = {} (a toggle lost or applied twice)",
                            item.done
                        ));
                    }
                }
                _ => {}
            }
        }
    }

    /// The counter's acknowledged increments returned 1..N, each once, and it ends at N.
    fn check_counter(&self, room: &Snapshot, found: &mut Vec<String>) {
        let mut values: Vec<i64> = self
            .entries
            .iter()
            .filter(|e| e.op == Op::Bump)
            .filter_map(|e| e.ok()?.as_f64())
            .map(|v| v as i64)
            .collect();
        values.sort_unstable();
        let n = values.len() as i64;
        if values.iter().copied().ne(1..=n) {
            let doubled = values.windows(2).filter(|w| w[0] == w[1]).count();
            found.push(format!(
                "the counter's {n} acknowledged increments did not return 1..{n} ({doubled} values twice)"
            ));
        }
        let Some(counter) = room.lists.iter().find(|l| l.name == COUNTER) else {
            found.push("the counter's list is gone".into());
            return;
        };
        if counter.bumps != n as f64 {
            found.push(format!("the counter ends at {} after {n} acknowledged increments", counter.bumps));
        }
    }

    /// Each raced name has exactly one winner, and the room holds that winner's list.
    fn check_claims(&self, room: &Snapshot, found: &mut Vec<String>) {
        let mut winners: BTreeMap<&str, Vec<&Json>> = BTreeMap::new();
        for e in &self.entries {
            if let Op::Claim { name } = &e.op {
                let slot = winners.entry(name).or_default();
                slot.extend(e.ok());
            }
        }
        for (name, won) in winners {
            let held: Vec<&RoomList> = room.lists.iter().filter(|l| l.name == name).collect();
            match (won.as_slice(), held.as_slice()) {
                ([id], [list]) if id.as_str() == Some(list.id.as_str()) => {}
                _ => found.push(format!("name {name:?}: claims won {won:?}, the room holds {held:?}")),
            }
        }
    }
}

/// The room's own totals agree with its documents.
fn check_totals(room: &Snapshot, found: &mut Vec<String>) {
    for (list, count) in &room.open_counts {
        let open = room.items.iter().filter(|i| &i.list == list && !i.done).count();
        if open != *count {
            found.push(format!("list {list}: items:openCount says {count}, {open} items are open"));
        }
    }
}

/// The name of the shared counter's list.
pub const COUNTER: &str = "counter";

#[cfg(test)]
mod tests {
    use super::*;

    /// A small clean run: client 0 adds two items, toggles one, removes the other, bumps
    /// twice; client 1 bumps once and loses a claim to client 0.
    fn clean() -> (History, Snapshot) {
        let mut h = History::default();
        let ops = [
            (0, Op::Add { list: "L".into(), text: "a".into() }, Outcome::Ok(json!("i1"))),
            (0, Op::Add { list: "L".into(), text: "b".into() }, Outcome::Ok(json!("i2"))),
            (0, Op::Toggle { text: "a".into(), id: "i1".into() }, Outcome::Ok(json!(true))),
            (0, Op::Remove { text: "b".into(), id: "i2".into() }, Outcome::Ok(Json::Null)),
            (0, Op::Bump, Outcome::Ok(json!(1.0))),
            (1, Op::Bump, Outcome::Ok(json!(3.0))),
            (0, Op::Bump, Outcome::Ok(json!(2.0))),
            (0, Op::Claim { name: "race-0".into() }, Outcome::Ok(json!("l9"))),
            (
                1,
                Op::Claim { name: "race-0".into() },
                Outcome::Refused { code: "UNIQUE_VIOLATION".into(), message: "taken".into() },
            ),
        ];
        for (n, (client, op, outcome)) in ops.into_iter().enumerate() {
            h.invoke(client, n as u32, op, n as f64);
            h.answer(client, n as u32, outcome, n as f64 + 0.5);
        }
        let room = Snapshot {
            items: vec![RoomItem { id: "i1".into(), list: "L".into(), text: "a".into(), done: true }],
            lists: vec![
                RoomList { id: "c".into(), name: COUNTER.into(), bumps: 3.0 },
                RoomList { id: "l9".into(), name: "race-0".into(), bumps: 0.0 },
            ],
            open_counts: [("L".to_string(), 0)].into_iter().collect(),
        };
        (h, room)
    }

    #[test]
    fn a_clean_history_checks_out() {
        let (h, room) = clean();
        assert_eq!(h.check(&room), Vec::<String>::new());
    }

    #[test]
    fn lost_doubled_and_phantom_writes_are_found() {
        let (h, mut room) = clean();
        room.items.push(room.items[0].clone());
        assert!(h.check(&room).iter().any(|a| a.contains("in the room 2 times")));

        let (h, mut room) = clean();
        room.items.clear();
        room.open_counts.clear();
        assert!(h.check(&room).iter().any(|a| a.contains("is not in the room")));

        let (h, mut room) = clean();
        room.items.push(RoomItem { id: "i2".into(), list: "L".into(), text: "b".into(), done: false });
        assert!(h.check(&room).iter().any(|a| a.contains("after its removal")));

        let (h, mut room) = clean();
        room.items.push(RoomItem { id: "x".into(), list: "M".into(), text: "zzz".into(), done: false });
        assert!(h.check(&room).iter().any(|a| a.contains("no client added it")));
    }

    #[test]
    fn a_toggle_or_increment_applied_twice_is_found() {
        let (h, mut room) = clean();
        room.items[0].done = false;
        room.open_counts.insert("L".into(), 1);
        assert!(h.check(&room).iter().any(|a| a.contains("1 acknowledged toggles")));

        let (mut h, mut room) = clean();
        h.invoke(1, 99, Op::Bump, 10.0);
        h.answer(1, 99, Outcome::Ok(json!(3.0)), 11.0);
        room.lists[0].bumps = 4.0;
        let found = h.check(&room);
        assert!(found.iter().any(|a| a.contains("did not return 1..4 (1 values twice)")), "{found:?}");
    }

    #[test]
    fn two_winners_a_refusal_a_silence_and_a_version_going_back_are_found() {
        let (mut h, room) = clean();
        h.invoke(2, 1, Op::Claim { name: "race-0".into() }, 20.0);
        h.answer(2, 1, Outcome::Ok(json!("l10")), 21.0);
        assert!(h.check(&room).iter().any(|a| a.contains("claims won")));

        let (mut h, room) = clean();
        h.invoke(2, 2, Op::Bump, 20.0);
        h.answer(2, 2, Outcome::Refused { code: "UNAUTHENTICATED".into(), message: "no".into() }, 21.0);
        h.invoke(2, 3, Op::Add { list: "L".into(), text: "c".into() }, 22.0);
        h.observe_version(2, 5, 9);
        h.observe_version(2, 0, 7);
        h.answer(2, 2, Outcome::Ok(json!(1.0)), 23.0);
        let found = h.check(&room);
        for expected in ["refused: UNAUTHENTICATED", "never answered", "saw ts 7 after ts 9", "answered twice"] {
            assert!(found.iter().any(|a| a.contains(expected)), "{expected}: {found:?}");
        }
    }

    #[test]
    fn a_total_that_disagrees_with_the_documents_is_found() {
        let (h, mut room) = clean();
        room.open_counts.insert("L".into(), 2);
        assert!(h.check(&room).iter().any(|a| a.contains("openCount says 2")));
    }
}
