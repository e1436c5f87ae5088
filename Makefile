# irsa-webhook: the README's commands. `make run` and `make test` install what
# they need (Debian packages), build, and run.
SHELL := /bin/bash
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SHARED_DIR ?= $(abspath ../shared)
PORT ?= 8443
METRICS_PORT ?= 9999
PREFIX ?= /usr/local
QUIET := bash tools/quiet-build.sh
DEV_CERTS := certs/dev
BINARY := $(BUILD_DIR)/irsa-webhook

# Dependencies: Debian bookworm packages only. BUILD_PACKAGES build the
# binary (`make binary`, the image's builder); the rest are for the tests.
BUILD_PACKAGES := build-essential cmake pkg-config git ca-certificates \
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libsimdjson-dev prometheus-cpp-dev
DEB_PACKAGES := $(BUILD_PACKAGES) openssl curl libgtest-dev libgmock-dev \
  libbenchmark-dev python3 python3-jsonpatch python3-yaml python3-jsonschema python3-jwcrypto clang-format awscli

.PHONY: all deps deps-binary binary build install uninstall format-check thread-safety lint test test-unit test-e2e test-conformance test-asan run certs format clean help bench

all: build

help:
	@echo "make run        install deps, build, make dev certificates, serve on https://127.0.0.1:$(PORT)"
	@echo "                (PORT=8443 METRICS_PORT=9999 to choose the ports)"
	@echo "make test       install deps, build, run every test (unit, e2e, conformance, docs)"
	@echo "make install    the binary to PREFIX/bin (PREFIX=$(PREFIX)); make uninstall removes it"
	@echo "                (builds quietly: VERBOSE=1 shows the compiler's output)"
	@echo "make test-asan  the suite under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make deps | build | certs | format | clean"
	@echo "make lint       format-check (no diff from make format), thread-safety (clang-14), clang-tidy"
	@echo "make binary     only the binary (BUILD_PACKAGES, no tests): what the image's builder runs"
	@echo "make demo       serve on a free port, post examples/admission-review.json, print the patch and the Pod"
	@echo "make image      build the container image (docker, else buildah); IMAGE=name:tag"
	@echo "make image-test build the image and test it (user, contents, flags, serving)"
	@echo "make deploy     kubectl apply -k manifests/overlays/\$$(OVERLAY) (self-signed | cert-manager); undeploy"
	@echo "make check-manifests   render every overlay and check it (schemas, flags, certificates)"
	@echo "make bench      run the benchmarks in bench/ (load beside nginx, hostile clients, memory amplification; installs wrk, nginx-light)"
	@echo "make fuzz       every libFuzzer target for FUZZ_SECONDS (300) each, then a table (clang-14)"
	@echo "make fuzz-campaign  FUZZ_CAMPAIGN_TOTAL seconds on the targets furthest from 10M executions"
	@echo "make fuzz-smoke replay every seed and fuzz/regressions/ file through every target (in make test)"

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

# Only the binary: what the container image's builder runs.
deps-binary:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BUILD_PACKAGES)"

binary: deps-binary
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DIRSA_BUILD_TESTS=OFF
	cmake --build $(BUILD_DIR) -j $(JOBS) --target irsa-webhook

$(BUILD_DIR)/CMakeCache.txt:
	@$(QUIET) $(BUILD_DIR)/configure.log "configure $(BUILD_DIR) ($(BUILD_TYPE))" \
	  cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DIRSA_SHARED_DIR=$(SHARED_DIR)

# Tests on: `make binary` may have configured this directory without them.
build: deps $(BUILD_DIR)/CMakeCache.txt
	@grep -q '^IRSA_BUILD_TESTS:BOOL=OFF' $(BUILD_DIR)/CMakeCache.txt && \
	  cmake -S . -B $(BUILD_DIR) -DIRSA_BUILD_TESTS=ON >/dev/null || true
	@$(QUIET) $(BUILD_DIR)/build.log "build (binary, tests, benchmarks)" cmake --build $(BUILD_DIR) -j $(JOBS)

# The binary to PREFIX/bin (default /usr/local/bin), so that the documented
# commands work as `irsa-webhook`. DESTDIR is honoured for packaging.
install: deps $(BUILD_DIR)/CMakeCache.txt
	@$(QUIET) $(BUILD_DIR)/build.log "build irsa-webhook" cmake --build $(BUILD_DIR) -j $(JOBS) --target irsa-webhook
	install -D -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/irsa-webhook
	@echo "installed $(DESTDIR)$(PREFIX)/bin/irsa-webhook: $$($(DESTDIR)$(PREFIX)/bin/irsa-webhook --version)"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/irsa-webhook

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

test-e2e: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

test-conformance: build
	python3 $(SHARED_DIR)/conformance/check.py --strict --bin $(BINARY)
	python3 $(SHARED_DIR)/conformance/check.py --strict --bin $(BINARY) --cases tests/conformance

test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DIRSA_SANITIZE=ON -DIRSA_SHARED_DIR=$(SHARED_DIR)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

certs: deps
	@bash certs/gen-dev-certs.sh $(DEV_CERTS) >/dev/null

# The embedded default: ServiceAccounts from examples/, dev certificates.
run: build certs
	$(BINARY) --bind-address 127.0.0.1 --port $(PORT) --metrics-port $(METRICS_PORT) \
	  --tls-cert $(DEV_CERTS)/tls.crt --tls-key $(DEV_CERTS)/tls.key \
	  --service-accounts-file examples/service-accounts.yaml \
	  --aws-default-region us-east-1 -v 3

FORMAT_FILES = $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'fuzz/*.cc')
LINT_PACKAGES := clang-format clang-tidy clang-14

format:
	clang-format -i $(FORMAT_FILES)

# What CI checks of the code's form: no diff from `make format`, and clang's
# thread-safety analysis (src/common/thread_annotations.h) clean.
format-check:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(LINT_PACKAGES)"
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format: no diff from make format"

thread-safety: build
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(LINT_PACKAGES)"
	python3 tools/thread_safety.py $(BUILD_DIR) $(JOBS)

# STYLE.md's lint: the two checks above, then clang-tidy (.clang-tidy: bugprone,
# performance, clang-analyzer, naming, selected modernize) on src/.
lint: format-check thread-safety
	run-clang-tidy-14 -p $(BUILD_DIR) -quiet -j $(JOBS) '$(CURDIR)/src/'

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)

# --- Operations: demo, container image, cluster install ---------------------
.PHONY: demo image image-test deploy undeploy check-cluster bench check-manifests
# ('.' for the parenthesis after project: make counts parentheses in $(shell).)
VERSION ?= $(shell sed -n 's/^project.irsa-webhook VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
IMAGE ?= irsa-webhook:$(VERSION)
OVERLAY ?= self-signed
KUBECTL ?= kubectl
WEBHOOK_NAMESPACE ?= irsa-system

# Serves on a free loopback port with dev certificates and examples/, posts
# examples/admission-review.json, prints the decoded patch and the mutated Pod,
# and stops the server. Every wait is bounded.
demo: build certs
	@set -euo pipefail; \
	port=$$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	work=$$(mktemp -d); \
	$(BINARY) --bind-address 127.0.0.1 --port $$port --metrics-port 0 \
	  --tls-cert $(DEV_CERTS)/tls.crt --tls-key $(DEV_CERTS)/tls.key \
	  --service-accounts-file examples/service-accounts.yaml --aws-default-region us-east-1 -v 3 \
	  2>$$work/server.log & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true; rm -rf $$work' EXIT; \
	for i in $$(seq 100); do \
	  curl -sf -m 2 --cacert $(DEV_CERTS)/ca.crt https://127.0.0.1:$$port/readyz >/dev/null && break; \
	  kill -0 $$pid 2>/dev/null || { cat $$work/server.log; exit 1; }; sleep 0.1; \
	done; \
	echo "== irsa-webhook serving on https://127.0.0.1:$$port (pid $$pid)"; \
	echo "== POST examples/admission-review.json to /mutate"; \
	curl -sS -f -m 10 --cacert $(DEV_CERTS)/ca.crt -H 'Content-Type: application/json' \
	  --data @examples/admission-review.json https://127.0.0.1:$$port/mutate >$$work/answer.json; \
	/usr/bin/python3 -c 'import base64, json, sys, jsonpatch; \
	review = json.load(open("examples/admission-review.json")); answer = json.load(open(sys.argv[1])); \
	response = answer["response"]; \
	print("allowed:", response["allowed"], " uid:", response["uid"]); \
	patch = json.loads(base64.b64decode(response.get("patch", "") or "W10=")); \
	print("== the patch (JSONPatch, one operation a line)"); \
	[print(json.dumps(op)) for op in patch]; \
	print("== the mutated Pod"); \
	print(json.dumps(jsonpatch.apply_patch(review["request"]["object"], patch), indent=2))' $$work/answer.json; \
	kill -TERM $$pid; wait $$pid; status=$$?; \
	echo "== server log"; cat $$work/server.log; \
	echo "== stopped (exit $$status)"

# The container image from the Dockerfile: `docker build` where a Docker
# daemon answers, else buildah (installed here if missing, not by `make deps`).
image:
	bash tests/image/build_image.sh $(IMAGE)

# Builds the image and checks it: run by .ci/run after `make test`.
image-test:
	IMAGE=$(IMAGE) bash tests/image/image_test.sh

# Installs cluster-wide into the current kubectl context. The self-signed
# overlay's certificates are made first (kept while valid). IMAGE sets the
# image (default irsa-webhook:$(VERSION); push it where your nodes pull from).
deploy: check-cluster
	@set -euo pipefail; \
	if [ "$(OVERLAY)" = self-signed ]; then manifests/overlays/self-signed/generate.sh; fi; \
	work=$$(mktemp -d); trap 'rm -rf $$work' EXIT; \
	image='$(IMAGE)'; name=$${image%:*}; tag=$${image##*:}; \
	if [ "$$name" = "$$image" ] || [[ "$$tag" == */* ]]; then name=$$image; tag=latest; fi; \
	printf 'resources: [%s]\nimages: [{name: irsa-webhook, newName: "%s", newTag: "%s"}]\n' \
	  "$$(realpath --relative-to=$$work manifests/overlays/$(OVERLAY))" "$$name" "$$tag" >$$work/kustomization.yaml; \
	echo "$(KUBECTL) apply -k manifests/overlays/$(OVERLAY) (image $$name:$$tag)"; \
	$(KUBECTL) apply -k $$work; \
	$(KUBECTL) -n $(WEBHOOK_NAMESPACE) rollout status deployment/irsa-webhook --timeout=180s

# Says what is missing before kubectl would (its advice for an unreachable
# cluster is to turn validation off, which does not help).
check-cluster:
	@command -v $(KUBECTL) >/dev/null || { echo "make deploy: $(KUBECTL) is not installed; install kubectl (with kustomize) first" >&2; exit 1; }
	@context=$$($(KUBECTL) config current-context 2>/dev/null) || { \
	  echo "make deploy: kubectl has no current context: point KUBECONFIG at your cluster's kubeconfig or run 'kubectl config use-context NAME'" >&2; exit 1; }; \
	$(KUBECTL) version --request-timeout=10s >/dev/null 2>&1 || { \
	  echo "make deploy: the cluster of kubectl's context \"$$context\" does not answer (kubectl version failed): check the context, the network and your credentials" >&2; exit 1; }; \
	echo "cluster: kubectl context \"$$context\""

undeploy: check-cluster
	@set -euo pipefail; \
	if [ "$(OVERLAY)" = self-signed ] && [ ! -f manifests/overlays/self-signed/generated/ca-bundle-patch.yaml ]; then \
	  manifests/overlays/self-signed/generate.sh >/dev/null; fi; \
	$(KUBECTL) delete mutatingwebhookconfiguration irsa-webhook --ignore-not-found; \
	$(KUBECTL) delete -k manifests/overlays/$(OVERLAY) --ignore-not-found

# Renders every overlay (kubectl kustomize where kubectl exists) and checks it:
# schemas, the Deployment's flags against the binary, certificates served.
check-manifests: build
	IRSA_BINARY=$(abspath $(BINARY)) IRSA_SOURCE_DIR=$(CURDIR) IRSA_SHARED_DIR=$(SHARED_DIR) \
	  /usr/bin/python3 tests/deploy/test_manifests.py -v

# Benchmarks (bench/, not run by `make test`; bench/README.md): the server
# load benchmark (bench/server_bench.py: wrk over TLS against the real binary
# beside nginx's fixed reply and the framework ceiling, same run; installs wrk
# and nginx-light when missing; BENCH_ARGS passes options such as
# --duration 10), the hostile mix (bench/hostile.py) and the amplification
# benchmark (bench/amplification.py), then every program bench/CMakeLists.txt
# names, but the ceiling, which is a server the load benchmark drives.
BENCH_ARGS ?=
bench: build
	@set -euo pipefail; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); updated=0; \
	if ! command -v wrk >/dev/null; then \
	  echo "installing wrk"; $$SUDO apt-get update -q && updated=1 && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends wrk; \
	fi; \
	if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  echo "installing nginx-light (the TLS reference of bench/server_bench.py)"; \
	  { [ $$updated = 1 ] || $$SUDO apt-get update -q; } && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends nginx-light \
	    || echo "could not install nginx-light: server_bench.py skips the nginx column"; \
	fi; \
	names=$$(sed -n 's/^add_executable(\([A-Za-z0-9_-]*\).*/\1/p' bench/CMakeLists.txt); \
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $$names; \
	echo "== bench/server_bench.py"; \
	/usr/bin/python3 bench/server_bench.py --binary $(BINARY) \
	  --ceiling $(BUILD_DIR)/bench/httplib_ceiling $(BENCH_ARGS); \
	echo "== bench/hostile.py"; /usr/bin/python3 bench/hostile.py --binary $(BINARY); \
	echo "== bench/amplification.py"; /usr/bin/python3 bench/amplification.py --binary $(BINARY); \
	for name in $$names; do \
	  if [ "$$name" = httplib_ceiling ]; then continue; fi; \
	  echo "== bench/$$name"; $(BUILD_DIR)/bench/$$name; \
	done

# --- Fuzzing (fuzz/) -----------------------------------------------------------
.PHONY: fuzz fuzz-build fuzz-campaign fuzz-smoke
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_CLANG ?= clang++-14
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -gline-tables-only

# Every libFuzzer target for FUZZ_SECONDS each (FUZZ_TARGETS=a,b for some,
# FUZZ_JOBS=2 to run two at once), then a table: target, executions,
# coverage, corpus, crashes. Built with clang-14 in $(FUZZ_BUILD_DIR), which
# this installs (clang-14, libclang-rt-14-dev) when missing.
fuzz-build: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="clang-14 libclang-rt-14-dev"
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRSA_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=$(FUZZ_CLANG) -DCMAKE_CXX_FLAGS="$(FUZZ_FLAGS)" -DIRSA_SHARED_DIR=$(SHARED_DIR)
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers
	python3 fuzz/make_seeds.py --source . --shared $(SHARED_DIR) --out $(FUZZ_BUILD_DIR)/fuzz/seeds

FUZZ_RUN := python3 fuzz/run_fuzz.py --bin $(FUZZ_BUILD_DIR)/fuzz --seeds $(FUZZ_BUILD_DIR)/fuzz/seeds \
  --work $(FUZZ_BUILD_DIR)/fuzz/work

fuzz: fuzz-build
	$(FUZZ_RUN) --seconds $(FUZZ_SECONDS)

# A long campaign in slices: for FUZZ_CAMPAIGN_TOTAL seconds, FUZZ_SECONDS at a
# time, the targets furthest from 10 million executions in all (the ledger
# in $(FUZZ_BUILD_DIR)/fuzz/work/ledger.json adds up every run).
FUZZ_CAMPAIGN_TOTAL ?= 3600
fuzz-campaign: fuzz-build
	$(FUZZ_RUN) --plan-seconds $(FUZZ_SECONDS) --plan-total $(FUZZ_CAMPAIGN_TOTAL)

# Replays every seed corpus and every fuzz/regressions/ file through every
# target, built by the normal compiler: the `fuzz` label of `make test`.
fuzz-smoke: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L fuzz
