//! Roomsync's browser client: `SyncClient`.
//!
//! Two halves: [`core::Core`] — the shared sans-IO client core with the backoff and heartbeat
//! rules, compiled to WASM: every decision — and `driver.js`, the browser glue that moves
//! frames, timers and callbacks (WebSocket, `setTimeout`, IndexedDB, listeners). `SyncClient`
//! validates what it is given (URL, options) and hands the calls to the driver.
//!
//! The glue is JavaScript because it is glue: as Rust behind wasm-bindgen it was half of the
//! client's WASM. Results never enter WASM memory either: frames are parsed by the browser's
//! `JSON.parse` and the core works on the JS values ([`wire`]).

mod core;
mod errors;
mod wire;

// SAFETY: the client runs on the page's one thread (no shared-memory workers touch it).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use crate::core::Core;
use errors::js_error;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The connection lifecycle. */
export type ConnectionState = "Disconnected" | "Connecting" | "Connected" | "Reconnecting";

/** Options for `new SyncClient(url, options)`. */
export interface SyncClientOptions {
  /** The room (tenant) to join, unless the URL already ends in `/rooms/<room>/sync`. */
  room?: string;
  /** `schemaHash` from the generated schema types: a room running another schema refuses
   *  the client with SCHEMA_MISMATCH (reload to get the matching build) instead of serving
   *  data the app would misread. */
  schemaHash?: string;
  /** Keep unanswered mutations in IndexedDB so a page reload loses none (default true).
   *  After a reload the client continues the same session and re-sends them first; the room
   *  applies each exactly once. Their promises are gone with the old page, but their effects
   *  reach every subscription. */
  offlineOutbox?: boolean;
}

/** Errors thrown or rejected by the client carry a stable `code`. */
export interface SyncError extends Error {
  code: "INVALID_URL" | "UNSUPPORTED_SCHEME" | "MISSING_HOST" | "BAD_PATH" | "MISSING_ROOM"
      | "ROOM_MISMATCH" | "INVALID_ROOM" | "INVALID_ARGS" | "VALIDATION" | "UNKNOWN_FUNCTION"
      | "BAD_FRAME" | "BAD_QUERY_ID" | "NOT_FOUND" | "UNIQUE_VIOLATION" | "APPLICATION" | "BAD_QUERY"
      | "TOO_MANY_READS" | "LIMIT_EXCEEDED" | "PROTOCOL_MISMATCH" | "SCHEMA_MISMATCH" | "INTERNAL"
      | "UNAUTHENTICATED" | "FORBIDDEN" | "OVERLOADED" | "CLIENT_CLOSED";
}

/** Returns a token (a JWT for this room, from your auth server), or null when signed out.
 *  `forceRefresh` is true when the cached token was refused or is about to expire. */
export type FetchToken = (options: { forceRefresh: boolean }) => Promise<string | null | undefined>;

/** Reads and edits cached query results inside an optimistic update. */
export interface OptimisticLocalStore {
  /** The result currently shown for this query, or undefined if it is not subscribed/loaded. */
  getQuery(udfPath: string, args: unknown): any;
  /** Shows `value` for this query until the mutation is answered (ignored if not subscribed). */
  setQuery(udfPath: string, args: unknown, value: unknown): void;
  /** Every live query of one function (e.g. each page of a paginated list). */
  /** Every live query of one function (each page of a paginated list), or of every function
   *  when `udfPath` is omitted. `value` is undefined while a query loads. */
  getAllQueries(udfPath?: string): Array<{ udfPath: string; args: any; value: any }>;
  /** The token the client signed in with (for predictions that run the functions' access
   *  rules as the room will), or null. */
  token: string | null;
}

export interface MutationOptions {
  optimisticUpdate?: (localStore: OptimisticLocalStore) => void;
}

/** What `client.debug()` returns (devtools). Times are ms since the epoch. */
export interface DebugInfo {
  url: string;
  sessionId: string;
  state: ConnectionState;
  reconnectAttempts: number;
  /** When the next reconnect attempt is due (ms since the epoch), or null. */
  nextRetryAt: number | null;
  version: { querySet: number; identity: number; ts: string };
  subscriptions: Array<{
    queryId: number; udfPath: string; args: unknown; listeners: number;
    state: "loading" | "ready" | "error"; stale: boolean; rows: number; resultHash: string | null;
    /** Round trip from subscribing to the first result, in ms. */
    firstResultMs: number | null; lastUpdateAt: number | null;
  }>;
  frames: Array<{ direction: "in" | "out"; at: number; bytes: number; preview: string }>;
  connectionHistory: Array<{ state: ConnectionState; at: number }>;
  outbox: Array<{ type: "mutation"; requestId: number; udfPath: string; args: unknown }>;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "SyncClientOptions")]
    pub type SyncClientOptions;
    #[wasm_bindgen(typescript_type = "ConnectionState")]
    pub type ConnectionStateJs;
    #[wasm_bindgen(typescript_type = "(result: any, meta: { stale: boolean }) => void")]
    pub type OnUpdate;
    #[wasm_bindgen(typescript_type = "(error: SyncError) => void")]
    pub type OnError;
    #[wasm_bindgen(typescript_type = "(state: ConnectionState) => void")]
    pub type OnStateChange;
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type Unsubscribe;
    #[wasm_bindgen(typescript_type = "Promise<any>")]
    pub type MutationPromise;
    #[wasm_bindgen(typescript_type = "(pendingMutations: number) => void")]
    pub type OnPendingChange;
    #[wasm_bindgen(typescript_type = "MutationOptions")]
    pub type MutationOptions;
    #[wasm_bindgen(typescript_type = "DebugInfo")]
    pub type DebugInfo;
    #[wasm_bindgen(typescript_type = "FetchToken")]
    pub type FetchToken;
    #[wasm_bindgen(typescript_type = "(isAuthenticated: boolean) => void")]
    pub type OnAuthChange;
}

#[wasm_bindgen(module = "/src/driver.js")]
extern "C" {
    /// The browser glue (see `driver.js`).
    type Driver;
    #[wasm_bindgen(constructor)]
    fn new(core: Core, url: &str, persist_outbox: bool) -> Driver;
    #[wasm_bindgen(method, getter, js_name = connectionState)]
    fn connection_state(this: &Driver) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = reconnectAttempts)]
    fn reconnect_attempts(this: &Driver) -> u32;
    #[wasm_bindgen(method, getter, js_name = pendingMutations)]
    fn pending_mutations(this: &Driver) -> u32;
    #[wasm_bindgen(method, getter, js_name = nextRetryAt)]
    fn next_retry_at(this: &Driver) -> Option<f64>;
    #[wasm_bindgen(method)]
    fn debug(this: &Driver) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = onPendingMutationsChange)]
    fn on_pending_mutations_change(this: &Driver, callback: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = onConnectionStateChange)]
    fn on_connection_state_change(this: &Driver, callback: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn subscribe(
        this: &Driver,
        udf_path: &str,
        args: JsValue,
        on_update: JsValue,
        on_error: JsValue,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn mutation(this: &Driver, udf_path: &str, args: JsValue, options: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setAuth)]
    fn set_auth(this: &Driver, fetch_token: JsValue, on_change: JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_name = clearAuth)]
    fn clear_auth(this: &Driver);
    #[wasm_bindgen(method)]
    fn reconnect(this: &Driver);
    #[wasm_bindgen(method)]
    fn close(this: &Driver);
}

/// A live connection to one Roomsync room.
#[wasm_bindgen]
pub struct SyncClient {
    url: String,
    driver: Driver,
}

/// A string option, if given; `code` names the error when it is not a string.
fn string_option(options: &JsValue, name: &str, code: &str) -> Result<Option<String>, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    let value = js_sys::Reflect::get(options, &name.into())?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| js_error(code, &["options.", name, " must be a string"].concat()))
}

/// 128 bits from the browser's `crypto.getRandomValues` (falls back to `Math.random` where
/// there is no Web Crypto, e.g. an old test runner: session ids need uniqueness, not secrecy).
fn random_u128() -> u128 {
    let from_crypto = || -> Result<u128, JsValue> {
        let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())?;
        let fill: js_sys::Function = js_sys::Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
        let bytes = js_sys::Uint8Array::new_with_length(16);
        fill.call1(&crypto, &bytes)?;
        let mut buf = [0u8; 16];
        bytes.copy_to(&mut buf);
        Ok(u128::from_le_bytes(buf))
    };
    from_crypto().unwrap_or_else(|_| {
        let part = || (js_sys::Math::random() * 9_007_199_254_740_992.0) as u128;
        (part() << 75) ^ (part() << 22) ^ part()
    })
}

#[wasm_bindgen]
impl SyncClient {
    /// Validates `url` and starts connecting. Throws a `SyncError` naming the problem
    /// (`INVALID_URL`, `UNSUPPORTED_SCHEME`, `MISSING_HOST`, `BAD_PATH`, `MISSING_ROOM`, …).
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str, options: Option<SyncClientOptions>) -> Result<SyncClient, JsValue> {
        let options = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        let room = string_option(&options, "room", "INVALID_ROOM")?;
        let schema_hash = string_option(&options, "schemaHash", "INVALID_ARGS")?;
        let persist = match (options.is_object()).then(|| js_sys::Reflect::get(&options, &"offlineOutbox".into())) {
            Some(Ok(value)) if !value.is_undefined() => {
                value.as_bool().ok_or_else(|| js_error("INVALID_ARGS", "options.offlineOutbox must be a boolean"))?
            }
            _ => true,
        };
        let url =
            roomsync_shared::endpoint::sync_url(url, room.as_deref()).map_err(|e| js_error(e.code(), &e.message()))?;
        let session_id = roomsync_shared::ids::encode_base32(random_u128());
        let driver = Driver::new(Core::new(session_id, schema_hash), &url, persist);
        Ok(SyncClient { url, driver })
    }

    /// For optional realtime: returns `null` instead of throwing when `url` is missing or
    /// invalid, and logs one console warning explaining why.
    #[wasm_bindgen(js_name = tryNew)]
    pub fn try_new(url: Option<String>, options: Option<SyncClientOptions>) -> Option<SyncClient> {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            web_sys::console::info_1(&"roomsync: no sync URL configured; realtime updates are off".into());
            return None;
        };
        match SyncClient::new(&url, options) {
            Ok(client) => Some(client),
            Err(e) => {
                let message =
                    js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default();
                web_sys::console::warn_1(&["roomsync: realtime updates are off: ", &message].concat().into());
                None
            }
        }
    }

    /// The room's WebSocket URL this client connects to.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `Disconnected`, `Connecting`, `Connected` or `Reconnecting`.
    #[wasm_bindgen(getter, js_name = connectionState)]
    pub fn connection_state(&self) -> ConnectionStateJs {
        self.driver.connection_state().unchecked_into()
    }

    /// Reconnect attempts since the last successful connection.
    #[wasm_bindgen(getter, js_name = reconnectAttempts)]
    pub fn reconnect_attempts(&self) -> u32 {
        self.driver.reconnect_attempts()
    }

    /// When the next reconnect attempt is due (ms since the epoch) while the client waits to
    /// reconnect, else `undefined` (for a "retrying in 4 s" message).
    #[wasm_bindgen(getter, js_name = nextRetryAt)]
    pub fn next_retry_at(&self) -> Option<f64> {
        self.driver.next_retry_at()
    }

    /// Mutations sent or queued that have no answer yet ("all changes saved" when 0).
    #[wasm_bindgen(getter, js_name = pendingMutations)]
    pub fn pending_mutations(&self) -> u32 {
        self.driver.pending_mutations()
    }

    /// Whether any mutation awaits its answer (for an "all changes saved" indicator).
    #[wasm_bindgen(getter, js_name = hasPendingWrites)]
    pub fn has_pending_writes(&self) -> bool {
        self.driver.pending_mutations() > 0
    }

    /// What devtools show: `{url, sessionId, state, reconnectAttempts, version,
    /// subscriptions: [{queryId, udfPath, args, listeners, state, stale, rows, resultHash,
    /// firstResultMs, lastUpdateAt}], frames: [{direction, at, bytes, preview}] (the last 200),
    /// connectionHistory: [{state, at}], outbox: [mutation frames]}`.
    pub fn debug(&self) -> DebugInfo {
        self.driver.debug().unchecked_into()
    }

    /// Calls `callback` with the number of unanswered mutations whenever it changes (an
    /// "all changes saved" indicator); returns an unsubscribe function.
    #[wasm_bindgen(js_name = onPendingMutationsChange)]
    pub fn on_pending_mutations_change(&self, callback: OnPendingChange) -> Result<Unsubscribe, JsValue> {
        Ok(self.driver.on_pending_mutations_change(callback.into())?.unchecked_into())
    }

    /// Calls `callback` with the new state on every change; returns an unsubscribe function.
    #[wasm_bindgen(js_name = onConnectionStateChange)]
    pub fn on_connection_state_change(&self, callback: OnStateChange) -> Result<Unsubscribe, JsValue> {
        Ok(self.driver.on_connection_state_change(callback.into())?.unchecked_into())
    }

    /// Subscribes to a query. `onUpdate(result, {stale})` is called with every new result
    /// (first with the current one), and again with `stale: true` when a reconnect leaves
    /// the result unconfirmed and `stale: false` once the room confirms it; `onError` with a
    /// `SyncError` if the query fails. Results are shared and deep-frozen (copy before
    /// sorting in place). Returns a function that unsubscribes and releases both callbacks.
    pub fn subscribe(
        &self,
        udf_path: &str,
        args: JsValue,
        on_update: OnUpdate,
        on_error: Option<OnError>,
    ) -> Result<Unsubscribe, JsValue> {
        let on_error = on_error.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        Ok(self.driver.subscribe(udf_path, args, on_update.into(), on_error)?.unchecked_into())
    }

    /// Runs a mutation. Resolves with its result once the update it caused has been
    /// applied to this client's subscriptions; rejects with a `SyncError`.
    ///
    /// `options.optimisticUpdate(localStore)` shows the write at once: it reads and edits
    /// cached results with `localStore.getQuery(udfPath, args)` and
    /// `localStore.setQuery(udfPath, args, value)`. It is re-applied on top of every new
    /// result from the room until the room answers this mutation, then dropped (the room's
    /// results already hold the write by then; on failure the guess simply disappears).
    pub fn mutation(
        &self,
        udf_path: &str,
        args: JsValue,
        options: Option<MutationOptions>,
    ) -> Result<MutationPromise, JsValue> {
        let options = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        Ok(self.driver.mutation(udf_path, args, options)?.unchecked_into())
    }

    /// Signs in: `fetchToken` is called now, again a minute before the token expires, and
    /// (with `forceRefresh: true`) when the room refuses it. Until the first token arrives
    /// nothing is sent, so no query runs signed out. Live subscriptions stay across sign-in,
    /// refresh and sign-out; the room re-runs them under the new identity. `onChange` hears
    /// whether the room accepted the identity.
    #[wasm_bindgen(js_name = setAuth)]
    pub fn set_auth(&self, fetch_token: FetchToken, on_change: Option<OnAuthChange>) -> Result<(), JsValue> {
        let on_change = on_change.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        self.driver.set_auth(fetch_token.into(), on_change)
    }

    /// Signs out (queries re-run signed out; only public functions answer).
    #[wasm_bindgen(js_name = clearAuth)]
    pub fn clear_auth(&self) {
        self.driver.clear_auth();
    }

    /// Drops the socket and reconnects now: results stay (flagged stale until the room
    /// confirms them by hash), unanswered mutations are re-sent exactly once.
    pub fn reconnect(&self) {
        self.driver.reconnect();
    }

    /// Closes the connection for good: pending mutations reject with `CLIENT_CLOSED`, all
    /// callbacks are released, no reconnect follows.
    pub fn close(&self) {
        self.driver.close();
    }
}
