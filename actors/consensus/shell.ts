/**
 * The consensus actor's shell: all I/O around the pure Raft core and the pool.
 * Every input (tick, peer message, mint) goes through one queue; a batch of inputs is stepped, then its
 * effects are carried out in the order Raft needs: persist (events) → send → apply committed blocks.
 */
import { z } from 'zod';
import type { Bus } from '../../lib/bus.js';
import type { EventStore, StoredEvent } from '../../lib/event-store/event-store.js';
import { GroupCommitter } from '../../lib/group-commit.js';
import type { Logger } from '../../lib/logger.js';
import { quantity } from '../../lib/hex.js';
import type { NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import { peerSender, subjects } from '../../lib/subjects.js';
import { blockOf, LoggedBlock, toCommittedBlock, type LoggedTx } from './block-data.js';
import { TransactionsDroppedReport } from '../ledger/executor/messages.js';
import { foldConsensus, POOL_STREAM, RAFT_STREAM, type ReceivedTx } from './events.js';
import {
  CommittedRangeRequest,
  ConsensusStatus,
  PoolNonceRequest,
  SubmitTransactions,
  type CommittedBlock,
  type SubmittedTransaction,
} from './messages.js';
import { PeerEnvelope, PeerSigner, validatorPrivateKey } from './peer-envelope.js';
import { MintPacer } from './mint-pacer.js';
import { TxPool, type PoolTx } from './pool.js';
import { createRaft, step } from './raft/index.js';
import { entryAt } from './raft/log.js';
import type { Entry, HardState, RaftMessage } from './raft/messages.js';
import type { RaftInput, RaftState } from './raft/types.js';

export interface ConsensusDeps {
  network: NetworkDescription;
  secrets: ParticipantSecrets;
  participant: string;
  bus: Bus;
  store: EventStore;
  log: Logger;
  /** Wall clock in ms, injected. */
  now: () => number;
  /** Seeds Raft's election timeouts. */
  seed: number;
}

type Input = RaftInput | { type: 'mint' };

interface MergedOutput {
  hardState?: HardState;
  truncateFrom?: number;
  entries: Entry[];
  messages: RaftMessage[];
  committed: Entry[];
}

/** How many proposed-but-uncommitted blocks the leader allows before it waits. */
const MAX_INFLIGHT_BLOCKS = 1;
const REFORWARD_AFTER_MS = 1500;
/** How many committed blocks back a drop report from our executor can refer to. */
const RECENT_BLOCKS = 1024;
const RANGE_REPLY_BYTES = 3 * 1024 * 1024;
/**
 * Raw transaction bytes per block, as hex characters (1 MB of transactions): an AppendEntries carries up to
 * 4 entries and must stay under the broker's 8 MB max_payload.
 */
const MAX_BLOCK_HEX_CHARS = 2 * 1024 * 1024;

function toPoolTx(t: LoggedTx, accountNonce: bigint, local: boolean, now: number): PoolTx {
  return { raw: t.raw, hash: t.hash, from: t.from.toLowerCase(), nonce: BigInt(t.nonce), gasLimit: BigInt(t.gasLimit), accountNonce, local, receivedAt: now };
}

export async function startConsensus(deps: ConsensusDeps): Promise<{ stop(): Promise<void> }> {
  const { network, participant: me, bus, store, log, now } = deps;
  const params = network.consensus;
  const scope = bus.scope;
  const gasLimit = BigInt(network.genesis.gasLimit);
  const signer = new PeerSigner(network, me, validatorPrivateKey(deps.secrets.validatorPrivateKey));
  const peers = network.participants.map((p) => p.id).sort();

  // ---- restore: the actor's state is the fold of its events
  const history: StoredEvent[] = [];
  for (const stream of [RAFT_STREAM, POOL_STREAM]) for await (const e of store.streamEvents(stream)) history.push(e);
  const folded = foldConsensus(history);
  let state: RaftState = createRaft(
    {
      id: me,
      peers,
      electionTicksMin: params.electionTicksMin,
      electionTicksMax: params.electionTicksMax,
      heartbeatTicks: params.heartbeatTicks,
      seed: deps.seed,
      maxEntriesPerAppend: 4,
    },
    folded.raft,
  );

  const pool = new TxPool();
  const uncommitted = new Map<number, Entry>(); // raft index → logged, not yet committed
  const heightToIndex = new Map<number, number>();
  const localHashes = new Set<string>();
  /** The last committed blocks, to know sender and nonce of a tx our executor reports as dropped. */
  const recentlyCommitted = new Map<number, LoggedBlock>();
  const forwardedAt = new Map<string, number>();
  let lastLoggedHeight = 0;
  let committedHeight = 0;
  let commitIndex = 0;
  let lastTimestamp = network.genesis.timestamp;
  let lastLeader: string | null = null;

  const loggedTxs = (b: LoggedBlock) => b.transactions.map((t) => ({ hash: t.hash, from: t.from.toLowerCase(), nonce: BigInt(t.nonce) }));

  const onLogged = (entry: Entry) => {
    uncommitted.set(entry.index, entry);
    const block = blockOf(entry);
    if (!block) return;
    heightToIndex.set(block.height, entry.index);
    lastLoggedHeight = Math.max(lastLoggedHeight, block.height);
    lastTimestamp = Math.max(lastTimestamp, block.timestamp);
    pool.noteLogged(loggedTxs(block));
  };

  const onTruncated = (fromIndex: number) => {
    const removed: PoolTx[] = [];
    for (const [index, entry] of [...uncommitted]) {
      if (index < fromIndex) continue;
      uncommitted.delete(index);
      const block = blockOf(entry);
      if (!block) continue;
      heightToIndex.delete(block.height);
      for (const t of block.transactions) removed.push(toPoolTx(t, 0n, localHashes.has(t.hash), now()));
    }
    lastLoggedHeight = committedHeight;
    for (const entry of uncommitted.values()) {
      const b = blockOf(entry);
      if (b) lastLoggedHeight = Math.max(lastLoggedHeight, b.height);
    }
    pool.noteTruncated(removed);
  };

  const onCommitted = (entry: Entry): CommittedBlock | null => {
    uncommitted.delete(entry.index);
    commitIndex = Math.max(commitIndex, entry.index);
    const block = blockOf(entry);
    if (!block) return null;
    committedHeight = block.height;
    recentlyCommitted.set(block.height, block);
    recentlyCommitted.delete(block.height - RECENT_BLOCKS);
    const txs = loggedTxs(block);
    pool.noteCommitted(txs);
    for (const t of txs) {
      localHashes.delete(t.hash);
      forwardedAt.delete(t.hash);
    }
    return toCommittedBlock(entry, block);
  };

  for (const entry of folded.raft.entries) onLogged(entry);
  for (const entry of folded.raft.entries.slice(0, folded.raft.commitIndex ?? 0)) onCommitted(entry);
  pool.noteDropped(folded.dropped.map((t) => ({ hash: t.hash, from: t.from, nonce: BigInt(t.nonce) })));
  // Our gateway's txs stay ours until committed, even those already in an uncommitted entry: if a new leader
  // truncates that entry, they must come back as local, to be forwarded again.
  for (const t of folded.received) {
    if (pool.isCommitted(t.hash)) continue;
    localHashes.add(t.hash);
    if (!pool.has(t.hash)) pool.add(toPoolTx(t, BigInt(t.accountNonce), true, now()));
  }
  log.info('consensus restored', { term: state.term, logLength: folded.raft.entries.length, commitIndex, committedHeight, pooled: pool.size });

  // ---- persistence of pool receipts: acknowledged only once stored
  const receivedCommitter = new GroupCommitter<ReceivedTx>(async (txs) => {
    await store.append(POOL_STREAM, 'any', [{ type: 'TransactionsReceived', payload: { transactions: txs } }]);
  });

  const send = (message: RaftMessage) => {
    try {
      bus.publish(subjects.peer(scope.net, message.to, me), signer.seal({ kind: 'raft', message }));
    } catch (err) {
      // A message the broker refuses (too large, connection closing) is as good as lost: Raft retries.
      log.warn('could not send a consensus message', { to: message.to, type: message.type }, err);
    }
  };

  const forwardToLeader = (txs: PoolTx[]) => {
    const leader = state.leaderId;
    if (!leader || leader === me || txs.length === 0) return;
    const t = now();
    const sendChunk = (chunk: PoolTx[]) => {
      for (const tx of chunk) forwardedAt.set(tx.hash, t);
      try {
        bus.publish(
          subjects.peer(scope.net, leader, me),
          signer.seal({
            kind: 'forward',
            from: me,
            transactions: chunk.map((tx) => ({ raw: tx.raw, hash: tx.hash, from: tx.from, nonce: quantity(tx.nonce), gasLimit: quantity(tx.gasLimit), accountNonce: quantity(tx.accountNonce) })),
          }),
        );
      } catch (err) {
        log.warn('could not forward transactions to the leader; will retry', { leader, txs: chunk.length }, err);
      }
    };
    // Chunks bounded by count and size, so each message stays well under the broker's max_payload.
    let chunk: PoolTx[] = [];
    let chars = 0;
    for (const tx of txs) {
      if (chunk.length > 0 && (chunk.length >= 500 || chars + tx.raw.length > MAX_BLOCK_HEX_CHARS)) {
        sendChunk(chunk);
        chunk = [];
        chars = 0;
      }
      chunk.push(tx);
      chars += tx.raw.length;
    }
    if (chunk.length) sendChunk(chunk);
  };

  const blocksInFlight = () => {
    let n = 0;
    for (const e of uncommitted.values()) if (e.data.kind === 'block') n++;
    return n;
  };

  const mintBlock = (): RaftInput | null => {
    if (state.role !== 'leader' || pool.size === 0 || blocksInFlight() >= MAX_INFLIGHT_BLOCKS) return null;
    const txs = pool.select(params.maxTxsPerBlock, gasLimit, MAX_BLOCK_HEX_CHARS);
    if (txs.length === 0) return null;
    const block: LoggedBlock = {
      height: lastLoggedHeight + 1,
      timestamp: Math.max(lastTimestamp, Math.floor(now() / 1000)),
      proposer: me,
      transactions: txs.map((t) => ({ raw: t.raw, hash: t.hash, from: t.from, nonce: quantity(t.nonce), gasLimit: quantity(t.gasLimit) })),
    };
    log.debug('minting', { height: block.height, txs: txs.length, pool: pool.size });
    return { type: 'propose', data: { kind: 'block', block } };
  };

  // ---- the step loop
  const inbox: Input[] = [];
  let draining = false;
  let stopped = false;

  /**
   * Minting (see MintPacer): under dense arrivals at most one block per blockPeriodMs, counted from the last
   * mint; sparse ones (a lone wallet) at once. Never while a block is in flight (mintBlock holds back too).
   */
  const pacer = new MintPacer(params.blockPeriodMs);
  let mintTimer: NodeJS.Timeout | null = null;
  const scheduleMint = () => {
    if (stopped || mintTimer || state.role !== 'leader' || pool.size === 0 || blocksInFlight() >= MAX_INFLIGHT_BLOCKS) return;
    const wait = pacer.delay(now());
    mintTimer = setTimeout(() => {
      mintTimer = null;
      enqueue({ type: 'mint' });
    }, wait);
  };

  const enqueue = (input: Input) => {
    if (stopped) return;
    inbox.push(input);
    if (!draining) void drain();
  };

  const merge = (into: MergedOutput, out: ReturnType<typeof step>['output']) => {
    if (out.persist.hardState) into.hardState = out.persist.hardState;
    if (out.persist.truncateFrom !== undefined) {
      const from = out.persist.truncateFrom;
      into.entries = into.entries.filter((e) => e.index < from);
      into.truncateFrom = Math.min(into.truncateFrom ?? from, from);
      onTruncated(from);
    }
    for (const e of out.persist.entries) {
      into.entries.push(e);
      onLogged(e);
    }
    into.messages.push(...out.messages);
    into.committed.push(...out.committed);
  };

  let persistedCommitIndex = folded.raft.commitIndex ?? 0;
  const persist = async (m: MergedOutput) => {
    const events = [];
    if (m.hardState) events.push({ type: 'HardStateChanged', payload: m.hardState });
    if (m.truncateFrom !== undefined) events.push({ type: 'EntriesTruncated', payload: { fromIndex: m.truncateFrom } });
    if (m.entries.length) events.push({ type: 'EntriesAppended', payload: { entries: m.entries } });
    // The commit index is only a restart hint (a restarted node learns it from the leader anyway), so it rides
    // along with events we store regardless instead of costing a write of its own.
    if (events.length && commitIndex > persistedCommitIndex) {
      events.push({ type: 'CommitAdvanced', payload: { commitIndex } });
    }
    if (events.length) {
      await store.append(RAFT_STREAM, 'any', events);
      persistedCommitIndex = Math.max(persistedCommitIndex, commitIndex);
    }
  };

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (inbox.length > 0 && !stopped) {
        const batch = inbox.splice(0);
        const merged: MergedOutput = { entries: [], messages: [], committed: [] };
        let minted = false;
        for (const input of batch) {
          let raftInput: RaftInput | null;
          if (input.type === 'mint') {
            if (minted) continue; // one block per batch: the next mint sees this one's txs as logged
            raftInput = mintBlock();
            minted = raftInput !== null;
            pacer.attempted(now(), minted);
          } else raftInput = input;
          if (!raftInput) continue;
          const r = step(state, raftInput);
          state = r.state;
          merge(merged, r.output);
        }
        await persist(merged);
        for (const m of merged.messages) send(m);
        for (const entry of merged.committed) {
          const block = onCommitted(entry);
          if (block) {
            bus.publish(subjects.committedBlocks(scope), block);
            log.debug('committed', { height: block.height, txs: block.transactions.length });
          }
        }
        if (state.leaderId !== lastLeader) {
          log.info('leader changed', { leader: state.leaderId, term: state.term, role: state.role });
          lastLeader = state.leaderId;
          if (state.leaderId && state.leaderId !== me) forwardToLeader(pool.localPending());
        }
        scheduleMint(); // a commit frees the slot of the block in flight; a tick may have made us leader
      }
    } catch (err) {
      // Persisting failed: the core's state is ahead of what is stored, so continuing could break Raft's
      // promises. Stop the process; the supervisor restarts it from the stored events.
      log.error('consensus step failed; exiting to restart from the event log', {}, err);
      process.exit(70);
    } finally {
      draining = false;
    }
  }

  // ---- inbound
  bus.subscribe(subjects.peerInbound(scope), PeerEnvelope, (envelope, ctx) => {
    const sender = peerSender(ctx.subject);
    let body;
    try {
      body = signer.open(sender, envelope);
    } catch (err) {
      log.warn('refused a consensus message', { sender }, err);
      return;
    }
    if (body.kind === 'raft') {
      // Raft carries blocks opaquely; what enters our log is checked here, at the boundary.
      if (body.message.type === 'AppendEntries') {
        for (const e of body.message.entries) {
          if (e.data.kind === 'block' && !LoggedBlock.safeParse(e.data.block).success) {
            log.warn('refused an AppendEntries with a malformed block', { sender, index: e.index });
            return;
          }
        }
      }
      enqueue({ type: 'message', message: body.message });
    }
    else {
      const t = now();
      for (const tx of body.transactions) {
        pool.add(toPoolTx(tx, BigInt(tx.accountNonce), false, t));
      }
      if (state.role === 'leader') pacer.arrived(body.transactions.length, t);
      scheduleMint();
    }
  });

  bus.serve(subjects.submitTxs(scope), SubmitTransactions, async (req) => {
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
    const t = now();
    const candidates = toStore.map((tx) => toPoolTx(tx, BigInt(tx.accountNonce), true, t));
    // The leader gets them while we persist: the forward is not what makes them durable here, and waiting for
    // our commit would put a Postgres round trip on every transaction's path. (Should the write fail, the caller
    // is refused yet the transaction may still land; a retry then finds its hash known or its nonce used.)
    forwardToLeader(candidates);
    await receivedCommitter.submit(toStore);
    for (const p of candidates) {
      const r = pool.add(p);
      if (r.ok) {
        accepted.push(p.hash);
        localHashes.add(p.hash);
      } else rejected.push({ hash: p.hash, reason: r.reason });
    }
    if (state.role === 'leader') pacer.arrived(candidates.length, t);
    scheduleMint();
    return { accepted, rejected };
  });

  function received(tx: SubmittedTransaction): ReceivedTx {
    return { raw: tx.raw, hash: tx.hash, from: tx.from.toLowerCase(), nonce: tx.nonce, gasLimit: tx.gasLimit, accountNonce: tx.accountNonce };
  }

  // Our executor reports committed txs it had to drop; their nonces were not used (see TxPool.noteDropped).
  bus.subscribe(subjects.transactionsDropped(scope), TransactionsDroppedReport, async (ev) => {
    const block = recentlyCommitted.get(Number(BigInt(ev.number)));
    const wanted = new Set(ev.dropped);
    const dropped = (block?.transactions ?? []).filter((t) => wanted.has(t.hash)).map((t) => ({ hash: t.hash, from: t.from.toLowerCase(), nonce: t.nonce }));
    if (dropped.length === 0) return;
    await store.append(POOL_STREAM, 'any', [{ type: 'TransactionsDropped', payload: { transactions: dropped } }]);
    pool.noteDropped(dropped.map((t) => ({ ...t, nonce: BigInt(t.nonce) })));
    log.info('nonces of dropped transactions released', { block: ev.number, txs: dropped.length });
  });

  bus.serve(subjects.poolNonce(scope), PoolNonceRequest, (req) => {
    const n = pool.nextNonce(req.address.toLowerCase());
    return { nextNonce: n === null ? null : quantity(n) };
  });

  bus.serve(subjects.consensusStatus(scope), z.unknown(), (): ConsensusStatus => ({
    participant: me,
    role: state.role === 'leader' ? 'leader' : state.role === 'follower' ? 'follower' : 'candidate',
    term: state.term,
    leader: state.leaderId,
    commitIndex,
    committedHeight,
    poolSize: pool.size,
    cluster: peers.map((p) => ({ participant: p, role: p === state.leaderId ? 'minter' : 'verifier', isLeader: p === state.leaderId })),
  }));

  bus.serve(subjects.committedRange(scope), CommittedRangeRequest, (req) => {
    // Bounded by count and by size: a reply must fit in one NATS message (the executor asks again for more).
    const blocks: CommittedBlock[] = [];
    let bytes = 0;
    for (let h = req.fromHeight; h <= committedHeight && blocks.length < req.max && bytes < RANGE_REPLY_BYTES; h++) {
      const index = heightToIndex.get(h);
      const entry = index === undefined ? undefined : entryAt(state.log, index);
      const block = entry && blockOf(entry);
      if (!entry || !block) break;
      const committed = toCommittedBlock(entry, block);
      blocks.push(committed);
      for (const raw of committed.transactions) bytes += raw.length + 4;
    }
    return { blocks };
  });

  // ---- time: ticks and re-forwarding (minting is scheduled by scheduleMint)
  const ticker = setInterval(() => enqueue({ type: 'tick' }), params.tickMs);
  const reforwarder = setInterval(() => {
    if (!state.leaderId || state.leaderId === me) return;
    const t = now();
    forwardToLeader(pool.localPending().filter((tx) => t - (forwardedAt.get(tx.hash) ?? 0) > REFORWARD_AFTER_MS));
  }, REFORWARD_AFTER_MS);

  return {
    async stop() {
      stopped = true;
      clearInterval(ticker);
      if (mintTimer) clearTimeout(mintTimer);
      clearInterval(reforwarder);
      while (draining) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
