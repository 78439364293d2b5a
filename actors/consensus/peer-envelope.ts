/**
 * Consensus traffic between validators is signed with the sender's Ed25519 validator key and checked on
 * receipt against the network description, so a forged message is refused even if the broker were
 * compromised (the broker already lets only validator X publish on subjects ending in X).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { SubmitTransactions } from './messages.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { NetworkDescription } from '../../lib/network/description.js';

export const PeerEnvelope = z.object({ body: z.string().max(16 * 1024 * 1024), sig: z.string().regex(/^[0-9a-f]{128}$/) });
export type PeerEnvelope = z.infer<typeof PeerEnvelope>;

export const PeerBody = z.discriminatedUnion('kind', [
  /** The algorithm's own message (Raft or QBFT), validated by the core, which also checks who it claims to be from. */
  z.object({ kind: z.literal('core'), message: z.unknown() }),
  /** A follower hands the txs its gateway admitted to the leader. */
  z.object({ kind: z.literal('forward'), from: z.string(), transactions: SubmitTransactions.shape.transactions, traceparents: SubmitTransactions.shape.traceparents }),
]);
export type PeerBody = z.infer<typeof PeerBody>;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function validatorPublicKey(rawHex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(rawHex, 'hex')]), format: 'der', type: 'spki' });
}

export function validatorPrivateKey(pkcs8Hex: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(pkcs8Hex, 'hex'), format: 'der', type: 'pkcs8' });
}

export class PeerSigner {
  private keys = new Map<string, KeyObject>();
  constructor(
    network: NetworkDescription,
    private readonly privateKey: KeyObject,
  ) {
    this.permit(network);
  }

  /** The permission list changed: only its participants' messages are accepted from now on. */
  permit(network: NetworkDescription): void {
    this.keys = new Map(network.participants.map((p) => [p.id, validatorPublicKey(p.validatorKey)]));
  }

  seal(body: PeerBody): PeerEnvelope {
    const text = JSON.stringify(body);
    return { body: text, sig: sign(null, Buffer.from(text), this.privateKey).toString('hex') };
  }

  /** Check the signature of `sender` (taken from the subject) and that the body claims the same sender. */
  open(sender: string, envelope: PeerEnvelope): PeerBody {
    const key = this.keys.get(sender);
    if (!key) throw new CodedError(ErrorCode.Rejected, `unknown validator ${sender}`);
    if (!verify(null, Buffer.from(envelope.body), key, Buffer.from(envelope.sig, 'hex'))) {
      throw new CodedError(ErrorCode.Rejected, `bad signature on a message from ${sender}`);
    }
    const parsed = PeerBody.safeParse(JSON.parse(envelope.body));
    if (!parsed.success) throw new CodedError(ErrorCode.InvalidInput, `malformed consensus message from ${sender}`);
    const body = parsed.data;
    if (body.kind === 'forward' && body.from !== sender) throw new CodedError(ErrorCode.Rejected, `${sender} sent a message claiming to be from ${body.from}`);
    return body;
  }
}
