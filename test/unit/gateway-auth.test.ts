import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { loadRpcSecurity, rpcSecurityFromEnv, securityWarnings } from '../../actors/gateway/auth/config.js';
import { AuthCode, SCOPE_DENIED_MESSAGE } from '../../actors/gateway/auth/errors.js';
import { mintToken } from '../../actors/gateway/auth/mint.js';
import { restrictMethods } from '../../actors/gateway/auth/restrict.js';
import { ADMIN_METHODS, compileScope, PRIVATE_METHODS, ScopeClaim } from '../../actors/gateway/auth/scope.js';
import { createTokenVerifier, parseVerificationKey, type AuthResult } from '../../actors/gateway/auth/token.js';
import { createDispatcher } from '../../actors/gateway/rpc/dispatch.js';
import { createConsensusMethods } from '../../actors/gateway/rpc/consensus-methods.js';
import { createPrivateMethods } from '../../actors/gateway/rpc/private-methods.js';
import type { Method } from '../../actors/gateway/rpc/methods.js';
import { FakeBackend, silentLog } from './gateway-fakes.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const es256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const issuer = es256();
const publicPem = issuer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const verifier = createTokenVerifier({ key: parseVerificationKey(publicPem) });
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function jwt(claims: Record<string, unknown>, opts: { key?: Parameters<SignJWT['sign']>[0]; alg?: string } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'ES256', typ: 'JWT' }).sign(opts.key ?? issuer.privateKey);
}
const bearer = (t: string) => `Bearer ${t}`;
function refused(r: AuthResult): { reason: string; message: string } {
  assert.equal(r.ok, false, 'expected the token to be refused');
  return r as never;
}

describe('gateway auth: scope matching', () => {
  const allows = (scope: string | string[], method: string) => compileScope(ScopeClaim.parse(scope)).allows(method);

  it('namespace patterns match their namespace only', () => {
    assert.ok(allows('eth_*', 'eth_chainId'));
    assert.ok(allows('eth_*', 'eth_sendRawPrivateTransaction'), 'eth_* is literal: it includes the private eth_ methods');
    assert.ok(!allows('eth_*', 'net_version'));
    assert.ok(!allows('eth_*', 'xeth_chainId'));
    assert.ok(allows('net_* web3_*', 'web3_clientVersion'));
    assert.ok(allows(['raft_*', 'istanbul_*'], 'istanbul_getValidators'));
    assert.ok(!allows(['raft_*', 'istanbul_*'], 'eth_chainId'));
    assert.ok(allows('eth_get*', 'eth_getBalance'));
    assert.ok(!allows('eth_get*', 'eth_gasPrice'));
    assert.ok(!allows('eth.*', 'eth_chainId'), 'only * is special');
  });

  it('exact names, and GoQuorum’s rpc:// prefix', () => {
    assert.ok(allows('eth_chainId', 'eth_chainId'));
    assert.ok(!allows('eth_chainId', 'eth_chainIdX'));
    assert.ok(allows('rpc://eth_* rpc://net_version', 'net_version'));
  });

  it('* allows everything, including methods that do not exist', () => {
    for (const m of ['eth_chainId', 'raft_addPeer', 'admin_peers', 'anything']) assert.ok(allows('*', m));
  });

  it('private: the private-transaction methods only', () => {
    for (const m of PRIVATE_METHODS) assert.ok(allows('private', m), m);
    assert.ok(!allows('private', 'eth_chainId'));
    assert.ok(!allows('private', 'eth_sendRawTransaction'));
  });

  it('admin: admin_* and the membership changes, not the consensus queries', () => {
    for (const m of ['admin_nodeInfo', 'raft_addPeer', 'raft_addLearner', 'raft_promoteToPeer', 'raft_removePeer', 'istanbul_propose', 'istanbul_discard']) assert.ok(allows('admin', m), m);
    for (const m of ['raft_leader', 'raft_cluster', 'istanbul_getValidators', 'eth_chainId']) assert.ok(!allows('admin', m), m);
  });

  it('the aliases name methods the gateway has (kept in step with rpc/)', () => {
    const privateNames = Object.keys(createPrivateMethods({} as never).methods).sort();
    assert.deepEqual([...PRIVATE_METHODS].sort(), privateNames);
    const consensus = Object.keys(createConsensusMethods(new FakeBackend()));
    for (const m of ADMIN_METHODS.filter((m) => !m.includes('*'))) assert.ok(consensus.includes(m), `${m} is a consensus method`);
  });

  it('equal scopes have equal keys whatever their spelling', () => {
    const key = (s: string | string[]) => compileScope(ScopeClaim.parse(s)).key;
    assert.equal(key('net_*  eth_*'), key(['eth_*', 'rpc://net_*', 'eth_*']));
    assert.notEqual(key('eth_*'), key('net_*'));
  });

  it('the claim: a string or a list of strings, not empty', () => {
    assert.deepEqual(ScopeClaim.parse(' eth_*  net_* '), ['eth_*', 'net_*']);
    assert.deepEqual(ScopeClaim.parse(['eth_*']), ['eth_*']);
    for (const bad of ['', '   ', [], 42, [1], null, { eth: true }]) assert.equal(ScopeClaim.safeParse(bad).success, false, JSON.stringify(bad));
  });
});

describe('gateway auth: token verification (time injected)', () => {
  const valid = { scope: 'eth_* net_*', exp: NOW_S + 3600 };

  it('a valid token passes and gives its scope', async () => {
    const r = await verifier.verify(bearer(await jwt(valid)), NOW);
    assert.ok(r.ok);
    assert.equal(r.expiresAt, NOW_S + 3600);
    assert.ok(r.scope.allows('eth_chainId'));
    assert.ok(r.scope.allows('net_version'));
    assert.ok(!r.scope.allows('raft_addPeer'));
  });

  it('a token from mintToken (the CLI) passes', async () => {
    const token = await mintToken({ privateKey: issuer.privateKey, scope: 'private admin', ttlSeconds: 60, now: NOW });
    const r = await verifier.verify(bearer(token), NOW);
    assert.ok(r.ok);
    assert.ok(r.scope.allows('eth_getQuorumPayload'));
    assert.ok(!r.scope.allows('eth_chainId'));
    refused(await verifier.verify(bearer(token), new Date(NOW.getTime() + 120_000)));
  });

  it('no token → missing', async () => {
    for (const h of [undefined, '', '  ']) {
      assert.deepEqual(refused(await verifier.verify(h, NOW)), { ok: false, reason: 'missing', message: 'unauthorized: missing bearer token (Authorization: Bearer <JWT>)' });
    }
  });

  it('not a bearer token → malformed', async () => {
    const r = refused(await verifier.verify('Basic dXNlcjpwYXNz', NOW));
    assert.equal(r.message, 'unauthorized: expected an Authorization header of the form "Bearer <JWT>"');
    assert.deepEqual(refused(await verifier.verify('Bearer not-a-jwt', NOW)), { ok: false, reason: 'malformed', message: 'unauthorized: malformed token' });
  });

  it('expired → refused, with 30 s of clock skew allowed', async () => {
    const token = await jwt({ ...valid, exp: NOW_S - 10 });
    assert.ok((await verifier.verify(bearer(token), NOW)).ok, '10 s past exp is within the skew');
    const r = refused(await verifier.verify(bearer(token), new Date((NOW_S + 25) * 1000)));
    assert.deepEqual(r, { ok: false, reason: 'expired', message: 'unauthorized: token expired' });
  });

  it('exp is required', async () => {
    const r = refused(await verifier.verify(bearer(await jwt({ scope: '*' })), NOW));
    assert.equal(r.reason, 'claims');
    assert.equal(r.message, 'unauthorized: token claim check failed: missing required "exp" claim');
  });

  it('not yet valid (nbf) → refused', async () => {
    const r = refused(await verifier.verify(bearer(await jwt({ ...valid, nbf: NOW_S + 600 })), NOW));
    assert.equal(r.reason, 'claims');
  });

  it('signed by another key → refused', async () => {
    const other = es256();
    const r = refused(await verifier.verify(bearer(await jwt(valid, { key: other.privateKey })), NOW));
    assert.deepEqual(r, { ok: false, reason: 'signature', message: 'unauthorized: token signature verification failed' });
  });

  it('a tampered payload → refused', async () => {
    const [h, , s] = (await jwt(valid)).split('.');
    const r = refused(await verifier.verify(bearer(`${h}.${b64url({ ...valid, scope: '*' })}.${s}`), NOW));
    assert.equal(r.reason, 'signature');
  });

  it('another algorithm → refused: HS256 keyed with the public key, EdDSA, ES384', async () => {
    const expected = { ok: false, reason: 'algorithm', message: 'unauthorized: token algorithm not allowed (expected ES256)' };
    // The classic confusion attack: HMAC with the (public) verification key as the secret.
    const hs = await jwt(valid, { alg: 'HS256', key: new TextEncoder().encode(publicPem) });
    assert.deepEqual(refused(await verifier.verify(bearer(hs), NOW)), expected);
    const ed = await jwt(valid, { alg: 'EdDSA', key: generateKeyPairSync('ed25519').privateKey });
    assert.deepEqual(refused(await verifier.verify(bearer(ed), NOW)), expected);
    const es384 = await jwt(valid, { alg: 'ES384', key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey });
    assert.deepEqual(refused(await verifier.verify(bearer(es384), NOW)), expected);
  });

  it('alg none (unsigned) → refused', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...valid, scope: '*' })}.`;
    assert.deepEqual(refused(await verifier.verify(bearer(unsigned), NOW)), { ok: false, reason: 'algorithm', message: 'unauthorized: token algorithm not allowed (expected ES256)' });
  });

  it('no scope, or a scope that is not a method list → refused', async () => {
    assert.deepEqual(refused(await verifier.verify(bearer(await jwt({ exp: NOW_S + 60 })), NOW)), { ok: false, reason: 'scope', message: 'unauthorized: token has no scope claim' });
    assert.equal(refused(await verifier.verify(bearer(await jwt({ exp: NOW_S + 60, scope: 7 })), NOW)).message, 'unauthorized: token scope claim is not a list of methods');
  });

  it('issuer and audience, when configured, are required', async () => {
    const strict = createTokenVerifier({ key: parseVerificationKey(publicPem), issuer: 'ops', audience: ['rpc-p1'] });
    const good = await jwt({ ...valid, iss: 'ops', aud: 'rpc-p1' });
    assert.ok((await strict.verify(bearer(good), NOW)).ok);
    assert.equal(refused(await strict.verify(bearer(await jwt({ ...valid, iss: 'ops', aud: 'rpc-p2' })), NOW)).reason, 'claims');
    assert.equal(refused(await strict.verify(bearer(await jwt({ ...valid, aud: 'rpc-p1' })), NOW)).reason, 'claims');
  });

  it('EdDSA keys, and keys given as JWK', async () => {
    const ed = generateKeyPairSync('ed25519');
    const jwk = JSON.stringify(ed.publicKey.export({ format: 'jwk' }));
    const v = createTokenVerifier({ key: parseVerificationKey(jwk) });
    assert.ok((await v.verify(bearer(await jwt(valid, { alg: 'EdDSA', key: ed.privateKey })), NOW)).ok);
    assert.equal(refused(await v.verify(bearer(await jwt(valid)), NOW)).reason, 'algorithm');
  });

  it('verification keys must be public and asymmetric', () => {
    assert.throws(() => parseVerificationKey(issuer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /must be a public key/);
    assert.throws(() => parseVerificationKey(JSON.stringify(issuer.privateKey.export({ format: 'jwk' }))), /must be a public key/);
    assert.throws(() => parseVerificationKey(JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' })), /must be a public key/);
    assert.throws(() => parseVerificationKey(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()), /unsupported EC curve/);
  });
});

describe('gateway auth: per-call scope in a batch', () => {
  it('allowed calls run, the others answer method not allowed by token scope without running', async () => {
    const ran: string[] = [];
    const methods: Record<string, Method> = {
      eth_chainId: async () => (ran.push('eth_chainId'), '0x539'),
      net_version: async () => (ran.push('net_version'), '1337'),
      raft_addPeer: async () => (ran.push('raft_addPeer'), 1),
    };
    const scope = compileScope(ScopeClaim.parse('eth_* net_*'));
    const dispatcher = createDispatcher(restrictMethods(methods, scope.allows), { log: silentLog });
    const call = (id: number, method: string) => ({ jsonrpc: '2.0', id, method, params: [] });
    const out = await dispatcher.handle(JSON.stringify([call(1, 'eth_chainId'), call(2, 'raft_addPeer'), call(3, 'net_version'), call(4, 'nope_nothing')]));
    assert.deepEqual(out, [
      { jsonrpc: '2.0', id: 1, result: '0x539' },
      { jsonrpc: '2.0', id: 2, error: { code: AuthCode.Unauthorized, message: SCOPE_DENIED_MESSAGE, data: { method: 'raft_addPeer' } } },
      { jsonrpc: '2.0', id: 3, result: '1337' },
      { jsonrpc: '2.0', id: 4, error: { code: -32601, message: 'the method nope_nothing does not exist/is not available' } },
    ]);
    assert.deepEqual(ran.sort(), ['eth_chainId', 'net_version']);
    assert.equal(SCOPE_DENIED_MESSAGE, 'method not allowed by token scope');
    assert.equal(AuthCode.Unauthorized, -32001);
  });
});

describe('gateway auth: configuration', () => {
  it('off when nothing (or only empty values) is set', () => {
    assert.deepEqual(rpcSecurityFromEnv({}), {});
    assert.deepEqual(rpcSecurityFromEnv({ QUORUM_RPC_TLS_CERT: '', QUORUM_RPC_TLS_KEY: ' ', QUORUM_RPC_JWT_PUBLIC_KEY_FILE: '' }), {});
  });

  it('reads every variable', () => {
    assert.deepEqual(
      rpcSecurityFromEnv({
        QUORUM_RPC_TLS_CERT: '/run/secrets/cert.pem',
        QUORUM_RPC_TLS_KEY: '/run/secrets/key.pem',
        QUORUM_RPC_JWT_PUBLIC_KEY_FILE: '/run/secrets/jwt.pub',
        QUORUM_RPC_JWT_ISSUER: 'ops',
        QUORUM_RPC_JWT_AUDIENCE: 'rpc-p1, rpc-all',
      }),
      { tls: { certFile: '/run/secrets/cert.pem', keyFile: '/run/secrets/key.pem' }, jwt: { publicKeyFile: '/run/secrets/jwt.pub', issuer: 'ops', audience: ['rpc-p1', 'rpc-all'] } },
    );
  });

  it('refuses half a configuration', () => {
    assert.throws(() => rpcSecurityFromEnv({ QUORUM_RPC_TLS_CERT: '/c.pem' }), /QUORUM_RPC_TLS_CERT and QUORUM_RPC_TLS_KEY go together/);
    assert.throws(() => rpcSecurityFromEnv({ QUORUM_RPC_JWT_ISSUER: 'ops' }), /need QUORUM_RPC_JWT_PUBLIC_KEY_FILE/);
  });

  it('loads the key file, naming the file when it is wrong', () => {
    const files: Record<string, string> = { '/jwt.pub': publicPem, '/bad.pub': 'nonsense' };
    const read = (f: string) => {
      if (!(f in files)) throw new Error('ENOENT');
      return Buffer.from(files[f]);
    };
    const s = loadRpcSecurity({ jwt: { publicKeyFile: '/jwt.pub' } }, read);
    assert.ok(s.verifier);
    assert.equal(s.jwtAlgorithm, 'ES256');
    assert.throws(() => loadRpcSecurity({ jwt: { publicKeyFile: '/missing.pub' } }, read), /cannot read JWT public key \/missing.pub/);
    assert.throws(() => loadRpcSecurity({ jwt: { publicKeyFile: '/bad.pub' } }, read), /^Error: \/bad.pub: /);
  });

  it('warns about an open or cleartext endpoint beyond loopback only', async () => {
    const { verifier: v } = loadRpcSecurity({ jwt: { publicKeyFile: '/k' } }, () => Buffer.from(publicPem));
    assert.deepEqual(securityWarnings('127.0.0.1', {}), []);
    assert.deepEqual(securityWarnings('::1', {}), []);
    assert.match(securityWarnings('0.0.0.0', {}).join(), /without authentication/);
    assert.match(securityWarnings('0.0.0.0', { verifier: v }).join(), /unencrypted/);
    assert.deepEqual(securityWarnings('0.0.0.0', { verifier: v, tls: { cert: Buffer.alloc(0), key: Buffer.alloc(0) } }), []);
  });
});
