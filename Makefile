# mlship: `make run` starts the server on its embedded default; `make test` installs what
# the tests need and runs them all.

GO      ?= go
PYTHON  ?= python3
VENV    := .venv
# Evidently, the reference of the drift statistics, needs pandas 2: a venv of its own.
DRIFT_VENV := .venv-drift
# moto, the S3-compatible server (with signature checks) of the S3 driver's tests: tests/s3.
S3_VENV := .venv-s3
# uv, pinned, in a venv of its own: it installs the test venvs.
UV_VERSION := 0.13.8
TOOLS   := .tools
UV      := $(TOOLS)/bin/uv
# The OpenID provider the single sign-on tests sign in through.
OIDC_PROVIDER := $(TOOLS)/bin/oidc-provider
BIN     := bin/mlship
# Fills a stopped server's store with many runs, for tests/test_ui_scale.py and bench/ui.
SEEDRUNS := $(TOOLS)/bin/seedruns
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/mlship/mlship/internal/version.Version=$(VERSION)

.PHONY: test-go-race test-drift-parity vet-after-build all ui build build-onnxruntime install run sandbox-deps test test-go test-e2e test-e2e-shared vet deps system-deps fuzz bench-tracking bench-tracking-pg bench-registry bench-traces bench-serving bench-drift bench-gates bench-onnx bench-ui clean

all: build

build: ui
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mlship
	CGO_ENABLED=0 $(GO) build -trimpath -o $(SEEDRUNS) ./tests/seedruns
	CGO_ENABLED=0 $(GO) build -trimpath -o $(TOOLS)/bin/lb ./tests/lb

# The web UI (ui/, docs/ui.md), built into internal/ui/dist, which the binary embeds:
# npm ci when the lockfile changed, npm run build when a source changed.
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json
ui: internal/ui/dist/index.html

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed: the web UI needs Node.js 20.19 or later (apt-get install nodejs npm)"; exit 1; }
	cd ui && npm ci --no-audit --no-fund
	touch $@

internal/ui/dist/index.html: ui/node_modules/.installed $(UI_SOURCES)
	cd ui && npm run build

# Puts mlship on the PATH: make install (PREFIX=/usr/local), or PREFIX=$HOME/.local.
PREFIX ?= /usr/local
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mlship
	@echo "installed $(DESTDIR)$(PREFIX)/bin/mlship"

# The same binary with cgo and ONNX Runtime support (--onnxruntime-lib): ONNX models with
# operators the native engine lacks run through ONNX Runtime's shared library.
build-onnxruntime:
	CGO_ENABLED=1 $(GO) build -tags onnxruntime -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mlship

# make run BIND=0.0.0.0 PORT=8080 DATA_DIR=/srv/mlship changes where it listens and keeps data.
BIND     ?= 127.0.0.1
PORT     ?= 5000
DATA_DIR ?= ./mlship-data
# Python models get environments built from their logged requirements by the pinned uv
# (--env-manager uv, docs/serving.md), in $(DATA_DIR)/envs.
run: build sandbox-deps $(UV)
	@echo "mlship server on http://$(BIND):$(PORT); the command line is $(CURDIR)/$(BIN)$(if $(filter 5000,$(PORT)),, (export MLSHIP_SERVER=http://$(BIND):$(PORT) so that it finds this server))"
	./$(BIN) server --host $(BIND) --port $(PORT) --data-dir $(DATA_DIR) --uv $(UV)

deps: $(UV) $(VENV)/.compiled $(DRIFT_VENV)/.compiled $(S3_VENV)/.compiled system-deps $(OIDC_PROVIDER) $(TOOLS)/chart-tests.ok
	$(GO) mod download

# The OpenID provider tests/test_oidc.py signs in through: a nested module, so that its
# dependencies stay out of mlship's; rebuilt when its source or pins change.
$(OIDC_PROVIDER): tests/oidc-provider/main.go tests/oidc-provider/go.mod tests/oidc-provider/go.sum
	mkdir -p $(dir $@)
	cd tests/oidc-provider && $(GO) build -trimpath -o $(CURDIR)/$@ .

# The Helm chart (deploy/helm/mlship) rendered by Helm's own engine and every object decoded
# into its Kubernetes type, and the container image's builder (deploy/image): nested modules,
# so that Helm's and go-containerregistry's dependencies stay out of mlship's. Building Helm
# from a cold cache takes about 3 minutes on 2 cores, so they build and run in the deps phase,
# beside the Python installs, rather than in test-go; rerun when the chart or its tests change.
CHART_SOURCES := $(shell find deploy/helm deploy/image -type f 2>/dev/null)
$(TOOLS)/chart-tests.ok: $(CHART_SOURCES)
	mkdir -p $(dir $@)
	cd deploy/helm/charttest && $(GO) test -count=1 ./...
	cd deploy/image && $(GO) test -count=1 ./...
	touch $@

# Evidently, the reference the drift statistics are checked against, needs pandas 2, so it
# lives in a virtualenv of its own (internal/drift's tests find it).
$(DRIFT_VENV)/.compiled: internal/drift/testdata/requirements.txt $(UV)
	$(UV) venv --quiet --seed --allow-existing --no-python-downloads --python $(PYTHON) $(DRIFT_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(DRIFT_VENV) $(UV) pip install --quiet --reinstall --compile-bytecode -r internal/drift/testdata/requirements.txt
	touch $@

# moto in server mode, in a venv of its own (its boto3 and Flask stay out of the tests'):
# tests/s3/server.py runs it for internal/blob's S3 tests and tests/test_s3.py.
$(S3_VENV)/.compiled: tests/s3/requirements.txt $(UV)
	$(UV) venv --quiet --seed --allow-existing --no-python-downloads --python $(PYTHON) $(S3_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(S3_VENV) $(UV) pip install --quiet --reinstall --compile-bytecode -r tests/s3/requirements.txt
	touch $@

# uv installs the pinned Python packages in seconds (pip takes minutes); it comes from the
# package registry like everything else, into a venv of its own.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# bubblewrap confines the model workers (docs/security.md); without it they fall back to
# Landlock, which is weaker.
sandbox-deps:
	@if ! command -v bwrap >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; \
		else echo "bubblewrap is not installed and cannot be installed here: workers fall back to Landlock"; fi; \
	fi

# R and jsonlite serve R models (runtimes/r); the tests skip R models where R is absent,
# so a machine without apt-get still runs everything else. bubblewrap is the sandbox the
# python, r and declared runtimes' workers run in (internal/runtime/sandbox). Debian's
# chromium is the browser the UI's tests drive (tests/test_ui_*.py; skipped without it).
system-deps: sandbox-deps
	@missing=""; \
	if ! command -v Rscript >/dev/null || ! Rscript -e 'library(jsonlite)' >/dev/null 2>&1; then missing="r-base-core r-cran-jsonlite"; fi; \
	if ! command -v chromium >/dev/null; then missing="$$missing chromium"; fi; \
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing="$$missing postgresql"; fi; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "$$missing not installed and cannot be installed here: the R worker's, the UI's browser and PostgreSQL's tests will be skipped"; fi; \
	fi

# The test virtualenv is rebuilt whenever the pinned requirements change. Its modules are
# compiled as they are installed: with PYTHONDONTWRITEBYTECODE set, as on this machine and in
# CI, every Python process (test workers, model workers, commands) would otherwise compile
# mlflow, pandas and scikit-learn anew on import, 7 s of CPU each. --reinstall, because uv
# compiles only what it installs: a venv made before compiling began (stamped .installed, now
# .compiled) is installed again, compiled, from uv's cache (20 s). The end-to-end suite ran
# 7 min 44 s in an uncompiled venv, 4 min 56 s in a compiled one.
$(VENV)/.compiled: tests/requirements.txt $(UV)
	$(UV) venv --quiet --seed --allow-existing --no-python-downloads --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip install --quiet --reinstall --compile-bytecode -r tests/requirements.txt
	touch $@

vet:
	$(GO) vet ./...

# tests/pg/run.sh starts a throwaway PostgreSQL (Debian's postgresql package) for the run:
# the store's conformance suites (storetest) then run on SQLite and on PostgreSQL.
test-go: test-go-race test-drift-parity

test-go-race:
	tests/pg/run.sh $(GO) test -race ./...
	CGO_ENABLED=1 $(GO) test -tags onnxruntime -race ./internal/runtime/ort/...

# Drift results against Evidently's own, computed in .venv-drift.
test-drift-parity:
	MLSHIP_DRIFT_REFERENCE_PYTHON=$(CURDIR)/$(DRIFT_VENV)/bin/python $(GO) test -count=1 -run TestMatchesEvidently ./internal/drift/

# The end-to-end files run in E2E_WORKERS processes (pytest-xdist), each against a server of
# its own; a file stays in one process, so its module fixtures (deployments) load once. The
# files run in conftest.py's order (the heaviest first), not xdist's (the most tests first).
E2E_WORKERS ?= 3
test-e2e: build deps
	MLSHIP_BIN=$(CURDIR)/$(BIN) MLSHIP_SEEDRUNS=$(CURDIR)/$(SEEDRUNS) $(VENV)/bin/python -m pytest tests -q -n $(E2E_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

# Part of the end-to-end suite again as a scaled-out server runs (docs/scale-out.md): its
# metadata on PostgreSQL (tests/pg/run.sh: a database of its own for each server) and its
# artifacts and content store on S3 (the test S3 server, moto checking signatures, started by
# tests/s3/run.sh; each server under a prefix of its own, tests/s3/mlship-on-s3). The files
# that store, list, copy and read blobs, and those that search, number and permit in SQL.
E2E_SHARED_FILES ?= tests/test_artifacts.py tests/test_registry.py tests/test_datasets.py \
	tests/test_experiments.py tests/test_runs.py tests/test_search_runs.py tests/test_auth_mlflow.py \
	tests/test_replicas.py tests/test_copy_store.py
test-e2e-shared: build deps
	tests/pg/run.sh tests/s3/run.sh env MLSHIP_E2E_BACKEND=postgres MLSHIP_E2E_REPLICAS=3 MLSHIP_LB=$(CURDIR)/$(TOOLS)/bin/lb \
		MLSHIP_BIN=$(CURDIR)/tests/s3/mlship-on-s3 MLSHIP_S3_REAL_BIN=$(CURDIR)/$(BIN) \
		$(VENV)/bin/python -m pytest $(E2E_SHARED_FILES) -q -n $(E2E_WORKERS) --dist loadfile

# The set-up runs side by side (downloads beside builds, go vet once the build is done).
# Then the Go suites, the Evidently parity and the shared-backend subset side by side (each
# output printed whole as it ends), and the end-to-end suite alone: beside the Go suites
# on 2 cores, its Python workers took minutes to load and timed out.
test:
	$(MAKE) -j4 deps vet-after-build
	$(MAKE) -j3 --output-sync=target test-go-race test-drift-parity test-e2e-shared
	$(MAKE) test-e2e

# go vet after the build, whose UI bundle the server package embeds.
vet-after-build: build
	$(GO) vet ./...

# Short fuzzing runs of every parser (FUZZTIME each).
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	internal/search:FuzzParseFilter internal/search:FuzzParseOrderBy internal/search:FuzzDecodePageToken \
	internal/blob:FuzzCleanUserPath internal/registry:FuzzCheckSource internal/mlflowapi:FuzzDecode \
	internal/serving/tensorjson:FuzzParse internal/serving/oip:FuzzDecodeInferRequest \
	internal/serving/scoring:FuzzDecodeInvocation internal/serving/scoring:FuzzDecodeV1 \
	internal/runtime/process:FuzzReadReady internal/runtime/process:FuzzReadReply \
	internal/onnx:FuzzLoad internal/dataset:FuzzReadCSV internal/dataset:FuzzReadJSONLines \
	internal/dataset:FuzzProfileJSON internal/gate:FuzzParseThresholds internal/gates:FuzzBenchmarkInput \
	internal/server:FuzzRouteGuard
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; \
	done

# Side-by-side benchmarks against MLflow's own server (not part of make test).
# MLflow's server fails a few percent of requests at 20 clients (see bench/README.md);
# BENCH_FLAGS=--max-error-rate=0.05 lets the run finish with exit status 0.
bench-tracking: build
	bash bench/setup.sh bench
	$(GO) run ./bench/tracking $(BENCH_FLAGS)

# The same on PostgreSQL (a throwaway cluster from tests/pg/start.sh; `make system-deps`
# installs it): MLflow, mlship on one server and mlship on 3 replicas of one database.
bench-tracking-pg: build
	bash bench/setup.sh bench
	$(GO) run ./bench/tracking --backend postgres --replicas 3 $(BENCH_FLAGS)

bench-registry: build
	bash bench/setup.sh bench
	$(GO) run ./bench/registry $(BENCH_FLAGS)

# OTLP span ingest and search_traces over 100,000 traces against MLflow's server (bench/README.md).
bench-traces: build
	bash bench/setup.sh bench
	$(GO) run ./bench/traces $(BENCH_FLAGS)

# mlship serve against `mlflow models serve` and MLServer on the same model (bench/README.md).
bench-serving: build
	bash bench/setup.sh
	$(GO) run ./bench/serving $(BENCH_FLAGS)

# Profile and drift report against Evidently, and dataset registration against dvc add.
bench-drift: build
	bash bench/setup.sh drift
	$(GO) run ./bench/drift $(BENCH_FLAGS)

# `mlship gate evaluate` against mlflow.evaluate on the same ONNX model and 1,000,000 rows.
bench-gates: build
	bash bench/setup.sh bench
	$(GO) run ./bench/gates $(BENCH_FLAGS)

# The native ONNX engine against onnxruntime's Python API, in process.
# The runs page of 100,000 runs in headless Chromium, mlship's UI against MLflow's.
bench-ui: build deps
	bash bench/setup.sh bench
	$(VENV)/bin/python bench/ui/bench_ui.py $(BENCH_FLAGS)

bench-onnx:
	bash bench/setup.sh bench
	$(GO) run ./bench/onnx $(BENCH_FLAGS)

# The chart's and the image builder's tests alone (make deps runs them when they change).
.PHONY: test-chart image
# With bin/mlship built, the command lines the chart renders are run too (MLSHIP_BIN).
test-chart:
	cd deploy/helm/charttest && $(if $(wildcard $(BIN)),MLSHIP_BIN=$(abspath $(BIN))) $(GO) test -count=1 ./...
	cd deploy/image && $(GO) test -count=1 ./...

# The server's container image, built without a container daemon (deploy/image): FROM
# scratch, the static binary, CA certificates, user 65532, checked by deploy/image's tests.
# dist/mlship-image.tar loads with `docker load` or `kind load image-archive`;
# IMAGE_PUSH=registry.example.com/mlship:TAG pushes it with the Docker config's credentials.
# IMAGE_PLATFORMS=linux/amd64,linux/arm64 cross-builds the binary for each and writes an OCI
# layout of them all (dist/mlship-image-oci) instead of the tarball (or pushes the index).
IMAGE_TAR       ?= dist/mlship-image.tar
IMAGE_NAME      ?= mlship:$(VERSION)
IMAGE_PLATFORMS ?= linux/$(shell $(GO) env GOARCH)
image: build
	@set -e; bins=""; \
	for p in $$(echo $(IMAGE_PLATFORMS) | tr , ' '); do \
		a=$${p#linux/}; \
		if [ "$$a" = "$$($(GO) env GOARCH)" ]; then bin=$(abspath $(BIN)); else \
			bin=$(CURDIR)/dist/mlship-linux-$$a; echo "build $$bin"; \
			CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$bin ./cmd/mlship; fi; \
		bins="$$bins --binary $$p=$$bin"; \
	done; \
	case "$(IMAGE_PLATFORMS)" in *,*) out="--oci-layout $(CURDIR)/dist/mlship-image-oci";; *) out="--tar $(abspath $(IMAGE_TAR))";; esac; \
	cd deploy/image && $(GO) run . $$bins $$out --tag $(IMAGE_NAME) --version $(VERSION) \
		--revision "$$(git rev-parse HEAD)" --created "$$(git log -1 --format=%ct)" $(if $(IMAGE_PUSH),--push $(IMAGE_PUSH)); \
	case "$(IMAGE_PLATFORMS)" in *,*) ;; *) MLSHIP_IMAGE_TAR=$(abspath $(IMAGE_TAR)) $(GO) test -count=1 -run 'TestImageConfig|TestImageFiles' . ;; esac

clean:
	rm -rf bin $(VENV) $(TOOLS)
