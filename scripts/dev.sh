#!/usr/bin/env bash
# Command 1: installs what is missing, then starts the demo: the worker under `wrangler dev`
# (local workerd, state persisted in .wrangler/state, no account) and the panel on Vite.
# Ctrl-C stops both.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
export PATH="$HOME/.cargo/bin:$PATH"

worker_port="${ROOMSYNC_PORT:-8787}"
web_port="${ROOMSYNC_WEB_PORT:-5173}"

bash scripts/install.sh
say "building the worker and the browser client"
bash scripts/build-worker.sh >/dev/null
bash scripts/build-client.sh

# Local secrets live in .dev.vars (git-ignored): a random token secret on first run.
if [ ! -f .dev.vars ]; then
  echo "ROOMSYNC_JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" > .dev.vars
  say "wrote .dev.vars with a fresh ROOMSYNC_JWT_SECRET"
fi

say "starting the worker on http://127.0.0.1:$worker_port"
# ROOMSYNC_DEV_TOKENS=1 lets the demo's role picker sign in (POST /rooms/:room/dev-token);
# the panel (another port, so another origin) may call the HTTP routes.
setsid env CI=true WRANGLER_SEND_METRICS=false ROOMSYNC_SKIP_WORKER_BUILD=1 \
  node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$worker_port" \
  --var ROOMSYNC_DEV_TOKENS:1 --var "ROOMSYNC_ALLOWED_ORIGINS:*" \
  --show-interactive-dev-session=false > .wrangler-dev.log 2>&1 &
worker_pid=$!
web_pid=""
cleanup() {
  [ -n "$web_pid" ] && stop_group "$web_pid"
  stop_group "$worker_pid"
}
trap cleanup EXIT INT TERM
wait_http "http://127.0.0.1:$worker_port/health" 90 || { cat .wrangler-dev.log; exit 1; }

say "starting the panel"
setsid env VITE_ROOMSYNC_URL="http://127.0.0.1:$worker_port" \
  node_modules/.bin/vite www --port "$web_port" --strictPort --host 127.0.0.1 --logLevel warn &
web_pid=$!
wait_http "http://127.0.0.1:$web_port/" 60
echo
echo "  Roomsync demo:  http://127.0.0.1:$web_port/        (open it in two tabs)"
echo "  another room:   http://127.0.0.1:$web_port/?room=ngo-2"
echo "  as a viewer:    http://127.0.0.1:$web_port/?role=viewer   (or switch roles in the header)"
echo "  worker:         http://127.0.0.1:$worker_port  (log: .wrangler-dev.log)"
echo "  Ctrl-C stops both."
wait "$web_pid"
