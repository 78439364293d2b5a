/**
 * The tm's pure decisions (actors/tm/decide.ts) and the payload hash's spellings, without I/O: who a payload
 * goes to, which pushes are stored, what a resend pushes and to whom, what a missing hash means.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha3_512 } from '@noble/hashes/sha3';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import * as decide from '../../actors/tm/decide.js';
import { b64ToHex, hashKey, hexToB64, keyOfPayload, rowKey, fromRowKey } from '../../actors/tm/hash.js';
import { PayloadHashB64, PayloadHashHex } from '../../actors/tm/messages.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const K1 = key(1), K2 = key(2), K3 = key(3), K4 = key(4);
const STRANGER = key(9);
const network = { name: 'unitnet', participants: [['p1', K1], ['p2', K2], ['p3', K3], ['p4', K4]].map(([id, k]) => ({ id, privacyPublicKey: k })) } as unknown as NetworkDescription;
const p1 = decide.partyInfo(network, 'p1');

const coded = (code: string, re: RegExp) => (err: unknown) => err instanceof CodedError && err.code === code && re.test(err.message);
const payload = (sender: string, recipients: string[]) => ({ senderKey: sender, recipientKeys: [sender, ...recipients.filter((k) => k !== sender)] });

describe('tm decisions', () => {
  it('knows every participant by key and refuses a party that is not in the network', () => {
    assert.equal(p1.selfKey, K1);
    assert.equal(decide.ownerOf(p1, K3), 'p3');
    assert.deepEqual(decide.peers(p1), ['p2', 'p3', 'p4']);
    assert.throws(() => decide.partyInfo(network, 'p9'), /not in network/);
  });

  it('privateFor → keys to seal for (no sender, no duplicates) and tms to push to (no self, no duplicates)', () => {
    assert.deepEqual(decide.recipients(p1, K1, [K2, K3, K2, K1]), { keys: [K2, K3], participants: ['p2', 'p3'] });
    assert.deepEqual(decide.recipients(p1, K1, []), { keys: [], participants: [] });
    assert.deepEqual(decide.recipients(p1, K1, [K1]), { keys: [], participants: [] });
  });

  it('an unknown recipient key is invalid input that names the key', () => {
    assert.throws(() => decide.recipients(p1, K1, [K2, STRANGER]), coded(ErrorCode.InvalidInput, new RegExp(`unknown recipient key ${STRANGER.replace(/[+/]/g, '\\$&')}`)));
  });

  it('privateFrom must be our key; absent, our key is used', () => {
    assert.equal(decide.senderKey(p1, undefined), K1);
    assert.equal(decide.senderKey(p1, K1), K1);
    assert.throws(() => decide.senderKey(p1, K2), coded(ErrorCode.InvalidInput, /not a key of this transaction manager/));
  });

  it('stores a push only when we are a recipient and the pusher is a party', () => {
    decide.checkPush(p1, 'p2', payload(K2, [K1])); // the sender pushes
    decide.checkPush(p1, 'p3', payload(K1, [K3])); // a recipient resends what we sent
    assert.throws(() => decide.checkPush(p1, 'p2', payload(K2, [K3])), coded(ErrorCode.Rejected, /does not name p1's key/));
    assert.throws(() => decide.checkPush(p1, 'p4', payload(K2, [K1])), coded(ErrorCode.Rejected, /p4 is not a party/));
    assert.throws(() => decide.checkPush(p1, 'p9', payload(K2, [K1])), coded(ErrorCode.Rejected, /not a participant/));
    assert.throws(() => decide.checkPush(p1, 'p2', payload(K2, [K1, STRANGER])), coded(ErrorCode.Rejected, /no participant owns/));
  });

  it('a resend pushes what names the key, to the key owner: asking for another participant key gains nothing', () => {
    const held = [
      { hashHex: 'a', encoded: payload(K1, [K2]) },
      { hashHex: 'b', encoded: payload(K1, [K3]) },
      { hashHex: 'c', encoded: payload(K2, [K1, K3]) },
      { hashHex: 'd', encoded: payload(K3, [K1]) },
    ];
    // p3 asks p1 for p2's key: the pushes go to p2, never to p3.
    assert.equal(decide.resendTarget(p1, K2), 'p2');
    assert.deepEqual(decide.resendSelection(K2, held).map((h) => h.hashHex), ['a', 'c']);
    // p3 asks for its own key: what names p3, whether p3 sent it or received it.
    assert.equal(decide.resendTarget(p1, K3), 'p3');
    assert.deepEqual(decide.resendSelection(K3, held).map((h) => h.hashHex), ['b', 'c', 'd']);
    assert.equal(decide.resendTarget(p1, K1), null);
    assert.throws(() => decide.resendTarget(p1, STRANGER), coded(ErrorCode.InvalidInput, /unknown recipient key/));
  });

  it('may hold: only the parties of a payload', () => {
    const enc = payload(K2, [K3]);
    assert.deepEqual(decide.participantsOf(p1, enc), ['p2', 'p3']);
    assert.equal(decide.mayHold(p1, 'p2', enc), true);
    assert.equal(decide.mayHold(p1, 'p3', enc), true);
    assert.equal(decide.mayHold(p1, 'p4', enc), false);
    assert.equal(decide.mayHold(p1, 'p9', enc), false);
  });

  it('decrypts with our key only, and only when the payload names it', () => {
    assert.equal(decide.decryptionKey(p1, payload(K2, [K1])), K1);
    assert.equal(decide.decryptionKey(p1, payload(K2, [K1]), K1), K1);
    assert.equal(decide.decryptionKey(p1, payload(K2, [K1]), K2), null);
    assert.equal(decide.decryptionKey(p1, payload(K2, [K3])), null);
  });

  it('a missing hash is "not a recipient" only once recovery is complete', () => {
    assert.deepEqual(decide.missingPayload(false), { found: false });
    assert.throws(() => decide.missingPayload(true), coded(ErrorCode.Unavailable, /recovering its payloads/));
  });

  it('backs off exponentially, capped, with jitter in [half, full]', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((a) => decide.backoffMs(a, 0.999999, b)), [100, 200, 400, 800, 1000, 1000, 1000]);
    assert.deepEqual([0, 1, 2].map((a) => decide.backoffMs(a, 0, b)), [50, 100, 200]);
  });
});

describe('payload hash spellings', () => {
  const bytes = sha3_512(new TextEncoder().encode('ciphertext'));
  const cipherText = Buffer.from('ciphertext').toString('base64');

  it('is SHA3-512 of the decoded cipherText, in hex and base64 (Tessera key)', () => {
    const k = keyOfPayload({ cipherText });
    assert.equal(k.hashHex, '0x' + Buffer.from(bytes).toString('hex'));
    assert.equal(k.key, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(hashKey(bytes), k);
    assert.ok(PayloadHashHex.safeParse(k.hashHex).success);
    assert.ok(PayloadHashB64.safeParse(k.key).success);
  });

  it('converts hex ⇄ base64 both ways and refuses wrong lengths', () => {
    const k = hashKey(bytes);
    assert.equal(hexToB64(k.hashHex), k.key);
    assert.equal(hexToB64(k.hashHex.toUpperCase().replace('0X', '0x')), k.key);
    assert.equal(b64ToHex(k.key), k.hashHex);
    assert.throws(() => b64ToHex(k.key.slice(4)), coded(ErrorCode.InvalidInput, /88 characters/));
    assert.throws(() => hexToB64('0x1234'), coded(ErrorCode.InvalidInput, /64-byte/));
    assert.throws(() => hashKey(new Uint8Array(32)), /64 bytes/);
  });

  it('tables key it as bare lowercase hex', () => {
    const k = hashKey(bytes);
    assert.equal(rowKey(k.hashHex.toUpperCase().replace('0X', '0x')), k.hashHex.slice(2));
    assert.equal(fromRowKey(rowKey(k.hashHex)), k.hashHex);
  });
});
