import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak_256 } from '@noble/hashes/sha3';
import {
  decodeExtraData,
  encodeExtraData,
  secp256k1Crypto,
  sealDigest,
  verifySeals,
} from '../../actors/consensus/qbft/index.js';

const KEY = '0x' + '11'.repeat(32);
// The well-known address of private key 0x11…11.
const ADDRESS = '0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a';

test('secp256k1Crypto: address of the key; sign → recover gives it; a tampered digest or signature does not', () => {
  const crypto = secp256k1Crypto(KEY);
  assert.equal(crypto.address, ADDRESS);
  const digest = keccak_256(new TextEncoder().encode('hello qbft'));
  const signature = crypto.sign(digest);
  assert.match(signature, /^0x[0-9a-f]{130}$/);
  assert.ok(['1b', '1c'].includes(signature.slice(-2)), 'v is 27 or 28');
  assert.equal(crypto.recover(digest, signature), ADDRESS);
  const tampered = digest.slice();
  tampered[0] ^= 1;
  assert.notEqual(crypto.recover(tampered, signature), ADDRESS);
  const badSig = signature.slice(0, 10) + (signature[10] === '0' ? '1' : '0') + signature.slice(11);
  assert.notEqual(crypto.recover(digest, badSig), ADDRESS);
  assert.equal(crypto.recover(digest, '0x1234'), null);
  assert.equal(crypto.recover(digest, signature.slice(0, -2) + '05'), null);
  assert.throws(() => secp256k1Crypto('0x' + '00'.repeat(32)));
});

test('extraData: round trip, and seals verified against the validators', () => {
  const keys = ['0x' + '11'.repeat(32), '0x' + '22'.repeat(32), '0x' + '33'.repeat(32), '0x' + '44'.repeat(32)].map(secp256k1Crypto);
  const validators = keys.map((k) => k.address).sort();
  const digest = '0x' + 'ab'.repeat(32);
  const seals = keys.slice(0, 3).map((k) => k.sign(sealDigest(digest, 2)));
  const extra = { digest, round: 2, parentSeals: seals, vote: { address: keys[3].address, authorize: false } };
  const encoded = encodeExtraData(extra);
  assert.deepEqual(decodeExtraData(encoded), extra);
  assert.deepEqual(decodeExtraData(encodeExtraData({ digest, round: 0, parentSeals: [], vote: null })), { digest, round: 0, parentSeals: [], vote: null });
  const recover = keys[0].recover;
  assert.equal(verifySeals(digest, 2, seals, validators, recover), null);
  assert.match(verifySeals(digest, 2, seals.slice(0, 2), validators, recover)!, /3 needed/);
  assert.match(verifySeals(digest, 1, seals, validators, recover)!, /non-validator|invalid/);
  assert.match(verifySeals(digest, 2, [seals[0], seals[0], seals[1]], validators, recover)!, /duplicate/);
  assert.throws(() => decodeExtraData('0xc0'));
});
