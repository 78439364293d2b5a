/**
 * The transaction manager against a real nats-server (generated permissions) and a real Postgres (one fresh
 * database per participant), with each participant's real enclave: the flow of a private payload (push with
 * ACK, receive, "not a recipient"), what a participant that is not a party cannot obtain, a recipient that is
 * down, recovery of a lost store by resend, the Tessera-compatible HTTP API, and that no plaintext is stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Bus } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { subjects } from '../../lib/subjects.js';
import {
  PayloadKey,
  TmPushAck,
  TmReceiveReply,
  TmResendReply,
  type ReceivedPayload,
} from '../../actors/tm/messages.js';
import { TM_STREAM } from '../../actors/tm/events.js';
import { startTmHarness, type TmHarness } from '../support/tm-harness.js';

let h: TmHarness;
const gw: Record<string, Bus> = {};
/** Every plaintext the tests send, to look for in the databases at the end. */
const plaintexts: string[] = [];

function secret(label: string): string {
  const s = `${label} ${randomBytes(6).toString('hex')}`;
  plaintexts.push(s);
  return s;
}
const hexOf = (s: string) => '0x' + Buffer.from(s).toString('hex');
const b64Of = (s: string) => Buffer.from(s).toString('base64');
const K = (id: string) => h.nodes[id].key;
const randomHash = () => '0x' + randomBytes(64).toString('hex');
const codedAs = (code: string, re: RegExp) => (err: unknown) => {
  assert.ok(err instanceof CodedError, `expected a CodedError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, re);
  return true;
};

function send(from: string, payload: string, to: string[]) {
  return gw[from].request(subjects.tmSend(h.nodes[from].scope), { payload: hexOf(payload), to }, PayloadKey, { timeoutMs: 15_000 });
}
async function receive(at: string, hash: string): Promise<ReceivedPayload> {
  const r = await gw[at].request(subjects.tmReceive(h.nodes[at].scope), { hashes: [hash] }, TmReceiveReply);
  return r.payloads[0];
}
async function events(id: string, type?: string) {
  const all = await h.nodes[id].store.readStream(TM_STREAM);
  return all.filter((e) => type === undefined || e.type === type);
}
async function http(id: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof Uint8Array) init.body = new Uint8Array(body);
  else if (typeof body === 'string') init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(`http://127.0.0.1:${h.nodes[id].httpPort}${path}`, init);
  return { status: res.status, text: await res.text(), headers: res.headers };
}
const tx = (key: string) => `/transaction/${encodeURIComponent(key)}`;

describe('transaction manager (real nats-server, Postgres, enclaves)', () => {
  /** The 1→2 payload, shared by several tests. */
  let h12: PayloadKey;
  let plain12: string;
  /** A payload p2 sent to p3 (p2 is its sender: recovery must bring it back to p2 too). */
  let h23: PayloadKey;
  let plain23: string;

  before(async () => {
    h = await startTmHarness({ participants: 4 });
    for (const id of Object.keys(h.nodes)) gw[id] = await h.busAs(id, 'gateway');
  });

  after(async () => {
    await h?.close();
  });

  it('p1 sends to p2: every ACK before the hash; p1 and p2 read the plaintext; p3 is not a recipient', async () => {
    plain12 = secret('salary of alice, p1 to p2:');
    h12 = await send('p1', plain12, [K('p2')]);
    assert.match(h12.hashHex, /^0x[0-9a-f]{128}$/);
    assert.equal(Buffer.from(h12.key, 'base64').toString('hex'), h12.hashHex.slice(2));
    for (const id of ['p1', 'p2']) {
      const r = await receive(id, h12.hashHex);
      assert.ok(r.found, `${id} should hold the payload`);
      assert.equal(r.payload, hexOf(plain12));
      assert.equal(r.senderKey, K('p1'));
      assert.deepEqual([...r.recipientKeys].sort(), [K('p1'), K('p2')].sort());
      assert.equal(r.privacyFlag, 0);
    }
    assert.deepEqual(await receive('p3', h12.hashHex), { hash: h12.hashHex, found: false });
    // The record: stored, pushed (before sending), acknowledged; the recipient stored it from a push.
    const flow = (await events('p1')).filter((e) => (e.payload as { hash?: string }).hash === h12.hashHex);
    assert.deepEqual(flow.map((e) => e.type), ['PayloadStored', 'PayloadPushed', 'PushAcknowledged']);
    assert.deepEqual(flow[0].payload, { hash: h12.hashHex, origin: 'send', sender: 'p1', recipients: ['p2'] });
    assert.deepEqual((await events('p1', 'PushAcknowledged'))[0].payload, { hash: h12.hashHex, by: ['p2'] });
    assert.deepEqual((await events('p2', 'PayloadStored'))[0].payload, { hash: h12.hashHex, origin: 'push', sender: 'p1', recipients: ['p2'] });

    plain23 = secret('p2 to p3 terms:');
    h23 = await send('p2', plain23, [K('p3'), K('p2')]);
    assert.equal((await receive('p3', h23.hashHex)).found, true);
    assert.equal((await receive('p1', h23.hashHex)).found, false);
  });

  it('refuses an unknown recipient key and a privateFrom that is not ours, clearly', async () => {
    const stranger = Buffer.alloc(32, 7).toString('base64');
    await assert.rejects(send('p1', 'x', [stranger]), codedAs(ErrorCode.InvalidInput, /unknown recipient key/));
    await assert.rejects(
      gw.p1.request(subjects.tmSend(h.nodes.p1.scope), { payload: '0x01', from: K('p2'), to: [K('p3')] }, PayloadKey),
      codedAs(ErrorCode.InvalidInput, /privateFrom .* is not a key of this transaction manager/),
    );
  });

  it('p3 cannot obtain the 1→2 payload: resend goes to the key owner, pushes carry their sender', async () => {
    const tm3 = await h.busAs('p3', 'tm');
    // Asking p1 to resend p2's payloads: they are pushed to p2 (which already holds them), never to p3.
    const r = await tm3.request(subjects.tmResend(h.net, 'p1', 'p3'), { key: K('p2') }, TmResendReply, { timeoutMs: 10_000 });
    assert.ok(r.pushed >= 1);
    assert.deepEqual(await receive('p3', h12.hashHex), { hash: h12.hashHex, found: false });
    assert.deepEqual((await events('p1', 'ResendRequested')).map((e) => e.payload).filter((p) => (p as { by: string }).by === 'p3'), [
      { by: 'p3', key: K('p3') }, // p3's own recovery, at start
      { by: 'p3', key: K('p2') },
    ]);
    assert.ok((await events('p1', 'PayloadResent')).every((e) => (e.payload as { to: string }).to === 'p2'));

    // A payload p3 somehow got (here: read from p2's database) is refused when p3 pushes it as itself.
    const [row] = await h.nodes.p2.sql`select payload from tm_payloads where hash = ${h12.hashHex.slice(2)}`;
    await assert.rejects(
      tm3.request(subjects.tmPush(h.net, 'p4', 'p3'), { encoded: row.payload }, TmPushAck),
      codedAs(ErrorCode.Rejected, /does not name p4's key as a recipient/),
    );
    await assert.rejects(tm3.request(subjects.tmPush(h.net, 'p1', 'p3'), { encoded: row.payload }, TmPushAck), codedAs(ErrorCode.Rejected, /p3 is not a party/));
    // Pushing as p1 is impossible for p3: the broker refuses the subject, so no tm ever sees it.
    const before = (await events('p2', 'PayloadStored')).length;
    const impostor = await h.busAs('p3', 'tm');
    await assert.rejects(impostor.request(subjects.tmPush(h.net, 'p2', 'p1'), { encoded: row.payload }, TmPushAck, { timeoutMs: 1_000 }));
    assert.equal((await events('p2', 'PayloadStored')).length, before);
    // An unknown key is refused.
    await assert.rejects(
      tm3.request(subjects.tmResend(h.net, 'p1', 'p3'), { key: Buffer.alloc(32, 8).toString('base64') }, TmResendReply),
      codedAs(ErrorCode.InvalidInput, /unknown recipient key/),
    );
  });

  it('a recipient whose tm is down: no ACK, no transaction, an Unavailable error naming it', async () => {
    await h.stopTm('p4');
    try {
      await assert.rejects(send('p1', secret('to a sleeping p4:'), [K('p4')]), codedAs(ErrorCode.Unavailable, /recipient p4's transaction manager did not acknowledge the payload: /));
      await assert.rejects(send('p1', secret('to p2 and a sleeping p4:'), [K('p2'), K('p4')]), (err: unknown) => {
        assert.ok(err instanceof CodedError && err.code === ErrorCode.Unavailable);
        assert.match(err.message, /recipient p4's/);
        assert.doesNotMatch(err.message, /recipient p2's/);
        return true;
      });
    } finally {
      await h.startTm('p4');
    }
    assert.equal(h.nodes.p4.tm!.isRecovering(), false, 'p4 kept its store: no recovery needed');
  });

  it('a tm that lost its store recovers its payloads (received and sent) by resend, then serves them', async () => {
    await h.stopTm('p2');
    await h.wipeStore('p2');
    const tm = await h.startTm('p2');
    await tm.recovered;
    assert.equal(tm.isRecovering(), false);
    const r12 = await receive('p2', h12.hashHex);
    assert.ok(r12.found);
    assert.equal(r12.payload, hexOf(plain12));
    const r23 = await receive('p2', h23.hashHex);
    assert.ok(r23.found);
    assert.equal(r23.payload, hexOf(plain23));
    const stored = (await events('p2', 'PayloadStored')).map((e) => e.payload as { origin: string });
    assert.ok(stored.length >= 2 && stored.every((s) => s.origin === 'resend'));
    assert.equal((await events('p2', 'RecoveryCompleted')).length, 1);
  });

  it('while recovering (a peer down), a hash it lacks is Unavailable, not "not a recipient"', async () => {
    await h.stopTm('p4');
    await h.stopTm('p3');
    const tm3 = await h.startTm('p3', { recover: true }); // as QUORUM_TM_RECOVER=1 asks
    const unknown = randomHash();
    try {
      assert.equal(tm3.isRecovering(), true);
      await assert.rejects(receive('p3', unknown), codedAs(ErrorCode.Unavailable, /recovering its payloads/));
      const missingKey = Buffer.from(unknown.slice(2), 'hex').toString('base64');
      assert.equal((await http('p3', 'GET', tx(missingKey))).status, 503);
      // What it holds it serves meanwhile.
      assert.equal((await receive('p3', h23.hashHex)).found, true);
    } finally {
      await h.startTm('p4');
    }
    await tm3.recovered;
    assert.deepEqual(await receive('p3', unknown), { hash: unknown, found: false });
  });

  it('the bus storeRaw + sendSigned: the same hash, and the recipient reads it', async () => {
    const plain = secret('raw, signed later, p1 to p3:');
    const raw = await gw.p1.request(subjects.tmStoreRaw(h.nodes.p1.scope), { payload: hexOf(plain) }, PayloadKey);
    assert.equal((await receive('p1', raw.hashHex)).found, false, 'a raw payload is not yet a transaction');
    const shared = await gw.p1.request(subjects.tmSendSigned(h.nodes.p1.scope), { hash: raw.hashHex, to: [K('p3')] }, PayloadKey);
    assert.deepEqual(shared, raw);
    const r = await receive('p3', raw.hashHex);
    assert.ok(r.found);
    assert.equal(r.payload, hexOf(plain));
    await assert.rejects(
      gw.p1.request(subjects.tmSendSigned(h.nodes.p1.scope), { hash: randomHash(), to: [K('p3')] }, PayloadKey),
      codedAs(ErrorCode.NotFound, /no raw payload/),
    );
  });

  describe('Tessera-compatible HTTP API', () => {
    it('upcheck, version, partyinfo/keys, keys (through the enclave)', async () => {
      assert.deepEqual(await http('p1', 'GET', '/upcheck').then((r) => [r.status, r.text]), [200, "I'm up!"]);
      const v = await http('p1', 'GET', '/version');
      assert.equal(v.status, 200);
      assert.match(v.text, /^\d+\.\d+\.\d+$/);
      const keys = await http('p1', 'GET', '/partyinfo/keys');
      assert.equal(keys.status, 200);
      assert.deepEqual(JSON.parse(keys.text), { keys: ['p1', 'p2', 'p3', 'p4'].map((id) => ({ key: K(id) })) });
      const own = await http('p2', 'GET', '/keys');
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(JSON.parse(own.text), { keys: [{ key: K('p2') }] });
    });

    it('send → 201 {key}; the recipient reads it by key; isSender and participants', async () => {
      const plain = secret('over http, p1 to p2:');
      const sent = await http('p1', 'POST', '/send', { payload: b64Of(plain), from: K('p1'), to: [K('p2')] });
      assert.equal(sent.status, 201, sent.text);
      const { key } = z.object({ key: z.string() }).parse(JSON.parse(sent.text));
      assert.equal(Buffer.from(key, 'base64').length, 64);
      assert.equal(sent.headers.get('location'), tx(key));

      const got = await http('p2', 'GET', tx(key));
      assert.equal(got.status, 200, got.text);
      assert.equal(Buffer.from(JSON.parse(got.text).payload, 'base64').toString(), plain);
      assert.equal((await http('p2', 'GET', `${tx(key)}?to=${encodeURIComponent(K('p2'))}`)).status, 200);
      assert.equal((await http('p2', 'GET', `${tx(key)}?to=${encodeURIComponent(K('p3'))}`)).status, 404);
      assert.equal((await http('p3', 'GET', tx(key))).status, 404);

      assert.deepEqual(await http('p1', 'GET', `${tx(key)}/isSender`).then((r) => [r.status, r.text]), [200, 'true']);
      assert.deepEqual(await http('p2', 'GET', `${tx(key)}/isSender`).then((r) => [r.status, r.text]), [200, 'false']);
      const parts = await http('p2', 'GET', `${tx(key)}/participants`);
      assert.equal(parts.status, 200);
      assert.equal(parts.headers.get('content-type')?.startsWith('text/plain'), true);
      assert.deepEqual(parts.text.split(',').sort(), [K('p1'), K('p2')].sort());
      assert.equal((await http('p3', 'GET', `${tx(key)}/participants`)).status, 404);
    });

    it('storeraw + sendsignedtx give the same key, and the recipients read it (JSON and octet-stream)', async () => {
      const plain = secret('raw over http, p1 to p2 and p4:');
      const stored = await http('p1', 'POST', '/storeraw', { payload: b64Of(plain), from: K('p1') });
      assert.equal(stored.status, 200, stored.text);
      const { key } = JSON.parse(stored.text) as { key: string };
      const signed = await http('p1', 'POST', '/sendsignedtx', { hash: key, to: [K('p2'), K('p4')] });
      assert.equal(signed.status, 201, signed.text);
      assert.equal(JSON.parse(signed.text).key, key);
      for (const id of ['p2', 'p4']) {
        const got = await http(id, 'GET', tx(key));
        assert.equal(got.status, 200);
        assert.equal(Buffer.from(JSON.parse(got.text).payload, 'base64').toString(), plain);
      }

      const plain2 = secret('raw bytes, p1 to p3:');
      const key2 = JSON.parse((await http('p1', 'POST', '/storeraw', { payload: b64Of(plain2) })).text).key as string;
      const octet = await http('p1', 'POST', '/sendsignedtx', new Uint8Array(Buffer.from(key2, 'base64')), { 'content-type': 'application/octet-stream', 'c11n-to': K('p3') });
      assert.deepEqual([octet.status, octet.text], [200, key2]);
      assert.equal(Buffer.from(JSON.parse((await http('p3', 'GET', tx(key2))).text).payload, 'base64').toString(), plain2);
    });

    it('bad input is a 400 with a clear reason, never a stack trace; unknown paths and keys are 404', async () => {
      const bad: [string, string, unknown, number, RegExp][] = [
        ['POST', '/send', 'not json', 400, /malformed JSON body/],
        ['POST', '/send', { payload: '***', to: [K('p2')] }, 400, /payload: expected base64/],
        ['POST', '/send', { payload: 'AAAA', to: ['not-a-key'] }, 400, /to\.0: expected a base64 32-byte public key/],
        ['POST', '/send', { payload: 'AAAA', to: [Buffer.alloc(32, 5).toString('base64')] }, 400, /unknown recipient key/],
        ['POST', '/send', { payload: 'AAAA', from: K('p2'), to: [] }, 400, /privateFrom/],
        ['POST', '/storeraw', {}, 400, /payload/],
        ['POST', '/sendsignedtx', { hash: 'short', to: [] }, 400, /hash/],
        ['POST', '/sendsignedtx', { hash: Buffer.alloc(64, 1).toString('base64'), to: [K('p2')] }, 404, /no raw payload/],
        ['GET', '/transaction/not-a-key', undefined, 400, /payload hash/],
        ['GET', tx(Buffer.alloc(64, 2).toString('base64')), undefined, 404, /no transaction/],
        ['GET', `${tx(Buffer.alloc(64, 2).toString('base64'))}/isSender`, undefined, 404, /no transaction/],
        ['GET', `${tx(h12.key)}?to=zzz`, undefined, 400, /to: expected a base64 32-byte public key/],
        ['GET', '/send', undefined, 405, /GET is not allowed/],
        ['GET', '/nope', undefined, 404, /not found/],
      ];
      for (const [method, path, body, status, re] of bad) {
        const r = await http('p1', method, path, body);
        assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
        assert.match(r.text, re, `${method} ${path}`);
        assert.doesNotMatch(r.text, /\n\s+at |\.js:\d+/, `${method} ${path} leaked a stack trace`);
      }
    });
  });

  it('no plaintext in any tm table or event, and the tm chain verifies', async () => {
    assert.ok(plaintexts.length >= 8);
    for (const node of Object.values(h.nodes)) {
      const rows = [
        ...(await node.sql`select * from tm_payloads`),
        ...(await node.sql`select * from tm_raw_payloads`),
        ...(await node.sql`select * from tm_recovery`),
        ...(await node.sql`select * from events`),
      ];
      assert.ok(rows.length > 0);
      const dump = JSON.stringify(rows, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
      for (const p of plaintexts) {
        for (const spelling of [p, Buffer.from(p).toString('hex'), b64Of(p)]) assert.ok(!dump.includes(spelling), `${node.id}'s database holds a plaintext`);
      }
      const check = await node.store.verifyChain('tm');
      assert.ok(check.ok, JSON.stringify(check.firstBad));
    }
  });
});
