import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fromSeed } from '@nats-io/nkeys';
import { privateToAddress } from '@ethereumjs/util';
import { ACTORS, NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import { generateNetwork, generateNetworkFiles, DEFAULT_FUND_BALANCE } from '../../cli/network/generate.js';
import { loadNetwork, loadSecrets } from '../../lib/network/load.js';
import { natsServerConfig } from '../../cli/nats/server-config.js';
import { databaseName, databaseUrl } from '../../cli/postgres-admin.js';

const FUNDED = '0x' + 'Ab'.repeat(20);

describe('network generation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-gen-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a description and 0600 secrets that validate and load back', async () => {
    const { network, secrets, paths } = await generateNetworkFiles(dir, { participants: 4, basePort: 22000, fund: [FUNDED] });
    assert.equal(network.devOnly, true);
    assert.equal(network.chainId, 1337);
    assert.equal(network.name, 'devnet');
    assert.equal(network.consensus.type, 'raft');
    assert.equal(network.consensus.blockPeriodMs, 100);
    assert.deepEqual(network.participants.map((p) => p.id), ['p1', 'p2', 'p3', 'p4']);
    assert.deepEqual(network.participants.map((p) => p.name), ['Participant 1', 'Participant 2', 'Participant 3', 'Participant 4']);
    assert.deepEqual(network.participants.map((p) => p.rpcPort), [22000, 22001, 22002, 22003]);

    const onDisk = NetworkDescription.parse(JSON.parse(await readFile(path.join(dir, 'network.json'), 'utf8')));
    assert.deepEqual(onDisk, network);
    assert.deepEqual(await loadNetwork(paths.network), network);
    const secretsMode = (await stat(paths.secretsDir)).mode & 0o777;
    assert.equal(secretsMode, 0o700);
    for (const p of network.participants) {
      const file = path.join(dir, 'secrets', `${p.id}.json`);
      assert.equal((await stat(file)).mode & 0o777, 0o600, `${file} is 0600`);
      const s = await loadSecrets(file, network);
      assert.deepEqual(s, secrets[p.id]);
      assert.equal(s.devOnly, true);
      ParticipantSecrets.parse(s);
    }
  });

  it('keys are distinct and match their public halves', () => {
    const { network, secrets } = generateNetwork({ participants: 4 });
    const validatorKeys = new Set<string>();
    const nkeys = new Set<string>();
    const accounts = new Set<string>();
    for (const p of network.participants) {
      const s = secrets[p.id];
      validatorKeys.add(p.validatorKey);
      // Ed25519: PKCS8 private key signs, the raw 32-byte public key verifies.
      const priv = createPrivateKey({ key: Buffer.from(s.validatorPrivateKey, 'hex'), format: 'der', type: 'pkcs8' });
      const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(p.validatorKey, 'hex').toString('base64url') }, format: 'jwk' });
      const msg = Buffer.from('hello');
      assert.ok(verify(null, msg, pub, sign(null, msg, priv)));
      for (const a of ACTORS) {
        nkeys.add(p.nkeys[a]);
        assert.equal(fromSeed(new TextEncoder().encode(s.nkeySeeds[a])).getPublicKey(), p.nkeys[a]);
      }
      assert.equal(p.accounts.length, 2);
      p.accounts.forEach((addr, i) => {
        accounts.add(addr);
        assert.match(addr, /^0x[0-9a-f]{40}$/);
        assert.equal('0x' + Buffer.from(privateToAddress(Buffer.from(s.accountKeys[i].slice(2), 'hex'))).toString('hex'), addr);
        assert.equal(network.genesis.alloc[addr]?.balance, DEFAULT_FUND_BALANCE.toString());
      });
    }
    assert.equal(validatorKeys.size, 4);
    assert.equal(nkeys.size, 4 * ACTORS.length);
    assert.equal(accounts.size, 8);
  });

  it('genesis is deterministic apart from keys; extra addresses are funded in lowercase', () => {
    const a = generateNetwork({ participants: 2, fund: [FUNDED], chainId: 99, name: 'other', basePort: 30000 });
    const b = generateNetwork({ participants: 2, fund: [FUNDED], chainId: 99, name: 'other', basePort: 30000 });
    assert.equal(a.network.genesis.timestamp, b.network.genesis.timestamp);
    assert.equal(a.network.genesis.gasLimit, b.network.genesis.gasLimit);
    assert.equal(a.network.chainId, 99);
    assert.deepEqual(a.network.participants.map((p) => p.rpcPort), [30000, 30001]);
    assert.ok(a.network.genesis.alloc[FUNDED.toLowerCase()]);
    assert.equal(Object.keys(a.network.genesis.alloc).length, 5);
    assert.throws(() => generateNetwork({ fund: ['0x1234'] }), /not a 20-byte hex address/);
    assert.throws(() => generateNetwork({ participants: 0 }), /participants/);
  });

  it('loading reports clear errors', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{ nope');
    await assert.rejects(loadNetwork(bad), /not valid JSON/);
    await writeFile(bad, JSON.stringify({ name: 'Bad Name', chainId: -1 }));
    await assert.rejects(loadNetwork(bad), (err: Error) => /network description .* is invalid/s.test(err.message) && /name/.test(err.message));
    await assert.rejects(loadNetwork(path.join(dir, 'missing.json')), /file not found/);
    // secrets of another network do not pass the cross-check
    const other = generateNetwork({ participants: 1 });
    const file = path.join(dir, 'other-p1.json');
    await writeFile(file, JSON.stringify(other.secrets.p1), { mode: 0o600 });
    const mine = await loadNetwork(path.join(dir, 'network.json'));
    await assert.rejects(loadSecrets(file, mine), /does not match/);
    assert.deepEqual(await loadSecrets(file), other.secrets.p1);
  });

  it('the nats config has one nkey user per actor per participant and nothing else', () => {
    const { network } = generateNetwork({ participants: 3 });
    const conf = natsServerConfig(network, { port: 4333 });
    assert.match(conf, /listen: "127\.0\.0\.1:4333"/);
    assert.match(conf, /max_payload: 8MB/);
    assert.equal(conf.match(/nkey: "U[A-Z2-7]{55}"/g)?.length, 3 * ACTORS.length);
    assert.equal(conf.match(/allow_responses: true/g)?.length, 3 * ACTORS.length);
    assert.doesNotMatch(conf, /no_auth_user|password|token/);
  });

  it('database names and URLs', () => {
    assert.equal(databaseName('quorum_ab12', 'p1'), 'quorum_ab12_p1');
    assert.throws(() => databaseName('Bad-"x', 'p1'), /invalid database name|use lowercase/);
    assert.equal(databaseUrl('quorum_x_p1', 'postgres://postgres@127.0.0.1:5432/postgres'), 'postgres://postgres@127.0.0.1:5432/quorum_x_p1');
    assert.equal(databaseUrl('quorum_x_p1', 'postgres://u:pw@h:1/postgres?sslmode=disable'), 'postgres://u:pw@h:1/quorum_x_p1?sslmode=disable');
    assert.equal(databaseUrl('quorum_x_p1', 'postgres://postgres@/postgres?host=/var/run/postgresql'), 'postgres://postgres@/quorum_x_p1?host=/var/run/postgresql');
    assert.equal(databaseUrl('quorum_x_p1', 'postgres://h'), 'postgres://h/quorum_x_p1');
  });
});
