/**
 * Answers the gateway's ledger queries (blocks, transactions, receipts, logs, eth_call, eth_estimateGas).
 * Block tags are resolved against the executor's head; historical calls run on the state at that block.
 */
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { quantity } from '../../../lib/hex.js';
import type { BlockTag, LedgerQuery, LogFilter } from './messages.js';
import type { BlockQueries } from './block-store.js';
import type { CallAt, ExecutionEngine, HeadInfo } from './engine.js';

const MAX_LOG_RANGE = 10_000n;
const MAX_LOGS = 10_000;

function resolveTag(tag: BlockTag | undefined, head: bigint): bigint {
  if (tag === undefined || tag === 'latest' || tag === 'pending' || tag === 'safe' || tag === 'finalized') return head;
  if (tag === 'earliest') return 0n;
  return BigInt(tag);
}

function revertMessage(revertData: string | undefined): string {
  // Error(string) selector 0x08c379a0: decode the reason for a readable message.
  if (!revertData || !revertData.startsWith('0x08c379a0') || revertData.length < 138) return 'execution reverted';
  try {
    const body = Buffer.from(revertData.slice(10), 'hex');
    const len = Number(BigInt('0x' + body.subarray(32, 64).toString('hex')));
    return `execution reverted: ${body.subarray(64, 64 + len).toString('utf8')}`;
  } catch {
    return 'execution reverted';
  }
}

/**
 * `storedHead` is the last block whose data is stored: queries never see a block the executor has run but not
 * yet stored (it may still be rolled back).
 */
export function createQueryHandler(engine: ExecutionEngine, blocks: BlockQueries, storedHead: () => HeadInfo) {
  const callTarget = async (tag: BlockTag): Promise<CallAt> => {
    const stored = storedHead();
    const n = resolveTag(tag, stored.number);
    if (n === stored.number) return { stateRoot: stored.stateRoot, privateStateRoot: stored.privateStateRoot, number: stored.number, timestamp: stored.timestamp };
    if (n > stored.number) throw new CodedError(ErrorCode.NotFound, 'header not found');
    const h = await blocks.header(n);
    if (!h) throw new CodedError(ErrorCode.NotFound, 'header not found');
    return { stateRoot: h.stateRoot, privateStateRoot: h.privateStateRoot, number: h.number, timestamp: h.timestamp };
  };

  const logRange = async (filter: LogFilter): Promise<[bigint, bigint]> => {
    const head = storedHead().number;
    if (filter.blockHash) {
      if (filter.fromBlock !== undefined || filter.toBlock !== undefined) throw new CodedError(ErrorCode.InvalidInput, 'blockHash excludes fromBlock/toBlock');
      const n = await blocks.blockNumberOfHash(filter.blockHash);
      if (n === null) throw new CodedError(ErrorCode.NotFound, 'unknown block');
      return [n, n];
    }
    const from = resolveTag(filter.fromBlock, head);
    const to = resolveTag(filter.toBlock, head);
    if (from > to) throw new CodedError(ErrorCode.InvalidInput, 'fromBlock is after toBlock');
    if (to - from > MAX_LOG_RANGE) throw new CodedError(ErrorCode.InvalidInput, `block range too large (at most ${MAX_LOG_RANGE} blocks)`);
    return [from, to > head ? head : to];
  };

  return async (q: LedgerQuery): Promise<unknown> => {
    switch (q.kind) {
      case 'head': {
        const h = storedHead();
        return { number: quantity(h.number), hash: h.hash, stateRoot: h.stateRoot, timestamp: quantity(h.timestamp), gasLimit: quantity(h.gasLimit) };
      }
      case 'blockByNumber': {
        const head = storedHead().number;
        const n = resolveTag(q.block, head);
        return n > head ? null : blocks.blockByNumber(n, q.fullTransactions);
      }
      case 'blockByHash':
        return blocks.blockByHash(q.hash, q.fullTransactions);
      case 'transaction':
        return blocks.transaction(q.hash);
      case 'receipt':
        return blocks.receipt(q.hash);
      case 'logs': {
        const [from, to] = await logRange(q.filter);
        const logs = await blocks.logs(from, to, q.filter, MAX_LOGS);
        if (logs.length > MAX_LOGS) throw new CodedError(ErrorCode.InvalidInput, `query returned more than ${MAX_LOGS} results; narrow the block range`);
        return logs;
      }
      case 'call': {
        const r = await engine.call(q.call, await callTarget(q.block), { private: q.private });
        if (r.reverted) {
          if (r.revertData || r.error === 'revert') throw new CodedError(ErrorCode.ExecutionReverted, revertMessage(r.revertData), r.revertData ?? '0x');
          throw new CodedError(ErrorCode.Rejected, r.error ?? 'execution failed');
        }
        return r.returnData;
      }
      case 'estimateGas':
        return quantity(await engine.estimateGas(q.call, await callTarget(q.block), { private: q.private }));
      case 'privacyMetadata': {
        const c = engine.privateContract(q.address);
        return c ? { creationTxHash: c.creationTxHash, privacyFlag: c.privacyFlag, parties: c.parties } : null;
      }
    }
  };
}
