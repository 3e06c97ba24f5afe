//! The driver: one browser WebSocket at a time, reconnect timers, and callback dispatch.
//!
//! Lifecycle: `Connecting` → `Connected` → (socket drops) → `Reconnecting` → `Connected` …
//! and `Disconnected` once closed for good. Reconnects wait a capped exponential backoff with
//! full jitter (shared [`Backoff`]); the attempt counter resets when a socket opens.

use crate::errors::js_error;
use crate::wire::{self, object, Js};
use js_sys::{Function, JsString};
use roomsync_shared::backoff::{Backoff, CloseReason};
use roomsync_shared::client::VecMap as HashMap;
use roomsync_shared::client::{ClientCore, ClientError, ClientEvent, Frame};
use roomsync_shared::heartbeat::{Heartbeat, HeartbeatAction, PING, PONG};
use roomsync_shared::protocol::{ErrorCode, QueryId, RequestId};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Close code the client uses when it drops a socket on purpose to resync.
const CLOSE_RESYNC: u16 = 4000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "Disconnected",
            ConnectionState::Connecting => "Connecting",
            ConnectionState::Connected => "Connected",
            ConnectionState::Reconnecting => "Reconnecting",
        }
    }
}

/// One socket and the handlers the browser holds for it. Dropping it detaches the handlers
/// and closes the socket, so a dead socket can never call into the client again.
struct Connection {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}

struct Subscriber {
    /// Tells apart listeners that share one server query.
    listener: u32,
    on_update: Function,
    on_error: Option<Function>,
}

/// Frames kept for devtools (newest last).
const FRAME_RING: usize = 200;
/// Characters of each frame kept for devtools.
const FRAME_PREVIEW: usize = 600;
/// Connection state changes kept for devtools.
const HISTORY: usize = 50;

/// One frame as devtools show it.
struct FrameRecord {
    outgoing: bool,
    at_ms: f64,
    bytes: usize,
    preview: String,
}

/// Per-query timings for devtools.
#[derive(Default, Clone, Copy)]
struct QueryTiming {
    subscribed_at_ms: f64,
    first_result_ms: Option<f64>,
    last_update_ms: Option<f64>,
}

struct PendingPromise {
    resolve: Function,
    reject: Function,
}

pub struct Driver {
    url: String,
    backoff: Backoff,
    core: RefCell<ClientCore<Js>>,
    state: Cell<ConnectionState>,
    attempts: Cell<u32>,
    closed: Cell<bool>,
    connection: RefCell<Option<Connection>>,
    subscribers: RefCell<HashMap<QueryId, Vec<Subscriber>>>,
    next_subscriber: Cell<u32>,
    frames: RefCell<std::collections::VecDeque<FrameRecord>>,
    history: RefCell<std::collections::VecDeque<(ConnectionState, f64)>>,
    timings: RefCell<HashMap<QueryId, QueryTiming>>,
    promises: RefCell<HashMap<RequestId, PendingPromise>>,
    state_listeners: RefCell<Vec<(u32, Function)>>,
    /// Called with the number of unanswered mutations whenever it changes.
    pending_listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    /// Bumped on every new socket: timers of older sockets find it changed and stop.
    generation: Cell<u32>,
    /// Dead-socket detection for the current socket.
    heartbeat: RefCell<Option<Heartbeat>>,
    /// `online` / `visibilitychange` listeners, removed on close.
    wake_listeners: RefCell<Vec<WakeListener>>,
    /// Why the last socket ended (decides the next delay).
    last_close: Cell<CloseReason>,
    /// Optimistic updates of unanswered mutations, in request order.
    optimistic: RefCell<Vec<(RequestId, Function)>>,
    /// What those updates made of the queries they touched (shown instead of the room's).
    overlays: RefCell<HashMap<QueryId, JsValue>>,
    /// Where unanswered mutations are persisted (IndexedDB), if anywhere.
    outbox: Option<crate::outbox::OutboxStore>,
    /// The persisted outbox is being read: the socket waits (its session comes from it).
    outbox_loading: Cell<bool>,
    /// The socket opened while a token or the outbox was still loading.
    open_waiting: Cell<bool>,
    auth: RefCell<Auth>,
}

/// Token handling: the application's `fetchToken`, and where the driver is with it.
#[derive(Default)]
struct Auth {
    fetch_token: Option<Function>,
    on_change: Option<Function>,
    /// A fetch is in flight: a socket that opens meanwhile waits for it (so no query runs
    /// signed out and flashes an error).
    fetching: bool,
    /// Bumped by every `set_auth`/`clear_auth`: answers to older fetches are dropped.
    generation: u32,
    /// The room refused a freshly fetched token: do not loop, report it.
    refused_fresh: bool,
}

/// A browser event listener the driver installed (and removes on close).
struct WakeListener {
    target: JsValue,
    kind: &'static str,
    callback: Closure<dyn FnMut()>,
}

/// `target.addEventListener(kind, f)` / `removeEventListener`, without extra web-sys features.
fn listen(target: &JsValue, method: &str, kind: &str, f: &Closure<dyn FnMut()>) {
    if let Ok(func) = js_sys::Reflect::get(target, &method.into()).and_then(|f| f.dyn_into::<Function>()) {
        let _ = func.call2(target, &kind.into(), f.as_ref());
    }
}

/// A JS function that runs `f` once. Boxed, so every caller shares one closure shim (each
/// closure type otherwise brings its own glue into the WASM).
pub fn once_fn(f: Box<dyn FnOnce()>) -> JsValue {
    Closure::once_into_js(f)
}

/// [`once_fn`] for callbacks that take one value (promise callbacks).
fn once_fn1(f: Box<dyn FnOnce(JsValue)>) -> JsValue {
    Closure::once_into_js(f)
}

/// Runs `f` on a later turn of the event loop. Used to drop a socket's handlers from inside
/// one of them, and for reconnect timers. The closure frees itself after it runs.
fn set_timeout(f: impl FnOnce() + 'static, delay_ms: i32) {
    let callback = once_fn(Box::new(f));
    let global = js_sys::global();
    if let Ok(set_timeout) = js_sys::Reflect::get(&global, &"setTimeout".into()).and_then(|f| f.dyn_into::<Function>())
    {
        let _ = set_timeout.call2(&global, &callback, &JsValue::from(delay_ms));
    }
}

/// 128 bits from the browser's `crypto.getRandomValues` (falls back to `Math.random` where
/// there is no Web Crypto, e.g. an old test runner: session ids need uniqueness, not secrecy).
fn random_u128() -> u128 {
    let from_crypto = || -> Result<u128, JsValue> {
        let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())?;
        let fill: Function = js_sys::Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
        let bytes = js_sys::Uint8Array::new_with_length(16);
        fill.call1(&crypto, &bytes)?;
        let mut buf = [0u8; 16];
        bytes.copy_to(&mut buf);
        Ok(u128::from_le_bytes(buf))
    };
    from_crypto().unwrap_or_else(|_| {
        let part = || (js_sys::Math::random() * 2f64.powi(53)) as u128;
        (part() << 75) ^ (part() << 22) ^ part()
    })
}

impl Driver {
    pub fn new(url: String, schema_hash: Option<String>, persist_outbox: bool) -> Rc<Self> {
        let session_id = roomsync_shared::ids::encode_base32(random_u128());
        let outbox = if persist_outbox { crate::outbox::OutboxStore::for_url(&url) } else { None };
        Rc::new(Self {
            url,
            backoff: Backoff::default(),
            core: RefCell::new(ClientCore::new(session_id).with_schema_hash(schema_hash)),
            state: Cell::new(ConnectionState::Disconnected),
            attempts: Cell::new(0),
            closed: Cell::new(false),
            connection: RefCell::new(None),
            subscribers: RefCell::new(HashMap::new()),
            next_subscriber: Cell::new(0),
            frames: RefCell::default(),
            history: RefCell::default(),
            timings: RefCell::default(),
            promises: RefCell::new(HashMap::new()),
            state_listeners: RefCell::new(Vec::new()),
            pending_listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(0),
            generation: Cell::new(0),
            heartbeat: RefCell::new(None),
            wake_listeners: RefCell::new(Vec::new()),
            last_close: Cell::new(CloseReason::Lost),
            optimistic: RefCell::default(),
            overlays: RefCell::default(),
            outbox,
            outbox_loading: Cell::new(false),
            open_waiting: Cell::new(false),
            auth: RefCell::new(Auth::default()),
        })
    }

    /// Sets the application's token source. The token is fetched now and authenticated on
    /// the live socket (subscriptions stay and re-run under the new identity), refreshed a
    /// minute before it expires, and fetched again (forced) when the room refuses it.
    pub fn set_auth(this: &Rc<Self>, fetch_token: Function, on_change: Option<Function>) {
        {
            let mut auth = this.auth.borrow_mut();
            auth.fetch_token = Some(fetch_token);
            auth.on_change = on_change;
            auth.generation = auth.generation.wrapping_add(1);
            auth.refused_fresh = false;
        }
        Self::fetch_token(this, false);
    }

    /// Signs out: the room re-runs every query signed out.
    pub fn clear_auth(this: &Rc<Self>) {
        {
            let mut auth = this.auth.borrow_mut();
            *auth = Auth { generation: auth.generation.wrapping_add(1), ..Auth::default() };
        }
        let frame = this.core.borrow_mut().set_auth(None);
        this.send_all(frame.as_slice());
        Self::finish_waiting_open(this);
    }

    fn fetch_token(this: &Rc<Self>, force_refresh: bool) {
        let (fetch, generation) = {
            let mut auth = this.auth.borrow_mut();
            let Some(fetch) = auth.fetch_token.clone() else { return };
            auth.fetching = true;
            (fetch, auth.generation)
        };
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"forceRefresh".into(), &force_refresh.into());
        let weak = Rc::downgrade(this);
        let settle = move |token: Option<String>| {
            with(&weak, |d| {
                if d.auth.borrow().generation != generation {
                    return;
                }
                d.auth.borrow_mut().fetching = false;
                Self::use_token(d, token, generation);
            })
        };
        let promise = match fetch.call1(&JsValue::NULL, &options) {
            Ok(value) => js_sys::Promise::resolve(&value),
            Err(e) => {
                web_sys::console::error_2(&"roomsync: fetchToken threw:".into(), &e);
                settle(None);
                return;
            }
        };
        let settle = Rc::new(RefCell::new(Some(settle)));
        let on_ok = once_fn1(Box::new({
            let settle = settle.clone();
            move |value: JsValue| {
                if let Some(settle) = settle.borrow_mut().take() {
                    settle(value.as_string().filter(|t| !t.is_empty()));
                }
            }
        }));
        let on_err = once_fn1(Box::new(move |e: JsValue| {
            web_sys::console::error_2(&"roomsync: fetchToken failed:".into(), &e);
            if let Some(settle) = settle.borrow_mut().take() {
                settle(None);
            }
        }));
        then(&promise, &on_ok, Some(&on_err));
    }

    /// A fetched token (or none): authenticate with it and plan its refresh.
    fn use_token(this: &Rc<Self>, token: Option<String>, generation: u32) {
        let expiry = token.as_deref().and_then(wire::token_expiry_ms);
        let frame = this.core.borrow_mut().set_auth(token);
        this.send_all(frame.as_slice());
        Self::finish_waiting_open(this);
        if let Some(expires_at) = expiry {
            // A minute early (half the lifetime for short tokens), never in a tight loop.
            let left = expires_at - js_sys::Date::now();
            let delay = (left - 60_000.0).max(left / 2.0).max(5_000.0);
            let weak = Rc::downgrade(this);
            set_timeout(
                move || {
                    with(&weak, |d| {
                        if d.auth.borrow().generation == generation && !d.closed.get() {
                            Self::fetch_token(d, true);
                        }
                    })
                },
                delay.min(i32::MAX as f64) as i32,
            );
        }
    }

    fn finish_waiting_open(this: &Rc<Self>) {
        if this.auth.borrow().fetching || this.outbox_loading.get() {
            return;
        }
        if this.open_waiting.replace(false) && this.connection.borrow().is_some() {
            Self::on_open(this);
        }
    }

    /// Reads the persisted outbox of this tab (after a reload) and continues its session:
    /// its mutations are re-sent first, exactly once. The socket waits until it is read.
    pub fn load_outbox(this: &Rc<Self>) {
        let Some(store) = this.outbox.as_ref() else { return };
        this.outbox_loading.set(true);
        let weak = Rc::downgrade(this);
        let loaded = once_fn1(Box::new(move |text: JsValue| {
            with(&weak, |d| {
                d.outbox_loading.set(false);
                if let Some(text) = text.as_string() {
                    Self::restore_outbox(d, &text);
                }
                d.pending_changed();
                Self::finish_waiting_open(d);
            })
        }));
        then(&store.load(), &loaded, None);
    }

    fn restore_outbox(this: &Rc<Self>, text: &str) {
        let restored = wire::decode_outbox(text).and_then(|outbox| this.core.borrow_mut().restore(outbox));
        match restored {
            Ok(renumbered) => {
                // Mutations made before the outbox was read now follow it, under new ids.
                let mut promises = this.promises.borrow_mut();
                let moved: Vec<(RequestId, PendingPromise)> =
                    renumbered.iter().filter_map(|(old, new)| promises.remove(*old).map(|p| (*new, p))).collect();
                for (id, promise) in moved {
                    promises.insert(id, promise);
                }
                for (id, _) in this.optimistic.borrow_mut().iter_mut() {
                    if let Some((_, new)) = renumbered.iter().find(|(old, _)| old == id) {
                        *id = *new;
                    }
                }
            }
            Err(e) => warn(&["roomsync: ignoring a saved outbox: ", &e]),
        }
    }

    fn auth_changed(this: &Rc<Self>, authenticated: bool) {
        let callback = this.auth.borrow().on_change.clone();
        if let Some(callback) = callback {
            report(callback.call1(&JsValue::NULL, &authenticated.into()));
        }
    }

    /// Reconnects at once (instead of waiting out the backoff) when the browser comes back
    /// online or the tab becomes visible again.
    pub fn watch_wake_events(this: &Rc<Self>) {
        let global: JsValue = js_sys::global().into();
        let document = js_sys::Reflect::get(&global, &"document".into()).unwrap_or(JsValue::UNDEFINED);
        let mut listeners = this.wake_listeners.borrow_mut();
        for (target, kind) in [(global, "online"), (document, "visibilitychange")] {
            if target.is_undefined() || target.is_null() {
                continue;
            }
            let weak = Rc::downgrade(this);
            let wake = Closure::<dyn FnMut()>::new(move || with(&weak, Self::wake));
            listen(&target, "addEventListener", kind, &wake);
            listeners.push(WakeListener { target, kind, callback: wake });
        }
    }

    fn wake(this: &Rc<Self>) {
        let hidden = js_sys::Reflect::get(&js_sys::global(), &"document".into())
            .and_then(|d| js_sys::Reflect::get(&d, &"visibilityState".into()))
            .ok()
            .and_then(|v| v.as_string())
            .is_some_and(|v| v == "hidden");
        if !hidden && this.state.get() == ConnectionState::Reconnecting && this.connection.borrow().is_none() {
            Self::connect(this);
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn state(&self) -> ConnectionState {
        self.state.get()
    }

    pub fn attempts(&self) -> u32 {
        self.attempts.get()
    }

    pub fn pending_mutations(&self) -> usize {
        self.core.borrow().pending_mutations()
    }

    pub fn add_state_listener(&self, callback: Function) -> u32 {
        let id = self.next_listener.get() + 1;
        self.next_listener.set(id);
        self.state_listeners.borrow_mut().push((id, callback));
        id
    }

    pub fn remove_state_listener(&self, id: u32) {
        self.state_listeners.borrow_mut().retain(|(i, _)| *i != id);
        self.pending_listeners.borrow_mut().retain(|(i, _)| *i != id);
    }

    pub fn add_pending_listener(&self, callback: Function) -> u32 {
        let id = self.next_listener.get() + 1;
        self.next_listener.set(id);
        self.pending_listeners.borrow_mut().push((id, callback));
        id
    }

    fn pending_changed(&self) {
        if let (Some(store), false) = (self.outbox.as_ref(), self.outbox_loading.get()) {
            let outbox = self.core.borrow().outbox();
            store.save((!outbox.pending.is_empty()).then(|| outbox.to_json()));
        }
        let listeners: Vec<Function> = self.pending_listeners.borrow().iter().map(|(_, f)| f.clone()).collect();
        let count = JsValue::from(self.pending_mutations() as u32);
        for listener in listeners {
            report(listener.call1(&JsValue::NULL, &count));
        }
    }

    fn set_state(&self, state: ConnectionState) {
        if self.state.replace(state) == state {
            return;
        }
        {
            let mut history = self.history.borrow_mut();
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back((state, js_sys::Date::now()));
        }
        let listeners: Vec<Function> = self.state_listeners.borrow().iter().map(|(_, f)| f.clone()).collect();
        let value = JsValue::from_str(state.as_str());
        for listener in listeners {
            report(listener.call1(&JsValue::NULL, &value));
        }
    }

    /// Opens a new socket (replacing any old one).
    pub fn connect(this: &Rc<Self>) {
        if this.closed.get() {
            return;
        }
        this.generation.set(this.generation.get().wrapping_add(1));
        this.set_state(if this.attempts.get() == 0 {
            ConnectionState::Connecting
        } else {
            ConnectionState::Reconnecting
        });
        let ws = match WebSocket::new(&this.url) {
            Ok(ws) => ws,
            Err(e) => {
                web_sys::console::warn_2(&"roomsync: could not open a WebSocket:".into(), &e);
                Self::schedule_reconnect(this);
                return;
            }
        };
        let weak = Rc::downgrade(this);
        let on_open = Closure::<dyn FnMut()>::new({
            let weak = weak.clone();
            move || with(&weak, Self::on_open)
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |event: MessageEvent| {
                let data = event.data();
                if data.is_string() {
                    with(&weak, |d| Self::on_message(d, data.unchecked_ref()));
                }
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| with(&weak, Self::on_close));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let old = this.connection.borrow_mut().replace(Connection {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
        drop(old);
    }

    fn on_open(this: &Rc<Self>) {
        if this.auth.borrow().fetching || this.outbox_loading.get() {
            this.open_waiting.set(true);
            return;
        }
        this.attempts.set(0);
        let frames = this.core.borrow_mut().on_open();
        this.send_all(&frames);
        // Results kept through the reconnect are now stale until the room confirms them.
        let stale: Vec<QueryId> = {
            let (core, overlays) = (this.core.borrow(), this.overlays.borrow());
            let showable = |q: &QueryId| overlays.contains_key(*q) || matches!(core.cached(*q), Some(Ok(_)));
            core.stale_queries().into_iter().filter(showable).collect()
        };
        for query_id in stale {
            Self::show(this, query_id);
        }
        *this.heartbeat.borrow_mut() = Some(Heartbeat::new(js_sys::Date::now()));
        Self::schedule_heartbeat(this, this.generation.get(), 0.0);
        this.set_state(ConnectionState::Connected);
    }

    /// Ticks the heartbeat of the socket of `generation` until that socket is replaced.
    fn schedule_heartbeat(this: &Rc<Self>, generation: u32, delay_ms: f64) {
        let weak = Rc::downgrade(this);
        set_timeout(
            move || {
                with(&weak, |d| {
                    if d.generation.get() != generation || d.closed.get() {
                        return;
                    }
                    let now = js_sys::Date::now();
                    let action = d.heartbeat.borrow_mut().as_mut().map(|hb| (hb.tick(now), hb.next_tick_in(now)));
                    match action {
                        Some((HeartbeatAction::Dead, _)) => {
                            web_sys::console::warn_1(
                                &"roomsync: no answer from the server for 5 s; reconnecting".into(),
                            );
                            d.last_close.set(CloseReason::ClosedByClient);
                            Self::on_close(d);
                        }
                        Some((action, next)) => {
                            if action == HeartbeatAction::SendPing {
                                if let Some(connection) = d.connection.borrow().as_ref() {
                                    let _ = connection.ws.send_with_str(PING);
                                }
                            }
                            Self::schedule_heartbeat(d, generation, next);
                        }
                        None => {}
                    }
                })
            },
            delay_ms as i32,
        );
    }

    /// One text frame: parsed by `JSON.parse` and kept as JS values (never copied into
    /// WASM memory whole).
    fn on_message(this: &Rc<Self>, text: &JsString) {
        if let Some(hb) = this.heartbeat.borrow_mut().as_mut() {
            hb.on_receive(js_sys::Date::now());
        }
        if text.length() as usize == PONG.len() && text == PONG {
            return;
        }
        this.record_frame(false, &String::from(text.slice(0, FRAME_PREVIEW as u32)), text.length() as usize);
        let decoded = wire::parse_json(text)
            .map_err(|_| String::from("a frame from the room is not JSON"))
            .and_then(|frame| wire::decode(&wire::deep_freeze(frame)));
        let events = match decoded {
            Ok(frame) => this.core.borrow_mut().receive_frame(frame),
            Err(reason) => vec![ClientEvent::ResyncRequired { reason }],
        };
        Self::dispatch(this, events);
        // Answers free room in the in-flight window: send what waited.
        let frames = this.core.borrow_mut().flush();
        this.send_all(&frames);
    }

    fn on_close(this: &Rc<Self>) {
        // We are inside the dying socket's own handler: drop its closures on a later turn.
        if let Some(old) = this.connection.borrow_mut().take() {
            set_timeout(move || drop(old), 0);
        }
        this.heartbeat.borrow_mut().take();
        this.generation.set(this.generation.get().wrapping_add(1));
        let events = this.core.borrow_mut().on_close();
        Self::dispatch(this, events);
        if this.closed.get() {
            this.set_state(ConnectionState::Disconnected);
        } else {
            Self::schedule_reconnect(this);
        }
    }

    fn schedule_reconnect(this: &Rc<Self>) {
        let attempt = this.attempts.get();
        this.attempts.set(attempt.saturating_add(1));
        this.set_state(ConnectionState::Reconnecting);
        let reason = this.last_close.replace(CloseReason::Lost);
        let delay = this.backoff.next_delay(attempt, js_sys::Math::random(), reason);
        let weak = Rc::downgrade(this);
        let generation = this.generation.get();
        // Skipped when something else (a wake event) connected meanwhile.
        let retry = move || {
            with(&weak, |d| {
                if d.generation.get() == generation && d.connection.borrow().is_none() {
                    Self::connect(d);
                }
            })
        };
        set_timeout(retry, delay.as_millis().min(i32::MAX as u128) as i32);
    }

    fn send_all(&self, frames: &[Frame]) {
        if let Some(connection) = self.connection.borrow().as_ref() {
            for frame in frames {
                // A failed send means the socket is closing; its close handler takes over.
                let text = frame.to_json();
                self.record_frame(true, &text, text.len());
                let _ = connection.ws.send_with_str(&text);
            }
        }
    }

    /// Reports core events to the application. Callbacks are cloned out first so that no
    /// borrow is held while JS runs (a callback may call back into the client).
    fn dispatch(this: &Rc<Self>, events: Vec<ClientEvent<Js>>) {
        // With optimistic updates pending, new server results are shown only after the
        // updates are re-applied on top of them (below), all at once.
        let mut rebase: Vec<QueryId> = Vec::new();
        for event in events {
            match event {
                ClientEvent::Query { query_id, result } => {
                    if let Some(timing) = this.timings.borrow_mut().get_mut(query_id) {
                        let now = js_sys::Date::now();
                        timing.first_result_ms.get_or_insert(now - timing.subscribed_at_ms);
                        timing.last_update_ms = Some(now);
                    }
                    if this.optimistic.borrow().is_empty() && this.overlays.borrow().is_empty() {
                        Self::notify(this, query_id, &result);
                    } else {
                        rebase.push(query_id);
                    }
                }
                ClientEvent::Mutation { request_id, result } => {
                    // The room's answer comes after the transition that holds the write: the
                    // optimistic guess is no longer needed.
                    let had_update = {
                        let mut optimistic = this.optimistic.borrow_mut();
                        let before = optimistic.len();
                        optimistic.retain(|(id, _)| *id != request_id);
                        optimistic.len() != before
                    };
                    if had_update {
                        Self::replay_optimistic(this, std::mem::take(&mut rebase));
                    }
                    let Some(promise) = this.promises.borrow_mut().remove(request_id) else {
                        continue;
                    };
                    match result {
                        Ok(value) => report(promise.resolve.call1(&JsValue::NULL, &value.0)),
                        Err(error) => report(promise.reject.call1(&JsValue::NULL, &to_js_error(&error))),
                    }
                    this.pending_changed();
                }
                ClientEvent::ServerError {
                    code: code @ (ErrorCode::ProtocolMismatch | ErrorCode::SchemaMismatch),
                    message,
                } => {
                    // Retrying cannot help: this build does not match the room. Stop, say so.
                    web_sys::console::error_1(&concat(&["roomsync: ", code.as_str(), ": ", &message]).into());
                    Self::close(this);
                }
                ClientEvent::ServerError { code, message } => {
                    warn(&["roomsync: server refused a frame (", code.as_str(), "): ", &message]);
                }
                ClientEvent::QueryConfirmed { query_id } => Self::show(this, query_id),
                ClientEvent::Authenticated => {
                    this.auth.borrow_mut().refused_fresh = false;
                    Self::auth_changed(this, true);
                }
                ClientEvent::AuthFailed { message } => {
                    // A stale token: fetch a fresh one once; a fresh one refused: report it.
                    let retry = {
                        let mut auth = this.auth.borrow_mut();
                        let retry = auth.fetch_token.is_some() && !auth.refused_fresh;
                        auth.refused_fresh = true;
                        retry
                    };
                    if retry {
                        Self::fetch_token(this, true);
                    } else {
                        warn(&["roomsync: the room refused the token: ", &message]);
                        Self::auth_changed(this, false);
                    }
                }
                ClientEvent::MutationsThrottled => {
                    // Not applied; sent again after a pause (a second, with jitter).
                    let weak = Rc::downgrade(this);
                    let generation = this.generation.get();
                    let resume = move || {
                        with(&weak, |d| {
                            d.core.borrow_mut().resume_sending();
                            if d.generation.get() == generation {
                                let frames = d.core.borrow_mut().flush();
                                d.send_all(&frames);
                            }
                        })
                    };
                    set_timeout(resume, (1000.0 + 500.0 * js_sys::Math::random()) as i32);
                }
                ClientEvent::Overloaded { retry_after_ms, message } => {
                    warn(&["roomsync: ", &message]);
                    let retry_after = std::time::Duration::from_millis(retry_after_ms);
                    this.last_close.set(CloseReason::Overloaded { retry_after });
                }
                ClientEvent::ResyncRequired { reason } => {
                    warn(&["roomsync: resyncing: ", &reason]);
                    this.last_close.set(CloseReason::ClosedByClient);
                    if let Some(connection) = this.connection.borrow().as_ref() {
                        let _ = connection.ws.close_with_code_and_reason(CLOSE_RESYNC, "resync");
                    }
                }
            }
        }
        if !rebase.is_empty() {
            Self::replay_optimistic(this, rebase);
        }
    }

    /// Re-applies every pending optimistic update, in order, on top of the room's latest
    /// results, and shows the outcome: queries an update touched (now or before) and queries
    /// in `changed` get their new displayed value.
    fn replay_optimistic(this: &Rc<Self>, changed: Vec<QueryId>) {
        let updates: Vec<Function> = this.optimistic.borrow().iter().map(|(_, f)| f.clone()).collect();
        let overlays: Rc<RefCell<HashMap<QueryId, JsValue>>> = Rc::default();
        for update in updates {
            let store = LocalStore::new(this, overlays.clone());
            report(update.call1(&JsValue::NULL, &store.object));
        }
        let new = std::mem::take(&mut *overlays.borrow_mut());
        let old = std::mem::replace(&mut *this.overlays.borrow_mut(), new);
        let mut touched: HashMap<QueryId, ()> = HashMap::new();
        for query_id in changed.into_iter().chain(old.keys()).chain(this.overlays.borrow().keys()) {
            touched.insert(query_id, ());
        }
        for query_id in touched.keys().collect::<Vec<_>>() {
            Self::show(this, query_id);
        }
    }

    /// Gives a query's listeners what it shows now: the optimistic overlay if any, else the
    /// room's result. Both are cloned out first: no borrow is held while JS runs.
    fn show(this: &Rc<Self>, query_id: QueryId) {
        let overlay = this.overlays.borrow().get(query_id).cloned();
        if let Some(value) = overlay {
            return Self::notify_js(this, query_id, &value);
        }
        let server = this.core.borrow().cached(query_id).cloned();
        if let Some(result) = server {
            Self::notify(this, query_id, &result);
        }
    }

    /// Calls every listener of a query with an already converted value.
    fn notify_js(this: &Rc<Self>, query_id: QueryId, value: &JsValue) {
        let callbacks: Vec<Function> = this
            .subscribers
            .borrow()
            .get(query_id)
            .map(|list| list.iter().map(|s| s.on_update.clone()).collect())
            .unwrap_or_default();
        let meta = update_meta(this.core.borrow().is_stale(query_id));
        for on_update in callbacks {
            report(on_update.call2(&JsValue::NULL, value, &meta));
        }
    }

    /// Calls every listener of a query with its result. Callbacks are cloned out first.
    fn notify(this: &Rc<Self>, query_id: QueryId, result: &Result<Js, ClientError>) {
        let callbacks: Vec<(Function, Option<Function>)> = this
            .subscribers
            .borrow()
            .get(query_id)
            .map(|list| list.iter().map(|s| (s.on_update.clone(), s.on_error.clone())).collect())
            .unwrap_or_default();
        let meta = update_meta(this.core.borrow().is_stale(query_id));
        for (on_update, on_error) in callbacks {
            match result {
                Ok(value) => report(on_update.call2(&JsValue::NULL, &value.0, &meta)),
                Err(error) => match on_error {
                    Some(on_error) => report(on_error.call1(&JsValue::NULL, &to_js_error(error))),
                    None => web_sys::console::error_1(&to_js_error(error)),
                },
            }
        }
    }

    /// Subscribes; returns the query id and this listener's id (both needed to unsubscribe).
    /// A listener joining a query that already has a result gets it at once.
    pub fn subscribe(
        this: &Rc<Self>,
        udf_path: &str,
        args: String,
        on_update: Function,
        on_error: Option<Function>,
    ) -> (QueryId, u32) {
        let (query_id, frame) = this.core.borrow_mut().subscribe(udf_path, args);
        let listener = this.next_subscriber.get().wrapping_add(1);
        this.next_subscriber.set(listener);
        let cached = this.core.borrow().cached(query_id).cloned();
        let subscriber = Subscriber { listener, on_update: on_update.clone(), on_error: on_error.clone() };
        this.subscribers.borrow_mut().entry_or_insert_with(query_id, Vec::new).push(subscriber);
        this.timings.borrow_mut().entry_or_insert_with(query_id, || QueryTiming {
            subscribed_at_ms: js_sys::Date::now(),
            ..QueryTiming::default()
        });
        this.send_all(frame.as_slice());
        match cached {
            Some(Ok(value)) => {
                let meta = update_meta(this.core.borrow().is_stale(query_id));
                report(on_update.call2(&JsValue::NULL, &value.0, &meta))
            }
            Some(Err(error)) => {
                if let Some(on_error) = on_error {
                    report(on_error.call1(&JsValue::NULL, &to_js_error(&error)));
                }
            }
            None => {}
        }
        (query_id, listener)
    }

    pub fn unsubscribe(this: &Rc<Self>, query_id: QueryId, listener: u32) {
        let removed = {
            let mut subscribers = this.subscribers.borrow_mut();
            let Some(list) = subscribers.get_mut(query_id) else { return };
            let Some(at) = list.iter().position(|s| s.listener == listener) else { return };
            let removed = list.remove(at);
            if list.is_empty() {
                subscribers.remove(query_id);
                this.timings.borrow_mut().remove(query_id);
            }
            removed
        };
        drop(removed);
        let frame = this.core.borrow_mut().unsubscribe(query_id);
        this.send_all(frame.as_slice());
    }

    /// Keeps a frame for devtools: its size and the start of its text.
    fn record_frame(&self, outgoing: bool, text: &str, bytes: usize) {
        let mut frames = self.frames.borrow_mut();
        if frames.len() == FRAME_RING {
            frames.pop_front();
        }
        let preview: String = text.chars().take(FRAME_PREVIEW).collect();
        frames.push_back(FrameRecord { outgoing, at_ms: js_sys::Date::now(), bytes, preview });
    }

    /// What devtools show: session, state, live queries, recent frames, connection
    /// history and the outbox.
    pub fn debug(&self) -> JsValue {
        let core = self.core.borrow();
        let timings = self.timings.borrow();
        let list = |items: Vec<JsValue>| JsValue::from(items.into_iter().collect::<js_sys::Array>());
        let num = |n: usize| JsValue::from(n as f64);
        let opt = |v: Option<f64>| v.map(JsValue::from).unwrap_or(JsValue::NULL);
        let queries = core
            .query_infos()
            .into_iter()
            .map(|q| {
                let timing = timings.get(q.query_id).copied().unwrap_or_default();
                let state = match q.ok {
                    None => "loading",
                    Some(true) => "ready",
                    Some(false) => "error",
                };
                object(&[
                    ("queryId", q.query_id.into()),
                    ("udfPath", q.udf_path.into()),
                    ("args", parse_args(&q.args)),
                    ("listeners", num(q.listeners)),
                    ("state", state.into()),
                    ("stale", q.stale.into()),
                    ("rows", num(q.rows)),
                    ("resultHash", q.hash.map(JsValue::from).unwrap_or(JsValue::NULL)),
                    ("firstResultMs", opt(timing.first_result_ms)),
                    ("lastUpdateAt", opt(timing.last_update_ms)),
                ])
            })
            .collect();
        let frames = self
            .frames
            .borrow()
            .iter()
            .map(|f| {
                object(&[
                    ("direction", if f.outgoing { "out" } else { "in" }.into()),
                    ("at", f.at_ms.into()),
                    ("bytes", num(f.bytes)),
                    ("preview", f.preview.as_str().into()),
                ])
            })
            .collect();
        let history = self
            .history
            .borrow()
            .iter()
            .map(|(s, at)| object(&[("state", s.as_str().into()), ("at", (*at).into())]))
            .collect();
        let outbox = core
            .pending()
            .filter_map(|m| match m {
                Frame::Mutation { request_id, udf_path, args } => Some(object(&[
                    ("type", "mutation".into()),
                    ("requestId", (*request_id).into()),
                    ("udfPath", udf_path.as_str().into()),
                    ("args", parse_args(args)),
                ])),
                _ => None,
            })
            .collect();
        let version = core.version();
        object(&[
            ("url", self.url.as_str().into()),
            ("sessionId", core.session_id().into()),
            ("state", self.state.get().as_str().into()),
            ("reconnectAttempts", self.attempts.get().into()),
            (
                "version",
                object(&[
                    ("querySet", version.query_set.into()),
                    ("identity", version.identity.into()),
                    ("ts", version.ts.0.to_string().into()),
                ]),
            ),
            ("subscriptions", list(queries)),
            ("frames", list(frames)),
            ("connectionHistory", list(history)),
            ("outbox", list(outbox)),
        ])
    }

    pub fn mutation(
        this: &Rc<Self>,
        udf_path: &str,
        args: String,
        optimistic_update: Option<Function>,
        resolve: Function,
        reject: Function,
    ) {
        if this.closed.get() {
            report(reject.call1(&JsValue::NULL, &js_error("CLIENT_CLOSED", "the client was closed")));
            return;
        }
        let (request_id, frame) = this.core.borrow_mut().mutation(udf_path, args);
        this.promises.borrow_mut().insert(request_id, PendingPromise { resolve, reject });
        if let Some(update) = optimistic_update {
            this.optimistic.borrow_mut().push((request_id, update));
            Self::replay_optimistic(this, Vec::new());
        }
        this.send_all(frame.as_slice());
        this.pending_changed();
    }

    /// Drops the current socket and opens a new one at once (the app knows the network
    /// changed, or wants fresh state). Results stay shown, flagged stale, until the room
    /// confirms them; unanswered mutations are re-sent.
    pub fn reconnect(this: &Rc<Self>) {
        if this.closed.get() {
            return;
        }
        if let Some(old) = this.connection.borrow_mut().take() {
            set_timeout(move || drop(old), 0);
        }
        this.heartbeat.borrow_mut().take();
        let events = this.core.borrow_mut().on_close();
        Self::dispatch(this, events);
        this.attempts.set(0);
        Self::connect(this);
    }

    pub fn close(this: &Rc<Self>) {
        if this.closed.replace(true) {
            return;
        }
        if let Some(old) = this.connection.borrow_mut().take() {
            // close() may be called from inside a callback that one of its handlers runs.
            set_timeout(move || drop(old), 0);
        }
        this.optimistic.borrow_mut().clear();
        this.overlays.borrow_mut().clear();
        let events = this.core.borrow_mut().close();
        Self::dispatch(this, events);
        let subscribers = std::mem::take(&mut *this.subscribers.borrow_mut());
        drop(subscribers);
        this.timings.borrow_mut().clear();
        this.set_state(ConnectionState::Disconnected);
        this.state_listeners.borrow_mut().clear();
        this.pending_listeners.borrow_mut().clear();
        this.heartbeat.borrow_mut().take();
        let listeners = std::mem::take(&mut *this.wake_listeners.borrow_mut());
        for l in &listeners {
            listen(&l.target, "removeEventListener", l.kind, &l.callback);
        }
        // Released on a later turn: close() may run inside one of these listeners.
        set_timeout(move || drop(listeners), 0);
    }
}

/// The view of the cached queries an optimistic update reads and edits:
/// `getQuery(udfPath, args)` and `setQuery(udfPath, args, value)`. Its functions live until
/// the update returns.
struct LocalStore {
    object: js_sys::Object,
    _get: Closure<dyn FnMut(String, JsValue) -> JsValue>,
    _get_all: Closure<dyn FnMut(JsValue) -> JsValue>,
    _set: Closure<dyn FnMut(String, JsValue, JsValue)>,
}

/// The value shown for a query: an optimistic overlay, else the room's result.
fn shown(driver: &Driver, overlays: &HashMap<QueryId, JsValue>, query_id: QueryId) -> JsValue {
    if let Some(value) = overlays.get(query_id) {
        return value.clone();
    }
    match driver.core.borrow().cached(query_id) {
        Some(Ok(value)) => value.0.clone(),
        _ => JsValue::UNDEFINED,
    }
}

impl LocalStore {
    fn new(driver: &Rc<Driver>, overlays: Rc<RefCell<HashMap<QueryId, JsValue>>>) -> Self {
        let find = {
            let weak = Rc::downgrade(driver);
            move |path: &str, args: &JsValue| -> Option<QueryId> {
                let args = crate::errors::args_to_text(args).ok()?;
                weak.upgrade()?.core.borrow().find_query(path, &args)
            }
        };
        let get = {
            let (find, overlays, weak) = (find.clone(), overlays.clone(), Rc::downgrade(driver));
            Closure::<dyn FnMut(String, JsValue) -> JsValue>::new(move |path: String, args: JsValue| {
                match (find(&path, &args), weak.upgrade()) {
                    (Some(query_id), Some(driver)) => shown(&driver, &overlays.borrow(), query_id),
                    _ => JsValue::UNDEFINED,
                }
            })
        };
        // Every live query of one function (each page of a paginated list), or of all
        // functions (automatic predictions): [{udfPath, args, value}].
        let get_all = {
            let (overlays, weak) = (overlays.clone(), Rc::downgrade(driver));
            Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |path: JsValue| {
                let out = js_sys::Array::new();
                let Some(driver) = weak.upgrade() else { return out.into() };
                let path = path.as_string();
                let infos = driver.core.borrow().query_infos();
                for info in infos.into_iter().filter(|q| path.as_ref().is_none_or(|p| *p == q.udf_path)) {
                    let value = shown(&driver, &overlays.borrow(), info.query_id);
                    out.push(&object(&[
                        ("udfPath", info.udf_path.as_str().into()),
                        ("args", parse_args(&info.args)),
                        ("value", value),
                    ]));
                }
                out.into()
            })
        };
        let set = Closure::<dyn FnMut(String, JsValue, JsValue)>::new(move |path: String, args: JsValue, value| {
            if let Some(query_id) = find(&path, &args) {
                overlays.borrow_mut().insert(query_id, value);
            }
        });
        let store = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&store, &"getQuery".into(), get.as_ref());
        let _ = js_sys::Reflect::set(&store, &"setQuery".into(), set.as_ref());
        let _ = js_sys::Reflect::set(&store, &"getAllQueries".into(), get_all.as_ref());
        let token = driver.core.borrow().token().map(JsValue::from).unwrap_or(JsValue::NULL);
        let _ = js_sys::Reflect::set(&store, &"token".into(), &token);
        Self { object: store, _get: get, _get_all: get_all, _set: set }
    }
}

/// The second argument of `onUpdate`: `{ stale }` — the value predates the current
/// connection and the room has not confirmed it yet.
fn update_meta(stale: bool) -> JsValue {
    let meta = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&meta, &"stale".into(), &stale.into());
    meta.into()
}

/// `promise.then(on_ok, on_err)`, called through `Reflect` (no typed-promise glue).
fn then(promise: &JsValue, on_ok: &JsValue, on_err: Option<&JsValue>) {
    if let Ok(then) = js_sys::Reflect::get(promise, &"then".into()).and_then(|f| f.dyn_into::<Function>()) {
        let _ = match on_err {
            Some(on_err) => then.call2(promise, on_ok, on_err),
            None => then.call1(promise, on_ok),
        };
    }
}

fn with(weak: &Weak<Driver>, f: impl FnOnce(&Rc<Driver>)) {
    if let Some(driver) = weak.upgrade() {
        f(&driver);
    }
}

fn to_js_error(error: &ClientError) -> JsValue {
    js_error(error.code.as_str(), &error.message)
}

/// Arguments kept as JSON text, as a JS value again (for devtools and `getAllQueries`).
fn parse_args(text: &str) -> JsValue {
    wire::parse_json(&JsValue::from_str(text)).unwrap_or(JsValue::UNDEFINED)
}

fn concat(parts: &[&str]) -> String {
    parts.concat()
}

/// One console warning made of `parts` (no formatting machinery).
fn warn(parts: &[&str]) {
    web_sys::console::warn_1(&concat(parts).into());
}

/// An exception thrown by an application callback must not break the client's loop.
fn report(result: Result<JsValue, JsValue>) {
    if let Err(e) = result {
        web_sys::console::error_2(&"roomsync: a callback threw:".into(), &e);
    }
}
