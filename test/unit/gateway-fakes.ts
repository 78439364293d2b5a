/** Test doubles for the gateway's unit tests: an in-memory Backend, a silent logger, signing helpers. */
import { createCustomCommon, Hardfork, Mainnet, type Common } from '@ethereumjs/common';
import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx';
import type { Backend, SubmitTx } from '../../actors/gateway/backend.js';
import { createAccounts } from '../../actors/gateway/accounts.js';
import { createDispatcher } from '../../actors/gateway/rpc/dispatch.js';
import { createMethods } from '../../actors/gateway/rpc/methods.js';
import type { ConsensusStatus } from '../../actors/consensus/messages.js';
import type { BlockTag, CallRequest, Head, LogFilter, PrivacyMetadata, RpcBlock } from '../../actors/ledger/executor/messages.js';
import type { AccountState } from '../../actors/ledger/state/messages.js';
import type { ReceivedPayload, TmSendRequest } from '../../actors/tm/messages.js';
import type { StateKind } from '../../lib/subjects.js';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { CodedError } from '../../lib/errors.js';
import { quantity } from '../../lib/hex.js';
import type { Logger } from '../../lib/logger.js';

export const CHAIN_ID = 1337;
export const common: Common = createLedgerCommon({ name: 'unit', chainId: CHAIN_ID, genesis: { timestamp: 0, gasLimit: '30000000', alloc: {} } });
/** A well-known test key (web3.js docs); its address is below. */
export const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
export const KEY_BYTES = Uint8Array.from(Buffer.from(KEY.slice(2), 'hex'));
export const ADDRESS = '0x2c7536e3605d9c16a7a3d7b1898e529396a65c23';
export const OTHER = '0x1111111111111111111111111111111111111111';
export const ZERO_HASH = '0x' + '00'.repeat(32);

export const silentLog: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLog,
};

export interface LegacyFields {
  nonce?: bigint;
  gasPrice?: bigint;
  gasLimit?: bigint;
  /** null: contract creation */
  to?: string | null;
  value?: bigint;
  data?: string;
}

export function signLegacy(f: LegacyFields = {}, c: Common = common, key: Uint8Array = KEY_BYTES): Uint8Array {
  return createLegacyTx(
    {
      nonce: f.nonce ?? 0n,
      gasPrice: f.gasPrice ?? 0n,
      gasLimit: f.gasLimit ?? 21000n,
      to: f.to === null ? undefined : ((f.to ?? OTHER) as `0x${string}`),
      value: f.value ?? 0n,
      data: (f.data ?? '0x') as `0x${string}`,
    },
    { common: c },
  )
    .sign(key)
    .serialize();
}

export function sign1559(f: LegacyFields & { maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint } = {}): Uint8Array {
  return createFeeMarket1559Tx(
    {
      chainId: BigInt(CHAIN_ID),
      nonce: f.nonce ?? 0n,
      maxFeePerGas: f.maxFeePerGas ?? 0n,
      maxPriorityFeePerGas: f.maxPriorityFeePerGas ?? 0n,
      gasLimit: f.gasLimit ?? 21000n,
      to: (f.to ?? OTHER) as `0x${string}`,
      value: f.value ?? 0n,
      data: (f.data ?? '0x') as `0x${string}`,
    },
    { common },
  )
    .sign(KEY_BYTES)
    .serialize();
}

/** A Common for another chain id, or pre-EIP-155 rules (unprotected legacy signatures). */
export const commonFor = (chainId: number, hardfork: string = Hardfork.Cancun) => createCustomCommon({ name: 'other', chainId }, Mainnet, { hardfork });

export function block(n: number, extra: Partial<RpcBlock> = {}): RpcBlock {
  return {
    number: quantity(n),
    hash: '0x' + n.toString(16).padStart(64, '0'),
    parentHash: ZERO_HASH,
    nonce: '0x0000000000000000',
    sha3Uncles: ZERO_HASH,
    logsBloom: '0x' + '00'.repeat(256),
    transactionsRoot: ZERO_HASH,
    stateRoot: ZERO_HASH,
    receiptsRoot: ZERO_HASH,
    miner: OTHER,
    difficulty: '0x0',
    totalDifficulty: '0x0',
    extraData: '0x',
    size: '0x200',
    gasLimit: '0x1c9c380',
    gasUsed: '0x0',
    timestamp: '0x1',
    mixHash: ZERO_HASH,
    baseFeePerGas: '0x0',
    uncles: [],
    transactions: [],
    ...extra,
  };
}

/** An in-memory Backend: state per address, pool nonces, blocks, and a record of what was submitted. */
export class FakeBackend implements Backend {
  headValue: Head = { number: '0x10', hash: '0x' + '10'.padStart(64, '0'), stateRoot: ZERO_HASH, timestamp: '0x1', gasLimit: '0x1c9c380' };
  /** Head returned on a fresh query (simulates the ledger being ahead of the cached head). */
  freshHead: Head | null = null;
  accountsState = new Map<string, AccountState>();
  pool = new Map<string, bigint>();
  blocks = new Map<number, RpcBlock>();
  submitted: SubmitTx[] = [];
  submitError: CodedError | null = null;
  callResult: string | CodedError = '0x';
  estimate = '0x5208';
  estimateCalls: CallRequest[] = [];
  reads: { kind: string; address: string; block: bigint; slot?: string }[] = [];
  statusValue: ConsensusStatus = {
    participant: 'p1',
    algorithm: 'raft',
    role: 'leader',
    term: 3,
    leader: 'p1',
    commitIndex: 10,
    committedHeight: 16,
    poolSize: 0,
    cluster: [
      { participant: 'p1', role: 'minter', isLeader: true },
      { participant: 'p2', role: 'verifier', isLeader: false },
      { participant: 'p3', role: 'verifier', isLeader: false },
    ],
  };
  unavailable = false;

  setAccount(address: string, nonce: bigint, balance: bigint) {
    this.accountsState.set(address.toLowerCase(), { nonce: quantity(nonce), balance: quantity(balance), codeHash: ZERO_HASH, storageRoot: ZERO_HASH });
  }

  private check() {
    if (this.unavailable) throw new CodedError('UNAVAILABLE', 'no responder on net.p1.executor.query');
  }

  async head(opts?: { fresh?: boolean }): Promise<Head> {
    this.check();
    if (opts?.fresh && this.freshHead) this.headValue = this.freshHead;
    return this.headValue;
  }
  async blockByNumber(tag: BlockTag, _full: boolean) {
    this.check();
    const n = tag === 'latest' || tag === 'pending' ? Number(this.headValue.number) : tag === 'earliest' ? 0 : Number(tag);
    return this.blocks.get(n) ?? null;
  }
  async blockByHash(hash: string, _full: boolean) {
    return [...this.blocks.values()].find((b) => b.hash === hash) ?? null;
  }
  async transaction(_hash: string) {
    return null;
  }
  async receipt(_hash: string) {
    return null;
  }
  async logs(_filter: LogFilter) {
    return [];
  }
  async call(_call: CallRequest, _block: BlockTag) {
    if (this.callResult instanceof CodedError) throw this.callResult;
    return this.callResult;
  }
  async estimateGas(call: CallRequest, _block: BlockTag) {
    this.estimateCalls.push(call);
    return this.estimate;
  }
  async account(address: string, block: bigint, kind: StateKind = 'public') {
    this.check();
    if (kind === 'private') return this.privateAccounts.get(address.toLowerCase()) ?? null;
    this.reads.push({ kind: 'account', address, block });
    return this.accountsState.get(address.toLowerCase()) ?? null;
  }
  async code(address: string, block: bigint, kind: StateKind = 'public') {
    if (kind === 'private') return this.privateCode.get(address.toLowerCase()) ?? '0x';
    this.reads.push({ kind: 'code', address, block });
    return '0x';
  }
  async storage(address: string, slot: string, block: bigint, kind: StateKind = 'public') {
    if (kind === 'private') return this.privateCode.has(address.toLowerCase()) ? '0x' + '2a'.padStart(64, '0') : ZERO_HASH;
    this.reads.push({ kind: 'storage', address, block, slot });
    return ZERO_HASH;
  }
  // ---- privacy: a private state and a tm, in memory
  privateAccounts = new Map<string, AccountState>();
  privateCode = new Map<string, string>();
  privacy = new Map<string, PrivacyMetadata>();
  tmSent: TmSendRequest[] = [];
  tmSendError: CodedError | null = null;
  payloads = new Map<string, ReceivedPayload>();
  async privacyMetadata(address: string) {
    return this.privacy.get(address.toLowerCase()) ?? null;
  }
  async tmSend(req: TmSendRequest) {
    if (this.tmSendError) throw this.tmSendError;
    this.tmSent.push(req);
    const hashHex = '0x' + (this.tmSent.length.toString(16).padStart(2, '0')).repeat(64);
    return { hashHex, key: Buffer.from(hashHex.slice(2), 'hex').toString('base64') };
  }
  async tmStoreRaw(payload: string, from?: string) {
    return this.tmSend({ payload, from, to: [], privacyFlag: 0 });
  }
  async tmSendSigned(hash: string, _to: string[], _flag: 0 | 1 | 3) {
    return { hashHex: hash, key: Buffer.from(hash.slice(2), 'hex').toString('base64') };
  }
  async tmReceive(hashes: string[]) {
    return hashes.map((h): ReceivedPayload => this.payloads.get(h.toLowerCase()) ?? { hash: h, found: false });
  }
  async poolNonce(address: string) {
    return this.pool.get(address.toLowerCase()) ?? null;
  }
  async consensusStatus() {
    this.check();
    return this.statusValue;
  }
  commands: { method: string; params: unknown[] }[] = [];
  commandResult: unknown = null;
  commandError: CodedError | null = null;
  async consensusCommand(method: string, params: unknown[]) {
    this.check();
    if (this.commandError) throw this.commandError;
    this.commands.push({ method, params });
    return this.commandResult;
  }
  async submit(tx: SubmitTx) {
    await new Promise((r) => setImmediate(r));
    if (this.submitError) throw this.submitError;
    this.submitted.push(tx);
    const next = BigInt(tx.nonce) + 1n;
    if ((this.pool.get(tx.from) ?? 0n) < next) this.pool.set(tx.from, next);
  }
}

/** A dispatcher over the real methods with a fake backend and the test key as node-managed account. */
export function rpcWith(backend: FakeBackend, keys: string[] = [KEY]) {
  const accounts = createAccounts(keys, common);
  const methods = createMethods({ backend, accounts, common, participant: 'p1', clientVersion: 'quorum-actors/v0.1.0/test' });
  const dispatcher = createDispatcher(methods, { log: silentLog });
  let id = 0;
  return {
    dispatcher,
    /** One call; returns the response object. */
    async call(method: string, params?: unknown): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> {
      const r = await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }));
      return r as never;
    },
  };
}
