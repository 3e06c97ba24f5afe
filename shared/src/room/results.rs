//! Query runs and the result cache: a run's result, read set and hash; runs shared within a
//! fan-out; the last result each subscription was sent, held once per hash, to diff against.

use super::*;

/// One query run: its result (or error), what it read, the journal it pinned.
pub(super) struct QueryRun {
    pub(super) result: Result<Json, FnError>,
    pub(super) read_set: ReadSet,
    pub(super) journal: Option<String>,
    /// Hash of the result (or of the error), computed once: it is compared, stored and sent.
    pub(super) hash: String,
    /// Size of the result's JSON text (0 for an error), for the diff cache.
    pub(super) size: usize,
    /// The function asked who is calling: the result may differ between callers with the
    /// same role, so it is not shared between them.
    pub(super) personal: bool,
    /// The read set's stored text, made once however many subscribers share this run.
    pub(super) read_set_text: std::cell::OnceCell<String>,
}

/// Query runs shared within one fan-out: subscribers of the same query with the same
/// arguments (the common case: every open panel shows the same list) cost one run, not one
/// each. Runs are keyed by the caller's role, or by the caller itself when the function
/// looked at who is calling.
#[derive(Default)]
pub(super) struct SharedRuns {
    pub(super) runs: HashMap<(String, String, Option<String>, String), Rc<QueryRun>>,
    /// Diffs by (base hash, new hash): `None` when the whole result is smaller to send.
    pub(super) diffs: HashMap<(String, String), Option<ValueDiff>>,
    /// Runs to write to `_subs` once the fan-out is done ([`Room::flush_runs`]).
    pub(super) stored: Vec<(SubKey, Rc<QueryRun>)>,
}

/// Connections per batched `UPDATE` (Durable Object SQLite binds at most 100 parameters).
pub(super) const UPDATE_CHUNK: usize = 90;

impl SharedRuns {
    pub(super) fn role_key(caller: Option<&Identity>) -> String {
        caller.map_or("-".into(), |c| c.role.as_str().into())
    }

    pub(super) fn caller_key(caller: Option<&Identity>) -> String {
        caller.map_or("-".into(), |c| format!("{}|{}", c.role, c.subject))
    }
}

impl QueryRun {
    pub(super) fn new(result: Result<Json, FnError>, read_set: ReadSet, journal: Option<String>) -> Self {
        let (hash, size) = match &result {
            // The text both sides hash (`protocol::hash`); its length is the result's size.
            Ok(value) => {
                let text = crate::protocol::hash::canonical_text(value);
                (hash_text(&text), text.len())
            }
            Err(e) => (hash_text(&format!("error:{}:{e}", e.code())), 0),
        };
        Self { result, read_set, journal, hash, size, personal: false, read_set_text: Default::default() }
    }

    pub(super) fn modification(&self, query_id: QueryId) -> QueryModification {
        let hash = self.hash.clone();
        match &self.result {
            Ok(value) => QueryModification::QueryUpdated { query_id, value: value.clone(), hash },
            Err(e) => QueryModification::QueryFailed { query_id, code: e.code(), message: e.to_string() },
        }
    }
}

/// The last result each subscription was sent, to diff against. Results are stored once per
/// hash: a thousand panels showing the same list hold one copy between them.
#[derive(Default)]
pub(super) struct ResultCache {
    pub(super) held: HashMap<SubKey, String>,
    pub(super) values: HashMap<String, CachedResult>,
    pub(super) bytes: usize,
}

pub(super) struct CachedResult {
    pub(super) value: Rc<Json>,
    pub(super) size: usize,
    pub(super) holders: usize,
}

impl ResultCache {
    pub(super) fn remember(&mut self, key: SubKey, hash: String, value: &Json, size: usize) {
        self.forget(&key);
        match self.values.get_mut(&hash) {
            Some(cached) => cached.holders += 1,
            None if self.bytes + size <= RESULT_CACHE_BYTES => {
                self.bytes += size;
                self.values.insert(hash.clone(), CachedResult { value: Rc::new(value.clone()), size, holders: 1 });
            }
            None => return,
        }
        self.held.insert(key, hash);
    }

    pub(super) fn forget(&mut self, key: &SubKey) {
        let Some(hash) = self.held.remove(key) else { return };
        if let Some(cached) = self.values.get_mut(&hash) {
            cached.holders -= 1;
            if cached.holders == 0 {
                self.bytes -= cached.size;
                self.values.remove(&hash);
            }
        }
    }

    /// The value `key` was last sent, if it is the one with `hash`.
    pub(super) fn base(&self, key: &SubKey, hash: &str) -> Option<(Rc<Json>, usize)> {
        let held = self.held.get(key).filter(|h| *h == hash)?;
        self.values.get(held).map(|c| (c.value.clone(), c.size))
    }
}
