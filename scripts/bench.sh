#!/usr/bin/env bash
# npm run bench — builds, then runs the benchmark (bench/run.ts): a local 4-participant network driven
# over JSON-RPC with value transfers and SimpleStorage set calls, a paced run, private transactions
# (wallet-style, bench/private.ts), and the in-process raw execution rate. Prints a table and writes
# bench/results/latest.json. Stops every process it started.
#
# Knobs (env): BENCH_TXS (10000 per kind), BENCH_KINDS (transfer,set; empty skips the batched runs),
# BENCH_SENDERS (200), BENCH_BATCH (20), BENCH_INFLIGHT (4), BENCH_CONTRACTS (4), BENCH_PACED_TPS (50),
# BENCH_PACED_SECONDS (20; 0 skips), BENCH_RAW_TXS (= BENCH_TXS; 0 skips), BENCH_RUN_TIMEOUT_S (600),
# BENCH_TIMEOUT_S (1800). SKIP_DEPS=1 skips scripts/ensure-deps.sh.
#
# Private transactions (wallet-style: each client one account on one gateway, one transaction per HTTP
# request, no JSON-RPC batches, in nonce order; receipts awaited as ethers' tx.wait() does (eth_blockNumber polled,
# eth_getTransactionReceipt of the oldest pending transaction on each new block);
# latency = submit → receipt). Measured in the same run with the same clients: public SimpleStorage set,
# private set privateFor 1 recipient, privateFor 3 recipients; then a paced run public vs privateFor 1.
#   BENCH_PRIVATE          1; 0 skips the private part
#   BENCH_PRIVATE_SIGNER   node (default): node-managed accounts, eth_sendTransaction {privateFor} — how
#                          GoQuorum dapps send; at most 2 accounts per participant, so ≤ 8 clients.
#                          raw: test-owned keys (funded in genesis), web3js-quorum's flow: POST <tm>/storeraw,
#                          sign v=37/38, eth_sendRawPrivateTransaction (public: eth_sendRawTransaction).
#   BENCH_PRIVATE_TXS      2000 per kind (public, privateFor 1, privateFor 3)
#   BENCH_PRIVATE_CLIENTS  8
#   BENCH_PRIVATE_WINDOW   4: transactions per client awaiting a receipt (1 = send, wait for receipt, send)
#   BENCH_PRIVATE_POLL_MS  50: eth_blockNumber poll period (per gateway); receipts are asked for on new blocks
#   BENCH_PRIVATE_WARMUP   5 unmeasured transactions per client and kind first
#   BENCH_PRIVATE_PACED_TPS (= BENCH_PACED_TPS; a comma-separated list runs each rate, e.g. 50,10),
#   BENCH_PRIVATE_PACED_SECONDS (= BENCH_PACED_SECONDS; 0 skips)
#   BENCH_KEEP_LOGS=1      copy the actors' logs to /tmp/quorum-bench-logs-<pid> before the network is
#                          destroyed (done anyway when the private part fails or counts errors)
# Only the private part, short:
#   BENCH_KINDS= BENCH_PACED_SECONDS=0 BENCH_RAW_TXS=0 BENCH_PRIVATE_TXS=200 BENCH_PRIVATE_PACED_SECONDS=4 npm run bench
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${SKIP_DEPS:-}" != "1" && -f scripts/ensure-deps.sh ]]; then
  SKIP_BUILD=1 bash scripts/ensure-deps.sh
fi
npx tsc -p tsconfig.json
exec node --enable-source-maps dist/bench/run.js "$@"
