/** Command-line plumbing shared by `audit` and `replay`: where the participant's record is, read from a database. */
import { readFile } from 'node:fs/promises';
import postgres from 'postgres';
import { loadNetwork, loadSecrets } from '../../lib/network/load.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import { addRecord, emptyAudit, type AuditData } from './format.js';
import { readDatabase, sourceFromDir, type ParticipantSource } from './source.js';
import { UnreadableInput } from './audit-file.js';
import { UsageError } from '../command.js';

/** Beyond where the record is (RECORD_SOURCE_OPTIONS): what to read it with. */
export const AUDIT_SOURCE_OPTIONS = {
  network: { type: 'string' },
  secrets: { type: 'string' },
  'password-file': { type: 'string' },
} as const;

export interface SourceArgs {
  participant?: string;
  database?: string;
  dir?: string;
  network?: string;
  secrets?: string;
  'password-file'?: string;
}

/** --dir, or --database with --network (and --secrets to decrypt the participant's private payloads). */
export async function participantSource(a: SourceArgs): Promise<ParticipantSource & { network: NetworkDescription }> {
  if (!a.participant) throw new UsageError('--participant <id> is required');
  if (a.dir && a.database) throw new UsageError('give --dir or --database, not both');
  let src: ParticipantSource;
  if (a.dir) src = await sourceFromDir(a.dir, a.participant);
  else if (a.database) src = { participant: a.participant, databaseUrl: a.database };
  else throw new UsageError('give --dir <devnet dir> or --database <url>');
  if (a.network) src.network = await loadNetwork(a.network);
  if (!src.network) throw new UsageError('--network <network.json> is required with --database (the genesis and the consensus parameters)');
  if (a.secrets) src.secrets = await loadSecrets(a.secrets, src.network);
  if (src.secrets && src.secrets.participant !== a.participant) throw new UsageError(`the secrets file belongs to ${src.secrets.participant}, not ${a.participant}`);
  if (a['password-file']) src.password = (await readFile(a['password-file'], 'utf8')).trim();
  return src as ParticipantSource & { network: NetworkDescription };
}

/** The whole record of a live database, in memory (as a file would give it). */
export async function loadFromDatabase(src: ParticipantSource & { network: NetworkDescription }): Promise<AuditData> {
  const sql = postgres(src.databaseUrl, { max: 2, onnotice: () => {} });
  try {
    return await readDatabase(sql, src, async ({ header, records }) => {
      const data = emptyAudit(header);
      for await (const r of records) addRecord(data, r);
      return data;
    });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UnreadableInput(`cannot read the database of ${src.participant}: ${(err as Error).message}`, { cause: err });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
