#!/usr/bin/env bash
# The long durability job (issue #18): 100 SIGKILL cycles on SQLite and on PostgreSQL, each run ending
# with `keyhold audit verify --reconcile`. Too slow for the test command (CI runs 20 cycles); run it
# nightly or before a release. Starts the loopback PostgreSQL test cluster if it is not running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KEYHOLD_TEST_POSTGRES_URL="${KEYHOLD_TEST_POSTGRES_URL:-$(tools/pg-test-cluster.sh start | tail -1)}"
export KEYHOLD_TEST_POSTGRES_URL
KEYHOLD_CRASH_CYCLES="${KEYHOLD_CRASH_CYCLES:-100}" cargo test -p keyhold --test e2e crash -- --nocapture
