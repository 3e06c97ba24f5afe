//! One conformance suite for every [`DocStore`]: the same operations on SQLite (the room's
//! store) and in memory (the predictions' store) must give the same answers — the same
//! rows in the same order, refusals in the same places, the same state afterwards — so a
//! prediction computed in the browser reads documents exactly as the room would.

use super::docs::{DocStore, IndexScan, StoredDoc};
use super::memory::MemoryStore;
use super::sql_docs::create_document_tables;
use super::sqlite::NativeSql;
use super::{Sql, StorageError};
use proptest::prelude::*;
use std::ops::Bound;

fn sqlite() -> NativeSql {
    let sql = NativeSql::in_memory().expect("in-memory SQLite opens");
    create_document_tables(&sql).expect("document tables are created");
    sql
}

const TABLES: [&str; 2] = ["a", "b"];
/// "i" and "ib": a scan of one must never see the other's rows.
const NAMES: [&str; 2] = ["i", "ib"];
const IDS: [&str; 3] = ["x", "y", "z"];

/// What an operation answered; refusals compare by whether they happened.
#[derive(Debug, PartialEq)]
enum Answer {
    Done,
    Refused,
    Doc(Option<StoredDoc>),
    Docs(Vec<StoredDoc>),
    Rows(Vec<(Vec<u8>, StoredDoc)>),
    Holder(Option<String>),
}

fn answer<T>(result: Result<T, StorageError>, into: impl FnOnce(T) -> Answer) -> Answer {
    result.map_or(Answer::Refused, into)
}

#[derive(Clone, Debug)]
enum Op {
    Insert { table: usize, id: usize, created: u8, body: u8 },
    Update { table: usize, id: usize, body: u8 },
    Delete { table: usize, id: usize },
    Get { table: usize, id: usize },
    All { table: usize },
    PutRow { table: usize, name: usize, key: Vec<u8>, id: usize },
    DeleteRow { table: usize, name: usize, key: Vec<u8> },
    ClearIndex { table: usize, name: usize },
    Scan { table: usize, name: usize, low: (u8, Vec<u8>), high: (u8, Vec<u8>), descending: bool, limit: usize },
    PutUnique { table: usize, name: usize, key: Vec<u8>, id: usize },
    DeleteUnique { table: usize, name: usize, key: Vec<u8> },
    ClearUnique { table: usize, name: usize },
    Holder { table: usize, name: usize, key: Vec<u8> },
    PutWords { table: usize, name: usize, id: usize },
    DeleteWords { table: usize, name: usize, id: usize },
}

fn bound(kind: u8, key: &[u8]) -> Bound<&[u8]> {
    match kind % 3 {
        0 => Bound::Unbounded,
        1 => Bound::Included(key),
        _ => Bound::Excluded(key),
    }
}

fn apply(store: &dyn DocStore, op: &Op) -> Answer {
    let doc = |id: usize, created: u8, body: u8| StoredDoc {
        id: IDS[id].to_string(),
        creation_time: f64::from(created),
        body: format!("{{\"n\":{body}}}"),
    };
    match op {
        Op::Insert { table, id, created, body } => {
            answer(store.insert_document(TABLES[*table], &doc(*id, *created, *body)), |_| Answer::Done)
        }
        Op::Update { table, id, body } => {
            answer(store.update_body(TABLES[*table], IDS[*id], &format!("{{\"n\":{body}}}")), |_| Answer::Done)
        }
        Op::Delete { table, id } => answer(store.delete_document(TABLES[*table], IDS[*id]), |_| Answer::Done),
        Op::Get { table, id } => answer(store.document(TABLES[*table], IDS[*id]), Answer::Doc),
        Op::All { table } => answer(store.documents(TABLES[*table]), Answer::Docs),
        Op::PutRow { table, name, key, id } => {
            answer(store.put_index_row(TABLES[*table], NAMES[*name], key, IDS[*id]), |_| Answer::Done)
        }
        Op::DeleteRow { table, name, key } => {
            answer(store.delete_index_row(TABLES[*table], NAMES[*name], key), |_| Answer::Done)
        }
        Op::ClearIndex { table, name } => answer(store.clear_index(TABLES[*table], NAMES[*name]), |_| Answer::Done),
        Op::Scan { table, name, low, high, descending, limit } => {
            let scan = IndexScan {
                table: TABLES[*table],
                index: NAMES[*name],
                low: bound(low.0, &low.1),
                high: bound(high.0, &high.1),
                descending: *descending,
                limit: *limit,
            };
            answer(store.scan(&scan), Answer::Rows)
        }
        Op::PutUnique { table, name, key, id } => {
            answer(store.put_unique(TABLES[*table], NAMES[*name], key, IDS[*id]), |_| Answer::Done)
        }
        Op::DeleteUnique { table, name, key } => {
            answer(store.delete_unique(TABLES[*table], NAMES[*name], key), |_| Answer::Done)
        }
        Op::ClearUnique { table, name } => answer(store.clear_unique(TABLES[*table], NAMES[*name]), |_| Answer::Done),
        Op::Holder { table, name, key } => {
            answer(store.unique_holder(TABLES[*table], NAMES[*name], key), Answer::Holder)
        }
        Op::PutWords { table, name, id } => {
            answer(store.put_search_entry(TABLES[*table], NAMES[*name], IDS[*id], "ayse yilmaz"), |_| Answer::Done)
        }
        Op::DeleteWords { table, name, id } => {
            answer(store.delete_search_entry(TABLES[*table], NAMES[*name], IDS[*id]), |_| Answer::Done)
        }
    }
}

/// Everything a store holds that both can show: every table's documents, every index's
/// rows, every unique claim over the keys the operations use.
fn state(store: &dyn DocStore) -> Vec<Answer> {
    let mut all = Vec::new();
    for table in 0..TABLES.len() {
        all.push(apply(store, &Op::All { table }));
        for name in 0..NAMES.len() {
            let whole = (0, Vec::new());
            all.push(apply(
                store,
                &Op::Scan { table, name, low: whole.clone(), high: whole, descending: false, limit: 1000 },
            ));
            for key in keys() {
                all.push(apply(store, &Op::Holder { table, name, key }));
            }
        }
    }
    all
}

/// Short keys over bytes that sort at the edges and in between: prefixes of one another
/// are where BLOB and `Vec<u8>` order could differ.
fn keys() -> Vec<Vec<u8>> {
    let mut keys = vec![Vec::new()];
    for a in [0u8, 1, 0x7F, 0xFF] {
        keys.push(vec![a]);
        for b in [0u8, 0xFF] {
            keys.push(vec![a, b]);
        }
    }
    keys
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(keys())
}

fn op() -> impl Strategy<Value = Op> {
    let (t, n, i) = (0..TABLES.len(), 0..NAMES.len(), 0..IDS.len());
    prop_oneof![
        3 => (t.clone(), i.clone(), 0u8..4, any::<u8>()).prop_map(|(table, id, created, body)| Op::Insert { table, id, created, body }),
        1 => (t.clone(), i.clone(), any::<u8>()).prop_map(|(table, id, body)| Op::Update { table, id, body }),
        1 => (t.clone(), i.clone()).prop_map(|(table, id)| Op::Delete { table, id }),
        1 => (t.clone(), i.clone()).prop_map(|(table, id)| Op::Get { table, id }),
        1 => t.clone().prop_map(|table| Op::All { table }),
        4 => (t.clone(), n.clone(), key(), i.clone()).prop_map(|(table, name, key, id)| Op::PutRow { table, name, key, id }),
        1 => (t.clone(), n.clone(), key()).prop_map(|(table, name, key)| Op::DeleteRow { table, name, key }),
        1 => (t.clone(), n.clone()).prop_map(|(table, name)| Op::ClearIndex { table, name }),
        4 => (t.clone(), n.clone(), (any::<u8>(), key()), (any::<u8>(), key()), any::<bool>(), 0usize..5)
            .prop_map(|(table, name, low, high, descending, limit)| Op::Scan { table, name, low, high, descending, limit }),
        2 => (t.clone(), n.clone(), key(), i.clone()).prop_map(|(table, name, key, id)| Op::PutUnique { table, name, key, id }),
        1 => (t.clone(), n.clone(), key()).prop_map(|(table, name, key)| Op::DeleteUnique { table, name, key }),
        1 => (t.clone(), n.clone()).prop_map(|(table, name)| Op::ClearUnique { table, name }),
        1 => (t.clone(), n.clone(), key()).prop_map(|(table, name, key)| Op::Holder { table, name, key }),
        1 => (t.clone(), n.clone(), i.clone()).prop_map(|(table, name, id)| Op::PutWords { table, name, id }),
        1 => (t, n, i).prop_map(|(table, name, id)| Op::DeleteWords { table, name, id }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence of operations answers alike on both stores, step by step, and leaves
    /// them holding the same.
    #[test]
    fn sqlite_and_memory_answer_every_operation_alike(ops in prop::collection::vec(op(), 1..60)) {
        let (sql, memory) = (sqlite(), MemoryStore::new());
        for (step, op) in ops.iter().enumerate() {
            prop_assert_eq!(apply(&sql, op), apply(&memory, op), "step {}: {:?}", step, op);
        }
        prop_assert_eq!(state(&sql), state(&memory));
    }

    /// A failed atomic block leaves both stores as they were; a successful one keeps all.
    #[test]
    fn an_atomic_block_keeps_all_of_its_writes_or_none(
        before in prop::collection::vec(op(), 0..20),
        inside in prop::collection::vec(op(), 1..20),
        fail in any::<bool>(),
    ) {
        let (sql, memory) = (sqlite(), MemoryStore::new());
        for op in &before {
            apply(&sql, op);
            apply(&memory, op);
        }
        let untouched = state(&sql);
        prop_assert_eq!(&untouched, &state(&memory));
        let block = |store: &dyn DocStore| -> Result<(), StorageError> {
            for op in &inside {
                apply(store, op);
            }
            if fail { Err(StorageError::Driver("the block fails".into())) } else { Ok(()) }
        };
        let _ = sql.atomically(|| block(&sql));
        let _ = memory.atomically(|| block(&memory));
        prop_assert_eq!(state(&sql), state(&memory));
        if fail {
            prop_assert_eq!(state(&memory), untouched);
        } else {
            // Kept: as if the same operations had run without a block.
            let plain = MemoryStore::new();
            for op in before.iter().chain(&inside) {
                apply(&plain, op);
            }
            prop_assert_eq!(state(&memory), state(&plain));
        }
    }
}

/// The edges of a scan, one by one: bounds on both sides, prefixes, an empty and an
/// inverted range, both orders, the limit.
#[test]
fn scans_honour_every_bound_and_order() {
    for store in [&sqlite() as &dyn DocStore, &MemoryStore::new()] {
        for (n, key) in [vec![1u8], vec![1, 0], vec![2], vec![2, 0xFF], vec![3]].iter().enumerate() {
            let id = format!("d{n}");
            store.insert_document("t", &StoredDoc { id: id.clone(), creation_time: 1.0, body: "{}".into() }).unwrap();
            store.put_index_row("t", "i", key, &id).unwrap();
            store.put_index_row("t", "ib", key, &id).unwrap();
        }
        let ids = |low, high, descending, limit| -> Vec<String> {
            let scan = IndexScan { table: "t", index: "i", low, high, descending, limit };
            store.scan(&scan).unwrap().into_iter().map(|(_, d)| d.id).collect()
        };
        let (one, two): (&[u8], &[u8]) = (&[1], &[2]);
        assert_eq!(ids(Bound::Unbounded, Bound::Unbounded, false, 10), ["d0", "d1", "d2", "d3", "d4"]);
        assert_eq!(ids(Bound::Included(one), Bound::Excluded(two), false, 10), ["d0", "d1"]);
        assert_eq!(ids(Bound::Excluded(one), Bound::Included(two), false, 10), ["d1", "d2"]);
        assert_eq!(ids(Bound::Excluded(one), Bound::Unbounded, true, 2), ["d4", "d3"]);
        assert_eq!(ids(Bound::Included(two), Bound::Excluded(two), false, 10), Vec::<String>::new());
        assert_eq!(ids(Bound::Excluded(two), Bound::Excluded(one), true, 10), Vec::<String>::new());
        assert_eq!(ids(Bound::Unbounded, Bound::Unbounded, false, 0), Vec::<String>::new());
        store.delete_document("t", "d2").unwrap();
        assert_eq!(
            ids(Bound::Unbounded, Bound::Unbounded, false, 10),
            ["d0", "d1", "d3", "d4"],
            "rows of a gone document"
        );
    }
}

/// SQLite searches its words: every term, the last as a prefix, and entries go with their
/// document's removal. The in-memory store says it cannot search.
#[test]
fn sqlite_searches_words_and_memory_says_it_cannot() {
    let sql = sqlite();
    for (id, words) in [("p", "ayse yilmaz"), ("q", "ayse demir"), ("r", "mehmet yilmaz")] {
        sql.insert_document("people", &StoredDoc { id: id.into(), creation_time: 1.0, body: "{}".into() }).unwrap();
        sql.put_search_entry("people", "by_name", id, words).unwrap();
    }
    let found = |terms: &[&str]| -> Vec<String> {
        let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
        let mut ids: Vec<String> =
            sql.search("people", "by_name", &terms, 10).unwrap().into_iter().map(|d| d.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(found(&["ayse", "yil"]), ["p"]);
    assert_eq!(found(&["yilmaz"]), ["p", "r"]);
    assert_eq!(found(&["\"", "*"]), Vec::<String>::new(), "typed text is never FTS5 syntax");
    assert_eq!(found(&[]), Vec::<String>::new());
    sql.delete_search_entry("people", "by_name", "p").unwrap();
    assert_eq!(found(&["ayse"]), ["q"]);
    sql.clear_search_index("people", "by_name").unwrap();
    assert_eq!(found(&["ayse"]), Vec::<String>::new());
    let memory = MemoryStore::new();
    assert!(matches!(memory.search("people", "by_name", &["a".into()], 10), Err(StorageError::Unsupported(_))));
}
