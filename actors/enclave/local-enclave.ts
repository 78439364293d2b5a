/**
 * The enclave that holds the keys (Tessera's local enclave over NaCl, here tweetnacl).
 *
 * encrypt: a fresh 32-byte master key and 24-byte nonce seal the payload with secretbox; the master key is then
 * boxed, with one shared recipientNonce, for every recipient key and for the sender's own key (the sender is put
 * first in recipientKeys; duplicates are dropped). A party opens its box with the shared key between the
 * payload's senderKey and its own private key; for the sender's own box that is box.before(senderPub,
 * senderSecret), the very key the sender sealed it with.
 *
 * Shared keys (box.before, a scalar multiplication) are cached per (own key, peer key), so sealing or opening
 * for a known peer is a box.after / box.open.after (≈0.02 ms instead of ≈0.7 ms).
 *
 * Randomness is injected (tests seed it). Every refusal is a CodedError(Rejected) whose `data.reason` says why.
 */
import nacl from 'tweetnacl';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { Enclave } from './enclave.js';
import type { EncodedPayload, PrivacyFlag, RawPayload } from './messages.js';

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface LocalEnclaveOptions {
  /** Source of master keys and nonces. Default nacl.randomBytes (a CSPRNG); tests pass a seeded source. */
  random?: (n: number) => Uint8Array;
  /** Most shared keys kept (each is 32 bytes); the oldest is dropped beyond it. Default 4096. */
  sharedKeyCacheSize?: number;
}

/** Why an enclave refused, in `CodedError.data.reason` (it crosses the bus with the error). */
export const EnclaveRefusal = {
  /** The sender key or the decrypting key is not one of ours. */
  UnknownKey: 'unknown-key',
  /** The key is ours but not among the payload's recipients. */
  NotRecipient: 'not-recipient',
  /** A box or the cipherText did not open: altered, or sealed by someone else. */
  Tampered: 'tampered',
  /** Not base64, or a key, nonce or box of the wrong length. */
  Malformed: 'malformed',
  /** The enclave was closed (its keys wiped). */
  Closed: 'closed',
} as const;
export type EnclaveRefusal = (typeof EnclaveRefusal)[keyof typeof EnclaveRefusal];

export interface SharedKeyStats {
  /** box.before computations so far. */
  computed: number;
  /** Uses served from the cache. */
  reused: number;
  /** Entries held now. */
  size: number;
}

export interface LocalEnclave extends Enclave {
  /** How the shared-key cache has been used (no key material). */
  sharedKeyStats(): SharedKeyStats;
  /** Wipes the private keys and the shared keys; every later call is refused. */
  close(): void;
}

const KEY_BYTES = nacl.box.publicKeyLength; // 32
const NONCE_BYTES = nacl.secretbox.nonceLength; // 24
const MASTER_KEY_BYTES = nacl.secretbox.keyLength; // 32
const BOXED_KEY_BYTES = MASTER_KEY_BYTES + nacl.box.overheadLength; // 48

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function refuse(reason: EnclaveRefusal, message: string): CodedError {
  return new CodedError(ErrorCode.Rejected, message, { reason });
}

/** Strict base64 decode, with an exact or minimum length; `what` names the field in the error. */
function decode(s: string, what: string, length?: number | { min: number }): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !BASE64.test(s)) throw refuse(EnclaveRefusal.Malformed, `malformed ${what}: not base64`);
  const bytes = new Uint8Array(Buffer.from(s, 'base64'));
  if (typeof length === 'number' && bytes.length !== length) {
    throw refuse(EnclaveRefusal.Malformed, `malformed ${what}: ${bytes.length} bytes, expected ${length}`);
  }
  if (typeof length === 'object' && bytes.length < length.min) {
    throw refuse(EnclaveRefusal.Malformed, `malformed ${what}: ${bytes.length} bytes, expected at least ${length.min}`);
  }
  return bytes;
}

const decodeKey = (s: string, what: string) => decode(s, what, KEY_BYTES);

const TAMPERED = 'payload failed to decrypt: ciphertext or key box was altered';

export function createLocalEnclave(keys: KeyPair[], opts: LocalEnclaveOptions = {}): LocalEnclave {
  const random = opts.random ?? nacl.randomBytes;
  const cacheSize = opts.sharedKeyCacheSize ?? 4096;
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new Error(`sharedKeyCacheSize must be a positive integer, got ${cacheSize}`);

  /** Our private keys by base64 public key. */
  const secrets = new Map<string, Uint8Array>();
  for (const k of keys) {
    if (k.publicKey.length !== KEY_BYTES || k.secretKey.length !== nacl.box.secretKeyLength) throw new Error('an enclave key pair must be 32-byte Curve25519 keys');
    const derived = nacl.box.keyPair.fromSecretKey(k.secretKey).publicKey;
    if (!nacl.verify(derived, k.publicKey)) throw new Error(`the private key given for ${b64(k.publicKey)} does not belong to that public key`);
    secrets.set(b64(k.publicKey), Uint8Array.from(k.secretKey));
  }
  if (secrets.size === 0) throw new Error('an enclave needs at least one key pair');

  const shared = new Map<string, Uint8Array>();
  const stats = { computed: 0, reused: 0 };
  let closed = false;

  const live = () => {
    if (closed) throw refuse(EnclaveRefusal.Closed, 'this enclave is closed');
  };

  const secretFor = (ownKey: string): Uint8Array => {
    const sk = secrets.get(ownKey);
    if (!sk) throw refuse(EnclaveRefusal.UnknownKey, `this enclave does not hold the private key for ${ownKey}`);
    return sk;
  };

  /** box.before(peer, own secret), cached per (own key, peer key). */
  const sharedKey = (ownKey: string, peerKey: string, peerBytes: Uint8Array): Uint8Array => {
    const id = `${ownKey}|${peerKey}`;
    const hit = shared.get(id);
    if (hit) {
      stats.reused++;
      return hit;
    }
    const k = nacl.box.before(peerBytes, secretFor(ownKey));
    stats.computed++;
    if (shared.size >= cacheSize) {
      const oldest = shared.keys().next().value as string;
      shared.get(oldest)?.fill(0);
      shared.delete(oldest);
    }
    shared.set(id, k);
    return k;
  };

  const randomBytes = (n: number): Uint8Array => {
    const r = random(n);
    if (r.length !== n) throw new Error(`the random source returned ${r.length} bytes, ${n} requested`);
    return r;
  };

  /** Sender first, then recipients in order, each once; every key checked to be 32 bytes. */
  const recipientList = (sender: string, recipients: string[]): { key: string; bytes: Uint8Array }[] => {
    const seen = new Set<string>();
    const out: { key: string; bytes: Uint8Array }[] = [];
    for (const [i, key] of [sender, ...recipients].entries()) {
      const bytes = decodeKey(key, i === 0 ? 'sender key' : `recipient key ${key}`);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ key, bytes });
    }
    return out;
  };

  /** Box the master key for each recipient with one shared nonce. */
  const boxForAll = (masterKey: Uint8Array, sender: string, recipients: string[], privacyFlag: PrivacyFlag, sealed: { cipherText: string; cipherTextNonce: string }): EncodedPayload => {
    const list = recipientList(sender, recipients);
    secretFor(sender);
    const recipientNonce = randomBytes(NONCE_BYTES);
    const recipientBoxes = list.map((r) => b64(nacl.box.after(masterKey, recipientNonce, sharedKey(sender, r.key, r.bytes))));
    return {
      senderKey: sender,
      cipherText: sealed.cipherText,
      cipherTextNonce: sealed.cipherTextNonce,
      recipientBoxes,
      recipientNonce: b64(recipientNonce),
      recipientKeys: list.map((r) => r.key),
      privacyFlag,
    };
  };

  const seal = (payload: Uint8Array) => {
    const masterKey = randomBytes(MASTER_KEY_BYTES);
    const nonce = randomBytes(NONCE_BYTES);
    return { masterKey, cipherText: b64(nacl.secretbox(payload, nonce, masterKey)), cipherTextNonce: b64(nonce) };
  };

  return {
    async publicKeys() {
      live();
      return [...secrets.keys()];
    },

    async encrypt(payload, sender, recipients, privacyFlag) {
      live();
      secretFor(sender);
      recipientList(sender, recipients); // refuse a malformed recipient before drawing randomness
      const { masterKey, ...sealed } = seal(payload);
      try {
        return boxForAll(masterKey, sender, recipients, privacyFlag, sealed);
      } finally {
        masterKey.fill(0);
      }
    },

    async encryptRaw(payload, sender) {
      live();
      const senderBytes = decodeKey(sender, 'sender key');
      secretFor(sender);
      const { masterKey, ...sealed } = seal(payload);
      try {
        const keyNonce = randomBytes(NONCE_BYTES);
        const encryptedKey = nacl.box.after(masterKey, keyNonce, sharedKey(sender, sender, senderBytes));
        return { senderKey: sender, ...sealed, encryptedKey: b64(encryptedKey), keyNonce: b64(keyNonce) };
      } finally {
        masterKey.fill(0);
      }
    },

    async encryptFromRaw(raw: RawPayload, recipients, privacyFlag) {
      live();
      const senderBytes = decodeKey(raw.senderKey, 'sender key');
      secretFor(raw.senderKey);
      const encryptedKey = decode(raw.encryptedKey, 'encrypted key', BOXED_KEY_BYTES);
      const keyNonce = decode(raw.keyNonce, 'key nonce', NONCE_BYTES);
      const cipherText = decode(raw.cipherText, 'cipherText', { min: nacl.secretbox.overheadLength });
      const cipherTextNonce = decode(raw.cipherTextNonce, 'cipherText nonce', NONCE_BYTES);
      recipientList(raw.senderKey, recipients);
      const masterKey = nacl.box.open.after(encryptedKey, keyNonce, sharedKey(raw.senderKey, raw.senderKey, senderBytes));
      if (!masterKey) throw refuse(EnclaveRefusal.Tampered, TAMPERED);
      try {
        // Share only what opens: a raw payload whose cipherText was altered would reach recipients as garbage.
        if (!nacl.secretbox.open(cipherText, cipherTextNonce, masterKey)) throw refuse(EnclaveRefusal.Tampered, TAMPERED);
        return boxForAll(masterKey, raw.senderKey, recipients, privacyFlag, { cipherText: raw.cipherText, cipherTextNonce: raw.cipherTextNonce });
      } finally {
        masterKey.fill(0);
      }
    },

    async decrypt(encoded, key) {
      live();
      decodeKey(key, 'key');
      secretFor(key);
      const senderBytes = decodeKey(encoded.senderKey, 'sender key');
      if (encoded.recipientKeys.length !== encoded.recipientBoxes.length) {
        throw refuse(EnclaveRefusal.Malformed, `malformed payload: ${encoded.recipientKeys.length} recipient keys but ${encoded.recipientBoxes.length} boxes`);
      }
      const i = encoded.recipientKeys.indexOf(key);
      if (i < 0) throw refuse(EnclaveRefusal.NotRecipient, `${key} is not a recipient of this payload`);
      const box = decode(encoded.recipientBoxes[i], 'recipient box', BOXED_KEY_BYTES);
      const recipientNonce = decode(encoded.recipientNonce, 'recipient nonce', NONCE_BYTES);
      const cipherText = decode(encoded.cipherText, 'cipherText', { min: nacl.secretbox.overheadLength });
      const cipherTextNonce = decode(encoded.cipherTextNonce, 'cipherText nonce', NONCE_BYTES);
      const masterKey = nacl.box.open.after(box, recipientNonce, sharedKey(key, encoded.senderKey, senderBytes));
      if (!masterKey) throw refuse(EnclaveRefusal.Tampered, TAMPERED);
      try {
        const plain = nacl.secretbox.open(cipherText, cipherTextNonce, masterKey);
        if (!plain) throw refuse(EnclaveRefusal.Tampered, TAMPERED);
        return plain;
      } finally {
        masterKey.fill(0);
      }
    },

    sharedKeyStats() {
      return { ...stats, size: shared.size };
    },

    close() {
      closed = true;
      for (const sk of secrets.values()) sk.fill(0);
      for (const k of shared.values()) k.fill(0);
      secrets.clear();
      shared.clear();
    },
  };
}
