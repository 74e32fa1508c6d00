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
# A short tour, so that spans and stats show at once (DEMO_TOUR=0 skips it)
if [ "${DEMO_TOUR:-1}" != 0 ]; then
  call() { # host path body: prints the status line of the reply
    curl -s -o /tmp/genai-tap-demo-reply -w '%{http_code}' "127.0.0.1:10000$2" -H "host: $1" \
      -H 'content-type: application/json' -d "$3"
  }
  echo
  echo "== the tour: four calls through Envoy"
  echo "chat completion ............ $(call api.openai.com /v1/chat/completions '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"Say hi"}]}')"
  echo "streamed chat completion ... $(call api.openai.com /v1/chat/completions '{"model":"gpt-5-nano","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count to ten"}]}')"
  echo "anthropic message .......... $(call api.anthropic.com /v1/messages '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Say hi"}]}')"
  echo "a prompt with a secret ..... $(call api.openai.com /v1/chat/completions '{"model":"gpt-4o","messages":[{"role":"user","content":"deploy with AKIAZ7QW4XJ2LBNM5K3P please"}]}') $(cat /tmp/genai-tap-demo-reply)"
  sleep 1.5
  echo
  echo "== genai-tap's stats (curl -s 127.0.0.1:9901/stats/prometheus | grep ^genai_tap)"
  curl -s 127.0.0.1:9901/stats/prometheus | grep '^genai_tap' | grep -v '_bucket' | head -20
fi
cat <<'TXT'

genai-tap demo is up: Envoy on 127.0.0.1:10000, admin on 127.0.0.1:9901.
Try, in another terminal:
  curl -s 127.0.0.1:10000/v1/chat/completions -H 'host: api.openai.com' -H 'content-type: application/json' \
    -d '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"Say hi"}]}'
  curl -s 127.0.0.1:9901/stats/prometheus | grep genai_tap
Spans print below as the sink decodes them. Ctrl-C stops everything.

TXT
# DEMO_EXIT_AFTER=n: stop n seconds after the tour (the test of the demo uses it)
if [ -n "${DEMO_EXIT_AFTER:-}" ]; then
  sleep "$DEMO_EXIT_AFTER"
  exit 0
fi
wait -n "${pids[@]}"
