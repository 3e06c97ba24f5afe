//! `Core`: the shared sans-IO [`ClientCore`] (with the backoff and heartbeat rules) as the JS
//! driver (`driver.js`) sees it. Every decision lives here — which frames to send, which
//! transitions to apply, when to give up on a socket, how long to wait before the next
//! attempt; the driver only moves frames, timers and callbacks.
//!
//! Frames to send are queued by each call and taken with [`Core::take_frames`]; events come
//! back as plain JS objects (`{type: "query", queryId, value}` …).

use crate::wire::{self, object, Js};
use js_sys::Array;
use roomsync_shared::client::heartbeat::{Heartbeat, HeartbeatAction};
use roomsync_shared::client::lifecycle::Lifecycle;
use roomsync_shared::client::{AuthState, ClientCore, ClientError, ClientEvent, Credentials, Frame};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Core {
    core: ClientCore<Js>,
    lifecycle: Lifecycle,
    heartbeat: Option<Heartbeat>,
    /// Frames produced since the last `take_frames`, in order.
    out: Vec<Frame>,
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

impl Core {
    /// Queues the frame of a call and returns its id, or keeps why it was refused and
    /// returns 0.
    fn sent(&mut self, made: Result<(u32, Option<Frame>), ClientError>) -> u32 {
        match made {
            Ok((id, frame)) => {
                self.out.extend(frame);
                id
            }
            Err(e) => {
                self.refusal = Some(e);
                0
            }
        }
    }

    /// The events as JS objects; a resync or an overloaded room also decides how soon the
    /// next socket may open.
    fn events(&mut self, list: Vec<ClientEvent<Js>>) -> Array {
        for event in &list {
            match event {
                ClientEvent::ResyncRequired { .. } => self.lifecycle.closing_by_client(),
                ClientEvent::Overloaded { retry_after_ms, .. } => self.lifecycle.overloaded(*retry_after_ms),
                _ => {}
            }
        }
        list.into_iter().map(event_object).collect()
    }
}

#[wasm_bindgen]
impl Core {
    #[wasm_bindgen(constructor)]
    pub fn new(session_id: String, schema_hash: Option<String>) -> Core {
        Core {
            core: ClientCore::new(session_id).with_schema_hash(schema_hash),
            lifecycle: Lifecycle::default(),
            heartbeat: None,
            out: Vec::new(),
            refusal: None,
        }
    }

    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.core.session_id().to_string()
    }

    /// The frames to send now, as text, in order.
    #[wasm_bindgen(js_name = takeFrames)]
    pub fn take_frames(&mut self) -> Array {
        self.out.drain(..).map(|f| JsValue::from(f.to_json())).collect()
    }

    /// Subscribes (`args`: canonical JSON text); returns the query id (shared by identical
    /// subscriptions), or 0 when refused before sending (arguments over a frame: `refusal`
    /// says why). Ids start at 1; a plain number keeps the binding small.
    pub fn subscribe(&mut self, udf_path: &str, args: String) -> u32 {
        let made = self.core.subscribe(udf_path, args);
        self.sent(made)
    }

    pub fn unsubscribe(&mut self, query_id: u32) {
        self.out.extend(self.core.unsubscribe(query_id));
    }

    /// Requests a mutation (`args`: JSON text); returns its request id, or 0 when refused
    /// before sending (a call over a frame: nothing is queued; `refusal` says why).
    pub fn mutation(&mut self, udf_path: &str, args: String) -> u32 {
        let made = self.core.mutation(udf_path, args);
        self.sent(made)
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
        self.core
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
        self.core.discard(request_id)
    }

    /// The application signs in: mutations wait for a token the room accepts.
    #[wasm_bindgen(js_name = expectAuth)]
    pub fn expect_auth(&mut self) {
        self.core.expect_auth();
    }

    /// ms until the next token fetch: after the room `refused` the token (0: now), or after
    /// a fetch that failed.
    #[wasm_bindgen(js_name = tokenRetryIn)]
    pub fn token_retry_in(&mut self, refused: bool, random: f64) -> f64 {
        if refused {
            self.core.token_refused(random)
        } else {
            self.core.token_unavailable(random)
        }
    }

    /// ms until a token that expires at `expiresAtMs` should be refreshed (a minute early,
    /// never in a tight loop: `client::token_refresh_in`).
    #[wasm_bindgen(js_name = refreshIn)]
    pub fn refresh_in(&self, expires_at_ms: f64, now_ms: f64) -> f64 {
        roomsync_shared::client::token_refresh_in(expires_at_ms, now_ms)
    }

    /// ms to pause after the room throttled mutations, before `resumeSending`.
    #[wasm_bindgen(js_name = throttlePauseIn)]
    pub fn throttle_pause_in(&self, random: f64) -> f64 {
        roomsync_shared::client::throttle_pause_ms(random)
    }

    /// Signing in as the core sees it, for devtools: 0 anonymous, 1 waiting for a token,
    /// 2 waiting for the room to accept it, 3 accepted.
    #[wasm_bindgen(getter, js_name = authState)]
    pub fn auth_state(&self) -> u32 {
        match self.core.auth_state() {
            AuthState::Anonymous => 0,
            AuthState::Waiting => 1,
            AuthState::Unconfirmed => 2,
            AuthState::Confirmed => 3,
        }
    }

    /// Queues the mutations the in-flight window has room for.
    pub fn flush(&mut self) {
        let frames = self.core.flush();
        self.out.extend(frames);
    }

    #[wasm_bindgen(js_name = resumeSending)]
    pub fn resume_sending(&mut self) {
        self.core.resume_sending();
        self.flush();
    }

    /// Sets the token and who it belongs to (`owner`, read by the driver from the token), or
    /// with `undefined` signs out. Writes go out only as their owner.
    #[wasm_bindgen(js_name = setAuth)]
    pub fn set_auth(&mut self, token: Option<String>, owner: Option<String>) {
        let credentials = token.map(|token| Credentials {
            token,
            owner: owner.unwrap_or_else(|| roomsync_shared::client::UNKNOWN_SUBJECT.into()),
        });
        self.out.extend(self.core.set_auth(credentials));
    }

    #[wasm_bindgen(getter)]
    pub fn token(&self) -> Option<String> {
        self.core.token().map(str::to_string)
    }

    /// The socket opened at `now_ms`: the session, subscriptions (with hashes) and unanswered
    /// mutations are queued; the heartbeat starts.
    #[wasm_bindgen(js_name = onOpen)]
    pub fn on_open(&mut self, now_ms: f64) {
        let frames = self.core.on_open();
        self.out.extend(frames);
        self.heartbeat = Some(Heartbeat::new(now_ms));
        self.lifecycle.opened();
    }

    #[wasm_bindgen(js_name = onClose)]
    pub fn on_close(&mut self) -> Array {
        self.heartbeat = None;
        self.out.clear();
        let list = self.core.on_close();
        self.events(list)
    }

    /// Shuts down for good: no further attempts; every pending mutation fails with
    /// `CLIENT_CLOSED`.
    pub fn close(&mut self) -> Array {
        self.heartbeat = None;
        self.out.clear();
        self.lifecycle.close();
        let list = self.core.close();
        self.events(list)
    }

    /// One parsed (and frozen) frame from the room; returns the events, then queues what the
    /// answers let go out.
    pub fn receive(&mut self, frame: &JsValue, now_ms: f64) -> Array {
        if let Some(hb) = self.heartbeat.as_mut() {
            hb.on_receive(now_ms);
        }
        let list = match wire::decode(frame) {
            Ok(frame) => self.core.receive_frame(frame),
            Err(reason) => vec![ClientEvent::ResyncRequired { reason }],
        };
        self.flush();
        self.events(list)
    }

    /// Any text arrived (a `pong` too): the socket is alive.
    pub fn alive(&mut self, now_ms: f64) {
        if let Some(hb) = self.heartbeat.as_mut() {
            hb.on_receive(now_ms);
        }
    }

    /// A heartbeat tick: `"ping"` (send one), `"dead"` (close and reconnect) or `""`;
    /// [`Core::next_tick_in`] says when to tick again.
    pub fn tick(&mut self, now_ms: f64) -> String {
        match self.heartbeat.as_mut().map(|hb| hb.tick(now_ms)) {
            Some(HeartbeatAction::SendPing) => "ping".into(),
            Some(HeartbeatAction::Dead) => {
                self.lifecycle.closing_by_client();
                "dead".into()
            }
            _ => String::new(),
        }
    }

    #[wasm_bindgen(js_name = nextTickIn)]
    pub fn next_tick_in(&self, now_ms: f64) -> f64 {
        self.heartbeat.as_ref().map_or(-1.0, |hb| hb.next_tick_in(now_ms))
    }

    /// A socket is about to be opened; `false` once the client is closed.
    pub fn connecting(&mut self) -> bool {
        self.lifecycle.connecting()
    }

    /// The socket ended (or could not be opened) at `now_ms`: ms to wait before the next
    /// attempt, or -1 when the client is closed.
    pub fn ended(&mut self, now_ms: f64, random: f64) -> f64 {
        self.lifecycle.ended(now_ms, random).unwrap_or(-1.0)
    }

    /// The browser came online or the tab became visible: connect now?
    pub fn wake(&self, hidden: bool, has_socket: bool) -> bool {
        self.lifecycle.wake(hidden, has_socket)
    }

    /// `reconnect()`: the next socket counts as a first attempt.
    pub fn restart(&mut self) {
        self.lifecycle.restart();
    }

    /// `Disconnected`, `Connecting`, `Connected` or `Reconnecting`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.lifecycle.state().as_str().into()
    }

    #[wasm_bindgen(getter)]
    pub fn attempts(&self) -> u32 {
        self.lifecycle.attempts()
    }

    #[wasm_bindgen(getter, js_name = nextRetryAt)]
    pub fn next_retry_at(&self) -> Option<f64> {
        self.lifecycle.next_retry_at()
    }

    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.lifecycle.is_closed()
    }

    /// The held result of a query: `{value}`, `{code, message}`, or undefined while it loads.
    pub fn cached(&self, query_id: u32) -> JsValue {
        self.core.cached(query_id).map_or(JsValue::UNDEFINED, |r| result_event("result", query_id, r))
    }

    #[wasm_bindgen(js_name = isStale)]
    pub fn is_stale(&self, query_id: u32) -> bool {
        self.core.is_stale(query_id)
    }

    /// The live query for this function and canonical argument text, if any.
    #[wasm_bindgen(js_name = findQuery)]
    pub fn find_query(&self, udf_path: &str, args: &str) -> Option<u32> {
        self.core.find_query(udf_path, args)
    }

    /// `[{queryId, udfPath, args (JSON text), listeners, stale, ok, rows, hash}]`.
    #[wasm_bindgen(js_name = queryInfos)]
    pub fn query_infos(&self) -> Array {
        self.core
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
        self.core
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
        self.core.pending_mutations() as u32
    }

    /// The outbox to persist (JSON text), or undefined when nothing is pending.
    #[wasm_bindgen(js_name = outboxJson)]
    pub fn outbox_json(&self) -> Option<String> {
        let outbox = self.core.outbox();
        (!outbox.is_empty()).then(|| outbox.to_json())
    }

    /// Continues a saved session (`{sessionId, nextRequestId, pending: [{requestId, udfPath,
    /// args: JSON text}]}`); returns `[[old id, new id]]` for mutations made meanwhile. Throws
    /// a message when the outbox is not well formed.
    pub fn restore(&mut self, saved: &JsValue) -> Result<Array, JsValue> {
        let outbox = wire::decode_outbox(saved).map_err(JsValue::from)?;
        let renumbered = self.core.restore(outbox).map_err(JsValue::from)?;
        Ok(renumbered
            .into_iter()
            .map(|(old, new)| JsValue::from([JsValue::from(old), JsValue::from(new)].into_iter().collect::<Array>()))
            .collect())
    }

    /// `{querySet, identity, ts}` of the results held.
    pub fn version(&self) -> JsValue {
        let v = self.core.version();
        object(&[
            ("querySet", v.query_set.into()),
            ("identity", v.identity.into()),
            ("ts", roomsync_shared::model::number_text::decimal(v.ts.0).into()),
        ])
    }
}
