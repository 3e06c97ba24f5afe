#!/usr/bin/env bash
# Command 2: installs what is missing, then runs every suite. Each suite starts the services
# it needs (wrangler dev, Vite preview, Chromium) on free loopback ports and stops them by PID.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$SECONDS

bash scripts/install.sh

say "lint: rustfmt and clippy (native and wasm32)"
cargo fmt --all --check
cargo clippy --quiet -p roomsync-shared -p roomsync-ngo-app -p roomsync-todo-app -p roomsync-tests --all-targets -- -D warnings
cargo clippy --quiet -p roomsync-client -p roomsync-optimistic -p roomsync-edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings

say "shared: native unit, property, schema and fuzz tests, over both apps"
cargo test --quiet -p roomsync-shared -p roomsync-ngo-app -p roomsync-todo-app
cargo test --quiet -p roomsync-tests --lib --test model --test network --test fuzz --test session

say "client driver: node unit tests of its pure helpers (diffs checked against the room's)"
node --test client-wasm/src/driver.test.mjs client-wasm/js/server.test.mjs

say "build: worker (the NGO app, and the to-do app through the same build path), browser client"
ROOMSYNC_WORKER_APP=todo bash scripts/build-worker.sh >/dev/null
bash scripts/build-worker.sh >/dev/null
bash scripts/build-client.sh

say "packages: @roomsync/client and @roomsync/react, packed as an app installs them"
bash scripts/build-packages.sh

say "deploy readiness: wrangler deploy --dry-run (offline: bundles the worker, uploads nothing)"
rm -rf target/deploy-dry-run
env CI=true WRANGLER_SEND_METRICS=false WRANGLER_LOG=warn node_modules/.bin/wrangler deploy --dry-run \
  --outdir target/deploy-dry-run >/dev/null
compgen -G "target/deploy-dry-run/*.wasm" >/dev/null || { echo "the dry run bundled no worker" >&2; exit 1; }

say "idempotent builds: run again with nothing changed, nothing is rebuilt"
unchanged() { "$@" | grep "up to date" >/dev/null || { echo "$* rebuilt with nothing changed" >&2; exit 1; }; }
unchanged env ROOMSYNC_WORKER_APP=todo bash scripts/build-worker.sh
unchanged bash scripts/build-worker.sh
unchanged bash scripts/build-client.sh
unchanged bash scripts/build-packages.sh

say "types: generated schema types are current and the React code type-checks"
cargo run --quiet -p roomsync-ngo-app --bin codegen -- --check
node_modules/.bin/tsc -p www

say "build: panel"
node_modules/.bin/vite build www --logLevel warn
cargo build --quiet -p roomsync-tests --bins --tests

# Every wrangler started from here on runs the worker just built.
export ROOMSYNC_SKIP_WORKER_BUILD=1

say "worker end to end: wrangler dev + real WebSockets"
cargo test --quiet -p roomsync-tests --test 'worker_*'

say "client in headless Chromium (wasm-bindgen-test) against wrangler dev"
# ChromeDriver gets a minute to start (the runner's default, 5 s, is not enough on a busy
# 2-core machine: "driver failed to bind port during startup").
WASM_BINDGEN_TEST_DRIVER_TIMEOUT=60 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  target/debug/with-wrangler -- cargo test -p roomsync-client --target wasm32-unknown-unknown --lib --test browser

say "panel and an outside Vite app (the packed packages) end to end: Chromium against wrangler dev"
target/debug/with-wrangler -- node --test tests/browser/*.test.mjs

say "all suites passed in $((SECONDS - started))s"
