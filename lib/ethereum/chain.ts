/**
 * The chain definition the executor runs on: one @ethereumjs Common for our permissioned network
 * (chain id from the network description, every hardfork up to Cancun active from block 0, proof-of-stake
 * style headers: difficulty 0, zero nonce, no uncles), with native secp256k1 public-key recovery.
 *
 * Create the Common once per process (createLedgerCommon) and share it: tx objects decoded with it
 * recover their sender at most once (the tx object caches the public key).
 */
import { Common, type ChainConfig } from '@ethereumjs/common';
import { paramsBlock } from '@ethereumjs/block';
import { paramsEVM } from '@ethereumjs/evm';
import { paramsVM } from '@ethereumjs/vm';
import { createKeccak } from 'hash-wasm';
import { paramsTx } from '@ethereumjs/tx';
import secp256k1 from 'secp256k1';
import type { NetworkDescription } from '../network/description.js';

/** The hardfork every block runs under. Cancun: PUSH0, MCOPY, transient storage (solc's default output runs). */
export const LEDGER_HARDFORK = 'cancun';
/** The solc `evmVersion` that matches LEDGER_HARDFORK. */
export const SOLC_EVM_VERSION = 'cancun';

/**
 * keccak-256 in WebAssembly (hash-wasm): measured 8x faster than @noble/hashes' JavaScript for the 32–532 byte
 * inputs of trie nodes, keys and transactions, where hashing was a fifth of a block's execution. One hasher per
 * process, reused: each call runs init → update → digest synchronously, so calls cannot interleave. Handed to
 * @ethereumjs through Common's customCrypto, so tries, headers, transactions and the KECCAK256 opcode use it too.
 */
const keccakHasher = await createKeccak(256);
export function keccak256(data: Uint8Array): Uint8Array {
  keccakHasher.init();
  keccakHasher.update(data);
  return keccakHasher.digest('binary');
}

const HARDFORKS = [
  'chainstart',
  'homestead',
  'tangerineWhistle',
  'spuriousDragon',
  'byzantium',
  'constantinople',
  'petersburg',
  'istanbul',
  'muirGlacier',
  'berlin',
  'london',
  'arrowGlacier',
  'grayGlacier',
  'paris',
  'shanghai',
  'cancun',
] as const;

/**
 * secp256k1 public-key recovery with the native binding (libsecp256k1; the package falls back to
 * elliptic.js when no prebuilt binary loads). Same contract as @ethereumjs/util's `ecrecover`:
 * returns the 64-byte uncompressed public key without its 0x04 prefix, throws on an invalid signature.
 * Used for transaction senders and for the ECRECOVER precompile.
 */
function nativeEcrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array, chainId?: bigint): Uint8Array {
  let recovery: bigint;
  if (v === 0n || v === 1n) recovery = v;
  else if (chainId === undefined) recovery = v - 27n;
  else recovery = v - (chainId * 2n + 35n);
  if (recovery !== 0n && recovery !== 1n) throw new Error('Invalid signature v value');
  if (r.length > 32 || s.length > 32 || msgHash.length !== 32) throw new Error('Invalid signature length');
  const sig = new Uint8Array(64);
  sig.set(r, 32 - r.length);
  sig.set(s, 64 - s.length);
  const pub = secp256k1.ecdsaRecover(sig, Number(recovery), msgHash, false);
  return pub.subarray(1);
}

/** The Common for our chain. Base fee is pinned at 0 by the executor (headers carry baseFeePerGas 0). */
export function createLedgerCommon(network: Pick<NetworkDescription, 'chainId' | 'name' | 'genesis'>): Common {
  const chain: ChainConfig = {
    name: network.name ?? 'ledger',
    chainId: network.chainId,
    defaultHardfork: LEDGER_HARDFORK,
    genesis: {
      gasLimit: `0x${BigInt(network.genesis.gasLimit).toString(16)}`,
      difficulty: 0,
      nonce: '0x0000000000000000',
      extraData: '0x',
      timestamp: `0x${network.genesis.timestamp.toString(16)}`,
      baseFeePerGas: '0x0',
    },
    hardforks: HARDFORKS.map((name) => ({ name, block: 0 })),
    bootstrapNodes: [],
    consensus: { type: 'pos', algorithm: 'casper', casper: {} },
  };
  const common = new LedgerCommon({ chain, hardfork: LEDGER_HARDFORK, customCrypto: { ecrecover: nativeEcrecover, keccak256 } });
  // Merge every package's parameters once, up front: each copy then inherits a complete parameter cache.
  for (const params of [paramsTx, paramsBlock, paramsEVM, paramsVM]) common.updateParams(params);
  return common;
}

/**
 * Common, minus a measured hot spot: every transaction (and block header) constructor copies its Common
 * and calls updateParams(paramsTx), which deep-copies the parameter dictionaries through JSON and rebuilds
 * the parameter cache (≈0.5 ms per tx). Copies share the parameter store (Common.copy is shallow), so a
 * dictionary merged once is merged for all copies: merging the same dictionary object again is skipped.
 */
class LedgerCommon extends Common {
  private readonly merged = new Set<object>();

  override updateParams(params: Parameters<Common['updateParams']>[0]): void {
    if (this.merged.has(params)) return;
    super.updateParams(params);
    this.merged.add(params);
  }
}
