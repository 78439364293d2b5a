/**
 * Hardhat config for the benchmark's peer: one in-memory `hardhat node` (automine, gas price 0) that gets the
 * same wallet-style load as our network (bench/hardhat-node.ts starts and stops it; nothing else uses this file).
 *
 * CommonJS (.cjs) because the project's package.json says "type": "module". Everything that varies comes
 * from the JSON file named by BENCH_HARDHAT_SETUP, written by the bench:
 *   { chainId, hardfork, accounts: [{ privateKey, balance }], cacheDir, artifactsDir }
 */
const fs = require('node:fs');

const setupFile = process.env.BENCH_HARDHAT_SETUP;
if (!setupFile) throw new Error('BENCH_HARDHAT_SETUP is not set: this config is used by the benchmark only (npm run bench)');
const setup = JSON.parse(fs.readFileSync(setupFile, 'utf8'));

module.exports = {
  // nothing is compiled here: SimpleStorage is compiled with the project's solc and deployed over JSON-RPC
  paths: { cache: setup.cacheDir, artifacts: setup.artifactsDir, sources: setup.cacheDir },
  networks: {
    hardhat: {
      chainId: setup.chainId,
      // the ledger's hardfork (solc's default output needs Shanghai+); legacy EIP-155 txs are accepted
      hardfork: setup.hardfork,
      accounts: setup.accounts,
      // one transaction per block, mined as it arrives
      mining: { auto: true, interval: 0 },
      gasPrice: 0,
      initialBaseFeePerGas: 0,
      blockGasLimit: 30_000_000,
      // hardhat node logs every request to stdout by default; the benchmark measures the node, not its console
      loggingEnabled: false,
    },
  },
};
