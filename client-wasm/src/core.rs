//! `Core`: the shared sans-IO client [`Session`] (queries, outbox, owners, lifecycle,
//! heartbeat, signing in) as the JS driver (`driver.js`) sees it. Every decision lives in the
//! session — which frames to send, when a socket starts, when it is dead, how long to wait
//! before the next attempt or token fetch, when to stop; the driver reports what happened
//! and carries out the effects ([`Core::take_effects`]): sockets, timers, token fetches,
//! callbacks.
//!
//! Events for the application come back as plain JS objects (`{type: "query", id, value}` …),
//! effects too (`{type: "arm", id: timer, value: ms}` …).

use crate::wire::{self, object, Js};
use js_sys::Array;
use roomsync_shared::client::session::{Effect, Session, Timer};
use roomsync_shared::client::{AuthState, ClientCore, ClientError, ClientEvent, Credentials, Frame};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Core {
    session: Session<Js>,
    /// Why the last `subscribe` / `mutation` returned 0 (refused before sending).
    refusal: Option<ClientError>,
}

#[wasm_bindgen(module = "/src/driver.js")]
extern "C" {
    /// `{type, id, value, code, message}` (one call per event: cheaper than property sets).
    #[wasm_bindgen(js_name = makeEvent)]
    fn make_event(kind: &str, id: f64, value: &JsValue, code: Option<&str>, message: Option<&str>) -> JsValue;
    /// `{requestId, udfPath, args, code, message}`: a refused mutation kept in the outbox.
    #[wasm_bindgen(js_name = makeFailed)]
    fn make_failed(request_id: u32, udf_path: &str, args: &str, code: &str, message: &str) -> JsValue;
    #[wasm_bindgen(js_name = makeInfo)]
    #[allow(clippy::too_many_arguments)]
    fn make_info(
        query_id: u32,
        udf_path: &str,
        args: &str,
        listeners: u32,
        stale: bool,
        ok: JsValue,
        rows: u32,
        hash: Option<String>,
    ) -> JsValue;
}

/// A result as the driver reports it: `{value}`, or `{code, message}` for an error.
fn result_event(kind: &str, id: u32, result: &Result<Js, ClientError>) -> JsValue {
    match result {
        Ok(value) => make_event(kind, id.into(), &value.0, None, None),
        Err(e) => make_event(kind, id.into(), &JsValue::UNDEFINED, Some(e.code.as_str()), Some(&e.message)),
    }
}

fn event_object(event: ClientEvent<Js>) -> JsValue {
    let none = JsValue::UNDEFINED;
    match event {
        ClientEvent::Query { query_id, result } => result_event("query", query_id, &result),
        ClientEvent::Mutation { request_id, result } => result_event("mutation", request_id, &result),
        ClientEvent::QueryConfirmed { query_id } => make_event("confirmed", query_id.into(), &none, None, None),
        ClientEvent::ServerError { code, message } => {
            make_event("serverError", 0.0, &none, Some(code.as_str()), Some(&message))
        }
        ClientEvent::AuthFailed { message } => make_event("authFailed", 0.0, &none, None, Some(&message)),
        ClientEvent::Authenticated => make_event("authenticated", 0.0, &none, None, None),
        ClientEvent::Overloaded { retry_after_ms, message } => {
            make_event("overloaded", retry_after_ms as f64, &none, None, Some(&message))
        }
        ClientEvent::MutationsThrottled => make_event("throttled", 0.0, &none, None, None),
        ClientEvent::ResyncRequired { reason } => make_event("resync", 0.0, &none, None, Some(&reason)),
    }
}

fn effect_object(effect: Effect) -> JsValue {
    let none = JsValue::UNDEFINED;
    let event = |kind: &str, id: f64, value: &JsValue| make_event(kind, id, value, None, None);
    match effect {
        Effect::Open => event("open", 0.0, &none),
        Effect::Drop => event("drop", 0.0, &none),
        Effect::Send(frame) => event("send", 0.0, &frame.to_json().into()),
        Effect::Ping => event("ping", 0.0, &none),
        Effect::FetchToken { force, generation } => event("fetch", generation.into(), &force.into()),
        Effect::Arm { timer, in_ms } => event("arm", timer.index().into(), &in_ms.into()),
        Effect::Disarm(timer) => event("disarm", timer.index().into(), &none),
        Effect::Live => event("live", 0.0, &none),
        Effect::AuthChanged(accepted) => event("auth", 0.0, &accepted.into()),
        Effect::Warn(message) => make_event("warn", 0.0, &none, None, Some(&message)),
        Effect::Stop(message) => make_event("stop", 0.0, &none, None, Some(&message)),
    }
}

impl Core {
    /// The id of a call, or 0 with why it was refused kept.
    fn made(&mut self, made: Result<u32, ClientError>) -> u32 {
        made.unwrap_or_else(|e| {
            self.refusal = Some(e);
            0
        })
    }

    fn events(list: Vec<ClientEvent<Js>>) -> Array {
        list.into_iter().map(event_object).collect()
    }
}

#[wasm_bindgen]
impl Core {
    #[wasm_bindgen(constructor)]
    pub fn new(session_id: String, schema_hash: Option<String>) -> Core {
        Core { session: Session::new(ClientCore::new(session_id).with_schema_hash(schema_hash)), refusal: None }
    }

    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.session.core().session_id().to_string()
    }

    /// What the driver must do now, in order: `{type: "open" | "drop" | "send" (value: frame
    /// text) | "ping" | "fetch" (id: generation, value: force) | "arm" (id: timer, value: ms) |
    /// "disarm" (id: timer) | "live" | "auth" (value: accepted) | "warn" | "stop" (message)}`.
    #[wasm_bindgen(js_name = takeEffects)]
    pub fn take_effects(&mut self) -> Array {
        self.session.take_effects().into_iter().map(effect_object).collect()
    }

    /// Starts connecting.
    pub fn start(&mut self) {
        self.session.start();
    }

    /// Subscribes (`args`: canonical JSON text); returns the query id (shared by identical
    /// subscriptions), or 0 when refused before sending (arguments over a frame: `refusal`
    /// says why). Ids start at 1; a plain number keeps the binding small.
    pub fn subscribe(&mut self, udf_path: &str, args: String) -> u32 {
        let made = self.session.subscribe(udf_path, args);
        self.made(made)
    }

    pub fn unsubscribe(&mut self, query_id: u32) {
        self.session.unsubscribe(query_id);
    }

    /// Requests a mutation (`args`: JSON text); returns its request id, or 0 when refused
    /// before sending (a call over a frame: nothing is queued; `refusal` says why).
    pub fn mutation(&mut self, udf_path: &str, args: String) -> u32 {
        let made = self.session.mutation(udf_path, args);
        self.made(made)
    }

    /// `{code, message}` of the last call refused before sending.
    pub fn refusal(&self) -> JsValue {
        let none = JsValue::UNDEFINED;
        self.refusal
            .as_ref()
            .map_or(none.clone(), |e| make_event("refused", 0.0, &none, Some(e.code.as_str()), Some(&e.message)))
    }

    /// Refused mutations kept until discarded: `[{requestId, udfPath, args (JSON text), code,
    /// message}]`.
    pub fn failed(&self) -> Array {
        self.session
            .core()
            .failed()
            .filter_map(|f| match &f.frame {
                Frame::Mutation { request_id, udf_path, args } => {
                    Some(make_failed(*request_id, udf_path, args, f.error.code.as_str(), &f.error.message))
                }
                _ => None,
            })
            .collect()
    }

    pub fn discard(&mut self, request_id: u32) -> bool {
        self.session.discard(request_id)
    }

    /// The application signs in with a token fetcher: a fetch is asked for now.
    #[wasm_bindgen(js_name = signIn)]
    pub fn sign_in(&mut self) {
        self.session.sign_in();
    }

    /// The application signs out.
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&mut self, now_ms: f64) {
        self.session.sign_out(now_ms);
    }

    /// The fetch of `generation` resolved: a token (with who it belongs to, read by the
    /// driver from the token, and its expiry if it has one), or none (signed out).
    #[wasm_bindgen(js_name = tokenFetched)]
    pub fn token_fetched(
        &mut self,
        generation: u32,
        token: Option<String>,
        owner: Option<String>,
        expires_at_ms: Option<f64>,
        now_ms: f64,
    ) {
        let credentials = token.map(|token| Credentials {
            token,
            owner: owner.unwrap_or_else(|| roomsync_shared::client::UNKNOWN_SUBJECT.into()),
        });
        self.session.token_fetched(generation, credentials, expires_at_ms, now_ms);
    }

    /// The fetch of `generation` threw or rejected: ms until it is tried again (-1: an
    /// earlier sign-in's, ignored).
    #[wasm_bindgen(js_name = tokenFailed)]
    pub fn token_failed(&mut self, generation: u32, random: f64) -> f64 {
        self.session.token_failed(generation, random).unwrap_or(-1.0)
    }

    /// Signing in as the core sees it, for devtools: 0 anonymous, 1 waiting for a token,
    /// 2 waiting for the room to accept it, 3 accepted.
    #[wasm_bindgen(getter, js_name = authState)]
    pub fn auth_state(&self) -> u32 {
        match self.session.core().auth_state() {
            AuthState::Anonymous => 0,
            AuthState::Waiting => 1,
            AuthState::Unconfirmed => 2,
            AuthState::Confirmed => 3,
        }
    }

    #[wasm_bindgen(getter)]
    pub fn token(&self) -> Option<String> {
        self.session.core().token().map(str::to_string)
    }

    /// The saved outbox is being read (`true`), or was read (`false`).
    #[wasm_bindgen(js_name = outboxLoading)]
    pub fn outbox_loading(&mut self, loading: bool, now_ms: f64) {
        self.session.outbox_loading(loading, now_ms);
    }

    /// The socket opened.
    #[wasm_bindgen(js_name = socketOpened)]
    pub fn socket_opened(&mut self, now_ms: f64) {
        self.session.socket_opened(now_ms);
    }

    /// The socket closed, failed or could not be opened.
    #[wasm_bindgen(js_name = socketClosed)]
    pub fn socket_closed(&mut self, now_ms: f64, random: f64) -> Array {
        let list = self.session.socket_closed(now_ms, random);
        Self::events(list)
    }

    /// One parsed (and frozen) frame from the room (`undefined`: text that is not JSON) and
    /// its text's length (the core acknowledges what it read); returns the events for the
    /// application.
    pub fn receive(&mut self, frame: &JsValue, size: usize, now_ms: f64, random: f64) -> Array {
        let decoded = match frame.is_undefined() {
            true => Err("a frame from the room is not JSON".to_string()),
            false => wire::decode(frame),
        };
        let list = self.session.received(decoded, size, now_ms, random);
        Self::events(list)
    }

    /// Any text arrived (a `pong` too): the socket is alive.
    pub fn alive(&mut self, now_ms: f64) {
        self.session.alive(now_ms);
    }

    /// The timer numbered `timer` (from an `arm` effect) fired.
    pub fn timer(&mut self, timer: u32, now_ms: f64, random: f64) -> Array {
        let list = Timer::from_index(timer).map(|t| self.session.timer(t, now_ms, random)).unwrap_or_default();
        Self::events(list)
    }

    /// The browser came online or the tab became visible (`hidden`: still hidden).
    pub fn wake(&mut self, hidden: bool) {
        self.session.wake(hidden);
    }

    /// `reconnect()`: drop the socket and open one now, as a first attempt.
    pub fn reconnect(&mut self) -> Array {
        let list = self.session.reconnect();
        Self::events(list)
    }

    /// Shuts down for good: no further attempts; every pending mutation fails with
    /// `CLIENT_CLOSED`.
    pub fn close(&mut self) -> Array {
        let list = self.session.close();
        Self::events(list)
    }

    /// `Disconnected`, `Connecting`, `Connected` or `Reconnecting`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.session.lifecycle().state().as_str().into()
    }

    #[wasm_bindgen(getter)]
    pub fn attempts(&self) -> u32 {
        self.session.lifecycle().attempts()
    }

    #[wasm_bindgen(getter, js_name = nextRetryAt)]
    pub fn next_retry_at(&self) -> Option<f64> {
        self.session.lifecycle().next_retry_at()
    }

    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.session.lifecycle().is_closed()
    }

    /// The held result of a query: `{value}`, `{code, message}`, or undefined while it loads.
    pub fn cached(&self, query_id: u32) -> JsValue {
        self.session.core().cached(query_id).map_or(JsValue::UNDEFINED, |r| result_event("result", query_id, r))
    }

    #[wasm_bindgen(js_name = isStale)]
    pub fn is_stale(&self, query_id: u32) -> bool {
        self.session.core().is_stale(query_id)
    }

    /// The live query for this function and canonical argument text, if any.
    #[wasm_bindgen(js_name = findQuery)]
    pub fn find_query(&self, udf_path: &str, args: &str) -> Option<u32> {
        self.session.core().find_query(udf_path, args)
    }

    /// `[{queryId, udfPath, args (JSON text), listeners, stale, ok, rows, hash}]`.
    #[wasm_bindgen(js_name = queryInfos)]
    pub fn query_infos(&self) -> Array {
        self.session
            .core()
            .query_infos()
            .into_iter()
            .map(|q| {
                let ok = q.ok.map_or(JsValue::NULL, JsValue::from);
                make_info(q.query_id, &q.udf_path, &q.args, q.listeners as u32, q.stale, ok, q.rows as u32, q.hash)
            })
            .collect()
    }

    /// Unanswered mutations: `[{id, value: udfPath, message: args (JSON text)}]`.
    pub fn pending(&self) -> Array {
        self.session
            .core()
            .pending()
            .filter_map(|frame| match frame {
                Frame::Mutation { request_id, udf_path, args } => {
                    Some(make_event("mutation", (*request_id).into(), &udf_path.as_str().into(), None, Some(args)))
                }
                _ => None,
            })
            .collect()
    }

    #[wasm_bindgen(getter, js_name = pendingCount)]
    pub fn pending_count(&self) -> u32 {
        self.session.core().pending_mutations() as u32
    }

    /// The outbox to persist (JSON text), or undefined when nothing is pending.
    #[wasm_bindgen(js_name = outboxJson)]
    pub fn outbox_json(&self) -> Option<String> {
        let outbox = self.session.core().outbox();
        (!outbox.is_empty()).then(|| outbox.to_json())
    }

    /// Continues a saved session (`{sessionId, nextRequestId, pending: [{requestId, udfPath,
    /// args: JSON text}]}`); returns `[[old id, new id]]` for mutations made meanwhile. Throws
    /// a message when the outbox is not well formed.
    pub fn restore(&mut self, saved: &JsValue) -> Result<Array, JsValue> {
        let outbox = wire::decode_outbox(saved).map_err(JsValue::from)?;
        let renumbered = self.session.restore(outbox).map_err(JsValue::from)?;
        Ok(renumbered
            .into_iter()
            .map(|(old, new)| JsValue::from([JsValue::from(old), JsValue::from(new)].into_iter().collect::<Array>()))
            .collect())
    }

    /// `{querySet, identity, ts}` of the results held.
    pub fn version(&self) -> JsValue {
        let v = self.session.core().version();
        object(&[
            ("querySet", v.query_set.into()),
            ("identity", v.identity.into()),
            ("ts", roomsync_shared::model::number_text::decimal(v.ts.0).into()),
        ])
    }
}
