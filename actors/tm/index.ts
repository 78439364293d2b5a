/** The transaction manager (tm) actor: private payloads, stored encrypted, exchanged with other tms. */
export { startTm, type Tm, type TmOptions } from './shell.js';
export * from './messages.js';
