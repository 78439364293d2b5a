/**
 * The public-chain end-to-end walkthrough (simple-storage.test.ts), unchanged, on a QBFT network: the same
 * file runs with QUORUM_TEST_CONSENSUS=qbft (each test file is its own process, so the setting stays here).
 * A 300 ms block period keeps its sequential transactions quick; the default is GoQuorum's 1 s.
 */
process.env.QUORUM_TEST_CONSENSUS = 'qbft';
process.env.QUORUM_TEST_QBFT_PERIOD_MS ??= '300';
await import('./simple-storage.test.js');
