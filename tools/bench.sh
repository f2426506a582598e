#!/usr/bin/env bash
# The benchmarks, one command: builds the release binaries (keyhold and the hello baseline), installs wrk
# from the Debian packages if it is missing, starts the loopback PostgreSQL test cluster, then runs
# keyhold-bench, which prints a table and writes target/bench/results.json (see docs/benchmarks.md).
#
#   tools/bench.sh                          # SQLite and PostgreSQL, 10 s per wrk run, 100,000 secrets, 1 GiB audit log, two nodes
#   tools/bench.sh --backends sqlite --duration 5 --secrets 10000      # a quick look
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

if ! command -v wrk >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] || { echo "bench: wrk is missing: apt-get install wrk" >&2; exit 1; }
    echo "bench: installing wrk from the Debian packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >&2
fi

# Separately, so that keyhold is built with its own features, exactly as `cargo build --release -p keyhold`.
cargo build --release -p keyhold
cargo build --release -p keyhold-bench

if [[ " $* " != *" --backends sqlite "* ]]; then
    KEYHOLD_TEST_POSTGRES_URL="$(tools/pg-test-cluster.sh start)"
    export KEYHOLD_TEST_POSTGRES_URL
fi

exec "$target/release/keyhold-bench" --bin-dir "$target/release" --out-dir "$target/bench" "$@"
