/**
 * The gateway's JSON-RPC endpoint with TLS and bearer tokens, over the wire: the real server (auth/serve.ts, as
 * startGateway builds it) configured through the real environment variables and files, the real methods over a
 * fake backend (no NATS), keys and tokens made by the token CLI, a self-signed certificate made by openssl, and
 * ethers v6 as the client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { FetchRequest, JsonRpcProvider } from 'ethers';
import { loadRpcSecurity, rpcSecurityFromEnv } from '../../actors/gateway/auth/config.js';
import { mintToken } from '../../actors/gateway/auth/mint.js';
import { createSecureRpcServer, type RpcHttpServer } from '../../actors/gateway/auth/serve.js';
import { createAccounts } from '../../actors/gateway/accounts.js';
import { createMethods } from '../../actors/gateway/rpc/methods.js';
import { closeServer, listen } from '../../actors/gateway/rpc/server.js';
import { CHAIN_ID, common, FakeBackend, KEY, silentLog } from '../unit/gateway-fakes.js';

const TOKEN_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cli/token.js');
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface WireAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

describe('gateway JSON-RPC over HTTPS with bearer tokens', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  let dir = '';
  let server: RpcHttpServer;
  let url = '';
  let ca: Buffer;
  let agent: https.Agent;
  let privateKeyFile = '';
  const backend = new FakeBackend();

  const cli = (...args: string[]) => execFileSync(process.execPath, [TOKEN_CLI, ...args], { encoding: 'utf8' }).trim();
  /** In-process, as the CLI mints (the first test mints through the CLI itself). */
  const token = (scope: string) => mintToken({ privateKey: readFileSync(privateKeyFile, 'utf8'), scope, ttlSeconds: 3600, now: new Date() });

  /** One POST over TLS trusting the test CA; the JSON body parsed. */
  function post(body: unknown, headers: Record<string, string> = {}): Promise<WireAnswer> {
    return new Promise((resolve, reject) => {
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      const req = https.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
  const call = (id: number, method: string, params: unknown[] = []) => ({ jsonrpc: '2.0', id, method, params });

  function provider(bearer?: string): JsonRpcProvider {
    const req = new FetchRequest(url);
    if (bearer) req.setHeader('Authorization', `Bearer ${bearer}`);
    req.getUrlFunc = FetchRequest.createGetUrlFunc({ agent });
    return new JsonRpcProvider(req, CHAIN_ID, { staticNetwork: true, batchMaxCount: 1 });
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gateway-security-'));
    // A self-signed certificate for 127.0.0.1 (node:crypto makes keys, not certificates).
    const certFile = path.join(dir, 'rpc-cert.pem');
    const keyFile = path.join(dir, 'rpc-key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
      { stdio: 'ignore' },
    );
    ca = readFileSync(certFile);
    agent = new https.Agent({ ca, keepAlive: true });

    // The operator's steps: a key pair from the CLI; the public half named to the gateway.
    cli('--generate-keys', path.join(dir, 'issuer'));
    privateKeyFile = path.join(dir, 'issuer', 'rpc-jwt-private.pem');
    const security = loadRpcSecurity(
      rpcSecurityFromEnv({
        QUORUM_RPC_TLS_CERT: certFile,
        QUORUM_RPC_TLS_KEY: keyFile,
        QUORUM_RPC_JWT_PUBLIC_KEY_FILE: path.join(dir, 'issuer', 'rpc-jwt-public.pem'),
      }),
    );
    assert.equal(security.jwtAlgorithm, 'ES256');

    const methods = createMethods({ backend, accounts: createAccounts([KEY], common), common, participant: 'p1', clientVersion: 'quorum-actors/test' });
    const built = createSecureRpcServer({ methods, dispatcher: { log: silentLog }, transport: { log: silentLog, corsOrigins: '*' }, security });
    assert.equal(built.scheme, 'https');
    server = built.server;
    const a = await listen(server, '127.0.0.1', 0);
    url = `https://127.0.0.1:${a.port}`;
  });

  after(async () => {
    agent?.destroy();
    if (server) await closeServer(server);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ethers with a token over HTTPS: eth_chainId and eth_blockNumber', async () => {
    const p = provider(cli('--key', privateKeyFile, '--scope', 'eth_* net_* web3_*', '--ttl', '600'));
    try {
      assert.equal(await p.send('eth_chainId', []), '0x' + CHAIN_ID.toString(16));
      assert.equal(await p.getBlockNumber(), Number(BigInt(backend.headValue.number)));
    } finally {
      p.destroy();
    }
  });

  it('the endpoint is TLS: a client that does not trust the certificate is refused by TLS itself', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => https.request(url, { method: 'POST' }, resolve).on('error', reject).end('{}')),
      (err: NodeJS.ErrnoException) => /SELF_SIGNED|self-signed|certificate/i.test(`${err.code} ${err.message}`),
    );
  });

  it('no token → 401 with a JSON-RPC error body and a Bearer challenge', async () => {
    const r = await post(call(1, 'eth_chainId'));
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'unauthorized: missing bearer token (Authorization: Bearer <JWT>)' } });
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="quorum-rpc"');
  });

  it('ethers without a token fails with the 401', async () => {
    const p = provider();
    try {
      await assert.rejects(p.send('eth_chainId', []), (err: Error) => /401|unauthorized/i.test(String((err as { shortMessage?: string }).shortMessage ?? err.message) + JSON.stringify((err as { info?: unknown }).info ?? {})));
    } finally {
      p.destroy();
    }
  });

  it('an expired token → 401 token expired', async () => {
    const expired = await mintToken({ privateKey: readFileSync(privateKeyFile, 'utf8'), scope: '*', ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) });
    const r = await post(call(1, 'eth_chainId'), { authorization: `Bearer ${expired}` });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'unauthorized: token expired' } });
    assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
  });

  it('a token signed by another key → 401', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = await mintToken({ privateKey: other, scope: '*', ttlSeconds: 60, now: new Date() });
    const r = await post(call(1, 'eth_chainId'), { authorization: `Bearer ${forged}` });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'unauthorized: token signature verification failed' } });
  });

  it('an unsigned (alg none) token → 401', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ scope: '*', exp: Math.floor(Date.now() / 1000) + 60 })}.`;
    const r = await post(call(1, 'eth_chainId'), { authorization: `Bearer ${unsigned}` });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'unauthorized: token algorithm not allowed (expected ES256)' } });
  });

  it('a method outside the scope → a per-call JSON-RPC error; ethers sees it', async () => {
    const readOnly = await token('eth_chainId eth_blockNumber');
    const r = await post(call(7, 'eth_accounts'), { authorization: `Bearer ${readOnly}` });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: 7, error: { code: -32001, message: 'method not allowed by token scope', data: { method: 'eth_accounts' } } });
    const p = provider(readOnly);
    try {
      assert.equal(await p.send('eth_blockNumber', []), backend.headValue.number);
      await assert.rejects(p.send('raft_addPeer', ['p5']), /method not allowed by token scope/);
    } finally {
      p.destroy();
    }
  });

  it('a batch: each call checked against the scope', async () => {
    const r = await post([call(1, 'eth_chainId'), call(2, 'raft_addPeer', ['p5']), call(3, 'net_version'), call(4, 'eth_sendRawPrivateTransaction', ['0x'])], {
      authorization: `Bearer ${await token('eth_chainId net_*')}`,
    });
    assert.equal(r.status, 200);
    const denied = (id: number, method: string) => ({ jsonrpc: '2.0', id, error: { code: -32001, message: 'method not allowed by token scope', data: { method } } });
    assert.deepEqual(r.body, [
      { jsonrpc: '2.0', id: 1, result: '0x' + CHAIN_ID.toString(16) },
      denied(2, 'raft_addPeer'),
      { jsonrpc: '2.0', id: 3, result: String(CHAIN_ID) },
      denied(4, 'eth_sendRawPrivateTransaction'),
    ]);
  });

  it('the private and admin aliases, and *', async () => {
    const body = [call(1, 'eth_chainId'), call(2, 'eth_getQuorumPayload', ['0x' + '00'.repeat(64)]), call(3, 'raft_leader')];
    const codes = async (scope: string) => {
      const r = await post(body, { authorization: `Bearer ${await token(scope)}` });
      return (r.body as { error?: { code: number } }[]).map((x) => x.error?.code === -32001);
    };
    assert.deepEqual(await codes('private'), [true, false, true]);
    assert.deepEqual(await codes('admin'), [true, true, true]);
    assert.deepEqual(await codes('*'), [false, false, false]);
  });

  it('CORS preflight needs no token; refusals carry no stack trace', async () => {
    const pre = await new Promise<number>((resolve, reject) =>
      https
        .request(url, { method: 'OPTIONS', agent, headers: { origin: 'https://dapp.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject)
        .end(),
    );
    assert.equal(pre, 204);
    const r = await post('not json at all', { authorization: 'Bearer x.y.z' });
    assert.equal(r.status, 401);
    assert.doesNotMatch(JSON.stringify(r.body), /at |\.js:|Error:/);
  });

  it('the CLI refuses a bad invocation and never overwrites keys', () => {
    assert.throws(() => execFileSync(process.execPath, [TOKEN_CLI, '--scope', 'eth_*'], { stdio: 'pipe' }), /--key and --scope are required/);
    assert.throws(() => execFileSync(process.execPath, [TOKEN_CLI, '--generate-keys', path.join(dir, 'issuer')], { stdio: 'pipe' }), /EEXIST|exists/);
  });
});
