// An outside app, as a panel developer makes one: a minimal Vite + React app in a temporary
// folder outside the workspace installs the packed packages (target/packages/*.tgz, built by
// scripts/build-packages.sh) by path — no aliases, no copied sources, no `dedupe` — builds
// with `vite build`, and in headless Chromium shows live data from a `wrangler dev` room: a
// task created over HTTP appears without a reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { preview } from "vite";
import { freePort, launchChromium, repoRoot, uniqueRoom, workerUrl } from "./harness.mjs";

const WAIT = { timeout: 20_000 };
const packages = path.join(repoRoot, "target/packages");
let app;
let browser;
let site;

/** The versions the workspace itself was tested with (its package.json), so the outside
 *  install comes from npm's cache after the first run. */
function workspaceVersion(name) {
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
  return manifest.dependencies?.[name] ?? manifest.devDependencies?.[name];
}

function tarball(prefix) {
  const file = readdirSync(packages).find((f) => f.startsWith(prefix) && f.endsWith(".tgz"));
  assert.ok(file, `no ${prefix}*.tgz in ${packages}: run scripts/build-packages.sh`);
  return path.join(packages, file);
}

const MAIN = `
import { createElement as h, useState } from "react";
import { createRoot } from "react-dom/client";
import { SyncProvider, useQuery, useConnectionState } from "@roomsync/react";

const params = new URLSearchParams(location.search);
const server = params.get("server");
const room = params.get("room");
const http = server.replace(/^ws/, "http");

// A development token from the worker (ROOMSYNC_DEV_TOKENS=1); a real app asks its own
// auth server.
async function fetchToken() {
  const r = await fetch(http + "/rooms/" + room + "/dev-token", {
    method: "POST",
    body: JSON.stringify({ sub: "outside-app", role: "manager" }),
  });
  return (await r.json()).token;
}

function Tasks() {
  const state = useConnectionState();
  const tasks = useQuery("tasks:list", {});
  return h("main", null,
    h("p", { "data-testid": "state" }, state),
    tasks === undefined
      ? h("p", null, "Loading")
      : h("ul", { "data-testid": "tasks" }, tasks.map((t) => h("li", { key: t._id }, t.title))));
}

createRoot(document.getElementById("root")).render(
  h(SyncProvider, { url: server, room, fetchToken }, h(Tasks)),
);
`;

before(async () => {
  app = mkdtempSync(path.join(tmpdir(), "roomsync-outside-vite-"));
  const manifest = {
    name: "outside-vite-app",
    private: true,
    type: "module",
    dependencies: {
      "@roomsync/client": `file:${tarball("roomsync-client-")}`,
      "@roomsync/react": `file:${tarball("roomsync-react-")}`,
      react: workspaceVersion("react"),
      "react-dom": workspaceVersion("react-dom"),
    },
    devDependencies: { vite: workspaceVersion("vite") },
  };
  writeFileSync(path.join(app, "package.json"), JSON.stringify(manifest, null, 2));
  writeFileSync(
    path.join(app, "index.html"),
    '<!doctype html><html><body><div id="root"></div><script type="module" src="/main.js"></script></body></html>',
  );
  writeFileSync(path.join(app, "main.js"), MAIN);
  const npm = (...args) => execFileSync("npm", args, { cwd: app, stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
  npm("install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error");
  execFileSync(path.join(app, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], {
    cwd: app,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 300_000,
  });
  const port = await freePort();
  site = await preview({ root: app, configFile: false, logLevel: "warn", preview: { host: "127.0.0.1", port, strictPort: true } });
  site.url = `http://127.0.0.1:${port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await site?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

test("one copy of React, and no predictor in a build that does not import it", () => {
  const installed = readdirSync(path.join(app, "node_modules/@roomsync"));
  assert.deepEqual(installed.sort(), ["client", "react"]);
  // React is the app's: the React layer brings none of its own.
  assert.throws(() => statSync(path.join(app, "node_modules/@roomsync/react/node_modules/react")));
  const assets = readdirSync(path.join(app, "dist/assets"));
  assert.ok(assets.some((f) => f.startsWith("roomsync_client_bg") && f.endsWith(".wasm")), assets.join(", "));
  assert.ok(!assets.some((f) => f.includes("optimistic")), `the predictor shipped: ${assets.join(", ")}`);
  // Nor the devtools or the TanStack adapter, which the app does not import either.
  const code = assets.filter((f) => f.endsWith(".js")).map((f) => readFileSync(path.join(app, "dist/assets", f), "utf8"));
  assert.ok(!code.some((js) => js.includes("Roomsync devtools")), "the devtools shipped");
  assert.ok(!code.some((js) => js.includes("setQueryDefaults")), "the TanStack adapter shipped");
  const shipped = assets
    .filter((f) => f.endsWith(".js") || f.endsWith(".wasm"))
    .map((f) => gzipSync(readFileSync(path.join(app, "dist/assets", f)), { level: 9 }).length)
    .reduce((a, b) => a + b, 0);
  console.log(`outside Vite app: ${assets.join(", ")}; ${(shipped / 1000).toFixed(1)} KB gzipped with React`);
});

test("the built app shows live data: a task created over HTTP appears without a reload", async () => {
  const room = uniqueRoom("outside-vite");
  const page = await browser.newPage();
  const errors = [];
  const logged = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => logged.push(`[${m.type()}] ${m.text()}`));
  try {
    await page.goto(`${site.url}/?${new URLSearchParams({ server: workerUrl(), room })}`);
    await page.getByTestId("state").filter({ hasText: /^Connected$/ }).waitFor(WAIT);
    await page.getByTestId("tasks").waitFor({ ...WAIT, state: "attached" }); // an empty list has no size
    const http = workerUrl().replace(/^ws/, "http");
    // The writer's token, minted as the app's own server would: the installed package's
    // helper, with the worker's secret.
    const secret = process.env.ROOMSYNC_TEST_SECRET;
    assert.ok(secret, "ROOMSYNC_TEST_SECRET is not set: run through `target/debug/with-wrangler`");
    const helper = path.join(app, "node_modules/@roomsync/client/server.js");
    const { signRoomToken } = await import(pathToFileURL(helper).href);
    const token = await signRoomToken({ sub: "writer", role: "manager", room, name: "Writer" }, secret);
    const call = (udfPath, args) =>
      fetch(`${http}/rooms/${room}/mutation`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ udfPath, args }),
      }).then(async (r) => {
        assert.equal(r.status, 200, await r.clone().text());
        return r.json();
      });
    const user = await call("users:ensure", { name: "Writer", email: "writer@example.org", role: "manager" });
    await call("tasks:create", { title: "Kumbara toplama — Üsküdar", created_by: user.result });
    await page.getByText("Kumbara toplama — Üsküdar").waitFor(WAIT);
    assert.deepEqual(errors, []);
    // A production build says nothing on the console (development builds say what the
    // client does: client-wasm/src/driver.js `isDevelopment`).
    assert.deepEqual(logged.filter((line) => line.includes("roomsync:")), [], "a production build is silent");
  } catch (e) {
    console.error(`the page logged:\n${logged.join("\n")}`);
    throw e;
  } finally {
    await page.close();
  }
});
