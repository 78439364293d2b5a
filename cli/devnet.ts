#!/usr/bin/env node
/**
 * npm run devnet -- [--dir .devnet] [--participants 4] [--consensus raft|ibft] [--base-port 22000] [--nats-port 24222]
 *                   [--fund 0xaddr,...] [--ready-timeout 120] [--reset]
 *
 * The first run generates the network into --dir (keys, genesis, secrets) and creates one Postgres
 * database per participant; later runs reuse both and resume from Postgres. --reset drops the
 * databases and deletes the dir first. --consensus picks the algorithm of a new network: raft (the default,
 * crash-fault tolerant) or ibft (QBFT, Byzantine-fault tolerant: 3F+1 validators tolerate F faulty ones; qbft
 * is accepted as a synonym); a resumed network keeps the algorithm it was generated with. Ctrl-C (SIGINT) or SIGTERM stops everything cleanly.
 *
 * Fixed ports: participant i's JSON-RPC on base-port + i - 1 (22000..22003), NATS on --nats-port (24222).
 * Logs: <dir>/logs/<participant>-<actor>.log and <dir>/logs/nats-server.log.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startNetwork } from './launcher/network-runner.js';
import { loadNetwork } from '../lib/network/load.js';
import { databaseName, dropDatabase, listDatabases } from './postgres-admin.js';

const USAGE =
  'usage: devnet [--dir .devnet] [--participants 4] [--consensus raft|ibft] [--base-port 22000] [--nats-port 24222] [--fund 0xaddr,...] [--ready-timeout 120] [--reset]';

/** GoQuorum calls it istanbul/IBFT; our BFT core implements QBFT (IBFT 2.0), so both names select it. */
function consensusKind(v: string): 'raft' | 'qbft' {
  if (v === 'raft') return 'raft';
  if (v === 'ibft' || v === 'qbft' || v === 'istanbul') return 'qbft';
  throw new Error(`--consensus must be raft or ibft, got ${JSON.stringify(v)}`);
}

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function reset(dir: string): Promise<void> {
  const networkFile = path.join(dir, 'network.json');
  if (existsSync(networkFile)) {
    const network = await loadNetwork(networkFile);
    try {
      const { dbPrefix } = JSON.parse(await readFile(path.join(dir, 'launcher.json'), 'utf8')) as { dbPrefix?: string };
      if (dbPrefix) {
        // Participants revoked by `npm run admin` are gone from network.json but their databases are not.
        const names = new Set([...network.participants.map((p) => databaseName(dbPrefix, p.id)), ...(await listDatabases(`${dbPrefix}_`))]);
        for (const name of names) await dropDatabase(name);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  await rm(dir, { recursive: true, force: true });
  console.log(`devnet: reset ${dir}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: '.devnet' },
      participants: { type: 'string', default: '4' },
      consensus: { type: 'string', default: 'raft' },
      'base-port': { type: 'string', default: '22000' },
      'nats-port': { type: 'string', default: '24222' },
      fund: { type: 'string', multiple: true },
      'ready-timeout': { type: 'string', default: '120' },
      reset: { type: 'boolean', default: false },
      'dist-dir': { type: 'string' }, // compiled project to run (default: this dist/); for testing the launcher
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dir = path.resolve(values.dir);
  if (values.reset) await reset(dir);
  const resuming = existsSync(path.join(dir, 'network.json'));
  const fund = (values.fund ?? []).flatMap((f) => f.split(',')).map((s) => s.trim()).filter(Boolean);
  console.log(`devnet: ${resuming ? 'resuming the network in' : 'generating a new network into'} ${dir} ...`);

  const net = await startNetwork({
    dir,
    participants: resuming ? undefined : int('participants', values.participants),
    consensusType: consensusKind(values.consensus),
    basePort: int('base-port', values['base-port']),
    natsPort: int('nats-port', values['nats-port']),
    fund: fund.length ? fund : undefined,
    readyTimeoutMs: int('ready-timeout', values['ready-timeout']) * 1000,
    distDir: values['dist-dir'] ? path.resolve(values['dist-dir']) : undefined,
    // SIGINT/SIGTERM: the launcher stops every actor, then nats-server, then exits.
  });

  const rpcs = net.network.participants.map((p, i) => `${p.id}=${net.rpcUrls[i]}`).join(' ');
  const tms = net.network.participants.map((p, i) => `${p.id}=${net.tmUrls[i]}`).join(' ');
  const accounts = net.network.participants.map((p) => `${p.id}:${p.accounts.join(',')}`).join(' ');
  console.log(`devnet READY (chainId ${net.network.chainId}, ${net.network.consensus.type === 'raft' ? 'raft' : 'ibft/qbft'}) rpc: ${rpcs} | tm (Tessera API): ${tms} | accounts: ${accounts} | nats: ${net.natsUrl} | logs: ${path.join(dir, 'logs')} | Ctrl-C to stop`);
}

main().catch((err) => {
  console.error(`devnet: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
