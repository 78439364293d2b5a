/**
 * Node-managed accounts: the participant's own keys (from its secrets file), used for eth_sendTransaction
 * and eth_sign. Keys stay in this module's closure; nothing here logs or returns them.
 */
import type { Common } from '@ethereumjs/common';
import { createAccessList2930Tx, createLegacyTx } from '@ethereumjs/tx';
import { hashPersonalMessage } from '@ethereumjs/util';
import { keccak_256 } from '@noble/hashes/sha3';
import secp256k1 from 'secp256k1';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { signPrivateTransaction } from '../../lib/ethereum/transaction.js';
import { fromHex, toHex } from '../../lib/hex.js';

export interface UnsignedTx {
  to?: string | null;
  value: bigint;
  data: string;
  gasLimit: bigint;
  nonce: bigint;
  accessList?: { address: string; storageKeys: string[] }[];
}

export interface NodeAccounts {
  /** Lowercase 0x addresses, in the order of the secrets file. */
  readonly addresses: readonly string[];
  has(address: string): boolean;
  /** Signs with gas price 0 and the chain's id: EIP-155 legacy, or EIP-2930 when an access list is given. */
  signTransaction(from: string, tx: UnsignedTx): Uint8Array;
  /** A private transaction (v = 37/38, as GoQuorum signs them): `data` is the payload hash, gas price and value 0. */
  signPrivateTransaction(from: string, tx: { to?: string | null; data: string; gasLimit: bigint; nonce: bigint }): Uint8Array;
  /** eth_sign / personal_sign: 65-byte r||s||v (v = 27/28) over the EIP-191 personal-message hash. */
  signMessage(from: string, message: Uint8Array): string;
}

function addressOfKey(key: Uint8Array): string {
  const pub = secp256k1.publicKeyCreate(key, false);
  return toHex(keccak_256(pub.subarray(1)).subarray(12));
}

export function createAccounts(privateKeys: readonly string[], common: Common): NodeAccounts {
  const keys = new Map<string, Uint8Array>();
  for (const hex of privateKeys) {
    const key = fromHex(hex);
    if (key.length !== 32 || !secp256k1.privateKeyVerify(key)) throw new Error('an account key in the secrets file is not a valid secp256k1 private key');
    keys.set(addressOfKey(key), key);
  }
  const keyOf = (address: string): Uint8Array => {
    const key = keys.get(address.toLowerCase());
    if (!key) throw new CodedError(ErrorCode.Rejected, `unknown account ${address}`);
    return key;
  };

  return {
    addresses: [...keys.keys()],
    has: (address) => keys.has(address.toLowerCase()),

    signTransaction(from, tx) {
      const key = keyOf(from);
      const fields = {
        nonce: tx.nonce,
        gasPrice: 0n,
        gasLimit: tx.gasLimit,
        to: tx.to ? (tx.to as `0x${string}`) : undefined,
        value: tx.value,
        data: tx.data as `0x${string}`,
      };
      const unsigned = tx.accessList
        ? createAccessList2930Tx({ ...fields, chainId: common.chainId(), accessList: tx.accessList as never }, { common })
        : createLegacyTx(fields, { common });
      return unsigned.sign(key).serialize();
    },

    signPrivateTransaction(from, tx) {
      const key = keyOf(from);
      return signPrivateTransaction(
        { nonce: tx.nonce, gasLimit: tx.gasLimit, to: tx.to ? fromHex(tx.to) : null, data: fromHex(tx.data) },
        (hash) => secp256k1.ecdsaSign(hash, key),
      );
    },

    signMessage(from, message) {
      const key = keyOf(from);
      const { signature, recid } = secp256k1.ecdsaSign(hashPersonalMessage(message), key);
      const out = new Uint8Array(65);
      out.set(signature, 0);
      out[64] = 27 + recid;
      return toHex(out);
    },
  };
}

/**
 * Hands out consecutive nonces per account to concurrent eth_sendTransaction calls. Under a per-account
 * lock, `prepare` gets the nonce to use and returns a box holding the submission's outcome (it should only
 * sign and enqueue, so the lock is short). While submissions of the account are in flight, nonces follow
 * the last one handed out (the pool does not know about queued ones yet); once none is in flight, or after
 * a failure, the next call asks `pending()` again, so a transaction dropped later leaves no lasting gap.
 */
export class NonceSequencer {
  private readonly next = new Map<string, bigint>();
  private readonly inflight = new Map<string, number>();
  private readonly locks = new Map<string, Promise<void>>();

  async run<T>(address: string, pending: () => Promise<bigint>, prepare: (nonce: bigint) => Promise<{ done: Promise<T> }>): Promise<T> {
    const key = address.toLowerCase();
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.locks.set(key, tail);
    await previous;
    let box: { done: Promise<T> };
    try {
      const known = this.next.get(key);
      const nonce = known ?? (await pending());
      box = await prepare(nonce);
      this.next.set(key, nonce + 1n);
      this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
    } finally {
      release();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
    try {
      return await box.done;
    } catch (err) {
      this.next.delete(key);
      throw err;
    } finally {
      const left = (this.inflight.get(key) ?? 1) - 1;
      if (left > 0) this.inflight.set(key, left);
      else {
        this.inflight.delete(key);
        this.next.delete(key);
      }
    }
  }
}
