import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { createDispatcher } from '../../actors/gateway/rpc/dispatch.js';
import { closeServer, createRpcServer, listen } from '../../actors/gateway/rpc/server.js';
import { silentLog } from './gateway-fakes.js';

describe('gateway HTTP transport', () => {
  let server: http.Server;
  let url = '';
  before(async () => {
    const dispatcher = createDispatcher({ echo: async (p) => p }, { log: silentLog });
    server = createRpcServer(dispatcher, { log: silentLog, maxBodyBytes: 1024, corsOrigins: '*' });
    const a = await listen(server, '127.0.0.1', 0);
    url = `http://127.0.0.1:${a.port}`;
  });
  after(() => closeServer(server));

  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => fetch(url, { method: 'POST', body, headers });

  it('POST JSON → 200 with a JSON-RPC response', async () => {
    const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'] }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 1, result: ['x'] });
  });

  it('a notification → 204 without a body', async () => {
    const res = await post(JSON.stringify({ jsonrpc: '2.0', method: 'echo' }));
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
  });

  it('GET → 405 with a JSON-RPC error body', async () => {
    const res = await fetch(url);
    assert.equal(res.status, 405);
    const body = (await res.json()) as { error: { code: number } };
    assert.equal(body.error.code, -32600);
  });

  it('a body over the limit → 413 request too large', async () => {
    const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(2000)] }));
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.match(body.error.message, /^request too large/);
  });

  it('a chunked body over the limit (no content-length) → 413', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('[' + '1,'.repeat(600));
      req.write('1,'.repeat(600));
      req.end('1]');
    });
    assert.equal(status, 413);
  });

  it('a non-JSON content type → 415', async () => {
    const res = await post('{}', { 'content-type': 'text/plain' });
    assert.equal(res.status, 415);
  });

  it('malformed JSON → 200 with -32700', async () => {
    const res = await post('{');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32700);
  });

  it('CORS: preflight and response headers', async () => {
    const pre = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://dapp.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.equal(pre.headers.get('access-control-allow-headers'), 'content-type');
    const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo' }), { 'content-type': 'application/json', origin: 'http://dapp.example' });
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });

  it('CORS is off by default: no origin is allowed', async () => {
    const s = createRpcServer(createDispatcher({}, { log: silentLog }), { log: silentLog });
    const a = await listen(s, '127.0.0.1', 0);
    try {
      const pre = await fetch(`http://127.0.0.1:${a.port}`, { method: 'OPTIONS', headers: { origin: 'http://dapp.example' } });
      assert.equal(pre.headers.get('access-control-allow-origin'), null);
    } finally {
      await closeServer(s);
    }
  });

  it('CORS with an origin list answers only listed origins', async () => {
    const s = createRpcServer(createDispatcher({}, { log: silentLog }), { log: silentLog, corsOrigins: ['http://good.example'] });
    const a = await listen(s, '127.0.0.1', 0);
    try {
      const good = await fetch(`http://127.0.0.1:${a.port}`, { method: 'OPTIONS', headers: { origin: 'http://good.example' } });
      assert.equal(good.headers.get('access-control-allow-origin'), 'http://good.example');
      const bad = await fetch(`http://127.0.0.1:${a.port}`, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } });
      assert.equal(bad.headers.get('access-control-allow-origin'), null);
    } finally {
      await closeServer(s);
    }
  });
});
