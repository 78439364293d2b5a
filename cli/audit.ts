#!/usr/bin/env node
/**
 * npm run audit -- export --participant <id> --out <file> [--dir <devnet dir> | --database <url> --network <network.json>]
 *                         [--secrets <secrets.json>] [--password-file <file>] [--gzip]
 *
 * Writes one participant's whole record to one file an auditor can carry away (see cli/audit/format.ts):
 * every event of every actor's streams with its positions, hashes and trace context; the executor's block
 * rows; and, when the participant's secrets are at hand (--dir gives them), the private payloads it is a party
 * to, decrypted here with its enclave key so its private transactions replay offline. The key never leaves this
 * process; the file says in its header that it holds the participant's private data. Gzip with --gzip or a
 * name ending in .gz. Exit 0 done, 2 bad usage or unreadable input.
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { writeAuditFile } from './audit/audit-file.js';
import { AUDIT_SOURCE_OPTIONS, participantSource } from './audit/inputs.js';
import { HELP_OPTION, RECORD_SOURCE_OPTIONS, runCommand, UsageError } from './command.js';
import { readDatabase, redactUrl } from './audit/source.js';

const USAGE = `usage:
  audit export --participant <id> --out <file> [--dir <devnet dir> | --database <url> --network <network.json>]
               [--secrets <secrets.json>] [--password-file <file>] [--gzip]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...RECORD_SOURCE_OPTIONS,
      ...AUDIT_SOURCE_OPTIONS,
      out: { type: 'string' },
      gzip: { type: 'boolean', default: false },
      ...HELP_OPTION,
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'export' || positionals.length !== 1) throw new UsageError(`unknown command ${JSON.stringify(positionals.join(' '))}`);
  if (!values.out) throw new UsageError('--out <file> is required');
  const src = await participantSource(values);
  if (!src.secrets) process.stderr.write(`audit: no secrets for ${src.participant}: private payloads are not exported (its private transactions will replay as for a non-party)\n`);
  const t0 = performance.now();
  const sql = postgres(src.databaseUrl, { max: 2, onnotice: () => {} });
  try {
    const { header, stats } = await readDatabase(sql, src, async ({ header, records }) => ({
      header,
      stats: await writeAuditFile(values.out!, header, records, { gzip: values.gzip || undefined }),
    }));
    const c = header.counts;
    console.log(
      `exported ${src.participant} of ${header.network.name} from ${redactUrl(src.databaseUrl)} to ${values.out}: ${c.events} events in ${Object.keys(c.chains).length} chains, ` +
        `${c.blocks} blocks, ${c.transactions} transactions, ${c.payloads} private payloads; ${stats.lines} lines, ${stats.bytes} bytes before compression, ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
    if (header.containsPrivateData) console.log(`note: ${header.notice}`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

runCommand('audit', USAGE, () => main(process.argv.slice(2)));
