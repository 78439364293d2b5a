/** Wiring: bus backend + node accounts + methods + dispatcher + HTTP server for one participant. */
import type { NatsConnection } from '@nats-io/nats-core';
import { createBus } from '../../lib/bus.js';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { findParticipant, type NetworkDescription, type ParticipantSecrets } from '../../lib/network/description.js';
import { tracer } from '../../lib/tracing.js';
import { createAccounts } from './accounts.js';
import { securityWarnings, type RpcSecurity } from './auth/config.js';
import { createSecureRpcServer } from './auth/serve.js';
import { createBusBackend } from './backend.js';
import { createMethods } from './rpc/methods.js';
import { closeServer, listen } from './rpc/server.js';

export interface GatewayOptions {
  network: NetworkDescription;
  /** Only `accountKeys` is used (node-managed accounts). */
  secrets: Pick<ParticipantSecrets, 'participant' | 'accountKeys'>;
  /** The gateway's own NATS connection (connected as the participant's gateway user); drained on close. */
  connection: NatsConnection;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: the participant's rpcPort. 0 picks a free port. */
  port?: number;
  /** Allowed browser origins for CORS; default none. */
  corsOrigins?: readonly string[] | '*';
  /** HTTPS and bearer tokens (auth/config.ts); default neither. */
  security?: RpcSecurity;
  log?: Logger;
}

export interface Gateway {
  url: string;
  host: string;
  port: number;
  /** Stops accepting requests, rejects queued submissions, drains the NATS connection. */
  close(): Promise<void>;
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const participantId = o.secrets.participant;
  const participant = findParticipant(o.network, participantId);
  const log = o.log ?? createLogger({ actor: 'gateway', participant: participantId });
  const scope = { net: o.network.name, participant: participantId };
  const common = createLedgerCommon(o.network);
  const accounts = createAccounts(o.secrets.accountKeys, common);

  const described = new Set(participant.accounts.map((a) => a.toLowerCase()));
  const unlisted = accounts.addresses.filter((a) => !described.has(a));
  if (unlisted.length) log.warn('account keys do not match the accounts in the network description', { unlisted });

  const bus = createBus(o.connection, scope, 'gateway', log);
  const backend = createBusBackend(bus, { log });
  await backend.start();

  const methods = createMethods({ backend, accounts, common, participant: participantId, privacyKey: participant.privacyPublicKey, log });
  const { server, scheme } = createSecureRpcServer({
    methods,
    dispatcher: { log, tracer: tracer('quorum.gateway'), participant: participantId },
    transport: { log, corsOrigins: o.corsOrigins },
    security: o.security,
  });
  const host = o.host ?? '127.0.0.1';
  const address = await listen(server, host, o.port ?? participant.rpcPort);
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${scheme}://${urlHost}:${address.port}`;
  for (const warning of securityWarnings(address.address, o.security ?? {})) log.warn(warning, { url });

  let closing: Promise<void> | null = null;
  return {
    url,
    host: address.address,
    port: address.port,
    close() {
      closing ??= (async () => {
        await closeServer(server);
        backend.stop();
        await bus.close();
      })();
      return closing;
    },
  };
}
