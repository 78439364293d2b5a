/**
 * GoQuorum's private-transaction methods: eth_sendTransaction with privateFor (sendPrivateTransaction below),
 * eth_sendRawPrivateTransaction, eth_getQuorumPayload, eth_storageRoot, eth_getContractPrivacyMetadata.
 *
 * A private transaction leaves here only after this participant's tm has stored its payload and every
 * recipient's tm has acknowledged it (no ACK, no transaction); on chain it carries the payload's hash, signed
 * with v = 37/38. The privacy rules the ledger applies at execution are checked here first, so a transaction
 * that would be a no-op (or make parties diverge) is refused with a clear error instead.
 */
import type { Common } from '@ethereumjs/common';
import { bytesToHex, KECCAK256_RLP } from '@ethereumjs/util';
import { z } from 'zod';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { contractParties, privacyViolation, type PrivacyFlag } from '../../../lib/ethereum/privacy-rules.js';
import { decodeRawTransaction } from '../../../lib/ethereum/transaction.js';
import { fromHex, toHex } from '../../../lib/hex.js';
import { PrivacyPublicKey } from '../../../lib/network/description.js';
import { Attr } from '../../../lib/tracing.js';
import type { NodeAccounts } from '../accounts.js';
import type { Backend } from '../backend.js';
import type { DecodedTx } from '../tx-admission.js';
import { PayloadHashHex } from '../../tm/messages.js';
import { invalidParams } from './errors.js';
import { AddressParam, BlockParam, DataParam, positional, type SendTxParam } from './params.js';
import type { CallContext, Method } from './methods.js';

const EMPTY_TRIE_ROOT = bytesToHex(KECCAK256_RLP);
const PrivateArgs = z.object({
  privateFor: z.array(PrivacyPublicKey).max(64),
  privateFrom: PrivacyPublicKey.optional(),
  privacyFlag: z.union([z.literal(0), z.literal(1), z.literal(3)]).optional(),
});
/** Gas added to a private estimate (the public part only costs intrinsic gas; the private part must not run out). */
const ESTIMATE_MARGIN_PERCENT = 20n;

const rejected = (message: string) => new CodedError(ErrorCode.Rejected, message);

/** What the private methods borrow from the public ones (admission, submission, nonces, block resolution). */
export interface PrivateMethodDeps {
  backend: Backend;
  common: Common;
  accounts: NodeAccounts;
  /** This participant's privacy key (privateFrom when none is given). */
  privacyKey: string;
  admit(raw: Uint8Array): Promise<DecodedTx & { accountNonce: bigint }>;
  enqueue(tx: DecodedTx & { accountNonce: bigint }): Promise<void>;
  /** Sign (at `nonce`, or the account's next), admit and submit; answers the hash (methods.ts signAndSubmit). */
  signAndSubmit(from: string, nonce: bigint | undefined, sign: (nonce: bigint) => Uint8Array, ctx: CallContext): Promise<string>;
  resolveNumber(block: BlockParam | undefined): Promise<bigint>;
  callData(call: { data?: string; input?: string }): string;
}

function parsePrivateArgs(value: unknown): z.infer<typeof PrivateArgs> {
  const r = PrivateArgs.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalidParams(`invalid private transaction arguments: ${issue.path.map(String).join('.') || 'value'}: ${issue.message}`);
  }
  return r.data;
}

/** The tm's own words where they help the user (a recipient that did not acknowledge); nothing internal otherwise. */
function tmError(err: unknown): never {
  if (err instanceof CodedError && err.code === ErrorCode.Unavailable) {
    const why = err.message.startsWith('recipient ') ? err.message : "this participant's transaction manager is not available";
    throw rejected(`private transaction not sent: ${why}`);
  }
  throw err;
}

export function createPrivateMethods(deps: PrivateMethodDeps): { sendPrivateTransaction(args: SendTxParam, ctx: CallContext): Promise<string>; methods: Record<string, Method> } {
  const { backend, accounts } = deps;

  /** The privacy rules at submission: the same ones every party applies at execution. */
  async function checkRules(to: string | null, senderKey: string, privateFor: string[], flag: PrivacyFlag): Promise<void> {
    if (!to) return;
    const meta = await backend.privacyMetadata(to);
    const parties = contractParties({ senderKey, recipientKeys: privateFor, privacyFlag: flag });
    const violation = privacyViolation(meta ? { ...meta, address: to } : undefined, { senderKey, recipientKeys: parties, privacyFlag: flag }, false);
    if (violation) throw rejected(violation);
  }

  async function precheck(from: string, gasLimit: bigint, nonce: bigint | undefined): Promise<void> {
    const head = await backend.head();
    if (gasLimit > BigInt(head.gasLimit)) throw rejected(`exceeds block gas limit: gas ${gasLimit}, block gas limit ${BigInt(head.gasLimit)}`);
    if (nonce === undefined) return;
    const account = await backend.account(from, BigInt(head.number));
    const stateNonce = account ? BigInt(account.nonce) : 0n;
    if (nonce < stateNonce) throw rejected(`nonce too low: address ${from}, tx: ${nonce} state: ${stateNonce}`);
  }

  async function sendPrivateTransaction(args: SendTxParam, ctx: CallContext): Promise<string> {
    const priv = parsePrivateArgs({ privateFor: args.privateFor, privateFrom: args.privateFrom, privacyFlag: args.privacyFlag });
    const flag: PrivacyFlag = priv.privacyFlag ?? 0;
    const from = args.from.toLowerCase();
    if (!accounts.has(from)) throw rejected(`unknown account ${args.from}`);
    if (args.value !== undefined && BigInt(args.value) !== 0n) throw rejected('ether value is not supported for private transactions');
    for (const fee of [args.gasPrice, args.maxFeePerGas, args.maxPriorityFeePerGas]) {
      if (fee !== undefined && BigInt(fee) !== 0n) throw rejected('gas price must be 0');
    }
    const data = deps.callData(args);
    const to = args.to ?? null;
    if (!to && data === '0x') throw rejected('contract creation without any data provided');
    const senderKey = priv.privateFrom ?? deps.privacyKey;
    await checkRules(to, senderKey, priv.privateFor, flag);

    let gasLimit: bigint;
    if (args.gas !== undefined) gasLimit = BigInt(args.gas);
    else {
      const estimate = BigInt(await backend.estimateGas({ from, ...(to ? { to } : {}), input: data }, 'latest', { private: true }));
      const blockGasLimit = BigInt((await backend.head()).gasLimit);
      const padded = estimate + (estimate * ESTIMATE_MARGIN_PERCENT) / 100n;
      gasLimit = padded > blockGasLimit ? blockGasLimit : padded;
    }

    // The public transaction's intrinsic gas covers its 64-byte data: never sign below it.
    const minimum = 21_000n + (to ? 0n : 32_000n + 4n) + 16n * 64n;
    if (gasLimit < minimum) gasLimit = minimum;
    // What admission will check, checked before the payload is shared: recipients must never hold the payload
    // of a transaction that is refused.
    await precheck(from, gasLimit, args.nonce === undefined ? undefined : BigInt(args.nonce));
    const payload = await backend.tmSend({ payload: data, from: priv.privateFrom, to: priv.privateFor, privacyFlag: flag }).catch(tmError);

    const sign = (nonce: bigint) => accounts.signPrivateTransaction(from, { to, data: payload.hashHex, gasLimit, nonce });
    return deps.signAndSubmit(from, args.nonce === undefined ? undefined : BigInt(args.nonce), sign, ctx);
  }

  const methods: Record<string, Method> = {
    /** A raw transaction signed with v = 37/38 whose data is a hash from the tm's /storeraw (web3js-quorum's flow). */
    eth_sendRawPrivateTransaction: async (params, ctx) => {
      const [raw, rawArgs] = positional(params, [DataParam, z.unknown()]);
      const priv = parsePrivateArgs(rawArgs);
      const decoded = decodeRawTransaction(fromHex(raw), deps.common);
      if (!decoded.ok) throw decoded.error;
      if (!decoded.value.isPrivate) throw rejected('eth_sendRawPrivateTransaction takes a private transaction (signed with v = 37 or 38)');
      const hashHex = toHex(decoded.value.data);
      await checkRules(decoded.value.to, priv.privateFrom ?? deps.privacyKey, priv.privateFor, priv.privacyFlag ?? 0);
      // Admission first (nonce, gas), so nothing is shared for a transaction that would be refused anyway.
      const tx = await deps.admit(fromHex(raw));
      ctx.setAttribute(Attr.txHash, tx.hash);
      await backend.tmSendSigned(hashHex, priv.privateFor, priv.privacyFlag ?? 0).catch(tmError);
      await deps.enqueue(tx);
      return tx.hash;
    },

    /** The decrypted payload of a private transaction, or 0x where this participant is not a party. */
    eth_getQuorumPayload: async (params) => {
      const [hash] = positional(params, [PayloadHashHex]);
      const [payload] = await backend.tmReceive([hash.toLowerCase()]);
      return payload?.found ? payload.payload : '0x';
    },

    /** The storage root of a contract: its private state when this participant holds it privately, else public. */
    eth_storageRoot: async (params) => {
      const [address, block] = positional(params, [AddressParam, BlockParam.optional()]);
      const n = await deps.resolveNumber(block);
      const privateAccount = await backend.account(address, n, 'private');
      if (privateAccount && privateAccount.storageRoot !== EMPTY_TRIE_ROOT) return privateAccount.storageRoot;
      const account = await backend.account(address, n);
      return account ? account.storageRoot : EMPTY_TRIE_ROOT;
    },

    eth_getContractPrivacyMetadata: async (params) => {
      const [address] = positional(params, [AddressParam]);
      const meta = await backend.privacyMetadata(address);
      if (!meta) return null;
      return { creationTxHash: meta.creationTxHash, privacyFlag: meta.privacyFlag, mandatoryFor: [], parties: meta.parties };
    },
  };
  return { sendPrivateTransaction, methods };
}

