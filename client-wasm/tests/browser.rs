//! The browser driver in headless Chromium, against the real worker under `wrangler dev`.
//!
//! Run through `scripts/test.sh`, which starts the worker with `with-wrangler` and passes
//! its address at compile time as `ROOMSYNC_TEST_URL`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    /// The client as an application sees it: what `new SyncClient(url, options)` returns
    /// (the package's entry calls `roomsync_client::connect`, as `SyncClient::new` does here).
    type SyncClient;
    #[wasm_bindgen(method, getter, js_name = connectionState)]
    fn connection_state(this: &SyncClient) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = reconnectAttempts)]
    fn reconnect_attempts(this: &SyncClient) -> u32;
    #[wasm_bindgen(method, getter, js_name = pendingMutations)]
    fn pending_mutations(this: &SyncClient) -> u32;
    #[wasm_bindgen(method, getter, js_name = hasPendingWrites)]
    fn has_pending_writes(this: &SyncClient) -> bool;
    #[wasm_bindgen(method, getter, js_name = nextRetryAt)]
    fn next_retry_at(this: &SyncClient) -> Option<f64>;
    #[wasm_bindgen(method)]
    fn debug(this: &SyncClient) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = onConnectionStateChange)]
    fn on_connection_state_change(this: &SyncClient, callback: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn subscribe(
        this: &SyncClient,
        udf_path: &str,
        args: JsValue,
        on_update: JsValue,
        on_error: Option<JsValue>,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn mutation(this: &SyncClient, udf_path: &str, args: JsValue, options: Option<JsValue>)
        -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setAuth)]
    fn set_auth(this: &SyncClient, fetch_token: JsValue, on_change: Option<JsValue>) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter, js_name = failedMutations)]
    fn failed_mutations(this: &SyncClient) -> Array;
    #[wasm_bindgen(method, js_name = discardFailedMutation)]
    fn discard_failed_mutation(this: &SyncClient, request_id: u32) -> bool;
    #[wasm_bindgen(method)]
    fn reconnect(this: &SyncClient);
    #[wasm_bindgen(method)]
    fn close(this: &SyncClient);
}

impl SyncClient {
    fn new(url: &str, options: Option<JsValue>) -> Result<SyncClient, JsValue> {
        roomsync_client::connect(url, options.unwrap_or(JsValue::UNDEFINED)).map(JsCast::unchecked_into)
    }

    fn try_new(url: Option<String>, options: Option<JsValue>) -> Option<SyncClient> {
        let client = roomsync_client::try_connect(url, options.unwrap_or(JsValue::UNDEFINED));
        (!client.is_null()).then(|| client.unchecked_into())
    }
}

/// How long a test waits for something to happen over the network.
const WAIT_MS: u32 = 15_000;

fn server_url() -> &'static str {
    match option_env!("ROOMSYNC_TEST_URL") {
        Some(url) => url,
        None => panic!("ROOMSYNC_TEST_URL must be set at build time (scripts/test.sh does it)"),
    }
}

fn unique_room(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}

fn options(room: &str) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"room".into(), &room.into()).unwrap();
    o.into()
}

/// A `fetchToken` that asks the test worker's development route for a token.
fn dev_token_fetcher(room: &str, role: &str) -> Function {
    let http = server_url().replacen("ws://", "http://", 1);
    Function::new_with_args(
        "options",
        &format!(
            "return fetch('{http}/rooms/{room}/dev-token', {{method: 'POST', headers: {{'content-type': 'application/json'}}, \
             body: JSON.stringify({{sub: '{role}-user', role: '{role}'}})}}).then(r => r.json()).then(j => j.token)"
        ),
    )
}

/// A client signed in as an admin of `room`.
fn client(room: &str) -> SyncClient {
    client_as(room, "admin")
}

fn client_as(room: &str, role: &str) -> SyncClient {
    let client = SyncClient::new(server_url(), Some(options(room).unchecked_into())).expect("valid URL");
    client.set_auth(dev_token_fetcher(room, role).unchecked_into(), None).expect("setAuth");
    client
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout: Function = Reflect::get(&global, &"setTimeout".into()).unwrap().unchecked_into();
        set_timeout.call2(&global, &resolve, &ms.into()).unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Polls `done` every 20 ms until it holds or `WAIT_MS` passes.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..WAIT_MS / 20 {
        if done() {
            return;
        }
        sleep(20).await;
    }
    panic!("timed out waiting for {what}");
}

/// Subscribes to `tasks:list` and collects every result.
fn watch_tasks(client: &SyncClient) -> (Rc<RefCell<Vec<Array>>>, JsValue) {
    let seen: Rc<RefCell<Vec<Array>>> = Rc::default();
    let sink = seen.clone();
    let on_update = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| sink.borrow_mut().push(v.unchecked_into()));
    let unsubscribe =
        client.subscribe("tasks:list", JsValue::UNDEFINED, on_update.as_ref().clone().unchecked_into(), None).unwrap();
    // The test owns the closure for its whole run.
    on_update.forget();
    (seen, unsubscribe)
}

/// The demo user's id (created on first use), for `created_by`.
async fn ensure_user(client: &SyncClient) -> JsValue {
    let args = Object::new();
    Reflect::set(&args, &"name".into(), &"Ayşe".into()).unwrap();
    Reflect::set(&args, &"email".into(), &"ayse@example.org".into()).unwrap();
    Reflect::set(&args, &"role".into(), &"admin".into()).unwrap();
    let promise: Promise = client.mutation("users:ensure", args.into(), None).unwrap().unchecked_into();
    JsFuture::from(promise).await.expect("users:ensure resolves")
}

/// `tasks:create` arguments.
fn task(title: &str, created_by: &JsValue) -> JsValue {
    let args = Object::new();
    Reflect::set(&args, &"title".into(), &title.into()).unwrap();
    Reflect::set(&args, &"created_by".into(), created_by).unwrap();
    args.into()
}

fn titles(list: &Array) -> Vec<String> {
    list.iter().map(|t| Reflect::get(&t, &"title".into()).unwrap().as_string().unwrap_or_default()).collect()
}

fn error_code(e: &JsValue) -> String {
    Reflect::get(e, &"code".into()).unwrap().as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
fn bad_urls_throw_errors_with_codes() {
    let cases = [
        ("ftp://h", "UNSUPPORTED_SCHEME"),
        ("localhost:8787", "INVALID_URL"),
        ("ws://", "MISSING_HOST"),
        ("ws://h/api", "BAD_PATH"),
        ("ws://h/rooms/a b/sync", "INVALID_URL"),
    ];
    for (url, code) in cases {
        let err =
            SyncClient::new(url, Some(options("r").unchecked_into())).err().unwrap_or_else(|| panic!("{url} accepted"));
        assert_eq!(error_code(&err), code, "{url}");
        assert!(err.is_instance_of::<js_sys::Error>());
    }
    let err = SyncClient::new("ws://h", None).err().unwrap();
    assert_eq!(error_code(&err), "MISSING_ROOM");
    assert!(SyncClient::try_new(None, None).is_none());
    assert!(SyncClient::try_new(Some("nope".into()), None).is_none());
}

#[wasm_bindgen_test]
async fn two_clients_see_each_others_writes() {
    let room = unique_room("wasm");
    let a = client(&room);
    let b = client(&room);
    let (seen_a, _unsub_a) = watch_tasks(&a);
    let (seen_b, _unsub_b) = watch_tasks(&b);
    wait_until("both connected", || {
        a.connection_state().as_string().as_deref() == Some("Connected")
            && b.connection_state().as_string().as_deref() == Some("Connected")
    })
    .await;
    wait_until("initial results", || !seen_a.borrow().is_empty() && !seen_b.borrow().is_empty()).await;

    let args = task("From the browser", &ensure_user(&a).await);
    let promise: Promise = a.mutation("tasks:create", args, None).unwrap().unchecked_into();
    let id = JsFuture::from(promise).await.expect("mutation resolves");
    assert_eq!(id.as_string().map(|s| s.len()), Some(30));
    // Read-your-writes: when the promise resolved, A already showed the task.
    assert_eq!(titles(seen_a.borrow().last().unwrap()), ["From the browser"]);
    wait_until("B sees A's task", || seen_b.borrow().last().is_some_and(|l| titles(l) == ["From the browser"])).await;
    assert_eq!(a.pending_mutations(), 0);
    a.close();
    b.close();
    assert_eq!(a.connection_state().as_string().as_deref(), Some("Disconnected"));
}

#[wasm_bindgen_test]
async fn invalid_writes_reject_with_the_validation_message() {
    let a = client(&unique_room("wasm-invalid"));
    let args = Object::new();
    Reflect::set(&args, &"title".into(), &"x".into()).unwrap();
    Reflect::set(&args, &"status".into(), &"someday".into()).unwrap();
    Reflect::set(&args, &"created_by".into(), &ensure_user(&a).await).unwrap();
    let promise: Promise = a.mutation("tasks:create", args.into(), None).unwrap().unchecked_into();
    let err = JsFuture::from(promise).await.expect_err("mutation rejects");
    assert_eq!(error_code(&err), "VALIDATION");
    let message = Reflect::get(&err, &"message".into()).unwrap().as_string().unwrap();
    assert_eq!(
        message,
        r#"args.status: expected one of "pending", "in_progress", "completed", "cancelled" or nothing, found string "someday""#
    );
    a.close();
    let closed: Promise = a.mutation("tasks:create", JsValue::UNDEFINED, None).unwrap().unchecked_into();
    assert_eq!(error_code(&JsFuture::from(closed).await.unwrap_err()), "CLIENT_CLOSED");
}

#[wasm_bindgen_test]
async fn state_listeners_see_the_lifecycle() {
    let a = client(&unique_room("wasm-state"));
    let states: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = states.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| sink.borrow_mut().push(s.as_string().unwrap()));
    let _unsubscribe = a.on_connection_state_change(listener.as_ref().clone().unchecked_into()).unwrap();
    wait_until("connected", || states.borrow().last().map(String::as_str) == Some("Connected")).await;
    a.close();
    assert_eq!(states.borrow().last().map(String::as_str), Some("Disconnected"));
    drop(listener);
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_retried_with_backoff_and_the_next_attempt_is_shown() {
    // Port 9 (discard) on loopback: nothing listens, every attempt fails at once.
    let o = Object::new();
    Reflect::set(&o, &"room".into(), &"nowhere".into()).unwrap();
    let client = SyncClient::new("ws://127.0.0.1:9", Some(o.unchecked_into())).unwrap();
    wait_until("two failed attempts", || client.reconnect_attempts() >= 2).await;
    assert_eq!(client.connection_state().as_string().as_deref(), Some("Reconnecting"));
    let due = client.next_retry_at().expect("a retry is scheduled");
    let now = js_sys::Date::now();
    assert!(due >= now - 50.0 && due <= now + 30_000.0, "next retry at {due}, now {now}");
    let debug = client.debug();
    assert_eq!(Reflect::get(&debug, &"nextRetryAt".into()).unwrap().as_f64(), Some(due));
    client.close();
    assert_eq!(client.next_retry_at(), None);
}

#[wasm_bindgen_test]
async fn a_client_built_for_another_schema_stops_instead_of_retrying() {
    let o = Object::new();
    Reflect::set(&o, &"room".into(), &unique_room("wasm-schema").into()).unwrap();
    Reflect::set(&o, &"schemaHash".into(), &"0000000000000000".into()).unwrap();
    let client = SyncClient::new(server_url(), Some(o.unchecked_into())).unwrap();
    let states: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = states.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| sink.borrow_mut().push(s.as_string().unwrap()));
    let _unsubscribe = client.on_connection_state_change(listener.as_ref().clone().unchecked_into()).unwrap();
    wait_until("the room refuses the client", || states.borrow().last().map(String::as_str) == Some("Disconnected"))
        .await;
    sleep(600).await;
    assert_eq!(client.connection_state().as_string().as_deref(), Some("Disconnected"), "no reconnect after a mismatch");
    assert_eq!(client.reconnect_attempts(), 0);
    drop(listener);
}

#[wasm_bindgen_test]
async fn an_idle_connection_is_kept_alive_by_the_heartbeat() {
    let a = client(&unique_room("wasm-idle"));
    let (seen, _unsubscribe) = watch_tasks(&a);
    wait_until("the first result", || !seen.borrow().is_empty()).await;
    let states: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = states.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| sink.borrow_mut().push(s.as_string().unwrap()));
    let _stop = a.on_connection_state_change(listener.as_ref().clone().unchecked_into()).unwrap();
    // Idle for more than two heartbeat rounds: pings go out, the runtime answers "pong", and
    // the socket is never declared dead.
    sleep(7_000).await;
    assert_eq!(*states.borrow(), Vec::<String>::new(), "no state change while idle");
    assert_eq!(a.connection_state().as_string().as_deref(), Some("Connected"));
    let args = task("After the quiet", &ensure_user(&a).await);
    let promise: Promise = a.mutation("tasks:create", args, None).unwrap().unchecked_into();
    JsFuture::from(promise).await.expect("the socket still works");
    assert_eq!(titles(seen.borrow().last().unwrap()), ["After the quiet"]);
    a.close();
    drop(listener);
}

#[wasm_bindgen_test]
async fn roles_apply_and_signing_in_again_keeps_subscriptions() {
    let room = unique_room("wasm-auth");
    let viewer = client_as(&room, "viewer");
    let (seen, _unsub) = watch_tasks(&viewer);
    wait_until("the viewer's first result", || !seen.borrow().is_empty()).await;
    let promise: Promise =
        viewer.mutation("tasks:remove", JsValue::from(Object::new()), None).unwrap().unchecked_into();
    let err = JsFuture::from(promise).await.expect_err("viewers cannot write");
    assert_eq!(error_code(&err), "FORBIDDEN");
    // Sign in again as an admin on the live socket: the same subscription keeps updating.
    let accepted = Rc::new(RefCell::new(Vec::new()));
    let sink = accepted.clone();
    let on_change = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| sink.borrow_mut().push(v.as_bool()));
    viewer
        .set_auth(dev_token_fetcher(&room, "admin").unchecked_into(), Some(on_change.as_ref().clone().unchecked_into()))
        .unwrap();
    on_change.forget();
    wait_until("the admin identity accepted", || accepted.borrow().contains(&Some(true))).await;
    let user = ensure_user(&viewer).await;
    let task = task("Signed in", &user);
    let promise: Promise = viewer.mutation("tasks:create", task, None).unwrap().unchecked_into();
    JsFuture::from(promise).await.expect("admins write");
    let last = seen.borrow().last().cloned().unwrap();
    assert_eq!(titles(&last), ["Signed in"], "the subscription made before signing in still updates");
    viewer.close();
}

/// `{optimisticUpdate}` whose update appends a task titled `title` to the cached `tasks:list`.
fn append_optimistically(title: &str) -> JsValue {
    let update = Function::new_with_args(
        "store",
        &format!(
            "const list = store.getQuery('tasks:list', {{}}) || []; \
             store.setQuery('tasks:list', {{}}, [{{_id: 'optimistic', title: '{title}'}}, ...list]);"
        ),
    );
    let options = Object::new();
    Reflect::set(&options, &"optimisticUpdate".into(), &update).unwrap();
    options.into()
}

#[wasm_bindgen_test]
async fn optimistic_updates_show_at_once_and_give_way_to_the_room() {
    let room = unique_room("wasm-optimistic");
    let a = client(&room);
    let (seen, _unsub) = watch_tasks(&a);
    wait_until("the first result", || !seen.borrow().is_empty()).await;
    let user = ensure_user(&a).await;

    let args = task("Real task", &user);
    let promise: Promise = a
        .mutation("tasks:create", args, Some(append_optimistically("Guess").unchecked_into()))
        .unwrap()
        .unchecked_into();
    // Shown in the same tick, before any answer could arrive.
    assert_eq!(titles(seen.borrow().last().unwrap()), ["Guess"]);
    JsFuture::from(promise).await.expect("the mutation resolves");
    // The room's result replaced the guess.
    assert_eq!(titles(seen.borrow().last().unwrap()), ["Real task"]);

    // A refused mutation: the guess shows, then disappears.
    let bad = task("", &user);
    let promise: Promise = a
        .mutation("tasks:create", bad, Some(append_optimistically("Doomed").unchecked_into()))
        .unwrap()
        .unchecked_into();
    assert_eq!(titles(seen.borrow().last().unwrap()), ["Doomed", "Real task"]);
    let err = JsFuture::from(promise).await.expect_err("an empty title is refused");
    assert_eq!(error_code(&err), "VALIDATION");
    assert_eq!(titles(seen.borrow().last().unwrap()), ["Real task"]);
    a.close();
}

#[wasm_bindgen_test]
async fn identical_subscriptions_share_one_query_and_debug_shows_it() {
    let room = unique_room("wasm-shared");
    let a = client(&room);
    let (first, unsub_first) = watch_tasks(&a);
    wait_until("the first result", || !first.borrow().is_empty()).await;
    // A second identical subscription gets the cached result at once, with no new query.
    let (second, _unsub_second) = watch_tasks(&a);
    assert_eq!(second.borrow().len(), 1, "delivered synchronously from the cache");
    let debug = a.debug();
    let subs: Array = Reflect::get(&debug, &"subscriptions".into()).unwrap().unchecked_into();
    assert_eq!(subs.length(), 1);
    assert_eq!(Reflect::get(&subs.get(0), &"listeners".into()).unwrap().as_f64(), Some(2.0));
    let frames: Array = Reflect::get(&debug, &"frames".into()).unwrap().unchecked_into();
    let field = |v: &JsValue, k: &str| Reflect::get(v, &k.into()).unwrap();
    // Before the socket opened it went out in the `subscribeMany` of the opening, after it
    // in a `subscribe`: once either way.
    let subscribes = frames
        .iter()
        .filter(|f| matches!(field(f, "type").as_string().as_deref(), Some("subscribe" | "subscribeMany")))
        .count();
    assert_eq!(subscribes, 1, "one subscribe frame for two listeners");
    assert!(frames.iter().any(|f| field(&f, "type").as_string().as_deref() == Some("transition")));
    // The result's commit and size: an empty list is "[]", 2 bytes.
    assert_eq!(field(&subs.get(0), "bytes").as_f64(), Some(2.0));
    assert!(field(&subs.get(0), "version").as_string().is_some_and(|ts| ts.parse::<u64>().is_ok()));
    // Dropping one listener keeps the query for the other.
    unsub_first.unchecked_ref::<Function>().call0(&JsValue::NULL).unwrap();
    let debug = a.debug();
    let subs: Array = Reflect::get(&debug, &"subscriptions".into()).unwrap().unchecked_into();
    assert_eq!(Reflect::get(&subs.get(0), &"listeners".into()).unwrap().as_f64(), Some(1.0));
    a.close();
}

#[wasm_bindgen_test]
async fn ten_thousand_subscribe_unsubscribe_cycles_leave_memory_flat() {
    let room = unique_room("wasm-leak");
    let a = client(&room);
    let memory = || {
        wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let cycle = |n: usize| {
        for i in 0..n {
            let on_update = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
            let args = Object::new();
            Reflect::set(&args, &"status".into(), &(if i % 2 == 0 { "pending" } else { "completed" }).into()).unwrap();
            let stop =
                a.subscribe("tasks:list", args.into(), on_update.as_ref().clone().unchecked_into(), None).unwrap();
            stop.unchecked_ref::<Function>().call0(&JsValue::NULL).unwrap();
        }
    };
    cycle(2_000); // warm up: allocator pools, the frame ring
    let before = memory();
    cycle(10_000);
    let after = memory();
    assert!(after <= before + 64 * 1024, "WASM memory grew from {before} to {after} bytes over 10,000 cycles");
    let debug = a.debug();
    let subs: Array = Reflect::get(&debug, &"subscriptions".into()).unwrap().unchecked_into();
    assert_eq!(subs.length(), 0);
    a.close();
}

/// The "old page" of a reload: its token never arrives, so its `tasks:create` titled `title`
/// stays in the tab's saved outbox; then the page goes (the client is closed: its promise
/// rejects, the saved write stays).
async fn page_that_left_a_write_unsent(room: &str, title: &str) -> SyncClient {
    let helper = client(room);
    let user = ensure_user(&helper).await;
    helper.close();
    let old = SyncClient::new(server_url(), Some(options(room).unchecked_into())).expect("valid URL");
    old.set_auth(Function::new_no_args("return new Promise(() => {})").unchecked_into(), None).unwrap();
    let never_answered: Promise = old.mutation("tasks:create", task(title, &user), None).unwrap().unchecked_into();
    let closed = Rc::new(RefCell::new(String::new()));
    let sink = closed.clone();
    let on_reject = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| *sink.borrow_mut() = error_code(&e));
    let _ = never_answered.catch(&on_reject);
    on_reject.forget();
    assert!(old.has_pending_writes());
    sleep(300).await; // IndexedDB writes are asynchronous
    old.close();
    wait_until("the closed page's promise rejected", || *closed.borrow() == "CLIENT_CLOSED").await;
    old
}

/// Forgets this tab's outbox slots, as a new tab would not know them.
fn new_tab() {
    Function::new_no_args("sessionStorage.clear()").call0(&JsValue::NULL).unwrap();
}

/// Saves, as a page would have, an unsent `tasks:create` titled `title` made by `owner` (the
/// owner the driver reads from a token: `"<iss> <sub>"`).
async fn saved_write_of(room: &str, owner: &str, title: &str, created_by: &JsValue) {
    let url = format!("{}/rooms/{room}/sync", server_url());
    let save = Function::new_with_args(
        "key, text",
        "return new Promise((resolve, reject) => { const r = indexedDB.open('roomsync', 1); \
         r.onupgradeneeded = () => r.result.createObjectStore('outbox'); \
         r.onsuccess = () => { const t = r.result.transaction('outbox', 'readwrite'); \
         t.objectStore('outbox').put(text, key); t.oncomplete = () => { r.result.close(); resolve(); }; \
         t.onerror = reject; }; r.onerror = reject; })",
    );
    let args = js_sys::JSON::stringify(&task(title, created_by)).unwrap().as_string().unwrap();
    let owner = js_sys::JSON::stringify(&owner.into()).unwrap().as_string().unwrap();
    let text = format!(
        r#"{{"sessionId":"{room}-saved","nextRequestId":1,"pending":[{{"type":"mutation","requestId":1,"udfPath":"tasks:create","args":{args}}}],"failed":[],"owners":{{"1":{owner}}}}}"#
    );
    let promise: Promise =
        save.call2(&JsValue::NULL, &format!("{url}#written-by-test").into(), &text.into()).unwrap().unchecked_into();
    JsFuture::from(promise).await.expect("the saved outbox is written");
}

#[wasm_bindgen_test]
async fn a_saved_write_is_sent_only_as_the_user_who_made_it() {
    let room = unique_room("wasm-owner");
    let admin = client(&room);
    let user = ensure_user(&admin).await;
    admin.close();
    saved_write_of(&room, " admin-user", "Written by the admin", &user).await;
    // Someone else signs in on this browser: the admin's write is neither sent nor counted.
    new_tab();
    let member = client_as(&room, "member");
    let (seen, _unsub) = watch_tasks(&member);
    wait_until("the member's list", || !seen.borrow().is_empty()).await;
    sleep(500).await;
    assert_eq!(member.pending_mutations(), 0, "not the member's write: not counted");
    assert!(titles(seen.borrow().last().unwrap()).is_empty(), "never sent as the member");
    let outbox = Reflect::get(&member.debug(), &"outbox".into()).unwrap();
    assert_eq!(Array::from(&outbox).length(), 0, "not shown to the member");
    member.close();
    // The admin comes back: sent once, as the admin.
    new_tab();
    let admin = client(&room);
    let (seen, _unsub) = watch_tasks(&admin);
    wait_until("the admin's saved write applied", || {
        seen.borrow().last().is_some_and(|l| titles(l) == ["Written by the admin"])
    })
    .await;
    wait_until("the outbox drained", || admin.pending_mutations() == 0).await;
    admin.close();
}

#[wasm_bindgen_test]
async fn mutations_left_unsent_by_a_page_are_sent_once_by_the_next() {
    let room = unique_room("wasm-outbox");
    let old = page_that_left_a_write_unsent(&room, "Written before the reload").await;
    // The tab was closed while offline; a new tab opens the room: it finds the record no
    // live client holds, continues that session and sends it.
    new_tab();
    let new = client(&room);
    let (seen, _unsub) = watch_tasks(&new);
    wait_until("the saved mutation applied", || {
        seen.borrow().last().is_some_and(|l| titles(l) == ["Written before the reload"])
    })
    .await;
    wait_until("the outbox drained", || new.pending_mutations() == 0).await;
    // A third page finds nothing left to send: still exactly one task.
    let third = client(&room);
    let (seen_third, _unsub_third) = watch_tasks(&third);
    wait_until("the third page's list", || !seen_third.borrow().is_empty()).await;
    assert_eq!(titles(seen_third.borrow().last().unwrap()), ["Written before the reload"]);
    assert_eq!(third.pending_mutations(), 0);
    old.close();
    new.close();
    third.close();
}

#[wasm_bindgen_test]
async fn results_kept_through_a_reconnect_are_flagged_stale_until_confirmed() {
    let room = unique_room("wasm-stale");
    let a = client(&room);
    let metas: Rc<RefCell<Vec<bool>>> = Rc::default();
    let sink = metas.clone();
    let on_update = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_value: JsValue, meta: JsValue| {
        sink.borrow_mut().push(Reflect::get(&meta, &"stale".into()).unwrap().as_bool().unwrap());
    });
    let _unsub =
        a.subscribe("tasks:list", JsValue::UNDEFINED, on_update.as_ref().clone().unchecked_into(), None).unwrap();
    on_update.forget();
    wait_until("the first result", || !metas.borrow().is_empty()).await;
    assert_eq!(*metas.borrow(), [false]);
    a.reconnect();
    wait_until("confirmed after the reconnect", || metas.borrow().len() == 3).await;
    assert_eq!(*metas.borrow(), [false, true, false], "kept (stale), then confirmed by hash without rows");
    a.close();
}

fn id_of(row: &JsValue) -> Option<String> {
    Reflect::get(row, &"_id".into()).ok()?.as_string()
}

#[wasm_bindgen_test]
async fn results_are_frozen_and_a_diff_keeps_unchanged_rows_as_the_same_objects() {
    let room = unique_room("wasm-diff");
    let a = client(&room);
    let (seen, _unsub) = watch_tasks(&a);
    let user = ensure_user(&a).await;
    for title in ["one", "two", "three"] {
        let args = task(title, &user);
        let promise: Promise = a.mutation("tasks:create", args, None).unwrap().unchecked_into();
        JsFuture::from(promise).await.expect("tasks:create resolves");
    }
    let before = seen.borrow().last().cloned().unwrap();
    assert_eq!(before.length(), 3);
    let args = task("four", &user);
    let promise: Promise = a.mutation("tasks:create", args, None).unwrap().unchecked_into();
    JsFuture::from(promise).await.expect("tasks:create resolves");
    let after = seen.borrow().last().cloned().unwrap();
    assert_eq!(after.length(), 4);
    // The room sent a diff: rows that did not change are the very objects shown before.
    for row in before.iter() {
        let same = after.iter().find(|r| id_of(r) == id_of(&row)).expect("row still listed");
        assert!(Object::is(&same, &row), "unchanged row {:?} was copied", id_of(&row));
    }
    // Frozen: a listener writing into a result cannot corrupt the base of the next diff.
    assert!(Object::is_frozen(&after) && after.iter().all(|r| Object::is_frozen(r.unchecked_ref::<Object>())));
    assert!(!Reflect::set(&after.get(0), &"title".into(), &"scribbled".into()).unwrap());
    let debug = a.debug();
    let frames: Array = Reflect::get(&debug, &"frames".into()).unwrap().unchecked_into();
    let diffs = frames
        .iter()
        .filter(|f| Reflect::get(f, &"preview".into()).unwrap().as_string().unwrap_or_default().contains("queryDiff"))
        .count();
    assert!(diffs > 0, "the room sent diffs");
    a.close();
}

/// A `fetchToken` that fails (as when the auth server is unreachable) `failures` times, then
/// asks the test worker for a token; the number of calls is kept in `calls`.
fn flaky_token_fetcher(room: &str, role: &str, failures: u32, calls: &Rc<RefCell<u32>>) -> JsValue {
    let make = Function::new_with_args(
        "real, failures, count",
        "let left = failures; return (o) => { count(); \
         return left-- > 0 ? Promise.reject(new TypeError('Failed to fetch')) : real(o); };",
    );
    let sink = calls.clone();
    let count = Closure::<dyn FnMut()>::new(move || *sink.borrow_mut() += 1);
    let fetcher = make
        .call3(&JsValue::NULL, &dev_token_fetcher(room, role), &failures.into(), count.as_ref())
        .expect("the fetcher is made");
    count.forget();
    fetcher
}

#[wasm_bindgen_test]
async fn a_reload_while_the_token_endpoint_is_down_loses_no_write() {
    let room = unique_room("wasm-auth-down");
    let old = page_that_left_a_write_unsent(&room, "Saved before the reload").await;
    // The "new page": the token endpoint fails twice, then recovers. Meanwhile the write waits
    // (it is never sent signed out, refused and dropped), and it lands exactly once.
    let calls = Rc::new(RefCell::new(0));
    let new = SyncClient::new(server_url(), Some(options(&room).unchecked_into())).expect("valid URL");
    new.set_auth(flaky_token_fetcher(&room, "admin", 2, &calls), None).unwrap();
    let (seen, _unsub) = watch_tasks(&new);
    sleep(200).await;
    assert!(new.has_pending_writes(), "still waiting for a token: not saved yet");
    wait_until("the saved mutation applied", || {
        seen.borrow().last().is_some_and(|l| titles(l) == ["Saved before the reload"])
    })
    .await;
    wait_until("the outbox drained", || new.pending_mutations() == 0).await;
    assert!(*calls.borrow() >= 3, "the failed fetches were retried ({} calls)", calls.borrow());
    assert_eq!(new.failed_mutations().length(), 0, "nothing was refused");
    // A fresh reader sees it exactly once.
    let third = client(&room);
    let (seen_third, _unsub_third) = watch_tasks(&third);
    wait_until("the third page's list", || !seen_third.borrow().is_empty()).await;
    assert_eq!(titles(seen_third.borrow().last().unwrap()), ["Saved before the reload"]);
    old.close();
    new.close();
    third.close();
}

#[wasm_bindgen_test]
async fn a_refused_write_rejects_and_is_kept_until_discarded() {
    let room = unique_room("wasm-refused");
    let viewer = client_as(&room, "viewer");
    let promise: Promise =
        viewer.mutation("tasks:remove", JsValue::from(Object::new()), None).unwrap().unchecked_into();
    let err = JsFuture::from(promise).await.expect_err("viewers cannot write");
    assert_eq!(error_code(&err), "FORBIDDEN");
    let request_id =
        Reflect::get(&err, &"requestId".into()).unwrap().as_f64().expect("the error names its request") as u32;
    let failed = viewer.failed_mutations();
    assert_eq!(failed.length(), 1, "kept, not dropped");
    let entry = failed.get(0);
    assert_eq!(Reflect::get(&entry, &"udfPath".into()).unwrap().as_string().as_deref(), Some("tasks:remove"));
    assert_eq!(Reflect::get(&entry, &"code".into()).unwrap().as_string().as_deref(), Some("FORBIDDEN"));
    assert_eq!(viewer.pending_mutations(), 0);
    assert!(viewer.discard_failed_mutation(request_id));
    assert!(!viewer.discard_failed_mutation(request_id));
    assert_eq!(viewer.failed_mutations().length(), 0);
    viewer.close();
}

#[wasm_bindgen_test]
async fn a_call_over_the_frame_limit_is_refused_at_once_and_never_sent() {
    let room = unique_room("wasm-too-large");
    let a = client(&room);
    let user = ensure_user(&a).await;
    let promise: Promise =
        a.mutation("tasks:create", task(&"x".repeat(1 << 20), &user), None).unwrap().unchecked_into();
    let err = JsFuture::from(promise).await.expect_err("too large");
    assert_eq!(error_code(&err), "TOO_LARGE");
    let message = Reflect::get(&err, &"message".into()).unwrap().as_string().unwrap_or_default();
    assert!(message.contains("1048576 bytes"), "{message}");
    assert_eq!(a.pending_mutations(), 0, "never queued, never re-sent after a reload");
    // A subscription too large fails through its error callback.
    let codes = Rc::new(RefCell::new(Vec::new()));
    let sink = codes.clone();
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| sink.borrow_mut().push(error_code(&e)));
    let ignore = Function::new_no_args("");
    a.subscribe("tasks:list", task(&"x".repeat(1 << 20), &user), ignore.into(), Some(on_error.as_ref().clone()))
        .unwrap();
    on_error.forget();
    assert_eq!(*codes.borrow(), ["TOO_LARGE"]);
    // The client keeps working.
    let promise: Promise = a.mutation("tasks:create", task("small", &user), None).unwrap().unchecked_into();
    JsFuture::from(promise).await.expect("a normal write still goes through");
    a.close();
}
