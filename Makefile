# The two commands of the README: `make try` (installs what is missing, builds, opens the desktop
# app on a demo data dir with sample data; the CLI demo without a display) and `make ci` (everything
# CI runs: `.ci/run` is `make ci`). While working: `make check` (the fast loop, no fault suite),
# `make faults [FAULTS=filter]` (the fault suite alone), `make test` (core + CLI, fault suite included).
CARGO ?= cargo
# Where cargo puts what it builds (CARGO_TARGET_DIR, else target/).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Core's `ts` feature too: clippy lints the TypeScript generation, and core's tests fail when
# ui/src/lib/generated/ is stale (`make types` rewrites it).
FEATURES := --features pipeline-db-cli/failpoints,pipeline-db-core/ts
# Tested packages (the desktop crate has its own target: it needs Tauri's system libraries).
TEST_PKGS := -p pipeline-db-core -p pipeline-db-cli -p pipeline-db-e2e -p pipeline-db-bench
# The packages whose every test target is quick (the e2e package's `faults` is not).
QUICK_PKGS := -p pipeline-db-core -p pipeline-db-cli -p pipeline-db-bench
# `make faults FAULTS=kill9`: a libtest filter (or any harness flags, e.g. `--list`, `--exact NAME`).
FAULTS ?=

.PHONY: try ci after-test deps demo build test check faults fuzz lint fmt types bench bench-record bench-quick bench-ci

try:
	scripts/try.sh

# Exactly what `.ci/run` runs (as root there; elsewhere apt goes through sudo): the system packages,
# core + CLI tests with the fault suite, the benchmark's smoke run, the desktop's unit and command
# tests, the packages, then the .deb installed with apt and checked (CLI + WebDriver E2E of the
# installed app) and removed.
ci:
	scripts/deps.sh test
	$(MAKE) test
	$(MAKE) after-test

# What `make ci` runs after `make test` (`.ci/run` calls the same three steps).
after-test:
	$(MAKE) bench-ci
	$(MAKE) desktop-unit
	$(MAKE) package
	$(MAKE) test-installed

deps:
	scripts/deps.sh test

build:
	$(CARGO) build --release -p pipeline-db-cli

demo: build
	$(TARGET_DIR)/release/pipeline-db reset dev --with-sample-data --force
	$(TARGET_DIR)/release/pipeline-db status

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
# jobs; prints the table, appends it to target/bench/results.md and draws target/bench/seed.svg
# (tracked files are never rewritten by a run: `make bench-record` appends to bench/results.md and
# redraws bench/seed.svg). `bench-quick`: 10k only, about a minute. The desktop row measures the
# release app `make package` (or `make desktop-release`) built, if it is there.
BENCH_OUT := --results target/bench/results.md --chart target/bench/seed.svg
bench:
	$(CARGO) build --release -p pipeline-db-cli -p pipeline-db-bench
	mkdir -p target/bench
	$(TARGET_DIR)/release/pipeline-db-bench $(BENCH_OUT)

bench-record:
	$(CARGO) build --release -p pipeline-db-cli -p pipeline-db-bench
	$(TARGET_DIR)/release/pipeline-db-bench

bench-quick:
	$(CARGO) build --release -p pipeline-db-cli -p pipeline-db-bench
	mkdir -p target/bench
	$(TARGET_DIR)/release/pipeline-db-bench --quick $(BENCH_OUT)

# CI proves the benchmark still runs without a release build: the quick run against the debug binary
# `make test` built (figures not comparable, not appended to bench/results.md).
bench-ci:
	$(CARGO) run -p pipeline-db-bench --features pipeline-db-core/failpoints -- \
		--quick --cli $(TARGET_DIR)/debug/pipeline-db --no-append --chart target/bench-ci-seed.svg

# ---- Desktop app (Tauri v2, src-tauri/ + ui/). Not a default member and not part of `make test`:
# it needs WebKitGTK. `make deps` once, then `make desktop` (run) / `make test-desktop`.
DESKTOP_BIN := $(TARGET_DIR)/debug/pipeline-db-desktop
# The release app as the packages ship it (stripped as it is linked; the CLI's and the bench's
# release builds keep their line tables for profiling). `make package` builds it with the same
# setting, so `make try`, the package and the bench share one release build of the app.
DESKTOP_RELEASE_ENV := CARGO_PROFILE_RELEASE_STRIP=debuginfo

.PHONY: desktop-deps desktop-build desktop-release desktop desktop-unit test-desktop e2e screenshots \
	package-files package test-installed

desktop-deps: deps

desktop-build:
	cd ui && npm run build
	$(CARGO) build -p pipeline-db-desktop

desktop-release:
	cd ui && npm run build
	$(DESKTOP_RELEASE_ENV) $(CARGO) build --release -p pipeline-db-desktop

desktop: desktop-build
	$(DESKTOP_BIN)

# Typecheck + Vitest, clippy + the desktop's tests (mock-runtime commands, the capability against
# the command list, ui/src/lib/generated/ against the Rust types). No app binary needed.
desktop-unit:
	cd ui && npm run build && npm run check && npm test
	$(CARGO) clippy -p pipeline-db-desktop --all-targets --no-deps -- -D warnings
	$(CARGO) test -p pipeline-db-desktop

# The WebDriver E2E under Xvfb against APP (default: the debug build). Screenshots go to
# target/screenshots/ (SHOTS=DIR elsewhere).
APP ?= $(DESKTOP_BIN)
e2e:
	tests/e2e/run.sh $(APP) || { echo "E2E failed once; retrying (see output above)"; tests/e2e/run.sh $(APP); }

test-desktop: desktop-build desktop-unit
	$(MAKE) e2e APP=$(DESKTOP_BIN)

# Refresh the documented screenshots (docs/screenshots/): the only run that writes tracked files.
screenshots: desktop-build
	SHOTS=$(CURDIR)/docs/screenshots tests/e2e/run.sh $(DESKTOP_BIN)

# Install the .deb `make package` built with apt, check the installed CLI (reset with sample data,
# status, completions, man page) and the installed app (the WebDriver E2E), then remove it.
test-installed:
	tests/package/installed.sh

# ---- Packages (issue 14): `make package` builds the .deb and the .rpm with Tauri's bundler (the npm
# @tauri-apps/cli in ui/: a prebuilt binary, installed by `npm ci` in seconds, where `cargo install
# tauri-cli` would compile for minutes). Each holds the desktop app and the `pipeline-db` CLI in
# /usr/bin, the desktop entry, icons (generated from icons/ by `tauri icon`), bash/zsh/fish
# completions and man pages (generated by the CLI from its clap types). No AppImage: its bundler
# downloads its tools at build time, and this machine (and CI) cannot fetch them.
# The release CLI is the one `make test` built; the release app is built once, by the bundler, and
# is what `.ci/run` installs and runs the E2E against.
PKG_FILES := target/package/files
TAURI := ui/node_modules/.bin/tauri

# What the bundler copies into the Linux packages besides the app (tauri.conf.json's
# bundle.linux.*.files), and the icons in every size (bundle.icon), all generated.
package-files:
	test -x $(TAURI) || (cd ui && npm ci --no-audit --no-fund)
	$(CARGO) build --release -p pipeline-db-cli
	rm -rf $(PKG_FILES) && mkdir -p $(PKG_FILES)/completions
	strip -o $(PKG_FILES)/pipeline-db $(TARGET_DIR)/release/pipeline-db
	for sh in bash fish; do $(PKG_FILES)/pipeline-db completions $$sh > $(PKG_FILES)/completions/pipeline-db.$$sh; done
	$(PKG_FILES)/pipeline-db completions zsh > $(PKG_FILES)/completions/_pipeline-db
	$(PKG_FILES)/pipeline-db manpages $(PKG_FILES)/man && gzip -9nf $(PKG_FILES)/man/*.1
	$(TAURI) icon icons/icon.png -o target/icons >/dev/null

package: package-files
	$(DESKTOP_RELEASE_ENV) TAURI_APP_PATH=src-tauri TAURI_FRONTEND_PATH=ui \
		$(TAURI) build --ci --bundles deb,rpm
	@ls -l $(TARGET_DIR)/release/bundle/deb/*.deb $(TARGET_DIR)/release/bundle/rpm/*.rpm

