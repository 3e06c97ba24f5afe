import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import path from "node:path";

// The demo panel. It imports Roomsync as an outside app does — `@roomsync/react` (and its
// `/tanstack`, `/optimistic`, `/devtools` entries) and `@roomsync/client` — resolved here to
// the packages' sources in this repository (client-wasm/react/src, and client-wasm/pkg as
// scripts/build-client.sh builds it), so editing the React layer reloads the panel. Outside
// apps install the packed packages instead (tests/browser/outside-vite.test.mjs).
const repo = path.resolve(import.meta.dirname, "..");
const reactSource = (file: string) => path.join(repo, "client-wasm/react/src", file);
export const roomsyncAliases = [
  { find: /^@roomsync\/react$/, replacement: reactSource("index.ts") },
  { find: /^@roomsync\/react\/tanstack$/, replacement: reactSource("tanstack.ts") },
  { find: /^@roomsync\/react\/optimistic$/, replacement: reactSource("optimistic.ts") },
  { find: /^@roomsync\/react\/devtools$/, replacement: reactSource("Devtools.tsx") },
  { find: /^@roomsync\/client$/, replacement: path.join(repo, "client-wasm/pkg/index.js") },
  { find: /^@roomsync\/client\/optimistic$/, replacement: path.join(repo, "client-wasm/pkg/optimistic/roomsync_optimistic.js") },
];

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  resolve: { alias: roomsyncAliases },
  server: { host: "127.0.0.1", fs: { allow: [".."] } },
  preview: { host: "127.0.0.1" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
});
