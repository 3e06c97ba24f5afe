#!/usr/bin/env bash
# Builds the client package @roomsync/client in client-wasm/pkg (ES modules + .wasm + .d.ts):
#   index.js        the sync client (WASM built with a pinned nightly, size-optimized)
#   optimistic/     the opt-in predictor for automatic optimistic updates (the subpath
#                   @roomsync/client/optimistic; loaded only by apps that import it)
# scripts/build-packages.sh builds the React layer and packs both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$root"
source scripts/lib.sh
# Nothing changed since the last build: leave client-wasm/pkg alone (a dev server may be
# serving it).
DIGEST_VARS="ROOMSYNC_CLIENT_STABLE ROOMSYNC_CLIENT_NIGHTLY"
digest=$(inputs_digest Cargo.toml Cargo.lock shared client-wasm/Cargo.toml client-wasm/src client-wasm/js \
  client-wasm/optimistic scripts/build-client.sh scripts/lib.sh package-lock.json LICENSE-MIT LICENSE-APACHE)
if up_to_date client-wasm/pkg/.inputs "$digest" && [ -f client-wasm/pkg/optimistic/roomsync_optimistic_bg.wasm ]; then
  echo "client-wasm/pkg: up to date"
  exit 0
fi
# The predictor runs the engine on every optimistic replay: built for speed, not size.
cargo build --quiet --profile predictor --target wasm32-unknown-unknown -p roomsync-optimistic
# The client ships built by the pinned nightly that scripts/install.sh installs: std rebuilt so
# that a panic traps at once, without the formatting machinery and messages panics otherwise
# carry (8 KB gzipped off a 43 KB client, BENCHMARKS.md). Clippy and the wasm-bindgen tests
# build the same code with stable; ROOMSYNC_CLIENT_STABLE=1 ships the stable build.
if [ -n "${ROOMSYNC_CLIENT_STABLE:-}" ]; then
  cargo build --quiet --release --target wasm32-unknown-unknown -p roomsync-client
  client_wasm="target/wasm32-unknown-unknown/release/roomsync_client.wasm"
else
  CARGO_TARGET_DIR="$root/target/size" \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none" \
    cargo "+${ROOMSYNC_CLIENT_NIGHTLY:-nightly-2026-05-19}" build --quiet --release \
    --target wasm32-unknown-unknown -p roomsync-client -Zbuild-std=std,panic_abort
  client_wasm="target/size/wasm32-unknown-unknown/release/roomsync_client.wasm"
fi

# package <wasm file> <out dir> <wasm-opt flags> [the package's hand-written entry and manifest]
package() {
  local name out="$2" level="$3" entry="${4:-}"
  name="$(basename "$1" .wasm)"
  rm -rf "$out" # no stale snippets from earlier builds
  wasm-bindgen --target web --out-dir "$out" --out-name "$name" "$1"
  # shellcheck disable=SC2086 # the flags are words
  "$root/node_modules/.bin/wasm-opt" $level --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  if [ -n "$entry" ]; then
    cp "$entry/index.js" "$entry/index.d.ts" "$entry/server.js" "$entry/server.d.ts" "$entry/package.json" \
      "$entry/README.md" "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$out/"
  fi
  local raw gz
  raw=$(wc -c < "$out/${name}_bg.wasm")
  gz=$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)
  echo "${out#"$root"/}: ${name}_bg.wasm ${raw} B raw, ${gz} B gzip -9"
}
# The client's entry is hand-written (client-wasm/js/): SyncClient is its JS driver.
# --converge repeats -Oz until nothing shrinks; the producers section names the compilers.
package "$client_wasm" "$root/client-wasm/pkg" "-Oz --converge --strip-debug --strip-producers" \
  "$root/client-wasm/js"
package target/wasm32-unknown-unknown/predictor/roomsync_optimistic.wasm "$root/client-wasm/pkg/optimistic" -O3
echo "$digest" > client-wasm/pkg/.inputs
