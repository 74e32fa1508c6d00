#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS each (default 60). Crashes land in fuzz/artifacts/;
# copy each into fuzz/regressions/<target>/, where tests/fuzz_smoke.rs replays it in make test.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
seconds=${FUZZ_SECONDS:-60}
for t in framing providers config redactor otlp mcp; do
  echo "== fuzz $t for ${seconds}s"
  cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
