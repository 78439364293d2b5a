import { runActor } from '../../../lib/actor-process.js';
import { startExecutor } from './shell.js';

await runActor('executor', (rt) => startExecutor(rt));
