import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The demo panel. The WASM client is imported from ../client-wasm/pkg (built by
// scripts/build-client.sh); Vite serves its .wasm as an asset.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  server: { host: "127.0.0.1", fs: { allow: [".."] } },
  preview: { host: "127.0.0.1" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
});
