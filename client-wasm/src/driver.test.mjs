// Unit tests of the driver's pure helpers (node --test; the driver's socket and timer work is
// tested in headless Chromium by client-wasm/tests/browser.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { applyDiff, argsText, Driver, hashValue, isDevelopment, OPTIONS, readOptions, realtimeOff } from "./driver.js";
import { spawnSync } from "node:child_process";

// Diffs as the room computes them (shared/src/protocol/diff.rs writes this file and checks it is
// current): `new` null means the diff does not fit `old`.
const cases = JSON.parse(readFileSync(new URL("./diff-cases.json", import.meta.url), "utf8"));

function deepFreeze(v) {
  if (v !== null && typeof v === "object") {
    Object.freeze(v);
    for (const k in v) deepFreeze(v[k]);
  }
  return v;
}

test("applyDiff gives what the room's diff must produce, or undefined when it does not fit", () => {
  assert.ok(cases.length > 40);
  for (const { old, diff, new: expected } of cases) {
    const got = applyDiff(deepFreeze(structuredClone(old)), deepFreeze(diff));
    if (expected === null) assert.equal(got, undefined, JSON.stringify({ old, diff }));
    else assert.deepEqual(got, expected, JSON.stringify({ old, diff }));
  }
});

test("hashValue gives the room's hash of every result (floats, escapes, key order)", () => {
  let checked = 0;
  for (const { new: value, hash } of cases) {
    if (value === null) continue;
    assert.equal(hashValue(value), hash, JSON.stringify(value));
    checked++;
  }
  assert.ok(checked > 40);
  // A changed row changes the hash; key order does not.
  assert.notEqual(hashValue([{ _id: "a", v: 1 }]), hashValue([{ _id: "a", v: 2 }]));
  assert.equal(hashValue({ a: 1, b: [2] }), hashValue({ b: [2], a: 1 }));
});

test("a field named __proto__ is a field: diffed, hashed and canonical like any other", () => {
  const old = deepFreeze(JSON.parse('{"__proto__": {"a": 1}, "b": 2}'));
  const got = applyDiff(old, deepFreeze(JSON.parse('{"fields": {"__proto__": {"set": {"a": 2}}}}')));
  assert.deepEqual(Object.getOwnPropertyDescriptor(got, "__proto__").value, { a: 2 });
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
  assert.equal(hashValue(got), hashValue(JSON.parse('{"b": 2, "__proto__": {"a": 2}}')));
  assert.equal(argsText(JSON.parse('{"__proto__": 1, "a": 2}')), '{"__proto__":1,"a":2}');
});

test("applyDiff keeps unchanged rows as the same objects and freezes what it builds", () => {
  const old = deepFreeze({ documents: [{ _id: "a", v: 1 }, { _id: "b", v: 1 }], total: 2 });
  const diff = deepFreeze({ fields: { documents: { splice: [{ copy: [0, 1] }, { insert: [{ _id: "b", v: 2 }] }] } } });
  const got = applyDiff(old, diff);
  assert.deepEqual(got, { documents: [{ _id: "a", v: 1 }, { _id: "b", v: 2 }], total: 2 });
  assert.equal(got.documents[0], old.documents[0]);
  assert.ok(Object.isFrozen(got) && Object.isFrozen(got.documents));
});

test("applyDiff refuses malformed diffs instead of throwing", () => {
  const old = deepFreeze([{ _id: "a" }]);
  for (const diff of [null, 7, "set", {}, { splice: [7] }, { splice: [{ copy: [0, -1] }] }, { splice: [{ copy: [0.5, 1] }] },
    { splice: [{ copy: "01" }] }, { splice: [{ copy: 7 }] }, { splice: [{ copy: {} }] }, { splice: [{ copy: null }] },
    { splice: [{ insert: 3 }] }, { fields: null }, { fields: { 0: { copy: 1 } } }]) {
    assert.equal(applyDiff(old, diff), undefined, JSON.stringify(diff));
  }
  assert.equal(applyDiff(deepFreeze({ a: 1 }), { fields: { toString: { set: 1 } } }), undefined, "inherited keys are not fields");
});

test("readOptions checks each option and draws a fresh seed", () => {
  const [room, hash, persist, ...seed] = readOptions({ room: "r", schemaHash: "h" });
  assert.deepEqual([room, hash, persist], ["r", "h", true]);
  assert.equal(seed.length, 4);
  assert.ok(seed.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32));
  assert.notDeepEqual(readOptions().slice(3), seed);
  assert.deepEqual(readOptions(null).slice(0, 3), [undefined, undefined, true]);
  assert.equal(readOptions({ offlineOutbox: false })[2], false);
  const refused = (options, code, message) =>
    assert.throws(() => readOptions(options), (e) => e instanceof Error && e.code === code && e.message === message);
  refused({ room: 5 }, "INVALID_ROOM", "options.room must be a string");
  refused({ schemaHash: {} }, "INVALID_ARGS", "options.schemaHash must be a string");
  refused({ offlineOutbox: "no" }, "INVALID_ARGS", "options.offlineOutbox must be a boolean");
  refused({ offlineOutbox: null }, "INVALID_ARGS", "options.offlineOutbox must be a boolean");
  refused("org-a", "INVALID_ARGS", "options must be an object, got string");
  refused({ room: 5, offlineOutbox: "x" }, "INVALID_ROOM", "options.room must be a string");
});

test("argsText is canonical: equal arguments in any key order give one text", () => {
  assert.equal(argsText({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }), '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
  assert.equal(argsText(undefined), "{}");
  const cycle = {};
  cycle.self = cycle;
  assert.throws(() => argsText(cycle), (e) => e.code === "INVALID_ARGS");
  assert.throws(() => argsText({ n: 1n }), (e) => e.code === "INVALID_ARGS");
});

// The TypeScript contract (TS_TYPES in lib.rs) is written by hand beside the driver it
// describes: every member it declares must be the driver's, of the same kind, and the
// options it lists must be the ones the driver takes.
const contract = readFileSync(new URL("./lib.rs", import.meta.url), "utf8");

function declared(block) {
  const body = contract.split(block)[1]?.split("\n}\n")[0];
  assert.ok(body, `${block} is in TS_TYPES`);
  const members = [];
  for (const line of body.split("\n")) {
    const m = /^  (static |readonly )?([A-Za-z]+)(\??)([(:])/.exec(line);
    if (m) members.push({ name: m[2], readonly: m[1] === "readonly ", method: m[4] === "(", isStatic: m[1] === "static " });
  }
  return members;
}

test("every member the TypeScript declares on SyncClient is the driver's, of the same kind", () => {
  const members = declared("export declare class SyncClient {");
  assert.ok(members.length > 15, JSON.stringify(members));
  for (const { name, readonly, method, isStatic } of members) {
    if (isStatic || name === "constructor") continue; // the entry's (js/index.js)
    if (name === "url") continue; // an instance field the constructor sets
    const d = Object.getOwnPropertyDescriptor(Driver.prototype, name);
    assert.ok(d, `SyncClient.${name} is declared but the driver has no ${name}`);
    if (method) assert.equal(typeof d.value, "function", `SyncClient.${name} is declared as a method`);
    if (readonly) assert.ok(d.get && !d.set, `SyncClient.${name} is declared readonly: a getter`);
  }
});

test("the options the TypeScript declares are the ones the driver takes, and others are refused", () => {
  const names = declared("export interface SyncClientOptions {").map((m) => m.name);
  assert.deepEqual([...names].sort(), [...OPTIONS].sort());
  assert.throws(() => readOptions({ schemahash: "x" }), /options\.schemahash is not an option \(options: room, schemaHash, offlineOutbox\)/);
  assert.equal(readOptions({ room: "a", schemaHash: "h", offlineOutbox: false }).length, 7);
});

test("console lines are for development builds: production and bundler-less builds are silent", () => {
  assert.equal(isDevelopment(() => "production"), false);
  assert.equal(isDevelopment(() => "development"), true);
  assert.equal(isDevelopment(() => undefined), true, "a bundler that sets no mode: development (as Node)");
  assert.equal(
    isDevelopment(() => {
      throw new ReferenceError("process is not defined");
    }),
    false,
    "plain ESM in a browser: no process, so silent",
  );
});

/** A core that asks for nothing: enough to start a driver outside a browser. */
const idleCore = () => ({ start() {}, takeEffects: () => [], state: "Connecting", closed: false, attempts: 0 });

/** What `f` prints on the console (info, warn), as lines. */
function consoleOf(f) {
  const lines = [];
  const saved = { info: console.info, warn: console.warn };
  console.info = (...args) => lines.push(args.join(" "));
  console.warn = (...args) => lines.push(args.join(" "));
  try {
    f();
  } finally {
    Object.assign(console, saved);
  }
  return lines;
}

test("in development the client says when it starts and why realtime is off", () => {
  const started = consoleOf(() => new Driver(idleCore(), "ws://127.0.0.1:1/rooms/ngo-%C3%A7/sync", false, 2));
  assert.deepEqual(started, ["roomsync: client started: ws://127.0.0.1:1/rooms/ngo-%C3%A7/sync (room ngo-ç, protocol 2)"]);
  assert.deepEqual(consoleOf(() => realtimeOff(undefined)), ["roomsync: no sync URL configured; realtime updates are off"]);
  const invalid = consoleOf(() => realtimeOff(new Error("the sync URL must start with ws:// or wss://")));
  assert.deepEqual(invalid, ["roomsync: realtime updates are off: the sync URL must start with ws:// or wss://"]);
});

test("a production build says nothing of the sort", () => {
  const driver = new URL("./driver.js", import.meta.url).href;
  const script = `
    const { Driver, realtimeOff } = await import(${JSON.stringify(driver)});
    const core = { start() {}, takeEffects: () => [], state: "Connecting", closed: false, attempts: 0 };
    new Driver(core, "ws://127.0.0.1:1/rooms/r/sync", false, 2);
    realtimeOff(undefined);
    realtimeOff(new Error("bad URL"));`;
  const run = (mode) =>
    spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, NODE_ENV: mode },
      encoding: "utf8",
    });
  const production = run("production");
  assert.equal(production.status, 0, production.stderr);
  assert.deepEqual([production.stdout, production.stderr], ["", ""]);
  // The same script in development does speak (the check above is not vacuous).
  assert.match(run("development").stdout + run("development").stderr, /roomsync: client started/);
});
