// The browser driver behind SyncClient: one WebSocket at a time, timers, callbacks and the
// offline outbox in IndexedDB. Every decision is the Rust core's (`Core`, over the shared
// sans-IO client): which frames to send, which transitions to apply, when a socket is dead,
// how long to wait before the next attempt. This file only moves frames, timers and
// callbacks between the browser and it.
//
// Why JavaScript: this is glue over browser APIs, and as Rust behind wasm-bindgen it was
// half of the client's WASM (each closure, callback and property access needs shims on both
// sides). Here it is a few KB of minified JS, and the WASM keeps only the core.
//
// Lifecycle: Connecting → Connected → (socket drops) → Reconnecting → Connected … and
// Disconnected once closed for good. Callbacks from the application run inside try/catch:
// an exception in one cannot break the client's loop.

const FRAME_RING = 200; // frames kept for devtools
const FRAME_PREVIEW = 600; // characters of each frame kept for devtools
const HISTORY = 50; // connection state changes kept for devtools
const PING = "ping";
const PONG = "pong"; // the runtime's answer to PING, not a protocol frame

/** Whether this is a development build, which says on the console what the client does (its
 *  start, and why realtime is off or failing). The build's mode comes from the bundler:
 *  `import.meta.env.MODE` in Vite (dev server and build), `process.env.NODE_ENV` in webpack
 *  and Next.js; Node has `process` too. Without either — plain ESM in a browser — reading
 *  `process` throws and the client is silent, as in production. Errors (a callback of the app
 *  threw; this build cannot talk to the room) are always logged. */
export function isDevelopment(mode = () => import.meta.env?.MODE ?? process.env.NODE_ENV) {
  try {
    return mode() !== "production";
  } catch (_) {
    return false;
  }
}
const DEV = isDevelopment();

/** A development-only console line. */
function say(level, message, ...rest) {
  if (DEV) console[level](`roomsync: ${message}`, ...rest);
}

/** An event or result of the core: `{type, id, value, code, message}`; `code` is set for
 *  errors. (Built here: one call from WASM instead of a property set per field.) */
export function makeEvent(type, id, value, code, message) {
  return { type, id, value, code, message };
}

/** A refused mutation kept in the outbox until the application discards or retries it. */
export function makeFailed(requestId, udfPath, args, code, message) {
  return { requestId, udfPath, args: JSON.parse(args), code, message };
}

/** One live query as the core describes it (devtools, `getAllQueries`). */
export function makeInfo(queryId, udfPath, args, listeners, stale, ok, rows, hash) {
  return { queryId, udfPath, args, listeners, stale, ok, rows, hash };
}

const failure = (e) => syncError(e.code, e.message);

const AUTH_STATES = ["anonymous", "waiting", "unconfirmed", "confirmed"];

/** A real `Error` whose `code` says what went wrong, for `catch (e) { e.code }`. */
export function syncError(code, message) {
  const error = new Error(message);
  error.name = "SyncError";
  error.code = code;
  return error;
}

/** The options `new SyncClient(url, options)` takes (`SyncClientOptions` in lib.rs). */
export const OPTIONS = ["room", "schemaHash", "offlineOutbox"];

/** `new SyncClient(url, options)`'s options, checked, for the core: `[room, schemaHash,
 *  offlineOutbox, …four random u32 words for the session id]`. Throws a SyncError
 *  naming the option that is not what it must be. */
export function readOptions(options) {
  if (options !== undefined && options !== null && typeof options !== "object") {
    throw syncError("INVALID_ARGS", `options must be an object, got ${typeof options}`);
  }
  const o = options ?? {};
  // A misspelled option would silently do nothing (a `schemahash` never checked).
  for (const name in o) {
    if (!OPTIONS.includes(name)) {
      throw syncError("INVALID_ARGS", `options.${name} is not an option (options: ${OPTIONS.join(", ")})`);
    }
  }
  const text = (name, code) => {
    const v = o[name];
    if (v !== undefined && v !== null && typeof v !== "string") {
      throw syncError(code, `options.${name} must be a string`);
    }
    return v ?? undefined;
  };
  const room = text("room", "INVALID_ROOM");
  const schemaHash = text("schemaHash", "INVALID_ARGS");
  const persist = o.offlineOutbox === undefined ? true : o.offlineOutbox;
  if (typeof persist !== "boolean") throw syncError("INVALID_ARGS", "options.offlineOutbox must be a boolean");
  const seed = new Uint32Array(4);
  // Session ids need uniqueness, not secrecy: Math.random where there is no Web Crypto.
  try {
    crypto.getRandomValues(seed);
  } catch (_) {
    seed.forEach((_, i) => (seed[i] = Math.random() * 2 ** 32));
  }
  return [room, schemaHash, persist, ...seed];
}

/** Why `SyncClient.tryNew` returned null, said once on the console. */
export function realtimeOff(why) {
  if (why === undefined) say("info", "no sync URL configured; realtime updates are off");
  else say("warn", `realtime updates are off: ${why?.message ?? why}`);
}

function report(error) {
  console.error("roomsync: a callback threw:", error);
}

function call(f, ...args) {
  try {
    f(...args);
  } catch (e) {
    report(e);
  }
}

/** Freezes a parsed frame's objects (results are shared: a write into one would corrupt the
 *  base of the next diff; frozen, it fails at its source). Stops at frozen objects. */
function deepFreeze(v) {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k in v) deepFreeze(v[k]);
  }
  return v;
}

/** The room's result hash (shared/src/protocol/hash.rs): FNV-1a, 64 bits, over the
 *  `JSON.stringify` text of `value` with object keys sorted, as 16 hex digits. Checked after
 *  each diff is applied: a wrong result is caught (the core resubscribes), never shown. */
export function hashValue(value) {
  // The 64-bit state as four 16-bit limbs (exact in doubles); the prime is 2^40 + 0x1b3.
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  for (const b of new TextEncoder().encode(sortedJson(value) ?? "null")) {
    h0 ^= b;
    const t0 = h0 * 0x1b3, t1 = h1 * 0x1b3 + (t0 >>> 16), t2 = h2 * 0x1b3 + h0 * 0x100 + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
    h0 = t0 & 0xffff; h1 = t1 & 0xffff; h2 = t2 & 0xffff; h3 = t3 & 0xffff;
  }
  const hex = (n) => n.toString(16).padStart(4, "0");
  return hex(h3) + hex(h2) + hex(h1) + hex(h0);
}

/** JSON text with object keys sorted (UTF-16 order, as the room sorts them): the canonical
 *  text arguments are keyed by and results are hashed over. Keys are defined, not assigned
 *  (`__proto__` is a key like any other). Throws on cycles and BigInt. */
function sortedJson(value) {
  return JSON.stringify(value, (_, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.keys(v)
          .sort()
          .reduce((o, k) => Object.defineProperty(o, k, { value: v[k], enumerable: true }), {})
      : v,
  );
}

/** A result after the room's diff (`{set}`, `{splice: [{copy: [from, len]} | {insert}]}` or
 *  `{fields: {key: diff}}`, see shared/src/protocol/diff.rs): a new frozen value that keeps the
 *  unchanged rows and fields as the same objects (structural sharing, as React likes it),
 *  or undefined when the diff does not fit `old` (the core then resubscribes). */
export function applyDiff(old, diff) {
  const isObject = (v) => v !== null && typeof v === "object";
  if (!isObject(diff)) return undefined;
  if ("set" in diff) return diff.set;
  if (Array.isArray(diff.splice) && Array.isArray(old)) {
    const out = [];
    for (const segment of diff.splice) {
      if (isObject(segment) && "copy" in segment) {
        if (!Array.isArray(segment.copy)) return undefined;
        const [from, len] = segment.copy;
        if (!(Number.isInteger(from) && Number.isInteger(len) && from >= 0 && len >= 0 && from + len <= old.length)) {
          return undefined;
        }
        for (let i = from; i < from + len; i++) out.push(old[i]);
      } else if (isObject(segment) && Array.isArray(segment.insert)) {
        for (const value of segment.insert) out.push(value);
      } else return undefined;
    }
    return Object.freeze(out);
  }
  if (isObject(diff.fields) && isObject(old) && !Array.isArray(old)) {
    const out = { ...old };
    for (const key of Object.keys(diff.fields)) {
      if (!Object.prototype.hasOwnProperty.call(old, key)) return undefined;
      const value = applyDiff(old[key], diff.fields[key]);
      if (value === undefined) return undefined;
      // Defined, not assigned: `out.__proto__ = v` would set the prototype, not the field.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return Object.freeze(out);
  }
  return undefined;
}

/** Canonical JSON text of arguments (object keys sorted): equal arguments in any key order
 *  share one subscription. `undefined`/`null` mean none. */
export function argsText(args) {
  if (args === undefined || args === null) return "{}";
  let text;
  try {
    text = sortedJson(args);
  } catch (_) {
    text = undefined;
  }
  if (typeof text !== "string") {
    throw syncError("INVALID_ARGS", "arguments must be JSON-serializable (no cycles, no BigInt)");
  }
  return text;
}

/** A JWT's claims, read without verifying (to plan its refresh and to know whose writes are
 *  whose); `{}` for a token that is not a JWT. */
function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    return claims && typeof claims === "object" ? claims : {};
  } catch (_) {
    return {};
  }
}

function isFunction(f, what) {
  if (typeof f !== "function") throw syncError("INVALID_ARGS", `${what} must be a function`);
  return f;
}

// ---- The offline outbox: unanswered mutations in IndexedDB, one record per client slot.
// A record is keyed `url#slot`. A client holds its slot's Web Lock while it lives, so no two
// clients (tabs, or two clients in one tab) ever write one record; a client starting up
// takes its tab's previous slot (remembered in sessionStorage) if free, else any record of
// the room whose holder is gone (a closed tab, a closed client), else a new slot. A write
// left by a tab closed while offline is therefore sent by the next tab that opens the room.
// Writes are fire-and-forget and ordered (transactions on one store run in order). Without
// IndexedDB (server rendering, old runners) the outbox is memory-only; without Web Locks a
// tab keeps to its own slot.
const DB = "roomsync";
const STORE = "outbox";
let opening = null;
function db() {
  if (typeof indexedDB === "undefined") return Promise.resolve(null);
  opening ??= new Promise((resolve) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
  return opening;
}
function randomId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
}
/** This tab's remembered slot for `url` (read, or with `key` written). */
function tabSlot(url, key) {
  try {
    const name = `roomsync-slot:${url}`;
    if (key) sessionStorage.setItem(name, key);
    return sessionStorage.getItem(name);
  } catch (_) {
    return null;
  }
}
/** The saved records of the room at `url`. */
function outboxKeys(url) {
  const prefix = `${url}#`;
  return db()
    .then(
      (d) =>
        d &&
        new Promise((resolve) => {
          const range = IDBKeyRange.bound(prefix, prefix + "\uffff");
          const request = d.transaction(STORE, "readonly").objectStore(STORE).getAllKeys(range);
          request.onsuccess = () => resolve(request.result.filter((k) => typeof k === "string"));
          request.onerror = () => resolve([]);
        }),
    )
    .then((keys) => keys ?? [], () => []);
}
/** The slot's lock if no live client holds it: resolves to its release, or null. */
function tryLock(key) {
  const locks = typeof navigator !== "undefined" && navigator.locks;
  if (!locks) return Promise.resolve(() => {});
  return new Promise((resolve) => {
    locks
      .request(`roomsync-outbox:${key}`, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(null);
        return new Promise((release) => resolve(release));
      })
      .catch(() => resolve(null));
  });
}
/** Claims a slot for a client of `url`: `{key, text (the saved outbox, or null), release}`. */
async function claimSlot(url) {
  const own = tabSlot(url);
  const keys = await outboxKeys(url);
  const hasLocks = typeof navigator !== "undefined" && navigator.locks;
  const candidates = own ? [own, ...keys.filter((k) => k !== own)] : hasLocks ? keys : [];
  for (const key of candidates) {
    const release = await tryLock(key);
    if (release) {
      tabSlot(url, key);
      return { key, text: await outboxLoad(key), release };
    }
  }
  const key = `${url}#${randomId()}`;
  tabSlot(url, key);
  return { key, text: null, release: (await tryLock(key)) ?? (() => {}) };
}
function outboxLoad(key) {
  return db()
    .then(
      (d) =>
        d &&
        new Promise((resolve) => {
          const request = d.transaction(STORE, "readonly").objectStore(STORE).get(key);
          request.onsuccess = () => resolve(typeof request.result === "string" ? request.result : null);
          request.onerror = () => resolve(null);
        }),
    )
    .catch(() => null);
}
function outboxSave(key, text) {
  db()
    .then((d) => {
      if (!d) return;
      const store = d.transaction(STORE, "readwrite").objectStore(STORE);
      if (text === undefined || text === null) store.delete(key);
      else store.put(text, key);
    })
    .catch(() => {});
}

/** A held result's size as JSON text (devtools only: computed when asked). */
function resultBytes(held) {
  if (!held || held.code !== undefined) return 0;
  try {
    return JSON.stringify(held.value)?.length ?? 0;
  } catch (_) {
    return 0;
  }
}

export class Driver {
  constructor(core, url, persistOutbox, protocol) {
    this.core = core;
    this.url = url;
    // Whether the current socket ever opened (a socket that never did: the room is unreachable).
    this.opened = false;
    // The lifecycle (state, attempts, next retry) is the core's; this is the state listeners
    // were last told.
    this.state = "Disconnected";
    this.ws = null;
    // The session's timers by number (see the core's `arm` effects).
    this.timers = [];
    // queryId → {listeners: [{listener, onUpdate, onError}], subscribedAt, firstResultMs,
    // lastUpdateAt, version} (the timings are for devtools).
    this.queries = new Map();
    this.nextListener = 0;
    this.frames = [];
    this.history = [];
    this.promises = new Map(); // requestId → {resolve, reject}
    this.stateListeners = new Set();
    this.pendingListeners = new Set();
    // Optimistic updates of unanswered mutations, in request order, and what they made of
    // the queries they touched (shown instead of the room's results).
    this.optimistic = [];
    this.overlays = new Map();
    // The outbox slot this client holds (see claimSlot), once claimed.
    this.persistOutbox = persistOutbox;
    this.outboxKey = null;
    this.releaseSlot = null;
    // The application's token fetcher and sign-in listener.
    this.auth = { fetchToken: null, onChange: null };
    this.wake = () => this.onWake();
    if (typeof addEventListener === "function") addEventListener("online", this.wake);
    if (typeof document !== "undefined") document.addEventListener("visibilitychange", this.wake);
    this.loadOutbox();
    this.core.start();
    this.run();
    const room = decodeURIComponent(new URL(url).pathname.split("/")[2] ?? "");
    say("info", `client started: ${url} (room ${room}, protocol ${protocol})`);
  }

  get connectionState() {
    return this.state;
  }
  get reconnectAttempts() {
    return this.core.attempts;
  }
  get nextRetryAt() {
    return this.core.nextRetryAt ?? null;
  }
  get closed() {
    return this.core.closed;
  }
  get pendingMutations() {
    return this.core.pendingCount;
  }
  get hasPendingWrites() {
    return this.core.pendingCount > 0;
  }

  // ---- Authentication

  setAuth(fetchToken, onChange) {
    isFunction(fetchToken, "fetchToken");
    this.auth = { fetchToken, onChange: typeof onChange === "function" ? onChange : null };
    this.core.signIn();
    this.run();
  }

  clearAuth() {
    this.auth = { fetchToken: null, onChange: null };
    this.core.signOut(Date.now());
    this.pendingChanged(); // owners settled: saved, and the count the user sees changes
    this.run();
  }

  /** Calls the application's `fetchToken` for the core's sign-in `generation` and reports
   *  how it went. When to fetch, retry or refresh is the core's; this reads the token's
   *  claims (expiry, and `iss`/`sub`: whose writes it carries). */
  fetchToken(forceRefresh, generation) {
    const fetch = this.auth.fetchToken;
    if (!fetch || this.closed) return;
    const settle = (value) => {
      const token = typeof value === "string" && value !== "" ? value : undefined;
      const { exp, iss, sub } = token ? tokenClaims(token) : {};
      const owner = typeof sub === "string" ? `${typeof iss === "string" ? iss : ""} ${sub}` : undefined;
      this.core.tokenFetched(generation, token, owner, typeof exp === "number" ? exp * 1000 : undefined, Date.now());
      this.pendingChanged(); // owners settled: saved, and the count the user sees changes
      this.run();
    };
    const failed = (e) => {
      const wait = this.core.tokenFailed(generation, Math.random());
      if (wait >= 0) say("warn", `fetchToken failed; retrying in ${Math.round(wait)} ms:`, e);
      this.run();
    };
    let pending;
    try {
      pending = Promise.resolve(fetch({ forceRefresh }));
    } catch (e) {
      failed(e);
      return;
    }
    pending.then(settle, failed);
  }

  authChanged(authenticated) {
    const onChange = this.auth.onChange;
    if (onChange) call(onChange, authenticated);
  }

  // ---- The outbox

  /** Reads the saved outbox; the core holds the socket until it is restored. */
  loadOutbox() {
    if (!this.persistOutbox || typeof indexedDB === "undefined") return;
    this.core.outboxLoading(true, Date.now());
    claimSlot(this.url).then(
      ({ key, text, release }) => {
        // Closed meanwhile: the record stays as it was, for the next client.
        if (this.closed) return release();
        if (typeof text === "string") this.restoreOutbox(text);
        this.outboxKey = key;
        this.releaseSlot = release;
        this.core.outboxLoading(false, Date.now());
        this.pendingChanged();
        this.run();
      },
      () => {
        this.core.outboxLoading(false, Date.now());
        this.run();
      },
    );
  }

  restoreOutbox(text) {
    let renumbered;
    try {
      const saved = JSON.parse(text);
      const owners = saved.owners ?? {};
      const entry = (m) => ({ ...m, args: argsText(m.args), owner: owners[m.requestId] });
      // Refused entries (with a `code`) travel in the same list.
      const pending = [...(saved.pending ?? []), ...(saved.failed ?? [])].map(entry);
      renumbered = this.core.restore({ sessionId: saved.sessionId, nextRequestId: saved.nextRequestId, pending });
    } catch (e) {
      say("warn", `ignoring a saved outbox: ${e instanceof Error ? e.message : e}`);
      return;
    }
    // Mutations made before the outbox was read now follow it, under new ids.
    const moved = [];
    for (const [old, renamed] of renumbered) {
      if (this.promises.has(old)) {
        moved.push([renamed, this.promises.get(old)]);
        this.promises.delete(old);
      }
      for (const entry of this.optimistic) if (entry[0] === old) entry[0] = renamed;
    }
    for (const [id, promise] of moved) this.promises.set(id, promise);
  }

  pendingChanged() {
    if (this.outboxKey) outboxSave(this.outboxKey, this.core.outboxJson());
    const count = this.core.pendingCount;
    for (const listener of [...this.pendingListeners]) call(listener, count);
  }

  // ---- Listeners

  onConnectionStateChange(callback) {
    return this.listen(this.stateListeners, isFunction(callback, "callback"));
  }

  onPendingMutationsChange(callback) {
    return this.listen(this.pendingListeners, isFunction(callback, "callback"));
  }

  listen(set, callback) {
    const entry = (...args) => callback(...args);
    set.add(entry);
    return () => set.delete(entry);
  }

  /** Tells the listeners when the core's lifecycle state changed. */
  syncState() {
    const state = this.core.state;
    if (this.state === state) return;
    this.state = state;
    if (this.history.length === HISTORY) this.history.shift();
    this.history.push({ state, at: Date.now() });
    for (const listener of [...this.stateListeners]) call(listener, state);
  }

  // ---- The socket

  /** The browser is back online or the tab visible again: the core retries what waits
   *  out a backoff (a socket, a token fetch) now. */
  onWake() {
    this.core.wake(typeof document !== "undefined" && document.visibilityState === "hidden");
    this.run();
  }

  /** Tells the application the core's events, then carries out its effects. */
  handle(events) {
    this.dispatch(events);
    this.run();
  }

  /** Carries out what the core asks for, until it asks for nothing more. */
  run() {
    for (let effects = this.core.takeEffects(); effects.length > 0; effects = this.core.takeEffects()) {
      for (const e of effects) {
        switch (e.type) {
          case "open":
            this.open();
            break;
          case "drop":
            this.detach();
            break;
          case "send":
            this.send(e.value);
            break;
          case "ping":
            try {
              this.ws?.send(PING);
            } catch (_) {}
            break;
          case "fetch":
            this.fetchToken(e.value, e.id);
            break;
          case "arm":
            this.arm(e.id, e.value);
            break;
          case "disarm":
            clearTimeout(this.timers[e.id]);
            this.timers[e.id] = undefined;
            break;
          case "live":
            this.showStale();
            break;
          case "auth":
            this.authChanged(e.value);
            break;
          case "warn":
            say("warn", e.message);
            break;
          case "stop":
            // Retrying cannot help: this build does not match the room. The core has closed.
            console.error(`roomsync: ${e.message}`);
            this.release();
            break;
        }
      }
    }
    this.syncState();
  }

  /** Timer `timer` of the core fires in `ms` (replacing its earlier arming). */
  arm(timer, ms) {
    clearTimeout(this.timers[timer]);
    this.timers[timer] = setTimeout(
      () => {
        this.timers[timer] = undefined;
        this.handle(this.core.timer(timer, Date.now(), Math.random()));
      },
      Math.min(Math.max(ms, 0), 2 ** 31 - 1),
    );
  }

  /** Opens a new socket (replacing any old one). */
  open() {
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      say("warn", "could not open a WebSocket:", e);
      this.detach();
      this.dispatch(this.core.socketClosed(Date.now(), Math.random()));
      return;
    }
    this.opened = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opened = true;
      this.core.socketOpened(Date.now());
      this.run();
    };
    ws.onmessage = (event) => this.ws === ws && typeof event.data === "string" && this.onMessage(event.data);
    ws.onclose = () => this.ws === ws && this.onClose();
    this.detach();
    this.ws = ws;
  }

  /** Drops the current socket: its handlers can never call into the client again. */
  detach() {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState <= 1) {
      try {
        ws.close();
      } catch (_) {}
    }
  }

  /** The socket serves again: results kept through the reconnect are stale until the room
   *  confirms them. */
  showStale() {
    for (const queryId of this.queries.keys()) {
      if (!this.core.isStale(queryId)) continue;
      const held = this.core.cached(queryId);
      if (this.overlays.has(queryId) || (held && held.code === undefined)) this.show(queryId);
    }
  }

  /** One text frame: parsed by JSON.parse and kept as JS values (never copied into WASM). */
  onMessage(text) {
    const now = Date.now();
    if (text === PONG) {
      this.core.alive(now);
      return;
    }
    this.recordFrame("in", text);
    let frame;
    try {
      frame = deepFreeze(JSON.parse(text));
    } catch (_) {
      frame = undefined; // not JSON: the core resyncs
    }
    this.handle(this.core.receive(frame, text.length, now, Math.random()));
  }

  onClose() {
    this.detach();
    this.handle(this.core.socketClosed(Date.now(), Math.random()));
    // Said on the first failed attempt of a streak, then at attempts 2, 4, 8, …
    const attempts = this.core.attempts;
    if (!this.opened && (attempts & (attempts - 1)) === 0) {
      const next = this.nextRetryAt === null ? "" : `; next try in ${Math.round((this.nextRetryAt - Date.now()) / 1000)} s`;
      say("warn", `cannot reach ${this.url} (attempt ${attempts})${next}`);
    }
  }

  /** Sends one frame (dropped when there is no socket: the core re-sends what matters on
   *  the next one). */
  send(text) {
    const ws = this.ws;
    if (!ws) return;
    this.recordFrame("out", text);
    try {
      ws.send(text);
    } catch (_) {
      // The socket is closing; its close handler takes over.
    }
  }

  recordFrame(direction, text) {
    if (this.frames.length === FRAME_RING) this.frames.shift();
    // Every frame starts with its type (both sides write `{"type":…` first).
    const type = /^\{"type":"(\w+)"/.exec(text)?.[1] ?? (text === PING ? "ping" : "?");
    this.frames.push({ direction, type, at: Date.now(), bytes: text.length, preview: text.slice(0, FRAME_PREVIEW) });
  }

  // ---- Events from the core

  dispatch(events) {
    // With optimistic updates pending, new results are shown only after the updates are
    // re-applied on top of them (below), all at once.
    const rebase = [];
    let ts; // the commit the results now held are at (read once per batch, for devtools)
    for (const e of events) {
      switch (e.type) {
        case "query": {
          const timing = this.queries.get(e.id);
          if (timing) {
            const now = Date.now();
            timing.firstResultMs ??= now - timing.subscribedAt;
            timing.lastUpdateAt = now;
            timing.version = ts ??= this.core.version().ts;
          }
          if (this.optimistic.length === 0 && this.overlays.size === 0) this.notify(e.id, e);
          else rebase.push(e.id);
          break;
        }
        case "mutation": {
          // The room's answer comes after the transition holding the write: the optimistic
          // guess is no longer needed.
          const before = this.optimistic.length;
          this.optimistic = this.optimistic.filter(([id]) => id !== e.id);
          if (this.optimistic.length !== before) this.replayOptimistic(rebase.splice(0));
          const promise = this.promises.get(e.id);
          this.promises.delete(e.id);
          if (promise) {
            if (e.code !== undefined) {
              // Kept in `failedMutations` until discarded or retried, under this id.
              const error = failure(e);
              error.requestId = e.id;
              call(promise.reject, error);
            } else call(promise.resolve, e.value);
          }
          this.pendingChanged();
          break;
        }
        case "confirmed":
          this.show(e.id);
          break;
        // The rest (refusals, sign-in, throttling, overload, resyncs) is the core's to act
        // on: it queued the effects.
      }
    }
    if (rebase.length > 0) this.replayOptimistic(rebase);
  }

  // ---- Results to listeners, optimistic updates

  /** Re-applies every pending optimistic update, in order, on top of the room's latest
   *  results, and shows the outcome for the queries an update touched (now or before) and
   *  those in `changed`. */
  replayOptimistic(changed) {
    const overlays = new Map();
    for (const [, update] of this.optimistic) call(update, this.localStore(overlays));
    const old = this.overlays;
    this.overlays = overlays;
    const touched = new Set([...changed, ...old.keys(), ...overlays.keys()]);
    for (const queryId of [...touched].sort((a, b) => a - b)) this.show(queryId);
  }

  /** The view of the cached queries an optimistic update reads and edits. */
  localStore(overlays) {
    const find = (udfPath, args) => {
      try {
        return this.core.findQuery(udfPath, argsText(args));
      } catch (_) {
        return undefined;
      }
    };
    const shown = (queryId) => (overlays.has(queryId) ? overlays.get(queryId) : this.core.cached(queryId)?.value);
    return {
      getQuery: (udfPath, args) => {
        const queryId = find(udfPath, args);
        return queryId === undefined ? undefined : shown(queryId);
      },
      setQuery: (udfPath, args, value) => {
        const queryId = find(udfPath, args);
        if (queryId !== undefined) overlays.set(queryId, value);
      },
      getAllQueries: (udfPath) =>
        this.core
          .queryInfos()
          .filter((q) => udfPath === undefined || q.udfPath === udfPath)
          .map((q) => ({ udfPath: q.udfPath, args: JSON.parse(q.args), value: shown(q.queryId) })),
      token: this.core.token ?? null,
    };
  }

  /** Gives a query's listeners what it shows now: the optimistic overlay if any, else the
   *  room's result. */
  show(queryId) {
    if (this.overlays.has(queryId)) this.notify(queryId, { value: this.overlays.get(queryId) });
    else {
      const cached = this.core.cached(queryId);
      if (cached) this.notify(queryId, cached);
    }
  }

  /** Calls every listener of a query with `{value}` or `{code, message}`. */
  notify(queryId, result) {
    const list = [...(this.queries.get(queryId)?.listeners ?? [])];
    const meta = { stale: this.core.isStale(queryId) };
    for (const { onUpdate, onError } of list) {
      if (result.code === undefined) call(onUpdate, result.value, meta);
      else if (onError) call(onError, failure(result));
      else console.error(failure(result));
    }
  }

  // ---- The application's calls

  subscribe(udfPath, args, onUpdate, onError) {
    const text = argsText(args);
    isFunction(onUpdate, "onUpdate");
    const errors = typeof onError === "function" ? onError : null;
    const queryId = this.core.subscribe(udfPath, text);
    if (queryId === 0) {
      // Refused before sending (arguments over a frame): the query fails here.
      const error = failure(this.core.refusal());
      if (errors) call(errors, error);
      else console.error(error);
      return () => {};
    }
    const listener = ++this.nextListener;
    const cached = this.core.cached(queryId);
    let query = this.queries.get(queryId);
    if (!query) {
      query = { listeners: [], subscribedAt: Date.now(), firstResultMs: null, lastUpdateAt: null, version: null };
      this.queries.set(queryId, query);
    }
    query.listeners.push({ listener, onUpdate, onError: errors });
    this.run();
    // A listener joining a query that already has a result gets it at once.
    if (cached && cached.code === undefined) call(onUpdate, cached.value, { stale: this.core.isStale(queryId) });
    else if (cached && errors) call(errors, failure(cached));
    let subscribed = true;
    return () => {
      if (subscribed) {
        subscribed = false;
        this.unsubscribe(queryId, listener);
      }
    };
  }

  unsubscribe(queryId, listener) {
    const list = this.queries.get(queryId)?.listeners;
    const at = list ? list.findIndex((s) => s.listener === listener) : -1;
    if (at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) {
      this.queries.delete(queryId);
    }
    this.core.unsubscribe(queryId);
    this.run();
  }

  mutation(udfPath, args, options) {
    const text = argsText(args);
    const update = options?.optimisticUpdate;
    if (update !== undefined && update !== null) isFunction(update, "options.optimisticUpdate");
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(syncError("CLIENT_CLOSED", "the client was closed"));
        return;
      }
      const requestId = this.core.mutation(udfPath, text);
      if (requestId === 0) {
        reject(failure(this.core.refusal())); // too large for a frame: never queued, never re-sent
        return;
      }
      this.promises.set(requestId, { resolve, reject });
      if (typeof update === "function") {
        this.optimistic.push([requestId, update]);
        this.replayOptimistic([]);
      }
      this.run();
      this.pendingChanged();
    });
  }

  // ---- Refused mutations

  /** Mutations the room refused for good (or too large to send), kept — also across
   *  reloads — until discarded or retried: `[{requestId, udfPath, args, code, message}]`. */
  get failedMutations() {
    return this.core.failed();
  }

  discardFailedMutation(requestId) {
    const discarded = this.core.discard(requestId);
    if (discarded) this.pendingChanged();
    return discarded;
  }

  /** Sends a refused mutation again (a new request); resolves or rejects like `mutation`. */
  retryFailedMutation(requestId) {
    const entry = this.core.failed().find((f) => f.requestId === requestId);
    if (!entry) return Promise.reject(syncError("NOT_FOUND", `no refused mutation has request id ${requestId}`));
    this.core.discard(requestId);
    return this.mutation(entry.udfPath, entry.args);
  }

  /** Drops the socket and opens a new one at once: results stay (stale until confirmed),
   *  unanswered mutations are re-sent. */
  reconnect() {
    if (this.closed) return;
    this.handle(this.core.reconnect());
  }

  /** Shuts the client down. Promises of unanswered writes reject (`CLIENT_CLOSED`), but the
   *  writes stay in the saved outbox: the next client for this room sends them. */
  close() {
    if (this.closed) return;
    // Everything is saved as it changes; from here the record is the next client's, and the
    // guesses go before the promises reject.
    this.outboxKey = null;
    this.optimistic = [];
    this.overlays.clear();
    this.handle(this.core.close()); // the socket dropped, every timer disarmed
    this.release();
  }

  /** Lets go of what a closed client holds: its outbox slot (the record is the next
   *  client's), optimistic guesses, listeners and browser events. */
  release() {
    this.releaseSlot?.();
    this.releaseSlot = null;
    this.outboxKey = null;
    this.optimistic = [];
    this.overlays.clear();
    this.queries.clear();
    this.syncState();
    this.stateListeners.clear();
    this.pendingListeners.clear();
    if (typeof removeEventListener === "function") removeEventListener("online", this.wake);
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", this.wake);
  }

  debug() {
    const core = this.core;
    return {
      url: this.url,
      sessionId: core.sessionId,
      state: this.state,
      auth: AUTH_STATES[core.authState],
      reconnectAttempts: this.reconnectAttempts,
      nextRetryAt: this.nextRetryAt,
      version: core.version(),
      subscriptions: core.queryInfos().map((q) => {
        const timing = this.queries.get(q.queryId);
        return {
          queryId: q.queryId,
          udfPath: q.udfPath,
          args: JSON.parse(q.args),
          listeners: q.listeners,
          state: q.ok === null ? "loading" : q.ok ? "ready" : "error",
          stale: q.stale,
          rows: q.rows,
          resultHash: q.hash,
          firstResultMs: timing?.firstResultMs ?? null,
          lastUpdateAt: timing?.lastUpdateAt ?? null,
          version: timing?.version ?? null,
          bytes: resultBytes(core.cached(q.queryId)),
        };
      }),
      frames: this.frames.map((f) => ({ ...f })),
      connectionHistory: this.history.map((h) => ({ ...h })),
      outbox: core.pending().map((m) => ({ type: "mutation", requestId: m.id, udfPath: m.value, args: JSON.parse(m.message) })),
      failed: core.failed(),
    };
  }
}
