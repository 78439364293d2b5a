#!/usr/bin/env node
/**
 * npm run trace -- <tx hash> [--dir <devnet dir> | --database <url>] [--participant <id>] [--json]
 *
 * One transaction's path through a participant's actors, rebuilt from the trace ids stored on its events, with
 * no tracing backend: every event that names the transaction (the tm's, consensus's, the executor's
 * BlockExecuted of its block) and every event written in one of their traces, as a timeline (actor, event,
 * time, time since the previous step). With --dir and no --participant, every participant of the network.
 * Exit 0 found, 1 nothing found, 2 bad usage or unreadable input.
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { loadNetwork } from '../lib/network/load.js';
import { sourceFromDir } from './audit/source.js';
import { networkPaths } from './network/generate.js';
import { buildTimeline, formatTimeline, type TraceEventRow } from './trace/timeline.js';
import { HELP_OPTION, RECORD_SOURCE_OPTIONS, runCommand, UsageError } from './command.js';

const USAGE = 'usage: trace <tx hash> [--dir <devnet dir> | --database <url>] [--participant <id>] [--json]';

/** The events of one participant's database that name the transaction or share a trace id with one that does. */
async function readRows(databaseUrl: string, participant: string, txHash: string): Promise<TraceEventRow[]> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const needle = txHash.toLowerCase().replace(/^0x/, '');
    const rows = await sql`
      with named as (
        select global_position from events where strpos(lower(payload::text), ${needle}) > 0
      ), ids as (
        select distinct substr(trace_context, 4, 32) as tid from events
        where global_position in (select global_position from named) and trace_context is not null
      )
      select global_position, chain, type, stream, recorded_at, trace_context,
             global_position in (select global_position from named) as mentions
      from events
      where global_position in (select global_position from named)
         or (trace_context is not null and substr(trace_context, 4, 32) in (select tid from ids))
      order by recorded_at, global_position`;
    return rows.map((r) => ({
      participant,
      actor: r.chain as string,
      type: r.type as string,
      stream: r.stream as string,
      globalPosition: Number(r.global_position),
      recordedAt: new Date(r.recorded_at as Date),
      traceContext: (r.trace_context as string | null) ?? null,
      mentionsTx: Boolean(r.mentions),
    }));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...RECORD_SOURCE_OPTIONS,
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
  const txHash = positionals[0];
  if (positionals.length !== 1 || !/^0x[0-9a-fA-F]{64}$/.test(txHash)) throw new UsageError('give one transaction hash (0x + 64 hex digits)');
  if (values.dir && values.database) throw new UsageError('give --dir or --database, not both');
  const sources: { participant: string; databaseUrl: string }[] = [];
  if (values.database) sources.push({ participant: values.participant ?? 'db', databaseUrl: values.database });
  else if (values.dir) {
    const ids = values.participant ? [values.participant] : (await loadNetwork(networkPaths(values.dir).network)).participants.map((p) => p.id);
    for (const id of ids) sources.push(await sourceFromDir(values.dir, id));
  } else throw new UsageError('give --dir <devnet dir> or --database <url>');
  const rows = (await Promise.all(sources.map((s) => readRows(s.databaseUrl, s.participant, txHash)))).flat();
  const steps = buildTimeline(rows);
  if (values.json) console.log(JSON.stringify({ txHash, steps }, null, 2));
  else console.log(formatTimeline(txHash, steps));
  return steps.length > 0 ? 0 : 1;
}

runCommand('trace', USAGE, () => main(process.argv.slice(2)));
