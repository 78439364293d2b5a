import { z } from 'zod';
import { Address } from '../hex.js';

/**
 * The network description: one JSON file every participant shares. It holds only public material
 * (public keys, addresses, ports); each participant's secrets live in its own secrets file.
 */
/** Every actor kind a participant runs. `state` and `privateState` are one module (the state store) run twice. */
export const ActorName = z.enum(['gateway', 'consensus', 'executor', 'state', 'privateState', 'tm', 'enclave']);
export type ActorName = z.infer<typeof ActorName>;
export const ACTORS: readonly ActorName[] = ActorName.options;

export const ParticipantId = z.string().regex(/^[a-z][a-z0-9]{0,15}$/, 'participant ids are short lowercase names');

export const RaftParams = z.object({
  type: z.literal('raft'),
  /**
   * The leader mints at most once per blockPeriodMs (counted from its last mint, so an idle network mints at
   * once), and only when its pool holds transactions. 100 ms, not 50: every block costs every participant a
   * fixed amount of work, and under load fewer, larger blocks leave more of the machine to transactions.
   */
  blockPeriodMs: z.number().int().positive().default(100),
  tickMs: z.number().int().positive().default(50),
  electionTicksMin: z.number().int().positive().default(10),
  electionTicksMax: z.number().int().positive().default(20),
  heartbeatTicks: z.number().int().positive().default(2),
  maxTxsPerBlock: z.number().int().positive().default(2000),
  /**
   * The voters the network started with (participant ids). Later membership changes (raft_addPeer...) are
   * entries in the Raft log, so a participant permitted later joins as what the log says it is. Absent: every
   * participant of the description.
   */
  peers: z.array(z.string()).min(1).optional(),
});

/**
 * QBFT (IBFT 2.0): Byzantine-fault-tolerant, 3F+1 validators tolerate F faulty ones. Validators are named by
 * their secp256k1 node address (as in GoQuorum); the set starts as `validators` and changes by votes.
 */
export const QbftParams = z.object({
  type: z.literal('qbft'),
  /** The proposer of the next height waits this long after the last block (GoQuorum's blockperiodseconds). */
  blockPeriodMs: z.number().int().positive().default(1000),
  /** Keep producing blocks when there is nothing to include (GoQuorum does); false makes blocks only on demand. */
  emptyBlocks: z.boolean().default(true),
  /** A round that has not decided in this long moves to the next; the timeout doubles each round. */
  requestTimeoutMs: z.number().int().positive().default(4000),
  tickMs: z.number().int().positive().default(50),
  maxTxsPerBlock: z.number().int().positive().default(2000),
  /** Node addresses of the genesis validators. */
  validators: z.array(Address).min(1),
});

export const ConsensusParams = z.discriminatedUnion('type', [RaftParams, QbftParams]);
export type ConsensusParams = z.infer<typeof ConsensusParams>;
export type ConsensusKind = ConsensusParams['type'];

/** A Tessera-style public key: base64 of a 32-byte Curve25519 key. */
export const PrivacyPublicKey = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected a base64 32-byte public key');

/** A private key locked at rest: scrypt(password) → key that seals the private key with secretbox (all base64). */
export const LockedKey = z.object({
  kdf: z.literal('scrypt'),
  N: z.number().int().positive(),
  r: z.number().int().positive(),
  p: z.number().int().positive(),
  salt: z.string(),
  nonce: z.string(),
  sealed: z.string(),
});
export type LockedKey = z.infer<typeof LockedKey>;

export const Participant = z.object({
  id: ParticipantId,
  name: z.string(),
  /** Ed25519 public key (hex, raw 32 bytes) that signs this participant's consensus messages. */
  validatorKey: z.string().regex(/^[0-9a-f]{64}$/),
  /** secp256k1 address of the participant's node key: its validator identity under QBFT (istanbul_nodeAddress). */
  nodeAddress: Address,
  /** NKEY public user keys, one per actor. */
  nkeys: z.record(ActorName, z.string().regex(/^U[A-Z2-7]{55}$/)),
  /** Node-managed accounts the gateway signs for (eth_accounts / eth_sendTransaction). */
  accounts: z.array(Address),
  rpcPort: z.number().int().min(1).max(65535),
  /** The tm's Tessera-compatible HTTP API (127.0.0.1 unless deployed otherwise). */
  tmPort: z.number().int().min(1).max(65535),
  /** The participant's privacy public key (Curve25519, base64 of 32 bytes), as privateFor/privateFrom name it. */
  privacyPublicKey: PrivacyPublicKey,
});
export type Participant = z.infer<typeof Participant>;

export const NetworkDescription = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  chainId: z.number().int().positive(),
  devOnly: z.boolean().default(false),
  consensus: ConsensusParams,
  genesis: z.object({
    timestamp: z.number().int().nonnegative(),
    gasLimit: z.string().regex(/^[0-9]+$/),
    alloc: z.record(Address, z.object({ balance: z.string().regex(/^[0-9]+$/) })),
  }),
  participants: z.array(Participant).min(1),
});
export type NetworkDescription = z.infer<typeof NetworkDescription>;

/** What only one participant knows. Never logged, never published. */
export const ParticipantSecrets = z.object({
  participant: ParticipantId,
  devOnly: z.boolean(),
  /** Ed25519 private key, PKCS8 DER as hex. */
  validatorPrivateKey: z.string().regex(/^[0-9a-f]+$/),
  /** secp256k1 node key (0x + 64 hex): signs QBFT messages and commit seals. */
  nodeKey: z.string().regex(/^0x[0-9a-f]{64}$/),
  nkeySeeds: z.record(ActorName, z.string().regex(/^SU[A-Z2-7]+$/)),
  accountKeys: z.array(z.string().regex(/^0x[0-9a-f]{64}$/)),
  /** The enclave's key pair: the public key (as in the description) and the private key, locked. */
  enclaveKey: z.object({ publicKey: PrivacyPublicKey, locked: LockedKey }),
  /**
   * DEV ONLY: the password that unlocks enclaveKey. A deployment leaves it out and gives the enclave
   * QUORUM_ENCLAVE_PASSWORD_FILE instead.
   */
  enclavePassword: z.string().optional(),
});
export type ParticipantSecrets = z.infer<typeof ParticipantSecrets>;

export function findParticipant(network: NetworkDescription, id: string): Participant {
  const p = network.participants.find((x) => x.id === id);
  if (!p) throw new Error(`participant ${id} is not in network ${network.name}`);
  return p;
}
