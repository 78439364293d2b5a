/**
 * An enclave private key locked at rest: scrypt (memory-hard, @noble/hashes) derives a 32-byte key from the
 * password and a random salt; that key seals the private key with NaCl secretbox. Wrong password or an edited
 * file both fail the secretbox check, with one clear error.
 */
import { scrypt } from '@noble/hashes/scrypt';
import nacl from 'tweetnacl';
import type { LockedKey } from '../../lib/network/description.js';

/** Cost for keys made by the dev-network generator (≈50 ms); real deployments pass a higher N. */
export const DEV_SCRYPT_N = 2 ** 14;
const DEFAULT_SCRYPT_N = 2 ** 17;

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export class KeyUnlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyUnlockError';
  }
}

export function lockKey(privateKey: Uint8Array, password: string, opts: { N?: number; random?: (n: number) => Uint8Array } = {}): LockedKey {
  const random = opts.random ?? nacl.randomBytes;
  const N = opts.N ?? DEFAULT_SCRYPT_N;
  const r = 8;
  const p = 1;
  const salt = random(16);
  const nonce = random(nacl.secretbox.nonceLength);
  const key = scrypt(new TextEncoder().encode(password), salt, { N, r, p, dkLen: 32 });
  return { kdf: 'scrypt', N, r, p, salt: b64(salt), nonce: b64(nonce), sealed: b64(nacl.secretbox(privateKey, nonce, key)) };
}

/** The private key, or KeyUnlockError when the password is wrong or the locked key was altered. */
export function unlockKey(locked: LockedKey, password: string): Uint8Array {
  const key = scrypt(new TextEncoder().encode(password), unb64(locked.salt), { N: locked.N, r: locked.r, p: locked.p, dkLen: 32 });
  const opened = nacl.secretbox.open(unb64(locked.sealed), unb64(locked.nonce), key);
  if (!opened) throw new KeyUnlockError('cannot unlock the enclave key: wrong password, or the key file was altered');
  return opened;
}
