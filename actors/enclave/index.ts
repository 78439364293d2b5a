/** The enclave's public surface: the start function, the client the tm uses, the interface and its messages. */
export { startEnclave, unlockEnclaveKey, type EnclaveDeps, type RunningEnclave } from './shell.js';
export { createEnclaveClient, type EnclaveClientOptions } from './enclave-client.js';
export type { Enclave } from './enclave.js';
export { EnclaveRefusal } from './local-enclave.js';
export { payloadHash } from './payload-hash.js';
export * from './messages.js';
