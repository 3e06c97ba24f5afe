//! Engine benchmarks. Each target is measured next to a baseline from the same run, so the
//! ratio means something on a noisy shared machine. `bash scripts/bench.sh` runs them and
//! prints the ratio table recorded in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::engine::read_set::{KeyRange, ReadSet, SubscriptionIndex, WriteSet, WrittenKey};
use roomsync_shared::engine::{store, Order, Tx};
use roomsync_shared::model::index_key::encode_key;
use roomsync_shared::model::value::Value;
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::storage::{Sql, SqlValue};
use roomsync_shared::{ConnId, Room, RoomInput};
use serde_json::json;
use std::hint::black_box;

/// A subscription index with `n` subscriptions on distinct assignees, 10 of them on the one
/// the benchmark writes to; and the write set of one update there.
fn index_with(n: usize) -> (SubscriptionIndex<usize>, WriteSet) {
    let mut index = SubscriptionIndex::default();
    let prefix_of = |i: usize| encode_key(&[Some(&Value::String(format!("user-{i}")))]);
    for sub in 0..n {
        let owner = if sub < 10 { 0 } else { sub };
        let range = KeyRange::prefix("tasks", "by_assigned_to", prefix_of(owner));
        index.insert(sub, &ReadSet { ranges: vec![range] });
    }
    let mut key = prefix_of(0);
    let mut ends = vec![key.len()];
    key.extend(encode_key(&[Some(&Value::Number(1.7e12)), Some(&Value::String("id".into()))]));
    ends.push(key.len() - 4);
    ends.push(key.len());
    let writes =
        WriteSet { keys: vec![WrittenKey { table: "tasks".into(), index: "by_assigned_to".into(), key, ends }] };
    (index, writes)
}

fn invalidation(c: &mut Criterion) {
    let mut group = c.benchmark_group("invalidation");
    for n in [1_000, 100_000] {
        let (index, writes) = index_with(n);
        assert_eq!(index.affected(&writes).len(), 10);
        group.bench_function(format!("{n}_subscriptions_10_affected"), |b| {
            b.iter(|| black_box(index.affected(&writes)))
        });
    }
    group.finish();
}

fn page_rerun(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("roomsync-bench-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let rows = 100_000;
    {
        let room = roomsync_ngo_app::open_room(NativeSql::open(&path).unwrap()).unwrap();
        let schema = roomsync_ngo_app::schema();
        let mut env = TestEnvironment::new(1.7e12);
        let sql = room.storage();
        sql.atomically(|| {
            for i in 0..rows {
                env.now_ms += 1.0;
                let city = ["Ankara", "İzmir", "İstanbul"][i % 3];
                let status = ["AKTIF", "PASIF", "TASLAK", "AKTIF"][i % 4];
                let doc = json!({
                    "name": format!("Kişi {i}"), "tc_no": format!("{:011}", i), "phone": "0555", "address": "a",
                    "city": city, "district": "d", "neighborhood": "n", "family_size": 4, "status": status,
                });
                let mut tx = Tx::writer(sql, schema, &mut env);
                tx.insert("beneficiaries", Value::from_json(&doc, "d").unwrap()).unwrap();
            }
            Ok::<(), roomsync_shared::engine::FnError>(())
        })
        .unwrap();
    }
    let sql = NativeSql::open(&path).unwrap();
    let schema = roomsync_ngo_app::schema();
    let mut group = c.benchmark_group("page_of_50_over_100k_rows");
    group.bench_function("baseline_raw_sql_50_rows", |b| {
        b.iter(|| {
            let rows = sql
                .exec(
                    "SELECT d.body FROM _idx i JOIN _docs d ON d.tbl = i.tbl AND d.id = i.id
                     WHERE i.tbl = 'beneficiaries' AND i.idx = 'by_status' AND i.key >= ? ORDER BY i.key LIMIT 50",
                    &[SqlValue::Blob(encode_key(&[Some(&Value::String("AKTIF".into()))]))],
                )
                .unwrap();
            black_box(rows)
        })
    });
    group.bench_function("engine_indexed_page_with_read_set", |b| {
        b.iter(|| {
            let mut tx = Tx::reader(&sql, schema, None);
            let docs =
                tx.query("beneficiaries").with_index("by_status").eq("AKTIF").order(Order::Desc).take(50).unwrap();
            black_box((docs, tx.finish()))
        })
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

type BenchRoom = Room<NativeSql>;

fn mutation_frame(request_id: u32, path: &str, args: serde_json::Value) -> String {
    json!({"type": "mutation", "requestId": request_id, "udfPath": path, "args": args}).to_string()
}

/// Runs a mutation that must succeed; returns its result.
fn commit_ok(room: &mut BenchRoom, env: &mut TestEnvironment, conn: &ConnId, text: &str) -> serde_json::Value {
    let out = room.handle(RoomInput::Frame { conn, text }, env);
    match &out.last().expect("a response").message {
        roomsync_shared::ServerMessage::MutationResponse {
            outcome: roomsync_shared::protocol::MutationOutcome::Success { result, .. },
            ..
        } => result.clone(),
        other => panic!("{other:?}"),
    }
}

/// A room without rate limits, its clock, a writer connection and a user id.
fn room_with_user() -> (BenchRoom, TestEnvironment, ConnId, serde_json::Value) {
    let mut room = roomsync_ngo_app::open_room(NativeSql::in_memory().unwrap())
        .unwrap()
        .with_limits(roomsync_shared::room::RoomLimits::unlimited());
    let mut env = TestEnvironment::new(1.7e12);
    let writer = ConnId::from_stored("writer".into());
    let ensure = mutation_frame(1, "users:ensure", json!({"name": "u", "email": "u@x", "role": "admin"}));
    let user = commit_ok(&mut room, &mut env, &writer, &ensure);
    (room, env, writer, user)
}

/// One commit that changes the result every subscriber holds (a task's title in the list
/// everyone watches): the cost of fanning out to 1,000 panels vs to one.
fn fan_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan_out");
    for subscribers in [1usize, 1000] {
        group.bench_function(format!("update_seen_by_{subscribers}_subscribers"), |b| {
            let (mut room, mut env, writer, user) = room_with_user();
            let create = mutation_frame(2, "tasks:create", json!({"title": "t", "created_by": user}));
            let task = commit_ok(&mut room, &mut env, &writer, &create);
            for s in 0..subscribers {
                let conn = ConnId::from_stored(format!("s{s}"));
                let sub =
                    json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list", "args": {"status": "pending"}});
                room.handle(RoomInput::Frame { conn: &conn, text: &sub.to_string() }, &mut env);
            }
            let mut n = 10u32;
            b.iter_batched(
                || {
                    n += 1;
                    mutation_frame(n, "tasks:update", json!({"id": task, "title": format!("title {n}")}))
                },
                |text| {
                    let out = room.handle(RoomInput::Frame { conn: &writer, text: &text }, &mut env);
                    // The frames as the worker sends them.
                    black_box(out.iter().map(|o| o.message.to_json().len()).sum::<usize>())
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit");
    group.bench_function("baseline_raw_insert", |b| {
        let sql = NativeSql::in_memory().unwrap();
        sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)", &[]).unwrap();
        b.iter(|| sql.exec("INSERT INTO t (body) VALUES (?)", &[SqlValue::Text("{\"title\":\"x\"}".into())]).unwrap())
    });
    for subscribers in [0usize, 100] {
        group.bench_function(format!("tasks_create_via_room_{subscribers}_subscribers"), |b| {
            let (mut room, mut env, writer, user) = room_with_user();
            for s in 0..subscribers {
                let conn = ConnId::from_stored(format!("s{s}"));
                // Each watches its own (empty) status filter, so commits re-run none of them…
                let sub = json!({"type": "subscribe", "queryId": 1, "udfPath": "tasks:list", "args": {"status": "cancelled"}});
                room.handle(RoomInput::Frame { conn: &conn, text: &sub.to_string() }, &mut env);
            }
            let mut n = 10u32;
            b.iter_batched(
                || {
                    n += 1;
                    mutation_frame(n, "tasks:create", json!({"title": "x", "created_by": user}))
                },
                |text| black_box(room.handle(RoomInput::Frame { conn: &writer, text: &text }, &mut env)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// An automatic optimistic update over a 1,000-row cached list (load the documents,
/// reproduce the list, run the mutation, re-run the list) vs the room committing the same
/// mutation.
fn optimistic(c: &mut Criterion) {
    use roomsync_shared::optimistic::{predict, CachedQuery};
    let mut group = c.benchmark_group("optimistic");
    let (mut room, mut env, writer, _) = room_with_user();
    for i in 0..999 {
        let frame = mutation_frame(
            10 + i,
            "users:ensure",
            json!({"name": format!("K {i}"), "email": format!("k{i}@x"), "role": "member"}),
        );
        commit_ok(&mut room, &mut env, &writer, &frame);
    }
    let value = room.query_once("users:list", &json!({})).unwrap();
    let cached = vec![CachedQuery { udf_path: "users:list".into(), args: json!({}), value }];
    let app = roomsync_ngo_app::app();
    let admin = roomsync_shared::auth::Identity::trusted(app.roles());
    let mut n = 0u32;
    group.bench_function("predict_users_ensure_over_1000_cached_rows", |b| {
        b.iter(|| {
            n += 1;
            let args = json!({"name": "New", "email": format!("new{n}@x"), "role": "member"});
            black_box(predict(&app, Some(&admin), &cached, "users:ensure", &args, &mut env).unwrap())
        })
    });
    group.bench_function("users_ensure_via_room_1000_users", |b| {
        b.iter_batched(
            || {
                n += 1;
                mutation_frame(
                    5000 + n,
                    "users:ensure",
                    json!({"name": "New", "email": format!("room{n}@x"), "role": "member"}),
                )
            },
            |text| black_box(room.handle(RoomInput::Frame { conn: &writer, text: &text }, &mut env)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn wire_size(c: &mut Criterion) {
    // Not a timing: the bytes a one-row change costs today (whole result re-sent).
    let docs: Vec<serde_json::Value> = (0..50)
        .map(|i| {
            json!({"_id": format!("{:030}", i), "_creationTime": 1.7e12 + i as f64, "name": format!("Kişi {i}"),
                   "tc_no": format!("{:011}", i), "city": "Ankara", "status": "AKTIF", "family_size": 4})
        })
        .collect();
    let full = serde_json::to_string(&docs).unwrap().len();
    let mut changed = docs.clone();
    changed[7]["status"] = json!("PASIF");
    let diff =
        roomsync_shared::protocol::diff::ValueDiff::compute(&json!(docs), &json!(changed)).to_json().to_string().len();
    println!("wire bytes for a one-row change in a 50-row page: full result {full} B, diff {diff} B");
    let _ = store::BY_CREATION_TIME;
    c.bench_function("noop", |b| b.iter(|| black_box(full)));
}

criterion_group!(benches, invalidation, page_rerun, commits, fan_out, optimistic, wire_size);
criterion_main!(benches);
