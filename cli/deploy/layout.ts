/**
 * The container deployment's naming, in one place: which files `npm run deploy-config` writes, where
 * infra/docker-compose.yml mounts them, what each service is called and which addresses the actors use inside
 * the compose network. The compose file spells the same names by hand; test/int/compose.test.ts checks that it
 * does.
 */
import type { ActorName } from '../../lib/network/description.js';

/** Files under the deploy-config output directory (infra/generated), relative to it. */
export const GeneratedFile = {
  network: 'network.json',
  /** One participant's secrets, without the enclave password (mode 0600). */
  secrets: (participant: string) => `secrets/${participant}.json`,
  /** The password that unlocks the participant's enclave key (mode 0600); only the enclave mounts it. */
  enclavePassword: (participant: string) => `secrets/${participant}.enclave-password`,
  /** The nats-server configuration of the participant's broker (one per participant, joined as a cluster). */
  natsConfig: (participant: string) => `nats/nats-${participant}.conf`,
  /** Run once by the postgres image on an empty data directory: one role and one database per participant. */
  postgresInit: 'postgres/init.sql',
  /** Variables docker compose interpolates (`--env-file`): passwords and the uid/gid the actors run as. */
  composeEnv: 'compose.env',
  /** The gateways' JSON-RPC security (cli/deploy/rpc-security.ts). The two private keys are never mounted. */
  rpc: {
    caKey: 'tls/ca.key',
    caCert: 'tls/ca.crt',
    gatewayKey: (participant: string) => `tls/${participant}-rpc.key`,
    gatewayCert: (participant: string) => `tls/${participant}-rpc.crt`,
    issuerPrivateKey: 'jwt/issuer-private.pem',
    issuerPublicKey: 'jwt/issuer-public.pem',
    healthToken: 'jwt/health.token',
  },
} as const;

/** Ports inside the compose network (each service has its own address, so every broker uses the same ones). */
export const NATS_CLIENT_PORT = 4222;
export const NATS_MONITOR_PORT = 8222;
export const NATS_ROUTE_PORT = 6222;
const POSTGRES_PORT = 5432;

/** Compose service names. */
const ACTOR_SLUG: Record<ActorName, string> = {
  gateway: 'gateway',
  consensus: 'consensus',
  executor: 'executor',
  state: 'state',
  privateState: 'private-state',
  tm: 'tm',
  enclave: 'enclave',
};
export const serviceName = (participant: string, actor: ActorName): string => `${participant}-${ACTOR_SLUG[actor]}`;
export const natsService = (participant: string): string => `nats-${participant}`;
const POSTGRES_SERVICE = 'postgres';

/** One role and one database per participant; the role owns its database and nothing else. */
export const postgresRole = (participant: string): string => participant;
export const postgresDatabase = (participant: string): string => `quorum_${participant}`;
/** The compose variable (in compose.env) holding a participant's database password. */
export const postgresPasswordVar = (participant: string): string => `QUORUM_PG_PASSWORD_${participant.toUpperCase()}`;
export const postgresUrl = (participant: string, password: string): string =>
  `postgres://${postgresRole(participant)}:${password}@${POSTGRES_SERVICE}:${POSTGRES_PORT}/${postgresDatabase(participant)}`;
