#!/usr/bin/env bash
# Builds the browser packages, size-optimized (ES module + .wasm + .d.ts each):
#   client-wasm/pkg/            the sync client (roomsync_client)
#   client-wasm/optimistic/pkg/ the opt-in predictor for automatic optimistic updates
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$root"
cargo build --quiet --release --target wasm32-unknown-unknown -p roomsync-client
# The predictor runs the engine on every optimistic replay: built for speed, not size.
cargo build --quiet --profile predictor --target wasm32-unknown-unknown -p roomsync-optimistic
client_wasm="target/wasm32-unknown-unknown/release/roomsync_client.wasm"
# Opt-in smallest client (BENCHMARKS.md): std rebuilt by a pinned nightly so that a panic traps
# at once, without the formatting machinery and messages panics otherwise carry (-8 KB
# gzipped). Needs `rustup toolchain install <nightly> --profile minimal -c rust-src`.
if [ -n "${ROOMSYNC_CLIENT_NIGHTLY:-}" ]; then
  CARGO_TARGET_DIR="$root/target/size" \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none" \
    cargo "+$ROOMSYNC_CLIENT_NIGHTLY" build --quiet --release --target wasm32-unknown-unknown \
    -p roomsync-client -Zbuild-std=std,panic_abort
  client_wasm="target/size/wasm32-unknown-unknown/release/roomsync_client.wasm"
fi

# package <wasm file> <out dir> <npm name> <wasm-opt level>
package() {
  local name out="$2" npm="$3" level="$4"
  name="$(basename "$1" .wasm)"
  rm -rf "$out" # no stale snippets from earlier builds
  wasm-bindgen --target web --out-dir "$out" --out-name "$name" "$1"
  "$root/node_modules/.bin/wasm-opt" "$level" --enable-bulk-memory --enable-nontrapping-float-to-int \
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
package "$client_wasm" "$root/client-wasm/pkg" roomsync-client -Oz
package target/wasm32-unknown-unknown/predictor/roomsync_optimistic.wasm "$root/client-wasm/optimistic/pkg" \
  roomsync-optimistic -O3
