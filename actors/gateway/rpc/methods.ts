/**
 * The JSON-RPC methods. Each reads its params with the schemas in params.ts, asks the Backend, and returns
 * a JSON value; errors are thrown (RpcError or CodedError) and mapped once in errors.ts.
 */
import type { Common } from '@ethereumjs/common';
import { keccak_256 } from '@noble/hashes/sha3';
import { z } from 'zod';
import type { BlockTag, CallRequest } from '../../ledger/executor/messages.js';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { fromHex, quantity, toHex } from '../../../lib/hex.js';
import type { Logger } from '../../../lib/logger.js';
import { Attr } from '../../../lib/tracing.js';
import { NonceSequencer, type NodeAccounts } from '../accounts.js';
import type { Backend } from '../backend.js';
import { admitTransaction, decodeRawTransaction, type DecodedTx } from '../tx-admission.js';
import { invalidParams, serverError } from './errors.js';
import { createConsensusMethods } from './consensus-methods.js';
import { createPrivateMethods } from './private-methods.js';
import {
  AddressParam,
  BlockCount,
  BlockNumberParam,
  BlockParam,
  Bool,
  CallParam,
  DataParam,
  FilterParam,
  HashParam,
  QuantityParam,
  RewardPercentiles,
  SendTxParam,
  StorageSlot,
  positional,
} from './params.js';


/** A transaction that passed admission, with the sender's state nonce it was checked against. */
type AdmittedTx = DecodedTx & { accountNonce: bigint };
export interface CallContext {
  /** Adds an attribute to the call's span. */
  setAttribute(key: string, value: string | number): void;
}

export type Method = (params: unknown, ctx: CallContext) => Promise<unknown>;

export interface MethodDeps {
  backend: Backend;
  accounts: NodeAccounts;
  /** The chain's Common (chain id, hardfork rules, native ecrecover). */
  common: Common;
  participant: string;
  /** This participant's privacy public key (privateFrom when a private transaction names none). */
  privacyKey?: string;
  clientVersion?: string;
  log?: Logger;
}

const CLIENT_VERSION = `quorum-actors/v0.1.0/${process.platform}-${process.arch}/node${process.versions.node}`;
/** Gas added to an estimate when eth_sendTransaction fills in the gas limit (gas is free; reverts are not). */
const ESTIMATE_MARGIN_PERCENT = 20n;
const MAX_FEE_HISTORY_BLOCKS = 1024;

const rejected = (message: string) => new CodedError(ErrorCode.Rejected, message);

async function orNull<T>(p: Promise<T | null>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof CodedError && err.code === ErrorCode.NotFound) return null;
    throw err;
  }
}

function callData(call: { data?: string; input?: string }): string {
  if (call.data !== undefined && call.input !== undefined && call.data.toLowerCase() !== call.input.toLowerCase()) {
    throw invalidParams('both "data" and "input" are set and not equal. Please use "input" to pass transaction call data');
  }
  return call.input ?? call.data ?? '0x';
}

export function createMethods(deps: MethodDeps): Record<string, Method> {
  const { backend, accounts, common } = deps;
  const chainId = common.chainId();
  const nonces = new NonceSequencer();

  // ---- blocks ------------------------------------------------------------------------------------------

  /** A block parameter as a number at or below head; 'header not found' above it. */
  async function resolveNumber(param: BlockParam | undefined): Promise<bigint> {
    const p = param ?? 'latest';
    if (typeof p === 'object') {
      if ('blockHash' in p) {
        const block = await orNull(backend.blockByHash(p.blockHash, false));
        if (!block) throw serverError(`header for hash not found`);
        return BigInt(block.number);
      }
      return resolveNumber(p.blockNumber);
    }
    switch (p) {
      case 'latest':
      case 'pending':
      case 'safe':
      case 'finalized':
        return BigInt((await backend.head()).number);
      case 'earliest':
        return 0n;
      default: {
        const n = BigInt(p);
        if (n <= BigInt((await backend.head()).number)) return n;
        if (n <= BigInt((await backend.head({ fresh: true })).number)) return n;
        throw serverError('header not found');
      }
    }
  }

  /** A block parameter the ledger understands (tags and numbers pass through; EIP-1898 objects resolve). */
  async function ledgerTag(param: BlockParam | undefined): Promise<BlockTag> {
    const p = param ?? 'latest';
    if (typeof p !== 'object') return p;
    return quantity(await resolveNumber(p));
  }

  // ---- state -------------------------------------------------------------------------------------------

  async function stateNonce(address: string, block: bigint): Promise<bigint> {
    const account = await backend.account(address, block);
    return account ? BigInt(account.nonce) : 0n;
  }

  /** The nonce the next transaction of `address` should carry: past the state and past the pool. */
  async function pendingNonce(address: string): Promise<bigint> {
    const head = await backend.head();
    const [state, pool] = await Promise.all([stateNonce(address, BigInt(head.number)), backend.poolNonce(address)]);
    return pool !== null && pool > state ? pool : state;
  }

  // ---- sending -----------------------------------------------------------------------------------------

  /** Decode + admission against the state at head. Throws CodedError(Rejected). */
  async function admit(bytes: Uint8Array, opts: { private?: boolean } = {}): Promise<AdmittedTx> {
    const decoded = decodeRawTransaction(bytes, common);
    if (!decoded.ok) throw decoded.error;
    if (decoded.value.isPrivate && !opts.private) {
      throw rejected('a private transaction (v = 37/38) is sent with eth_sendRawPrivateTransaction, which shares its payload with its recipients');
    }
    const head = await backend.head();
    const account = await backend.account(decoded.value.from, BigInt(head.number));
    const admitted = admitTransaction(decoded.value, {
      blockGasLimit: BigInt(head.gasLimit),
      account: account ? { nonce: BigInt(account.nonce), balance: BigInt(account.balance) } : null,
    });
    if (!admitted.ok) throw admitted.error;
    return { ...admitted.value, accountNonce: account ? BigInt(account.nonce) : 0n };
  }

  const enqueue = (tx: AdmittedTx): Promise<void> =>
    backend.submit({ raw: tx.raw, hash: tx.hash, from: tx.from, nonce: quantity(tx.nonce), gasLimit: quantity(tx.gasLimit), accountNonce: quantity(tx.accountNonce) });

  /**
   * Signs with a node-managed account, admits and submits: at the nonce given, or at the next one the sequencer
   * hands out (concurrent sends of one account get consecutive nonces). Answers the transaction hash.
   */
  async function signAndSubmit(
    from: string,
    nonce: bigint | undefined,
    sign: (nonce: bigint) => Uint8Array,
    ctx: CallContext,
    opts: { private?: boolean } = {},
  ): Promise<string> {
    const signAndAdmit = async (n: bigint): Promise<AdmittedTx> => {
      const tx = await admit(sign(n), opts);
      ctx.setAttribute(Attr.txHash, tx.hash);
      return tx;
    };
    if (nonce !== undefined) {
      const tx = await signAndAdmit(nonce);
      await enqueue(tx);
      return tx.hash;
    }
    let hash = '';
    await nonces.run(from, () => pendingNonce(from), async (n) => {
      const tx = await signAndAdmit(n);
      hash = tx.hash;
      return { done: enqueue(tx) };
    });
    return hash;
  }

  const privateMethods = createPrivateMethods({
    backend,
    common,
    accounts,
    privacyKey: deps.privacyKey ?? '',
    admit: (raw) => admit(raw, { private: true }),
    enqueue,
    signAndSubmit: (from, nonce, sign, ctx) => signAndSubmit(from, nonce, sign, ctx, { private: true }),
    resolveNumber,
    callData,
  });

  async function sendTransaction(args: z.infer<typeof SendTxParam>, ctx: CallContext): Promise<string> {
    if (args.privateFor !== undefined) {
      if (!deps.privacyKey) throw rejected('private transactions are not enabled on this gateway');
      return privateMethods.sendPrivateTransaction(args, ctx);
    }
    if (args.privateFrom !== undefined || args.privacyFlag !== undefined) throw invalidParams('privateFrom and privacyFlag need privateFor');
    const from = args.from.toLowerCase();
    if (!accounts.has(from)) throw rejected(`unknown account ${args.from}`);
    for (const fee of [args.gasPrice, args.maxFeePerGas, args.maxPriorityFeePerGas]) {
      if (fee !== undefined && BigInt(fee) !== 0n) throw rejected('gas price must be 0');
    }
    if (args.chainId !== undefined && BigInt(args.chainId) !== chainId) throw rejected(`invalid chain id: got ${BigInt(args.chainId)}, expected ${chainId}`);
    if (args.type !== undefined && !['0x0', '0x1', '0x2'].includes(args.type)) throw rejected(`transaction type not supported: ${args.type}`);
    const data = callData(args);
    const value = args.value !== undefined ? BigInt(args.value) : 0n;
    const to = args.to ?? null;

    let gasLimit: bigint;
    if (args.gas !== undefined) gasLimit = BigInt(args.gas);
    else {
      const estimate = BigInt(await backend.estimateGas({ from, ...(to ? { to } : {}), value: quantity(value), input: data }, 'latest'));
      const blockGasLimit = BigInt((await backend.head()).gasLimit);
      const padded = estimate + (estimate * ESTIMATE_MARGIN_PERCENT) / 100n;
      gasLimit = padded > blockGasLimit ? (estimate > blockGasLimit ? estimate : blockGasLimit) : padded;
    }

    const sign = (nonce: bigint) => accounts.signTransaction(from, { to, value, data, gasLimit, nonce, accessList: args.accessList });
    return signAndSubmit(from, args.nonce === undefined ? undefined : BigInt(args.nonce), sign, ctx);
  }

  async function sendRawTransaction(raw: string, ctx: CallContext): Promise<string> {
    const tx = await admit(fromHex(raw));
    ctx.setAttribute(Attr.txHash, tx.hash);
    await enqueue(tx);
    return tx.hash;
  }

  // ---- the table ---------------------------------------------------------------------------------------

  const methods: Record<string, Method> = {
    web3_clientVersion: async (params) => {
      positional(params, []);
      return deps.clientVersion ?? CLIENT_VERSION;
    },
    web3_sha3: async (params) => {
      const [data] = positional(params, [DataParam]);
      return toHex(keccak_256(fromHex(data)));
    },
    net_version: async (params) => {
      positional(params, []);
      return chainId.toString(10);
    },
    net_listening: async (params) => {
      positional(params, []);
      return true;
    },
    net_peerCount: async (params) => {
      positional(params, []);
      const s = await backend.consensusStatus();
      return quantity(Math.max(0, s.cluster.length - 1));
    },
    rpc_modules: async (params) => {
      positional(params, []);
      const consensus = (await backend.consensusStatus()).algorithm === 'qbft' ? 'istanbul' : 'raft';
      return { eth: '1.0', net: '1.0', web3: '1.0', [consensus]: '1.0', rpc: '1.0', quorum: '1.0' };
    },

    eth_chainId: async (params) => {
      positional(params, []);
      return quantity(chainId);
    },
    eth_blockNumber: async (params) => {
      positional(params, []);
      return (await backend.head()).number;
    },
    eth_syncing: async (params) => {
      positional(params, []);
      return false;
    },
    eth_mining: async (params) => {
      positional(params, []);
      return (await backend.consensusStatus()).role === 'leader';
    },
    eth_hashrate: async (params) => {
      positional(params, []);
      return '0x0';
    },
    eth_coinbase: async (params) => {
      positional(params, []);
      const first = accounts.addresses[0];
      if (!first) throw serverError('etherbase must be explicitly specified');
      return first;
    },
    eth_accounts: async (params) => {
      positional(params, []);
      return [...accounts.addresses];
    },
    eth_gasPrice: async (params) => {
      positional(params, []);
      return '0x0';
    },
    eth_maxPriorityFeePerGas: async (params) => {
      positional(params, []);
      return '0x0';
    },
    eth_feeHistory: async (params) => {
      const [requested, newestParam, percentiles] = positional(params, [BlockCount, BlockNumberParam, RewardPercentiles.optional()]);
      const count = Math.min(requested, MAX_FEE_HISTORY_BLOCKS);
      if (count === 0) return { oldestBlock: '0x0', baseFeePerGas: [], gasUsedRatio: [], ...(percentiles ? { reward: [] } : {}) };
      const newest = await resolveNumber(newestParam);
      const oldest = newest - BigInt(count) + 1n > 0n ? newest - BigInt(count) + 1n : 0n;
      const n = Number(newest - oldest + 1n);
      const ratios: number[] = new Array(n).fill(0);
      const CHUNK = 32;
      for (let i = 0; i < n; i += CHUNK) {
        const slice = await Promise.all(
          Array.from({ length: Math.min(CHUNK, n - i) }, (_, j) => orNull(backend.blockByNumber(quantity(oldest + BigInt(i + j)), false))),
        );
        slice.forEach((b, j) => {
          if (b && BigInt(b.gasLimit) > 0n) ratios[i + j] = Number(BigInt(b.gasUsed)) / Number(BigInt(b.gasLimit));
        });
      }
      return {
        oldestBlock: quantity(oldest),
        baseFeePerGas: new Array(n + 1).fill('0x0'),
        gasUsedRatio: ratios,
        ...(percentiles ? { reward: Array.from({ length: n }, () => percentiles.map(() => '0x0')) } : {}),
      };
    },

    eth_getBalance: async (params) => {
      const [address, block] = positional(params, [AddressParam, BlockParam.optional()]);
      const account = await backend.account(address, await resolveNumber(block));
      return account ? account.balance : '0x0';
    },
    eth_getTransactionCount: async (params) => {
      const [address, block] = positional(params, [AddressParam, BlockParam.optional()]);
      if (block === 'pending') return quantity(await pendingNonce(address));
      return quantity(await stateNonce(address, await resolveNumber(block)));
    },
    // A contract this participant holds privately is read from its private state (as GoQuorum does for a party).
    eth_getCode: async (params) => {
      const [address, block] = positional(params, [AddressParam, BlockParam.optional()]);
      const n = await resolveNumber(block);
      const privateCode = await backend.code(address, n, 'private');
      return privateCode !== '0x' ? privateCode : backend.code(address, n);
    },
    eth_getStorageAt: async (params) => {
      const [address, slot, block] = positional(params, [AddressParam, StorageSlot, BlockParam.optional()]);
      const n = await resolveNumber(block);
      const isPrivate = (await backend.code(address, n, 'private')) !== '0x';
      return backend.storage(address, slot, n, isPrivate ? 'private' : 'public');
    },

    eth_call: async (params) => {
      const [call, block] = positional(params, [CallParam, BlockParam.optional()]);
      callData(call);
      return backend.call(call as CallRequest, await ledgerTag(block));
    },
    eth_estimateGas: async (params) => {
      const [call, block] = positional(params, [CallParam, BlockParam.optional()]);
      callData(call);
      return backend.estimateGas(call as CallRequest, await ledgerTag(block));
    },

    eth_sendRawTransaction: async (params, ctx) => {
      const [raw] = positional(params, [DataParam]);
      return sendRawTransaction(raw, ctx);
    },
    eth_sendTransaction: async (params, ctx) => {
      const [args] = positional(params, [SendTxParam]);
      return sendTransaction(args, ctx);
    },
    eth_sign: async (params) => {
      const [address, data] = positional(params, [AddressParam, DataParam]);
      if (!accounts.has(address)) throw rejected(`unknown account ${address}`);
      return accounts.signMessage(address, fromHex(data));
    },
    personal_sign: async (params) => {
      const [data, address] = positional(params, [DataParam, AddressParam, z.string().optional()]);
      if (!accounts.has(address)) throw rejected(`unknown account ${address}`);
      return accounts.signMessage(address, fromHex(data));
    },

    eth_getTransactionByHash: async (params, ctx) => {
      const [hash] = positional(params, [HashParam]);
      ctx.setAttribute(Attr.txHash, hash);
      return orNull(backend.transaction(hash));
    },
    eth_getTransactionReceipt: async (params, ctx) => {
      const [hash] = positional(params, [HashParam]);
      ctx.setAttribute(Attr.txHash, hash);
      return orNull(backend.receipt(hash));
    },
    eth_getBlockByNumber: async (params) => {
      const [block, full] = positional(params, [BlockNumberParam, Bool.optional()]);
      return orNull(backend.blockByNumber(block, full ?? false));
    },
    eth_getBlockByHash: async (params) => {
      const [hash, full] = positional(params, [HashParam, Bool.optional()]);
      return orNull(backend.blockByHash(hash, full ?? false));
    },
    eth_getBlockTransactionCountByNumber: async (params) => {
      const [block] = positional(params, [BlockNumberParam]);
      const b = await orNull(backend.blockByNumber(block, false));
      return b ? quantity(b.transactions.length) : null;
    },
    eth_getBlockTransactionCountByHash: async (params) => {
      const [hash] = positional(params, [HashParam]);
      const b = await orNull(backend.blockByHash(hash, false));
      return b ? quantity(b.transactions.length) : null;
    },
    eth_getTransactionByBlockNumberAndIndex: async (params) => {
      const [block, index] = positional(params, [BlockNumberParam, QuantityParam]);
      const b = await orNull(backend.blockByNumber(block, true));
      return b?.transactions[Number(BigInt(index))] ?? null;
    },
    eth_getTransactionByBlockHashAndIndex: async (params) => {
      const [hash, index] = positional(params, [HashParam, QuantityParam]);
      const b = await orNull(backend.blockByHash(hash, true));
      return b?.transactions[Number(BigInt(index))] ?? null;
    },
    eth_getUncleCountByBlockNumber: async (params) => {
      const [block] = positional(params, [BlockNumberParam]);
      return (await orNull(backend.blockByNumber(block, false))) ? '0x0' : null;
    },
    eth_getUncleCountByBlockHash: async (params) => {
      const [hash] = positional(params, [HashParam]);
      return (await orNull(backend.blockByHash(hash, false))) ? '0x0' : null;
    },
    eth_getLogs: async (params) => {
      const [filter] = positional(params, [FilterParam]);
      return backend.logs(filter);
    },

    ...privateMethods.methods,

    ...createConsensusMethods(backend),
  };
  return methods;
}
