/**
 * Production signing: secp256k1 (libsecp256k1 binding), Ethereum addresses (keccak256 of the public key, last
 * 20 bytes), 65-byte signatures r ‖ s ‖ v with v = 27 + recovery id, as GoQuorum's istanbul seals are.
 */
import { keccak_256 } from '@noble/hashes/sha3';
import secp256k1 from 'secp256k1';
import { fromHex, toHex } from '../../../lib/hex.js';
import type { QbftCrypto } from './types.js';

function addressOfPublicKey(uncompressed: Uint8Array): string {
  return toHex(keccak_256(uncompressed.subarray(1)).subarray(12));
}

export function secp256k1Crypto(privateKeyHex: string): QbftCrypto {
  const key = fromHex(privateKeyHex);
  if (key.length !== 32 || !secp256k1.privateKeyVerify(key)) throw new Error('invalid secp256k1 private key');
  const address = addressOfPublicKey(secp256k1.publicKeyCreate(key, false));
  return {
    address,
    sign(digest: Uint8Array): string {
      const { signature, recid } = secp256k1.ecdsaSign(digest, key);
      const out = new Uint8Array(65);
      out.set(signature, 0);
      out[64] = 27 + recid;
      return toHex(out);
    },
    recover(digest: Uint8Array, signature: string): string | null {
      if (digest.length !== 32 || !/^0x[0-9a-fA-F]{130}$/.test(signature)) return null;
      const bytes = fromHex(signature);
      const v = bytes[64];
      const recid = v >= 27 ? v - 27 : v;
      if (recid !== 0 && recid !== 1) return null;
      try {
        return addressOfPublicKey(secp256k1.ecdsaRecover(bytes.subarray(0, 64), recid, digest, false));
      } catch {
        return null;
      }
    },
  };
}
