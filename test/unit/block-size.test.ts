/**
 * The block size the executor reports, computed from the parts' lengths (receipts.ts blockSize), against the
 * block package's definition: the length of RLP([header, transactions, uncles, withdrawals]) encoded whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { createFeeMarket1559Tx, type TypedTransaction } from '@ethereumjs/tx';
import { hexToBytes } from '@ethereumjs/util';
import { blockSize } from '../../actors/ledger/executor/receipts.js';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { decodeRawTransaction } from '../../lib/ethereum/transaction.js';
import { devKey, devNetwork, signLegacyTx } from '../support/dev-tx.js';

const common = createLedgerCommon(devNetwork());

function decoded(raw: string | Uint8Array): TypedTransaction {
  const d = decodeRawTransaction(typeof raw === 'string' ? hexToBytes(raw as `0x${string}`) : raw, common);
  if (!d.ok) throw new Error(d.error.message);
  return d.value.tx;
}

const legacy = (i: number, dataBytes: number) =>
  decoded(signLegacyTx(common, devKey(i % 4), { nonce: i, to: '0x' + '11'.repeat(20), value: BigInt(i), data: '0x' + 'ab'.repeat(dataBytes), gasLimit: 1_000_000 }));
const eip1559 = (i: number, dataBytes: number) =>
  decoded(
    createFeeMarket1559Tx({ chainId: common.chainId(), nonce: i, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n, gasLimit: 1_000_000, to: ('0x' + '22'.repeat(20)) as `0x${string}`, data: new Uint8Array(dataBytes).fill(7) }, { common })
      .sign(devKey(5))
      .serialize(),
  );

/** The block package's definition, encoded whole. */
function reference(headerRaw: Uint8Array[], txs: TypedTransaction[], withWithdrawals: boolean): number {
  const body: unknown[] = [headerRaw, txs.map((tx) => (tx.type === 0 ? (tx.raw() as Uint8Array[]) : tx.serialize())), []];
  if (withWithdrawals) body.push([]);
  return RLP.encode(body as Parameters<typeof RLP.encode>[0]).length;
}

test('block size from the parts equals the whole block encoded: empty, small, large, legacy and typed', () => {
  const header = Array.from({ length: 20 }, (_, i) => new Uint8Array(i % 3 === 0 ? 32 : i % 3 === 1 ? 8 : 0).fill(i));
  const cases: [string, TypedTransaction[]][] = [
    ['no transactions', []],
    ['one small legacy', [legacy(0, 0)]],
    ['legacy with 2 KB of data', [legacy(1, 2048)]],
    ['one EIP-1559', [eip1559(0, 4)]],
    ['EIP-1559 with 300 bytes of data', [eip1559(1, 300)]],
    ['200 mixed', Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? eip1559(i, i) : legacy(i, i % 70)))],
  ];
  for (const [what, txs] of cases) {
    for (const withdrawals of [true, false]) {
      assert.equal(blockSize(header, txs, withdrawals), reference(header, txs, withdrawals), `${what}, withdrawals ${withdrawals}`);
    }
  }
});

test('a decoded transaction serializes to exactly the bytes received', () => {
  const raw = signLegacyTx(common, devKey(1), { nonce: 3, to: '0x' + '33'.repeat(20), value: 5n });
  assert.equal('0x' + Buffer.from(decoded(raw).serialize()).toString('hex'), raw);
});
