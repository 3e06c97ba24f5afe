#!/usr/bin/env bash
# Builds the edge worker into build/worker/ (wrangler.toml's [build] command).
# Uses only locally installed tools: worker-build would otherwise download wasm-bindgen and
# wasm-opt from GitHub, which is unreachable on locked-down machines.
#
# ROOMSYNC_WORKER_APP=todo builds the same worker serving the tests' second app (the to-do
# app, tests/todo-app) into build/todo/worker/ instead (tests/todo-app/wrangler.toml).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${ROOMSYNC_WORKER_APP:-ngo}" in
  ngo) out="build"; features=() ;;
  todo) out="build/todo"; features=(--no-default-features --features todo-app) ;;
  *) echo "ROOMSYNC_WORKER_APP must be ngo or todo, not ${ROOMSYNC_WORKER_APP}" >&2; exit 2 ;;
esac
# Tests build once, then start wrangler many times: they set this to skip rebuilding.
if [ "${ROOMSYNC_SKIP_WORKER_BUILD:-}" = 1 ] && [ -f "$root/$out/worker/shim.mjs" ]; then
  exit 0
fi
cd "$root"
source scripts/lib.sh
DIGEST_VARS="ROOMSYNC_WORKER_APP"
digest=$(inputs_digest Cargo.toml Cargo.lock shared edge-worker tests/todo-app scripts/build-worker.sh scripts/lib.sh)
if up_to_date "$out/worker/.inputs" "$digest" && [ -f "$out/worker/shim.mjs" ]; then
  echo "$out/worker: up to date"
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
cd "$root/edge-worker"
worker-build --release --out-dir "../$out" . "${features[@]}"
echo "$digest" > "$root/$out/worker/.inputs"
