/**
 * One actor's link to the broker, followed through nats.js's status events, so that a broker that dies and comes
 * back (lib/nats/connect.ts reconnects for ever; nats.js re-sends the subscriptions itself) costs no message the
 * actor published:
 *
 *  - nats.js discards what was published while it was disconnected (its outbound buffer is reset at every dial),
 *    and what it wrote just before the broker died may never have been read. So every publish is kept until a
 *    flush (PING/PONG: the server has read everything before it) confirms it; on a disconnect the unconfirmed
 *    ones, and those published while down, are published again once the link is back. Consumers are idempotent
 *    (design: "after a crash, unpublished events are published again"), so a duplicate costs nothing.
 *  - A request is not sent into a dead link: it waits for the link (within its own timeout). One in flight when
 *    the link drops cannot get its answer: it fails at once, not at its timeout.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import type { Logger } from '../logger.js';

/** What is kept for publishing again, at most (the oldest go first past it: pollers and the outbox cover them). */
const MAX_KEPT = 20_000;
const MAX_KEPT_BYTES = 64 * 1024 * 1024;
/** How soon after a publish a flush confirms it. */
const CONFIRM_AFTER_MS = 50;
/**
 * How long after a reconnect what was kept waits before it is published again: every actor reconnects on its
 * own schedule (within ~0.5 s of a restarted broker), and a message published before its subscriber is back is
 * dropped by the broker. Requests go at once (a NoResponderError in that gap is safe to ask again).
 */
const REPLAY_AFTER_MS = 500;

interface Kept {
  /** Order of publishing: a flush confirms every message up to the last one sent before it. */
  seq: number;
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
}

export interface BrokerLink {
  /** True while connected (as far as the status events have told). */
  up(): boolean;
  /** Resolves true once up, false after timeoutMs (or when the connection is closed for good). */
  waitUp(timeoutMs: number): Promise<boolean>;
  /** Calls `fn` once if the current connection drops; returns how to stop waiting for that. */
  onLost(fn: () => void): () => void;
  /** Publishes now if up, and keeps the message until it is confirmed; published again after a reconnect. */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): void;
  /**
   * Resolves true once everything published before the call has been read by the server (now, or after a
   * reconnect), false if that did not happen within timeoutMs.
   */
  settled(timeoutMs: number): Promise<boolean>;
}

export function followLink(connection: NatsConnection, log: Logger): BrokerLink {
  let isUp = !connection.isClosed();
  let closed = false;
  /** Published on the current connection, not yet confirmed by a flush. */
  let unconfirmed: Kept[] = [];
  /** To publish again when the link is back. */
  let held: Kept[] = [];
  let heldBytes = 0;
  let epoch = 0;
  let dropped = 0;
  let confirmTimer: NodeJS.Timeout | undefined;
  let onUp: (() => void)[] = [];
  let onLost = new Set<() => void>();
  let downSince = 0;
  let seq = 0;
  /** Set between a reconnect and the replay of what was kept: publishes are kept meanwhile (order preserved). */
  let replayTimer: NodeJS.Timeout | undefined;
  /** Confirms, after a flush begun in `at`, every message sent before it (up to `upTo`). */
  const confirmed = (at: number, upTo: number) => {
    if (at !== epoch) return; // the link dropped in between: those went to `held`
    let k = 0;
    while (k < unconfirmed.length && unconfirmed[k].seq <= upTo) k++;
    if (k) unconfirmed.splice(0, k);
  };

  const hold = (ms: Kept[]) => {
    for (const m of ms) {
      held.push(m);
      heldBytes += m.data.length;
    }
    let k = 0;
    while (held.length - k > MAX_KEPT || heldBytes > MAX_KEPT_BYTES) {
      heldBytes -= held[k++].data.length;
      dropped++;
    }
    if (k) held.splice(0, k);
  };

  const confirm = () => {
    confirmTimer = undefined;
    if (!isUp || unconfirmed.length === 0 || closed) return;
    const upTo = seq;
    const at = epoch;
    connection.flush().then(
      () => {
        confirmed(at, upTo);
        if (unconfirmed.length) scheduleConfirm();
      },
      () => {
        /* the link dropped: the disconnect moves them to `held` */
      },
    );
  };
  const scheduleConfirm = () => {
    if (!confirmTimer) confirmTimer = setTimeout(confirm, CONFIRM_AFTER_MS);
  };

  const send = (m: Kept) => {
    try {
      connection.publish(m.subject, m.data, m.headers ? { headers: m.headers } : undefined);
    } catch (err) {
      // Refused by nats.js itself (too large, connection closing): not the broker's absence, never retried.
      if (!connection.isClosed()) throw err;
      return;
    }
    unconfirmed.push(m);
    scheduleConfirm();
  };

  const down = () => {
    if (!isUp) return;
    isUp = false;
    if (replayTimer) clearTimeout(replayTimer);
    replayTimer = undefined;
    downSince = Date.now();
    epoch++;
    const waiting = unconfirmed.length;
    hold(unconfirmed);
    unconfirmed = [];
    const wake = onLost;
    onLost = new Set();
    for (const f of wake) f();
    log.warn('broker connection lost; reconnecting', { unconfirmed: waiting });
  };

  const back = () => {
    if (isUp) return;
    isUp = true;
    const downMs = Date.now() - downSince;
    replayTimer = setTimeout(() => {
      replayTimer = undefined;
      const again = held;
      held = [];
      heldBytes = 0;
      for (const m of again) send(m);
      log.info('broker connection back', { downMs, republished: again.length, ...(dropped ? { droppedOldest: dropped } : {}) });
      dropped = 0;
    }, REPLAY_AFTER_MS);
    const wake = onUp;
    onUp = [];
    for (const f of wake) f();
  };

  void (async () => {
    for await (const s of connection.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') down();
      else if (s.type === 'reconnect') back();
    }
  })().finally(() => {
    closed = true;
    isUp = false;
    if (confirmTimer) clearTimeout(confirmTimer);
    if (replayTimer) clearTimeout(replayTimer);
    for (const f of onUp) f();
    onUp = [];
  });

  const link: BrokerLink = {
    up: () => isUp,
    waitUp(timeoutMs) {
      if (isUp) return Promise.resolve(true);
      if (closed) return Promise.resolve(false);
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(isUp);
        };
        const timer = setTimeout(() => {
          onUp = onUp.filter((f) => f !== wake);
          resolve(false);
        }, timeoutMs);
        onUp.push(wake);
      });
    },
    onLost(fn) {
      const set = onLost;
      set.add(fn);
      return () => set.delete(fn);
    },
    publish(subject, data, headers) {
      const m: Kept = { seq: ++seq, subject, data, headers };
      if (isUp && !replayTimer) send(m);
      else hold([m]);
    },
    async settled(timeoutMs) {
      const target = seq;
      const pending = () => (unconfirmed.length > 0 && unconfirmed[0].seq <= target) || (held.length > 0 && held[0].seq <= target);
      const deadline = Date.now() + timeoutMs;
      while (pending()) {
        const left = deadline - Date.now();
        if (left <= 0 || closed) return false;
        if (!isUp) await link.waitUp(left);
        else if (replayTimer) await new Promise((r) => setTimeout(r, 20));
        else {
          const at = epoch;
          const upTo = seq;
          await connection.flush().catch(() => {});
          confirmed(at, upTo);
        }
      }
      return true;
    },
  };
  return link;
}
