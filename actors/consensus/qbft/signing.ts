/** Building signed messages and recovering their signers (crypto injected through QbftCrypto). */
import { messageDigest, sealDigest } from './digest.js';
import type { Commit, Justification, Prepare, PreparedCertificate, Proposal, ProposalMessage, RoundChange, SignedRoundChange } from './messages.js';
import type { QbftCrypto } from './types.js';

export function signProposal(
  crypto: QbftCrypto,
  height: number,
  round: number,
  proposal: Proposal,
  digest: string,
  justification: Justification | null,
): ProposalMessage {
  const signature = crypto.sign(messageDigest({ type: 'PROPOSAL', height, round, digest }));
  return { type: 'PROPOSAL', height, round, proposal, signature, justification };
}

export function signPrepare(crypto: QbftCrypto, height: number, round: number, digest: string): Prepare {
  return { type: 'PREPARE', height, round, digest, signature: crypto.sign(messageDigest({ type: 'PREPARE', height, round, digest })) };
}

/** `sealRound` is the proposal's round: the seal is the same whichever round the commit happens in. */
export function signCommit(crypto: QbftCrypto, height: number, round: number, digest: string, sealRound: number): Commit {
  const seal = crypto.sign(sealDigest(digest, sealRound));
  const signature = crypto.sign(messageDigest({ type: 'COMMIT', height, round, digest, seal }));
  return { type: 'COMMIT', height, round, digest, seal, signature };
}

export function signRoundChange(
  crypto: QbftCrypto,
  height: number,
  round: number,
  certificate: (PreparedCertificate & { round: number; digest: string }) | null,
): RoundChange {
  const prepared = certificate === null ? null : { round: certificate.round, digest: certificate.digest };
  const signature = crypto.sign(messageDigest({ type: 'ROUND-CHANGE', height, round, prepared }));
  return {
    type: 'ROUND-CHANGE',
    height,
    round,
    prepared,
    signature,
    certificate: certificate === null ? null : { proposal: certificate.proposal, prepares: certificate.prepares },
  };
}

/** The signer of a consensus message (null: invalid signature). */
export function signerOf(crypto: QbftCrypto, m: ProposalMessage | Prepare | Commit | SignedRoundChange, digest?: string): string | null {
  switch (m.type) {
    case 'PROPOSAL':
      return crypto.recover(messageDigest({ type: 'PROPOSAL', height: m.height, round: m.round, digest: digest! }), m.signature);
    case 'PREPARE':
      return crypto.recover(messageDigest(m), m.signature);
    case 'COMMIT':
      return crypto.recover(messageDigest(m), m.signature);
    case 'ROUND-CHANGE':
      return crypto.recover(messageDigest({ type: 'ROUND-CHANGE', height: m.height, round: m.round, prepared: m.prepared }), m.signature);
  }
}

export function sealSigner(crypto: QbftCrypto, digest: string, round: number, seal: string): string | null {
  return crypto.recover(sealDigest(digest, round), seal);
}

/** Strips a round change to what a justification embeds. */
export function signedPart(rc: RoundChange): SignedRoundChange {
  return { type: rc.type, height: rc.height, round: rc.round, prepared: rc.prepared, signature: rc.signature };
}
