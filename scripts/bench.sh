#!/usr/bin/env bash
# Runs the engine benchmarks (criterion) and prints each target next to its same-run
# baseline as a ratio. Machines here are shared and noisy: read the ratios, not the times.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
cargo bench --quiet -p roomsync-shared --features native --bench engine -- \
  --warm-up-time 1 --measurement-time "${BENCH_SECONDS:-3}" --noplot 2>&1 | grep -E "^(wire bytes|[a-z_0-9]+/)" || true
python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion")
def median_ns(group, name):
    p = root / group / name / "new" / "estimates.json"
    return json.loads(p.read_text())["median"]["point_estimate"] if p.exists() else None
def fmt(ns):
    return f"{ns/1e3:.2f} µs" if ns < 1e6 else f"{ns/1e6:.2f} ms"
rows = [
    ("invalidation", "100000_subscriptions_10_affected", "1000_subscriptions_10_affected", "find affected subs: 100k vs 1k subscriptions (goal ≤ 2×)"),
    ("page_of_50_over_100k_rows", "engine_indexed_page_with_read_set", "baseline_raw_sql_50_rows", "indexed 50-row page over 100k rows vs raw SQL of the same rows"),
    ("commit", "tasks_create_via_room_0_subscribers", "baseline_raw_insert", "tasks:create through the room (validate, index, unique, ts) vs a raw INSERT"),
    ("commit", "tasks_create_via_room_100_subscribers", "tasks_create_via_room_0_subscribers", "commit with 100 unaffected subscribers vs none"),
    ("fan_out", "update_seen_by_1000_subscribers", "update_seen_by_1_subscribers", "commit whose change 1,000 subscribers see vs 1 (frames encoded)"),
    ("optimistic", "predict_users_ensure_over_1000_cached_rows", "users_ensure_via_room_1000_users", "automatic optimistic update over a 1,000-row cached list vs the room committing the mutation"),
]
print("\n| measurement | target (median) | baseline (median) | ratio |")
print("|---|---|---|---|")
for group, target, base, what in rows:
    t, b = median_ns(group, target), median_ns(group, base)
    if t is None or b is None:
        print(f"| {what} | missing | missing | – |")
        continue
    print(f"| {what} | {fmt(t)} | {fmt(b)} | {t/b:.2f}× |")
PY
