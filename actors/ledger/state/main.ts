import { runActor } from '../../../lib/actor-process.js';
import { startStateStore } from './shell.js';

await runActor('state', (rt) => startStateStore({ ...rt, kind: 'public' }));
