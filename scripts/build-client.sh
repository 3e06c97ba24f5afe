#!/usr/bin/env bash
# Builds the browser packages, size-optimized (ES module + .wasm + .d.ts each):
#   client-wasm/pkg/            the sync client (roomsync_client)
#   client-wasm/optimistic/pkg/ the opt-in predictor for automatic optimistic updates
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$root"
cargo build --quiet --release --target wasm32-unknown-unknown -p roomsync-client -p roomsync-optimistic

# package <crate file name> <out dir> <npm name>
package() {
  local name="$1" out="$2" npm="$3"
  rm -rf "$out" # no stale snippets from earlier builds
  wasm-bindgen --target web --out-dir "$out" --out-name "$name" \
    "target/wasm32-unknown-unknown/release/$name.wasm"
  "$root/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  cat > "$out/package.json" <<JSON
{
  "name": "$npm",
  "version": "0.1.0",
  "type": "module",
  "main": "$name.js",
  "types": "$name.d.ts",
  "sideEffects": false
}
JSON
  local raw gz
  raw=$(wc -c < "$out/${name}_bg.wasm")
  gz=$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)
  echo "${out#"$root"/}: ${name}_bg.wasm ${raw} B raw, ${gz} B gzip -9"
}
package roomsync_client "$root/client-wasm/pkg" roomsync-client
package roomsync_optimistic "$root/client-wasm/optimistic/pkg" roomsync-optimistic
