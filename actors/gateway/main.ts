/**
 * The gateway process. Environment (besides what every actor reads, see lib/actor-process.ts):
 *   QUORUM_RPC_HOST     listen address (default 127.0.0.1; 0.0.0.0 in containers)
 *   QUORUM_RPC_PORT     overrides the participant's rpcPort
 *   QUORUM_RPC_CORS     comma-separated allowed browser origins, or '*' (default: none, as geth: the gateway
 *                       signs for its node-managed accounts, so no web page may call it unless allowed)
 *   QUORUM_RPC_TLS_CERT, QUORUM_RPC_TLS_KEY, QUORUM_RPC_JWT_PUBLIC_KEY_FILE, QUORUM_RPC_JWT_ISSUER,
 *   QUORUM_RPC_JWT_AUDIENCE    HTTPS and bearer tokens, off when unset: see auth/config.ts
 */
import { runStatelessActor } from '../../lib/actor-process.js';
import { findParticipant } from '../../lib/network/description.js';
import { loadRpcSecurity, rpcSecurityFromEnv } from './auth/config.js';
import { startGateway } from './gateway.js';

await runStatelessActor('gateway', async (rt) => {
  const portEnv = process.env.QUORUM_RPC_PORT;
  const port = portEnv ? Number(portEnv) : findParticipant(rt.network, rt.participant).rpcPort;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`QUORUM_RPC_PORT is not a port: ${portEnv}`);
  const corsEnv = process.env.QUORUM_RPC_CORS?.trim();
  const corsOrigins = !corsEnv ? [] : corsEnv === '*' ? '*' : corsEnv.split(',').map((s) => s.trim()).filter(Boolean);
  const security = loadRpcSecurity(rpcSecurityFromEnv(process.env));
  const gateway = await startGateway({
    network: rt.network,
    secrets: rt.secrets,
    connection: rt.bus.connection,
    host: process.env.QUORUM_RPC_HOST || '127.0.0.1',
    port,
    corsOrigins,
    security,
    log: rt.log,
  });
  rt.log.info('listening', { url: gateway.url, chainId: rt.network.chainId, auth: security.jwtAlgorithm ? `JWT ${security.jwtAlgorithm}` : 'none' });
  return { stop: () => gateway.close() };
});
