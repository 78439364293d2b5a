/**
 * A private contract may read public state but never write it (GoQuorum's rule), on the execution engine with a
 * fake tm: a private Mirror reads a public SimpleStorage; a private transaction that tries to set the public
 * SimpleStorage fails on the parties and leaves the public state exactly as every participant has it.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { sha3_512 } from '@noble/hashes/sha3';
import { AbiCoder, Interface, getCreateAddress } from 'ethers';
import secp256k1 from 'secp256k1';
import { ExecutionEngine, type FetchPayloads } from '../../actors/ledger/executor/engine.js';
import { addressOf, devKey, devNetwork, signLegacyTx, uintWord } from '../support/dev-tx.js';
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import type { ReceivedPayload } from '../../actors/tm/messages.js';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { signPrivateTransaction } from '../../lib/ethereum/transaction.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { compileSimpleStorage, compileSolidity } from '../support/contracts.js';

const MIRROR_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
interface IStore { function get() external view returns (uint256); function set(uint256) external; }
contract Mirror {
  uint256 public seen;
  function pull(address s) external { seen = IStore(s).get(); }
  function push(address s, uint256 v) external { IStore(s).set(v); }
}`;

const network = devNetwork({ funded: 2, balance: 10n ** 21n });
const common = createLedgerCommon(network);
const k0 = devKey(0);
const a0 = addressOf(k0);
const ss = compileSimpleStorage();
const ssIface = new Interface(ss.abi as never);
const mirror = compileSolidity({ 'Mirror.sol': MIRROR_SOURCE }).Mirror;
const mirrorIface = new Interface(mirror.abi as never);
const A = Buffer.alloc(32, 0xa1).toString('base64');
const B = Buffer.alloc(32, 0xb2).toString('base64');

const held = new Map<string, ReceivedPayload>();
const party: FetchPayloads = async (hashes) => new Map(hashes.map((h) => [h, held.get(h) ?? { hash: h, found: false as const }]));
const outsider: FetchPayloads = async (hashes) => new Map(hashes.map((h) => [h, { hash: h, found: false as const }]));
function hold(label: string, payload: string): string {
  const hash = toHex(sha3_512(new TextEncoder().encode(label)));
  held.set(hash, { hash, found: true, payload, senderKey: A, recipientKeys: [A, B], privacyFlag: 0 });
  return hash;
}
function privateTx(nonce: number, to: string | null, hash: string): string {
  return toHex(signPrivateTransaction({ nonce: BigInt(nonce), gasLimit: 1_000_000n, to: to ? fromHex(to) : null, data: fromHex(hash) }, (h) => secp256k1.ecdsaSign(h, k0)));
}
const block = (height: number, transactions: string[]): CommittedBlock => ({ height, timestamp: height, proposer: 'p1', raftTerm: 1, raftIndex: height, transactions });

it('a private contract reads public state, and a private write to a public contract fails without touching it', async () => {
  const [p, o] = await Promise.all([party, outsider].map((payloads) => ExecutionEngine.create({ network, payloads, common })));
  const store = getCreateAddress({ from: a0, nonce: 0 }).toLowerCase();
  const mirrorAddress = getCreateAddress({ from: a0, nonce: 1 }).toLowerCase();
  const txs = [
    signLegacyTx(common, k0, { nonce: 0, data: ss.bytecode + uintWord(42), gasLimit: 1_000_000 }), // public SimpleStorage(42)
    privateTx(1, null, hold('mirror', mirror.bytecode)), // private Mirror
    privateTx(2, mirrorAddress, hold('pull', mirrorIface.encodeFunctionData('pull', [store]))), // reads the public 42
    privateTx(3, mirrorAddress, hold('push', mirrorIface.encodeFunctionData('push', [store, 7]))), // tries to write it
  ];
  const [bp, bo] = [await p.executeBlock(block(1, txs)), await o.executeBlock(block(1, txs))];
  assert.equal(bp.hash, bo.hash, 'the public block is the same on the party and the outsider');
  assert.equal(bp.stateRoot, bo.stateRoot);
  assert.deepEqual(bp.privateReceipts.map((r) => r.status), ['0x1', '0x1', '0x0'], 'deploy and pull succeed, push fails');

  const seen = await p.call({ to: mirrorAddress, data: mirrorIface.encodeFunctionData('seen') }, 'latest');
  assert.equal(BigInt(seen.returnData), 42n, 'the private contract read the public value');
  const pub = await p.call({ to: store, data: ssIface.encodeFunctionData('get') }, 'latest');
  assert.equal(BigInt(pub.returnData), 42n, 'the public contract was not written by the private transaction');
  assert.equal(AbiCoder.defaultAbiCoder().decode(['uint256'], (await o.call({ to: store, data: ssIface.encodeFunctionData('get') }, 'latest')).returnData)[0], 42n);
  // A private eth_call through the party's private contract also reads public state.
  const viaCall = await p.call({ from: a0, to: mirrorAddress, data: mirrorIface.encodeFunctionData('pull', [store]) }, 'latest');
  assert.equal(viaCall.reverted, false);
});
