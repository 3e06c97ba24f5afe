#!/usr/bin/env bash
# Builds the browser client into client-wasm/pkg/ (ES module + .wasm + .d.ts), size-optimized.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$root"
cargo build --quiet --release --target wasm32-unknown-unknown -p roomsync-client
out="$root/client-wasm/pkg"
wasm-bindgen --target web --out-dir "$out" --out-name roomsync_client \
  target/wasm32-unknown-unknown/release/roomsync_client.wasm
"$root/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/roomsync_client_bg.wasm" -o "$out/roomsync_client_bg.wasm"
cat > "$out/package.json" <<JSON
{
  "name": "roomsync-client",
  "version": "0.1.0",
  "type": "module",
  "main": "roomsync_client.js",
  "types": "roomsync_client.d.ts",
  "sideEffects": false
}
JSON
raw=$(wc -c < "$out/roomsync_client_bg.wasm")
gz=$(gzip -9 -c "$out/roomsync_client_bg.wasm" | wc -c)
echo "client-wasm/pkg: roomsync_client_bg.wasm ${raw} B raw, ${gz} B gzip -9"
