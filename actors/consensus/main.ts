import { runActor } from '../../lib/actor-process.js';
import { startConsensus } from './shell.js';

await runActor('consensus', (rt) =>
  startConsensus({
    ...rt,
    now: () => Date.now(),
    // Distinct per process start, so two restarts do not replay the same election timeouts.
    seed: Number(process.env.QUORUM_RAFT_SEED ?? Date.now() % 2 ** 31),
  }),
);
