/**
 * HTTP transport: POST only, JSON bodies up to a limit, CORS for browser dapps, W3C trace context taken
 * from the request headers. Every error body is a JSON-RPC error object.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extractTraceContext } from '../../../lib/tracing.js';
import type { Logger } from '../../../lib/logger.js';
import type { Dispatcher } from './dispatch.js';
import { RpcCode } from './errors.js';

const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** How much of an oversized body we read (and throw away) so the client gets its 413. */
const DISCARD_CAP = 64 * 1024 * 1024;
const ACCEPTED_CONTENT_TYPES = new Set(['application/json', 'application/json-rpc', 'application/jsonrequest']);

export interface RpcServerOptions {
  log: Logger;
  maxBodyBytes?: number;
  /** Allowed browser origins; '*' allows any. */
  corsOrigins?: readonly string[] | '*';
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
}

export function createRpcServer(dispatcher: Dispatcher, opts: RpcServerOptions): http.Server {
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const cors = opts.corsOrigins ?? [];
  const { log } = opts;

  const setCors = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const origin = req.headers.origin;
    if (cors === '*') res.setHeader('Access-Control-Allow-Origin', '*');
    else if (origin && cors.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
    } else return;
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Content-Type, traceparent, tracestate');
    res.setHeader('Access-Control-Max-Age', '600');
  };

  const send = (res: http.ServerResponse, status: number, body?: string, extra: Record<string, string> = {}) => {
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };

  /**
   * Answer 413 only once the client has finished sending (a lingering close): a client still uploading when
   * the socket closes sees a connection reset instead of our answer. Past a hard cap we stop listening.
   */
  const tooLarge = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const answer = () => send(res, 413, errorBody(RpcCode.InvalidRequest, `request too large (max ${maxBody} bytes)`), { Connection: 'close' });
    if (req.complete) return answer();
    let discarded = 0;
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > DISCARD_CAP) req.destroy();
    });
    req.once('end', answer);
  };

  const server = http.createServer((req, res) => {
    setCors(req, res);
    if (req.method === 'OPTIONS') return send(res, 204);
    if (req.method !== 'POST') {
      req.resume();
      return send(res, 405, errorBody(RpcCode.InvalidRequest, `method not allowed: ${req.method ?? ''}; JSON-RPC requests are POSTed`), { Allow: 'POST, OPTIONS' });
    }
    const contentType = req.headers['content-type'];
    if (contentType !== undefined) {
      const mediaType = contentType.split(';')[0].trim().toLowerCase();
      if (!ACCEPTED_CONTENT_TYPES.has(mediaType)) {
        req.resume();
        return send(res, 415, errorBody(RpcCode.InvalidRequest, 'invalid content type, only application/json is supported'));
      }
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) return tooLarge(req, res);

    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > maxBody) {
        aborted = true;
        chunks.length = 0;
        tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      aborted = true;
    });
    req.on('end', () => {
      if (aborted) return;
      const body = Buffer.concat(chunks, size).toString('utf8');
      const parent = extractTraceContext({
        traceparent: typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
        tracestate: typeof req.headers.tracestate === 'string' ? req.headers.tracestate : undefined,
      });
      void (async () => {
        try {
          const response = await dispatcher.handle(body, parent);
          if (response === undefined) send(res, 204);
          else send(res, 200, JSON.stringify(response));
        } catch (err) {
          log.error('rpc dispatch failed', {}, err);
          send(res, 500, errorBody(RpcCode.Internal, 'internal error'));
        }
      })();
    });
  });
  // Keep idle connections open longer than clients do (undici: 4 s, ethers/web3 similar): a server that closes
  // an idle keep-alive socket first races with the client's next request, which then fails with a reset.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

/** Listens and resolves with the bound address (port 0 picks a free one). */
export function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // In-flight requests get a moment to finish; then connections are cut.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
