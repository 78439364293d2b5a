/**
 * The nats-server configuration, generated from the network description and `permissionsFor`
 * (lib/subjects.ts). One NKEY user per actor per participant; nobody else can connect (no
 * anonymous user, no no_auth_user). Checked against nats-server 2.9 (`nats-server -t -c <file>`).
 */
import { ACTORS, type ActorName, type NetworkDescription } from '../../lib/network/description.js';
import { permissionsFor, type Permissions } from '../../lib/subjects.js';

export interface NatsConfigOptions {
  port: number;
  /** Listen address. Default 127.0.0.1 (the local launcher); docker-compose uses 0.0.0.0. */
  host?: string;
  /** Default '8MB'. */
  maxPayload?: string;
  /** Optional HTTP monitoring port (on the same host). */
  httpPort?: number;
  /** Written as `pid_file`. */
  pidFile?: string;
  /** Server name shown in logs / INFO. */
  serverName?: string;
  /** Joins this server to others as one cluster (one broker per participant). */
  cluster?: NatsClusterOptions;
}

/**
 * The cluster block: every broker listens for routes and names the others'; route connections authenticate with
 * a user and password of their own (clients never use them). The generated users and permissions are the same
 * on every broker, so an actor's rights do not depend on which broker it reaches.
 */
export interface NatsClusterOptions {
  name: string;
  /** Route listener, host:port. */
  listen: string;
  /** The other brokers' route listeners, host:port. */
  routes: string[];
  routeUser: string;
  routePassword: string;
  /**
   * Do not tell clients about the other brokers: an actor stays on its participant's broker (and waits for it to
   * come back) rather than moving to another participant's. Default true.
   */
  noAdvertise?: boolean;
}

export interface NatsUser {
  participant: string;
  actor: ActorName;
  nkey: string;
  permissions: Permissions;
}

/** Every user of the network with its permissions, in a stable order (participants, then actors). */
export function natsUsers(network: NetworkDescription): NatsUser[] {
  const users: NatsUser[] = [];
  for (const p of network.participants) {
    for (const actor of ACTORS) {
      const nkey = p.nkeys[actor];
      if (!nkey) throw new Error(`participant ${p.id} has no nkey for ${actor}`);
      users.push({ participant: p.id, actor, nkey, permissions: permissionsFor({ net: network.name, participant: p.id }, actor) });
    }
  }
  return users;
}

const q = (s: string) => JSON.stringify(s); // nats config accepts JSON-style double-quoted strings

function subjectPermission(allow: string[]): string {
  // "Nothing" is spelled as deny-all rather than an empty allow list, whose meaning has varied between
  // nats-server versions (absent allow = unrestricted). Replies still go through: allow_responses is
  // checked after allow/deny (tested in test/int/nats-permissions.test.ts).
  if (allow.length === 0) return `{ deny: [${q('>')}] }`;
  return `{ allow: [${allow.map(q).join(', ')}] }`;
}

export function natsServerConfig(network: NetworkDescription, opts: NatsConfigOptions): string {
  const host = opts.host ?? '127.0.0.1';
  const lines: string[] = [];
  lines.push(`# Generated from the description of network ${q(network.name)} by cli/nats/server-config.ts. Do not edit.`);
  if (opts.serverName) lines.push(`server_name: ${q(opts.serverName)}`);
  lines.push(`listen: ${q(`${host}:${opts.port}`)}`);
  lines.push(`max_payload: ${opts.maxPayload ?? '8MB'}`);
  if (opts.httpPort !== undefined) lines.push(`http: ${q(`${host}:${opts.httpPort}`)}`);
  if (opts.pidFile) lines.push(`pid_file: ${q(opts.pidFile)}`);
  if (opts.cluster) {
    const c = opts.cluster;
    const auth = `${encodeURIComponent(c.routeUser)}:${encodeURIComponent(c.routePassword)}`;
    lines.push('cluster {');
    lines.push(`  name: ${q(c.name)}`);
    lines.push(`  listen: ${q(c.listen)}`);
    lines.push(`  no_advertise: ${c.noAdvertise ?? true}`);
    lines.push(`  authorization { user: ${q(c.routeUser)}, password: ${q(c.routePassword)}, timeout: 2 }`);
    lines.push(`  routes: [${c.routes.map((r) => q(`nats-route://${auth}@${r}`)).join(', ')}]`);
    lines.push('}');
  }
  lines.push('');
  lines.push('authorization {');
  lines.push('  users = [');
  for (const u of natsUsers(network)) {
    lines.push(`    # ${u.participant} ${u.actor}`);
    lines.push(`    {`);
    lines.push(`      nkey: ${q(u.nkey)}`);
    lines.push(`      permissions: {`);
    lines.push(`        publish: ${subjectPermission(u.permissions.publish)}`);
    lines.push(`        subscribe: ${subjectPermission(u.permissions.subscribe)}`);
    lines.push(`        allow_responses: true`);
    lines.push(`      }`);
    lines.push(`    }`);
  }
  lines.push('  ]');
  lines.push('}');
  return lines.join('\n') + '\n';
}
