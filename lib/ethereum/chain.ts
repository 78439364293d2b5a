/**
 * The chain's @ethereumjs Common: a custom chain with the network's chain id on the Cancun rules, with
 * sender recovery through native secp256k1 (about 20x faster than the pure-JS default).
 */
import { createCustomCommon, Hardfork, Mainnet, type Common } from '@ethereumjs/common';
import { calculateSigRecovery, setLengthLeft } from '@ethereumjs/util';
import secp256k1 from 'secp256k1';
import type { NetworkDescription } from '../network/description.js';

/** Same contract as @ethereumjs/util `ecrecover`: the 64-byte uncompressed public key (no 0x04 prefix). */
export function nativeEcrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array, chainId?: bigint): Uint8Array {
  const recovery = calculateSigRecovery(v, chainId);
  if (recovery !== 0n && recovery !== 1n) throw new Error('Invalid signature v value');
  const signature = new Uint8Array(64);
  signature.set(setLengthLeft(r, 32), 0);
  signature.set(setLengthLeft(s, 32), 32);
  return secp256k1.ecdsaRecover(signature, Number(recovery), msgHash, false).slice(1);
}

export function createChainCommon(network: Pick<NetworkDescription, 'name' | 'chainId'>): Common {
  return createCustomCommon({ name: network.name, chainId: network.chainId }, Mainnet, {
    hardfork: Hardfork.Cancun,
    customCrypto: { ecrecover: nativeEcrecover },
  });
}
