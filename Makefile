# The two commands of the README: `make demo` (build, reset dev with sample data, show status)
# and `make test` (everything CI runs). While working: `make check` (the fast loop, no fault suite)
# and `make faults [FAULTS=filter]` (the fault suite alone).
CARGO ?= cargo
# Core's `ts` feature too: clippy lints the TypeScript generation, and core's tests fail when
# ui/src/lib/generated/ is stale (`make types` rewrites it).
FEATURES := --features pipeline-db-cli/failpoints,pipeline-db-core/ts
# Tested packages (the desktop crate has its own target: it needs Tauri's system libraries).
TEST_PKGS := -p pipeline-db-core -p pipeline-db-cli -p pipeline-db-e2e -p pipeline-db-bench
# The packages whose every test target is quick (the e2e package's `faults` is not).
QUICK_PKGS := -p pipeline-db-core -p pipeline-db-cli -p pipeline-db-bench
# `make faults FAULTS=kill9`: a libtest filter (or any harness flags, e.g. `--list`, `--exact NAME`).
FAULTS ?=

.PHONY: demo build test check faults fuzz lint fmt types bench bench-quick bench-ci

build:
	$(CARGO) build --release -p pipeline-db-cli

demo: build
	./target/release/pipeline-db reset dev --with-sample-data --force
	./target/release/pipeline-db status

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(TEST_PKGS) --all-targets $(FEATURES) -- -D warnings
	@if $(CARGO) tree -p pipeline-db-core -e normal | grep -qE '(^| )(tauri|clap|indicatif) v'; then \
		echo "crates/core must not depend on tauri, clap or indicatif"; exit 1; fi

# The e2e tests run the real binary: build it (with the test-only failpoints) first; the fault
# suite's 200k-job seed also runs the release binary. `make test` runs every test target, the
# fault suite included (at PIPELINE_DB_FAULT_RUNS, default 50: what CI runs).
test: lint
	$(CARGO) build -p pipeline-db-cli $(FEATURES)
	$(CARGO) build --release -p pipeline-db-cli
	$(CARGO) test $(TEST_PKGS) $(FEATURES)

# The inner loop (under 3 minutes warm on 2 cores): fmt, clippy -D warnings, unit tests and the
# end-to-end CLI tests; everything `make test` runs except the fault suite.
check: lint
	$(CARGO) build -p pipeline-db-cli $(FEATURES)
	$(CARGO) test $(QUICK_PKGS) $(FEATURES)
	$(CARGO) test $(TEST_PKGS) $(FEATURES) --test cli

# The fault suite alone: `make faults FAULTS=kill9`, `PIPELINE_DB_FAULT_RUNS=3 make faults`.
faults:
	$(CARGO) build -p pipeline-db-cli $(FEATURES)
	$(CARGO) build --release -p pipeline-db-cli
	$(CARGO) test $(TEST_PKGS) $(FEATURES) --test faults -- $(FAULTS)

# Mutation fuzzing of a restore source from elsewhere (issue 11): the fault suite's
# `elsewhere::mutants` at 10,000 mutants instead of 300 (its runs(300) at PIPELINE_DB_FAULT_RUNS=1667
# is 10,002). The seed is fixed; PIPELINE_DB_FUZZ_SEED=N explores other mutants. Bad mutants are
# kept in target/elsewhere-mutants/ with their recipes.
fuzz:
	$(CARGO) build -p pipeline-db-cli $(FEATURES)
	PIPELINE_DB_FAULT_RUNS=1667 $(CARGO) test $(TEST_PKGS) $(FEATURES) --test faults -- --exact elsewhere::mutants

fmt:
	$(CARGO) fmt --all

# The window's TypeScript types, generated from the Rust types into ui/src/lib/generated/ (commit
# them): core's first (no Tauri needed), then all of them with the desktop's (needs Tauri's system
# libraries and ui/dist; also removes files no type generates any more and rewrites index.ts).
TYPES_TEST := ts::tests::generated_types_are_current
types:
	PIPELINE_DB_WRITE_TYPES=1 $(CARGO) test -p pipeline-db-core --features ts --lib -- --exact $(TYPES_TEST)
	test -d ui/dist || (cd ui && npm run build)
	PIPELINE_DB_WRITE_TYPES=1 $(CARGO) test -p pipeline-db-desktop --lib -- --exact $(TYPES_TEST)

# Benchmarks (issue 5): the release CLI side by side with SQLite's own limits, at 10k, 100k and 1M
# jobs; prints the table, appends it to bench/results.md and draws bench/seed.svg. `bench-quick`
# (10k only, about a minute) is what CI runs to prove the benchmark works; nothing asserts on time.
bench:
	$(CARGO) build --release -p pipeline-db-cli -p pipeline-db-bench
	./target/release/pipeline-db-bench

bench-quick:
	$(CARGO) build --release -p pipeline-db-cli -p pipeline-db-bench
	./target/release/pipeline-db-bench --quick

# CI proves the benchmark still runs without a release build: the quick run against the debug binary
# `make test` built (figures not comparable, not appended to bench/results.md).
bench-ci:
	$(CARGO) run -p pipeline-db-bench --features pipeline-db-core/failpoints -- \
		--quick --cli target/debug/pipeline-db --no-append --chart target/bench-ci-seed.svg

# ---- Desktop app (Tauri v2, src-tauri/ + ui/). Not a default member and not part of `make test`:
# it needs WebKitGTK. `make desktop-deps` once, then `make desktop` (run) / `make test-desktop`.
DESKTOP_BIN := target/debug/pipeline-db-desktop
DESKTOP_APT := libwebkit2gtk-4.1-dev build-essential file libxdo-dev libssl-dev \
	libayatana-appindicator3-dev librsvg2-dev pkg-config xvfb xauth imagemagick webkit2gtk-driver \
	dbus-x11 at-spi2-core x11-utils xdotool curl

.PHONY: desktop-deps desktop-build desktop test-desktop

desktop-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DESKTOP_APT)
	command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked
	cd ui && npm ci --no-audit --no-fund

desktop-build:
	cd ui && npm run build
	$(CARGO) build -p pipeline-db-desktop

desktop: desktop-build
	./$(DESKTOP_BIN)

# Typecheck + Vitest, clippy + the desktop's tests (mock-runtime commands, the capability against
# the command list, ui/src/lib/generated/ against the Rust types), then the WebDriver E2E under
# Xvfb (screenshots in docs/screenshots/).
test-desktop: desktop-build
	cd ui && npm run check && npm test
	$(CARGO) clippy -p pipeline-db-desktop --all-targets --no-deps -- -D warnings
	$(CARGO) test -p pipeline-db-desktop
	tests/e2e/run.sh $(DESKTOP_BIN) || { echo "E2E failed once; retrying (see output above)"; tests/e2e/run.sh $(DESKTOP_BIN); }
