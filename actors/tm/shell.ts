/**
 * The tm's shell: wiring only. It opens the payload store, serves the tm's subjects (its gateway and
 * executor; other tms' pushes and resend requests) and the Tessera-compatible HTTP API, and, when the store
 * is new, lost or recovery was asked for, recovers in the background what other tms hold for us.
 */
import type { Sql } from 'postgres';
import type { Bus } from '../../lib/bus.js';
import type { EventStore } from '../../lib/event-store/event-store.js';
import { fromHex } from '../../lib/hex.js';
import type { Logger } from '../../lib/logger.js';
import { findParticipant, type NetworkDescription } from '../../lib/network/description.js';
import { peerSender, subjects } from '../../lib/subjects.js';
import type { Enclave } from '../enclave/enclave.js';
import { DEFAULT_BACKOFF, partyInfo, type Backoff } from './decide.js';
import { tmEvent } from './events.js';
import { startHttpApi, type HttpApi } from './http-api.js';
import {
  TmPushRequest,
  TmReceiveRequest,
  TmResendRequest,
  TmSendRequest,
  TmSendSignedRequest,
  TmStoreRawRequest,
  type TmReceiveReply,
} from './messages.js';
import { PayloadStore } from './payload-store.js';
import { startRecovery, type Recovery } from './recovery.js';
import { createTmService } from './service.js';

export interface TmOptions {
  network: NetworkDescription;
  participant: string;
  bus: Bus;
  sql: Sql;
  store: EventStore;
  log: Logger;
  enclave: Enclave;
  /** The HTTP API's address. Default 127.0.0.1. */
  httpHost?: string;
  /** Default: the participant's tmPort. 0: any free port; null: no HTTP API. */
  httpPort?: number | null;
  /** Recover from peers even though this store completed recovery before (QUORUM_TM_RECOVER=1). */
  recover?: boolean;
  /** How long a recipient's tm has to ACK a push. Default 5 s. */
  pushTimeoutMs?: number;
  /** How long a peer has to answer a resend request. Default 60 s. */
  resendTimeoutMs?: number;
  /** Waits between resend requests to a silent peer. */
  recoveryBackoff?: Backoff;
  /** In [0, 1), spreads retries. Default Math.random. */
  jitter?: () => number;
}

export interface Tm {
  /** The HTTP API's port (null when it is off). */
  httpPort: number | null;
  isRecovering(): boolean;
  /** Resolves when recovery completed (at once when none was needed). */
  recovered: Promise<void>;
  stop(): Promise<void>;
}

export async function startTm(o: TmOptions): Promise<Tm> {
  const { bus, log } = o;
  const scope = bus.scope;
  const party = partyInfo(o.network, o.participant);
  const payloads = await PayloadStore.open(o.sql, o.store);

  const needsRecovery = o.recover === true || !(await payloads.recoveryCompleted());
  let recovering = needsRecovery;
  const isRecovering = () => recovering;

  const service = createTmService({
    party,
    net: scope.net,
    bus,
    enclave: o.enclave,
    payloads,
    log,
    pushTimeoutMs: o.pushTimeoutMs ?? 5_000,
    isRecovering,
  });

  // ---- its own gateway and executor ----
  bus.serve(subjects.tmSend(scope), TmSendRequest, (req) => service.send(fromHex(req.payload), req.from, req.to, req.privacyFlag));
  bus.serve(subjects.tmStoreRaw(scope), TmStoreRawRequest, (req) => service.storeRaw(fromHex(req.payload), req.from));
  bus.serve(subjects.tmSendSigned(scope), TmSendSignedRequest, (req) => service.sendSigned(req.hash, req.to, req.privacyFlag));
  bus.serve(subjects.tmReceive(scope), TmReceiveRequest, async (req): Promise<TmReceiveReply> => ({ payloads: await service.receive(req.hashes) }));

  // ---- other tms: the last token of the subject names the sender, and only it can publish there ----
  bus.serve(subjects.tmPushInbound(scope), TmPushRequest, async (req, ctx) => ({
    ok: true as const,
    hash: await service.acceptPush(peerSender(ctx.subject), req.encoded, req.reason ?? 'send'),
  }));
  bus.serve(subjects.tmResendInbound(scope), TmResendRequest, async (req, ctx) => ({ pushed: await service.resend(peerSender(ctx.subject), req.key) }));

  await bus.connection.flush(); // the subscriptions are registered with the server before anyone is told we serve

  let http: HttpApi | null = null;
  const httpPort = o.httpPort === undefined ? findParticipant(o.network, o.participant).tmPort : o.httpPort;
  if (httpPort !== null) {
    http = await startHttpApi({
      host: o.httpHost ?? '127.0.0.1',
      port: httpPort,
      service,
      partyKeys: o.network.participants.map((p) => p.privacyPublicKey),
      localKeys: () => o.enclave.publicKeys(),
      isRecovering,
      log,
    });
  }

  // Serving first, then recovery: the payloads peers resend arrive as pushes, which must find us listening.
  let recovery: Recovery | null = null;
  if (needsRecovery) {
    recovery = startRecovery({
      party,
      net: scope.net,
      bus,
      log,
      backoff: o.recoveryBackoff ?? DEFAULT_BACKOFF,
      resendTimeoutMs: o.resendTimeoutMs ?? 60_000,
      jitter: o.jitter ?? Math.random,
      complete: async (peers) => {
        await payloads.markRecovered([tmEvent('RecoveryCompleted', { peers })]);
        recovering = false;
      },
    });
  }
  log.info('tm started', { recovering, httpPort: http?.port ?? null });

  return {
    httpPort: http?.port ?? null,
    isRecovering,
    recovered: recovery?.done ?? Promise.resolve(),
    async stop() {
      recovery?.stop();
      await http?.close();
    },
  };
}
