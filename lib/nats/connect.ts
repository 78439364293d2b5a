/** Connecting to the project's nats-server as one actor's NKEY user, with that actor's scoped reply inbox. */
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import type { ActorName, NetworkDescription, ParticipantSecrets } from '../network/description.js';
import { subjects } from '../subjects.js';

export interface ConnectAsOptions {
  /** e.g. nats://127.0.0.1:4333 (comma-separated list allowed). */
  url: string;
  /** NKEY user seed (SU...). */
  seed: string;
  /** Connection name shown by the server, e.g. 'devnet/p1/gateway'. */
  name: string;
  /** subjects.inboxPrefix(scope, actor): replies to this client's requests land there, inside its permissions. */
  inboxPrefix: string;
  /** Anything else for nats.js (overrides the defaults below). */
  options?: Partial<NodeConnectionOptions>;
}

export async function connectAs(o: ConnectAsOptions): Promise<NatsConnection> {
  return connect({
    servers: o.url.split(',').map((s) => s.trim()).filter(Boolean),
    name: o.name,
    inboxPrefix: o.inboxPrefix,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(o.seed)),
    // Actors outlive broker restarts: keep reconnecting.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // nats.js otherwise builds two Error objects (stack traces) for every request, in case it fails: measurable
    // CPU at thousands of requests per second. Our errors carry the subject instead.
    noAsyncTraces: true,
    ...o.options,
  });
}

export interface ConnectActorOptions {
  url: string;
  network: NetworkDescription;
  secrets: ParticipantSecrets;
  actor: ActorName;
  options?: Partial<NodeConnectionOptions>;
}

/** connectAs with the seed, name and inbox prefix derived from the network and the participant's secrets. */
export async function connectActor(o: ConnectActorOptions): Promise<NatsConnection> {
  const participant = o.secrets.participant;
  const seed = o.secrets.nkeySeeds[o.actor];
  if (!seed) throw new Error(`secrets of ${participant} hold no nkey seed for ${o.actor}`);
  return connectAs({
    url: o.url,
    seed,
    name: `${o.network.name}/${participant}/${o.actor}`,
    inboxPrefix: subjects.inboxPrefix({ net: o.network.name, participant }, o.actor),
    options: o.options,
  });
}
