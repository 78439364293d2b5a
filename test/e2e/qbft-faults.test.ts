/**
 * QBFT faults on a 4-validator network (F = 1, quorum 3):
 *
 *  1. One validator's consensus stopped: the other three keep deciding blocks and transactions land. A second one
 *     stopped: the chain halts (no block anywhere across round changes, no fork), a transaction sent meanwhile waits
 *     in the pool. Both restarted: the chain resumes, the waiting transaction lands, all four agree, and the headers'
 *     extraData carry a quorum of valid commit seals of their parents.
 *  2. A compromised but permitted consensus actor (p4's NKEY user, p4's Ed25519 validator key, so the broker and
 *     the envelope check let it through) publishes forged QBFT PREPAREs and COMMITs: signed with a random secp256k1
 *     key, with another validator's (p1's) node key, genuine p1 messages relayed as p4's, signed with a permitted
 *     non-validator's node key; then that non-validator (p5) sends its own; and envelopes with a bad Ed25519
 *     signature. Every receiver refuses and logs each kind ('refused a consensus message'), and the chain keeps
 *     going and agreeing.
 *
 * The halt is observed through p1's consensus status (its round, asked over NATS as p1's gateway): it must pass
 * rounds 0 and 1 of the undecidable height (1 + 2 request timeouts) with no block anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Wallet, keccak256 } from 'ethers';
import type { NatsConnection } from '@nats-io/transport-node';
import { RpcError, describeValue, q, signLegacy, sleep, useNetwork, waitFor, type TestNetwork } from '../support/network.js';
import { decodeExtraData, secp256k1Crypto, signCommit, signPrepare, verifyParentSeals, type QbftCrypto } from '../../actors/consensus/qbft/index.js';
import { PeerSigner, validatorPrivateKey, type PeerBody, type PeerEnvelope } from '../../actors/consensus/peer-envelope.js';
import { connectActor } from '../../lib/nats/connect.js';
import { decodeJson, encodeJson } from '../../lib/codec.js';
import { ConsensusStatus } from '../../actors/consensus/messages.js';
import { subjects } from '../../lib/subjects.js';
import { membershipQbftTests } from './membership-qbft.js';

const BLOCK_PERIOD_MS = 300;
/** Round 0 times out after this; round r after 2^r times it. */
const REQUEST_TIMEOUT_MS = 1500;
const h = useNetwork('qbftfaults', {
  // Key 2 is the membership scenario's (run last, on the same network).
  testKeys: 3,
  consensusType: 'qbft',
  consensus: { blockPeriodMs: BLOCK_PERIOD_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
});
const TO = '0x' + '42'.repeat(20);
/** Forged round messages go to the heights just ahead of p1's head: checked now, or when replayed from the backlog. */
const FORGED_HEIGHTS = 3;

// ---------------------------------------------------------------------------------------------
// helpers

const hex = (n: number) => '0x' + n.toString(16);

async function heads(t: TestNetwork, idx: number[] = [0, 1, 2, 3]): Promise<number[]> {
  return Promise.all(idx.map((i) => t.blockNumber(i)));
}

async function blockAt(t: TestNetwork, i: number, n: number): Promise<any> {
  const b = await t.rpc(i, 'eth_getBlockByNumber', [hex(n), false]);
  assert.ok(b, `block ${n} missing on ${t.participantId(i)}`);
  return b;
}

/** Every gateway's blocks 1..min(its head, upTo) have the same hash as p1's. */
async function assertNoFork(t: TestNetwork, upTo: number): Promise<void> {
  const reference = await Promise.all(Array.from({ length: upTo }, (_, k) => blockAt(t, 0, k + 1).then((b) => b.hash as string)));
  await Promise.all(
    [1, 2, 3].map(async (i) => {
      const top = Math.min(upTo, await t.blockNumber(i));
      for (let n = 1; n <= top; n++) {
        assert.equal((await blockAt(t, i, n)).hash, reference[n - 1], `block ${n}: ${t.participantId(i)} and p1 differ`);
      }
    }),
  );
}

/** Waits until all four gateways have reached `min`, then checks they agree on block hash and state root at their common height. */
async function assertAllAgree(t: TestNetwork, min: number, deadlineMs = 60_000): Promise<number> {
  const common = await waitFor(
    async () => {
      const hs = await heads(t);
      const m = Math.min(...hs);
      return m >= min ? m : undefined;
    },
    deadlineMs,
    `all four gateways to reach block ${min}`,
    200,
  );
  const bs = await Promise.all([0, 1, 2, 3].map((i) => blockAt(t, i, common)));
  for (let i = 1; i < 4; i++) {
    assert.equal(bs[i].hash, bs[0].hash, `block ${common}: hash on ${t.participantId(i)} differs from p1`);
    assert.equal(bs[i].stateRoot, bs[0].stateRoot, `block ${common}: state root on ${t.participantId(i)} differs from p1`);
  }
  return common;
}

interface LogEntry {
  t: string;
  msg: string;
  [k: string]: any;
}

async function logEntries(t: TestNetwork, participant: string): Promise<LogEntry[]> {
  const text = await readFile(t.net.logFile(participant, 'consensus'), 'utf8').catch(() => '');
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      /* a line being written */
    }
  }
  return out;
}

const isRefusal = (e: LogEntry) => e.msg === 'refused a consensus message';

async function countRefusals(t: TestNetwork, participant: string, match: (e: LogEntry) => boolean): Promise<number> {
  return (await logEntries(t, participant)).filter((e) => isRefusal(e) && match(e)).length;
}

/** The consensus actor's own status (QBFT: term = its current round), asked over NATS as the participant's gateway. */
async function consensusStatus(t: TestNetwork, nc: NatsConnection, participant: string): Promise<ConsensusStatus> {
  const reply = await nc.request(subjects.consensusStatus({ net: t.net.network.name, participant }), encodeJson({}), { timeout: 2_000 });
  return ConsensusStatus.parse(decodeJson(reply.data));
}

async function sendRaw(t: TestNetwork, i: number, raw: string): Promise<string> {
  const hash = await t.rpc<string>(i, 'eth_sendRawTransaction', [raw]);
  assert.equal(hash, keccak256(raw), 'eth_sendRawTransaction returned a hash that is not keccak256(raw)');
  return hash;
}

async function receiptOn(t: TestNetwork, idx: number[], hash: string, deadlineMs: number): Promise<any[]> {
  return Promise.all(idx.map((i) => waitFor(() => t.rpc(i, 'eth_getTransactionReceipt', [hash]), deadlineMs, `receipt of ${hash} on ${t.participantId(i)}`)));
}

// ---------------------------------------------------------------------------------------------

test('QBFT: one validator down the chain goes on; two down it halts without forking; both back it resumes and agrees', { timeout: 150_000 }, async (tt) => {
  const t = h.t;
  const wallet = new Wallet(t.testKeys[0]);
  let nonce = Number(q(await t.rpc(0, 'eth_getTransactionCount', [wallet.address, 'pending'])));
  const start = await assertAllAgree(t, 1);
  // p1's gateway identity, to read p1's consensus round during the halt (no JSON-RPC method tells the round)
  const asP1Gateway = await connectActor({ url: t.net.natsUrl, network: t.net.network, secrets: t.net.secrets.p1, actor: 'gateway', options: { maxReconnectAttempts: 0 } });
  const stopped = new Set<string>();
  const stop = async (p: string) => {
    stopped.add(p);
    await t.net.stopActor(p, 'consensus');
  };
  try {
    // ---- one validator (p4) down: three of four are a quorum
    let t0 = Date.now();
    await stop('p4');
    const [p1AtStop, p2AtStop, p3AtStop] = await heads(t, [0, 1, 2]);
    const raw1 = await signLegacy(wallet, t.chainId, { nonce: nonce++, to: TO, value: 1n, gasLimit: 21_000 });
    const tx1 = await sendRaw(t, 0, raw1);
    const r1 = await receiptOn(t, [0, 1, 2], tx1, 60_000);
    r1.forEach((r, i) => {
      assert.equal(r.status, '0x1', `tx with p4 down: status on ${t.participantId(i)}`);
      assert.equal(r.blockHash, r1[0].blockHash, `tx with p4 down: block on ${t.participantId(i)}`);
    });
    // with empty blocks on, the head keeps moving on p1..p3
    const targets = [p1AtStop, p2AtStop, p3AtStop].map((n) => Math.max(n, Number(q(r1[0].blockNumber))) + 3);
    await Promise.all([0, 1, 2].map((i) => t.waitForHeight(i, targets[i], 60_000)));
    tt.diagnostic(`p4 down: tx landed in block ${Number(q(r1[0].blockNumber))}, heads reached ${targets.join('/')} in ${Date.now() - t0} ms`);

    // ---- a second validator (p3) down: two of four are no quorum, the chain halts
    t0 = Date.now();
    await stop('p3');
    // a block whose commits were already out may still finish; wait until no head moves for a while
    let settled: number[] = await heads(t);
    await waitFor(
      async () => {
        await sleep(4 * BLOCK_PERIOD_MS);
        const now = await heads(t);
        const same = now.every((n, i) => n === settled[i]);
        settled = now;
        return same;
      },
      30_000,
      'the heads to stop moving after p3 and p4 stopped',
      0,
    );
    const haltHeight = Math.max(...settled);
    // a transaction sent during the halt: accepted into p1's pool (or refused with a clear error)
    const rawHalt = await signLegacy(wallet, t.chainId, { nonce: nonce++, to: TO, value: 2n, gasLimit: 21_000 });
    const haltHash = keccak256(rawHalt);
    let haltAccepted = true;
    try {
      await sendRaw(t, 0, rawHalt);
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      haltAccepted = false;
      assert.ok(err.message.length > 0, 'a refusal says why');
      tt.diagnostic(`tx during the halt refused: ${err.message}`);
    }
    // observe the halt: long enough for several block periods and for p1 to time out two rounds of the height it
    // cannot decide (rounds 0 and 1: 1 + 2 request timeouts), asking p1's consensus for its round
    const haltedAt = await consensusStatus(t, asP1Gateway, 'p1');
    const observeFrom = Date.now();
    let moved: string | undefined;
    let haltRound = haltedAt.term;
    await waitFor(
      async () => {
        const now = await heads(t);
        const i = now.findIndex((n, k) => n > settled[k]);
        if (i >= 0) moved = `${t.participantId(i)} moved from block ${settled[i]} to ${now[i]} with only two validators running`;
        const s = await consensusStatus(t, asP1Gateway, 'p1');
        if (s.committedHeight !== haltedAt.committedHeight) moved ??= `p1's consensus finalised block ${s.committedHeight} (was ${haltedAt.committedHeight}) with only two validators running`;
        haltRound = s.term;
        return moved !== undefined || (Date.now() - observeFrom >= 10 * BLOCK_PERIOD_MS && s.term >= 2);
      },
      60_000,
      `p1 to pass two round changes during the halt (round ${haltedAt.term} at its start)`,
      250,
    );
    assert.equal(moved, undefined, 'no block while the chain is halted');
    const receiptsDuringHalt = await Promise.all([0, 1, 2, 3].map((i) => t.rpc(i, 'eth_getTransactionReceipt', [haltHash])));
    assert.deepEqual(receiptsDuringHalt, [null, null, null, null], 'the tx sent during the halt must not land while the chain is halted');
    assert.deepEqual(await heads(t), settled, 'no block during the halt');
    await assertNoFork(t, haltHeight);
    tt.diagnostic(`halted at ${settled.join('/')} for ${Date.now() - t0} ms; p1 went from round ${haltedAt.term} to ${haltRound}; tx during halt ${haltAccepted ? 'accepted into the pool' : 'refused'}`);

    // ---- both back: the chain resumes
    t0 = Date.now();
    for (const p of ['p3', 'p4']) {
      t.net.startActor(p, 'consensus');
      stopped.delete(p);
    }
    if (!haltAccepted) {
      await waitFor(
        () =>
          sendRaw(t, 0, rawHalt).catch((e: unknown): string => {
            if (e instanceof RpcError && /known/i.test(e.message)) return haltHash;
            throw e;
          }),
        60_000,
        'p1 to accept the tx refused during the halt',
        500,
      );
    }
    const resumed = await assertAllAgree(t, haltHeight + 2, 90_000);
    tt.diagnostic(`resumed: all four past block ${haltHeight + 2} ${Date.now() - t0} ms after the restart`);
    const rh = await t.receiptsEverywhere(haltHash, 60_000);
    rh.forEach((r, i) => {
      assert.equal(r.status, '0x1', `tx sent during the halt: status on ${t.participantId(i)}`);
      assert.equal(r.blockHash, rh[0].blockHash, `tx sent during the halt: block on ${t.participantId(i)}`);
    });
    assert.ok(Number(q(rh[0].blockNumber)) > haltHeight, 'the tx sent during the halt landed after it');
    const common = await assertAllAgree(t, Math.max(resumed, Number(q(rh[0].blockNumber))) + 1);
    await assertNoFork(t, common);

    // ---- the headers carry QBFT evidence: each block's successor holds a quorum of valid commit seals over it
    const recover = secp256k1Crypto('0x' + randomBytes(32).toString('hex')).recover;
    const from = Math.max(start, haltHeight - 1);
    const extras = new Map<number, ReturnType<typeof decodeExtraData>>();
    const raws = new Map<number, string>();
    for (let n = from; n <= Math.min(common, haltHeight + 4); n++) {
      const b = await blockAt(t, 0, n);
      raws.set(n, b.extraData);
      extras.set(n, decodeExtraData(b.extraData));
    }
    const rounds: string[] = [];
    for (let n = from; n < Math.min(common, haltHeight + 4); n++) {
      const validators = await t.rpc<string[]>(0, 'istanbul_getValidators', [hex(n - 1)]);
      assert.equal(validators.length, 4);
      const bad = verifyParentSeals(raws.get(n)!, raws.get(n + 1)!, validators, recover);
      assert.equal(bad, null, `parent seals of block ${n} (in block ${n + 1}'s extraData): ${bad}`);
      assert.ok(extras.get(n + 1)!.parentSeals.length >= 3, `block ${n + 1} carries at least a quorum of seals`);
      rounds.push(`${n}:r${extras.get(n)!.round}`);
    }
    // the check is not vacuous: the same seals do not pass against other validators, nor over another block's digest
    const n0 = from;
    const others = [0, 1, 2, 3].map(() => secp256k1Crypto('0x' + randomBytes(32).toString('hex')).address);
    assert.match(String(verifyParentSeals(raws.get(n0)!, raws.get(n0 + 1)!, others, recover)), /non-validator/);
    const validators0 = await t.rpc<string[]>(0, 'istanbul_getValidators', [hex(n0 - 1)]);
    assert.notEqual(verifyParentSeals(raws.get(n0 + 1)!, raws.get(n0 + 1)!, validators0, recover), null, 'seals of a block do not verify as its own');
    tt.diagnostic(`extraData verified for blocks ${from}..${Math.min(common, haltHeight + 4)} (proposal rounds ${rounds.join(' ')})`);
  } finally {
    // whatever failed, the next test gets all four validators back
    for (const p of stopped) {
      try {
        t.net.startActor(p, 'consensus');
      } catch (err) {
        tt.diagnostic(`could not restart ${p}/consensus: ${(err as Error).message}`);
      }
    }
    await asP1Gateway.close().catch(() => {});
  }
});

// ---------------------------------------------------------------------------------------------

test('QBFT: forged consensus messages from a compromised, permitted actor are refused and logged; the chain agrees', { timeout: 120_000 }, async (tt) => {
  const t = h.t;
  const net = t.net.network.name;
  const receivers = ['p1', 'p2', 'p3'];
  const p4 = t.net.secrets.p4;
  assert.ok(p4, 'secrets of p4');
  await assertAllAgree(t, 1);

  const connections: NatsConnection[] = [];
  const connectAs = async (participant: string) => {
    const nc = await connectActor({
      url: t.net.natsUrl,
      network: t.net.network,
      secrets: t.net.secrets[participant],
      actor: 'consensus',
      options: { maxReconnectAttempts: 0 },
    });
    connections.push(nc);
    return nc;
  };
  try {
    const asP4 = await connectAs('p4');
    const p4Signer = new PeerSigner(t.net.network, validatorPrivateKey(p4.validatorPrivateKey));

    const publish = (nc: NatsConnection, from: string, envelope: PeerEnvelope) => {
      for (const to of receivers) nc.publish(subjects.peer(net, to, from), encodeJson(envelope));
    };

    /**
     * Publishes the forged messages (rebuilt for the heights just ahead of p1's head, so that they are checked
     * now or when replayed from the backlog) until every receiver has logged a new matching refusal.
     */
    const forgeUntilRefused = async (what: string, send: (height: number) => Promise<void>, match: (e: LogEntry) => boolean) => {
      const before = await Promise.all(receivers.map((p) => countRefusals(t, p, match)));
      const started = Date.now();
      let rounds = 0;
      for (;;) {
        const head = await t.blockNumber(0);
        await send(head + 1);
        rounds++;
        const gained = await waitFor(
          async () => {
            const now = await Promise.all(receivers.map((p) => countRefusals(t, p, match)));
            return now.every((c, i) => c > before[i]) ? now.map((c, i) => c - before[i]) : undefined;
          },
          3_000,
          `${what}: a refusal in the consensus logs of ${receivers.join(', ')}`,
          100,
        ).catch((err: Error) => {
          if (Date.now() - started > 30_000) throw err;
          return undefined;
        });
        if (gained) {
          tt.diagnostic(`${what}: refused by ${receivers.map((p, i) => `${p} (${gained[i]}×)`).join(', ')} after ${rounds} send(s)`);
          // let the receivers pass every height sent to, so that no forgery of this kind waits in a backlog to be
          // refused later, where the next check would count it as its own
          const last = head + FORGED_HEIGHTS;
          await Promise.all(receivers.map((p) => t.waitForHeight(t.indexOf(p), last, 30_000)));
          return;
        }
      }
    };

    // (a) valid envelope from p4, QBFT messages signed with a random secp256k1 key
    const stranger: QbftCrypto = secp256k1Crypto('0x' + randomBytes(32).toString('hex'));
    const digest = () => '0x' + randomBytes(32).toString('hex');
    const sendSigned = (nc: NatsConnection, from: string, signer: PeerSigner, crypto: QbftCrypto, kind: 'PREPARE' | 'COMMIT') => async (height: number) => {
      for (let hgt = height; hgt < height + FORGED_HEIGHTS; hgt++) {
        const message = kind === 'PREPARE' ? signPrepare(crypto, hgt, 0, digest()) : signCommit(crypto, hgt, 0, digest(), 0);
        publish(nc, from, signer.seal({ kind: 'core', message }));
      }
      await nc.flush();
    };
    const refusedAs = (from: string, reason: string) => (e: LogEntry) => e.from === from && e.reason === reason;
    await forgeUntilRefused('PREPARE signed with a random key, sent as p4', sendSigned(asP4, 'p4', p4Signer, stranger, 'PREPARE'), refusedAs('p4', 'PREPARE: bad signature'));
    await forgeUntilRefused('COMMIT signed with a random key, sent as p4', sendSigned(asP4, 'p4', p4Signer, stranger, 'COMMIT'), refusedAs('p4', 'COMMIT: bad signature'));

    // another validator's messages as p4's own: signed with p1's node key, and genuine p1 messages (p4 receives
    // them) relayed at once as p4's; the signer is a validator, but not the sender
    const p1Crypto = secp256k1Crypto(t.net.secrets.p1.nodeKey);
    await forgeUntilRefused("PREPARE signed with validator p1's node key, sent as p4", sendSigned(asP4, 'p4', p4Signer, p1Crypto, 'PREPARE'), refusedAs('p4', 'PREPARE: bad signature'));
    let relaying = 0;
    asP4.subscribe(subjects.peer(net, 'p4', 'p1'), {
      callback: (err, msg) => {
        if (err || relaying <= 0) return;
        try {
          const body = JSON.parse((JSON.parse(new TextDecoder().decode(msg.data)) as PeerEnvelope).body);
          if (body.kind !== 'core' || (body.message?.type !== 'PREPARE' && body.message?.type !== 'COMMIT')) return;
          relaying--;
          for (const to of ['p2', 'p3']) asP4.publish(subjects.peer(net, to, 'p4'), encodeJson(p4Signer.seal({ kind: 'core', message: body.message })));
        } catch {
          /* not ours to judge */
        }
      },
    });
    const relayReceivers = ['p2', 'p3'];
    const relayMatch = (e: LogEntry) => e.from === 'p4' && /^(PREPARE|COMMIT): bad signature$/.test(e.reason);
    const relayBefore = await Promise.all(relayReceivers.map((p) => countRefusals(t, p, relayMatch)));
    // a relayed message is refused only if it arrives before its height is decided (later ones are ignored as stale)
    const relayedGained = await waitFor(
      async () => {
        if (relaying <= 0) relaying = 8;
        const now = await Promise.all(relayReceivers.map((p) => countRefusals(t, p, relayMatch)));
        return now.every((c, i) => c > relayBefore[i]) ? now.map((c, i) => c - relayBefore[i]) : undefined;
      },
      30_000,
      "a genuine p1 PREPARE/COMMIT relayed as p4's own to be refused by p2 and p3",
      200,
    );
    relaying = 0;
    tt.diagnostic(`genuine p1 messages relayed as p4's: refused by ${relayReceivers.map((p, i) => `${p} (${relayedGained[i]}×)`).join(', ')}`);
    await Promise.all(relayReceivers.map(async (p) => t.waitForHeight(t.indexOf(p), (await t.blockNumber(0)) + 1, 30_000)));

    // an envelope whose Ed25519 signature is not p4's validator key (a well-formed core message inside)
    const impostor = new PeerSigner(t.net.network, generateKeyPairSync('ed25519').privateKey);
    const p4Crypto = secp256k1Crypto(p4.nodeKey);
    await forgeUntilRefused(
      'envelope with a bad Ed25519 signature, sent as p4',
      async (height) => {
        const body: PeerBody = { kind: 'core', message: signPrepare(p4Crypto, height, 0, digest()) };
        publish(asP4, 'p4', impostor.seal(body));
        // and a correctly signed body whose signature was tampered with
        const good = p4Signer.seal(body);
        publish(asP4, 'p4', { body: good.body, sig: good.sig.slice(0, 10) + (good.sig[10] === '0' ? '1' : '0') + good.sig.slice(11) });
        await asP4.flush();
      },
      (e) => e.sender === 'p4' && /bad signature on a message from p4/.test(String(e.error?.message)),
    );

    // (b) a permitted participant that is not a validator: its node key, sent as p4 (signer ≠ sender) and as itself
    const p5 = await t.net.permit();
    const p5Secrets = t.net.secrets[p5.id];
    assert.ok(p5Secrets, `secrets of ${p5.id}`);
    assert.ok(!(await t.rpc<string[]>(0, 'istanbul_getValidators')).includes(p5.nodeAddress.toLowerCase()), `${p5.id} is not a validator`);
    const p5Crypto = secp256k1Crypto(p5Secrets.nodeKey);
    assert.equal(p5Crypto.address, p5.nodeAddress.toLowerCase());
    await forgeUntilRefused(`PREPARE signed with ${p5.id}'s node key, sent as p4`, sendSigned(asP4, 'p4', p4Signer, p5Crypto, 'PREPARE'), refusedAs('p4', 'PREPARE: bad signature'));
    const asP5 = await connectAs(p5.id);
    const p5Signer = new PeerSigner(t.net.network, validatorPrivateKey(p5Secrets.validatorPrivateKey));
    // the receivers learn of p5 from network.json (their watchers): until then they refuse it as unknown
    await forgeUntilRefused(`PREPARE from ${p5.id} itself (not a validator)`, sendSigned(asP5, p5.id, p5Signer, p5Crypto, 'PREPARE'), refusedAs(p5.id, 'PREPARE: not a validator'));
    await forgeUntilRefused(`COMMIT from ${p5.id} itself (not a validator)`, sendSigned(asP5, p5.id, p5Signer, p5Crypto, 'COMMIT'), refusedAs(p5.id, 'COMMIT: not a validator'));

    // the chain went on and agrees
    const after = await t.blockNumber(0);
    const common = await assertAllAgree(t, after + 3);
    await assertNoFork(t, common);
    const wallet = new Wallet(t.testKeys[1]);
    const raw = await signLegacy(wallet, t.chainId, { nonce: Number(q(await t.rpc(1, 'eth_getTransactionCount', [wallet.address, 'pending']))), to: TO, value: 3n, gasLimit: 21_000 });
    const rs = await receiptOn(t, [0, 1, 2, 3], await sendRaw(t, 1, raw), 60_000);
    rs.forEach((r, i) => assert.equal(r.blockHash, rs[0].blockHash, `tx after the forgeries: block on ${t.participantId(i)} (${describeValue(r)})`));
    tt.diagnostic(`after the forgeries all four agree at block ${common}; a tx landed in block ${Number(q(rs[0].blockNumber))}`);
  } finally {
    for (const nc of connections) await nc.close().catch(() => {});
  }
});

// Then QBFT membership on the same network (one network start less for the suite).
membershipQbftTests(h, 2);
