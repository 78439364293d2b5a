/**
 * Private transactions through the one decoder (lib/ethereum/transaction.ts) and admission
 * (actors/gateway/tx-admission.ts): GoQuorum's v = 37/38 legacy transactions signed without a chain id, made
 * by signPrivateTransaction and, independently, by ethers the way web3js-quorum makes them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { createLegacyTx } from '@ethereumjs/tx';
import { keccak_256 } from '@noble/hashes/sha3';
import { Transaction, Wallet, decodeRlp, encodeRlp, getBytes, toBeHex } from 'ethers';
import secp256k1 from 'secp256k1';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { decodeRawTransaction, signPrivateTransaction, PAYLOAD_HASH_BYTES, PRIVATE_V_OFFSET, type DecodedTx } from '../../lib/ethereum/transaction.js';
import { admitTransaction } from '../../actors/gateway/tx-admission.js';
import { addressOf, devKey, signLegacyTx } from '../support/dev-tx.js';
import { ErrorCode } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/hex.js';

const network = { chainId: 1337, name: 'n', genesis: { timestamp: 0, gasLimit: '30000000', alloc: {} } };
const common = createLedgerCommon(network);
const KEY = devKey(5);
const SIGNER = addressOf(KEY);
const wallet = new Wallet(toHex(KEY));
const TO = '0x' + '42'.repeat(20);
/** A 64-byte payload hash (as the tm answers it). */
const H = '0x' + 'ab'.repeat(32) + 'cd'.repeat(32);

const secpSign = (key: Uint8Array) => (hash: Uint8Array) => secp256k1.ecdsaSign(hash, key);

function ours(f: { nonce?: bigint; gasLimit?: bigint; to?: string | null; data?: string } = {}, key = KEY): Uint8Array {
  return signPrivateTransaction(
    { nonce: f.nonce ?? 0n, gasLimit: f.gasLimit ?? 200_000n, to: f.to === null ? null : fromHex(f.to ?? TO), data: fromHex(f.data ?? H) },
    secpSign(key),
  );
}

/**
 * web3js-quorum's way, with ethers: a legacy transaction without chain id, signed over its homestead hash,
 * then v = 27/28 + 10 (see test/e2e/privacy.test.ts).
 */
function withEthers(f: { nonce?: number; gasPrice?: bigint; gasLimit?: number; to?: string | null; value?: bigint; data?: string } = {}): Uint8Array {
  const unsigned = Transaction.from({
    type: 0,
    nonce: f.nonce ?? 0,
    gasPrice: f.gasPrice ?? 0n,
    gasLimit: f.gasLimit ?? 200_000,
    to: f.to === undefined ? TO : f.to,
    value: f.value ?? 0n,
    data: f.data ?? H,
  });
  assert.equal(unsigned.chainId, 0n, 'signed without a chain id');
  unsigned.signature = wallet.signingKey.sign(unsigned.unsignedHash);
  const fields = decodeRlp(unsigned.serialized) as string[];
  assert.ok(fields[6] === '0x1b' || fields[6] === '0x1c', `homestead v before marking: ${fields[6]}`);
  fields[6] = toBeHex(BigInt(fields[6]) + 10n);
  return getBytes(encodeRlp(fields));
}

function ok(raw: Uint8Array, c = common): DecodedTx {
  const r = decodeRawTransaction(raw, c);
  if (!r.ok) assert.fail(`expected a decodable tx, got: ${r.error.message}`);
  return r.value;
}

function rejection(r: ReturnType<typeof decodeRawTransaction> | ReturnType<typeof admitTransaction>): string {
  if (r.ok) assert.fail('expected a rejection');
  assert.equal(r.error.code, ErrorCode.Rejected);
  return r.error.message;
}

/** The checks every well-formed private transaction from SIGNER must pass. */
function assertPrivate(raw: Uint8Array, tx: DecodedTx, expect: { nonce: bigint; to: string | null; gasLimit: bigint }): void {
  assert.equal(tx.isPrivate, true);
  assert.equal(tx.type, 0);
  assert.equal(tx.from, SIGNER, 'the sender recovered is the signer');
  assert.equal(tx.tx.getSenderAddress().toString(), SIGNER);
  assert.equal(tx.raw, toHex(raw));
  assert.equal(tx.hash, toHex(keccak_256(raw)), 'hash = keccak256 of the raw bytes (with v = 37/38)');
  assert.equal(toHex(tx.tx.hash()), tx.hash, "the library tx's hash is that of the bytes received");
  assert.deepEqual(tx.tx.serialize(), raw, "the library tx serializes to the bytes received");
  assert.ok(tx.tx.v === 37n || tx.tx.v === 38n, `tx.v = ${tx.tx.v}`);
  assert.equal(tx.data.length, PAYLOAD_HASH_BYTES);
  assert.equal(toHex(tx.data), H);
  assert.equal(tx.nonce, expect.nonce);
  assert.equal(tx.to, expect.to);
  assert.equal(tx.gasLimit, expect.gasLimit);
  assert.equal(tx.value, 0n);
  assert.equal(tx.feeCap, 0n);
  assert.equal(tx.tipCap, 0n);
  assert.equal(tx.size, raw.length);
}

describe('private transactions: decode', () => {
  it('signPrivateTransaction → private, signer recovered, hash of the raw bytes, v 37/38, 64-byte data', () => {
    const raw = ours({ nonce: 7n, gasLimit: 123_456n });
    const fields = RLP.decode(raw) as Uint8Array[];
    assert.equal(fields.length, 9);
    const v = fields[6][0];
    assert.ok(fields[6].length === 1 && (v === 37 || v === 38), `v on the wire: ${v}`);
    assertPrivate(raw, ok(raw), { nonce: 7n, to: TO, gasLimit: 123_456n });
  });

  it('a private contract creation (no to): private, to null, creation intrinsic gas', () => {
    const raw = ours({ to: null, gasLimit: 100_000n });
    const tx = ok(raw);
    assertPrivate(raw, tx, { nonce: 0n, to: null, gasLimit: 100_000n });
    // 21000 + 32000 (creation) + 16 × 64 non-zero bytes + 2 × 2 init-code words
    assert.equal(tx.intrinsicGas, 21_000n + 32_000n + 16n * 64n + 4n);
  });

  it('intrinsic gas of a private call is that of its 64-byte data', () => {
    assert.equal(ok(ours()).intrinsicGas, 21_000n + 16n * 64n);
    const withZeros = '0x' + '00'.repeat(32) + '01'.repeat(32);
    const raw = ours({ data: withZeros });
    assert.equal(ok(raw).intrinsicGas, 21_000n + 4n * 32n + 16n * 32n);
  });

  it('both recovery ids occur and both decode to the signer', () => {
    const seen = new Set<bigint>();
    for (let n = 0n; n < 24n && seen.size < 2; n++) {
      const raw = ours({ nonce: n });
      const tx = ok(raw);
      assert.equal(tx.from, SIGNER);
      seen.add(tx.tx.v!);
    }
    assert.deepEqual([...seen].sort(), [37n, 38n]);
  });

  it('made with ethers the web3js-quorum way → the same facts', () => {
    const raw = withEthers({ nonce: 3, gasLimit: 200_000 });
    assertPrivate(raw, ok(raw), { nonce: 3n, to: TO, gasLimit: 200_000n });
    const creation = withEthers({ nonce: 4, to: null, gasLimit: 300_000 });
    assertPrivate(creation, ok(creation), { nonce: 4n, to: null, gasLimit: 300_000n });
  });

  it('signPrivateTransaction and the ethers way give the same bytes (both RFC 6979, low s)', () => {
    assert.equal(toHex(ours({ nonce: 9n, gasLimit: 200_000n })), toHex(withEthers({ nonce: 9, gasLimit: 200_000 })));
    assert.equal(toHex(ours({ nonce: 0n, to: null, gasLimit: 300_000n })), toHex(withEthers({ nonce: 0, to: null, gasLimit: 300_000 })));
  });

  it("ethers reads signPrivateTransaction's output, with v put back to 27/28, as signed by the signer", () => {
    const fields = RLP.decode(ours({ nonce: 2n })) as Uint8Array[];
    fields[6] = Uint8Array.of(fields[6][0] - Number(PRIVATE_V_OFFSET));
    const homestead = Transaction.from(toHex(RLP.encode(fields)));
    assert.equal(homestead.from?.toLowerCase(), SIGNER);
    assert.equal(homestead.chainId, 0n);
  });

  it('another key recovers another sender', () => {
    const other = devKey(6);
    assert.equal(ok(ours({}, other)).from, addressOf(other));
    assert.notEqual(addressOf(other), SIGNER);
  });

  it('a private transaction carries no chain id: it decodes on another chain too (as in GoQuorum)', () => {
    const raw = ours();
    const elsewhere = createLedgerCommon({ ...network, chainId: 4242 });
    assert.equal(ok(raw, elsewhere).from, SIGNER);
    assert.equal(ok(raw, elsewhere).hash, ok(raw).hash);
  });

  for (const bytes of [0, 1, 32, 63, 65, 128]) {
    it(`a private transaction whose data is ${bytes} bytes (not a payload hash) is refused`, () => {
      const data = '0x' + '5a'.repeat(bytes);
      for (const raw of [ours({ data }), withEthers({ data })]) {
        assert.equal(
          rejection(decodeRawTransaction(raw, common)),
          `invalid private transaction: its data must be the 64-byte hash of a stored payload, got ${bytes} bytes`,
        );
      }
    });
  }

  it('a normal EIP-155 transaction of this chain is not private, even with 64 bytes of data', () => {
    const raw = fromHex(signLegacyTx(common, KEY, { nonce: 0, to: TO, data: H, gasLimit: 100_000 }));
    const tx = ok(raw);
    assert.equal(tx.isPrivate, false);
    assert.equal(tx.from, SIGNER);
    assert.ok(tx.tx.v === 2709n || tx.tx.v === 2710n, `EIP-155 v for 1337: ${tx.tx.v}`);
  });

  it('documented GoQuorum clash: an EIP-155 tx of chain id 1 (v 37/38) is read as private, with another sender', () => {
    const chain1 = createLedgerCommon({ ...network, chainId: 1 });
    const signed = createLegacyTx({ nonce: 0n, gasPrice: 0n, gasLimit: 100_000n, to: TO as `0x${string}`, value: 0n, data: H as `0x${string}` }, { common: chain1 }).sign(KEY);
    assert.ok(signed.v === 37n || signed.v === 38n, `chain 1 EIP-155 v: ${signed.v}`);
    const raw = signed.serialize();
    for (const c of [common, chain1]) {
      const r = decodeRawTransaction(raw, c);
      // Recovered over the homestead hash, not the EIP-155 one it was signed over: never the signer.
      if (r.ok) {
        assert.equal(r.value.isPrivate, true);
        assert.notEqual(r.value.from, SIGNER);
      } else assert.match(r.error.message, /signature/);
    }
    // With data that is not a payload hash, it is refused as a malformed private transaction.
    const plain = createLegacyTx({ nonce: 0n, gasPrice: 0n, gasLimit: 21_000n, to: TO as `0x${string}` }, { common: chain1 }).sign(KEY).serialize();
    assert.match(rejection(decodeRawTransaction(plain, common)), /^invalid private transaction: its data must be the 64-byte hash/);
  });

  it('a homestead transaction (v 27/28, the unmarked private one) is refused as not replay-protected', () => {
    const fields = RLP.decode(ours()) as Uint8Array[];
    fields[6] = Uint8Array.of(fields[6][0] - 10);
    assert.equal(rejection(decodeRawTransaction(RLP.encode(fields), common)), 'only replay-protected (EIP-155) transactions allowed over RPC');
  });

  it('v 37/38 with a tampered signature never recovers the signer', () => {
    const fields = RLP.decode(ours()) as Uint8Array[];
    const s = Uint8Array.from(fields[8]);
    s[s.length - 1] ^= 1;
    fields[8] = s;
    const r = decodeRawTransaction(RLP.encode(fields), common);
    if (r.ok) assert.notEqual(r.value.from, SIGNER);
    else assert.match(r.error.message, /signature/);
  });
});

describe('private transactions: admission', () => {
  const facts = (nonce = 0n, balance = 10n ** 18n) => ({ blockGasLimit: 30_000_000n, account: { nonce, balance } });

  it('a well-formed private transaction is admitted (gas free, no funds needed)', () => {
    const tx = ok(ours({ nonce: 2n }));
    assert.ok(admitTransaction(tx, facts(2n)).ok);
    assert.ok(admitTransaction(tx, { blockGasLimit: 30_000_000n, account: { nonce: 2n, balance: 0n } }).ok);
  });

  it('value > 0: passes decode, refused by admission', () => {
    const raw = withEthers({ value: 5n });
    const tx = ok(raw);
    assert.equal(tx.isPrivate, true);
    assert.equal(tx.value, 5n);
    assert.equal(tx.from, SIGNER);
    assert.equal(rejection(admitTransaction(tx, facts())), 'ether value is not supported for private transactions');
    // A public transaction with value is fine with the same facts.
    assert.ok(admitTransaction(ok(fromHex(signLegacyTx(common, KEY, { nonce: 0, to: TO, value: 5n }))), facts()).ok);
  });

  it('gas price > 0: passes decode, refused by admission', () => {
    const tx = ok(withEthers({ gasPrice: 1n }));
    assert.equal(tx.feeCap, 1n);
    assert.equal(rejection(admitTransaction(tx, facts())), 'gas price must be 0');
  });

  it('gas below the intrinsic gas of the 64-byte data is refused', () => {
    const tx = ok(ours({ gasLimit: 22_000n }));
    assert.equal(rejection(admitTransaction(tx, facts())), 'intrinsic gas too low: gas 22000, minimum needed 22024');
  });

  it('nonce rules apply as to a public transaction', () => {
    assert.match(rejection(admitTransaction(ok(ours({ nonce: 1n })), facts(2n))), /^nonce too low/);
  });
});
