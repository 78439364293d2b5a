import { runActor } from '../../lib/actor-process.js';
import { startConsensus } from './shell.js';
import { networkFileOf, watchNetworkFile } from '../../lib/network/watch.js';

await runActor('consensus', (rt) =>
  startConsensus({
    ...rt,
    now: () => Date.now(),
    // Distinct per process start, so two restarts do not replay the same election timeouts.
    seed: Number(process.env.QUORUM_RAFT_SEED ?? Date.now() % 2 ** 31),
    watchPermissions: (onChange) => {
      const watch = watchNetworkFile(networkFileOf(), onChange, { onInvalid: (err) => rt.log.warn('ignored an invalid network description', { reason: err.message }) });
      return () => watch.close();
    },
  }),
);
