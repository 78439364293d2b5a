/**
 * The local launcher (cli/launcher/network-runner.ts) with stand-in actors: tiny processes that do
 * what the launcher relies on — read the env it passes, connect to NATS as their own NKEY user, reach
 * their participant's database, and answer the readiness probes over HTTP (the gateway's JSON-RPC, its
 * raft_leader asking consensus over NATS; the tm's /upcheck and /keys). Checks start, readiness,
 * crash-restart, stop, resume, destroy, following the permission list (permit/revoke), the readiness error,
 * and that no child survives its parent (even a SIGKILLed one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { ACTOR_START_ORDER, actorEntry, startNetwork, DIST_DIR, REPO_DIR, type RunningNetwork } from '../../cli/launcher/network-runner.js';
import { databaseExists } from '../../cli/postgres-admin.js';

const execFileP = promisify(execFile);

// Inside the repo so the stand-ins resolve node_modules like the real actors do.
const FAKE_DIST = path.join(REPO_DIR, '.run', `fake-dist-${process.pid}`);

const FAKE_ACTOR = `
import http from 'node:http';
import postgres from 'postgres';
import { loadNetwork, loadSecrets } from ${JSON.stringify(path.join(DIST_DIR, 'lib/network/load.js'))};
import { connectActor } from ${JSON.stringify(path.join(DIST_DIR, 'lib/nats/connect.js'))};
import { subjects } from ${JSON.stringify(path.join(DIST_DIR, 'lib/subjects.js'))};
const e = process.env;
const actor = e.QUORUM_ACTOR;
if (e.FAKE_CRASH === actor) { console.error('fake ' + actor + ' crashing on purpose'); process.exit(3); }
const network = await loadNetwork(e.QUORUM_NETWORK);
const secrets = await loadSecrets(e.QUORUM_SECRETS, network);
if (secrets.participant !== e.QUORUM_PARTICIPANT) throw new Error('wrong secrets');
const sql = postgres(e.QUORUM_PG_URL, { max: 1 });
const [{ db }] = await sql\`select current_database() as db\`;
const nc = await connectActor({ url: e.QUORUM_NATS_URL, network, secrets, actor });
const scope = { net: network.name, participant: secrets.participant };
console.log('fake ' + actor + ' of ' + scope.participant + ' up, db ' + db + ', extra ' + e.FAKE_EXTRA);
let server;
if (actor === 'consensus') {
  nc.subscribe(subjects.consensusStatus(scope), { callback: (err, m) => { if (!err) m.respond(JSON.stringify({ leader: 'p1' })); } });
}
if (actor === 'gateway') {
  const me = network.participants.find((p) => p.id === scope.participant);
  server = http.createServer(async (req, res) => {
    let body = ''; for await (const c of req) body += c;
    const { id, method } = JSON.parse(body);
    let out;
    if (method === 'eth_blockNumber') out = { result: '0x0' };
    else if (method === 'eth_getBlockByNumber') out = { result: { number: '0x0' } };
    else if (['eth_getBalance', 'eth_storageRoot', 'eth_getTransactionCount'].includes(method)) out = { result: '0x0' };
    else if (method === 'eth_getTransactionReceipt') out = { result: null };
    else if (method === 'raft_leader') {
      try { out = { result: JSON.parse(new TextDecoder().decode((await nc.request(subjects.consensusStatus(scope), '', { timeout: 500 })).data)).leader }; }
      catch (err) { out = { error: { code: -32000, message: String(err) } }; }
    } else out = { error: { code: -32601, message: 'no' } };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ jsonrpc: '2.0', id, ...out }));
  }).listen(me.rpcPort, '127.0.0.1');
}
if (actor === 'tm') {
  const me = network.participants.find((p) => p.id === scope.participant);
  server = http.createServer((req, res) => {
    if (req.url === '/keys' && e.FAKE_ENCLAVE_DOWN) { res.statusCode = 503; res.end('enclave away'); return; }
    if (req.url === '/keys') { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [{ key: me.privacyPublicKey }] })); return; }
    res.statusCode = req.url === '/upcheck' ? 200 : 404; res.end("I'm up!");
  }).listen(me.tmPort, '127.0.0.1');
}
const shutdown = async () => { console.log('fake ' + actor + ' stopping'); server?.close(); await nc.close(); await sql.end(); process.exit(0); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
`;

// A parent that starts a network, reports the pids, then waits to be SIGKILLed.
const ORPHAN_PARENT = `
import { startNetwork } from ${JSON.stringify(path.join(DIST_DIR, 'cli/launcher/network-runner.js'))};
const net = await startNetwork({ participants: 1, distDir: ${JSON.stringify(FAKE_DIST)}, dbPrefix: process.env.PREFIX, readyTimeoutMs: 30000 });
console.log(JSON.stringify({ dir: net.dir, pids: [...net.processes().map((p) => p.pid), net.broker().pid] }));
setInterval(() => {}, 1000);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rpc(url: string, method: string): Promise<{ result?: unknown }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }) });
  return (await res.json()) as { result?: unknown };
}

describe('local launcher', () => {
  const prefix = `quorum_lt${process.pid}`;
  let net: RunningNetwork | undefined;

  before(async () => {
    for (const actor of ACTOR_START_ORDER) {
      const entry = actorEntry(actor, FAKE_DIST);
      await mkdir(path.dirname(entry), { recursive: true });
      await writeFile(entry, FAKE_ACTOR);
    }
    await writeFile(path.join(FAKE_DIST, 'orphan-parent.mjs'), ORPHAN_PARENT);
  });

  after(async () => {
    await net?.destroy().catch(() => {});
    await rm(FAKE_DIST, { recursive: true, force: true });
  });

  it('starts, restarts a killed actor, stops, resumes and destroys', async () => {
    net = await startNetwork({ participants: 2, distDir: FAKE_DIST, dbPrefix: prefix, env: { FAKE_EXTRA: 'x1' }, readyTimeoutMs: 30_000 });
    const dir = net.dir;
    const first = net.network;
    assert.equal(net.rpcUrls.length, 2);
    assert.equal((await rpc(net.rpcUrls[1], 'raft_leader')).result, 'p1');
    assert.ok(await databaseExists(`${prefix}_p1`));
    assert.ok(await databaseExists(`${prefix}_p2`));
    assert.equal(net.processes().length, 2 * ACTOR_START_ORDER.length);
    assert.ok(net.processes().every((p) => p.running));

    // crash-restart
    const before = net.processes().find((p) => p.participant === 'p1' && p.actor === 'consensus')!;
    await net.kill('p1', 'consensus');
    assert.equal(alive(before.pid!), false);
    await until(() => net!.processes().find((p) => p.participant === 'p1' && p.actor === 'consensus')!.running, 10_000, 'restart');
    const afterKill = net.processes().find((p) => p.participant === 'p1' && p.actor === 'consensus')!;
    assert.notEqual(afterKill.pid, before.pid);
    assert.equal(afterKill.restarts, 1);
    await net.waitReady(15_000);

    // stop: every process gone, nothing restarted
    const pids = net.processes().map((p) => p.pid!);
    await net.stop();
    assert.deepEqual(pids.filter(alive), []);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(net.processes().every((p) => !p.running));

    // resume from the same dir: same network, same databases
    net = await startNetwork({ dir, distDir: FAKE_DIST, readyTimeoutMs: 30_000 });
    assert.deepEqual(net.network, first);
    assert.equal(net.dbPrefix, prefix);
    await net.destroy();
    assert.equal(await databaseExists(`${prefix}_p1`), false);
    net = undefined;
    await rm(dir, { recursive: true, force: true }); // we passed dir explicitly, so destroy kept it
  });

  it('follows the permission list: permit starts a participant, revoke stops it (handle and admin command)', async () => {
    // One participant to start with keeps this cheap: each permit adds seven processes.
    const n = await startNetwork({ participants: 1, distDir: FAKE_DIST, dbPrefix: `${prefix}p`, readyTimeoutMs: 30_000 });
    const pidsOf = (id: string) => n.processes().filter((p) => p.participant === id).map((p) => p.pid!);
    try {
      // What the admin command finds: this launcher's nats-server.
      const state = JSON.parse(await readFile(path.join(n.dir, 'launcher.json'), 'utf8'));
      assert.equal(state.running.launcherPid, process.pid);
      assert.equal(state.running.nats.url, n.natsUrl);

      const p2 = await n.permit({ name: 'Bank B' });
      assert.equal(p2.id, 'p2');
      assert.deepEqual(n.network.participants.map((p) => p.id), ['p1', 'p2']);
      assert.equal(n.rpcUrls.length, 2);
      await n.waitParticipantReady('p2', 20_000);
      assert.ok(await databaseExists(`${prefix}p_p2`));
      assert.equal(pidsOf('p2').length, ACTOR_START_ORDER.length);
      // p2's fake gateway asks p2's fake consensus over NATS: both are on the broker with their own keys.
      assert.equal((await rpc(n.rpcUrls[1], 'raft_leader')).result, 'p1');

      const p2pids = pidsOf('p2');
      await n.revoke('p2');
      assert.deepEqual(p2pids.filter(alive), []);
      assert.deepEqual(pidsOf('p2'), []);
      assert.deepEqual(n.network.participants.map((p) => p.id), ['p1']);
      await n.waitReady(10_000); // p1 is untouched

      // The admin command only edits files and reloads the broker; the launcher sees network.json change.
      const admin = (...args: string[]) => execFileP(process.execPath, [path.join(DIST_DIR, 'cli/admin.js'), ...args, '--dir', n.dir]);
      assert.match((await admin('permit')).stdout, /permitted p3 .*reloaded/); // p2's keys remain: not reused
      // (That the broker accepts a CLI-permitted participant is test/int/permission-list.test.ts's business.)
      await until(() => pidsOf('p3').length === ACTOR_START_ORDER.length, 10_000, 'the launcher to start p3');
      const p3pids = pidsOf('p3');
      await admin('revoke', 'p3');
      await until(() => pidsOf('p3').length === 0 && p3pids.every((p) => !alive(p)), 15_000, 'the launcher to stop p3');
    } finally {
      await n.destroy();
    }
    assert.equal(await databaseExists(`${prefix}p_p2`), false, 'destroy drops the databases of permitted participants too');
    assert.equal(await databaseExists(`${prefix}p_p3`), false);
  });

  it('restarts a killed nats-server on the same port; the actors reconnect on their own', async () => {
    const n = await startNetwork({ participants: 1, distDir: FAKE_DIST, dbPrefix: `${prefix}n`, readyTimeoutMs: 30_000 });
    try {
      const first = n.broker();
      const actorPids = n.processes().map((p) => p.pid);
      await n.killBroker('SIGKILL');
      assert.equal(alive(first.pid), false);
      await until(() => n.broker().running, 15_000, 'the launcher to start the nats-server again');
      const second = n.broker();
      assert.notEqual(second.pid, first.pid);
      assert.equal(second.restarts, first.restarts + 1);
      // The admin command finds the new server.
      await until(async () => JSON.parse(await readFile(path.join(n.dir, 'launcher.json'), 'utf8')).running?.nats?.pid === second.pid, 5_000, 'launcher.json to name the new pid');
      // The fake gateway asks the fake consensus over NATS again: both reconnected, and nobody was restarted.
      await n.waitReady(15_000);
      assert.equal((await rpc(n.rpcUrls[0], 'raft_leader')).result, 'p1');
      assert.deepEqual(n.processes().map((p) => p.pid), actorPids);
    } finally {
      await n.destroy();
    }
    assert.equal(await databaseExists(`${prefix}n_p1`), false);
  });

  it('brokers per participant: one cluster; losing one broker loses one participant; a permitted one gets its own', async () => {
    const n = await startNetwork({ participants: 2, distDir: FAKE_DIST, dbPrefix: `${prefix}m`, brokers: 'per-participant', restartCrashed: false, readyTimeoutMs: 30_000 });
    try {
      assert.notEqual(n.natsUrls.p1, n.natsUrls.p2);
      assert.equal(n.natsUrl, n.natsUrls.p1);
      const p3 = await n.permit({ name: 'Bank C' });
      await n.waitParticipantReady(p3.id, 20_000);
      assert.equal(new Set(Object.values(n.natsUrls)).size, 3, 'the permitted participant has a broker of its own');
      const p3broker = n.broker(p3.id).pid;

      await n.killBroker('SIGKILL', 'p2');
      assert.equal(n.broker('p2').running, false);
      // p1's gateway still reaches p1's consensus through p1's broker; p2's cannot reach its own.
      assert.equal((await rpc(n.rpcUrls[0], 'raft_leader')).result, 'p1');
      const p2answer = await rpc(n.rpcUrls[1], 'raft_leader');
      assert.equal(p2answer.result, undefined, `p2 answered ${JSON.stringify(p2answer)} without its broker`);

      await n.revoke(p3.id);
      await until(() => !alive(p3broker), 10_000, "p3's broker to stop with p3");
    } finally {
      await n.destroy();
    }
  });

  /** Long enough for the stand-in actors to start on a loaded 2-core machine, so the failure is the intended one. */
  const NEVER_READY_MS = 8_000;

  it('a network that never gets ready fails with the actor logs and leaves nothing running', async () => {
    let started: RunningNetwork | undefined;
    await assert.rejects(
      startNetwork({ participants: 1, distDir: FAKE_DIST, dbPrefix: `${prefix}b`, env: { FAKE_CRASH: 'gateway' }, readyTimeoutMs: NEVER_READY_MS }).then((n) => (started = n)),
      (err: Error) => {
        assert.match(err.message, new RegExp(`not ready after ${NEVER_READY_MS} ms`));
        assert.match(err.message, /fake gateway crashing on purpose/);
        assert.match(err.message, /p1-state\.log/);
        return true;
      },
    );
    assert.equal(started, undefined);
    // It started in a temp dir, so it cleaned up after itself.
    assert.equal(await databaseExists(`${prefix}b_p1`), false);
  });

  it('READY waits for every actor: an enclave that does not answer through its tm keeps the network not ready', async () => {
    await assert.rejects(
      startNetwork({ participants: 1, distDir: FAKE_DIST, dbPrefix: `${prefix}d`, env: { FAKE_ENCLAVE_DOWN: '1' }, readyTimeoutMs: NEVER_READY_MS }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`not ready after ${NEVER_READY_MS} ms`));
        assert.match(err.message, /p1 enclave \(through its tm\): GET http:\/\/127\.0\.0\.1:\d+\/keys: HTTP 503 enclave away/);
        return true;
      },
    );
    assert.equal(await databaseExists(`${prefix}d_p1`), false);
  });

  it('children die with a SIGKILLed parent', async () => {
    const parent = spawn(process.execPath, [path.join(FAKE_DIST, 'orphan-parent.mjs')], {
      env: { ...process.env, PREFIX: `${prefix}c` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    parent.stdout!.on('data', (d) => (out += d));
    await until(() => out.includes('\n') || parent.exitCode !== null, 40_000, 'orphan parent to start its network');
    const { dir, pids } = JSON.parse(out.trim().split('\n').pop()!) as { dir: string; pids: number[] };
    try {
      assert.equal(pids.length, ACTOR_START_ORDER.length + 1);
      assert.ok(pids.every(alive));
      parent.kill('SIGKILL');
      await until(() => pids.every((p) => !alive(p)), 10_000, 'children to die with their parent');
    } finally {
      // Whatever failed: nothing of this network outlives the test.
      parent.kill('SIGKILL');
      for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
      const { dropDatabase } = await import('../../cli/postgres-admin.js');
      await dropDatabase(`${prefix}c_p1`);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
