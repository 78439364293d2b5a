/**
 * Messages of the consensus actor that other actors use. (Raft's own peer messages are internal to
 * actors/consensus and travel only between consensus actors.)
 */
import { z } from 'zod';
import { Address, Hash32, HexBytes, HexQuantity } from '../../lib/hex.js';
import { AdmittedTransaction } from '../../lib/ethereum/transaction-record.js';

/**
 * W3C traceparents of a group's members, index for index beside its transactions (null: that one had none),
 * so whoever handles the group can link its span to every member's trace. Optional: older senders omit it.
 */
export const Traceparents = z.array(z.string().max(128).nullable()).max(1000).optional();
export type Traceparents = z.infer<typeof Traceparents>;

/** A block as consensus orders it: which signed transactions, in which order, at which height. */
export const CommittedBlock = z.object({
  height: z.number().int().positive(),
  /** Unix seconds chosen by the minting leader; the executor keeps timestamps non-decreasing. */
  timestamp: z.number().int().nonnegative(),
  proposer: z.string(),
  /** Where consensus decided it: Raft term and log index; QBFT round and height. */
  raftTerm: z.number().int().nonnegative(),
  raftIndex: z.number().int().positive(),
  /** Header extraData, hex: the consensus evidence (QBFT: digest, round, the parent's commit seals, a vote). */
  extraData: HexBytes.optional(),
  /** Raw signed transactions (RLP / typed envelope), hex. */
  transactions: z.array(HexBytes),
  /** Beside `transactions`: each one's traceparent as its gateway submitted it (see Traceparents). */
  traceparents: z.array(z.string().max(128).nullable()).optional(),
});
export type CommittedBlock = z.infer<typeof CommittedBlock>;

/** gateway → consensus: transactions the gateway has checked (signature, chain id, gas price, nonce). */
export const SubmitTransactions = z.object({
  transactions: z.array(AdmittedTransaction).min(1).max(1000),
  traceparents: Traceparents,
});
export type SubmitTransactions = z.infer<typeof SubmitTransactions>;
export type SubmittedTransaction = SubmitTransactions['transactions'][number];
export const SubmitResult = z.object({
  accepted: z.array(Hash32),
  /** Transactions the pool refused, with why (nonce already used, pool full...). */
  rejected: z.array(z.object({ hash: Hash32, reason: z.string() })).default([]),
});

/** executor → consensus: committed blocks from a height on (catch-up after a restart or a missed event). */
export const CommittedRangeRequest = z.object({ fromHeight: z.number().int().positive(), max: z.number().int().positive().max(500) });
export const CommittedRangeReply = z.object({ blocks: z.array(CommittedBlock) });

/** gateway → consensus: the next nonce the pool expects from an address (null when the pool holds none). */
export const PoolNonceRequest = z.object({ address: Address });
export const PoolNonceReply = z.object({ nextNonce: HexQuantity.nullable() });

export const RaftRole = z.enum(['leader', 'follower', 'candidate']);
export const ConsensusStatus = z.object({
  participant: z.string(),
  algorithm: z.enum(['raft', 'qbft']),
  role: RaftRole,
  term: z.number().int(),
  leader: z.string().nullable(),
  commitIndex: z.number().int(),
  committedHeight: z.number().int(),
  poolSize: z.number().int(),
  cluster: z.array(z.object({ participant: z.string(), role: z.enum(['verifier', 'minter', 'learner']), isLeader: z.boolean() })),
});
export type ConsensusStatus = z.infer<typeof ConsensusStatus>;

/** gateway → consensus: an operator's istanbul_* or raft_* call, passed through as JSON-RPC named it. */
export const ConsensusCommand = z.object({
  method: z.string().regex(/^(istanbul|raft)_[A-Za-z]+$/),
  params: z.array(z.unknown()).max(8),
});
export const ConsensusCommandReply = z.object({ result: z.unknown() });
