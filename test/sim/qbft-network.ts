/**
 * A deterministic simulation harness for the QBFT core, on the generic SimNetwork: honest validators that crash
 * and restart from exactly the events they persisted, up to F Byzantine validators (silent, equivocating, or
 * forging signatures), a fake shell that proposes whenever the core asks, and a safety checker that sees every
 * final block of every honest node. Signatures are a fast fake that is unforgeable inside the simulation: an
 * HMAC under the signer's secret, which only the signer's own crypto object holds.
 */
import { keccak_256 } from '@noble/hashes/sha3';
import { fromHex, toHex } from '../../lib/hex.js';
import type { CoreEvent, CoreInput, CoreOutput, FinalBlock } from '../../actors/consensus/core.js';
import type { LoggedBlock } from '../../actors/consensus/block-data.js';
import {
  GENESIS_DIGEST,
  createQbftCore,
  decodeExtraData,
  proposalDigest,
  messageDigest,
  signCommit,
  signPrepare,
  signProposal,
  verifyParentSeals,
  faultyBound,
  type QbftCore,
  type QbftCrypto,
  type QbftMessage,
  type Proposal,
} from '../../actors/consensus/qbft/index.js';
import { SimNetwork, SimRandom } from './sim-network.js';

export { SimRandom };

// ---------------------------------------------------------------------------------------------------------
// Fake signatures: 65 bytes = HMAC-SHA256(secret of signer, digest) ‖ signer address ‖ 13 zero bytes.

export class Keyring {
  private readonly secrets = new Map<string, Buffer>();

  constructor(private readonly random: SimRandom) {}

  /** Creates the secret of `address`; only the crypto returned for it can sign as it. */
  cryptoFor(address: string, options: { trusting?: boolean } = {}): QbftCrypto {
    const secret = Buffer.from(Array.from({ length: 16 }, () => this.random.int(0, 255)));
    this.secrets.set(address, secret);
    return {
      address,
      sign: (digest) => toHex(Buffer.concat([mac(secret, digest), Buffer.from(fromHex(address)), Buffer.alloc(13)])),
      recover: (digest, signature) => this.recover(digest, signature, options.trusting === true),
    };
  }

  /** A verifier for someone who holds no key (a test or a replay tool). */
  verifier(options: { trusting?: boolean } = {}): (digest: Uint8Array, signature: string) => string | null {
    return (digest, signature) => this.recover(digest, signature, options.trusting === true);
  }

  private recover(digest: Uint8Array, signature: string, trusting: boolean): string | null {
    if (signature.length !== 132) return null;
    const bytes = Buffer.from(signature.slice(2), 'hex');
    if (bytes.length !== 65) return null;
    const address = '0x' + bytes.subarray(32, 52).toString('hex');
    const secret = this.secrets.get(address);
    if (secret === undefined) return null;
    // A deliberately broken verifier (to prove the checker): believes the address written in the signature.
    if (trusting) return address;
    return mac(secret, digest).equals(bytes.subarray(0, 32)) ? address : null;
  }
}

/**
 * A keyed 256-bit mix of the digest (fast; the simulation's Byzantine code never inverts it, and a guessed
 * signature matches with probability 2^-256). Not cryptography: only the knowledge model matters here.
 */
function mac(secret: Buffer, digest: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  let h1 = secret.readUInt32LE(0) ^ 0x9e3779b9;
  let h2 = secret.readUInt32LE(4) ^ 0x85ebca6b;
  const k3 = secret.readUInt32LE(8);
  const k4 = secret.readUInt32LE(12);
  for (let i = 0; i < digest.length; i++) {
    h1 = Math.imul(h1 ^ digest[i], 0x01000193) ^ k3;
    h2 = Math.imul(h2 ^ digest[i] ^ (h1 >>> 13), 0x5bd1e995) ^ k4;
  }
  for (let lane = 0; lane < 8; lane++) {
    h1 = Math.imul(h1 ^ (h2 >>> 15), 0x2c1b3c6d) + lane;
    h2 = Math.imul(h2 ^ (h1 >>> 12), 0x297a2d39) ^ k3;
    out.writeUInt32LE((h1 ^ h2) >>> 0, lane * 4);
  }
  return out;
}

/** A signature that claims `address` but was made without its secret. */
export function forgedSignature(random: SimRandom, address: string): string {
  const junk = Buffer.from(Array.from({ length: 32 }, () => random.int(0, 255)));
  return toHex(Buffer.concat([junk, Buffer.from(fromHex(address)), Buffer.alloc(13)]));
}

export function addressFor(id: string): string {
  return toHex(keccak_256(new TextEncoder().encode(`qbft-sim:${id}`)).subarray(12));
}

// ---------------------------------------------------------------------------------------------------------
// Safety: every final block of every honest node.

export type ViolationKind = 'divergent-final' | 'final-out-of-order' | 'bad-parent-seals';

export class SafetyViolation extends Error {
  override name = 'SafetyViolation';
  constructor(
    readonly kind: ViolationKind,
    detail: string,
  ) {
    super(`${kind}: ${detail}`);
  }
}

class HarnessError extends Error {
  override name = 'HarnessError';
}

class LivenessFailure extends Error {
  override name = 'LivenessFailure';
}

interface FinalRecordSeen {
  key: string;
  digest: string;
  round: number;
  firstBy: string;
}

class SafetyChecker {
  readonly finals = new Map<number, FinalRecordSeen>();
  private readonly nextHeight = new Map<string, number>();

  constructor(private readonly verify?: (digest: Uint8Array, signature: string) => string | null) {}

  get heights(): number {
    return this.finals.size;
  }

  /**
   * A node emitted `final`. Identical blocks and extraData on every honest node (header hashes depend on
   * both); block H's parentSeals must be a quorum of H-1's validators over H-1's digest and round.
   */
  observe(node: string, final: FinalBlock, validatorsOfParent: () => string[]): void {
    const height = final.block.height;
    const expected = this.nextHeight.get(node) ?? 1;
    if (height !== expected) throw new SafetyViolation('final-out-of-order', `${node} finalised ${height}; ${expected} was next`);
    this.nextHeight.set(node, height + 1);
    const key = `${final.extraData}|${JSON.stringify(final.block)}`;
    const known = this.finals.get(height);
    if (known !== undefined) {
      if (known.key !== key) {
        throw new SafetyViolation(
          'divergent-final',
          `height ${height}: ${node} finalised ${decodeExtraData(final.extraData).digest}, ${known.firstBy} finalised ${known.digest}`,
        );
      }
      return;
    }
    const extra = decodeExtraData(final.extraData);
    this.finals.set(height, { key, digest: extra.digest, round: extra.round, firstBy: node });
    const parent = this.finals.get(height - 1);
    if (height > 1 && parent !== undefined && this.verify !== undefined) {
      const parentExtra = parent.key.slice(0, parent.key.indexOf('|'));
      const bad = verifyParentSeals(parentExtra, final.extraData, validatorsOfParent(), this.verify);
      if (bad !== null) throw new SafetyViolation('bad-parent-seals', `height ${height} (${node}): ${bad}`);
    }
  }

  observeRestart(node: string, finalHeight: number): void {
    this.nextHeight.set(node, finalHeight + 1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The cluster.

export type Behaviour = 'honest' | 'silent' | 'equivocate' | 'forge';

export interface QbftScenario {
  seed: number;
  validatorCount: number;
  /** Participants that are not validators at genesis (they follow; votes may add them). */
  observerCount: number;
  /** How many validators are Byzantine (at most F); their behaviours are drawn from the seed. */
  byzantineCount: number;
  timeoutTicks: number;
  faultTicks: number;
  dropRate: number;
  duplicateRate: number;
  maxDelay: number;
  partitionRate: number;
  healRate: number;
  crashRate: number;
  restartRate: number;
  /** Liveness: after healing, every honest node finalises this many more heights. */
  heightsAfterHeal: number;
}

export function scenarioForSeed(seed: number): QbftScenario {
  const random = new SimRandom(seed ^ 0x0b1f7);
  const validatorCount = seed % 2 === 0 ? 4 : 7;
  return {
    seed,
    validatorCount,
    observerCount: 0,
    byzantineCount: random.chance(0.6) ? faultyBound(validatorCount) : 0,
    timeoutTicks: random.int(4, 8),
    faultTicks: random.int(80, 160),
    dropRate: random.next() * 0.2,
    duplicateRate: random.next() * 0.1,
    maxDelay: random.int(0, 3),
    partitionRate: random.next() * 0.03,
    healRate: 0.03 + random.next() * 0.1,
    crashRate: random.next() * 0.006,
    restartRate: 0.03 + random.next() * 0.1,
    heightsAfterHeal: 3,
  };
}

export interface SimOptions {
  /** Byzantine behaviours to use, in order (default: drawn from the seed). */
  behaviours?: Behaviour[];
  /** Every node's verifier believes forged signatures (a deliberately broken setup the checker must catch). */
  trustingCrypto?: boolean;
  trace?: (line: string) => void;
}

export interface SimNode {
  id: string;
  address: string;
  behaviour: Behaviour;
  crypto: QbftCrypto;
  /** null while crashed. */
  core: QbftCore | null;
  /** Exactly the events the core asked to persist, in order. */
  disk: CoreEvent[];
}

export class QbftCluster {
  readonly random: SimRandom;
  readonly network: SimNetwork<unknown>;
  readonly nodes: SimNode[];
  readonly checker: SafetyChecker;
  readonly keyring: Keyring;
  readonly participants: { id: string; address: string }[];
  readonly genesisValidators: string[];
  private readonly listeners: ((node: string, final: FinalBlock) => void)[] = [];
  private txCounter = 0;
  /** Byzantine equivocation: the alternative digest a Byzantine proposer sent, per "height:round". */
  private readonly altDigests = new Map<string, string>();
  refused = 0;

  constructor(
    readonly scenario: QbftScenario,
    private readonly options: SimOptions = {},
  ) {
    this.random = new SimRandom(scenario.seed);
    this.keyring = new Keyring(this.random);
    const count = scenario.validatorCount + scenario.observerCount;
    const ids = Array.from({ length: count }, (_, i) => `p${i + 1}`);
    this.participants = ids.map((id) => ({ id, address: addressFor(id) }));
    this.genesisValidators = this.participants.slice(0, scenario.validatorCount).map((p) => p.address);
    this.network = new SimNetwork<unknown>(this.random, ids, scenario);
    const behaviours: Behaviour[] =
      options.behaviours ?? Array.from({ length: scenario.byzantineCount }, () => this.random.pick<Behaviour>(['silent', 'equivocate', 'forge']));
    // Byzantine validators are drawn at random among the validators.
    const byzantine = this.random.shuffle(ids.slice(0, scenario.validatorCount)).slice(0, behaviours.length);
    this.nodes = this.participants.map(({ id, address }) => {
      const index = byzantine.indexOf(id);
      const crypto = this.keyring.cryptoFor(address, { trusting: options.trustingCrypto });
      const node: SimNode = { id, address, behaviour: index < 0 ? 'honest' : behaviours[index], crypto, core: null, disk: [] };
      node.core = this.createCore(node);
      return node;
    });
    this.checker = new SafetyChecker(this.keyring.verifier());
    for (const n of this.nodes) if (n.behaviour !== 'honest') this.trace(`${n.id} is Byzantine: ${n.behaviour}`);
  }

  private createCore(node: SimNode): QbftCore {
    return createQbftCore(
      {
        self: node.id,
        participants: this.participants,
        genesisValidators: this.genesisValidators,
        requestTimeoutTicks: this.scenario.timeoutTicks,
        crypto: node.crypto,
      },
      node.disk,
    );
  }

  get now(): number {
    return this.network.now;
  }

  node(id: string): SimNode {
    const found = this.nodes.find((n) => n.id === id);
    if (found === undefined) throw new HarnessError(`no node ${id}`);
    return found;
  }

  honest(): SimNode[] {
    return this.nodes.filter((n) => n.behaviour === 'honest');
  }

  whenFinal(listener: (node: string, final: FinalBlock) => void): void {
    this.listeners.push(listener);
  }

  /** One tick: due messages arrive (random order), every live node ticks, and shells propose when asked. */
  tick(): void {
    for (const { from, to, message } of this.network.advance()) {
      const node = this.node(to);
      if (node.core !== null) this.stepNode(node, { type: 'message', from, message });
    }
    for (const node of this.random.shuffle(this.nodes.filter((n) => n.core !== null))) {
      this.stepNode(node, { type: 'tick' });
      if (node.behaviour === 'forge') this.forge(node);
    }
    for (const node of this.nodes) this.proposeIfAsked(node);
  }

  crash(id: string): void {
    const node = this.node(id);
    if (node.core === null) return;
    node.core = null;
    this.network.crash(id);
    this.trace(`crash ${id}`);
  }

  restart(id: string): void {
    const node = this.node(id);
    if (node.core !== null) return;
    node.core = this.createCore(node);
    this.network.restart(id);
    this.checker.observeRestart(id, node.core.finalHeight());
    this.trace(`restart ${id} at height ${node.core.height()} round ${node.core.round()} (${node.disk.length} events)`);
  }

  cut(groups: string[][]): void {
    this.network.cut(groups);
    this.trace(`cut ${JSON.stringify(groups)}`);
  }

  heal(): void {
    this.network.heal();
    this.trace('heal');
  }

  /** Runs a command on a node's core, persisting its events as a shell would. */
  command(id: string, method: string, params: unknown[]): unknown {
    const node = this.node(id);
    if (node.core === null) throw new HarnessError(`${id} is down`);
    const { result, events } = node.core.command(method, params);
    node.disk.push(...events);
    return result;
  }

  proposeIfAsked(node: SimNode): void {
    if (node.core === null || node.behaviour === 'silent') return;
    const height = node.core.proposalHeight();
    if (height === null) return;
    const transactions = Array.from({ length: this.random.int(0, 2) }, () => {
      const raw = toHex(Buffer.from(`tx-${this.scenario.seed}-${++this.txCounter}`));
      return { raw, hash: toHex(keccak_256(fromHex(raw))), from: addressFor('sender'), nonce: '0x0', gasLimit: '0x5208' };
    });
    const block: LoggedBlock = {
      height,
      timestamp: Math.max(node.core.lastTimestamp(), Math.floor(this.now / 10)),
      proposer: node.id,
      transactions,
    };
    this.stepNode(node, { type: 'propose', block });
  }

  stepNode(node: SimNode, input: CoreInput): CoreOutput {
    const core = node.core!;
    const before = core.round();
    const out = core.step(input);
    node.disk.push(...out.events); // persisted before anything is sent
    for (const { to, message } of out.messages) this.emit(node, to, message);
    this.refused += out.refused.length;
    if (this.options.trace !== undefined) {
      for (const r of out.refused) this.trace(`${node.id} refused ${r.from}: ${r.reason}`);
      if (core.round() !== before && out.committed.length === 0) this.trace(`${node.id} h=${core.height()} enters round ${core.round()}`);
    }
    for (const final of out.committed) {
      if (node.behaviour === 'honest') {
        this.checker.observe(node.id, final, () => core.validators(final.block.height - 1));
      }
      this.trace(`${node.id} final h=${final.block.height} r=${final.position.term} ${decodeExtraData(final.extraData).digest.slice(0, 10)} by ${final.block.proposer}`);
      for (const listener of this.listeners) listener(node.id, final);
    }
    return out;
  }

  private emit(node: SimNode, to: string, message: unknown): void {
    switch (node.behaviour) {
      case 'honest':
      case 'forge':
        return this.network.send(node.id, to, message);
      case 'silent':
        return;
      case 'equivocate':
        return this.network.send(node.id, to, this.random.chance(0.5) ? this.equivocation(node, message as QbftMessage) : message);
    }
  }

  /** Another message in place of `message`, properly signed by the Byzantine node itself. */
  private equivocation(node: SimNode, message: QbftMessage): QbftMessage {
    const core = node.core!;
    switch (message.type) {
      case 'PROPOSAL': {
        const key = `${message.height}:${message.round}`;
        const proposal: Proposal = { ...message.proposal, block: { ...message.proposal.block, timestamp: message.proposal.block.timestamp + 1 } };
        const parent = core.finalBlock(message.height - 1);
        const parentDigest = parent === undefined ? GENESIS_DIGEST : decodeExtraData(parent.extraData).digest;
        const digest = proposalDigest(proposal, parentDigest);
        this.altDigests.set(key, digest);
        return signProposal(node.crypto, message.height, message.round, proposal, digest, message.justification);
      }
      case 'PREPARE':
        return signPrepare(node.crypto, message.height, message.round, this.altDigest(message.height, message.round));
      case 'COMMIT':
        return signCommit(node.crypto, message.height, message.round, this.altDigest(message.height, message.round), 0);
      default:
        return message;
    }
  }

  private altDigest(height: number, round: number): string {
    return this.altDigests.get(`${height}:${round}`) ?? toHex(keccak_256(new TextEncoder().encode(`alt-${height}-${round}-${this.random.next()}`)));
  }

  /** A forger sometimes sends an honest node something signed in another validator's name. */
  private forge(node: SimNode): void {
    if (node.core === null || !this.random.chance(0.15)) return;
    const core = node.core;
    const targets = this.nodes.filter((n) => n.behaviour === 'honest');
    const to = this.random.pick(targets).id;
    const height = core.height();
    const round = core.round();
    const victim = this.random.pick(core.validators(height).filter((a) => a !== node.address));
    const digest = this.altDigest(height, round);
    const kind = this.random.int(0, 2);
    if (kind === 0) {
      // A prepare in an honest validator's name (sent by the forger: the broker names the real sender).
      this.network.send(node.id, to, { type: 'PREPARE', height, round, digest, signature: forgedSignature(this.random, victim) });
    } else if (kind === 1) {
      // A fabricated final block for the current height, "sealed" by every validator.
      const parent = core.finalBlock(height - 1);
      const parentExtra = parent === undefined ? null : decodeExtraData(parent.extraData);
      const proposal: Proposal = {
        block: { height, timestamp: core.lastTimestamp() + 1, proposer: core.proposer(height, 0), transactions: [] },
        round: 0,
        parentSeals: parentExtra === null ? [] : core.validators(height - 1).map((a) => forgedSignature(this.random, a)),
      };
      const seals = core.validators(height).map((a) => forgedSignature(this.random, a));
      this.network.send(node.id, to, { type: 'SYNC-RESPONSE', blocks: [{ proposal, seals }] });
    } else {
      // A round change claiming a block prepared by forged prepares.
      const parentDigest = core.finalBlock(height - 1) === undefined ? GENESIS_DIGEST : decodeExtraData(core.finalBlock(height - 1)!.extraData).digest;
      const proposal: Proposal = {
        block: { height, timestamp: core.lastTimestamp() + 2, proposer: core.proposer(height, round), transactions: [] },
        round,
        parentSeals: [],
      };
      const pd = proposalDigest(proposal, parentDigest);
      const prepares = core.validators(height).map((a) => ({ type: 'PREPARE' as const, height, round, digest: pd, signature: forgedSignature(this.random, a) }));
      const prepared = { round, digest: pd };
      const signature = node.crypto.sign(messageDigest({ type: 'ROUND-CHANGE', height, round: round + 1, prepared }));
      this.network.send(node.id, to, { type: 'ROUND-CHANGE', height, round: round + 1, prepared, signature, certificate: { proposal, prepares } });
    }
  }

  trace(line: string): void {
    this.options.trace?.(`[t=${this.now}] ${line}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// A whole run: random faults, then healing and a liveness check.

export interface SimReport {
  seed: number;
  validators: number;
  byzantine: string;
  ticks: number;
  finalHeights: number;
  ticksToRecover: number;
  maxRound: number;
  crashes: number;
  cuts: number;
  refused: number;
  delivered: number;
}

/** Liveness bound after healing, from the rounds the nodes reached during the faults. */
function livenessBound(scenario: QbftScenario, maxRound: number): number {
  const t = scenario.timeoutTicks;
  const f = faultyBound(scenario.validatorCount);
  return t * 2 ** (Math.min(maxRound, 10) + 2) + scenario.heightsAfterHeal * (t * 2 ** (f + 2) + 30) + 100;
}

export function runScenario(scenario: QbftScenario, options: SimOptions = {}): SimReport {
  const cluster = new QbftCluster(scenario, options);
  const { random, network } = cluster;
  let crashes = 0;
  let cuts = 0;
  const ids = cluster.nodes.map((n) => n.id);
  for (let t = 0; t < scenario.faultTicks; t++) {
    if (random.chance(scenario.partitionRate)) {
      cluster.cut(network.randomPartition(ids));
      cuts += 1;
    } else if (network.partition !== null && random.chance(scenario.healRate)) {
      cluster.heal();
    }
    for (const node of cluster.honest()) {
      if (node.core !== null && random.chance(scenario.crashRate)) {
        cluster.crash(node.id);
        crashes += 1;
      } else if (node.core === null && random.chance(scenario.restartRate)) {
        cluster.restart(node.id);
      }
    }
    cluster.tick();
  }
  // Faults stop: honest nodes connected and up, nothing dropped (delays and duplicates remain); Byzantine
  // validators keep misbehaving.
  cluster.heal();
  network.faults.dropRate = 0;
  for (const node of cluster.honest()) cluster.restart(node.id);
  const { ticks: ticksToRecover, maxRound } = awaitHeights(cluster, scenario.heightsAfterHeal);
  return {
    seed: scenario.seed,
    validators: scenario.validatorCount,
    byzantine: cluster.nodes.filter((n) => n.behaviour !== 'honest').map((n) => n.behaviour).join(',') || 'none',
    ticks: cluster.now,
    finalHeights: cluster.checker.heights,
    ticksToRecover,
    maxRound,
    crashes,
    cuts,
    refused: cluster.refused,
    delivered: network.stats.delivered,
  };
}

/** Ticks until every honest node has finalised `more` heights beyond the highest honest height now. */
export function awaitHeights(cluster: QbftCluster, more: number): { ticks: number; maxRound: number } {
  const honest = cluster.honest();
  const target = Math.max(...honest.map((n) => n.core!.finalHeight())) + more;
  const maxRound = Math.max(...honest.map((n) => n.core!.round()));
  const bound = livenessBound(cluster.scenario, maxRound);
  for (let elapsed = 0; elapsed <= bound; elapsed++) {
    if (honest.every((n) => n.core!.finalHeight() >= target)) return { ticks: elapsed, maxRound };
    cluster.tick();
  }
  const states = honest.map((n) => `${n.id}: final ${n.core!.finalHeight()} round ${n.core!.round()}`).join('; ');
  throw new LivenessFailure(`honest nodes did not reach height ${target} within ${bound} ticks of healing (max round ${maxRound}); ${states}`);
}
