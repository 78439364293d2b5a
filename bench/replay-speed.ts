/**
 * The auditor's replay, timed: one participant's whole record (read from its database while the network still
 * runs) re-executed from genesis with no consensus, broker or network (cli/audit/replay.ts), once the network is
 * gone. Printed beside the network's TPS and the in-process execution rate of the same run.
 */
import { loadFromDatabase, participantSource } from '../cli/audit/inputs.js';
import { replay } from '../cli/audit/replay.js';
import type { AuditData } from '../cli/audit/format.js';

export interface ReplaySpeed {
  participant: string;
  ok: boolean;
  divergence?: string;
  blocks: number;
  transactions: number;
  /** whole replay: chain check, execution, comparison, consensus evidence */
  seconds: number;
  executeSeconds: number;
  txPerSecond: number;
  blocksPerSecond: number;
}

export async function loadReplayData(dir: string, participant: string): Promise<AuditData> {
  return loadFromDatabase(await participantSource({ participant, dir }));
}

export async function measureReplay(data: AuditData): Promise<ReplaySpeed> {
  const outcome = await replay(data, { progressEvery: 0 });
  const s = outcome.summary;
  return {
    participant: s.participant,
    ok: outcome.ok,
    ...(outcome.ok ? {} : { divergence: JSON.stringify(outcome.divergence).slice(0, 300) }),
    blocks: s.blocks,
    transactions: s.transactions,
    seconds: s.seconds,
    executeSeconds: s.executeSeconds,
    txPerSecond: s.transactions / Math.max(s.executeSeconds, 1e-9),
    blocksPerSecond: s.blocks / Math.max(s.executeSeconds, 1e-9),
  };
}
