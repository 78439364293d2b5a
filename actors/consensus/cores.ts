/**
 * Picks the consensus core the network description names and builds it from its stored events.
 */
import type { NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import type { LoggedBlock } from './block-data.js';
import type { CommandableCore, CoreEvent } from './core.js';
import { RaftCore } from './raft-core.js';
import { createQbftCore, secp256k1Crypto } from './qbft/index.js';

/** A core as the shell drives it: plus what it restored, so the shell can rebuild its pool's view. */
export interface ShellCore extends CommandableCore {
  restored(): { final: LoggedBlock[]; inFlight: LoggedBlock[] };
  /** The permission list changed (the network description was edited by the admin). */
  permit(network: NetworkDescription): void;
  /** Cores that snapshot (Raft): a restart point is due; the shell then stores `takeSnapshot(its summary)`. */
  snapshotDue?(): boolean;
  takeSnapshot?(app: unknown): CoreEvent;
  /** Cores that compact (Raft): whether final blocks no longer in memory are read from its stream. */
  readonly archived?: boolean;
}

export interface CoreContext {
  network: NetworkDescription;
  secrets: ParticipantSecrets;
  participant: string;
  seed: number;
  /** Raft snapshot and compaction intervals in entries (raft-core.ts has the defaults). */
  snapshots?: { every: number; keep: number };
}

export function createCore(ctx: CoreContext, stored: readonly CoreEvent[]): ShellCore {
  const params = ctx.network.consensus;
  switch (params.type) {
    case 'raft': {
      const core = new RaftCore(
        {
          self: ctx.participant,
          peers: [...(params.peers ?? ctx.network.participants.map((p) => p.id))].sort(),
          permitted: ctx.network.participants.map((p) => p.id),
          electionTicksMin: params.electionTicksMin,
          electionTicksMax: params.electionTicksMax,
          heartbeatTicks: params.heartbeatTicks,
          seed: ctx.seed,
          ...(ctx.snapshots ? { snapshotEvery: ctx.snapshots.every, keepEntries: ctx.snapshots.keep } : {}),
        },
        stored,
        ctx.network.genesis.timestamp,
      );
      return Object.assign(core, { permit: (n: NetworkDescription) => core.setPermitted(n.participants.map((p) => p.id)) });
    }
    case 'qbft': {
      const participantsOf = (n: NetworkDescription) => n.participants.map((p) => ({ id: p.id, address: p.nodeAddress.toLowerCase() }));
      const core = createQbftCore(
        {
          self: ctx.participant,
          participants: participantsOf(ctx.network),
          genesisValidators: params.validators.map((a) => a.toLowerCase()),
          requestTimeoutTicks: Math.max(1, Math.round(params.requestTimeoutMs / params.tickMs)),
          crypto: secp256k1Crypto(ctx.secrets.nodeKey),
        },
        stored,
      );
      return Object.assign(core, {
        // Transactions stay pending until final under QBFT (nothing is logged before), so only final blocks matter.
        restored: () => ({ final: Array.from({ length: core.finalHeight() }, (_, i) => core.finalBlock(i + 1)?.block).filter((b): b is LoggedBlock => !!b), inFlight: [] }),
        permit: (n: NetworkDescription) => core.setParticipants(participantsOf(n)),
      });
    }
  }
}
