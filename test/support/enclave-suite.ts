/**
 * One test suite for every Enclave (the local one over tweetnacl, the client over NATS): what the tm relies on.
 * `makeSetup` gives at least three parties, each an enclave holding one key; party 0 sends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2';
import { sha3_512 } from '@noble/hashes/sha3';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { Enclave } from '../../actors/enclave/enclave.js';
import type { EncodedPayload } from '../../actors/enclave/messages.js';
import { payloadHash } from '../../actors/enclave/payload-hash.js';

export interface EnclaveParty {
  id: string;
  /** The party's privacy public key (base64); its enclave holds the private half. */
  publicKey: string;
  enclave: Enclave;
}

export interface EnclaveSetup {
  parties: EnclaveParty[];
  teardown?: () => Promise<void>;
}

/** A deterministic byte source for tests: SHA-256 in counter mode over a seed. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  const s = new TextEncoder().encode(seed);
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n: number) => {
    while (pool.length < n) {
      const block = new Uint8Array(s.length + 4);
      block.set(s);
      new DataView(block.buffer).setUint32(s.length, counter++);
      const next = new Uint8Array(pool.length + 32);
      next.set(pool);
      next.set(sha256(block), pool.length);
      pool = next;
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}

const TAMPERED = /^payload failed to decrypt: ciphertext or key box was altered$/;

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const text = (s: string) => new TextEncoder().encode(s);

/** The same base64 value with one bit of byte `at` flipped. */
function flipBit(value: string, at = 0): string {
  const bytes = unb64(value);
  bytes[at % bytes.length] ^= 0x01;
  return b64(bytes);
}

/** Asserts that `p` rejects with a CodedError of `code` whose message matches `message` (and data.reason, if given). */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message: RegExp, reason?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CodedError, `expected a CodedError, got ${String(err)}`);
    assert.equal(err.code, code, `code of "${err.message}"`);
    assert.match(err.message, message);
    if (reason !== undefined) assert.equal((err.data as { reason?: string } | undefined)?.reason, reason, `reason of "${err.message}"`);
    return true;
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export function enclaveSuite(name: string, makeSetup: () => Promise<EnclaveSetup>): void {
  describe(`Enclave contract: ${name}`, () => {
    let setup: EnclaveSetup;
    let A: EnclaveParty;
    let B: EnclaveParty;
    let C: EnclaveParty;

    before(async () => {
      setup = await makeSetup();
      assert.ok(setup.parties.length >= 3, 'the suite needs three parties');
      [A, B, C] = setup.parties;
    });

    after(async () => {
      await setup?.teardown?.();
    });

    it('each enclave lists exactly the key it holds', async () => {
      for (const p of setup.parties) assert.deepEqual(await p.enclave.publicKeys(), [p.publicKey], p.id);
    });

    it('encrypt: the sender and every recipient decrypt; a non-recipient cannot', async () => {
      const plain = text('transfer(0xb0b, 42)');
      const encoded = await A.enclave.encrypt(plain, A.publicKey, [B.publicKey], 1);
      assert.equal(encoded.senderKey, A.publicKey);
      assert.deepEqual(encoded.recipientKeys, [A.publicKey, B.publicKey], 'sender first, then the recipient');
      assert.equal(encoded.recipientBoxes.length, 2);
      assert.equal(encoded.privacyFlag, 1);
      assert.equal(Buffer.from(unb64(encoded.cipherText)).includes(Buffer.from(plain)), false, 'the plaintext is not in the clear');

      assert.deepEqual(await B.enclave.decrypt(encoded, B.publicKey), plain, 'the recipient opens it');
      assert.deepEqual(await A.enclave.decrypt(encoded, A.publicKey), plain, 'the sender opens its own box');
      await rejectsWith(C.enclave.decrypt(encoded, C.publicKey), ErrorCode.Rejected, new RegExp(`^${escape(C.publicKey)} is not a recipient of this payload$`), 'not-recipient');
      await rejectsWith(
        C.enclave.decrypt(encoded, B.publicKey),
        ErrorCode.Rejected,
        new RegExp(`^this enclave does not hold the private key for ${escape(B.publicKey)}$`),
        'unknown-key',
      );
    });

    it('recipients are deduplicated, the sender listed once, and sizes from empty to 64 KiB round-trip', async () => {
      const big = seededRandom('big payload')(64 * 1024);
      for (const plain of [new Uint8Array(0), text('x'), big]) {
        const encoded = await A.enclave.encrypt(plain, A.publicKey, [B.publicKey, C.publicKey, B.publicKey, A.publicKey], 0);
        assert.deepEqual(encoded.recipientKeys, [A.publicKey, B.publicKey, C.publicKey]);
        assert.equal(encoded.recipientBoxes.length, 3);
        assert.equal(new Set(encoded.recipientBoxes).size, 3, 'one distinct box per key');
        for (const p of [A, B, C]) assert.deepEqual(await p.enclave.decrypt(encoded, p.publicKey), plain, `${p.id}, ${plain.length} bytes`);
      }
    });

    it('every encryption uses a fresh master key and nonces', async () => {
      const plain = text('same plaintext twice');
      const one = await A.enclave.encrypt(plain, A.publicKey, [B.publicKey], 0);
      const two = await A.enclave.encrypt(plain, A.publicKey, [B.publicKey], 0);
      assert.notEqual(one.cipherText, two.cipherText);
      assert.notEqual(one.cipherTextNonce, two.cipherTextNonce);
      assert.notEqual(one.recipientNonce, two.recipientNonce);
      assert.notDeepEqual(payloadHash(one), payloadHash(two));
      assert.deepEqual(await B.enclave.decrypt(two, B.publicKey), plain);
    });

    it('a tampered cipherText fails to decrypt, for every party, with a clear error', async () => {
      const encoded = await A.enclave.encrypt(text('pay 100'), A.publicKey, [B.publicKey], 0);
      for (const at of [0, 20]) {
        const tampered: EncodedPayload = { ...encoded, cipherText: flipBit(encoded.cipherText, at) };
        await rejectsWith(B.enclave.decrypt(tampered, B.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
        await rejectsWith(A.enclave.decrypt(tampered, A.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
      }
      const otherNonce: EncodedPayload = { ...encoded, cipherTextNonce: flipBit(encoded.cipherTextNonce, 3) };
      await rejectsWith(B.enclave.decrypt(otherNonce, B.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
      assert.deepEqual(await B.enclave.decrypt(encoded, B.publicKey), text('pay 100'), 'the untouched payload still opens');
    });

    it("a tampered key box fails for its owner only; a forged sender key fails for everyone", async () => {
      const encoded = await A.enclave.encrypt(text('pay 200'), A.publicKey, [B.publicKey], 0);
      const boxes = [...encoded.recipientBoxes];
      boxes[1] = flipBit(boxes[1], 5);
      const tampered: EncodedPayload = { ...encoded, recipientBoxes: boxes };
      await rejectsWith(B.enclave.decrypt(tampered, B.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
      assert.deepEqual(await A.enclave.decrypt(tampered, A.publicKey), text('pay 200'), "the sender's own box is intact");

      await rejectsWith(B.enclave.decrypt({ ...encoded, recipientNonce: flipBit(encoded.recipientNonce) }, B.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
      // C claims to have sent it: the boxes were not made with C's key.
      await rejectsWith(B.enclave.decrypt({ ...encoded, senderKey: C.publicKey }, B.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
      // Boxes swapped between recipients: neither opens the other's.
      const swapped: EncodedPayload = { ...encoded, recipientBoxes: [encoded.recipientBoxes[1], encoded.recipientBoxes[0]] };
      await rejectsWith(B.enclave.decrypt(swapped, B.publicKey), ErrorCode.Rejected, TAMPERED, 'tampered');
    });

    it('malformed payloads are refused with a clear error', async () => {
      const encoded = await A.enclave.encrypt(text('pay 300'), A.publicKey, [B.publicKey], 0);
      const shortNonce = b64(unb64(encoded.cipherTextNonce).slice(0, 23));
      await rejectsWith(B.enclave.decrypt({ ...encoded, cipherTextNonce: shortNonce }, B.publicKey), ErrorCode.Rejected, /^malformed cipherText nonce: 23 bytes, expected 24$/, 'malformed');
      const shortBox = b64(unb64(encoded.recipientBoxes[1]).slice(0, 40));
      await rejectsWith(
        B.enclave.decrypt({ ...encoded, recipientBoxes: [encoded.recipientBoxes[0], shortBox] }, B.publicKey),
        ErrorCode.Rejected,
        /^malformed recipient box: 40 bytes, expected 48$/,
        'malformed',
      );
      await rejectsWith(
        B.enclave.decrypt({ ...encoded, recipientBoxes: [encoded.recipientBoxes[0]] }, B.publicKey),
        ErrorCode.Rejected,
        /^malformed payload: 2 recipient keys but 1 boxes$/,
        'malformed',
      );
    });

    it('encryptRaw then encryptFromRaw keeps the same cipherText, and the recipients decrypt', async () => {
      const plain = text('raw then shared');
      const raw = await A.enclave.encryptRaw(plain, A.publicKey);
      assert.equal(raw.senderKey, A.publicKey);
      assert.equal(unb64(raw.encryptedKey).length, 48, 'a boxed 32-byte master key');
      assert.equal(unb64(raw.keyNonce).length, 24);

      const encoded = await A.enclave.encryptFromRaw(raw, [C.publicKey], 3);
      assert.equal(encoded.cipherText, raw.cipherText);
      assert.equal(encoded.cipherTextNonce, raw.cipherTextNonce);
      assert.deepEqual(payloadHash(encoded), payloadHash(raw.cipherText), 'the hash is fixed by /storeraw');
      assert.deepEqual(encoded.recipientKeys, [A.publicKey, C.publicKey]);
      assert.equal(encoded.privacyFlag, 3);
      assert.deepEqual(await C.enclave.decrypt(encoded, C.publicKey), plain);
      assert.deepEqual(await A.enclave.decrypt(encoded, A.publicKey), plain);
      await rejectsWith(B.enclave.decrypt(encoded, B.publicKey), ErrorCode.Rejected, /is not a recipient of this payload$/, 'not-recipient');

      await rejectsWith(A.enclave.encryptFromRaw({ ...raw, encryptedKey: flipBit(raw.encryptedKey, 9) }, [C.publicKey], 0), ErrorCode.Rejected, TAMPERED, 'tampered');
      await rejectsWith(A.enclave.encryptFromRaw({ ...raw, cipherText: flipBit(raw.cipherText, 17) }, [C.publicKey], 0), ErrorCode.Rejected, TAMPERED, 'tampered');
      // Only the sender's enclave can share a raw payload.
      await rejectsWith(
        B.enclave.encryptFromRaw(raw, [B.publicKey], 0),
        ErrorCode.Rejected,
        new RegExp(`^this enclave does not hold the private key for ${escape(A.publicKey)}$`),
        'unknown-key',
      );
    });

    it('an enclave refuses to send as a key it does not hold', async () => {
      const notOurs = new RegExp(`^this enclave does not hold the private key for ${escape(B.publicKey)}$`);
      await rejectsWith(A.enclave.encrypt(text('forged'), B.publicKey, [C.publicKey], 0), ErrorCode.Rejected, notOurs, 'unknown-key');
      await rejectsWith(A.enclave.encryptRaw(text('forged'), B.publicKey), ErrorCode.Rejected, notOurs, 'unknown-key');
    });

    it('payloadHash is SHA3-512 of the cipherText bytes: 64 bytes, stable', async () => {
      const encoded = await A.enclave.encrypt(text('hash me'), A.publicKey, [B.publicKey], 0);
      const h = payloadHash(encoded);
      assert.equal(h.length, 64);
      assert.deepEqual(payloadHash(encoded), h, 'stable');
      assert.deepEqual(payloadHash(encoded.cipherText), h, 'the same from the cipherText alone');
      const reboxed: EncodedPayload = { ...encoded, recipientBoxes: [...encoded.recipientBoxes].reverse() };
      assert.deepEqual(payloadHash(reboxed), h, 'boxes are not hashed');
      assert.deepEqual(h, sha3_512(unb64(encoded.cipherText)));
      assert.notDeepEqual(payloadHash(flipBit(encoded.cipherText)), h);
    });
  });
}
