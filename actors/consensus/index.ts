/** The consensus actor's public surface: its start function and the messages other actors exchange with it. */
export { startConsensus, type ConsensusDeps } from './shell.js';
export * from './messages.js';
