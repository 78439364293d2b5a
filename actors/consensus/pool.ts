/**
 * The transaction pool: pure data, no I/O, no clock (callers pass `now`).
 *
 * Nonces: a sender's next nonce is known from the raft log (every participant sees every logged tx with its
 * sender and nonce), floored by the account nonce the gateway saw at admission. Only a contiguous run of
 * nonces from there is executable, so the minter never proposes a tx the executor would have to drop for a
 * nonce gap. A tx leaves `pending` when it enters the log and comes back if its entry is truncated.
 */
export interface PoolTx {
  raw: string;
  hash: string;
  from: string;
  nonce: bigint;
  gasLimit: bigint;
  /** Sender's nonce in state when admitted (a floor; may be stale-low, never too high). */
  accountNonce: bigint;
  /** Received through this participant's own gateway: we answer for it until it is committed. */
  local: boolean;
  receivedAt: number;
}

export interface LoggedTx {
  hash: string;
  from: string;
  nonce: bigint;
}

export type AddResult = { ok: true } | { ok: false; reason: string };

/** How many committed hashes the pool remembers (about a minute of traffic at full rate). */
export const COMMITTED_HASH_WINDOW = 50_000;

export class TxPool {
  private readonly pending = new Map<string, PoolTx>();
  private readonly bySender = new Map<string, Map<bigint, PoolTx>>();
  /** Next nonce after the sender's committed txs. */
  private readonly committedNonce = new Map<string, bigint>();
  /** Logged but not yet committed: hash → tx, and per-sender nonces. */
  private readonly inflight = new Map<string, LoggedTx>();
  private readonly inflightBySender = new Map<string, Set<LoggedTx>>();
  /**
   * Hashes of recently committed txs, oldest first, at most `committedWindow` of them: nonces already refuse
   * a replay of an older one (its nonce is used), so the set need not grow with the history.
   */
  private readonly committedHashes = new Set<string>();

  constructor(
    private readonly maxSize = 100_000,
    private readonly committedWindow = COMMITTED_HASH_WINDOW,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  has(hash: string): boolean {
    return this.pending.has(hash) || this.inflight.has(hash) || this.committedHashes.has(hash);
  }

  isCommitted(hash: string): boolean {
    return this.committedHashes.has(hash);
  }

  /** Next nonce the log implies for a sender (committed and in-flight entries), or undefined if never seen. */
  private logNonce(from: string): bigint | undefined {
    let n = this.committedNonce.get(from);
    for (const t of this.inflightBySender.get(from) ?? []) {
      if (n === undefined || t.nonce + 1n > n) n = t.nonce + 1n;
    }
    return n;
  }

  private setInflight(t: LoggedTx): void {
    this.inflight.set(t.hash, t);
    let set = this.inflightBySender.get(t.from);
    if (!set) this.inflightBySender.set(t.from, (set = new Set()));
    set.add(t);
  }

  private clearInflight(hash: string): void {
    const t = this.inflight.get(hash);
    if (!t) return;
    this.inflight.delete(hash);
    const set = this.inflightBySender.get(t.from);
    set?.delete(t);
    if (set && set.size === 0) this.inflightBySender.delete(t.from);
  }

  private floorNonce(from: string, hint: bigint): bigint {
    const logged = this.logNonce(from);
    return logged === undefined || logged < hint ? hint : logged;
  }

  /** Would `add` accept this tx? (Checked before the tx is persisted, so we never persist what we refuse.) */
  precheck(tx: Pick<PoolTx, 'hash' | 'from' | 'nonce'>): AddResult {
    if (this.has(tx.hash)) return { ok: true };
    const floor = this.logNonce(tx.from);
    if (floor !== undefined && tx.nonce < floor) return { ok: false, reason: 'nonce too low' };
    if (this.pending.size >= this.maxSize) return { ok: false, reason: 'transaction pool is full' };
    return { ok: true };
  }

  add(tx: PoolTx): AddResult {
    if (this.committedHashes.has(tx.hash) || this.inflight.has(tx.hash)) return { ok: true }; // already on its way
    const existing = this.pending.get(tx.hash);
    if (existing) {
      if (tx.local && !existing.local) existing.local = true;
      return { ok: true };
    }
    const floor = this.logNonce(tx.from);
    if (floor !== undefined && tx.nonce < floor) return { ok: false, reason: 'nonce too low' };
    if (this.pending.size >= this.maxSize) return { ok: false, reason: 'transaction pool is full' };
    let nonces = this.bySender.get(tx.from);
    if (!nonces) this.bySender.set(tx.from, (nonces = new Map()));
    const replaced = nonces.get(tx.nonce);
    if (replaced) this.pending.delete(replaced.hash); // same sender and nonce: the newer tx replaces the older
    nonces.set(tx.nonce, tx);
    this.pending.set(tx.hash, tx);
    return { ok: true };
  }

  private removePending(hash: string): PoolTx | undefined {
    const tx = this.pending.get(hash);
    if (!tx) return undefined;
    this.pending.delete(hash);
    const nonces = this.bySender.get(tx.from);
    if (nonces?.get(tx.nonce)?.hash === hash) nonces.delete(tx.nonce);
    if (nonces && nonces.size === 0) this.bySender.delete(tx.from);
    return tx;
  }

  /** Txs entered the log (any node's proposal): they are no longer pending. */
  noteLogged(txs: readonly LoggedTx[]): void {
    for (const t of txs) {
      this.removePending(t.hash);
      if (!this.committedHashes.has(t.hash)) this.setInflight(t);
      // a pending tx of the same sender and nonce can no longer be executed
      const stale = this.bySender.get(t.from)?.get(t.nonce);
      if (stale) this.removePending(stale.hash);
    }
  }

  /** Log entries were truncated: their txs are pending again (when we still hold them). */
  noteTruncated(txs: readonly PoolTx[]): void {
    // All of them leave the log first: while a later nonce of the same sender still counted as in flight, an
    // earlier one would look too low and be refused.
    for (const t of txs) this.clearInflight(t.hash);
    for (const t of txs) this.add(t);
  }

  noteCommitted(txs: readonly LoggedTx[]): void {
    for (const t of txs) {
      this.clearInflight(t.hash);
      this.committedHashes.delete(t.hash); // re-inserted as the newest
      this.committedHashes.add(t.hash);
      if (this.committedHashes.size > this.committedWindow) this.committedHashes.delete(this.committedHashes.values().next().value!);
      const n = this.committedNonce.get(t.from);
      if (n === undefined || t.nonce + 1n > n) this.committedNonce.set(t.from, t.nonce + 1n);
    }
    // pending txs whose nonce is now used can never execute
    for (const t of txs) {
      const nonces = this.bySender.get(t.from);
      if (!nonces) continue;
      for (const [nonce, p] of nonces) if (nonce <= t.nonce) this.removePending(p.hash);
    }
  }

  /**
   * Committed txs the executor refused (no funds at execution, say) did not use their nonce: take the
   * sender's nonce back, so its next txs are not stuck behind a gap, and let the same tx be sent again.
   */
  noteDropped(txs: readonly LoggedTx[]): void {
    for (const t of txs) {
      this.committedHashes.delete(t.hash);
      const n = this.committedNonce.get(t.from);
      if (n !== undefined && t.nonce < n) this.committedNonce.set(t.from, t.nonce);
    }
  }

  /** Every sender's next nonce after its committed txs (what a snapshot keeps of the committed history). */
  committedNonces(): [string, bigint][] {
    return [...this.committedNonce];
  }

  /** Restores `committedNonces` from a snapshot, before the blocks after it are noted. */
  restoreCommittedNonces(entries: readonly (readonly [string, bigint])[]): void {
    for (const [from, nonce] of entries) this.committedNonce.set(from, nonce);
  }

  /** The next nonce a sender may use, counting pending txs: what eth_getTransactionCount('pending') wants. */
  nextNonce(from: string): bigint | null {
    const nonces = this.bySender.get(from);
    if (this.logNonce(from) === undefined && !nonces) return null;
    let n = this.startNonce(from, nonces);
    while (nonces?.has(n)) n += 1n;
    return n;
  }

  /** Where a sender's executable run starts: the log's next nonce, floored by the gateways' account-nonce hints. */
  private startNonce(from: string, nonces: Map<bigint, PoolTx> | undefined): bigint {
    let hint = 0n;
    for (const t of nonces?.values() ?? []) if (t.accountNonce > hint) hint = t.accountNonce;
    return this.floorNonce(from, hint);
  }

  /**
   * Executable txs for the next block: per sender a contiguous nonce run, within the count, gas and size
   * budgets (the size bound keeps a block, and so a raft message carrying it, within the broker's limits).
   */
  select(maxTxs: number, gasBudget: bigint, maxBytes = Number.POSITIVE_INFINITY): PoolTx[] {
    const picked: PoolTx[] = [];
    let gasLeft = gasBudget;
    let bytesLeft = maxBytes;
    for (const [from, nonces] of this.bySender) {
      if (picked.length >= maxTxs) break;
      let n = this.startNonce(from, nonces);
      for (let tx = nonces.get(n); tx && picked.length < maxTxs; tx = nonces.get(++n)) {
        if (tx.gasLimit > gasLeft || (tx.raw.length > bytesLeft && picked.length > 0)) break;
        gasLeft -= tx.gasLimit;
        bytesLeft -= tx.raw.length;
        picked.push(tx);
      }
    }
    return picked;
  }

  /** Our own gateway's txs not yet in the log: what a follower forwards (again) to the leader. */
  localPending(): PoolTx[] {
    return [...this.pending.values()].filter((t) => t.local);
  }

  allPending(): PoolTx[] {
    return [...this.pending.values()];
  }
}
