#!/usr/bin/env bash
# npm test: installs/starts what is missing, builds, then runs every test tier with node's test runner:
#   unit (pure cores) → sim (deterministic Raft simulation) → int (real nats-server / Postgres) → e2e (a whole
#   4-participant network driven by ethers and web3). TEST_TIERS="unit sim" runs a subset.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
files=()
for tier in ${TEST_TIERS:-unit sim int e2e}; do
  for f in dist/test/"$tier"/*.test.js; do [ -e "$f" ] && files+=("$f"); done
done
[ ${#files[@]} -gt 0 ] || { echo "no test files found" >&2; exit 1; }
# Files run one after another: e2e files each start a whole network, and this machine has 2 cores.
exec node --enable-source-maps --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
