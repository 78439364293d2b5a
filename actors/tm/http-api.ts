/**
 * The tm's Tessera-compatible HTTP API (the "third party" and "Q2T" endpoints a GoQuorum node or a
 * web3js-quorum client call), on node:http. Keys and payloads are base64, as Tessera spells them; a key in a
 * path is URL-encoded base64. Bad input is a 400 with a one-line text reason (never a stack trace), an
 * unknown path a 404. Request and response bodies are never logged: they hold plaintext.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { parseWith } from '../../lib/bus.js';
import { CodedError, ErrorCode, asCodedError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { b64ToHex, hashKey } from './hash.js';
import { PayloadHashB64, PrivacyFlag, PrivacyPublicKey } from './messages.js';
import type { TmService } from './service.js';

const TM_VERSION = '0.1.0';
/** The largest body read; a payload must also fit a NATS message (8 MB) once base64-encoded for the enclave. */
const MAX_BODY_BYTES = 6 * 1024 * 1024;

const Base64Bytes = z.string().regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'expected base64');
const Keys = z.array(PrivacyPublicKey).max(64).nullish().transform((v) => v ?? []);
const Flag = PrivacyFlag.nullish().transform((v) => v ?? 0);
const From = PrivacyPublicKey.nullish().transform((v) => v ?? undefined);
const SendBody = z.object({ payload: Base64Bytes, from: From, to: Keys, privacyFlag: Flag });
const StoreRawBody = z.object({ payload: Base64Bytes, from: From });
const SendSignedBody = z.object({ hash: PayloadHashB64, to: Keys, privacyFlag: Flag });

export interface HttpApiOptions {
  host: string;
  /** 0: any free port (see HttpApi.port). */
  port: number;
  service: TmService;
  /** Every participant's privacy key (GET /partyinfo/keys). */
  partyKeys: string[];
  /** This participant's keys as its enclave reports them (GET /keys; answers 503 while the enclave is away). */
  localKeys?: () => Promise<string[]>;
  isRecovering: () => boolean;
  log: Logger;
}

export interface HttpApi {
  port: number;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: string;
  type?: string;
  headers?: Record<string, string>;
}

const text = (status: number, body: string): Reply => ({ status, body, type: 'text/plain; charset=utf-8' });
const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({ status, body: JSON.stringify(body), type: 'application/json', headers });
const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.InvalidInput]: 400,
  [ErrorCode.Rejected]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.Unavailable]: 503,
};

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new CodedError(ErrorCode.InvalidInput, `request body larger than ${MAX_BODY_BYTES} bytes`, { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function jsonBody<T>(raw: Buffer, schema: z.ZodType<T>, what: string): T {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new CodedError(ErrorCode.InvalidInput, 'malformed JSON body');
  }
  return parseWith(schema, body, what);
}

/** `c11n-to`: comma-separated base64 keys (Tessera's header for the octet-stream forms). */
function keysHeader(req: http.IncomingMessage, name: string): string[] {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  const keys = s.split(',').map((k) => k.trim()).filter(Boolean);
  return parseWith(z.array(PrivacyPublicKey).max(64), keys, `${name} header`);
}

const isOctetStream = (req: http.IncomingMessage) => (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/octet-stream');
const location = (key: string) => ({ Location: `/transaction/${encodeURIComponent(key)}` });

function pathKey(segment: string): string {
  let key: string;
  try {
    key = decodeURIComponent(segment);
  } catch {
    throw new CodedError(ErrorCode.InvalidInput, 'malformed URL-encoded key');
  }
  return b64ToHex(key);
}

export async function startHttpApi(o: HttpApiOptions): Promise<HttpApi> {
  const { service } = o;

  const notHeld = (key: string): never => {
    if (o.isRecovering()) throw new CodedError(ErrorCode.Unavailable, 'transaction manager is recovering its payloads');
    throw new CodedError(ErrorCode.NotFound, `no transaction with key ${key}`);
  };

  /** /transaction/{key}[/isSender|/participants] */
  async function transaction(rest: string, query: URLSearchParams): Promise<Reply> {
    // The suffix is matched first so a client that left the key's '/' unencoded is still understood.
    const [, segment, sub] = /^(.+?)(?:\/(isSender|participants))?$/.exec(rest) ?? [];
    if (segment === undefined) return text(404, 'not found');
    const hashHex = pathKey(segment);
    if (sub === undefined) {
      // '+' in a query string decodes to a space; a base64 key never holds a space.
      const toParam = query.get('to')?.replace(/ /g, '+') || undefined;
      const to = toParam === undefined ? undefined : parseWith(PrivacyPublicKey, toParam, 'to');
      const [r] = await service.receive([hashHex], to);
      if (!r.found) return text(404, `no transaction with key ${decodeURIComponent(segment)} for this recipient`);
      return json(200, { payload: b64(Buffer.from(r.payload.slice(2), 'hex')), senderKey: r.senderKey, privacyFlag: r.privacyFlag });
    }
    const encoded = (await service.held(hashHex)) ?? notHeld(decodeURIComponent(segment));
    if (sub === 'isSender') return text(200, String(encoded.senderKey === service.party.selfKey));
    return text(200, encoded.recipientKeys.join(','));
  }

  async function route(req: http.IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://tm');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const only = (m: string) => {
      if (method !== m) throw new CodedError(ErrorCode.InvalidInput, `${method} is not allowed on ${path}`, { status: 405 });
    };
    if (path.startsWith('/transaction/')) {
      only('GET');
      return transaction(path.slice('/transaction/'.length), url.searchParams);
    }
    switch (path) {
      case '/upcheck':
        only('GET');
        return text(200, "I'm up!");
      case '/version':
        only('GET');
        return text(200, TM_VERSION);
      case '/version/api':
        only('GET');
        return json(200, ['1.0']);
      case '/keys': {
        only('GET');
        if (!o.localKeys) return text(404, 'not found');
        return json(200, { keys: (await o.localKeys()).map((key) => ({ key })) });
      }
      case '/partyinfo/keys':
        only('GET');
        return json(200, { keys: o.partyKeys.map((key) => ({ key })) });
      case '/send': {
        only('POST');
        const body = jsonBody(await readBody(req), SendBody, '/send body');
        const k = await service.send(Buffer.from(body.payload, 'base64'), body.from, body.to, body.privacyFlag);
        return json(201, { key: k.key }, location(k.key));
      }
      case '/sendraw': {
        // Tessera's octet-stream send: the payload is the body, c11n-from/c11n-to the headers; the key is text.
        only('POST');
        const payload = await readBody(req);
        const [from] = keysHeader(req, 'c11n-from');
        const k = await service.send(payload, from, keysHeader(req, 'c11n-to'), 0);
        return text(200, k.key);
      }
      case '/storeraw': {
        only('POST');
        const body = jsonBody(await readBody(req), StoreRawBody, '/storeraw body');
        const k = await service.storeRaw(Buffer.from(body.payload, 'base64'), body.from);
        return json(200, { key: k.key });
      }
      case '/sendsignedtx': {
        only('POST');
        const raw = await readBody(req);
        if (isOctetStream(req)) {
          // The body is the 64 hash bytes; recipients come in c11n-to; the key comes back as text.
          if (raw.length !== 64) throw new CodedError(ErrorCode.InvalidInput, `expected the 64 bytes of a payload hash, got ${raw.length}`);
          const k = await service.sendSigned(hashKey(raw).hashHex, keysHeader(req, 'c11n-to'), 0);
          return text(200, k.key);
        }
        const body = jsonBody(raw, SendSignedBody, '/sendsignedtx body');
        const k = await service.sendSigned(b64ToHex(body.hash), body.to, body.privacyFlag);
        return json(201, { key: k.key }, location(k.key));
      }
      default:
        return text(404, 'not found');
    }
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      let reply: Reply;
      try {
        reply = await route(req);
      } catch (err) {
        const e = asCodedError(err);
        const status = (e.data as { status?: number } | undefined)?.status ?? STATUS[e.code] ?? 500;
        if (status === 500) o.log.error('tm http request failed', { method: req.method, path: req.url?.split('?')[0] }, err);
        reply = text(status, status === 500 ? 'internal error' : e.message);
        if (status === 413 || status === 405) req.resume();
      }
      res.writeHead(reply.status, { 'Content-Type': reply.type ?? 'text/plain', ...reply.headers });
      res.end(reply.body);
    })();
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.host, port: o.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  o.log.info('tm http api listening', { host: o.host, port });

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
