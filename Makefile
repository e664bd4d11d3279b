# The two commands of the README: `make demo` (build, reset dev with sample data, show status)
# and `make test` (everything CI runs).
CARGO ?= cargo
FEATURES := --features pipeline-db-cli/failpoints

.PHONY: demo build test lint fmt bench bench-quick

build:
	$(CARGO) build --release -p pipeline-db-cli

demo: build
	./target/release/pipeline-db reset dev --with-sample-data --force
	./target/release/pipeline-db status

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings
	@if $(CARGO) tree -p pipeline-db-core -e normal | grep -qE '(^| )(tauri|clap|indicatif) v'; then \
		echo "crates/core must not depend on tauri, clap or indicatif"; exit 1; fi

test: lint
	$(CARGO) test --workspace $(FEATURES)

fmt:
	$(CARGO) fmt --all
