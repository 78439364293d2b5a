/**
 * QBFT's justification rules. A proposal in round r > 0 must come with a quorum of ROUND-CHANGEs for r from
 * distinct validators; if any of them reports a prepared block, the proposal must be the block prepared in the
 * highest round among them, proven by a quorum of PREPAREs for that (round, digest). A round change that
 * reports a prepared block carries its certificate (the block and the prepares), checked on receipt.
 */
import type { Justification, Prepare, PreparedCertificate, RoundChange, SignedRoundChange } from './messages.js';
import type { QbftState } from './types.js';
import { checkProposal } from './validate.js';
import { signedPart, signerOf } from './signing.js';
import { isValidatorAt, quorum, validatorsAt } from './validators.js';

/** Null when `prepares` are a quorum of distinct validators' PREPAREs for (height, round, digest). */
export function checkPrepares(state: QbftState, prepares: readonly Prepare[], round: number, digest: string): string | null {
  const signers = new Set<string>();
  for (const p of prepares) {
    if (p.height !== state.height || p.round !== round || p.digest !== digest) return 'prepare for another value';
    const signer = signerOf(state.crypto, p);
    if (signer === null || !isValidatorAt(state, state.height, signer)) return 'prepare with an invalid signer';
    signers.add(signer);
  }
  const needed = quorum(validatorsAt(state, state.height).length);
  return signers.size >= needed ? null : `${signers.size} prepares, ${needed} needed`;
}

/** Null when a round change's prepared certificate is present and proves its `prepared` claim. */
export function checkCertificate(state: QbftState, rc: RoundChange): string | null {
  if (rc.prepared === null) return rc.certificate === null ? null : 'certificate without a prepared claim';
  if (rc.certificate === null) return 'prepared claim without a certificate';
  if (rc.prepared.round >= rc.round) return 'prepared round not before the round change';
  const checked = checkProposal(state, rc.certificate.proposal);
  if ('error' in checked) return `certificate: ${checked.error}`;
  if (checked.digest !== rc.prepared.digest) return 'certificate block does not match the prepared digest';
  return checkPrepares(state, rc.certificate.prepares, rc.prepared.round, rc.prepared.digest);
}

/** Round changes for `round` held from distinct validators (latest per signer). */
export function roundChangesFor(state: QbftState, round: number): RoundChange[] {
  return [...state.roundChanges.values()].filter((rc) => rc.round === round);
}

/**
 * What we would propose with in `round`, if we hold a quorum of round changes for it: the justification, and
 * the certificate of the highest prepared block among them (null: free to propose a new block).
 */
export function justificationFor(
  state: QbftState,
  round: number,
): { justification: Justification; certificate: (PreparedCertificate & { round: number; digest: string }) | null } | null {
  const rcs = roundChangesFor(state, round);
  const needed = quorum(validatorsAt(state, state.height).length);
  if (rcs.length < needed) return null;
  rcs.sort((a, b) => (b.prepared?.round ?? -1) - (a.prepared?.round ?? -1));
  const chosen = rcs.slice(0, needed);
  const highest = chosen[0];
  const certificate =
    highest.prepared !== null && highest.certificate !== null
      ? { ...highest.certificate, round: highest.prepared.round, digest: highest.prepared.digest }
      : null;
  return {
    justification: { roundChanges: chosen.map(signedPart), prepares: certificate === null ? [] : certificate.prepares },
    certificate,
  };
}

/**
 * Null when a proposal with `digest` and first round `proposalRound` is justified in `round`; else the reason.
 */
export function checkJustification(
  state: QbftState,
  round: number,
  digest: string,
  proposalRound: number,
  justification: Justification | null,
): string | null {
  if (round === 0) {
    if (justification !== null) return 'justification in round 0';
    return proposalRound === 0 ? null : 'round-0 proposal from another round';
  }
  if (justification === null) return `no justification for round ${round}`;
  const signers = new Set<string>();
  let highest: SignedRoundChange['prepared'] = null;
  for (const rc of justification.roundChanges) {
    if (rc.height !== state.height || rc.round !== round) return 'round change for another round';
    const signer = signerOf(state.crypto, rc);
    if (signer === null || !isValidatorAt(state, state.height, signer)) return 'round change with an invalid signer';
    signers.add(signer);
    if (rc.prepared !== null && (highest === null || rc.prepared.round > highest.round)) highest = rc.prepared;
  }
  const needed = quorum(validatorsAt(state, state.height).length);
  if (signers.size < needed) return `${signers.size} round changes, ${needed} needed`;
  if (highest === null) return proposalRound === round ? null : 'a new block must be proposed in its own round';
  // Several round changes may report the highest round; the proposal must be one of them, with its prepares.
  const candidates = justification.roundChanges.filter((rc) => rc.prepared?.round === highest!.round).map((rc) => rc.prepared!.digest);
  if (!candidates.includes(digest)) return 'proposal is not the highest prepared block';
  return checkPrepares(state, justification.prepares, highest.round, digest);
}
