/**
 * eth_call and eth_estimateGas on a VM reserved for queries. Each call runs as an unsigned transaction
 * (sender forced to `from`, nonce not checked, gas price 0) inside a checkpoint that is always reverted.
 */
import type { Block } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { createTx, type TypedTransaction } from '@ethereumjs/tx';
import { Address, bytesToHex, createZeroAddress, hexToBytes } from '@ethereumjs/util';
import { runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import type { CallRequest } from './messages.js';
import { MissingStateNodeError } from './recording-db.js';

export interface CallAt {
  stateRoot: string;
  /** This participant's private state root at that block (absent: empty). */
  privateStateRoot?: string;
  number: bigint;
  timestamp: bigint;
}

export interface CallResult {
  /** return data (for a creation: the deployed code), 0x-hex */
  returnData: string;
  /** gas the call used as a transaction would (intrinsic gas included, refunds applied) */
  gasUsed: bigint;
  /** the EVM stopped with an exception (REVERT, out of gas, invalid opcode...) */
  reverted: boolean;
  /** the REVERT data (ABI-encoded Error(string) / custom error), when there was some */
  revertData?: string;
  /** the EVM exception, e.g. 'revert', 'out of gas' */
  error?: string;
}

/** Gas for a call that names none, and the most any call may use. */
const CALL_GAS_CAP = 50_000_000n;

function callTx(common: Common, req: CallRequest, gas: bigint): TypedTransaction {
  const from = req.from ? new Address(hexToBytes(req.from as `0x${string}`)) : createZeroAddress();
  if (req.input !== undefined && req.data !== undefined && req.input.toLowerCase() !== req.data.toLowerCase()) {
    throw new CodedError(ErrorCode.InvalidInput, 'both "data" and "input" are set and differ');
  }
  const data = req.input ?? req.data ?? '0x';
  const base = {
    gasLimit: gas,
    to: (req.to ?? undefined) as `0x${string}` | undefined,
    value: req.value !== undefined ? BigInt(req.value) : 0n,
    data: data as `0x${string}`,
    nonce: 0n,
  };
  const tx = req.accessList && req.accessList.length > 0
    ? createTx(
        { ...base, type: 1, gasPrice: 0n, accessList: req.accessList.map((e) => ({ address: e.address as `0x${string}`, storageKeys: e.storageKeys as `0x${string}`[] })) },
        { common, freeze: false },
      )
    : createTx({ ...base, gasPrice: 0n }, { common, freeze: false });
  Object.defineProperty(tx, 'getSenderAddress', { value: () => from });
  return tx;
}

async function runOnce(vm: VM, block: Block, tx: TypedTransaction): Promise<RunTxResult> {
  await vm.stateManager.checkpoint();
  try {
    return await runTx(vm, {
      tx,
      block,
      skipNonce: true,
      skipBlockGasLimitValidation: true,
      skipHardForkValidation: true,
    });
  } finally {
    await vm.stateManager.revert();
  }
}

/** A call that could not start or could not read state, as a CodedError. */
function refused(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  if (err instanceof MissingStateNodeError) return new CodedError(ErrorCode.Unavailable, err.message, undefined, { cause: err });
  return new CodedError(ErrorCode.Rejected, cleanMessage(err), undefined, { cause: err });
}

function cleanMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const i = msg.indexOf(' (vm hf=');
  return i >= 0 ? msg.slice(0, i) : msg;
}

function toResult(r: RunTxResult): CallResult {
  const out: CallResult = {
    returnData: bytesToHex(r.execResult.returnValue),
    gasUsed: r.totalGasSpent,
    reverted: r.execResult.exceptionError !== undefined,
  };
  const ex = r.execResult.exceptionError;
  if (ex) {
    out.error = ex.error;
    if (r.execResult.returnValue.length > 0) out.revertData = bytesToHex(r.execResult.returnValue);
  }
  return out;
}

function gasOf(req: CallRequest, fallback: bigint): bigint {
  if (req.gas === undefined) return fallback;
  const g = BigInt(req.gas);
  return g > CALL_GAS_CAP ? CALL_GAS_CAP : g;
}

/** Throws CodedError(Rejected) when the call cannot start (insufficient funds for `value`, gas below intrinsic...). */
export async function runCall(vm: VM, common: Common, block: Block, req: CallRequest): Promise<CallResult> {
  const blockGas = block.header.gasLimit > CALL_GAS_CAP ? block.header.gasLimit : CALL_GAS_CAP;
  const tx = callTx(common, req, gasOf(req, blockGas));
  try {
    return toResult(await runOnce(vm, block, tx));
  } catch (err) {
    throw refused(err);
  }
}

/**
 * Smallest gas limit (within 1.5%) with which the call does not fail, searched between the gas the call used
 * and the block gas limit (or `req.gas` when lower). A call that fails even at the top throws
 * CodedError(ExecutionReverted) carrying the revert data, like geth.
 */
export async function estimateGas(vm: VM, common: Common, block: Block, req: CallRequest): Promise<bigint> {
  const blockGas = block.header.gasLimit;
  let hi = req.gas !== undefined && BigInt(req.gas) < blockGas ? BigInt(req.gas) : blockGas;
  const attempt = async (gas: bigint): Promise<RunTxResult | null> => {
    try {
      const r = await runOnce(vm, block, callTx(common, req, gas));
      return r.execResult.exceptionError ? null : r;
    } catch (err) {
      if (!(err instanceof CodedError) && /INTRINSIC_GAS_TOO_LOW/.test(String((err as Error)?.message))) return null;
      throw refused(err);
    }
  };

  let top: RunTxResult;
  try {
    top = await runOnce(vm, block, callTx(common, req, hi));
  } catch (err) {
    throw refused(err);
  }
  const ex = top.execResult.exceptionError;
  if (ex) {
    if (ex.error === 'revert') {
      const data = bytesToHex(top.execResult.returnValue);
      throw new CodedError(ErrorCode.ExecutionReverted, 'execution reverted', data === '0x' ? undefined : data);
    }
    throw new CodedError(ErrorCode.ExecutionReverted, `gas required exceeds allowance (${hi}): ${ex.error}`);
  }

  const used = top.totalGasSpent;
  // A plain value transfer to an account without code costs exactly what it used (21000), as geth answers.
  const data = req.input ?? req.data ?? '0x';
  if (req.to && (data === '0x' || data === '') && (await vm.stateManager.getCode(new Address(hexToBytes(req.to as `0x${string}`)))).length === 0) {
    return used;
  }
  let lo = used - 1n;
  // Optimistic guess: what was used before refunds, plus the call stipend, plus the 1/64 rule.
  const optimistic = ((used + (top.gasRefund ?? 0n) + 2300n) * 64n) / 63n;
  if (optimistic < hi) {
    if (await attempt(optimistic)) hi = optimistic;
    else lo = optimistic;
  }
  while (lo + 1n < hi) {
    if (((hi - lo) * 1000n) / hi < 15n) break;
    let mid = (hi + lo) / 2n;
    if (mid > lo * 2n) mid = lo * 2n;
    if (await attempt(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
