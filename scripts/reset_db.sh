#!/usr/bin/env bash
# reset_db.sh [dev|test|prod] [--force] [--with-sample-data]
#
# The platform's database reset utility, with exactly its interface, as a thin wrapper over
# `pipeline-db reset`. Every rule (confirmation, prod protection, verified backup) is enforced by
# pipeline-db itself; this script only checks the arguments and passes them on.
#   ./scripts/reset_db.sh dev                     # interactive
#   ./scripts/reset_db.sh dev --with-sample-data
#   ./scripts/reset_db.sh dev --force             # no confirmation prompt
#   ./scripts/reset_db.sh prod                    # additional safety confirmations
set -euo pipefail

usage() {
  echo "usage: $(basename "$0") [dev|test|prod] [--force] [--with-sample-data]" >&2
  exit 2
}

env=""
args=()
for a in "$@"; do
  case "$a" in
    dev|test|prod)
      [ -z "$env" ] || usage
      env="$a" ;;
    --force|--with-sample-data) args+=("$a") ;;
    -h|--help) echo "usage: $(basename "$0") [dev|test|prod] [--force] [--with-sample-data]"; exit 0 ;;
    *) echo "$(basename "$0"): unknown argument '$a'" >&2; usage ;;
  esac
done
[ -n "$env" ] || { echo "$(basename "$0"): the environment (dev, test or prod) is required" >&2; usage; }

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${PIPELINE_DB_BIN:-}"
if [ -z "$bin" ]; then
  for cand in "$root/target/release/pipeline-db" "$root/target/debug/pipeline-db" "$(command -v pipeline-db || true)"; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then bin="$cand"; break; fi
  done
fi
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release -q -p pipeline-db-cli)
  bin="$root/target/release/pipeline-db"
fi
set +e
"$bin" reset "$env" "${args[@]}"
code=$?
if [ "$code" -eq 3 ] && [ "$env" = prod ] && [ ! -t 0 ]; then
  # pipeline-db refused (prod needs its name typed): say how, in this script's own terms.
  echo "$(basename "$0"): prod is reset only after its name is typed: run '$(basename "$0") prod' on a terminal and type 'prod' (from a script: pipeline-db reset prod --confirm-env prod)" >&2
fi
exit "$code"
