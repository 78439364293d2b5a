/**
 * The local enclave (tweetnacl): the shared Enclave suite, the Tessera construction checked against plain NaCl,
 * the shared-key cache, seeded randomness, and unlocking the key at rest.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import nacl from 'tweetnacl';
import { ErrorCode } from '../../lib/errors.js';
import { generateNetwork } from '../../cli/network/generate.js';
import { createLocalEnclave, type KeyPair } from '../../actors/enclave/local-enclave.js';
import { KeyUnlockError, lockKey, unlockKey } from '../../actors/enclave/locked-key.js';
import { payloadHash } from '../../actors/enclave/payload-hash.js';
import { unlockEnclaveKey } from '../../actors/enclave/shell.js';
import { enclaveSuite, rejectsWith, seededRandom } from '../support/enclave-suite.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (s: string) => new TextEncoder().encode(s);

function keyPair(seed: string): KeyPair {
  return nacl.box.keyPair.fromSecretKey(seededRandom(`key ${seed}`)(32));
}

const ids = ['p1', 'p2', 'p3'];
const pairs = Object.fromEntries(ids.map((id) => [id, keyPair(id)])) as Record<string, KeyPair>;
const pub = (id: string) => b64(pairs[id].publicKey);

enclaveSuite('local enclaves, seeded randomness', async () => ({
  parties: ids.map((id) => ({ id, publicKey: pub(id), enclave: createLocalEnclave([pairs[id]], { random: seededRandom(`enclave ${id}`) }) })),
}));

enclaveSuite('local enclaves, system randomness', async () => ({
  parties: ids.map((id) => ({ id, publicKey: pub(id), enclave: createLocalEnclave([pairs[id]]) })),
}));

describe('local enclave', () => {
  it("follows Tessera's construction: plain NaCl opens a recipient's box and the secretbox", async () => {
    const enclave = createLocalEnclave([pairs.p1]);
    const encoded = await enclave.encrypt(text('interoperable'), pub('p1'), [pub('p2')], 0);
    const nonce = unb64(encoded.recipientNonce);
    const forP2 = nacl.box.open(unb64(encoded.recipientBoxes[1]), nonce, pairs.p1.publicKey, pairs.p2.secretKey);
    const forP1 = nacl.box.open(unb64(encoded.recipientBoxes[0]), nonce, pairs.p1.publicKey, pairs.p1.secretKey);
    assert.ok(forP2 && forP1, 'both boxes open with a full nacl.box.open');
    assert.deepEqual(forP1, forP2, 'one master key for every recipient');
    assert.equal(forP2.length, 32);
    const plain = nacl.secretbox.open(unb64(encoded.cipherText), unb64(encoded.cipherTextNonce), forP2);
    assert.deepEqual(plain, text('interoperable'));
  });

  it('is deterministic for a given random source, and only then', async () => {
    const run = async (seed: string) => createLocalEnclave([pairs.p1], { random: seededRandom(seed) }).encrypt(text('same'), pub('p1'), [pub('p2'), pub('p3')], 0);
    assert.deepEqual(await run('s1'), await run('s1'));
    assert.notDeepEqual((await run('s1')).cipherText, (await run('s2')).cipherText);
  });

  it('computes a shared key once per (own key, peer key) and reuses it', async () => {
    const sender = createLocalEnclave([pairs.p1]);
    const receiver = createLocalEnclave([pairs.p2]);
    assert.deepEqual(sender.sharedKeyStats(), { computed: 0, reused: 0, size: 0 });

    const first = await sender.encrypt(text('one'), pub('p1'), [pub('p2')], 0);
    assert.deepEqual(sender.sharedKeyStats(), { computed: 2, reused: 0, size: 2 }, 'p1→p1 and p1→p2');
    const second = await sender.encrypt(text('two'), pub('p1'), [pub('p2')], 0);
    assert.deepEqual(sender.sharedKeyStats(), { computed: 2, reused: 2, size: 2 }, 'the second encryption computes nothing');

    // What the cached keys sealed opens, on both sides, and the receiver's key is computed once too.
    assert.deepEqual(await receiver.decrypt(first, pub('p2')), text('one'));
    assert.deepEqual(await receiver.decrypt(second, pub('p2')), text('two'));
    assert.deepEqual(receiver.sharedKeyStats(), { computed: 1, reused: 1, size: 1 });
    assert.deepEqual(await sender.decrypt(second, pub('p1')), text('two'), "the sender's own box opens with the cached p1→p1 key");
    assert.deepEqual(sender.sharedKeyStats(), { computed: 2, reused: 3, size: 2 });
  });

  it('keeps at most sharedKeyCacheSize shared keys, dropping the oldest', async () => {
    const enclave = createLocalEnclave([pairs.p1], { sharedKeyCacheSize: 2 });
    await enclave.encrypt(text('a'), pub('p1'), [pub('p2'), pub('p3')], 0); // p1→p1, p1→p2, p1→p3: p1→p1 dropped
    assert.deepEqual(enclave.sharedKeyStats(), { computed: 3, reused: 0, size: 2 });
    const encoded = await enclave.encrypt(text('b'), pub('p1'), [pub('p3')], 0); // p1→p1 again (drops p1→p2), p1→p3 cached
    assert.deepEqual(enclave.sharedKeyStats(), { computed: 4, reused: 1, size: 2 });
    assert.deepEqual(await createLocalEnclave([pairs.p3]).decrypt(encoded, pub('p3')), text('b'));
  });

  it('refuses a malformed recipient key', async () => {
    const enclave = createLocalEnclave([pairs.p1]);
    await rejectsWith(enclave.encrypt(text('x'), pub('p1'), ['not-a-key'], 0), ErrorCode.Rejected, /^malformed recipient key not-a-key: not base64$/, 'malformed');
    await rejectsWith(enclave.encrypt(text('x'), pub('p1'), [b64(new Uint8Array(31))], 0), ErrorCode.Rejected, /31 bytes, expected 32$/, 'malformed');
  });

  it('refuses a key pair whose halves do not match, and an empty key list', () => {
    assert.throws(() => createLocalEnclave([{ publicKey: pairs.p1.publicKey, secretKey: pairs.p2.secretKey }]), /does not belong to that public key/);
    assert.throws(() => createLocalEnclave([]), /at least one key pair/);
  });

  it('after close() its keys are wiped and every call is refused', async () => {
    const keys = keyPair('closing');
    const enclave = createLocalEnclave([keys]);
    const encoded = await enclave.encrypt(text('x'), b64(keys.publicKey), [], 0);
    enclave.close();
    await rejectsWith(enclave.decrypt(encoded, b64(keys.publicKey)), ErrorCode.Rejected, /^this enclave is closed$/, 'closed');
    await rejectsWith(enclave.publicKeys(), ErrorCode.Rejected, /^this enclave is closed$/, 'closed');
    assert.ok(keys.secretKey.some((b) => b !== 0), "the caller's copy is not touched");
  });
});

describe('payloadHash', () => {
  it('is SHA3-512 (not Keccak) of the decoded cipherText', () => {
    assert.equal(
      hex(payloadHash('')),
      'a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26',
    );
    assert.equal(
      hex(payloadHash(b64(text('abc')))),
      'b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0',
    );
  });
});

describe('enclave key at rest', () => {
  it('unlockKey with a wrong password fails with KeyUnlockError and a clear message', () => {
    const secret = nacl.randomBytes(32);
    const locked = lockKey(secret, 'right horse battery', { N: 2 ** 10 });
    assert.deepEqual(unlockKey(locked, 'right horse battery'), secret);
    assert.throws(
      () => unlockKey(locked, 'wrong'),
      (err: unknown) => err instanceof KeyUnlockError && /^cannot unlock the enclave key: wrong password, or the key file was altered$/.test(err.message),
    );
    const edited = { ...locked, sealed: b64(unb64(locked.sealed).map((b, i) => (i === 3 ? b ^ 1 : b))) };
    assert.throws(() => unlockKey(edited, 'right horse battery'), KeyUnlockError);
  });

  describe('unlockEnclaveKey (the shell’s start-up check)', () => {
    const { secrets } = generateNetwork({ participants: 2, name: 'keynet' });
    const p1 = secrets.p1;

    it('unlocks a generated key with the dev password and derives the published public key', () => {
      const { publicKey, secretKey } = unlockEnclaveKey(p1);
      assert.equal(b64(publicKey), p1.enclaveKey.publicKey);
      assert.deepEqual(nacl.box.keyPair.fromSecretKey(secretKey).publicKey, publicKey);
    });

    it('an explicit password wins over the dev one', () => {
      assert.throws(() => unlockEnclaveKey(p1, 'not-the-password'), (err: unknown) => err instanceof KeyUnlockError && /^enclave of p1: cannot unlock the enclave key: wrong password/.test(err.message));
    });

    it('without any password it says where the password should come from', () => {
      const { enclavePassword: _, ...noPassword } = p1;
      assert.throws(() => unlockEnclaveKey(noPassword), /^Error: no password for the enclave key of p1: set QUORUM_ENCLAVE_PASSWORD_FILE/);
    });

    it('refuses a locked key that belongs to another public key', () => {
      const mixed = { ...p1, enclaveKey: { ...p1.enclaveKey, publicKey: secrets.p2.enclaveKey.publicKey } };
      assert.throws(() => unlockEnclaveKey(mixed), /the unlocked private key belongs to .* not to the configured public key/);
    });
  });
});
