/**
 * The privacy rules (lib/ethereum/privacy-rules.ts) as given/when/then tables: GoQuorum's flags 0 (standard),
 * 1 (party protection), 3 (private state validation), for creations, unknown targets and known contracts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contractParties, privacyViolation, type PrivacyFlag, type PrivateContract, type PrivatePayloadFacts } from '../../lib/ethereum/privacy-rules.js';

// Privacy keys are opaque strings to the rules; base64-looking ones keep the tables readable.
const A = 'AAAA' + 'a'.repeat(39) + '=';
const B = 'BBBB' + 'b'.repeat(39) + '=';
const C = 'CCCC' + 'c'.repeat(39) + '=';
const D = 'DDDD' + 'd'.repeat(39) + '=';
const ADDR = '0x' + 'ab'.repeat(20);

const contract = (privacyFlag: PrivacyFlag, parties: string[]): PrivateContract => ({
  address: ADDR,
  creationTxHash: '0x' + '11'.repeat(32),
  privacyFlag,
  parties: [...parties].sort(),
});
const payload = (privacyFlag: PrivacyFlag, senderKey: string, recipientKeys: string[]): PrivatePayloadFacts => ({ senderKey, recipientKeys, privacyFlag });

interface Row {
  given: string;
  target: PrivateContract | undefined;
  when: string;
  payload: PrivatePayloadFacts;
  isCreation: boolean;
  /** null: allowed; a RegExp: the violation must match it. */
  then: null | RegExp;
}

const MISMATCH = /^privacy flag mismatch: contract 0x(ab){20} was created with flag \d, the transaction has flag \d$/;
const NO_CONTRACT = /^privacy flag [13] sent to an address that holds no contract created with that flag$/;
const PARTY_PROTECTION = /^party protection: the sender is not a party of contract 0x(ab){20}$/;
const PSV = /^private state validation: the transaction's participants differ from those of contract 0x(ab){20}$/;

const rows: Row[] = [
  // ---- creations: always allowed, whatever the flag (the contract is being made with it)
  { given: 'no contract', target: undefined, when: 'a creation with flag 0', payload: payload(0, A, [A, B]), isCreation: true, then: null },
  { given: 'no contract', target: undefined, when: 'a creation with flag 1', payload: payload(1, A, [A, B]), isCreation: true, then: null },
  { given: 'no contract', target: undefined, when: 'a creation with flag 3', payload: payload(3, A, [A, B, C]), isCreation: true, then: null },
  {
    given: 'a flag-3 contract at the created address (never happens, but a creation is not a call)',
    target: contract(3, [C, D]),
    when: 'a creation with flag 0 by a non-party',
    payload: payload(0, A, [A]),
    isCreation: true,
    then: null,
  },

  // ---- unknown target: flag 0 is fine (a private tx to a public contract or an account), flags 1/3 are not
  { given: 'no private contract at the target', target: undefined, when: 'flag 0', payload: payload(0, A, [A, B]), isCreation: false, then: null },
  { given: 'no private contract at the target', target: undefined, when: 'flag 1', payload: payload(1, A, [A, B]), isCreation: false, then: NO_CONTRACT },
  { given: 'no private contract at the target', target: undefined, when: 'flag 3', payload: payload(3, A, [A, B]), isCreation: false, then: NO_CONTRACT },

  // ---- standard (0): anyone holding it, any recipients
  { given: 'a flag-0 contract of {A,B}', target: contract(0, [A, B]), when: 'party A sends flag 0 to {A,B}', payload: payload(0, A, [A, B]), isCreation: false, then: null },
  {
    given: 'a flag-0 contract of {A,B}',
    target: contract(0, [A, B]),
    when: 'non-party C sends flag 0 to a subset {C,A}',
    payload: payload(0, C, [C, A]),
    isCreation: false,
    then: null,
  },

  // ---- mismatched flags, every direction
  { given: 'a flag-0 contract', target: contract(0, [A, B]), when: 'flag 1', payload: payload(1, A, [A, B]), isCreation: false, then: MISMATCH },
  { given: 'a flag-0 contract', target: contract(0, [A, B]), when: 'flag 3', payload: payload(3, A, [A, B]), isCreation: false, then: MISMATCH },
  { given: 'a flag-1 contract', target: contract(1, [A, B]), when: 'flag 0', payload: payload(0, A, [A, B]), isCreation: false, then: MISMATCH },
  { given: 'a flag-1 contract', target: contract(1, [A, B]), when: 'flag 3', payload: payload(3, A, [A, B]), isCreation: false, then: MISMATCH },
  { given: 'a flag-3 contract', target: contract(3, [A, B]), when: 'flag 0 with the exact parties', payload: payload(0, A, [A, B]), isCreation: false, then: MISMATCH },
  { given: 'a flag-3 contract', target: contract(3, [A, B]), when: 'flag 1 with the exact parties', payload: payload(1, A, [A, B]), isCreation: false, then: MISMATCH },

  // ---- party protection (1): the sender must be a party
  { given: 'a flag-1 contract of {A,B}', target: contract(1, [A, B]), when: 'party A sends flag 1', payload: payload(1, A, [A, B]), isCreation: false, then: null },
  { given: 'a flag-1 contract of {A,B}', target: contract(1, [A, B]), when: 'party B sends flag 1 to B alone', payload: payload(1, B, [B]), isCreation: false, then: null },
  {
    given: 'a flag-1 contract of {A,B}',
    target: contract(1, [A, B]),
    when: 'non-party C sends flag 1 to {C,A,B}',
    payload: payload(1, C, [C, A, B]),
    isCreation: false,
    then: PARTY_PROTECTION,
  },

  // ---- private state validation (3): the participants must be exactly the contract's parties
  { given: 'a flag-3 contract of {A,B,C}', target: contract(3, [A, B, C]), when: 'the same set, same order', payload: payload(3, A, [A, B, C]), isCreation: false, then: null },
  { given: 'a flag-3 contract of {A,B,C}', target: contract(3, [A, B, C]), when: 'the same set, other order', payload: payload(3, B, [C, A, B]), isCreation: false, then: null },
  {
    given: 'a flag-3 contract of {A,B,C}',
    target: contract(3, [A, B, C]),
    when: 'the same set with duplicates',
    payload: payload(3, A, [A, B, C, A, C]),
    isCreation: false,
    then: null,
  },
  { given: 'a flag-3 contract of {A,B,C}', target: contract(3, [A, B, C]), when: 'a subset {A,B}', payload: payload(3, A, [A, B]), isCreation: false, then: PSV },
  {
    given: 'a flag-3 contract of {A,B,C}',
    target: contract(3, [A, B, C]),
    when: 'a subset {A,B} padded with duplicates to 3 entries',
    payload: payload(3, A, [A, B, B]),
    isCreation: false,
    then: PSV,
  },
  { given: 'a flag-3 contract of {A,B,C}', target: contract(3, [A, B, C]), when: 'a superset {A,B,C,D}', payload: payload(3, A, [A, B, C, D]), isCreation: false, then: PSV },
  { given: 'a flag-3 contract of {A,B,C}', target: contract(3, [A, B, C]), when: 'as many but another set {A,B,D}', payload: payload(3, A, [A, B, D]), isCreation: false, then: PSV },
  { given: 'a flag-3 contract of {A,B,C}', target: contract(3, [A, B, C]), when: 'no participants at all', payload: payload(3, A, []), isCreation: false, then: PSV },
];

describe('privacyViolation: given/when/then', () => {
  for (const row of rows) {
    it(`given ${row.given}, when ${row.when}, then ${row.then === null ? 'allowed' : 'refused'}`, () => {
      const got = privacyViolation(row.target, row.payload, row.isCreation);
      if (row.then === null) assert.equal(got, null);
      else {
        assert.equal(typeof got, 'string', 'expected a violation');
        assert.match(got!, row.then);
      }
    });
  }

  it('a mismatch names both flags, contract first', () => {
    assert.equal(
      privacyViolation(contract(3, [A, B]), payload(1, A, [A, B]), false),
      `privacy flag mismatch: contract ${ADDR} was created with flag 3, the transaction has flag 1`,
    );
    assert.equal(privacyViolation(undefined, payload(3, A, [A]), false), 'privacy flag 3 sent to an address that holds no contract created with that flag');
  });

  it('the flag check comes before party protection and PSV (a non-party with the wrong flag reads as a mismatch)', () => {
    assert.match(privacyViolation(contract(1, [A, B]), payload(0, C, [C]), false)!, MISMATCH);
    assert.match(privacyViolation(contract(3, [A, B]), payload(1, C, [C]), false)!, MISMATCH);
  });

  it('does not change its inputs', () => {
    const target = contract(3, [A, B, C]);
    const p = payload(3, B, [C, A, B, A]);
    const snapshot = JSON.stringify([target, p]);
    privacyViolation(target, p, false);
    privacyViolation(target, payload(3, A, [A]), false);
    assert.equal(JSON.stringify([target, p]), snapshot);
  });
});

describe('contractParties', () => {
  const cases: { when: string; payload: PrivatePayloadFacts; then: string[] }[] = [
    { when: 'the sender is not among the recipients', payload: payload(0, B, [C, A]), then: [A, B, C] },
    { when: 'the sender is among the recipients', payload: payload(0, B, [C, B, A]), then: [A, B, C] },
    { when: 'recipients repeat', payload: payload(3, C, [A, A, C, B, B]), then: [A, B, C] },
    { when: 'there are no recipients', payload: payload(1, D, []), then: [D] },
  ];
  for (const c of cases) {
    it(`when ${c.when}, then the parties are the sorted set of sender and recipients`, () => {
      assert.deepEqual(contractParties(c.payload), c.then);
    });
  }

  it('the same parties whatever the order of the recipients', () => {
    const one = contractParties(payload(3, A, [B, C, D]));
    const two = contractParties(payload(3, A, [D, C, B, A]));
    assert.deepEqual(one, two);
    assert.deepEqual(one, [A, B, C, D]);
  });

  it('a contract made from a payload accepts, with flag 3, exactly the payloads naming its parties', () => {
    // The executor records contractParties(creation payload) and checks later payloads against it.
    const creation = payload(3, A, [B, C]);
    const target = { ...contract(3, []), parties: contractParties(creation) };
    assert.equal(privacyViolation(target, payload(3, B, [A, B, C]), false), null);
    assert.match(privacyViolation(target, payload(3, B, [B, C]), false)!, PSV);
  });
});
