#!/usr/bin/env node
/**
 * node dist/cli/generate-network.js --out <dir> [--participants 4] [--base-port 22000] [--chain-id 1337]
 *        [--name devnet] [--fund 0xaddr,0xaddr...]
 * Writes <dir>/network.json and <dir>/secrets/<id>.json (0600). DEV ONLY: secrets are not encrypted.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { generateNetworkFiles } from './network/generate.js';

const USAGE = `usage: generate-network --out <dir> [--participants N] [--base-port P] [--chain-id ID] [--name NAME] [--fund 0xaddr,...] [--force]`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      participants: { type: 'string' },
      'base-port': { type: 'string' },
      'chain-id': { type: 'string' },
      name: { type: 'string' },
      fund: { type: 'string', multiple: true },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  const out = path.resolve(values.out);
  if (existsSync(path.join(out, 'network.json')) && !values.force) {
    throw new Error(`${out}/network.json already exists; pass --force to overwrite it (its databases will no longer match)`);
  }
  const fund = (values.fund ?? []).flatMap((f) => f.split(',')).map((s) => s.trim()).filter(Boolean);
  const { network, paths } = await generateNetworkFiles(out, {
    participants: int('participants', values.participants),
    basePort: int('base-port', values['base-port']),
    chainId: int('chain-id', values['chain-id']),
    name: values.name,
    fund,
  });
  console.log(`wrote ${paths.network}`);
  for (const p of network.participants) console.log(`  ${p.id}: rpc 127.0.0.1:${p.rpcPort}, accounts ${p.accounts.join(' ')}, secrets ${paths.secrets[p.id]}`);
}

main().catch((err) => {
  console.error(`generate-network: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
