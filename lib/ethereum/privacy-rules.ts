/**
 * The ledger's privacy rules, as pure functions (GoQuorum's privacy flags):
 *   0 standard                  anyone holding the contract may transact with it;
 *   1 party protection          only the contract's parties may transact with it, with flag 1;
 *   3 private state validation  every transaction with the contract names exactly the contract's parties, with
 *                               flag 3, so no party's private state can drift from another's.
 * Every party of a transaction decides the same way from the same inputs (the contract's metadata, which every
 * party holds alike, and the payload, which every party received alike), so a refused transaction is a no-op
 * on all of them.
 */
/** GoQuorum's privacy flags (the enclave's schema spells the same union). */
export type PrivacyFlag = 0 | 1 | 3;

/** What a party records about each private contract when it is created. */
export interface PrivateContract {
  address: string;
  creationTxHash: string;
  privacyFlag: PrivacyFlag;
  /** Every party's privacy key, sorted. */
  parties: string[];
}

export interface PrivatePayloadFacts {
  senderKey: string;
  recipientKeys: string[];
  privacyFlag: PrivacyFlag;
}

const sameSet = (a: readonly string[], b: readonly string[]) => {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
};

/** Why a private transaction to `target` must not run (null: it may). `target` undefined: a creation or no private contract there. */
export function privacyViolation(target: PrivateContract | undefined, payload: PrivatePayloadFacts, isCreation: boolean): string | null {
  if (isCreation) return null;
  if (!target) {
    return payload.privacyFlag === 0 ? null : `privacy flag ${payload.privacyFlag} sent to an address that holds no contract created with that flag`;
  }
  if (target.privacyFlag !== payload.privacyFlag) {
    return `privacy flag mismatch: contract ${target.address} was created with flag ${target.privacyFlag}, the transaction has flag ${payload.privacyFlag}`;
  }
  if (target.privacyFlag === 1 && !target.parties.includes(payload.senderKey)) {
    return `party protection: the sender is not a party of contract ${target.address}`;
  }
  if (target.privacyFlag === 3 && !sameSet(target.parties, payload.recipientKeys)) {
    return `private state validation: the transaction's participants differ from those of contract ${target.address}`;
  }
  return null;
}

export function contractParties(payload: PrivatePayloadFacts): string[] {
  return [...new Set([payload.senderKey, ...payload.recipientKeys])].sort();
}
