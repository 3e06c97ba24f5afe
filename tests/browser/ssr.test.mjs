// Importing the React layer where there is no browser (server rendering, a build step) must
// not crash: the WASM client is created lazily, in the browser only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { withSsr } from "./harness.mjs";

test("the panel renders on the server without touching the browser or the WASM", async () => {
  await withSsr(async (load) => {
    const { SyncProvider } = await load("@roomsync/react");
    const { App } = await load("/src/App.tsx");
    // As the demo's root composes them: TanStack Query (for the adapter) around the app.
    const app = createElement(App, { room: "ssr", role: "admin", onRoleChange: () => {} });
    const render = (url) =>
      renderToString(
        createElement(
          SyncProvider,
          { url, room: "ssr" },
          createElement(QueryClientProvider, { client: new QueryClient() }, app),
        ),
      );
    const live = render("http://127.0.0.1:9");
    assert.match(live, /Loading tasks/);
    assert.match(live, /Disconnected/);
    assert.match(render(null), /Live data is not available/);
  });
});
