/**
 * Process entry of one participant's gateway.
 *   QUORUM_NETWORK      path of network.json
 *   QUORUM_SECRETS      path of the participant's secrets file
 *   QUORUM_PARTICIPANT  participant id (must match the secrets file)
 *   QUORUM_NATS_URL     nats://host:port
 *   QUORUM_RPC_HOST     listen address (default 127.0.0.1; 0.0.0.0 in containers)
 *   QUORUM_RPC_PORT     overrides the participant's rpcPort
 *   QUORUM_RPC_CORS     comma-separated allowed browser origins, or '*' (default: none, as geth: the gateway
 *                       signs for its node-managed accounts, so any web page must not be able to call it)
 */
import { startCpuProfile } from '../../lib/cpu-profile.js';
import { createLogger } from '../../lib/logger.js';
import { connectActor } from '../../lib/nats/connect.js';
import { findParticipant } from '../../lib/network/description.js';
import { loadNetwork, loadSecrets } from '../../lib/network/load.js';
import { startTracing } from '../../lib/tracing.js';
import { startGateway } from './index.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
}

async function main(): Promise<void> {
  startTracing('gateway');
  const participantId = env('QUORUM_PARTICIPANT');
  const log = createLogger({ actor: 'gateway', participant: participantId });
  const stopProfile = await startCpuProfile(`${participantId}-gateway`);
  try {
    const network = await loadNetwork(env('QUORUM_NETWORK'));
    const secrets = await loadSecrets(env('QUORUM_SECRETS'), network);
    if (secrets.participant !== participantId) throw new Error(`secrets file belongs to ${secrets.participant}, not ${participantId}`);
    const participant = findParticipant(network, participantId);
    const portEnv = process.env.QUORUM_RPC_PORT;
    const port = portEnv ? Number(portEnv) : participant.rpcPort;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`QUORUM_RPC_PORT is not a port: ${portEnv}`);
    const corsEnv = process.env.QUORUM_RPC_CORS?.trim();
    const corsOrigins = !corsEnv ? [] : corsEnv === '*' ? '*' : corsEnv.split(',').map((s) => s.trim()).filter(Boolean);

    const connection = await connectActor({ url: env('QUORUM_NATS_URL'), network, secrets, actor: 'gateway' });
    const gateway = await startGateway({ network, secrets, connection, host: process.env.QUORUM_RPC_HOST || '127.0.0.1', port, corsOrigins, log });
    log.info('ready', { url: gateway.url, chainId: network.chainId });

    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      gateway.close().then(
        async () => {
          await stopProfile?.();
          process.exit(0);
        },
        (err) => {
          log.error('shutdown failed', {}, err);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  } catch (err) {
    log.error('gateway failed to start', {}, err);
    process.exit(1);
  }
}

void main();
