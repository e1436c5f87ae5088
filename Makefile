# irsa-webhook: the README's commands. `make run` and `make test` install what
# they need (Debian packages), build, and run.
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SHARED_DIR ?= $(abspath ../shared)
PORT ?= 8443
DEV_CERTS := certs/dev
BINARY := $(BUILD_DIR)/irsa-webhook

# Build and test dependencies: Debian bookworm packages only.
DEB_PACKAGES := build-essential cmake pkg-config git ca-certificates openssl curl \
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libsimdjson-dev \
  libgtest-dev libgmock-dev python3 python3-jsonpatch python3-jwcrypto clang-format \
  prometheus-cpp-dev

.PHONY: all deps build test test-unit test-e2e test-conformance test-asan run certs format clean help bench

all: build

help:
	@echo "make run        install deps, build, make dev certificates, serve on https://127.0.0.1:$(PORT)"
	@echo "make test       install deps, build, run every test (unit, e2e, conformance)"
	@echo "make test-asan  the suite under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make deps | build | certs | format | clean"
	@echo "make bench      run the benchmarks in bench/ (installs wrk if missing)"

# Installs only what is missing: `apt-get update` once, then `apt-get install`.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "deps: all Debian packages present"; \
	fi

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DIRSA_SHARED_DIR=$(SHARED_DIR)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

test-e2e: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

test-conformance: build
	python3 $(SHARED_DIR)/conformance/check.py --strict --bin $(BINARY)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DIRSA_SANITIZE=ON -DIRSA_SHARED_DIR=$(SHARED_DIR)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

certs: deps
	bash certs/gen-dev-certs.sh $(DEV_CERTS)

# The embedded default: ServiceAccounts from examples/, dev certificates.
run: build certs
	$(BINARY) --bind-address 127.0.0.1 --port $(PORT) \
	  --tls-cert $(DEV_CERTS)/tls.crt --tls-key $(DEV_CERTS)/tls.key \
	  --service-accounts-file examples/service-accounts.yaml \
	  --aws-default-region us-east-1 -v 3

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'fuzz/*.cc')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)

# Benchmarks (bench/): the server under wrk beside the framework ceiling, then
# the other bench executables. BENCH_ARGS passes options to server_bench.py.
bench: build
	@set -euo pipefail; \
	if ! command -v wrk >/dev/null; then \
	  echo "installing wrk"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends wrk; \
	fi; \
	names=$$(sed -n 's/^add_executable(\([A-Za-z0-9_-]*\).*/\1/p' bench/CMakeLists.txt); \
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $$names; \
	echo "== bench/server_bench.py"; \
	/usr/bin/python3 bench/server_bench.py --binary $(BINARY) \
	  --ceiling $(BUILD_DIR)/bench/httplib_ceiling $(BENCH_ARGS); \
	for name in $$names; do \
	  if [ "$$name" = httplib_ceiling ]; then continue; fi; \
	  echo "== bench/$$name"; $(BUILD_DIR)/bench/$$name; \
	done
