#!/usr/bin/env bash
# Size of the browser client as an application ships it, next to its peers: the WASM after
# wasm-opt, and the JS glue with its snippets bundled and minified by esbuild; gzip -9.
# Peers measured the same way (esbuild, minified, gzip -9, React external): the Convex browser
# client with its React hooks 22 KB, Replicache 36 KB (the issue's goal and stretch).
# Run after scripts/build-client.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkg="$root/client-wasm/pkg"
wasm=$(gzip -9 -c "$pkg/roomsync_client_bg.wasm" | wc -c)
glue=$("$root/node_modules/.bin/esbuild" "$pkg/index.js" --bundle --minify --format=esm \
  --log-level=error | gzip -9 | wc -c)
total=$((wasm + glue))
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
printf '| %-44s | %10s | %12s | %12s |\n' "artifact (gzip -9)" "size" "vs Replicache" "vs Convex"
printf '| %-44s | %10s | %12s | %12s |\n' "---" "---" "---" "---"
printf '| %-44s | %10s | %12s | %12s |\n' "client WASM (wasm-opt -Oz --converge)" "$(kb "$wasm")" "" ""
printf '| %-44s | %10s | %12s | %12s |\n' "JS glue + snippets (esbuild --minify)" "$(kb "$glue")" "" ""
printf '| %-44s | %10s | %12s | %12s |\n' "Roomsync client total" "$(kb "$total")" \
  "$(ratio "$total" 36000)" "$(ratio "$total" 22000)"
printf '| %-44s | %10s | %12s | %12s |\n' "Replicache (goal)" "36.0 KB" "1.00×" "$(ratio 36000 22000)"
printf '| %-44s | %10s | %12s | %12s |\n' "Convex client + React hooks (stretch)" "22.0 KB" "$(ratio 22000 36000)" "1.00×"
