/**
 * Recovery of a lost (or new) payload store: ask every other participant's tm to resend what names our key.
 * Their pushes arrive on our push subject and are stored like any push; a peer's reply comes once it has
 * pushed (and we have ACKed) everything, so when every peer has replied the store is complete. A silent peer
 * is asked again with backoff, for as long as it takes: until then a hash we lack may still be coming, and
 * receive answers Unavailable rather than "not a recipient".
 */
import type { Bus } from '../../lib/bus.js';
import type { Logger } from '../../lib/logger.js';
import { subjects } from '../../lib/subjects.js';
import { backoffMs, peers, type Backoff, type PartyInfo } from './decide.js';
import { TmResendReply } from './messages.js';

export interface RecoveryDeps {
  party: PartyInfo;
  net: string;
  bus: Bus;
  log: Logger;
  backoff: Backoff;
  /** How long one peer has to push everything it holds for us and reply. */
  resendTimeoutMs: number;
  /** In [0, 1): spreads retries (Math.random in production). */
  jitter: () => number;
  /** Called once every peer answered, before the recovery counts as done. */
  complete: (peers: string[]) => Promise<void>;
}

export interface Recovery {
  /** Resolves when recovery completed; rejects only if stopped first. */
  done: Promise<void>;
  stop(): void;
}

export function startRecovery(d: RecoveryDeps): Recovery {
  let stopped = false;
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(wake, ms);
      function wake() {
        clearTimeout(t);
        wakers.delete(wake);
        resolve();
      }
      wakers.add(wake);
    });

  const askUntilAnswered = async (peer: string) => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const reply = await d.bus.request(subjects.tmResend(d.net, peer, d.party.self), { key: d.party.selfKey }, TmResendReply, { timeoutMs: d.resendTimeoutMs });
        d.log.info('peer resent our payloads', { peer, pushed: reply.pushed });
        return;
      } catch (err) {
        if (stopped) break;
        // Expected while a peer is down or not started yet: the reason, without a stack, and not on every retry.
        if (attempt % 10 === 0) d.log.warn('peer has not answered our resend request yet', { peer, attempt, reason: (err as Error).message });
        await sleep(backoffMs(attempt, d.jitter(), d.backoff));
      }
    }
    throw new Error('recovery stopped');
  };

  const all = peers(d.party);
  const done = (async () => {
    d.log.info('recovering payloads from peers', { peers: all });
    await Promise.all(all.map(askUntilAnswered));
    if (stopped) throw new Error('recovery stopped');
    // Recording the marker must not be lost to a passing database error: the store is complete, say so.
    for (let attempt = 0; ; attempt++) {
      if (stopped) throw new Error('recovery stopped');
      try {
        await d.complete(all);
        break;
      } catch (err) {
        d.log.warn('could not record that recovery completed; trying again', { attempt }, err);
        await sleep(backoffMs(attempt, d.jitter(), d.backoff));
      }
    }
    d.log.info('recovery completed', { peers: all });
  })();
  done.catch(() => undefined); // the shell looks at it; an unobserved rejection must not end the process

  return {
    done,
    stop() {
      stopped = true;
      for (const wake of [...wakers]) wake();
    },
  };
}
