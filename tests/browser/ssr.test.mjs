// Importing the React layer where there is no browser (server rendering, a build step) must
// not crash: the WASM client is created lazily, in the browser only.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createServer } from "vite";
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { repoRoot } from "./harness.mjs";

test("the panel renders on the server without touching the browser or the WASM", async () => {
  const vite = await createServer({
    root: path.join(repoRoot, "www"),
    configFile: path.join(repoRoot, "www/vite.config.ts"),
    logLevel: "warn",
    appType: "custom",
    server: { middlewareMode: true, hmr: false, watch: null },
  });
  try {
    const { SyncProvider } = await vite.ssrLoadModule("/src/roomsync/index.ts");
    const { App } = await vite.ssrLoadModule("/src/App.tsx");
    const render = (url) =>
      renderToString(createElement(SyncProvider, { url, room: "ssr" }, createElement(App, { room: "ssr" })));
    const live = render("http://127.0.0.1:9");
    assert.match(live, /Loading tasks/);
    assert.match(live, /Disconnected/);
    assert.match(render(null), /Live data is not available/);
  } finally {
    await vite.close();
  }
});
