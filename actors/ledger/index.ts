/**
 * The ledger's public surface: the start functions of its actors (block executor, state store — run for the
 * public and the private state) and the messages other actors exchange with them.
 */
export { startExecutor, type ExecutorDeps } from './executor/shell.js';
export { startStateStore, type StateStoreDeps } from './state/shell.js';
export * from './executor/messages.js';
export * from './state/messages.js';
