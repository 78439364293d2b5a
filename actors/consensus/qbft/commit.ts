/**
 * COMMIT. A commit carries the sender's commit seal over (digest, proposal round). A quorum of commits for one
 * digest in one round, with valid seals and the proposal known, finalises the height. Commits of earlier rounds
 * of the height still count (a quorum of them is a decision whatever round we are in now).
 */
import type { CoreOutput } from '../core.js';
import { qbftEvent } from './events.js';
import type { Commit } from './messages.js';
import { finalize } from './finalize.js';
import { broadcast, sentIn } from './state.js';
import { sealSigner, signCommit } from './signing.js';
import type { QbftState } from './types.js';
import { isValidatorAt, quorum, validatorsAt } from './validators.js';

/** Commits for rounds this far beyond the current one are dropped (they come back with rebroadcasts). */
const COMMIT_ROUNDS_AHEAD = 64;

export function sendCommit(state: QbftState, out: CoreOutput, round: number, digest: string, proposalRound: number): void {
  if (!isValidatorAt(state, state.height, state.selfAddress)) return;
  const sent = sentIn(state, round);
  if (sent.commit !== undefined && sent.commit !== digest) return;
  if (sent.commit === undefined) {
    sent.commit = digest;
    out.events.push(qbftEvent('MessageSigned', { height: state.height, round, kind: 'commit', digest }));
  }
  const commit = signCommit(state.crypto, state.height, round, digest, proposalRound);
  state.own.commit = commit;
  broadcast(state, out, commit);
  handleCommit(state, out, state.self, state.selfAddress, commit);
}

/** `signer` is verified (a validator of the height, the sender). */
export function handleCommit(state: QbftState, out: CoreOutput, from: string, signer: string, commit: Commit): void {
  if (commit.round > state.round + COMMIT_ROUNDS_AHEAD) return;
  let perRound = state.commits.get(commit.round);
  if (perRound === undefined) state.commits.set(commit.round, (perRound = new Map()));
  const known = perRound.get(signer);
  if (known !== undefined) {
    if (known.digest !== commit.digest) out.refused.push({ from, reason: `second commit in round ${commit.round}` });
    return;
  }
  perRound.set(signer, commit);
  checkCommitted(state, out, commit.round);
}

export function checkCommitted(state: QbftState, out: CoreOutput, round: number): void {
  const perRound = state.commits.get(round);
  if (perRound === undefined) return;
  const needed = quorum(validatorsAt(state, state.height).length);
  if (perRound.size < needed) return;
  const byDigest = new Map<string, [string, Commit][]>();
  for (const entry of perRound) {
    const list = byDigest.get(entry[1].digest) ?? [];
    list.push(entry);
    byDigest.set(entry[1].digest, list);
  }
  for (const [digest, entries] of byDigest) {
    if (entries.length < needed) continue;
    const proposal = state.values.get(digest);
    if (proposal === undefined) continue; // we will get it (a proposal, a certificate) or sync
    const seals: string[] = [];
    for (const [signer, commit] of entries) {
      const key = `${signer}:${digest}:${commit.seal}`;
      if (state.verifiedSeals.has(key) || sealSigner(state.crypto, digest, proposal.round, commit.seal) === signer) {
        state.verifiedSeals.add(key);
        seals.push(commit.seal);
      } else {
        perRound.delete(signer);
        out.refused.push({ from: state.idByAddress.get(signer) ?? signer, reason: 'commit with an invalid seal' });
      }
    }
    if (seals.length < needed) continue;
    // Order the seals by signer so that the same quorum gives the same parentSeals.
    const ordered = entries.filter(([, c]) => seals.includes(c.seal)).sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, needed);
    finalize(state, out, proposal, digest, round, ordered.map(([, c]) => c.seal));
    return;
  }
}

