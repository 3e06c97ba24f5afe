// Browser benchmarks of the WASM client (not a test: prints a table of ratios against
// baselines measured in the same run). Run through scripts/bench-browser.sh, which builds
// everything and starts the worker with `with-wrangler`.
//
// 1. A 1,000-row result: subscribing (room runs the query, the frame crosses the socket, the
//    client parses and applies it, the callback fires) vs fetching the same query over HTTP
//    and JSON.parse-ing it in the page.
// 2. One row added to that 1,000-row result: mutation → the subscriber's callback with the
//    new list (a diff applied to the held result) vs the same mutation's HTTP round trip.
// 3. 100 live subscriptions: reconnect-to-synced (every result confirmed by hash) vs the
//    cold connect-to-synced of a new client with the same 100 subscriptions.
// 4. The row of 2. predicted in the browser by the automatic optimistic update (mutation
//    call → the predicted list shown, same tick) vs the room's update of 2.
import { launchChromium, startPreview, uniqueRoom, workerUrl } from "./harness.mjs";

const ROWS = 1000;
const REPS = 7;


const site = await startPreview();
const browser = await launchChromium();
const room = uniqueRoom("bench");
const http = workerUrl().replace(/^ws/, "http");
try {
  const tokenReply = await fetch(`${http}/rooms/${room}/dev-token`, {
    method: "POST",
    body: JSON.stringify({ sub: "bench", role: "admin" }),
  });
  const { token } = await tokenReply.json();
  // Seed 1,000 users over HTTP, 50 at a time.
  for (let i = 0; i < ROWS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        fetch(`${http}/rooms/${room}/mutation`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ udfPath: "users:ensure", args: { name: `Kişi ${i + j}`, email: `k${i + j}@x`, role: "member" } }),
        }),
      ),
    );
  }
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${site.url}/?${new URLSearchParams({ server: workerUrl(), room })}`);
  await page.waitForFunction(() => window.__ROOMSYNC__?.client?.connectionState === "Connected", null, { timeout: 30_000 });

  const results = await page.evaluate(
    async ({ http, room, token, ROWS, REPS }) => {
      const { SyncClient } = window.__ROOMSYNC__;
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const newClient = () => {
        const c = new SyncClient(http, { room, offlineOutbox: false });
        c.setAuth(async () => token);
        return c;
      };
      const client = newClient();
      const subscribeOnce = (c, udfPath, args) =>
        new Promise((resolve) => {
          const t0 = performance.now();
          const stop = c.subscribe(udfPath, args, (value) => resolve({ ms: performance.now() - t0, value, stop }));
        });
      // 1. 1,000-row result: subscribe vs HTTP + JSON.parse.
      const ws = [], viaHttp = [];
      await subscribeOnce(client, "users:list", {}).then((r) => r.stop()); // warm up
      for (let i = 0; i < REPS; i++) {
        const r = await subscribeOnce(client, "users:list", {});
        if (r.value.length < ROWS) throw new Error(`expected ${ROWS} rows, got ${r.value.length}`);
        r.stop();
        ws.push(r.ms);
        const t0 = performance.now();
        const reply = await fetch(`${http}/rooms/${room}/query`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ udfPath: "users:list", args: {} }),
        });
        JSON.parse(await reply.text());
        viaHttp.push(performance.now() - t0);
      }
      // 2. One row added to the live 1,000-row list vs the HTTP mutation round trip.
      let latest = null;
      let onUpdate = null;
      const stop = client.subscribe("users:list", {}, (v) => {
        latest = v;
        onUpdate?.();
      });
      while (!latest) await new Promise((r) => setTimeout(r, 5));
      const live = [], httpMutation = [];
      for (let i = 0; i < REPS; i++) {
        const before = latest.length;
        const t0 = performance.now();
        const seen = new Promise((resolve) => (onUpdate = () => latest.length > before && resolve()));
        client.mutation("users:ensure", { name: `Yeni ${i}`, email: `new${i}@x`, role: "member" });
        await seen;
        live.push(performance.now() - t0);
        const t1 = performance.now();
        await fetch(`${http}/rooms/${room}/mutation`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ udfPath: "users:ensure", args: { name: `Http ${i}`, email: `http${i}@x`, role: "member" } }),
        });
        httpMutation.push(performance.now() - t1);
        // Let the HTTP write's update reach the live list before the next round.
        await new Promise((r) => setTimeout(r, 50));
      }
      // 4. The same write predicted in the browser (automatic optimistic update: the
      //    predictor loads the 1,000 users, reproduces the list, runs users:ensure and
      //    re-runs it) vs the room's answer above.
      const { loadPredictor, automaticUpdate } = window.__ROOMSYNC__;
      const predictor = await loadPredictor();
      const predicted = [];
      for (let i = 0; i < REPS; i++) {
        const before = latest.length;
        const args = { name: `Tahmin ${i}`, email: `guess${i}@x`, role: "member" };
        const t0 = performance.now();
        const answered = client.mutation("users:ensure", args, { optimisticUpdate: automaticUpdate(predictor, "users:ensure", args) });
        if (latest.length <= before) throw new Error("the write was not predicted");
        predicted.push(performance.now() - t0);
        await answered;
      }
      stop();
      // 3. 100 subscriptions: reconnect-to-synced vs cold connect-to-synced.
      const allSynced = (c) => {
        const subs = c.debug().subscriptions;
        return subs.length === 100 && subs.every((s) => s.state === "ready" && !s.stale);
      };
      const waitFor = async (done) => {
        const t0 = performance.now();
        while (!done()) {
          if (performance.now() - t0 > 30_000) throw new Error("not synced within 30 s");
          await new Promise((r) => setTimeout(r, 2));
        }
        return performance.now() - t0;
      };
      const cold = [], resume = [];
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now();
        const c = newClient();
        for (let i = 0; i < 100; i++) c.subscribe("beneficiaries:list", { limit: 5, skip: i }, () => {});
        await waitFor(() => allSynced(c));
        cold.push(performance.now() - t0);
        for (let r = 0; r < 3; r++) {
          const t1 = performance.now();
          c.reconnect();
          await waitFor(() => c.connectionState === "Connected" && allSynced(c));
          resume.push(performance.now() - t1);
        }
        c.close();
      }
      client.close();
      return {
        subscribe: median(ws), http: median(viaHttp),
        live: median(live), httpMutation: median(httpMutation), predicted: median(predicted),
        cold: median(cold), resume: median(resume),
      };
    },
    { http, room, token, ROWS, REPS },
  );
  const row = (what, target, base) =>
    console.log(`| ${what} | ${target.toFixed(1)} ms | ${base.toFixed(1)} ms | ${(target / base).toFixed(2)}× |`);
  console.log("\n| measurement (median) | target | baseline | ratio |");
  console.log("|---|---|---|---|");
  row(`${ROWS}-row result: subscribe → callback vs HTTP query + JSON.parse`, results.subscribe, results.http);
  row(`one row added to a live ${ROWS}-row list: mutation → callback vs HTTP mutation round trip`, results.live, results.httpMutation);
  row(`that row predicted (automatic optimistic update over ${ROWS} cached rows) vs the room's update`, results.predicted, results.live);
  row("100 subscriptions: reconnect → all confirmed vs cold connect → all loaded", results.resume, results.cold);
} finally {
  await browser.close();
  await site.close();
}
