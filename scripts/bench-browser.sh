#!/usr/bin/env bash
# Browser benchmarks of the WASM client against the real worker (a table of same-run ratios;
# see tests/browser/bench.mjs). Builds what it needs first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/build-worker.sh >/dev/null
bash scripts/build-client.sh
bash scripts/size-client.sh
node_modules/.bin/vite build www --logLevel warn
cargo build --quiet -p roomsync-tests --bins
ROOMSYNC_SKIP_WORKER_BUILD=1 target/debug/with-wrangler -- node tests/browser/bench.mjs
