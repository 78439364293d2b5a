/**
 * Signed consensus envelopes: what a validator sends is signed with its Ed25519 key and checked on receipt
 * against the network description. A message signed with the wrong key, a tampered body, and a sender that
 * does not match the signer are each refused and logged (the shell's openPeerMessage; a core message's own
 * `from` is checked by the core).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { PeerSigner, type PeerBody, type PeerEnvelope } from '../../actors/consensus/peer-envelope.js';
import { openPeerMessage } from '../../actors/consensus/shell.js';
import { RaftCore } from '../../actors/consensus/raft-core.js';
import type { NetworkDescription } from '../../lib/network/description.js';

function validator(id: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
  return { id, publicHex: raw, privateKey };
}

const p1 = validator('p1');
const p2 = validator('p2');
const p3 = validator('p3');
// PeerSigner reads only the participants' ids and validator keys.
const network = (...vs: ReturnType<typeof validator>[]) => ({ participants: vs.map((v) => ({ id: v.id, validatorKey: v.publicHex })) }) as unknown as NetworkDescription;

function recorder() {
  const lines: { message: string; context?: Record<string, unknown>; error?: unknown }[] = [];
  return { lines, warn: (message: string, context?: Record<string, unknown>, error?: unknown) => void lines.push({ message, context, error }) };
}

const admitted = { raw: '0x01', hash: '0x' + 'ab'.repeat(32), from: '0x' + '11'.repeat(20), nonce: '0x0', gasLimit: '0x5208', accountNonce: '0x0' };
const forward = (from: string): PeerBody => ({ kind: 'forward', from, transactions: [admitted] });
const core: PeerBody = { kind: 'core', message: { type: 'RequestVote', from: 'p1', to: 'p2', term: 1, preVote: true, lastLogIndex: 0, lastLogTerm: 0 } };

test('a message signed by its sender opens, and nothing is logged', () => {
  const sender = new PeerSigner(network(p1, p2, p3), p1.privateKey);
  const receiver = new PeerSigner(network(p1, p2, p3), p2.privateKey);
  const log = recorder();
  assert.deepEqual(openPeerMessage(receiver, 'p1', sender.seal(core), log), core);
  assert.deepEqual(openPeerMessage(receiver, 'p1', sender.seal(forward('p1')), log), forward('p1'));
  assert.deepEqual(log.lines, []);
});

test('a message signed with the wrong key is refused and logged', () => {
  const impostor = new PeerSigner(network(p1, p2, p3), p3.privateKey); // p3's key, arriving on p1's subject
  const receiver = new PeerSigner(network(p1, p2, p3), p2.privateKey);
  const log = recorder();
  assert.equal(openPeerMessage(receiver, 'p1', impostor.seal(core), log), null);
  assert.equal(log.lines.length, 1);
  assert.equal(log.lines[0].message, 'refused a consensus message');
  assert.deepEqual(log.lines[0].context, { sender: 'p1' });
  assert.match(String((log.lines[0].error as Error).message), /bad signature on a message from p1/);
});

test('a tampered body is refused and logged', () => {
  const sender = new PeerSigner(network(p1, p2, p3), p1.privateKey);
  const receiver = new PeerSigner(network(p1, p2, p3), p2.privateKey);
  const sealed = sender.seal(core);
  const tampered: PeerEnvelope = { ...sealed, body: sealed.body.replace('"term":1', '"term":9') };
  assert.notEqual(tampered.body, sealed.body);
  const log = recorder();
  assert.equal(openPeerMessage(receiver, 'p1', tampered, log), null);
  assert.match(String((log.lines[0].error as Error).message), /bad signature/);
  // A signature that is not even well-formed hex of the right length is refused at the schema, before this.
  const flipped: PeerEnvelope = { ...sealed, sig: (sealed.sig[0] === 'a' ? 'b' : 'a') + sealed.sig.slice(1) };
  assert.equal(openPeerMessage(receiver, 'p1', flipped, log), null);
  assert.equal(log.lines.length, 2);
});

test('a sender that does not match the signer is refused and logged: a forward, and a core message', () => {
  const sender = new PeerSigner(network(p1, p2, p3), p1.privateKey);
  const receiver = new PeerSigner(network(p1, p2, p3), p2.privateKey);
  const log = recorder();
  // p1 signs a forward claiming to come from p3.
  assert.equal(openPeerMessage(receiver, 'p1', sender.seal(forward('p3')), log), null);
  assert.match(String((log.lines[0].error as Error).message), /p1 sent a message claiming to be from p3/);
  // p1 signs a Raft message claiming to be from p3: the envelope is p1's, the core refuses the claim.
  const claim: PeerBody = { kind: 'core', message: { type: 'RequestVote', from: 'p3', to: 'p2', term: 1, preVote: true, lastLogIndex: 0, lastLogTerm: 0 } };
  const body = openPeerMessage(receiver, 'p1', sender.seal(claim), log);
  assert.ok(body && body.kind === 'core');
  const raft = new RaftCore({ self: 'p2', peers: ['p1', 'p2', 'p3'], permitted: ['p1', 'p2', 'p3'], electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, seed: 1 }, [], 0);
  const out = raft.step({ type: 'message', from: 'p1', message: body.message });
  assert.deepEqual(out.refused, [{ from: 'p1', reason: 'p1 sent a message claiming to be from p3' }]);
  assert.deepEqual(out.messages, []);
  // Blocks fetched from a peer are held to the same rule.
  const blocks = raft.step({ type: 'message', from: 'p1', message: { type: 'Blocks', from: 'p3', to: 'p2', blocks: [] } });
  assert.match(blocks.refused[0].reason, /claiming to be from p3/);
});

test('a validator off the permission list is refused, also after the list changes', () => {
  const receiver = new PeerSigner(network(p1, p2), p2.privateKey);
  const outsider = new PeerSigner(network(p1, p2, p3), p3.privateKey);
  const log = recorder();
  assert.equal(openPeerMessage(receiver, 'p3', outsider.seal(core), log), null);
  assert.match(String((log.lines[0].error as Error).message), /unknown validator p3/);
  receiver.permit(network(p2, p3));
  const former = new PeerSigner(network(p1, p2, p3), p1.privateKey);
  assert.equal(openPeerMessage(receiver, 'p1', former.seal(core), log), null);
  assert.equal(openPeerMessage(receiver, 'p3', outsider.seal(core), log)?.kind, 'core');
  assert.equal(log.lines.length, 2);
});
