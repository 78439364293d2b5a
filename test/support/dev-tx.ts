/**
 * Building and signing transactions for tests, benchmarks and dev tooling (native secp256k1 signing, so
 * thousands of transactions sign in well under a second). Not used by the executor itself.
 */
import type { Common } from '@ethereumjs/common';
import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx';
import { bytesToHex, privateToAddress } from '@ethereumjs/util';
import secp256k1 from 'secp256k1';
import { keccak256 } from '../../lib/ethereum/chain.js';

/** A deterministic private key (keccak("dev-key-" + i)); fine for tests, never for real funds. */
export function devKey(i: number): Uint8Array {
  return keccak256(new TextEncoder().encode(`dev-key-${i}`));
}

/** Lowercase 0x address of a private key. */
export function addressOf(privateKey: Uint8Array): string {
  return bytesToHex(privateToAddress(privateKey));
}

export interface TxFields {
  nonce: bigint | number;
  to?: string | null;
  value?: bigint;
  data?: string;
  gasLimit?: bigint | number;
}

/** A signed legacy (EIP-155) transaction, raw 0x-hex. Gas price defaults to 0. */
export function signLegacyTx(common: Common, privateKey: Uint8Array, f: TxFields & { gasPrice?: bigint }): string {
  const unsigned = createLegacyTx(
    {
      nonce: BigInt(f.nonce),
      to: (f.to ?? undefined) as `0x${string}` | undefined,
      value: f.value ?? 0n,
      data: (f.data ?? '0x') as `0x${string}`,
      gasLimit: BigInt(f.gasLimit ?? 21_000),
      gasPrice: f.gasPrice ?? 0n,
    },
    { common },
  );
  const { signature, recid } = secp256k1.ecdsaSign(unsigned.getHashedMessageToSign(), privateKey);
  const signed = unsigned.addSignature(BigInt(recid), signature.slice(0, 32), signature.slice(32, 64), true);
  return bytesToHex(signed.serialize());
}

/** A signed EIP-1559 transaction, raw 0x-hex. Fees default to 0. */
export function sign1559Tx(
  common: Common,
  privateKey: Uint8Array,
  f: TxFields & { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint; chainId?: bigint },
): string {
  const unsigned = createFeeMarket1559Tx(
    {
      chainId: f.chainId ?? common.chainId(),
      nonce: BigInt(f.nonce),
      to: (f.to ?? undefined) as `0x${string}` | undefined,
      value: f.value ?? 0n,
      data: (f.data ?? '0x') as `0x${string}`,
      gasLimit: BigInt(f.gasLimit ?? 21_000),
      maxFeePerGas: f.maxFeePerGas ?? 0n,
      maxPriorityFeePerGas: f.maxPriorityFeePerGas ?? 0n,
    },
    { common },
  );
  const { signature, recid } = secp256k1.ecdsaSign(unsigned.getHashedMessageToSign(), privateKey);
  const signed = unsigned.addSignature(BigInt(recid), signature.slice(0, 32), signature.slice(32, 64));
  return bytesToHex(signed.serialize());
}

/** 4-byte selector of a function signature, e.g. selector('set(uint256)') = '0x60fe47b1'. */
export function selector(signature: string): string {
  return bytesToHex(keccak256(new TextEncoder().encode(signature)).subarray(0, 4));
}

/** ABI word of an unsigned integer, 64 hex chars without 0x. */
export function uintWord(n: bigint | number): string {
  return BigInt(n).toString(16).padStart(64, '0');
}

/** A minimal network for tests and benchmarks: dev keys 0..funded-1 hold `balance` wei each. */
export function devNetwork(opts: { chainId?: number; funded?: number; balance?: bigint; gasLimit?: bigint; timestamp?: number } = {}): {
  name: string;
  chainId: number;
  genesis: { timestamp: number; gasLimit: string; alloc: Record<string, { balance: string }> };
} {
  const alloc: Record<string, { balance: string }> = {};
  for (let i = 0; i < (opts.funded ?? 4); i++) alloc[addressOf(devKey(i))] = { balance: String(opts.balance ?? 10n ** 24n) };
  return {
    name: 'devtest',
    chainId: opts.chainId ?? 1337,
    genesis: { timestamp: opts.timestamp ?? 1_700_000_000, gasLimit: String(opts.gasLimit ?? 30_000_000n), alloc },
  };
}
