#!/usr/bin/env bash
# Starts the demo: the recording upstream, the OTLP sink (prints spans), and Envoy with the filter.
# Ctrl-C stops all three.
set -euo pipefail
envoy_bin=${1:-.tools/envoy-1.40.0/envoy}
pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT
target/release/genai-tap-upstream 18080 & pids+=($!)
target/release/genai-tap-sink 4318 & pids+=($!)
"$envoy_bin" -c envoy/demo.yaml --concurrency 1 --use-dynamic-base-id -l warn & pids+=($!)
for _ in $(seq 1 100); do
  curl -sf 127.0.0.1:9901/ready >/dev/null 2>&1 && break
  sleep 0.1
done
cat <<'TXT'

genai-tap demo is up: Envoy on 127.0.0.1:10000, admin on 127.0.0.1:9901.
Try, in another terminal:
  curl -s 127.0.0.1:10000/v1/chat/completions -H 'host: api.openai.com' -H 'content-type: application/json' \
    -d '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"Say hi"}]}'
  curl -s 127.0.0.1:9901/stats/prometheus | grep genai_tap
Spans print below as the sink decodes them. Ctrl-C stops everything.

TXT
wait -n "${pids[@]}"
