//! The offline outbox: unanswered mutations kept in IndexedDB, so that a page reload (or a
//! crash of the tab) loses none. The new client continues the same session and re-sends
//! them before anything else; the room applies each exactly once.
//!
//! One record per tab and room URL: the tab is identified by an id in `sessionStorage`,
//! which survives reloads but is not shared between tabs. Writes are fire-and-forget and
//! ordered (IndexedDB runs transactions on one store in the order they were created).
//! Where there is no IndexedDB (server rendering, old runners) the outbox is memory-only.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r##"
const DB = "roomsync", STORE = "outbox";
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
export function outbox_key(url) {
  let tab = null;
  try {
    tab = sessionStorage.getItem("roomsync-tab");
    if (!tab) {
      tab = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
      sessionStorage.setItem("roomsync-tab", tab);
    }
  } catch (_) { return null; }
  return url + "#" + tab;
}
export function outbox_load(key) {
  return db().then((d) => d && new Promise((resolve) => {
    const request = d.transaction(STORE, "readonly").objectStore(STORE).get(key);
    request.onsuccess = () => resolve(typeof request.result === "string" ? request.result : null);
    request.onerror = () => resolve(null);
  })).catch(() => null);
}
export function outbox_save(key, text) {
  db().then((d) => {
    if (!d) return;
    const store = d.transaction(STORE, "readwrite").objectStore(STORE);
    if (text === undefined || text === null) store.delete(key); else store.put(text, key);
  }).catch(() => {});
}
"##)]
extern "C" {
    /// The record key for this tab and URL; `None` without `sessionStorage`.
    fn outbox_key(url: &str) -> Option<String>;
    /// Resolves with the saved outbox text, or null.
    fn outbox_load(key: &str) -> Promise;
    /// Saves (or, with `None`, deletes) the outbox.
    fn outbox_save(key: &str, text: Option<String>);
}

/// Where this client's outbox lives.
pub struct OutboxStore {
    key: String,
}

impl OutboxStore {
    /// The store for this tab and URL, if the browser has the storage for it.
    pub fn for_url(url: &str) -> Option<Self> {
        outbox_key(url).map(|key| Self { key })
    }

    pub fn load(&self) -> Promise {
        outbox_load(&self.key)
    }

    /// Saves the outbox text, or removes the record when nothing is pending.
    pub fn save(&self, text: Option<String>) {
        outbox_save(&self.key, text);
    }
}
