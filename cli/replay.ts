#!/usr/bin/env node
/**
 * npm run replay -- <audit file> [--network <network.json>] [--progress N] [--json]
 * npm run replay -- --participant <id> (--dir <devnet dir> | --database <url> --network <network.json> [--secrets <file>])
 *
 * Checks a participant's record with no network: the hash chains of its events, every block re-executed from
 * genesis through the ledger's own engine and compared with what was recorded (block hash, public and private
 * state roots, receipts, logs), and the consensus evidence of every block (Raft log entries; QBFT digests and
 * commit seals, validator votes applied). Progress on stderr; the summary on stdout.
 * Exit 0: everything matches. 1: a divergence (the first one is named: event positions, block, field,
 * recorded vs replayed). 2: unreadable input or bad usage.
 */
import { parseArgs } from 'node:util';
import { readAuditFile, UnreadableInput } from './audit/audit-file.js';
import { AUDIT_SOURCE_OPTIONS, loadFromDatabase, participantSource } from './audit/inputs.js';
import { HELP_OPTION, RECORD_SOURCE_OPTIONS, runCommand, UsageError } from './command.js';
import { loadNetwork } from '../lib/network/load.js';
import { replay } from './audit/replay.js';
import { formatOutcome } from './audit/report.js';
import type { AuditData } from './audit/format.js';

const USAGE = `usage:
  replay <audit file> [--network <network.json>] [--progress N] [--json]
  replay --participant <id> (--dir <devnet dir> | --database <url> --network <network.json> [--secrets <file>]) [--progress N] [--json]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...RECORD_SOURCE_OPTIONS,
      ...AUDIT_SOURCE_OPTIONS,
      progress: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      ...HELP_OPTION,
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const progressEvery = Number(values.progress);
  if (!Number.isInteger(progressEvery) || progressEvery < 0) throw new UsageError('--progress must be a whole number of blocks (0: none)');
  let data: AuditData;
  if (positionals.length === 1) {
    if (values.database || values.dir || values.participant) throw new UsageError('give an audit file or a database, not both');
    data = await readAuditFile(positionals[0]);
  } else if (positionals.length === 0) {
    data = await loadFromDatabase(await participantSource(values));
  } else {
    throw new UsageError('one audit file at most');
  }
  const network = values.network && positionals.length === 1 ? await loadNetwork(values.network) : undefined;
  process.stderr.write(`replay: ${data.events.length} events, ${data.blocks.length} blocks of ${data.header.participant}${data.header.containsPrivateData ? ' (with its private data)' : ''}\n`);
  const outcome = await replay(data, { network, progressEvery, onProgress: (l) => process.stderr.write(l + '\n') });
  console.log(values.json ? JSON.stringify(outcome, null, 2) : formatOutcome(outcome));
  return outcome.ok ? 0 : 1;
}

// 1 is a divergence; unreadable input is 2 like bad usage; anything else (a bug) 3.
runCommand('replay', USAGE, () => main(process.argv.slice(2)), (err) => (err instanceof UnreadableInput ? 2 : 3));
