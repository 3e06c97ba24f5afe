// Shared pieces of the browser suites: Vite preview of the built panel, and Debian's
// Chromium driven by playwright-core (no browser download). Everything binds to 127.0.0.1.
import { createServer as createNetServer } from "node:net";
import { createServer, preview } from "vite";
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The worker started by `with-wrangler` (see scripts/test.sh). */
export function workerUrl() {
  const url = process.env.ROOMSYNC_TEST_URL;
  if (!url) throw new Error("ROOMSYNC_TEST_URL is not set: run through `target/debug/with-wrangler -- node --test …`");
  return url;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Serves www/dist (built by scripts/test.sh) on a free loopback port. */
export async function startPreview() {
  const port = await freePort();
  const server = await preview({
    root: path.join(repoRoot, "www"),
    configFile: path.join(repoRoot, "www/vite.config.ts"),
    logLevel: "warn",
    preview: { host: "127.0.0.1", port, strictPort: true },
  });
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/** Headless Chromium as root: the flags Debian's build needs on a closed network. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export function uniqueRoom(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

/** Runs `body(load)` with a Vite server in SSR mode over www/ (`load(path)` imports a module
 *  the way a server-rendering framework would), then stops it. */
export async function withSsr(body) {
  const vite = await createServer({
    root: path.join(repoRoot, "www"),
    configFile: path.join(repoRoot, "www/vite.config.ts"),
    logLevel: "warn",
    appType: "custom",
    server: { middlewareMode: true, hmr: false, watch: null },
  });
  try {
    return await body((modulePath) => vite.ssrLoadModule(modulePath));
  } finally {
    await vite.close();
  }
}
