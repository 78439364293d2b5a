/**
 * This participant's private state, as the private transactions of its parties see it (GoQuorum's rule): a
 * private contract may read public state — an account, code or storage that the private state does not hold
 * is read from the public state as of that point of the block — but never write it. A write to a contract that
 * lives only in the public state fails the private transaction (which then changes nothing), except the EVM's
 * no-op re-put of an unchanged account that every CALL makes.
 *
 * Why the write is recorded rather than thrown: an exception from the state manager escapes the EVM without
 * unwinding its checkpoints (later writes would then never reach the trie database). So the write lands in the
 * private cache like any other, is remembered here, and the executor reverts the whole transaction after it. An externally owned account read from public
 * state and then written (a sender's nonce) becomes the private state's own copy: the public one is untouched.
 */
import type { StateManagerInterface } from '@ethereumjs/common';
import { bytesToHex, equalsBytes, type Account, type Address } from '@ethereumjs/util';
import { BatchingStateManager } from './state-manager.js';

class PublicStateWriteError extends Error {
  constructor(address: Address, what: string) {
    super(`a private transaction cannot write public state (${what} of ${address.toString()})`);
    this.name = 'PublicStateWriteError';
  }
}

export class PrivateStateManager extends BatchingStateManager {
  /** The public state the private transactions may read (set by the engine; none: private state only). */
  publicView: StateManagerInterface | undefined;
  private violation: PublicStateWriteError | null = null;

  /** The first write to public state since the last call, if any (and forget it). */
  takeViolation(): PublicStateWriteError | null {
    const v = this.violation;
    this.violation = null;
    return v;
  }

  private refuse(address: Address, what: string): void {
    this.violation ??= new PublicStateWriteError(address, what);
  }

  /** The account as the private state itself holds it, with no public fallback. */
  ownAccount(address: Address): Promise<Account | undefined> {
    return super.getAccount(address);
  }

  /** Puts an account into the private state itself (the sender of a private transaction carries its nonce here). */
  putOwnAccount(address: Address, account: Account): Promise<void> {
    return super.putAccount(address, account);
  }

  /** The public account when the address lives only in the public state, else undefined. */
  private async publicOnly(address: Address): Promise<Account | undefined> {
    if (!this.publicView) return undefined;
    if ((await super.getAccount(address)) !== undefined) return undefined;
    return this.publicView.getAccount(address);
  }

  /** A contract that lives only in the public state: read-only here. */
  private async publicContract(address: Address): Promise<Account | undefined> {
    const pub = await this.publicOnly(address);
    return pub?.isContract() ? pub : undefined;
  }

  override async getAccount(address: Address): Promise<Account | undefined> {
    const own = await super.getAccount(address);
    if (own !== undefined || !this.publicView) return own;
    return this.publicView.getAccount(address);
  }

  override async getCode(address: Address): Promise<Uint8Array> {
    return (await this.publicOnly(address)) ? this.publicView!.getCode(address) : super.getCode(address);
  }

  override async getCodeSize(address: Address): Promise<number> {
    return (await this.publicOnly(address)) ? this.publicView!.getCodeSize(address) : super.getCodeSize(address);
  }

  override async getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> {
    return (await this.publicOnly(address)) ? this.publicView!.getStorage(address, key) : super.getStorage(address, key);
  }

  override async putAccount(address: Address, account: Account | undefined): Promise<void> {
    const pub = await this.publicContract(address);
    if (pub) {
      if (account !== undefined && equalsBytes(account.serialize(), pub.serialize())) return; // unchanged: not a write
      this.refuse(address, 'the account');
    }
    return super.putAccount(address, account);
  }

  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    if (await this.publicContract(address)) this.refuse(address, `storage slot ${bytesToHex(key)}`);
    return super.putStorage(address, key, value);
  }

  override async putCode(address: Address, value: Uint8Array): Promise<void> {
    if (await this.publicContract(address)) this.refuse(address, 'the code');
    return super.putCode(address, value);
  }

  override async deleteAccount(address: Address): Promise<void> {
    if (await this.publicContract(address)) this.refuse(address, 'the account');
    return super.deleteAccount(address);
  }

  override async clearStorage(address: Address): Promise<void> {
    if (await this.publicContract(address)) this.refuse(address, 'the storage');
    return super.clearStorage(address);
  }
}
