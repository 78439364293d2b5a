#!/usr/bin/env node
/**
 * npm run deploy-config -- --out infra/generated [--participants 4] [--consensus raft|ibft] [--force]
 *
 * Writes what infra/docker-compose.yml mounts (see cli/deploy/config.ts): network.json, secrets/ (0600, the
 * enclave passwords apart), nats/nats-<id>.conf (one broker per participant, clustered), postgres/init.sql and
 * compose.env (passwords and the uid/gid the actors run as; pass it to docker compose with --env-file).
 * A directory that already holds network.json is reused (same keys, same passwords) unless --force.
 * DEV ONLY: keys are generated here and stored unencrypted; never commit the output.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeDeployConfig } from './deploy/config.js';
import { serviceName } from './deploy/layout.js';

const USAGE = 'usage: deploy-config --out <dir> [--participants 4] [--consensus raft|ibft] [--force]';
/** infra/docker-compose.yml describes this many participants. */
const COMPOSE_PARTICIPANTS = 4;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      participants: { type: 'string', default: String(COMPOSE_PARTICIPANTS) },
      consensus: { type: 'string', default: 'raft' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  const participants = Number(values.participants);
  if (!Number.isInteger(participants) || participants < 1) throw new Error(`--participants must be a positive integer, got ${values.participants}`);
  const consensus = values.consensus === 'raft' ? 'raft' : ['ibft', 'qbft', 'istanbul'].includes(values.consensus) ? 'qbft' : undefined;
  if (!consensus) throw new Error(`--consensus must be raft or ibft, got ${JSON.stringify(values.consensus)}`);

  const out = await writeDeployConfig(values.out, { participants, consensusType: consensus, force: values.force });
  const n = out.network.participants.length;
  console.log(`${out.generated ? 'generated' : 'reused'} network ${out.network.name} (${n} participants, ${out.network.consensus.type}) in ${out.dir}`);
  for (const f of out.files) console.log(`  ${f}`);
  for (const p of out.network.participants) {
    console.log(`  ${p.id}: JSON-RPC ${p.rpcPort} (${serviceName(p.id, 'gateway')}), tm ${p.tmPort} (${serviceName(p.id, 'tm')}), accounts ${p.accounts.join(' ')}`);
  }
  if (n !== COMPOSE_PARTICIPANTS) {
    console.warn(`deploy-config: infra/docker-compose.yml runs ${COMPOSE_PARTICIPANTS} participants; add or remove services for ${n}`);
  }
  const envFile = path.join(out.dir, 'compose.env');
  const rel = path.relative(process.cwd(), envFile).startsWith('..') ? envFile : path.relative(process.cwd(), envFile);
  console.log(`next: docker compose -f infra/docker-compose.yml --env-file ${rel} up -d --build`);
}

main().catch((err: Error) => {
  console.error(`deploy-config: ${err.message}`);
  process.exit(1);
});
