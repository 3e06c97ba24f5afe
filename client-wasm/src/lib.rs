//! Roomsync's browser client: `SyncClient`.
//!
//! Two halves: [`core::Core`] — the shared sans-IO client core with the backoff and heartbeat
//! rules, compiled to WASM: every decision — and `driver.js`, the browser glue that moves
//! frames, timers and callbacks (WebSocket, `setTimeout`, IndexedDB, listeners). The package's
//! entry (`js/index.js`) makes `new SyncClient(url, options)` call [`connect`], which has the
//! driver check the options' types (`readOptions`), validates the URL and room here (the
//! rules the worker shares) and returns the started driver: the object applications use.
//!
//! The glue is JavaScript because it is glue: as Rust behind wasm-bindgen it was half of the
//! client's WASM, and forwarding each method from a Rust class to it cost as much again.
//! Results never enter WASM memory either: frames are parsed by the browser's `JSON.parse` and
//! the core works on the JS values ([`wire`]).

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

/** A live connection to one Roomsync room. Exported by the package's entry (`index.js`). */
export declare class SyncClient {
  /** Validates `url` and starts connecting. Throws a `SyncError` naming the problem
   *  (`INVALID_URL`, `UNSUPPORTED_SCHEME`, `MISSING_HOST`, `BAD_PATH`, `MISSING_ROOM`, …). */
  constructor(url: string, options?: SyncClientOptions);
  /** For optional realtime: `null` instead of throwing when `url` is missing or invalid (one
   *  console message says why). */
  static tryNew(url?: string | null, options?: SyncClientOptions): SyncClient | null;
  /** The room's WebSocket URL this client connects to. */
  readonly url: string;
  readonly connectionState: ConnectionState;
  /** Reconnect attempts since the last successful connection. */
  readonly reconnectAttempts: number;
  /** When the next reconnect attempt is due (ms since the epoch) while waiting, else null. */
  readonly nextRetryAt: number | null;
  /** Mutations sent or queued that have no answer yet (including those waiting for a token
   *  the room accepts). "All changes saved" means this is 0 and `failedMutations` is empty. */
  readonly pendingMutations: number;
  readonly hasPendingWrites: boolean;
  /** Mutations the room refused for good (validation, a role rule, …) or too large to send:
   *  their promises rejected; they are kept, across reloads, until discarded or retried. */
  readonly failedMutations: FailedMutation[];
  /** Forgets a refused mutation; false if there is none with this id. */
  discardFailedMutation(requestId: number): boolean;
  /** Sends a refused mutation again, as a new request; settles like `mutation`. */
  retryFailedMutation(requestId: number): Promise<any>;
  /** What devtools show (queries, the last 200 frames, connection history, outbox). */
  debug(): DebugInfo;
  /** Called with the number of unanswered mutations whenever it or `failedMutations`
   *  changes; returns an unsubscribe function. */
  onPendingMutationsChange(callback: (pendingMutations: number) => void): () => void;
  /** Called with the new state on every change; returns an unsubscribe function. */
  onConnectionStateChange(callback: (state: ConnectionState) => void): () => void;
  /** Subscribes to a query. `onUpdate(result, {stale})` gets every new result (first the
   *  current one); results are shared and deep-frozen (copy before sorting in place).
   *  `onError` gets a `SyncError` if the query fails. Returns an unsubscribe function. */
  subscribe(udfPath: string, args: unknown, onUpdate: (result: any, meta: { stale: boolean }) => void, onError?: (error: SyncError) => void): () => void;
  /** Runs a mutation; resolves once this client's results show the write (read-your-writes),
   *  rejects with a `SyncError` (with `requestId`: the refused call stays in
   *  `failedMutations`; `TOO_LARGE` at once, for a call over the room's 1 MiB frame limit —
   *  nothing sent). Never rejected for a retryable reason (network, throttling, a token that
   *  is late, expired or unavailable): it waits and is sent again, exactly once.
   *  `options.optimisticUpdate` shows the write at once. */
  mutation(udfPath: string, args: unknown, options?: MutationOptions): Promise<any>;
  /** Signs in: `fetchToken` now, a minute before expiry, and (forced) when the room refuses
   *  a token. Nothing is sent until the first token arrives, and no mutation until the room
   *  accepted one. A `fetchToken` that throws or rejects is retried with backoff (1 s
   *  doubling to 30 s, and at once when the browser is back online); resolving `null` signs
   *  out. A write is only ever sent as the user who made it (the token's `iss` and `sub`):
   *  after a sign-out or a switch of user, the previous user's unsent writes are kept,
   *  unsent and not counted, until that user signs in again. */
  setAuth(fetchToken: FetchToken, onChange?: (isAuthenticated: boolean) => void): void;
  /** Signs out (queries re-run signed out; the user's unsent writes are kept for them). */
  clearAuth(): void;
  /** Drops the socket and reconnects now (results stay, flagged stale until confirmed). */
  reconnect(): void;
  /** Closes for good: pending mutations' promises reject with `CLIENT_CLOSED` and callbacks
   *  are released, but the writes stay in the saved outbox: the next client for this room in
   *  this browser (a remount, a reload, another tab) sends them. */
  close(): void;
}

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

/** A refused mutation kept by the client until the application discards or retries it. */
export interface FailedMutation {
  requestId: number;
  udfPath: string;
  args: unknown;
  code: SyncError["code"];
  message: string;
}

/** Errors thrown or rejected by the client carry a stable `code`; a refused mutation's also
 *  its `requestId` (for `discardFailedMutation` / `retryFailedMutation`). */
export interface SyncError extends Error {
  requestId?: number;
  code: "INVALID_URL" | "UNSUPPORTED_SCHEME" | "MISSING_HOST" | "BAD_PATH" | "MISSING_ROOM"
      | "ROOM_MISMATCH" | "INVALID_ROOM" | "INVALID_ARGS" | "VALIDATION" | "UNKNOWN_FUNCTION"
      | "BAD_FRAME" | "BAD_QUERY_ID" | "NOT_FOUND" | "UNIQUE_VIOLATION" | "APPLICATION" | "BAD_QUERY"
      | "TOO_MANY_READS" | "LIMIT_EXCEEDED" | "PROTOCOL_MISMATCH" | "SCHEMA_MISMATCH" | "INTERNAL"
      | "UNAUTHENTICATED" | "FORBIDDEN" | "OVERLOADED" | "CLIENT_CLOSED" | "TOO_LARGE";
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
    /** The room's commit (`ts`) the client held when this result last changed. */
    version: string | null;
    /** The result's size as JSON text (0 while loading or failed). */
    bytes: number;
  }>;
  /** `type` is the frame's kind (`transition`, `mutationResponse`, `subscribe`, …). */
  frames: Array<{ direction: "in" | "out"; type: string; at: number; bytes: number; preview: string }>;
  connectionHistory: Array<{ state: ConnectionState; at: number }>;
  outbox: Array<{ type: "mutation"; requestId: number; udfPath: string; args: unknown }>;
  /** Refused mutations kept until discarded. */
  failed: FailedMutation[];
  /** Signing in as the core sees it: mutations go out when "anonymous" or "confirmed". */
  auth: "anonymous" | "waiting" | "unconfirmed" | "confirmed";
}
"#;

#[wasm_bindgen(module = "/src/driver.js")]
extern "C" {
    /// The browser glue (see `driver.js`): what `new SyncClient(…)` returns.
    type Driver;
    #[wasm_bindgen(constructor)]
    fn new(core: Core, url: &str, persist_outbox: bool, protocol: u32) -> Driver;
    /// The options checked: `[room, schemaHash, offlineOutbox, …four random u32]`; throws a
    /// `SyncError` naming a bad one. (Read in JS: as Rust over `Reflect` and Web Crypto
    /// this was 2 KB of the client's gzipped WASM.)
    #[wasm_bindgen(js_name = readOptions, catch)]
    fn read_options(options: &JsValue) -> Result<js_sys::Array, JsValue>;
    /// One console line on why `tryNew` gave no client (`undefined`: no URL configured).
    #[wasm_bindgen(js_name = realtimeOff)]
    fn realtime_off(why: &JsValue);
}

/// `new SyncClient(url, options)` (the package's `index.js` calls this): checks the options
/// (in the driver) and the URL, then starts the driver over a new core. Throws a `SyncError`
/// naming the problem.
#[wasm_bindgen(skip_typescript)]
pub fn connect(url: &str, options: JsValue) -> Result<JsValue, JsValue> {
    let options = read_options(&options)?;
    let url = roomsync_shared::protocol::endpoint::sync_url(url, options.get(0).as_string().as_deref())
        .map_err(|e| js_error(e.code(), &e.message()))?;
    // Four random 32-bit words from the driver (Web Crypto): the session id's 128 bits.
    let seed = (3..7).fold(0u128, |bits, i| bits << 32 | options.get(i).as_f64().unwrap_or(0.0) as u32 as u128);
    let core = Core::new(roomsync_shared::model::ids::encode_base32(seed), options.get(1).as_string());
    let persist = options.get(2).as_bool().unwrap_or(true);
    Ok(Driver::new(core, &url, persist, roomsync_shared::PROTOCOL_VERSION).into())
}

/// `SyncClient.tryNew(url, options)`, for optional realtime: `null` instead of throwing
/// when `url` is missing or invalid, with one console message saying why.
#[wasm_bindgen(js_name = tryConnect, skip_typescript)]
pub fn try_connect(url: Option<String>, options: JsValue) -> JsValue {
    let made = match url.filter(|u| !u.trim().is_empty()) {
        Some(url) => connect(&url, options),
        None => Err(JsValue::UNDEFINED),
    };
    made.unwrap_or_else(|why| {
        realtime_off(&why);
        JsValue::NULL
    })
}

#[cfg(test)]
mod contract_tests {
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    /// The TypeScript contract's `SyncError` codes are exactly the codes the client can give
    /// (the room's `ErrorCode::ALL`, the endpoint's, the driver's and the core's own).
    #[wasm_bindgen_test]
    fn the_typescript_error_codes_are_the_clients() {
        // (The macro turns `TS_TYPES` into a custom section: read it from the source.)
        let error = include_str!("lib.rs").split("export interface SyncError").nth(1).unwrap_or_default();
        let union = error.split("  code: ").nth(1).and_then(|rest| rest.split(';').next()).unwrap_or_default();
        let mut declared: Vec<&str> = union.split('|').map(|c| c.trim().trim_matches('"')).collect();
        let mut codes = roomsync_shared::client::error_codes();
        declared.sort_unstable();
        codes.sort_unstable();
        assert_eq!(declared, codes, "the SyncError code union in TS_TYPES drifted from the client's codes");
    }
}
