/**
 * Picks the consensus core the network description names and builds it from its stored events.
 */
import type { NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import type { LoggedBlock } from './block-data.js';
import type { CommandableCore, CoreEvent } from './core.js';
import { RaftCore } from './raft-core.js';

/** A core as the shell drives it: plus what it restored, so the shell can rebuild its pool's view. */
export interface ShellCore extends CommandableCore {
  restored(): { final: LoggedBlock[]; inFlight: LoggedBlock[] };
}

export interface CoreContext {
  network: NetworkDescription;
  secrets: ParticipantSecrets;
  participant: string;
  seed: number;
}

export function createCore(ctx: CoreContext, stored: readonly CoreEvent[]): ShellCore {
  const params = ctx.network.consensus;
  switch (params.type) {
    case 'raft':
      return new RaftCore(
        {
          self: ctx.participant,
          peers: ctx.network.participants.map((p) => p.id).sort(),
          electionTicksMin: params.electionTicksMin,
          electionTicksMax: params.electionTicksMax,
          heartbeatTicks: params.heartbeatTicks,
          seed: ctx.seed,
        },
        stored,
        ctx.network.genesis.timestamp,
      );
    case 'qbft':
      throw new Error('qbft: not wired yet');
  }
}
