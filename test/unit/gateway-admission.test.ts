import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hardfork } from '@ethereumjs/common';
import { createAccessList2930Tx, createLegacyTxFromRLP } from '@ethereumjs/tx';
import { keccak_256 } from '@noble/hashes/sha3';
import { RLP } from '@ethereumjs/rlp';
import { admitTransaction, decodeRawTransaction, MAX_NONCE_GAP, MAX_TX_SIZE, type DecodedTx } from '../../actors/gateway/tx-admission.js';
import { ErrorCode } from '../../lib/errors.js';
import { toHex } from '../../lib/hex.js';
import { ADDRESS, CHAIN_ID, KEY_BYTES, OTHER, common, commonFor, sign1559, signLegacy } from './gateway-fakes.js';

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const facts = (nonce = 0n, balance = 10n ** 18n, blockGasLimit = 30_000_000n) => ({ blockGasLimit, account: { nonce, balance } });

function decoded(raw: Uint8Array): DecodedTx {
  const r = decodeRawTransaction(raw, common);
  if (!r.ok) assert.fail(`expected a decodable tx, got: ${r.error.message}`);
  return r.value;
}

function rejection(r: { ok: true } | { ok: false; error: { code: string; message: string } }): string {
  if (r.ok) assert.fail('expected a rejection');
  assert.equal(r.error.code, ErrorCode.Rejected);
  return r.error.message;
}

/** Re-encodes a signed legacy tx with its signature fields replaced. */
function withSignature(raw: Uint8Array, change: (v: bigint, r: bigint, s: bigint) => [bigint, bigint, bigint]): Uint8Array {
  const tx = createLegacyTxFromRLP(raw, { common });
  const [v, r, s] = change(tx.v!, tx.r!, tx.s!);
  const big = (n: bigint) => (n === 0n ? new Uint8Array() : Uint8Array.from(Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex')));
  const fields = RLP.decode(raw) as Uint8Array[];
  return RLP.encode([...fields.slice(0, 6), big(v), big(r), big(s)]);
}

describe('gateway tx admission: decode', () => {
  it('accepts a valid EIP-155 legacy tx and recovers the sender and hash', () => {
    const raw = signLegacy({ nonce: 3n });
    const tx = decoded(raw);
    assert.equal(tx.from, ADDRESS);
    assert.equal(tx.hash, toHex(keccak_256(raw)));
    assert.equal(tx.raw, toHex(raw));
    assert.equal(tx.nonce, 3n);
    assert.equal(tx.type, 0);
    assert.equal(tx.isPrivate, false);
    assert.equal(tx.intrinsicGas, 21000n);
    assert.ok(admitTransaction(tx, facts(3n)).ok);
  });

  it('accepts a dynamic-fee tx with zero fees', () => {
    const tx = decoded(sign1559({ nonce: 0n }));
    assert.equal(tx.type, 2);
    assert.equal(tx.from, ADDRESS);
    assert.ok(admitTransaction(tx, facts()).ok);
  });

  it('decodes access-list txs and charges their intrinsic gas; leaves the shared Common untouched', () => {
    const raw = createAccessList2930Tx(
      { chainId: BigInt(CHAIN_ID), nonce: 1n, gasPrice: 0n, gasLimit: 30_000n, to: OTHER as `0x${string}`, accessList: [{ address: OTHER as `0x${string}`, storageKeys: [('0x' + '00'.repeat(32)) as `0x${string}`] }] },
      { common },
    )
      .sign(KEY_BYTES)
      .serialize();
    const tx = decoded(raw);
    assert.equal(tx.type, 1);
    assert.equal(tx.from, ADDRESS);
    assert.equal(tx.intrinsicGas, 21000n + 2400n + 1900n);
    assert.equal(Object.hasOwn(common, 'copy'), false);
    assert.equal(Object.hasOwn(common, 'updateParams'), false);
  });

  it('rejects a tx signed for another chain', () => {
    const r = decodeRawTransaction(signLegacy({}, commonFor(5)), common);
    assert.match(rejection(r), /^invalid chain id: got 5, expected 1337/);
  });

  it('reads v = 37/38 as private (as GoQuorum does, so chain id 1 is out): its data must be a payload hash', () => {
    const r = decodeRawTransaction(signLegacy({}, commonFor(1)), common);
    assert.match(rejection(r), /^invalid private transaction: its data must be the 64-byte hash/);
  });

  it('rejects legacy txs without a chain id (pre-EIP-155)', () => {
    const raw = signLegacy({}, commonFor(CHAIN_ID, Hardfork.Homestead));
    assert.match(rejection(decodeRawTransaction(raw, common)), /^only replay-protected \(EIP-155\) transactions allowed/);
  });

  it('rejects a high-s (malleable) signature', () => {
    const raw = withSignature(signLegacy(), (v, r, s) => [v % 2n === 0n ? v - 1n : v + 1n, r, SECP256K1_N - s]);
    assert.match(rejection(decodeRawTransaction(raw, common)), /invalid signature/i);
  });

  it('rejects a zero s', () => {
    const raw = withSignature(signLegacy(), (v, r) => [v, r, 0n]);
    assert.match(rejection(decodeRawTransaction(raw, common)), /invalid signature/i);
  });

  it('a tampered s either fails recovery or recovers someone else (never the signer)', () => {
    const raw = withSignature(signLegacy(), (v, r, s) => [v, r, s + 1n]);
    const r = decodeRawTransaction(raw, common);
    if (r.ok) assert.notEqual(r.value.from, ADDRESS);
    else assert.match(r.error.message, /invalid signature/i);
  });

  it('rejects an oversized tx before decoding it', () => {
    const raw = signLegacy({ data: '0x' + 'ab'.repeat(MAX_TX_SIZE), gasLimit: 10_000_000n });
    assert.ok(raw.length > MAX_TX_SIZE);
    assert.match(rejection(decodeRawTransaction(raw, common)), /^transaction too large: \d+ bytes, max 131072/);
  });

  it('rejects unsupported and malformed envelopes', () => {
    assert.match(rejection(decodeRawTransaction(Uint8Array.from([3, 0xc0]), common)), /^transaction type not supported: 3/);
    assert.match(rejection(decodeRawTransaction(Uint8Array.from([4, 0xc0]), common)), /^transaction type not supported: 4/);
    assert.match(rejection(decodeRawTransaction(new Uint8Array(), common)), /^invalid transaction/);
    assert.match(rejection(decodeRawTransaction(Uint8Array.from([0xc8, 1, 2]), common)), /^invalid transaction/);
    assert.match(rejection(decodeRawTransaction(Uint8Array.from([0x85, 1, 2, 3, 4, 5]), common)), /^invalid transaction/);
  });

  it('rejects a truncated tx', () => {
    const raw = signLegacy();
    assert.match(rejection(decodeRawTransaction(raw.subarray(0, raw.length - 5), common)), /^invalid transaction/);
  });
});

describe('gateway tx admission: rules at head', () => {
  it('gas price must be 0 (legacy gasPrice, 1559 fee caps)', () => {
    assert.equal(rejection(admitTransaction(decoded(signLegacy({ gasPrice: 1n })), facts())), 'gas price must be 0');
    assert.equal(rejection(admitTransaction(decoded(sign1559({ maxFeePerGas: 1n })), facts())), 'gas price must be 0');
    assert.equal(rejection(admitTransaction(decoded(sign1559({ maxFeePerGas: 1n, maxPriorityFeePerGas: 1n })), facts())), 'gas price must be 0');
  });

  it('nonce too low / too high', () => {
    assert.match(rejection(admitTransaction(decoded(signLegacy({ nonce: 3n })), facts(5n))), /^nonce too low: .* tx: 3 state: 5/);
    assert.ok(admitTransaction(decoded(signLegacy({ nonce: 5n + MAX_NONCE_GAP })), facts(5n)).ok);
    assert.match(rejection(admitTransaction(decoded(signLegacy({ nonce: 6n + MAX_NONCE_GAP })), facts(5n))), /^nonce too high/);
  });

  it('a missing account has nonce 0 and no funds', () => {
    assert.ok(admitTransaction(decoded(signLegacy()), { blockGasLimit: 30_000_000n, account: null }).ok);
    const r = admitTransaction(decoded(signLegacy({ value: 1n })), { blockGasLimit: 30_000_000n, account: null });
    assert.match(rejection(r), /^insufficient funds/);
  });

  it('value must be covered by the balance', () => {
    assert.ok(admitTransaction(decoded(signLegacy({ value: 100n })), facts(0n, 100n)).ok);
    assert.match(rejection(admitTransaction(decoded(signLegacy({ value: 101n })), facts(0n, 100n))), /^insufficient funds for transfer/);
  });

  it('gas limit between intrinsic gas and the block gas limit', () => {
    assert.match(rejection(admitTransaction(decoded(signLegacy({ gasLimit: 20999n })), facts())), /^intrinsic gas too low: gas 20999, minimum needed 21000/);
    const withData = decoded(signLegacy({ gasLimit: 21000n, data: '0x0102' }));
    assert.equal(withData.intrinsicGas, 21000n + 32n);
    assert.match(rejection(admitTransaction(withData, facts())), /^intrinsic gas too low/);
    assert.match(rejection(admitTransaction(decoded(signLegacy({ gasLimit: 30_000_001n })), facts())), /^exceeds block gas limit/);
  });

  it('contract creation pays creation intrinsic gas', () => {
    // 21000 + 32000 creation + 16 (0x60) + 4 (0x00) + 2 (one initcode word, EIP-3860)
    const tx = decoded(signLegacy({ to: null, gasLimit: 53_022n, data: '0x6000' }));
    assert.equal(tx.intrinsicGas, 53_022n);
    assert.ok(admitTransaction(tx, facts()).ok);
    assert.match(rejection(admitTransaction(decoded(signLegacy({ to: null, gasLimit: 53_021n, data: '0x6000' })), facts())), /^intrinsic gas too low/);
  });
});
