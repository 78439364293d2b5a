#!/usr/bin/env node
/**
 * npm run admin -- permit --dir .devnet [--id p5] [--name "Bank E"] [--rpc-port N] [--tm-port N] [--accounts 2]
 * npm run admin -- revoke <id> --dir .devnet
 * npm run admin -- list --dir .devnet [--json]
 *
 * Changes who may connect to a network: network.json's participants are the permission list. permit generates a
 * participant's keys (secrets/<id>.json, 0600) and adds it; revoke removes one. Both regenerate the nats-server
 * configuration and reload the running devnet's server in place (found through <dir>/launcher.json); the running
 * launcher sees network.json change and starts or stops that participant's actors. Without a running devnet only
 * the files change, and the next `npm run devnet` starts with the new list.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CodedError } from '../lib/errors.js';
import type { Participant } from '../lib/network/description.js';
import { listParticipants, permitParticipant, revokeParticipant, type BrokerOutcome } from './admin/permissions.js';

const USAGE = `usage:
  admin permit --dir <devnet dir> [--id p5] [--name NAME] [--rpc-port N] [--tm-port N] [--accounts N]
  admin revoke <id> --dir <devnet dir>
  admin list --dir <devnet dir> [--json]`;

class UsageError extends Error {}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function brokerLine(b: BrokerOutcome): string {
  return b.status === 'reloaded'
    ? `nats-server (pid ${b.pid}) reloaded`
    : 'no running devnet found for this dir: files updated, the next start uses them';
}

const row = (p: Participant) => `${p.id}\t${p.name}\trpc ${p.rpcPort}\ttm ${p.tmPort}\tnode ${p.nodeAddress}\tprivacy ${p.privacyPublicKey}`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      id: { type: 'string' },
      name: { type: 'string' },
      'rpc-port': { type: 'string' },
      'tm-port': { type: 'string' },
      accounts: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    if (!command && !values.help) process.exitCode = 2;
    return;
  }
  if (!values.dir) throw new UsageError('--dir is required');
  const dir = path.resolve(values.dir);
  switch (command) {
    case 'permit': {
      if (rest.length) throw new UsageError(`permit takes no positional arguments (got ${rest.join(' ')}); use --id`);
      const r = await permitParticipant(dir, {
        id: values.id,
        name: values.name,
        rpcPort: int('rpc-port', values['rpc-port']),
        tmPort: int('tm-port', values['tm-port']),
        accounts: int('accounts', values.accounts),
      });
      console.log(`permitted ${r.participant.id} (${r.participant.name}): rpc ${r.participant.rpcPort}, tm ${r.participant.tmPort}, secrets ${r.secretsFile}; ${brokerLine(r.broker)}`);
      return;
    }
    case 'revoke': {
      if (rest.length !== 1) throw new UsageError('revoke takes exactly one participant id');
      const r = await revokeParticipant(dir, rest[0]);
      console.log(`revoked ${r.participant.id} (${r.participant.name}); ${brokerLine(r.broker)}; its secrets and database are kept`);
      return;
    }
    case 'list': {
      const participants = await listParticipants(dir);
      console.log(values.json ? JSON.stringify(participants, null, 2) : participants.map(row).join('\n'));
      return;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`admin: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const code = err instanceof CodedError ? ` [${err.code}]` : '';
  console.error(`admin: ${err instanceof Error ? err.message : String(err)}${code}`);
  process.exit(1);
});
