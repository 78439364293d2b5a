/** The permission list as data: generating one participant, adding and removing it, choosing its id and ports. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateNetwork, generateParticipant } from '../../cli/network/generate.js';
import { checkNetwork, checkSecrets } from '../../lib/network/load.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { addParticipant, nextParticipantId, nextParticipantPorts, removeParticipant } from '../../cli/admin/participants.js';

const coded = (code: ErrorCode, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof CodedError, `expected a CodedError, got ${String(err)}`);
  assert.equal(err.code, code);
  if (message) assert.match(err.message, message);
  return true;
};

describe('permitting and revoking participants in a description', () => {
  const { network } = generateNetwork({ participants: 4, basePort: 22000 });

  it('generateParticipant makes a participant whose secrets match it, like generateNetwork does', () => {
    const { participant, secrets } = generateParticipant({ id: 'p5', rpcPort: 22004, tmPort: 9085 });
    assert.equal(participant.id, 'p5');
    assert.equal(participant.name, 'Participant 5');
    assert.equal(participant.accounts.length, 2);
    assert.match(participant.nodeAddress, /^0x[0-9a-f]{40}$/);
    assert.match(secrets.nodeKey, /^0x[0-9a-f]{64}$/);
    const next = addParticipant(network, participant);
    checkSecrets(next, secrets); // nkeys, accounts, enclave and validator keys all belong to the participant
    assert.equal(generateParticipant({ id: 'bank', name: 'Bank', rpcPort: 1, tmPort: 2 }).participant.name, 'Bank');
  });

  it('adds a participant at the end, leaving genesis and consensus alone', () => {
    const { participant } = generateParticipant({ id: 'p5', rpcPort: 22004, tmPort: 9085 });
    const next = addParticipant(network, participant);
    assert.deepEqual(next.participants.map((p) => p.id), ['p1', 'p2', 'p3', 'p4', 'p5']);
    assert.deepEqual(next.genesis, network.genesis, 'genesis cannot change under a running chain');
    assert.deepEqual(next.consensus, network.consensus);
    assert.equal(network.participants.length, 4, 'the input is not modified');
    checkNetwork(next);
  });

  it('refuses a duplicate id, port or key', () => {
    assert.throws(() => addParticipant(network, generateParticipant({ id: 'p2', rpcPort: 30000, tmPort: 30001 }).participant), coded(ErrorCode.Conflict, /p2 is already permitted/));
    assert.throws(() => addParticipant(network, generateParticipant({ id: 'p5', rpcPort: 22001, tmPort: 30001 }).participant), coded(ErrorCode.Conflict, /duplicate rpc\/tm port 22001/));
    const clone = { ...generateParticipant({ id: 'p5', rpcPort: 30000, tmPort: 30001 }).participant, nkeys: network.participants[0].nkeys };
    assert.throws(() => addParticipant(network, clone), coded(ErrorCode.Conflict, /duplicate nkey/));
  });

  it('removes a participant; refuses an unknown one and the last one', () => {
    const next = removeParticipant(network, 'p3');
    assert.deepEqual(next.participants.map((p) => p.id), ['p1', 'p2', 'p4']);
    assert.equal(network.participants.length, 4, 'the input is not modified');
    assert.throws(() => removeParticipant(network, 'p9'), coded(ErrorCode.NotFound, /p9 is not permitted.*p1, p2, p3, p4/));
    const solo = generateNetwork({ participants: 1 }).network;
    assert.throws(() => removeParticipant(solo, 'p1'), coded(ErrorCode.Rejected, /last one/));
  });

  it('the next id follows the highest one in use, counting ids whose keys remain', () => {
    assert.equal(nextParticipantId(network), 'p5');
    assert.equal(nextParticipantId(removeParticipant(network, 'p4')), 'p4');
    assert.equal(nextParticipantId(removeParticipant(network, 'p4'), ['p4']), 'p5');
    assert.equal(nextParticipantId(network, ['p7', 'bank']), 'p8');
  });

  it('ports continue the existing ranges, skipping taken ones', async () => {
    assert.deepEqual(await nextParticipantPorts(network, async () => true), { rpcPort: 22004, tmPort: 9085 });
    const taken = new Set([22004, 9085, 9086]);
    assert.deepEqual(await nextParticipantPorts(network, async (p) => !taken.has(p)), { rpcPort: 22005, tmPort: 9087 });
    // rpc and tm ranges that meet: never two roles on one port
    const tight = generateNetwork({ participants: 2, rpcPorts: [40000, 40001], tmPorts: [39999, 40002] }).network;
    assert.deepEqual(await nextParticipantPorts(tight, async () => true), { rpcPort: 40003, tmPort: 40004 });
  });
});
