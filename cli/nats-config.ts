#!/usr/bin/env node
/**
 * node dist/cli/nats-config.js --network <network.json> [--port 4222] [--host 0.0.0.0] [--out nats-server.conf]
 *
 * The nats-server configuration for a network, generated from its description: one NKEY user per actor per
 * participant, each allowed to publish and subscribe only where its role needs (lib/subjects.ts). Operators
 * run their own nats-server (or cluster) with it; the local launcher and the tests generate the same file.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadNetwork } from '../lib/network/load.js';
import { natsServerConfig } from './nats/server-config.js';

const USAGE = 'usage: nats-config --network <network.json> [--port 4222] [--host 127.0.0.1] [--max-payload 8MB] [--out FILE]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      network: { type: 'string' },
      port: { type: 'string', default: '4222' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-payload': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  if (!values.network) throw new Error(`--network is required\n${USAGE}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--port must be a port number, got ${values.port}`);
  const config = natsServerConfig(await loadNetwork(values.network), { port, host: values.host, maxPayload: values['max-payload'] });
  if (values.out) await writeFile(values.out, config, { mode: 0o644 });
  else process.stdout.write(config);
}

main().catch((err: Error) => {
  console.error(`nats-config: ${err.message}`);
  process.exit(2);
});
