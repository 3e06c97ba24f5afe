use super::*;
use crate::app::{registry, schema};
use crate::engine::environment::TestEnvironment;
use crate::storage::sqlite::NativeSql;
use crate::{ConnId, Room, RoomInput};
use serde_json::json;

/// A room with a user and five tasks, and a client-side view of it.
struct World {
    room: Room<NativeSql>,
    env: TestEnvironment,
    conn: ConnId,
    user: String,
    request: u32,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            room: crate::app::open_room(NativeSql::in_memory().unwrap()).unwrap(),
            env: TestEnvironment::new(1_700_000_000_000.0),
            conn: ConnId::from_stored("c1".into()),
            user: String::new(),
            request: 0,
        };
        world.room.handle(RoomInput::Open { conn: &world.conn }, &mut world.env);
        world.frame(json!({"type": "connect", "sessionId": "optimistic-test-session-0001"}));
        world.user = world.mutate("users:ensure", json!({"name": "Ayşe", "email": "a@x", "role": "admin"}));
        for (title, status) in
            [("a", "pending"), ("b", "completed"), ("c", "pending"), ("d", "pending"), ("e", "cancelled")]
        {
            world.mutate("tasks:create", json!({"title": title, "status": status, "created_by": world.user}));
        }
        world
    }

    fn frame(&mut self, frame: Json) -> Vec<crate::Outgoing> {
        self.env.now_ms += 1000.0;
        self.room.handle(RoomInput::Frame { conn: &self.conn, text: &frame.to_string() }, &mut self.env)
    }

    /// Runs a mutation in the room; returns its result as a string (an id) or "".
    fn mutate(&mut self, udf_path: &str, args: Json) -> String {
        self.request += 1;
        let out = self.frame(json!({"type": "mutation", "requestId": self.request, "udfPath": udf_path, "args": args}));
        match out.last().map(|o| &o.message) {
            Some(crate::ServerMessage::MutationResponse {
                outcome: crate::protocol::MutationOutcome::Success { result, .. },
                ..
            }) => result.as_str().unwrap_or_default().to_string(),
            other => panic!("{udf_path} failed: {other:?}"),
        }
    }

    /// The results a client holds, as it holds them (through JSON text, as a browser would).
    fn cached(&self, queries: &[(&str, Json)]) -> Vec<CachedQuery> {
        queries
            .iter()
            .map(|(path, args)| {
                let value = self.room.query_once(path, args).unwrap();
                let value = serde_json::from_str(&value.to_string()).unwrap();
                CachedQuery { udf_path: path.to_string(), args: args.clone(), value }
            })
            .collect()
    }

    /// A query's result as a live subscription holds it: pinned to `end`, the end of a cursor
    /// page's first run (the room's journal).
    fn cached_live(&self, (path, args): &(&str, Json), end: &str) -> Vec<CachedQuery> {
        let (def, parsed) = registry()
            .resolve(path, FunctionKind::Query, args, Some(&Identity::trusted(&crate::app::roles::ROLES)))
            .unwrap();
        let mut tx = Tx::reader(self.room.sql(), schema(), Some(end.to_string())).for_caller(Caller::System);
        let value = serde_json::from_str(&(def.handler)(&mut tx, &parsed).unwrap().to_json().to_string()).unwrap();
        vec![CachedQuery { udf_path: path.to_string(), args: args.clone(), value }]
    }

    /// Predicts as an admin, a moment after the room's last commit.
    fn predict(
        &self,
        cached: &[CachedQuery],
        udf_path: &str,
        args: &Json,
    ) -> Result<Vec<Prediction>, crate::engine::FnError> {
        self.predict_as(Some(&Identity::trusted(&crate::app::roles::ROLES)), cached, udf_path, args)
    }

    fn predict_as(
        &self,
        identity: Option<&Identity>,
        cached: &[CachedQuery],
        udf_path: &str,
        args: &Json,
    ) -> Result<Vec<Prediction>, crate::engine::FnError> {
        let mut env = TestEnvironment::new(self.env.now_ms + 500.0);
        predict(&crate::app::app(), identity, cached, udf_path, args, &mut env)
    }

    fn task_id(&self, title: &str) -> String {
        let list = self.room.query_once("tasks:list", &json!({})).unwrap();
        let task = list.as_array().unwrap().iter().find(|t| t["title"] == title).unwrap();
        task["_id"].as_str().unwrap().to_string()
    }
}

fn titles(value: &Json) -> Vec<&str> {
    let rows = value.get("page").unwrap_or(value);
    rows.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect()
}

fn page(num_items: u32) -> Json {
    json!({"paginationOpts": {"numItems": num_items, "cursor": null}})
}

#[test]
fn an_insert_lands_at_its_place_in_every_result_and_a_live_page_grows_as_the_rooms_does() {
    let mut world = World::new();
    let queries = [("tasks:list", json!({})), ("tasks:list", json!({"status": "pending"})), ("tasks:page", page(3))];
    let cached = world.cached(&queries);
    assert_eq!(titles(&cached[2].value), ["e", "d", "c"]);
    let args = json!({"title": "new", "created_by": world.user});
    let predicted = world.predict(&cached, "tasks:create", &args).unwrap();
    assert_eq!(predicted.iter().map(|p| p.index).collect::<Vec<_>>(), [0, 1, 2], "all three change");
    world.mutate("tasks:create", args);
    let actual = world.cached(&queries);
    for p in &predicted[..2] {
        assert_eq!(titles(&p.value), titles(&actual[p.index].value), "{:?}", queries[p.index]);
    }
    assert_eq!(titles(&predicted[2].value), ["new", "e", "d", "c"], "a live page keeps its end, as the room's");
    // The page has grown since its first run: still reproduced (pinned to its end), and the
    // next insert lands in it again.
    let end = cached[2].value["continueCursor"].as_str().unwrap().to_string();
    let grown = world.cached_live(&queries[2], &end);
    assert_eq!(titles(&grown[0].value), ["new", "e", "d", "c"]);
    let args = json!({"title": "newer", "created_by": world.user});
    let predicted = world.predict(&grown, "tasks:create", &args).unwrap();
    world.mutate("tasks:create", args);
    assert_eq!(titles(&predicted[0].value), ["newer", "new", "e", "d", "c"]);
    assert_eq!(titles(&predicted[0].value), titles(&world.cached_live(&queries[2], &end)[0].value));
}

#[test]
fn patches_and_deletes_predict_exactly_what_the_room_will_show() {
    let mut world = World::new();
    let queries = [("tasks:list", json!({})), ("tasks:list", json!({"status": "pending"})), ("tasks:page", page(2))];
    for (udf_path, args) in [
        ("tasks:update", json!({"id": world.task_id("d"), "status": "completed"})),
        ("tasks:update", json!({"id": world.task_id("b"), "title": "b, renamed"})),
        ("tasks:remove", json!({"id": world.task_id("e")})),
    ] {
        let cached = world.cached(&queries);
        let predicted = world.predict(&cached, udf_path, &args).unwrap();
        world.mutate(udf_path, args.clone());
        let mut actual = world.cached(&queries);
        // The page as its live subscription shows it: pinned to the end of its first run.
        let end = cached[2].value["continueCursor"].as_str().unwrap().to_string();
        actual[2] = world.cached_live(&queries[2], &end).remove(0);
        for (i, query) in queries.iter().enumerate() {
            let shown = predicted.iter().find(|p| p.index == i).map_or(&cached[i].value, |p| &p.value);
            assert!(same(shown, &actual[i].value), "{udf_path} {args}: {query:?}\n{shown}\n{}", actual[i].value);
        }
    }
}

#[test]
fn results_the_client_cannot_reproduce_are_left_alone() {
    let world = World::new();
    let mut cached = world.cached(&[("tasks:list", json!({})), ("tasks:list", json!({"status": "pending"}))]);
    // A result that does not follow from the documents held (here: one row hidden) could be
    // a count, a total or an offset page: the prediction must not touch it.
    cached[1].value.as_array_mut().unwrap().remove(0);
    let args = json!({"title": "new", "status": "pending", "created_by": world.user});
    let predicted = world.predict(&cached, "tasks:create", &args).unwrap();
    assert_eq!(predicted.iter().map(|p| p.index).collect::<Vec<_>>(), [0]);
}

#[test]
fn a_mutation_that_fails_locally_predicts_nothing_and_says_why() {
    let world = World::new();
    let cached = world.cached(&[("tasks:list", json!({}))]);
    let empty = json!({"title": "  ", "created_by": world.user});
    assert!(world.predict(&cached, "tasks:create", &empty).unwrap_err().to_string().contains("non-empty"));
    let missing = json!({"id": world.task_id("a").replace('a', "b"), "status": "completed"});
    assert!(world.predict(&cached, "tasks:update", &missing).is_err(), "a task the client does not hold");
    assert!(world.predict(&cached, "tasks:crate", &json!({})).unwrap_err().to_string().contains("tasks:create"));
    let viewer = Identity { subject: "v".into(), role: crate::app::roles::VIEWER, name: None, expires_at_ms: None };
    let refused =
        world.predict_as(Some(&viewer), &cached, "tasks:create", &json!({"title": "x", "created_by": world.user}));
    assert!(refused.unwrap_err().to_string().contains("viewer"), "the caller's role applies");
}

#[test]
fn the_in_memory_store_answers_index_scans_like_sqlite() {
    let world = World::new();
    let queries = [
        ("tasks:list", json!({})),
        ("tasks:list", json!({"status": "pending"})),
        ("tasks:page", page(2)),
        ("tasks:page", json!({"paginationOpts": {"numItems": 2, "cursor": null}, "status": "pending"})),
    ];
    let cached = world.cached(&queries);
    let store = MemoryStore::new();
    let tables = tables_by_code(schema());
    for query in &cached {
        load_documents(&store, &tables, &query.value);
    }
    assert_eq!(store.document_count(), 5);
    for query in &cached {
        let (def, args) = registry()
            .resolve(
                &query.udf_path,
                FunctionKind::Query,
                &query.args,
                Some(&Identity::trusted(&crate::app::roles::ROLES)),
            )
            .unwrap();
        let mut tx = Tx::reader(&store, schema(), None).for_caller(Caller::System);
        let local = (def.handler)(&mut tx, &args).unwrap().to_json();
        assert!(same(&local, &query.value), "{} {}:\n{local}\n{}", query.udf_path, query.args, query.value);
    }
}

/// What the room shows for a query after the mutation, as the client's live subscription
/// (started at `cached`) would see it.
fn live_after(world: &World, query: &(&str, Json), cached: &CachedQuery) -> Json {
    match (cached.value.get("isDone").and_then(Json::as_bool), cached.value.get("continueCursor")) {
        (Some(false), Some(Json::String(end))) => world.cached_live(query, end).remove(0).value,
        _ => world.cached(std::slice::from_ref(query)).remove(0).value,
    }
}

/// Rows as (title, status): a predicted insert has its own temporary id and time.
fn rows(value: &Json) -> Vec<(String, String)> {
    let list = value.get("page").unwrap_or(value);
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| (t["title"].as_str().unwrap().to_string(), t["status"].as_str().unwrap().to_string()))
        .collect()
}

mod property {
    use super::*;
    use proptest::prelude::*;

    const STATUSES: [&str; 3] = ["pending", "completed", "cancelled"];

    #[derive(Clone, Debug)]
    enum Write {
        Create { status: usize },
        Update { task: usize, status: usize },
        Rename { task: usize },
        Remove { task: usize },
    }

    fn write() -> impl Strategy<Value = Write> {
        prop_oneof![
            (0..3usize).prop_map(|status| Write::Create { status }),
            (0..20usize, 0..3usize).prop_map(|(task, status)| Write::Update { task, status }),
            (0..20usize).prop_map(|task| Write::Rename { task }),
            (0..20usize).prop_map(|task| Write::Remove { task }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Every prediction is what the room then shows, for every query it touches, and
        /// queries it leaves alone do not change in the room either.
        #[test]
        fn predictions_match_what_the_room_then_shows(writes in prop::collection::vec(write(), 1..8), size in 1u32..5) {
            let mut world = World::new();
            let queries = [
                ("tasks:list", json!({})),
                ("tasks:list", json!({"status": "pending"})),
                ("tasks:list", json!({"status": "completed"})),
                ("tasks:page", page(size)),
                ("tasks:page", json!({"paginationOpts": {"numItems": size, "cursor": null}, "status": "pending"})),
            ];
            for (n, write) in writes.into_iter().enumerate() {
                let cached = world.cached(&queries);
                let all = rows(&cached[0].value);
                let id = |task: usize| (!all.is_empty()).then(|| world.task_id(&all[task % all.len()].0));
                let (udf_path, args) = match write {
                    Write::Create { status } => (
                        "tasks:create",
                        json!({"title": format!("t{n}"), "status": STATUSES[status], "created_by": world.user}),
                    ),
                    Write::Update { task, status } => match id(task) {
                        Some(id) => ("tasks:update", json!({"id": id, "status": STATUSES[status]})),
                        None => continue,
                    },
                    Write::Rename { task } => match id(task) {
                        Some(id) => ("tasks:update", json!({"id": id, "title": format!("r{n}")})),
                        None => continue,
                    },
                    Write::Remove { task } => match id(task) {
                        Some(id) => ("tasks:remove", json!({"id": id})),
                        None => continue,
                    },
                };
                let predicted = world.predict(&cached, udf_path, &args).unwrap();
                world.mutate(udf_path, args.clone());
                for (i, query) in queries.iter().enumerate() {
                    let shown = predicted.iter().find(|p| p.index == i).map_or(&cached[i].value, |p| &p.value);
                    let actual = live_after(&world, query, &cached[i]);
                    prop_assert_eq!(rows(shown), rows(&actual), "{} {} after {} {}", query.0, query.1, udf_path, args);
                }
            }
        }
    }
}
