/**
 * The gateway's HTTP(S) server with the endpoint's security in front of the JSON-RPC transport (rpc/server.ts,
 * unchanged): HTTPS when TLS material is given, and, when a token verifier is given, every request but a CORS
 * preflight checked before its body is read. A verified request is handed to a transport whose dispatcher holds
 * only the methods its token's scope allows (one per distinct scope, kept in a small LRU), so every call of a
 * batch is checked. With neither, this is exactly the plain transport.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../../lib/logger.js';
import { createLru } from '../lru.js';
import { createDispatcher, type DispatcherOptions } from '../rpc/dispatch.js';
import { RpcCode } from '../rpc/errors.js';
import type { Method } from '../rpc/methods.js';
import { createRpcServer, type RpcServerOptions } from '../rpc/server.js';
import type { RpcSecurity } from './config.js';
import { bearerChallenge, unauthorizedBody } from './errors.js';
import { restrictMethods } from './restrict.js';
import type { Scope } from './scope.js';

/** Distinct token scopes whose dispatchers are kept. */
const SCOPED_TRANSPORTS = 64;

export interface SecureRpcServerOptions {
  methods: Record<string, Method>;
  dispatcher: DispatcherOptions;
  /** The transport's options (body limit, CORS); its logger logs here too. */
  transport: RpcServerOptions;
  security?: RpcSecurity;
  /** Token time checks; default the wall clock. */
  now?: () => Date;
}

export type RpcHttpServer = http.Server | https.Server;

export function createSecureRpcServer(o: SecureRpcServerOptions): { server: RpcHttpServer; scheme: 'http' | 'https' } {
  const { security = {}, transport } = o;
  const log: Logger = transport.log;
  const open = createRpcServer(createDispatcher(o.methods, o.dispatcher), transport);
  if (!security.tls && !security.verifier) return { server: open, scheme: 'http' };

  const handler = security.verifier ? authenticating(o, security.verifier, open, log) : (req: http.IncomingMessage, res: http.ServerResponse) => void open.emit('request', req, res);
  const server = security.tls ? https.createServer({ cert: security.tls.cert, key: security.tls.key }, handler) : http.createServer(handler);
  // As rpc/server.ts: outlive the clients' idle keep-alive so a reused socket is never closed under a request.
  server.keepAliveTimeout = open.keepAliveTimeout;
  server.headersTimeout = open.headersTimeout;
  return { server, scheme: security.tls ? 'https' : 'http' };
}

function authenticating(
  o: SecureRpcServerOptions,
  verifier: NonNullable<RpcSecurity['verifier']>,
  open: http.Server,
  log: Logger,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const now = o.now ?? (() => new Date());
  const scoped = createLru<string, http.Server>({ maxEntries: SCOPED_TRANSPORTS });
  const transportFor = (scope: Scope): http.Server => {
    let t = scoped.get(scope.key);
    if (!t) {
      t = createRpcServer(createDispatcher(restrictMethods(o.methods, scope.allows), o.dispatcher), o.transport);
      scoped.set(scope.key, t);
    }
    return t;
  };

  const refuse = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    if (res.headersSent) return;
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };

  return (req, res) => {
    // A browser's preflight carries no credentials (Fetch standard); it runs no method either.
    if (req.method === 'OPTIONS') return void open.emit('request', req, res);
    void (async () => {
      try {
        const r = await verifier.verify(req.headers.authorization, now());
        if (r.ok) return void transportFor(r.scope).emit('request', req, res);
        req.resume(); // the body is drained, never read
        log.debug('rpc request refused', { reason: r.reason });
        refuse(res, 401, JSON.stringify(unauthorizedBody(r.message)), { 'WWW-Authenticate': bearerChallenge(r.reason !== 'missing', r.message) });
      } catch (err) {
        req.resume();
        log.error('rpc token check failed', {}, err);
        refuse(res, 500, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: RpcCode.Internal, message: 'internal error' } }));
      }
    })();
  };
}
