/**
 * Reading one participant's record from its Postgres database, read-only, in one repeatable-read snapshot
 * (a running network keeps appending; the export is one consistent cut): every event of every chain, the
 * executor's block rows, and — with the participant's enclave key — the private payloads its tm holds,
 * decrypted exactly as its tm answers its executor. The key is used in this process and never written.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from 'postgres';
import { createLocalEnclave } from '../../actors/enclave/local-enclave.js';
import { unlockEnclaveKey } from '../../actors/enclave/shell.js';
import { decryptionKey, partyInfo } from '../../actors/tm/decide.js';
import { fromRowKey } from '../../actors/tm/hash.js';
import { EncodedPayload, type ReceivedPayload } from '../../actors/tm/messages.js';
import { parseWith } from '../../lib/bus.js';
import { toHex } from '../../lib/hex.js';
import { storedEventFromRow } from '../../lib/event-store/event-store.js';
import { loadNetwork, loadSecrets } from '../../lib/network/load.js';
import { networkPaths } from '../network/generate.js';
import { databaseName, databaseUrl } from '../postgres-admin.js';
import type { NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import { LauncherState } from '../admin/launcher-state.js';
import {
  AUDIT_FORMAT,
  AUDIT_VERSION,
  PRIVATE_DATA_NOTICE,
  eventLine,
  type Counts,
  type HeaderLine,
  type PayloadLine,
  type RecordLine,
} from './format.js';



/** Where a participant's record is and what opens it. */
export interface ParticipantSource {
  participant: string;
  databaseUrl: string;
  network?: NetworkDescription;
  /** To decrypt the tm's payloads (the enclave key, locked; unlocked with `password` or the dev password). */
  secrets?: ParticipantSecrets;
  password?: string;
}

/** From a devnet/launcher directory: network.json, secrets/<id>.json, launcher.json's database prefix. */
export async function sourceFromDir(dir: string, participant: string): Promise<ParticipantSource> {
  const network = await loadNetwork(networkPaths(dir).network);
  const paths = networkPaths(dir, network);
  const secretsFile = paths.secrets[participant];
  if (!secretsFile) throw new Error(`participant ${participant} is not in ${paths.network}`);
  const secrets = await loadSecrets(secretsFile, network);
  let state: LauncherState;
  try {
    state = LauncherState.parse(JSON.parse(await readFile(path.join(dir, 'launcher.json'), 'utf8')));
  } catch (err) {
    throw new Error(`cannot read ${path.join(dir, 'launcher.json')} (the database prefix): ${(err as Error).message}`);
  }
  return { participant, databaseUrl: databaseUrl(databaseName(state.dbPrefix, participant)), network, secrets };
}

const tableExists = async (sql: Sql, table: string) => (await sql`select to_regclass(${table}) as t`)[0].t !== null;

/** The private payloads the participant's tm holds and can open, decrypted (as its tm answers its executor). */
async function decryptPayloads(sql: Sql, network: NetworkDescription, participant: string, secrets: ParticipantSecrets, password?: string): Promise<PayloadLine[]> {
  if (!(await tableExists(sql, 'tm_payloads'))) return [];
  const party = partyInfo(network, participant);
  const pair = unlockEnclaveKey(secrets, password);
  const enclave = createLocalEnclave([pair]);
  pair.secretKey.fill(0);
  try {
    const out: PayloadLine[] = [];
    for await (const rows of sql`select hash, payload from tm_payloads order by hash`.cursor(500)) {
      for (const r of rows) {
        const hash = fromRowKey(r.hash as string);
        const encoded = parseWith(EncodedPayload, r.payload, `stored payload ${hash}`);
        const key = decryptionKey(party, encoded);
        if (!key) continue;
        const plain = await enclave.decrypt(encoded, key);
        const received: ReceivedPayload = { hash, found: true, payload: toHex(plain), senderKey: encoded.senderKey, recipientKeys: encoded.recipientKeys, privacyFlag: encoded.privacyFlag };
        out.push({ kind: 'payload', received });
      }
    }
    return out;
  } finally {
    enclave.close();
  }
}

export interface DatabaseRead {
  header: HeaderLine;
  /** The record lines after the header, in file order (events first, in global position order). */
  records: AsyncGenerator<RecordLine>;
}

/**
 * Reads the participant's record inside one read-only repeatable-read transaction; `consume` gets the header
 * and the lines while the snapshot is open. Without secrets, no payloads (private transactions then replay as
 * for a non-party, and the private state roots will differ: the caller says so).
 */
export async function readDatabase<T>(sql: Sql, src: ParticipantSource & { network: NetworkDescription }, consume: (read: DatabaseRead) => Promise<T>): Promise<T> {
  return (await sql.begin('isolation level repeatable read read only', async (tx) => {
    const q = tx as unknown as Sql;
    if (!(await tableExists(q, 'events'))) throw new Error(`no events table in ${redactUrl(src.databaseUrl)}: not a participant's database`);
    const hasBlocks = await tableExists(q, 'ledger_blocks');
    const chains: Counts['chains'] = {};
    for (const r of await q`select distinct on (chain) chain, chain_position, hash from events order by chain, chain_position desc`) {
      chains[r.chain as string] = { events: Number(r.chain_position), head: toHex(new Uint8Array(r.hash as Buffer)) };
    }
    const [{ n: events }] = await q`select count(*)::int as n from events`;
    const blocks = hasBlocks ? Number((await q`select count(*)::int as n from ledger_blocks`)[0].n) : 0;
    const transactions = hasBlocks ? Number((await q`select count(*)::int as n from ledger_transactions`)[0].n) : 0;
    const payloads = src.secrets ? await decryptPayloads(q, src.network, src.participant, src.secrets, src.password) : [];
    const counts: Counts = { events: Number(events), blocks, transactions, payloads: payloads.length, chains };
    const header: HeaderLine = {
      kind: 'header',
      format: AUDIT_FORMAT,
      version: AUDIT_VERSION,
      createdAt: new Date().toISOString(),
      participant: src.participant,
      network: src.network,
      containsPrivateData: payloads.length > 0 || (hasBlocks && Number((await q`select count(*)::int as n from ledger_private_receipts`)[0].n) > 0),
      notice: PRIVATE_DATA_NOTICE,
      counts,
    };
    async function* records(): AsyncGenerator<RecordLine> {
      for await (const rows of q`select * from events order by global_position`.cursor(2000)) {
        for (const r of rows) yield eventLine(storedEventFromRow(r));
      }
      if (hasBlocks) {
        for await (const rows of q`select number, hash, state_root, private_state_root, timestamp, block from ledger_blocks order by number`.cursor(1000)) {
          for (const r of rows) {
            yield {
              kind: 'block',
              number: Number(r.number),
              hash: r.hash as string,
              stateRoot: r.state_root as string,
              privateStateRoot: (r.private_state_root as string | null) ?? null,
              timestamp: String(r.timestamp),
              block: r.block as Record<string, unknown>,
            };
          }
        }
        for await (const rows of q`select hash, block_number, tx_index, tx, receipt from ledger_transactions order by block_number, tx_index`.cursor(2000)) {
          for (const r of rows) {
            yield { kind: 'tx', blockNumber: Number(r.block_number), index: Number(r.tx_index), hash: r.hash as string, tx: r.tx as Record<string, unknown>, receipt: r.receipt as Record<string, unknown> };
          }
        }
        for (const [kind, table] of [['log', 'ledger_logs'], ['privateLog', 'ledger_private_logs']] as const) {
          for await (const rows of q`select block_number, log_index, log from ${q(table)} order by block_number, log_index`.cursor(2000)) {
            for (const r of rows) yield { kind, blockNumber: Number(r.block_number), logIndex: Number(r.log_index), log: r.log as Record<string, unknown> };
          }
        }
        for await (const rows of q`select hash, block_number, receipt from ledger_private_receipts order by block_number, hash`.cursor(2000)) {
          for (const r of rows) yield { kind: 'privateReceipt', blockNumber: Number(r.block_number), hash: r.hash as string, receipt: r.receipt as Record<string, unknown> };
        }
        for (const r of await q`select address, creation_tx, privacy_flag, parties, block_number from ledger_private_contracts order by block_number, address`) {
          yield {
            kind: 'privateContract',
            blockNumber: Number(r.block_number),
            address: r.address as string,
            creationTxHash: r.creation_tx as string,
            privacyFlag: Number(r.privacy_flag),
            parties: r.parties as string[],
          };
        }
        for await (const rows of q`select hash, block_number, reason from ledger_dropped order by block_number, hash`.cursor(2000)) {
          for (const r of rows) yield { kind: 'dropped', blockNumber: Number(r.block_number), hash: r.hash as string, reason: r.reason as string };
        }
      }
      yield* payloads;
      yield { kind: 'end', counts };
    }
    return consume({ header, records: records() });
  })) as T;
}

export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@/]*@/, '$1:***@');
}
