/**
 * The ledger's public surface: the start functions of its actors (block executor, public state store) and
 * the messages other actors exchange with them.
 */
export { startExecutor, type ExecutorDeps } from './executor/shell.js';
export { startStateStore, type StateStoreDeps } from './state/shell.js';
export * from './messages.js';
