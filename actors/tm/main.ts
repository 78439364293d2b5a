import { runActor } from '../../lib/actor-process.js';
import { findParticipant } from '../../lib/network/description.js';
import { createEnclaveClient } from '../enclave/enclave-client.js';
import { startTm } from './shell.js';

await runActor('tm', (rt) =>
  startTm({
    ...rt,
    enclave: createEnclaveClient(rt.bus),
    httpPort: findParticipant(rt.network, rt.participant).tmPort,
    httpHost: process.env.QUORUM_TM_HOST || '127.0.0.1',
    // An operator who knows the store lost payloads (restored from an old backup) asks peers again.
    recover: process.env.QUORUM_TM_RECOVER === '1',
  }),
);
