#!/usr/bin/env bash
# npm run bench — builds, then runs the benchmark (bench/run.ts): a local 4-participant network driven
# over JSON-RPC with value transfers and SimpleStorage set calls, a paced run, and the in-process raw
# execution rate. Prints a table and writes bench/results/latest.json. Stops every process it started.
#
# Knobs (env): BENCH_TXS (10000 per kind), BENCH_KINDS (transfer,set), BENCH_SENDERS (200),
# BENCH_BATCH (20), BENCH_INFLIGHT (4), BENCH_CONTRACTS (4), BENCH_PACED_TPS (50),
# BENCH_PACED_SECONDS (20; 0 skips), BENCH_RAW_TXS (= BENCH_TXS; 0 skips), BENCH_RUN_TIMEOUT_S (600),
# BENCH_TIMEOUT_S (1800). SKIP_DEPS=1 skips scripts/ensure-deps.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${SKIP_DEPS:-}" != "1" && -f scripts/ensure-deps.sh ]]; then
  SKIP_BUILD=1 bash scripts/ensure-deps.sh
fi
npx tsc -p tsconfig.json
exec node --enable-source-maps dist/bench/run.js "$@"
