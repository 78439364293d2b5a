/**
 * The one place NATS subjects are spelled. Grammar:
 *
 *   <net>.<participant>.<actor>.<verb>          requests to / events from one participant's actor
 *   <net>.<to>.consensus.peer.<from>            consensus traffic from validator <from> to validator <to>
 *   <net>.<to>.tm.push.<from>                   a payload pushed by tm <from> to tm <to> (request: the ACK is the reply)
 *   <net>.<to>.tm.resend.<from>                 tm <from> asks tm <to> to push again what <from> should hold
 *   _INBOX.<net>.<participant>.<actor>.>        reply inbox of one actor (so replies are scoped too)
 *
 * The nats-server configuration is generated from `permissionsFor`, so what an actor may publish or
 * subscribe to is decided here and nowhere else.
 */
import type { ActorName } from './network/description.js';

/** The state store runs twice per participant: public state and this participant's private state. */
export type StateKind = 'public' | 'private';
const stateActor = (kind: StateKind): ActorName => (kind === 'public' ? 'state' : 'privateState');

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
  /** Operator commands and queries (istanbul_*, raft_*), from the participant's own gateway only. */
  consensusCommand: (s: Scope) => `${base(s, 'consensus')}.command`,
  committedBlocks: (s: Scope) => `${base(s, 'consensus')}.committed`,
  committedRange: (s: Scope) => `${base(s, 'consensus')}.blocks`,
  peer: (net: string, to: string, from: string) => `${net}.${to}.consensus.peer.${from}`,
  peerInbound: (s: Scope) => `${base(s, 'consensus')}.peer.*`,
  // ledger: block executor
  ledgerQuery: (s: Scope) => `${base(s, 'executor')}.query`,
  blockExecuted: (s: Scope) => `${base(s, 'executor')}.executed`,
  /** The receipts of a block just stored, for the gateway's cache (sent before its BlockExecuted). */
  blockReceipts: (s: Scope) => `${base(s, 'executor')}.receipts`,
  /** Only when a block dropped transactions: consensus need not wake for every block. */
  transactionsDropped: (s: Scope) => `${base(s, 'executor')}.dropped`,
  // ledger: public and private state stores
  stateNodes: (s: Scope, kind: StateKind = 'public') => `${base(s, stateActor(kind))}.nodes`,
  stateRead: (s: Scope, kind: StateKind = 'public') => `${base(s, stateActor(kind))}.read`,
  // enclave: only its own participant's tm may publish here
  enclave: (s: Scope, verb: 'keys' | 'encrypt' | 'encryptRaw' | 'encryptFromRaw' | 'decrypt') => `${base(s, 'enclave')}.${verb}`,
  enclaveAll: (s: Scope) => `${base(s, 'enclave')}.>`,
  // transaction manager: its own participant's gateway and executor
  tmSend: (s: Scope) => `${base(s, 'tm')}.send`,
  tmStoreRaw: (s: Scope) => `${base(s, 'tm')}.storeRaw`,
  tmSendSigned: (s: Scope) => `${base(s, 'tm')}.sendSigned`,
  tmReceive: (s: Scope) => `${base(s, 'tm')}.receive`,
  // transaction manager: other participants' tms
  tmPush: (net: string, to: string, from: string) => `${net}.${to}.tm.push.${from}`,
  tmPushInbound: (s: Scope) => `${base(s, 'tm')}.push.*`,
  tmResend: (net: string, to: string, from: string) => `${net}.${to}.tm.resend.${from}`,
  tmResendInbound: (s: Scope) => `${base(s, 'tm')}.resend.*`,
  // reply inboxes
  inboxPrefix: (s: Scope, actor: ActorName) => `_INBOX.${s.net}.${s.participant}.${actor}`,
} as const;

/** The last token of a peer subject (consensus peer, tm push/resend) names the sender; the broker guarantees only it could publish there. */
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
        publish: [
          subjects.submitTxs(s),
          subjects.consensusStatus(s),
          subjects.poolNonce(s),
          subjects.consensusCommand(s),
          subjects.ledgerQuery(s),
          subjects.stateRead(s, 'public'),
          subjects.stateRead(s, 'private'),
          subjects.tmSend(s),
          subjects.tmStoreRaw(s),
          subjects.tmSendSigned(s),
          subjects.tmReceive(s),
        ],
        subscribe: [subjects.blockExecuted(s), subjects.blockReceipts(s), inbox],
      };
    case 'consensus':
      return {
        publish: [`${s.net}.*.consensus.peer.${s.participant}`, subjects.committedBlocks(s)],
        subscribe: [
          subjects.peerInbound(s),
          subjects.submitTxs(s),
          subjects.consensusStatus(s),
          subjects.poolNonce(s),
          subjects.consensusCommand(s),
          subjects.committedRange(s),
          subjects.transactionsDropped(s),
          inbox,
        ],
      };
    case 'executor':
      return {
        publish: [
          subjects.committedRange(s),
          subjects.stateNodes(s, 'public'),
          subjects.stateNodes(s, 'private'),
          subjects.stateRead(s, 'private'),
          subjects.blockExecuted(s),
          subjects.blockReceipts(s),
          subjects.transactionsDropped(s),
          subjects.tmReceive(s),
        ],
        subscribe: [subjects.committedBlocks(s), subjects.ledgerQuery(s), inbox],
      };
    case 'state':
    case 'privateState': {
      const kind: StateKind = actor === 'state' ? 'public' : 'private';
      return {
        publish: [],
        // The private store loads lazily (when read), so it does not wake for every block.
        subscribe: [...(kind === 'public' ? [subjects.blockExecuted(s)] : []), subjects.stateNodes(s, kind), subjects.stateRead(s, kind), inbox],
      };
    }
    case 'tm':
      return {
        publish: [subjects.enclaveAll(s), `${s.net}.*.tm.push.${s.participant}`, `${s.net}.*.tm.resend.${s.participant}`],
        subscribe: [
          subjects.tmSend(s),
          subjects.tmStoreRaw(s),
          subjects.tmSendSigned(s),
          subjects.tmReceive(s),
          subjects.tmPushInbound(s),
          subjects.tmResendInbound(s),
          inbox,
        ],
      };
    case 'enclave':
      return { publish: [], subscribe: [subjects.enclaveAll(s), inbox] };
  }
}
