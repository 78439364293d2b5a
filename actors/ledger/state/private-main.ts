import { runActor } from '../../../lib/actor-process.js';
import { startStateStore } from './shell.js';

await runActor('privateState', (rt) => startStateStore({ ...rt, kind: 'private' }));
