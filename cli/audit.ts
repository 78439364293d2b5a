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
import { participantSource, UsageError } from './audit/inputs.js';
import { readDatabase, redactUrl } from './audit/source.js';

const USAGE = `usage:
  audit export --participant <id> --out <file> [--dir <devnet dir> | --database <url> --network <network.json>]
               [--secrets <secrets.json>] [--password-file <file>] [--gzip]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      participant: { type: 'string' },
      out: { type: 'string' },
      dir: { type: 'string' },
      database: { type: 'string' },
      network: { type: 'string' },
      secrets: { type: 'string' },
      'password-file': { type: 'string' },
      gzip: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`audit: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof UsageError) process.stderr.write(USAGE + '\n');
    process.exitCode = 2;
  },
);
