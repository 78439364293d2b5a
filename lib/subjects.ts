/**
 * The one place NATS subjects are spelled. Grammar:
 *
 *   <net>.<participant>.<actor>.<verb>          requests to / events from one participant's actor
 *   <net>.<to>.consensus.peer.<from>            consensus traffic from validator <from> to validator <to>
 *   _INBOX.<net>.<participant>.<actor>.>        reply inbox of one actor (so replies are scoped too)
 *
 * The nats-server configuration is generated from `permissionsFor`, so what an actor may publish or
 * subscribe to is decided here and nowhere else.
 */
import type { ActorName } from './network/description.js';

export interface Scope {
  net: string;
  participant: string;
}

const base = (s: Scope, actor: ActorName) => `${s.net}.${s.participant}.${actor}`;

export const subjects = {
  // consensus
  submitTxs: (s: Scope) => `${base(s, 'consensus')}.submit`,
  consensusStatus: (s: Scope) => `${base(s, 'consensus')}.status`,
  poolNonce: (s: Scope) => `${base(s, 'consensus')}.pool`,
  committedBlocks: (s: Scope) => `${base(s, 'consensus')}.committed`,
  committedRange: (s: Scope) => `${base(s, 'consensus')}.blocks`,
  peer: (net: string, to: string, from: string) => `${net}.${to}.consensus.peer.${from}`,
  peerInbound: (s: Scope) => `${base(s, 'consensus')}.peer.*`,
  // ledger: block executor
  ledgerQuery: (s: Scope) => `${base(s, 'executor')}.query`,
  blockExecuted: (s: Scope) => `${base(s, 'executor')}.executed`,
  // ledger: public state store
  stateApply: (s: Scope) => `${base(s, 'state')}.apply`,
  stateNodes: (s: Scope) => `${base(s, 'state')}.nodes`,
  stateRead: (s: Scope) => `${base(s, 'state')}.read`,
  // reply inboxes
  inboxPrefix: (s: Scope, actor: ActorName) => `_INBOX.${s.net}.${s.participant}.${actor}`,
} as const;

/** The last token of a peer subject names the sender; the broker guarantees only it could publish there. */
export function peerSender(subject: string): string {
  const parts = subject.split('.');
  return parts[parts.length - 1];
}

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/** What each actor of participant `s.participant` may publish and subscribe to. Replies are allowed separately. */
export function permissionsFor(s: Scope, actor: ActorName): Permissions {
  const inbox = `${subjects.inboxPrefix(s, actor)}.>`;
  switch (actor) {
    case 'gateway':
      return {
        publish: [subjects.submitTxs(s), subjects.consensusStatus(s), subjects.poolNonce(s), subjects.ledgerQuery(s), subjects.stateRead(s)],
        subscribe: [subjects.blockExecuted(s), inbox],
      };
    case 'consensus':
      return {
        publish: [`${s.net}.*.consensus.peer.${s.participant}`, subjects.committedBlocks(s)],
        subscribe: [
          subjects.peerInbound(s),
          subjects.submitTxs(s),
          subjects.consensusStatus(s),
          subjects.poolNonce(s),
          subjects.committedRange(s),
          subjects.blockExecuted(s),
          inbox,
        ],
      };
    case 'executor':
      return {
        publish: [subjects.committedRange(s), subjects.stateApply(s), subjects.stateNodes(s), subjects.blockExecuted(s)],
        subscribe: [subjects.committedBlocks(s), subjects.ledgerQuery(s), inbox],
      };
    case 'state':
      return {
        publish: [],
        subscribe: [subjects.stateApply(s), subjects.stateNodes(s), subjects.stateRead(s), inbox],
      };
  }
}
