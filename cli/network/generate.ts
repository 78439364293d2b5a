/**
 * Generates a development network: a NetworkDescription (public, shared by everyone) and one
 * ParticipantSecrets per participant (private). Keys are freshly random; everything else is a
 * deterministic function of the options (genesis timestamp is fixed), so two generations with the
 * same options differ only in key material.
 *
 * DEV ONLY: the secrets are written unencrypted (mode 0600). A production participant generates its
 * own keys on its own hosts and shares only the public parts.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createUser } from '@nats-io/nkeys';
import nacl from 'tweetnacl';
import { DEV_SCRYPT_N, lockKey } from '../../actors/enclave/locked-key.js';
import { privateToAddress } from '@ethereumjs/util';
import { ACTORS, ActorName, NetworkDescription, Participant, ParticipantSecrets, QbftParams, RaftParams, type ConsensusKind } from '../../lib/network/description.js';
import type { z } from 'zod';

const DEFAULT_CHAIN_ID = 1337;
const DEFAULT_NETWORK_NAME = 'devnet';
const DEFAULT_BASE_PORT = 22000;
/** Tessera's customary port range: participant i's tm API is on 9081 + i. */
const DEFAULT_TM_BASE_PORT = 9081;
const DEFAULT_PARTICIPANTS = 4;
const DEFAULT_ACCOUNTS_PER_PARTICIPANT = 2;
/** Quorum's customary genesis gas limit. */
const DEFAULT_GAS_LIMIT = '700000000';
/** 10^24 wei (one million ether) per funded account. */
export const DEFAULT_FUND_BALANCE = 10n ** 24n;
const GENESIS_TIMESTAMP = 0;

export interface GenerateOptions {
  /** Number of participants, ids p1..pN. Default 4. */
  participants?: number;
  /** Participant i (0-based) gets rpcPort basePort + i. Default 22000. Ignored when rpcPorts is given. */
  basePort?: number;
  /** Explicit RPC port per participant (length must equal `participants`). */
  rpcPorts?: number[];
  /** Participant i's tm API port is tmBasePort + i. Default 9081. Ignored when tmPorts is given. */
  tmBasePort?: number;
  tmPorts?: number[];
  chainId?: number;
  /** Network name; it is the first token of every NATS subject. Default 'devnet'. */
  name?: string;
  /** Extra addresses funded in genesis (tests and benchmarks fund their own keys). */
  fund?: string[];
  /** Balance (wei) of every funded account, node-managed or extra. Default 10^24. */
  fundBalance?: bigint;
  accountsPerParticipant?: number;
  gasLimit?: string;
  /** Which algorithm orders blocks; default raft. */
  consensusType?: ConsensusKind;
  /** Overrides of the algorithm's defaults (QBFT's validators default to every participant's node address). */
  consensus?: Partial<Omit<z.input<typeof RaftParams>, 'type'>> | Partial<Omit<z.input<typeof QbftParams>, 'type'>>;
}

export interface GeneratedNetwork {
  network: NetworkDescription;
  /** Keyed by participant id. */
  secrets: Record<string, ParticipantSecrets>;
}

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function randomSecp256k1Key(): Uint8Array {
  for (;;) {
    const k = randomBytes(32);
    const v = BigInt('0x' + k.toString('hex'));
    if (v > 0n && v < SECP256K1_N) return new Uint8Array(k);
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function normalizeAddress(a: string): string {
  const s = a.trim();
  if (!/^(0x)?[0-9a-fA-F]{40}$/.test(s)) throw new Error(`not a 20-byte hex address: ${JSON.stringify(a)}`);
  return (s.startsWith('0x') || s.startsWith('0X') ? '0x' + s.slice(2) : '0x' + s).toLowerCase();
}

function ed25519KeyPair(): { publicHex: string; privatePkcs8Hex: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  if (!jwk.x) throw new Error('ed25519 public key export failed');
  const raw = Buffer.from(jwk.x, 'base64url');
  if (raw.length !== 32) throw new Error('ed25519 public key is not 32 bytes');
  return { publicHex: raw.toString('hex'), privatePkcs8Hex: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('hex') };
}

export interface ParticipantOptions {
  /** Participant id, e.g. 'p5'. */
  id: string;
  /** Display name. Default 'Participant <n>' for an id p<n>, else the id. */
  name?: string;
  rpcPort: number;
  tmPort: number;
  /** Node-managed accounts. Default 2. */
  accounts?: number;
}

export interface GeneratedParticipant {
  /** The public part, as it appears in the network description. */
  participant: Participant;
  secrets: ParticipantSecrets;
}

function defaultName(id: string): string {
  const m = /^p(\d+)$/.exec(id);
  return m ? `Participant ${m[1]}` : id;
}

/**
 * One participant's fresh keys: validator (Ed25519), node key (secp256k1), one NKEY user per actor, account keys
 * and the enclave's box key pair (locked by a random dev password). generateNetwork builds every participant with
 * it; the admin's `permit` builds a newcomer with it. Funding its accounts is the caller's business: genesis
 * cannot change once a network runs.
 */
export function generateParticipant(opts: ParticipantOptions): GeneratedParticipant {
  const { id } = opts;
  for (const port of [opts.rpcPort, opts.tmPort]) if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${port} for ${id}`);
  if (opts.rpcPort === opts.tmPort) throw new Error(`rpc and tm ports of ${id} must differ`);
  const accountsPer = opts.accounts ?? DEFAULT_ACCOUNTS_PER_PARTICIPANT;
  const validator = ed25519KeyPair();
  const nodeKey = randomSecp256k1Key();
  const nkeys = {} as Record<ActorName, string>;
  const nkeySeeds = {} as Record<ActorName, string>;
  for (const actor of ACTORS) {
    const kp = createUser();
    nkeys[actor] = kp.getPublicKey();
    nkeySeeds[actor] = new TextDecoder().decode(kp.getSeed());
  }
  const accountKeys: string[] = [];
  const accounts: string[] = [];
  for (let a = 0; a < accountsPer; a++) {
    const key = randomSecp256k1Key();
    accountKeys.push('0x' + hex(key));
    accounts.push('0x' + hex(privateToAddress(key)));
  }
  const box = nacl.box.keyPair();
  const privacyPublicKey = Buffer.from(box.publicKey).toString('base64');
  const enclavePassword = randomBytes(18).toString('base64url');
  const participant = Participant.parse({
    id,
    name: opts.name ?? defaultName(id),
    validatorKey: validator.publicHex,
    nodeAddress: '0x' + hex(privateToAddress(nodeKey)),
    nkeys,
    accounts,
    rpcPort: opts.rpcPort,
    tmPort: opts.tmPort,
    privacyPublicKey,
  });
  const secrets = ParticipantSecrets.parse({
    participant: id,
    devOnly: true,
    validatorPrivateKey: validator.privatePkcs8Hex,
    nodeKey: '0x' + hex(nodeKey),
    nkeySeeds,
    accountKeys,
    enclaveKey: { publicKey: privacyPublicKey, locked: lockKey(box.secretKey, enclavePassword, { N: DEV_SCRYPT_N }) },
    enclavePassword,
  });
  return { participant, secrets };
}

/** Builds a fresh network in memory. Throws on invalid options. */
export function generateNetwork(opts: GenerateOptions = {}): GeneratedNetwork {
  const n = opts.participants ?? DEFAULT_PARTICIPANTS;
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new Error(`participants must be an integer in 1..99, got ${n}`);
  const basePort = opts.basePort ?? DEFAULT_BASE_PORT;
  const rpcPorts = opts.rpcPorts ?? Array.from({ length: n }, (_, i) => basePort + i);
  if (rpcPorts.length !== n) throw new Error(`rpcPorts has ${rpcPorts.length} entries for ${n} participants`);
  for (const p of rpcPorts) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`invalid rpc port ${p}`);
  if (new Set(rpcPorts).size !== n) throw new Error('rpc ports must be distinct');
  const tmPorts = opts.tmPorts ?? Array.from({ length: n }, (_, i) => (opts.tmBasePort ?? DEFAULT_TM_BASE_PORT) + i);
  if (tmPorts.length !== n) throw new Error(`tmPorts has ${tmPorts.length} entries for ${n} participants`);
  if (new Set([...rpcPorts, ...tmPorts]).size !== 2 * n) throw new Error('rpc and tm ports must all be distinct');
  const accountsPer = opts.accountsPerParticipant ?? DEFAULT_ACCOUNTS_PER_PARTICIPANT;
  const balance = (opts.fundBalance ?? DEFAULT_FUND_BALANCE).toString();

  const participants: NetworkDescription['participants'] = [];
  const secrets: Record<string, ParticipantSecrets> = {};
  const alloc: Record<string, { balance: string }> = {};

  for (let i = 0; i < n; i++) {
    const id = `p${i + 1}`;
    const generated = generateParticipant({ id, name: `Participant ${i + 1}`, rpcPort: rpcPorts[i], tmPort: tmPorts[i], accounts: accountsPer });
    participants.push(generated.participant);
    secrets[id] = generated.secrets;
    for (const address of generated.participant.accounts) alloc[address] = { balance };
  }
  for (const a of opts.fund ?? []) {
    const addr = normalizeAddress(a);
    alloc[addr] = { balance };
  }

  const network = NetworkDescription.parse({
    name: opts.name ?? DEFAULT_NETWORK_NAME,
    chainId: opts.chainId ?? DEFAULT_CHAIN_ID,
    devOnly: true,
    consensus:
      (opts.consensusType ?? 'raft') === 'raft'
        ? { peers: participants.map((p) => p.id), ...(opts.consensus ?? {}), type: 'raft' }
        : { validators: participants.map((p) => p.nodeAddress), ...(opts.consensus ?? {}), type: 'qbft' },
    genesis: { timestamp: GENESIS_TIMESTAMP, gasLimit: opts.gasLimit ?? DEFAULT_GAS_LIMIT, alloc },
    participants,
  });
  return { network, secrets };
}

export interface NetworkPaths {
  dir: string;
  network: string;
  secretsDir: string;
  /** Keyed by participant id. */
  secrets: Record<string, string>;
}

export function networkPaths(dir: string, network?: NetworkDescription): NetworkPaths {
  const abs = path.resolve(dir);
  const secretsDir = path.join(abs, 'secrets');
  const secrets: Record<string, string> = {};
  for (const p of network?.participants ?? []) secrets[p.id] = path.join(secretsDir, `${p.id}.json`);
  return { dir: abs, network: path.join(abs, 'network.json'), secretsDir, secrets };
}

/** Writes one participant's secrets file, mode 0600 (the secrets directory is expected to exist). */
export async function writeSecretsFile(file: string, secrets: ParticipantSecrets): Promise<void> {
  await writeFile(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600); // the mode option does not apply when the file already existed
}

/** Writes `<dir>/network.json` and `<dir>/secrets/<id>.json` (0600, directory 0700). */
export async function writeNetwork(dir: string, generated: GeneratedNetwork): Promise<NetworkPaths> {
  const paths = networkPaths(dir, generated.network);
  await mkdir(paths.dir, { recursive: true });
  await mkdir(paths.secretsDir, { recursive: true, mode: 0o700 });
  await chmod(paths.secretsDir, 0o700);
  for (const p of generated.network.participants) {
    const s = generated.secrets[p.id];
    if (!s) throw new Error(`no secrets for participant ${p.id}`);
    await writeSecretsFile(paths.secrets[p.id], s);
  }
  await writeFile(paths.network, JSON.stringify(generated.network, null, 2) + '\n', { mode: 0o644 });
  return paths;
}

/** generateNetwork + writeNetwork. */
export async function generateNetworkFiles(dir: string, opts: GenerateOptions = {}): Promise<GeneratedNetwork & { paths: NetworkPaths }> {
  const generated = generateNetwork(opts);
  const paths = await writeNetwork(dir, generated);
  return { ...generated, paths };
}
