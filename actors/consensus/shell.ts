/**
 * The consensus actor's shell: all I/O around a pure consensus core (Raft or QBFT, see core.ts) and the pure
 * transaction pool. Every input (tick, peer message, proposal) goes through one queue; a batch of inputs is
 * stepped, then its merged output is carried out in the order consensus needs: persist → send → apply.
 */
import { z } from 'zod';
import type { Bus } from '../../lib/bus.js';
import type { EventStore } from '../../lib/event-store/event-store.js';
import { GroupCommitter } from '../../lib/group-commit.js';
import type { Logger } from '../../lib/logger.js';
import { quantity } from '../../lib/hex.js';
import type { NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import { peerSender, subjects } from '../../lib/subjects.js';
import type { LoggedBlock } from './block-data.js';
import { TransactionsDroppedReport } from '../ledger/executor/messages.js';
import { emptyOutput, mergeOutput, type CoreInput, type CoreOutput, type FinalBlock } from './core.js';
import { POOL_STREAM, type PoolCheckpoint, type ReceivedTx } from './events.js';
import { FetchBlocks } from './block-sync.js';
import { finalBlocksFrom } from './raft-archive.js';
import { restoreConsensus, toPoolTx, txsOf } from './restore.js';
import { forwardChunks, MAX_BLOCK_HEX_CHARS } from './forwarding.js';
import {
  CommittedRangeRequest,
  ConsensusCommand,
  ConsensusStatus,
  PoolNonceRequest,
  SubmitTransactions,
  type CommittedBlock,
  type SubmittedTransaction,
} from './messages.js';
import { PeerEnvelope, PeerSigner, validatorPrivateKey, type PeerBody } from './peer-envelope.js';
import type { PoolTx } from './pool.js';
import { policyFor } from './proposer-policy.js';
import { Attr, contextOf, linksTo, tracer } from '../../lib/tracing.js';

export interface ConsensusDeps {
  network: NetworkDescription;
  secrets: ParticipantSecrets;
  participant: string;
  bus: Bus;
  store: EventStore;
  log: Logger;
  /** Wall clock in ms, injected. */
  now: () => number;
  /** Seeds the core's randomness (Raft's election timeouts). */
  seed: number;
  /** Raft snapshot and compaction intervals in entries (defaults in raft-core.ts; tests make them small). */
  snapshots?: { every: number; keep: number };
  /** Follows the permission list (the network description's participants); returns how to stop following. */
  watchPermissions?: (onChange: (network: NetworkDescription) => void) => () => void;
}

const REFORWARD_AFTER_MS = 1500;
/** How many committed blocks back a drop report from our executor can refer to. */
const RECENT_BLOCKS = 1024;
const RANGE_REPLY_BYTES = 3 * 1024 * 1024;
/** Traceparents kept for pooled txs at most (the map is cleared past it: only links are lost). */
const MAX_TRACED_TXS = 100_000;
const spans = tracer('quorum.consensus');



export function toCommittedBlock(f: FinalBlock): CommittedBlock {
  return {
    height: f.block.height,
    timestamp: f.block.timestamp,
    proposer: f.block.proposer,
    raftTerm: f.position.term,
    raftIndex: f.position.index,
    extraData: f.extraData,
    transactions: f.block.transactions.map((t) => t.raw),
    ...(f.block.traceparents ? { traceparents: f.block.traceparents } : {}),
  };
}

/** A peer's envelope opened, or refused and logged (wrong key, tampered body, a sender not the signer). */
export function openPeerMessage(signer: PeerSigner, sender: string, envelope: PeerEnvelope, log: Pick<Logger, 'warn'>): PeerBody | null {
  try {
    return signer.open(sender, envelope);
  } catch (err) {
    log.warn('refused a consensus message', { sender }, err);
    return null;
  }
}

export async function startConsensus(deps: ConsensusDeps): Promise<{ stop(): Promise<void> }> {
  const { network, participant: me, bus, store, log, now } = deps;
  const params = network.consensus;
  const scope = bus.scope;
  const gasLimit = BigInt(network.genesis.gasLimit);
  const signer = new PeerSigner(network, validatorPrivateKey(deps.secrets.validatorPrivateKey));

  // ---- restore: the actor's state is the fold of its events
  const restored = await restoreConsensus(store, { network, secrets: deps.secrets, participant: me, seed: deps.seed, snapshots: deps.snapshots }, now());
  const { core, pool, localTxs: localHashes } = restored;
  /** The pool stream's position our pool accounts for, and local txs being persisted: a snapshot's pool checkpoint. */
  let poolPosition = restored.poolPosition;
  const persisting = new Map<string, ReceivedTx>();
  const poolCheckpoint = (): PoolCheckpoint => ({
    position: poolPosition,
    local: [...new Map([...localHashes, ...persisting]).values()],
    nonces: pool.committedNonces().map(([from, n]) => [from, quantity(n)]),
  });
  /** The last final blocks, to know sender and nonce of a tx our executor reports as dropped. */
  const recentlyFinal = new Map<number, LoggedBlock>();
  const forwardedAt = new Map<string, number>();
  /** Each pooled tx's traceparent, as its gateway sent it: carried in forwards and blocks for span links. */
  const traceOf = new Map<string, string>();
  const noteTraces = (hashes: readonly string[], traceparents: readonly (string | null)[] | undefined, fallback: string | null) => {
    if (traceOf.size > MAX_TRACED_TXS) traceOf.clear();
    hashes.forEach((h, i) => {
      const tp = traceparents?.[i] ?? fallback;
      if (tp) traceOf.set(h, tp);
    });
  };
  const tracesOf = (hashes: readonly string[]): (string | null)[] | undefined => {
    const tps = hashes.map((h) => traceOf.get(h) ?? null);
    return tps.some((tp) => tp !== null) ? tps : undefined;
  };
  log.info('consensus restored', { algorithm: params.type, ...core.status(), finalHeight: core.finalHeight(), pooled: pool.size });

  // ---- persistence of pool receipts: acknowledged only once stored
  const receivedCommitter = new GroupCommitter<ReceivedTx>(async (txs) => {
    const stored = await store.append(POOL_STREAM, 'any', [{ type: 'TransactionsReceived', payload: { transactions: txs } }]);
    poolPosition = Math.max(poolPosition, stored[stored.length - 1].streamPosition);
  });

  const sendPeer = (to: string, body: PeerBody): void => {
    try {
      bus.publish(subjects.peer(scope.net, to, me), signer.seal(body));
    } catch (err) {
      // A message the broker refuses (too large, connection closing) is as good as lost: consensus retries.
      log.warn('could not send a consensus message', { to, kind: body.kind }, err);
    }
  };

  const forward = (txs: PoolTx[]) => {
    const targets = core.forwardTargets();
    if (targets.length === 0 || txs.length === 0) return;
    const t = now();
    for (const tx of txs) forwardedAt.set(tx.hash, t);
    for (const chunk of forwardChunks(txs)) {
      const traceparents = tracesOf(chunk.map((tx) => tx.hash));
      for (const to of targets) sendPeer(to, { kind: 'forward', from: me, transactions: chunk, ...(traceparents ? { traceparents } : {}) });
    }
  };

  // ---- proposing: the core says whether we may (proposalHeight), the policy says when
  const policy = policyFor(params);
  const buildProposal = (): CoreInput | null => {
    const height = core.proposalHeight();
    if (height === null) return null;
    const txs = pool.select(params.maxTxsPerBlock, gasLimit, MAX_BLOCK_HEX_CHARS);
    if (txs.length === 0 && !policy.proposesEmpty) return null;
    const block: LoggedBlock = {
      height,
      timestamp: Math.max(core.lastTimestamp(), Math.floor(now() / 1000)),
      proposer: me,
      transactions: txs.map((t) => ({ raw: t.raw, hash: t.hash, from: t.from, nonce: quantity(t.nonce), gasLimit: quantity(t.gasLimit) })),
    };
    const traceparents = tracesOf(txs.map((tx) => tx.hash));
    if (traceparents) block.traceparents = traceparents;
    log.debug('proposing', { height, txs: txs.length, pool: pool.size });
    return { type: 'propose', block };
  };

  let proposeTimer: NodeJS.Timeout | null = null;
  const scheduleProposal = () => {
    if (stopped || proposeTimer || core.proposalHeight() === null) return;
    const wait = policy.delay(now(), pool.size);
    if (wait === null) return;
    proposeTimer = setTimeout(() => {
      proposeTimer = null;
      enqueue({ type: 'propose' });
    }, wait);
  };

  // ---- the step loop
  type Command = { type: 'command'; method: string; params: unknown[]; resolve: (r: { result: unknown }) => void; reject: (e: unknown) => void };
  type Input = Exclude<CoreInput, { type: 'propose' }> | { type: 'propose' } | Command;
  const inbox: Input[] = [];
  let draining = false;
  let stopped = false;
  let lastTargets = '';

  const enqueue = (input: Input) => {
    if (stopped) return;
    inbox.push(input);
    if (!draining) void drain();
  };

  const stepBatch = (batch: Input[], answers: (() => void)[]): CoreOutput => {
    const merged = emptyOutput();
    let proposed = false;
    for (const input of batch) {
      if (input.type === 'command') {
        try {
          const r = core.command(input.method, input.params);
          mergeOutput(merged, r.output ?? { ...emptyOutput(), events: r.events, messages: r.messages ?? [] });
          answers.push(() => input.resolve({ result: r.result ?? null }));
        } catch (err) {
          input.reject(err);
        }
        continue;
      }
      let coreInput: CoreInput | null = input as CoreInput;
      if (input.type === 'propose') {
        if (proposed) continue; // one block per batch: the next proposal sees this one's txs as logged
        coreInput = buildProposal();
        proposed = coreInput !== null;
        policy.attempted(now(), proposed);
      }
      if (coreInput) mergeOutput(merged, core.step(coreInput));
    }
    return merged;
  };

  const apply = (out: CoreOutput) => {
    for (const r of out.refused) log.warn('refused a consensus message', r);
    for (const b of out.discarded) pool.noteTruncated(b.transactions.map((t) => toPoolTx(t, 0n, localHashes.has(t.hash), now())));
    for (const b of out.logged) pool.noteLogged(txsOf(b));
    for (const m of out.messages) sendPeer(m.to, { kind: 'core', message: m.message });
    for (const f of out.committed) {
      recentlyFinal.set(f.block.height, f.block);
      recentlyFinal.delete(f.block.height - RECENT_BLOCKS);
      const txs = txsOf(f.block);
      pool.noteCommitted(txs);
      for (const t of txs) {
        localHashes.delete(t.hash);
        forwardedAt.delete(t.hash);
        traceOf.delete(t.hash);
      }
      policy.finalised(now());
      // The block's span continues its first transaction's trace and links every one's; its context travels
      // with the block to every executor.
      const tps = f.block.traceparents ?? [];
      spans.startActiveSpan(
        'consensus block final',
        { attributes: { [Attr.blockNumber]: f.block.height, [Attr.batchSize]: f.block.transactions.length, [Attr.participant]: me }, links: linksTo(tps) },
        contextOf(tps.find((tp) => tp) ?? null),
        (span) => {
          bus.publish(subjects.committedBlocks(scope), toCommittedBlock(f));
          span.end();
        },
      );
      log.debug('final', { height: f.block.height, txs: f.block.transactions.length });
    }
  };

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (inbox.length > 0 && !stopped) {
        const answers: (() => void)[] = [];
        const out = stepBatch(inbox.splice(0), answers);
        if (out.events.length) await store.append(core.stream, 'any', out.events);
        apply(out);
        // A restart point once every final block so far is applied, so the pool's checkpoint matches it.
        if (core.snapshotDue?.()) await store.append(core.stream, 'any', [core.takeSnapshot!(poolCheckpoint())]);
        for (const answer of answers) answer();
        // New proposers (a new Raft leader; a changed QBFT validator set) get what our gateway handed us.
        const targets = core.forwardTargets().join(',');
        if (targets !== lastTargets) {
          log.info('forwarding to new proposers', { to: targets, ...pick(core.status()) });
          lastTargets = targets;
          forward(pool.localPending());
        }
        scheduleProposal(); // a final block frees the slot of the block in flight; a tick may have made us proposer
      }
    } catch (err) {
      // Persisting failed: the core's state is ahead of what is stored, so continuing could break the
      // algorithm's promises. Stop the process; the supervisor restarts it from the stored events.
      log.error('consensus step failed; exiting to restart from the event log', {}, err);
      process.exit(70);
    } finally {
      draining = false;
    }
  }

  // ---- inbound
  bus.subscribe(subjects.peerInbound(scope), PeerEnvelope, (envelope, ctx) => {
    const sender = peerSender(ctx.subject);
    const body = openPeerMessage(signer, sender, envelope, log);
    if (!body) return;
    if (body.kind === 'core') {
      const fetch = FetchBlocks.safeParse(body.message);
      if (fetch.success) void serveBlocks(sender, fetch.data);
      else enqueue({ type: 'message', from: sender, message: body.message });
      return;
    }
    const t = now();
    noteTraces(body.transactions.map((tx) => tx.hash), body.traceparents, ctx.traceparent);
    for (const tx of body.transactions) pool.add(toPoolTx(tx, BigInt(tx.accountNonce), false, t));
    policy.arrived(body.transactions.length, t);
    scheduleProposal();
  });

  bus.serve(subjects.submitTxs(scope), SubmitTransactions, async (req, ctx) => {
    const accepted: string[] = [];
    const rejected: { hash: string; reason: string }[] = [];
    const toStore: ReceivedTx[] = [];
    for (const tx of req.transactions) {
      const from = tx.from.toLowerCase();
      const verdict = pool.precheck({ hash: tx.hash, from, nonce: BigInt(tx.nonce) });
      if (!verdict.ok) rejected.push({ hash: tx.hash, reason: verdict.reason });
      else if (pool.has(tx.hash)) accepted.push(tx.hash);
      else toStore.push(received(tx));
    }
    noteTraces(req.transactions.map((tx) => tx.hash), req.traceparents, ctx.traceparent);
    const t = now();
    const candidates = toStore.map((tx) => toPoolTx(tx, BigInt(tx.accountNonce), true, t));
    // Proposers get them while we persist: the forward is not what makes them durable here, and waiting for
    // our commit would put a Postgres round trip on every transaction's path. (Should the write fail, the caller
    // is refused yet the transaction may still land; a retry then finds its hash known or its nonce used.)
    forward(candidates);
    for (const tx of toStore) persisting.set(tx.hash, tx);
    try {
      await receivedCommitter.submit(toStore);
    } finally {
      for (const tx of toStore) persisting.delete(tx.hash);
    }
    candidates.forEach((p, i) => {
      const r = pool.add(p);
      if (r.ok) {
        accepted.push(p.hash);
        localHashes.set(p.hash, toStore[i]);
      } else rejected.push({ hash: p.hash, reason: r.reason });
    });
    policy.arrived(candidates.length, t);
    scheduleProposal();
    return { accepted, rejected };
  });

  function received(tx: SubmittedTransaction): ReceivedTx {
    return { raw: tx.raw, hash: tx.hash, from: tx.from.toLowerCase(), nonce: tx.nonce, gasLimit: tx.gasLimit, accountNonce: tx.accountNonce };
  }

  // Our executor reports committed txs it had to drop; their nonces were not used (see TxPool.noteDropped).
  bus.subscribe(subjects.transactionsDropped(scope), TransactionsDroppedReport, async (ev) => {
    const block = recentlyFinal.get(Number(BigInt(ev.number)));
    const wanted = new Set(ev.dropped);
    const dropped = (block?.transactions ?? []).filter((t) => wanted.has(t.hash)).map((t) => ({ hash: t.hash, from: t.from.toLowerCase(), nonce: t.nonce }));
    if (dropped.length === 0) return;
    const stored = await store.append(POOL_STREAM, 'any', [{ type: 'TransactionsDropped', payload: { transactions: dropped } }]);
    pool.noteDropped(dropped.map((t) => ({ ...t, nonce: BigInt(t.nonce) })));
    poolPosition = Math.max(poolPosition, stored[0].streamPosition);
    log.info('nonces of dropped transactions released', { block: ev.number, txs: dropped.length });
  });

  bus.serve(subjects.poolNonce(scope), PoolNonceRequest, (req) => {
    const n = pool.nextNonce(req.address.toLowerCase());
    return { nextNonce: n === null ? null : quantity(n) };
  });

  bus.serve(subjects.consensusStatus(scope), z.unknown(), (): ConsensusStatus => {
    const s = core.status();
    return { participant: me, algorithm: params.type, ...s, committedHeight: core.finalHeight(), poolSize: pool.size };
  });

  // Operator commands (istanbul_*, raft_*) go through the step loop like any input, so their events are
  // stored in order with the rest; the answer leaves once they are stored.
  bus.serve(subjects.consensusCommand(scope), ConsensusCommand, (req) =>
    new Promise<{ result: unknown }>((resolve, reject) => enqueue({ type: 'command', method: req.method, params: req.params, resolve, reject })),
  );

  // Bounded by count and by size: a reply must fit in one NATS message (the executor asks again for more).
  // Blocks the core has compacted away are read from its stream (raft-archive.ts).
  bus.serve(subjects.committedRange(scope), CommittedRangeRequest, async (req) => ({
    blocks: (await finalBlocksFrom(core, store, req.fromHeight, req.max, RANGE_REPLY_BYTES)).map(toCommittedBlock),
  }));

  // A peer that installed our snapshot fetches the final blocks below it (block-sync.ts); it checks them.
  async function serveBlocks(sender: string, req: FetchBlocks): Promise<void> {
    if (req.from !== sender || req.to !== me) return void log.warn('refused a consensus message', { sender, reason: `a block fetch claiming to be from ${req.from} to ${req.to}` });
    try {
      const blocks = await finalBlocksFrom(core, store, req.fromHeight, Math.min(req.toHeight - req.fromHeight + 1, 100), RANGE_REPLY_BYTES);
      sendPeer(sender, { kind: 'core', message: { type: 'Blocks', from: me, to: sender, blocks: blocks.map((f) => ({ block: f.block, term: f.position.term, index: f.position.index })) } });
    } catch (err) {
      log.warn('could not serve final blocks to a peer', { to: sender, fromHeight: req.fromHeight }, err);
    }
  }

  // ---- time: ticks and re-forwarding (proposals are scheduled by scheduleProposal)
  const ticker = setInterval(() => enqueue({ type: 'tick' }), params.tickMs);
  const reforwarder = setInterval(() => {
    const t = now();
    forward(pool.localPending().filter((tx) => t - (forwardedAt.get(tx.hash) ?? 0) > REFORWARD_AFTER_MS));
  }, REFORWARD_AFTER_MS);
  scheduleProposal();

  // Who may talk to us, and who may be added, follows the permission list while we run.
  const unwatch = deps.watchPermissions?.((changed) => {
    signer.permit(changed);
    core.permit(changed);
    log.info('permission list changed', { participants: changed.participants.map((p) => p.id) });
  });

  return {
    async stop() {
      stopped = true;
      unwatch?.();
      clearInterval(ticker);
      if (proposeTimer) clearTimeout(proposeTimer);
      clearInterval(reforwarder);
      while (draining) await new Promise((r) => setTimeout(r, 5));
    },
  };
}

const pick = (s: { leader: string | null; term: number }) => ({ leader: s.leader, term: s.term });



