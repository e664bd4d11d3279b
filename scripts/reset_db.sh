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
#   ./scripts/reset_db.sh                         # the environment defaults to dev, as on the platform
set -euo pipefail

me="$(basename "$0")"
usage() {
  echo "usage: $me [dev|test|prod] [--force] [--with-sample-data]" >&2
  exit 2
}

env=""
force=""
sample=""
for a in "$@"; do
  case "$a" in
    dev|test|prod)
      if [ -n "$env" ] && [ "$env" != "$a" ]; then
        echo "$me: one environment at a time ('$env' and '$a' given)" >&2
        usage
      fi
      env="$a" ;;
    # A flag given twice means the same as once.
    --force) force="--force" ;;
    --with-sample-data) sample="--with-sample-data" ;;
    -h|--help) echo "usage: $me [dev|test|prod] [--force] [--with-sample-data]"; exit 0 ;;
    *) echo "$me: unknown argument '$a'" >&2; usage ;;
  esac
done
if [ -z "$env" ]; then
  env=dev
  echo "$me: no environment given: dev" >&2
fi

# The binary: $PIPELINE_DB_BIN, else the one installed on PATH, else this checkout's build.
bin="${PIPELINE_DB_BIN:-}"
if [ -z "$bin" ]; then
  # The script's own place, through any symlink to it (a link in the platform's repo at
  # backend/scripts/reset_db.sh finds this checkout's build). Plain `readlink` (no -f: macOS
  # before 12.3 and busybox differ), one link at a time, relative targets from the link's dir.
  self="$0"
  hops=0
  while [ -L "$self" ] && [ "$hops" -lt 40 ]; do
    target="$(readlink "$self")"
    case "$target" in
      /*) self="$target" ;;
      *) self="$(dirname "$self")/$target" ;;
    esac
    hops=$((hops + 1))
  done
  root="$(cd "$(dirname "$self")/.." && pwd)"
  for cand in "$(command -v pipeline-db || true)" "$root/target/release/pipeline-db" "$root/target/debug/pipeline-db"; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then bin="$cand"; break; fi
  done
fi
if [ -z "$bin" ]; then
  echo "$me: pipeline-db not found: install it, or build it (make build), or set PIPELINE_DB_BIN" >&2
  exit 127
fi

args=(reset "$env")
[ -z "$force" ] || args+=("$force")
[ -z "$sample" ] || args+=("$sample")
set +e
if [ "$env" = prod ] && [ ! -t 0 ]; then
  # No one to ask on this stdin: what pipeline-db says is kept, so that the hint below is added
  # only to the refusal it is about (not to "prod does not exist yet", say).
  exec 3>&1
  said="$("$bin" "${args[@]}" 2>&1 >&3 3>&-)"
  code=$?
  exec 3>&-
  [ -z "$said" ] || printf '%s\n' "$said" >&2
  if [ "$code" -eq 3 ] && [[ "$said" == *"needs the env name typed"* ]]; then
    echo "$me: prod is reset only after its name is typed: run '$me prod' on a terminal and type 'prod' (from a script: pipeline-db reset prod --confirm-env prod)" >&2
  fi
else
  "$bin" "${args[@]}"
  code=$?
fi
exit "$code"
