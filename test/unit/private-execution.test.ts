/**
 * The execution engine with private state (actors/ledger/executor/engine.ts): the same committed blocks run on
 * two parties of a private contract and on a non-party, each with a fake tm (FetchPayloads over a Map). Every
 * engine computes the same public block; only the parties hold the contract, with equal private state roots.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha3_512 } from '@noble/hashes/sha3';
import { Interface, getCreateAddress, id as ethersId } from 'ethers';
import secp256k1 from 'secp256k1';
import { ExecutionEngine, ExecutionEnvironmentError, type ExecutedBlock, type FetchPayloads } from '../../actors/ledger/executor/engine.js';
import { addressOf, devKey, devNetwork, signLegacyTx, uintWord } from '../support/dev-tx.js';
import { readAccount } from '../../actors/ledger/state/trie-reader.js';
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import type { ReceivedPayload } from '../../actors/tm/messages.js';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { signPrivateTransaction } from '../../lib/ethereum/transaction.js';
import type { PrivacyFlag } from '../../lib/ethereum/privacy-rules.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { compileSimpleStorage } from '../support/contracts.js';

const EMPTY_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';
const network = devNetwork({ funded: 2, balance: 10n ** 21n });
const common = createLedgerCommon(network);
const k0 = devKey(0);
const k1 = devKey(1);
const a0 = addressOf(k0);
const ss = compileSimpleStorage();
const ssIface = new Interface(ss.abi as never);
const GET = ssIface.encodeFunctionData('get');
const CHANGED = ethersId('Changed(uint256)');

// Privacy keys of three participants (base64 32-byte public keys).
const A = Buffer.alloc(32, 0xa1).toString('base64');
const B = Buffer.alloc(32, 0xb2).toString('base64');
const C = Buffer.alloc(32, 0xc3).toString('base64');

let raftIndex = 0;
function committed(height: number, transactions: string[]): CommittedBlock {
  return { height, timestamp: network.genesis.timestamp + height, proposer: 'p1', raftTerm: 1, raftIndex: ++raftIndex, transactions };
}

/** A distinct 64-byte payload hash per label, lowercase 0x-hex (as the executor asks for it). */
const payloadHash = (label: string) => toHex(sha3_512(new TextEncoder().encode(label)));

/** A private transaction as a node signs it: data = the payload hash. */
function privateTx(key: Uint8Array, f: { nonce: number; to: string | null; hash: string; gasLimit?: bigint }): string {
  return toHex(
    signPrivateTransaction({ nonce: BigInt(f.nonce), gasLimit: f.gasLimit ?? 1_000_000n, to: f.to ? fromHex(f.to) : null, data: fromHex(f.hash) }, (h) =>
      secp256k1.ecdsaSign(h, key),
    ),
  );
}

/** The fake tm's store: payload hash → what the party decrypts. */
class FakeTm {
  readonly held = new Map<string, ReceivedPayload>();
  asked: string[][] = [];
  hold(hash: string, payload: string, senderKey: string, recipientKeys: string[], privacyFlag: PrivacyFlag = 0): string {
    this.held.set(hash, { hash, found: true, payload, senderKey, recipientKeys, privacyFlag });
    return hash;
  }
  /** A party's FetchPayloads: every hash it holds is found. */
  party(): FetchPayloads {
    return async (hashes) => {
      this.asked.push(hashes);
      return new Map(hashes.map((h) => [h, this.held.get(h) ?? { hash: h, found: false as const }]));
    };
  }
}
/** A non-party's FetchPayloads: its tm answers, but holds none of them. */
const nonParty: FetchPayloads = async (hashes) => new Map(hashes.map((h) => [h, { hash: h, found: false as const }]));

const engine = (payloads: FetchPayloads) => ExecutionEngine.create({ network, payloads, common });

async function runAll(engines: ExecutionEngine[], block: CommittedBlock): Promise<ExecutedBlock[]> {
  const out: ExecutedBlock[] = [];
  for (const e of engines) out.push(await e.executeBlock(block));
  return out;
}

async function get(e: ExecutionEngine, address: string): Promise<string> {
  const r = await e.call({ to: address, data: GET }, 'latest');
  assert.equal(r.reverted, false);
  return r.returnData;
}

function nodeMap(blocks: (ExecutedBlock | null)[], which: 'nodes' | 'privateNodes' = 'nodes'): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const b of blocks) for (const [k, v] of b![which]) m.set(toHex(k), v);
  return m;
}

/** Everything every participant must agree on: the public block. */
function publicView(b: ExecutedBlock) {
  return { hash: b.hash, stateRoot: b.stateRoot, block: b.block, transactions: b.transactions, receipts: b.receipts, logs: b.logs, dropped: b.dropped };
}

describe('private execution: two parties and a non-party', () => {
  it('deploy SimpleStorage(42) privately to {A,B}, then set(10): same public chain, private state on the parties only', async () => {
    const tm = new FakeTm();
    const [partyA, partyB, outsider] = await Promise.all([engine(tm.party()), engine(tm.party()), engine(nonParty)]);
    assert.equal(partyA.genesis()!.hash, outsider.genesis()!.hash);
    const all = [partyA, partyB, outsider];

    // Block 1: the private deployment (plus a public transfer beside it).
    const hDeploy = tm.hold(payloadHash('deploy'), ss.bytecode + uintWord(42), A, [A, B]);
    const deploy = privateTx(k0, { nonce: 0, to: null, hash: hDeploy });
    const transfer = signLegacyTx(common, k1, { nonce: 0, to: a0, value: 7n });
    const b1 = await runAll(all, committed(1, [deploy, transfer]));
    const address = getCreateAddress({ from: a0, nonce: 0 }).toLowerCase();

    for (const b of b1) {
      assert.deepEqual(b.dropped, []);
      assert.deepEqual(publicView(b), publicView(b1[0]), 'the public block is the same on every participant');
    }
    const [pub] = b1[0].receipts;
    assert.equal(pub.status, '0x1');
    assert.equal(pub.contractAddress, address, 'the public receipt names the address the nonce gives');
    assert.equal(BigInt(pub.gasUsed), 21_000n + 32_000n + 16n * 64n + 4n, 'the public part costs only intrinsic gas');
    assert.deepEqual(pub.logs, []);
    const onChain = b1[0].transactions[0];
    assert.equal(onChain.input, hDeploy, 'on chain: only the payload hash');
    assert.ok(onChain.v === '0x25' || onChain.v === '0x26', `v = ${onChain.v}`);
    assert.equal(onChain.from, a0);

    assert.equal(b1[0].privateStateRoot, b1[1].privateStateRoot, 'parties agree on the private state');
    assert.notEqual(b1[0].privateStateRoot, EMPTY_ROOT);
    assert.equal(b1[2].privateStateRoot, EMPTY_ROOT, 'the non-party has no private state');
    for (const b of b1.slice(0, 2)) {
      assert.equal(b.privateReceipts.length, 1);
      const r = b.privateReceipts[0];
      assert.equal(r.status, '0x1');
      assert.equal(r.contractAddress, address);
      assert.equal(r.transactionHash, onChain.hash);
      assert.equal(r.from, a0);
      assert.ok(b.privateNodes.length > 0);
      assert.deepEqual(b.privateContracts, [{ address, creationTxHash: onChain.hash, privacyFlag: 0, parties: [A, B].sort() }]);
    }
    assert.deepEqual(b1[2].privateReceipts, []);
    assert.deepEqual(b1[2].privateContracts, []);
    assert.equal(BigInt(await get(partyA, address)), 42n);
    assert.equal(BigInt(await get(partyB, address)), 42n);
    assert.equal(await get(outsider, address), '0x');

    // Block 2: set(10), privately to the same parties.
    const hSet = tm.hold(payloadHash('set10'), ssIface.encodeFunctionData('set', [10]), B, [A, B]);
    const set = privateTx(k0, { nonce: 1, to: address, hash: hSet, gasLimit: 200_000n });
    const b2 = await runAll(all, committed(2, [set]));
    for (const b of b2) assert.deepEqual(publicView(b), publicView(b2[0]));
    assert.equal(b2[0].receipts[0].status, '0x1');
    assert.deepEqual(b2[0].logs, [], 'no public log of a private transaction');
    assert.equal(b2[0].block.logsBloom, '0x' + '00'.repeat(256));

    assert.equal(b2[0].privateStateRoot, b2[1].privateStateRoot);
    assert.notEqual(b2[0].privateStateRoot, b1[0].privateStateRoot, 'set(10) changed the private state');
    assert.equal(b2[2].privateStateRoot, EMPTY_ROOT);
    for (const b of b2.slice(0, 2)) {
      assert.equal(b.privateReceipts.length, 1);
      const r = b.privateReceipts[0];
      assert.equal(r.status, '0x1');
      assert.equal(r.contractAddress, null);
      assert.equal(r.logs.length, 1);
      assert.equal(r.logs[0].address, address);
      assert.deepEqual(r.logs[0].topics, [CHANGED]);
      assert.equal(BigInt(r.logs[0].data), 10n);
      assert.equal(r.logs[0].transactionHash, b2[0].transactions[0].hash);
      assert.deepEqual(b.privateLogs, r.logs);
      assert.deepEqual(b.privateContracts, [], 'no contract created in block 2');
    }
    assert.deepEqual(b2[2].privateReceipts, []);
    assert.deepEqual(b2[2].privateLogs, []);

    // The sender's public nonce advanced on every participant; the transfer landed everywhere.
    for (const [e, blocks] of [[partyA, [b1[0], b2[0]]], [partyB, [b1[1], b2[1]]], [outsider, [b1[2], b2[2]]]] as const) {
      const nodes = nodeMap([e.genesis(), ...blocks]);
      assert.equal((await readAccount(nodes, blocks[1].stateRoot, a0))?.nonce, 2n);
      assert.equal((await readAccount(nodes, blocks[1].stateRoot, a0))?.balance, 10n ** 21n + 7n);
      assert.equal(await readAccount(nodes, blocks[1].stateRoot, address), null, 'the contract is not in the public state');
    }

    // Calls: parties read 10 from their private state; the non-party sees no contract.
    assert.equal(BigInt(await get(partyA, address)), 10n);
    assert.equal(BigInt(await get(partyB, address)), 10n);
    assert.equal(await get(outsider, address), '0x');
    // At block 1 the parties still read 42.
    const at1 = { stateRoot: b1[0].stateRoot, privateStateRoot: b1[0].privateStateRoot, number: 1n, timestamp: b1[0].timestamp };
    assert.equal(BigInt((await partyA.call({ to: address, data: GET }, at1)).returnData), 42n);

    // Metadata.
    const meta = { address, creationTxHash: onChain.hash, privacyFlag: 0, parties: [A, B].sort() };
    assert.deepEqual(partyA.privateContract(address), meta);
    assert.deepEqual(partyB.privateContract(address.toUpperCase().replace('0X', '0x')), meta);
    assert.equal(outsider.privateContract(address), undefined);

    // Heads agree on the public part, differ only in the private root.
    const { privateStateRoot: pa, ...headA } = partyA.head();
    const { privateStateRoot: po, ...headO } = outsider.head();
    assert.deepEqual(headA, headO);
    assert.equal(pa, partyB.head().privateStateRoot);
    assert.equal(po, EMPTY_ROOT);

    // Each block asked the tm once for its private hashes.
    assert.deepEqual(tm.asked, [[hDeploy], [hDeploy], [hSet], [hSet]]);
  });

  it('a party restarted from its persisted public and private nodes reads the same private state and keeps executing alike', async () => {
    const tm = new FakeTm();
    const original = await engine(tm.party());
    const hDeploy = tm.hold(payloadHash('r-deploy'), ss.bytecode + uintWord(5), A, [A, B]);
    const b1 = await original.executeBlock(committed(1, [privateTx(k0, { nonce: 0, to: null, hash: hDeploy })]));
    const address = b1.privateContracts[0].address;

    const pub = nodeMap([original.genesis(), b1]);
    const priv = nodeMap([b1], 'privateNodes');
    const fetchFrom = (m: Map<string, Uint8Array>) => async (keys: Uint8Array[]) => keys.map((k) => m.get(toHex(k)) ?? null);
    const restarted = await ExecutionEngine.create({
      network,
      common,
      payloads: tm.party(),
      head: { number: b1.number, hash: b1.hash, stateRoot: b1.stateRoot, privateStateRoot: b1.privateStateRoot, timestamp: b1.timestamp },
      fetchNodes: fetchFrom(pub),
      fetchPrivateNodes: fetchFrom(priv),
      privateContracts: b1.privateContracts.map((c) => ({ ...c, block: 1n })),
    });
    assert.equal(BigInt(await get(restarted, address)), 5n);
    assert.deepEqual(restarted.privateContract(address), original.privateContract(address));

    const hSet = tm.hold(payloadHash('r-set'), ssIface.encodeFunctionData('set', [6]), A, [A, B]);
    const block2 = committed(2, [privateTx(k0, { nonce: 1, to: address, hash: hSet })]);
    const [x, y] = [await original.executeBlock(block2), await restarted.executeBlock(block2)];
    assert.equal(x.hash, y.hash);
    assert.equal(x.privateStateRoot, y.privateStateRoot);
    assert.equal(BigInt(await get(restarted, address)), 6n);
  });

  it('a private transaction with value is dropped on every participant alike', async () => {
    const tm = new FakeTm();
    const [party, outsider] = await Promise.all([engine(tm.party()), engine(nonParty)]);
    const h = tm.hold(payloadHash('valued'), ss.bytecode + uintWord(1), A, [A, B]);
    // signPrivateTransaction forces value 0: build one by hand (homestead hash, v + 10).
    const { RLP } = await import('@ethereumjs/rlp');
    const { keccak_256 } = await import('@noble/hashes/sha3');
    const body = [new Uint8Array(0), new Uint8Array(0), Uint8Array.of(0x0f, 0x42, 0x40), new Uint8Array(0), Uint8Array.of(5), fromHex(h)];
    const { signature, recid } = secp256k1.ecdsaSign(keccak_256(RLP.encode(body)), k0);
    const strip = (b: Uint8Array) => b.subarray(b.findIndex((x) => x !== 0));
    const raw = toHex(RLP.encode([...body, Uint8Array.of(37 + recid), strip(signature.subarray(0, 32)), strip(signature.subarray(32))]));
    const [bp, bo] = await runAll([party, outsider], committed(1, [raw]));
    for (const b of [bp, bo]) {
      assert.equal(b.transactions.length, 0);
      assert.deepEqual(b.dropped.map((d) => d.reason), ['ether value is not supported for private transactions']);
      assert.deepEqual(b.privateReceipts, []);
      assert.equal(b.privateStateRoot, EMPTY_ROOT);
    }
    assert.equal(bp.hash, bo.hash);
  });
});

describe('private execution: party protection and private state validation', () => {
  it('flag 3 contract of {A,B,C}: a set naming only {A,B} changes nothing private (status 0x0); naming {C,B,A} applies', async () => {
    const tm = new FakeTm();
    const [partyA, partyB, outsider] = await Promise.all([engine(tm.party()), engine(tm.party()), engine(nonParty)]);
    const all = [partyA, partyB, outsider];
    const hDeploy = tm.hold(payloadHash('psv-deploy'), ss.bytecode + uintWord(42), A, [A, B, C], 3);
    const b1 = await runAll(all, committed(1, [privateTx(k0, { nonce: 0, to: null, hash: hDeploy })]));
    const address = b1[0].privateContracts[0]?.address;
    assert.ok(address);
    assert.deepEqual(partyA.privateContract(address), { address, creationTxHash: b1[0].transactions[0].hash, privacyFlag: 3, parties: [A, B, C].sort() });

    // PSV violation: the transaction's participants differ from the contract's.
    const hBad = tm.hold(payloadHash('psv-subset'), ssIface.encodeFunctionData('set', [10]), A, [A, B], 3);
    const b2 = await runAll(all, committed(2, [privateTx(k0, { nonce: 1, to: address, hash: hBad })]));
    assert.equal(b2[0].hash, b2[2].hash);
    assert.equal(b2[0].receipts[0].status, '0x1', 'the public part (nonce) still happens');
    for (const [i, b] of b2.slice(0, 2).entries()) {
      assert.equal(b.privateStateRoot, b1[i].privateStateRoot, 'no private state change');
      assert.equal(b.privateReceipts.length, 1);
      assert.equal(b.privateReceipts[0].status, '0x0');
      assert.deepEqual(b.privateReceipts[0].logs, []);
      assert.deepEqual(b.privateLogs, []);
    }
    assert.equal(BigInt(await get(partyA, address)), 42n);

    // Flag mismatch: the exact parties but flag 0.
    const hFlag0 = tm.hold(payloadHash('psv-flag0'), ssIface.encodeFunctionData('set', [11]), A, [A, B, C], 0);
    const b3 = await runAll(all, committed(3, [privateTx(k0, { nonce: 2, to: address, hash: hFlag0 })]));
    for (const [i, b] of b3.slice(0, 2).entries()) {
      assert.equal(b.privateStateRoot, b1[i].privateStateRoot);
      assert.equal(b.privateReceipts[0].status, '0x0');
    }

    // The exact parties, other order and a duplicate, flag 3: applied on both parties alike.
    const hGood = tm.hold(payloadHash('psv-good'), ssIface.encodeFunctionData('set', [12]), B, [C, B, A, A], 3);
    const b4 = await runAll(all, committed(4, [privateTx(k0, { nonce: 3, to: address, hash: hGood })]));
    assert.equal(b4[0].privateReceipts[0].status, '0x1');
    assert.equal(BigInt(b4[0].privateReceipts[0].logs[0].data), 12n);
    assert.equal(b4[0].privateStateRoot, b4[1].privateStateRoot);
    assert.notEqual(b4[0].privateStateRoot, b1[0].privateStateRoot);
    assert.equal(b4[2].privateStateRoot, EMPTY_ROOT);
    assert.equal(BigInt(await get(partyB, address)), 12n);
    for (const b of b4) assert.equal(b.hash, b4[0].hash);
  });

  it('flag 1 contract of {A,B}: a non-party sender key is a no-op, a party sender applies', async () => {
    const tm = new FakeTm();
    const [partyA, partyB] = await Promise.all([engine(tm.party()), engine(tm.party())]);
    const hDeploy = tm.hold(payloadHash('pp-deploy'), ss.bytecode + uintWord(1), A, [A, B], 1);
    const b1 = await runAll([partyA, partyB], committed(1, [privateTx(k0, { nonce: 0, to: null, hash: hDeploy })]));
    const address = b1[0].privateContracts[0].address;
    assert.equal(b1[0].privateContracts[0].privacyFlag, 1);

    const hOutsider = tm.hold(payloadHash('pp-c'), ssIface.encodeFunctionData('set', [2]), C, [C, A, B], 1);
    const b2 = await runAll([partyA, partyB], committed(2, [privateTx(k1, { nonce: 0, to: address, hash: hOutsider })]));
    for (const [i, b] of b2.entries()) {
      assert.equal(b.privateReceipts[0].status, '0x0');
      assert.equal(b.privateStateRoot, b1[i].privateStateRoot);
    }
    const hParty = tm.hold(payloadHash('pp-b'), ssIface.encodeFunctionData('set', [3]), B, [B, A], 1);
    const b3 = await runAll([partyA, partyB], committed(3, [privateTx(k1, { nonce: 1, to: address, hash: hParty })]));
    for (const b of b3) assert.equal(b.privateReceipts[0].status, '0x1');
    assert.equal(b3[0].privateStateRoot, b3[1].privateStateRoot);
    assert.equal(BigInt(await get(partyA, address)), 3n);
  });

  it('flag 1 or 3 sent to an address with no private contract is a no-op; flag 0 runs (nothing there)', async () => {
    const tm = new FakeTm();
    const party = await engine(tm.party());
    const nowhere = '0x' + '99'.repeat(20);
    const h1 = tm.hold(payloadHash('nowhere-1'), '0x', A, [A, B], 1);
    const h3 = tm.hold(payloadHash('nowhere-3'), '0x', A, [A, B], 3);
    const h0 = tm.hold(payloadHash('nowhere-0'), '0x', A, [A, B], 0);
    const b = await party.executeBlock(
      committed(1, [
        privateTx(k0, { nonce: 0, to: nowhere, hash: h1 }),
        privateTx(k0, { nonce: 1, to: nowhere, hash: h3 }),
        privateTx(k0, { nonce: 2, to: nowhere, hash: h0 }),
      ]),
    );
    assert.deepEqual(b.privateReceipts.map((r) => r.status), ['0x0', '0x0', '0x1']);
    assert.deepEqual(b.receipts.map((r) => r.status), ['0x1', '0x1', '0x1']);
  });
});

describe('private execution: the tm is unavailable', () => {
  it('executeBlock rejects with ExecutionEnvironmentError, the head is unchanged, and a retry with a working tm succeeds', async () => {
    const tm = new FakeTm();
    let up = true;
    let calls = 0;
    const party = tm.party();
    const switching: FetchPayloads = async (hashes) => {
      calls++;
      if (!up) throw new Error('no responder on net.p1.tm.receive');
      return party(hashes);
    };
    const [flaky, reference] = await Promise.all([engine(switching), engine(tm.party())]);

    // A block without private transactions never asks the tm.
    up = false;
    const b1 = committed(1, [signLegacyTx(common, k1, { nonce: 0, to: a0, value: 1n })]);
    const [f1, r1] = [await flaky.executeBlock(b1), await reference.executeBlock(b1)];
    assert.equal(calls, 0);
    assert.equal(f1.hash, r1.hash);

    const hDeploy = tm.hold(payloadHash('flaky-deploy'), ss.bytecode + uintWord(42), A, [A, B]);
    const b2 = committed(2, [privateTx(k0, { nonce: 0, to: null, hash: hDeploy })]);
    const before = flaky.head();
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(flaky.executeBlock(b2), (err: unknown) => {
        assert.ok(err instanceof ExecutionEnvironmentError, `got ${String(err)}`);
        assert.match(err.message, /^block 2 waits for private payloads: no responder on net\.p1\.tm\.receive/);
        return true;
      });
      assert.deepEqual(flaky.head(), before, 'nothing changed');
    }
    assert.equal(calls, 2);

    up = true;
    const f2 = await flaky.executeBlock(b2);
    const r2 = await reference.executeBlock(b2);
    assert.equal(f2.hash, r2.hash);
    assert.equal(f2.stateRoot, r2.stateRoot);
    assert.equal(f2.privateStateRoot, r2.privateStateRoot);
    assert.notEqual(f2.privateStateRoot, EMPTY_ROOT);
    assert.deepEqual(f2.privateReceipts, r2.privateReceipts);
    assert.deepEqual(flaky.head(), reference.head());
    const address = f2.privateContracts[0].address;
    assert.equal(BigInt(await get(flaky, address)), 42n);
    assert.deepEqual(flaky.privateContract(address), reference.privateContract(address));
  });
});

describe('private execution: within one block, rollback, queries', () => {
  it('a private contract created earlier in the same block is known to the next transaction (rules included); the tm is asked once per hash', async () => {
    const tm = new FakeTm();
    const [partyA, partyB] = await Promise.all([engine(tm.party()), engine(tm.party())]);
    const address = getCreateAddress({ from: a0, nonce: 0 }).toLowerCase();
    const hDeploy = tm.hold(payloadHash('same-deploy'), ss.bytecode + uintWord(1), A, [A, B], 3);
    const hSubset = tm.hold(payloadHash('same-subset'), ssIface.encodeFunctionData('set', [2]), A, [A], 3);
    const hGood = tm.hold(payloadHash('same-good'), ssIface.encodeFunctionData('set', [3]), A, [B, A], 3);
    const block = committed(1, [
      privateTx(k0, { nonce: 0, to: null, hash: hDeploy }),
      privateTx(k0, { nonce: 1, to: address, hash: hSubset }),
      privateTx(k0, { nonce: 2, to: address, hash: hGood }),
      // The same payload hash twice (another nonce): applied twice, asked for once.
      privateTx(k0, { nonce: 3, to: address, hash: hGood }),
    ]);
    const [x, y] = await runAll([partyA, partyB], block);
    assert.deepEqual(x.privateReceipts.map((r) => r.status), ['0x1', '0x0', '0x1', '0x1']);
    assert.equal(x.privateStateRoot, y.privateStateRoot);
    assert.deepEqual(x.privateContracts.map((c) => c.address), [address]);
    assert.equal(BigInt(await get(partyA, address)), 3n);
    assert.deepEqual(tm.asked[0], [hDeploy, hSubset, hGood]);
  });

  it('private logs are numbered after the public logs of the block', async () => {
    const tm = new FakeTm();
    const party = await engine(tm.party());
    // Block 1: a public SimpleStorage (k1) and a private one (k0).
    const publicDeploy = signLegacyTx(common, k1, { nonce: 0, data: ss.bytecode + uintWord(1), gasLimit: 1_000_000 });
    const hDeploy = tm.hold(payloadHash('logs-deploy'), ss.bytecode + uintWord(1), A, [A, B]);
    const b1 = await party.executeBlock(committed(1, [publicDeploy, privateTx(k0, { nonce: 0, to: null, hash: hDeploy })]));
    const publicAddress = b1.receipts[0].contractAddress!;
    const privateAddress = b1.privateContracts[0].address;
    assert.notEqual(publicAddress, privateAddress);
    // Block 2: private set first, then two public sets.
    const hSet = tm.hold(payloadHash('logs-set'), ssIface.encodeFunctionData('set', [9]), A, [A, B]);
    const b2 = await party.executeBlock(
      committed(2, [
        privateTx(k0, { nonce: 1, to: privateAddress, hash: hSet }),
        signLegacyTx(common, k1, { nonce: 1, to: publicAddress, data: ssIface.encodeFunctionData('set', [7]), gasLimit: 100_000 }),
        signLegacyTx(common, k1, { nonce: 2, to: publicAddress, data: ssIface.encodeFunctionData('set', [8]), gasLimit: 100_000 }),
      ]),
    );
    assert.deepEqual(b2.logs.map((l) => [l.logIndex, l.transactionIndex, BigInt(l.data)]), [['0x0', '0x1', 7n], ['0x1', '0x2', 8n]]);
    assert.deepEqual(b2.privateLogs.map((l) => [l.logIndex, l.transactionIndex, l.address, BigInt(l.data)]), [['0x2', '0x0', privateAddress, 9n]]);
    // Public and private calls each read their own contract.
    assert.equal(BigInt(await get(party, publicAddress)), 8n);
    assert.equal(BigInt(await get(party, privateAddress)), 9n);
  });

  it('resetTo an earlier head forgets the private contracts of later blocks and their private state', async () => {
    const tm = new FakeTm();
    const party = await engine(tm.party());
    const g = party.genesis()!;
    const hDeploy = tm.hold(payloadHash('reset-deploy'), ss.bytecode + uintWord(4), A, [A, B]);
    const block1 = committed(1, [privateTx(k0, { nonce: 0, to: null, hash: hDeploy })]);
    const b1 = await party.executeBlock(block1);
    const address = b1.privateContracts[0].address;
    assert.ok(party.privateContract(address));
    await party.resetTo({ number: 0n, hash: g.hash, stateRoot: g.stateRoot, timestamp: g.timestamp });
    assert.equal(party.privateContract(address), undefined);
    assert.equal(party.head().privateStateRoot, EMPTY_ROOT);
    assert.equal(await get(party, address), '0x');
    // Executing block 1 again gives the same block and private state.
    const again = await party.executeBlock(block1);
    assert.equal(again.hash, b1.hash);
    assert.equal(again.privateStateRoot, b1.privateStateRoot);
    assert.deepEqual(party.privateContract(address), b1.privateContracts[0]);
  });

  it('estimateGas forced private estimates a private creation; call reads private code only where it exists', async () => {
    const tm = new FakeTm();
    const party = await engine(tm.party());
    const gas = await party.estimateGas({ from: a0, data: ss.bytecode + uintWord(42) }, 'latest', { private: true });
    assert.ok(gas > 53_000n && gas < 1_000_000n, `estimate ${gas}`);
    const hDeploy = tm.hold(payloadHash('est-deploy'), ss.bytecode + uintWord(42), A, [A, B]);
    const b1 = await party.executeBlock(committed(1, [privateTx(k0, { nonce: 0, to: null, hash: hDeploy, gasLimit: gas })]));
    assert.equal(b1.privateReceipts[0].status, '0x1', 'the estimated gas is enough privately');
    const address = b1.privateContracts[0].address;
    const est = await party.estimateGas({ from: a0, to: address, data: ssIface.encodeFunctionData('set', [5]) });
    assert.ok(est > 21_000n, `a call to the private contract runs its code: ${est}`);
  });
});
