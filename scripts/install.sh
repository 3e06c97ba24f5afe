#!/usr/bin/env bash
# Installs whatever Roomsync's build, demo and tests need and is missing. Idempotent: a second
# run only checks versions (a few seconds). Uses registries only (crates.io, npm, Debian apt):
# nothing is downloaded from GitHub, so it works on locked-down machines and in CI.
#
# What it installs:
#   - Rust target wasm32-unknown-unknown                      (rustup)
#   - Rust nightly-2026-05-19 with rust-src, for the browser client's size build (rustup;
#     pinned: it rebuilds std so that panics trap without formatting machinery)
#   - wasm-bindgen-cli  = the wasm-bindgen version in Cargo.lock (cargo install)
#   - worker-build 0.8.7 (same minor as the `worker` crate)    (cargo install)
#   - chromium + chromium-driver, when absent                  (apt-get)
#   - node_modules from package-lock.json: wrangler, workerd, binaryen (wasm-opt), esbuild,
#     vite, react, playwright-core                             (npm ci)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen-cli must equal the wasm-bindgen crate the client and worker are built with.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

for tool in cargo rustup node npm; do
  command -v "$tool" >/dev/null || { echo "install.sh: '$tool' is required but not on PATH" >&2; exit 1; }
done

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The client's build (scripts/build-client.sh) rebuilds std with this pinned nightly; it is
# not used for anything else. ROOMSYNC_CLIENT_STABLE=1 skips it (a larger client, stable only).
CLIENT_NIGHTLY="${ROOMSYNC_CLIENT_NIGHTLY:-nightly-2026-05-19}"
if [ -z "${ROOMSYNC_CLIENT_STABLE:-}" ] && ! rustup component list --toolchain "$CLIENT_NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src'; then
  say "installing Rust $CLIENT_NIGHTLY with rust-src (about 20 s, once; for the client's size build)"
  rustup toolchain install "$CLIENT_NIGHTLY" --profile minimal --component rust-src
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once)"
  # --locked first; the crates.io index mirror can lag behind a locked transitive version.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --force \
    || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (about 3 minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force \
    || cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

# npm ci only when package-lock.json changed since the last install.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.roomsync-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.roomsync-lock-hash
fi
