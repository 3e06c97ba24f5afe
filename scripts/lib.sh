# Helpers shared by dev.sh and test.sh (sourced, not run).

say() { printf '==> %s\n' "$*"; }

# wait_http URL SECONDS: waits until URL answers 200, or fails.
wait_http() {
  local url=$1 seconds=$2 i
  for ((i = 0; i < seconds * 5; i++)); do
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "no answer from $url within ${seconds}s" >&2
  return 1
}

# stop_group PID: stops the process group led by PID (SIGINT, then SIGKILL), never by name.
stop_group() {
  local pid=$1 i
  kill -INT -- "-$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
