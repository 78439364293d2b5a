#!/usr/bin/env bash
# npm run bench — builds, then runs the benchmark (bench/run.ts) on a local 4-participant network from the
# launcher, in three sections, then the in-process raw execution rate (the ceiling) and the ratios. Prints
# tables and writes bench/results/latest.json. Stops every process it started (network, hardhat's node) at the
# end, on errors, on Ctrl-C/SIGTERM and on the overall timeout.
#
#   BENCH_ONLY             comma-separated sections to run: wallet, batched, private (default: all three)
#
# npm run bench -- --consensus ibft: instead of the sections below, Raft and QBFT side by side in one run
# (bench/consensus-compare.ts, ~6 min): a fresh 4-participant network per algorithm under the wallet load
# (50 clients, one transaction per request, nonce order, receipts polled), SimpleStorage set in a closed loop
# and paced at 50 TPS; prints TPS and p50/p95 per algorithm, QBFT ÷ Raft, QBFT's paced p50 ÷ its block period,
# and the targets (QBFT TPS ≥ 0.8 × Raft's; QBFT paced p50 ≤ period + 100 ms). Knobs: BENCH_CONSENSUS_TXS
# (2000), BENCH_QBFT_PERIOD_MS (1000), BENCH_WALLET_CLIENTS, BENCH_WALLET_WINDOW, BENCH_WALLET_PACED_TPS,
# BENCH_WALLET_PACED_SECONDS, BENCH_PARTICIPANTS.
# npm run bench -- --soak: a long run (bench/soak.ts): one network under the wallet load (SimpleStorage set) for
# BENCH_SOAK_TXS (100000) transactions; every BENCH_SOAK_SEGMENT (10000) the RSS of every actor, p4's consensus
# restart time and p4's executor cold start (each killed and timed until it answers again); targets: RSS flat
# after warm-up (within 20 %), consensus restart ≤ 2 s, executor cold start ≤ 5 s, both independent of history.
# BENCH_SOAK_CONSENSUS (raft | qbft). At ~60 TPS on 2 cores, 100,000 transactions take about half an hour.
# The wallet mode alone, with hardhat and the in-process rate (about 5 min with the defaults below):
#   BENCH_ONLY=wallet npm run bench
# Short:
#   BENCH_ONLY=wallet BENCH_WALLET_TXS=400 BENCH_WALLET_PACED_SECONDS=5 BENCH_RAW_TXS=2000 npm run bench
#
# 1. Wallet mode (bench/wallet-mode.ts), first: how wallets and dapps send. N clients, each its own test-owned
# key funded in genesis, client c on gateway c mod 4; one eth_sendRawTransaction per HTTP request (EIP-155
# legacy, signed locally, no JSON-RPC batches), in nonce order (the next request leaves once the previous one
# is answered), a window of transactions per client awaiting a receipt; receipts as ethers' tx.wait() gets
# them (eth_blockNumber polled per gateway, eth_getTransactionReceipt on each new block); latency = submit →
# receipt. Runs, each after an unmeasured warm-up: closed-loop value transfers (1 wei, each to a fresh
# address), closed-loop SimpleStorage set, set paced at a fixed rate (job k to client k mod N), and one
# transaction at a time (1 client, window 1) on the idle network. Failed reads (eth_blockNumber,
# eth_getTransactionReceipt, eth_getTransactionCount) and refused submissions are counted per run.
# Then the same runs against hardhat's node (bench/hardhat/: one in-memory process, automine, gas price 0, the
# same chain id and keys, hardfork cancun, 127.0.0.1 and a kernel-chosen port), started once the network is
# gone and stopped (its process group killed) afterwards. Printed from one run: network TPS ÷ in-process rate
# and ÷ hardhat TPS, paced and serial p50/p95 against hardhat's, and the targets (TPS ÷ in-process ≥ 0.35;
# paced p50 ≤ 100 ms, p95 ≤ 300 ms; serial p50 ≤ 60 ms; 0 failed reads and refused submissions).
#   BENCH_WALLET           1; 0 skips the wallet mode
#   BENCH_WALLET_CLIENTS   50
#   BENCH_WALLET_WINDOW    4: transactions per client awaiting a receipt
#   BENCH_WALLET_POLL_MS   10: eth_blockNumber poll period, per gateway
#   BENCH_WALLET_TXS       4000 per closed-loop run (transfers, set)
#   BENCH_WALLET_WARMUP    5 unmeasured transactions per client before each run
#   BENCH_WALLET_PACED_TPS 50;  BENCH_WALLET_PACED_SECONDS 20 (0 skips the paced run)
#   BENCH_WALLET_SERIAL_TXS 100 (0 skips the one-at-a-time run)
#   BENCH_PEER             1; 0 skips hardhat's node
#   BENCH_CONTRACTS        4 SimpleStorage contracts (client c calls contract c mod 4; the batched mode uses them too)
#
# 2. Batched mode: 200 pre-funded senders, pre-signed transactions in JSON-RPC batches round-robin over the
# gateways (value transfers, then set calls; latency = submit → block visible on the same gateway), then a
# paced run of transfers.
#   BENCH_TXS (10000 per kind), BENCH_KINDS (transfer,set; empty skips the saturating runs), BENCH_SENDERS (200),
#   BENCH_BATCH (20), BENCH_INFLIGHT (4), BENCH_PACED_TPS (50), BENCH_PACED_SECONDS (20; 0 skips)
#
# In-process raw execution rate (bench/execution-rate.ts; the kinds of the wallet and batched modes), measured
# last with nothing else of the bench running: BENCH_RAW_TXS (= BENCH_TXS; 0 skips).
# Overall: BENCH_RUN_TIMEOUT_S (600 per run), BENCH_TIMEOUT_S (1800 for everything), BENCH_PARTICIPANTS (4),
# 4. The auditor's replay (bench/replay-speed.ts): p1's whole record, read from its database at the end of the
# network sections, re-executed from genesis by `npm run replay`'s code once the network is gone (one core, no
# consensus, broker or network); printed as tx/s and blocks/s beside the in-process set rate and the network's TPS.
#   BENCH_REPLAY           1; 0 skips it
# SKIP_DEPS=1 skips scripts/ensure-deps.sh.
#
# 3. Private transactions (wallet-style: each client one account on one gateway, one transaction per HTTP
# request, no JSON-RPC batches, in nonce order; receipts awaited as ethers' tx.wait() does (eth_blockNumber polled,
# eth_getTransactionReceipt of the oldest pending transaction on each new block);
# latency = submit → receipt). Measured in the same run with the same clients: public SimpleStorage set,
# private set privateFor 1 recipient, privateFor 3 recipients; then a paced run public vs privateFor 1.
#   BENCH_PRIVATE          1; 0 skips the private part
#   BENCH_PRIVATE_SIGNER   node (default): node-managed accounts, eth_sendTransaction {privateFor} — how
#                          GoQuorum dapps send; at most 2 accounts per participant, so ≤ 8 clients.
#                          raw: test-owned keys (funded in genesis; the wallet mode's keys), web3js-quorum's flow:
#                          POST <tm>/storeraw, sign v=37/38, eth_sendRawPrivateTransaction (public: eth_sendRawTransaction).
#   BENCH_PRIVATE_TXS      2000 per kind (public, privateFor 1, privateFor 3)
#   BENCH_PRIVATE_CLIENTS  8
#   BENCH_PRIVATE_WINDOW   4: transactions per client awaiting a receipt (1 = send, wait for receipt, send)
#   BENCH_PRIVATE_POLL_MS  50: eth_blockNumber poll period (per gateway); receipts are asked for on new blocks
#   BENCH_PRIVATE_WARMUP   5 unmeasured transactions per client and kind first
#   BENCH_PRIVATE_PACED_TPS (= BENCH_PACED_TPS; a comma-separated list runs each rate, e.g. 50,10),
#   BENCH_PRIVATE_PACED_SECONDS (= BENCH_PACED_SECONDS; 0 skips)
#   BENCH_KEEP_LOGS=1      copy the actors' logs to /tmp/quorum-bench-logs-<pid> before the network is
#                          destroyed (done anyway when the wallet mode or the private part counts errors)
# Only the private part, short:
#   BENCH_ONLY=private BENCH_RAW_TXS=0 BENCH_PRIVATE_TXS=200 BENCH_PRIVATE_PACED_SECONDS=4 npm run bench
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${SKIP_DEPS:-}" != "1" && -f scripts/ensure-deps.sh ]]; then
  SKIP_BUILD=1 bash scripts/ensure-deps.sh
fi
npx tsc -p tsconfig.json
exec node --enable-source-maps dist/bench/run.js "$@"
