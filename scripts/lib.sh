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

# inputs_digest PATH...: one hash over the names and contents of every file under the PATHs
# (build outputs and dependencies skipped), and the variables named in DIGEST_VARS.
inputs_digest() {
  {
    find "$@" -type f -not -path '*/node_modules/*' -not -path '*/target/*' -not -path '*/dist/*' \
      -not -path '*/pkg/*' -print0 2>/dev/null | sort -z | xargs -0 sha256sum
    local var
    for var in ${DIGEST_VARS:-}; do echo "$var=${!var:-}"; done
  } | sha256sum | cut -d' ' -f1
}

# up_to_date STAMP DIGEST: whether the last build that wrote STAMP had these inputs (then
# a build script says so and changes nothing: command 1 run again rebuilds nothing).
up_to_date() {
  [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}
