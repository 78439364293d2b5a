/** The enclave's public surface: the start function, the client the tm uses, the interface and its messages. */
export { startEnclave, type RunningEnclave } from './shell.js';
export { createEnclaveClient } from './enclave-client.js';
export type { Enclave } from './enclave.js';
export * from './messages.js';
