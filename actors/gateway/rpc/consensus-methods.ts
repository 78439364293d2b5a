/**
 * The consensus operator's JSON-RPC methods, as GoQuorum names them: istanbul_* on a QBFT network, raft_* on
 * a Raft one. The gateway checks their params; the consensus core answers (or refuses with a coded error).
 * Participants are named by their id in the permission list (raft_addPeer('p5'); GoQuorum takes an enode URL
 * and answers a numeric raft id: here the participant id is both).
 */
import { z } from 'zod';
import type { Backend } from '../backend.js';
import { methodNotFound, serverError } from './errors.js';
import { AddressParam, Bool, positional } from './params.js';

type Method = (params: unknown) => Promise<unknown>;

/** A block number for istanbul_* queries: null means the latest. */
const OptionalBlockNumber = z
  .union([z.enum(['latest', 'pending', 'finalized', 'safe', 'earliest']), z.string().regex(/^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/), z.number().int().nonnegative()], {
    error: 'expected a block number (hex quantity) or latest/earliest',
  })
  .optional()
  .transform((v) => (v === undefined || (typeof v === 'string' && !v.startsWith('0x') && v !== 'earliest') ? null : v === 'earliest' ? 0 : Number(v)));

const ParticipantRef = z.string({ error: 'expected a participant id' }).regex(/^[a-z][a-z0-9]{0,15}$/, 'expected a participant id');

export function createConsensusMethods(backend: Backend): Record<string, Method> {
  const algorithm = async () => (await backend.consensusStatus()).algorithm;
  const on =
    (wanted: 'raft' | 'qbft', method: string, read: (params: unknown) => unknown[]): Method =>
    async (params) => {
      const args = read(params); // bad params are refused before anything is asked
      if ((await algorithm()) !== wanted) throw methodNotFound(method);
      return backend.consensusCommand(method, args);
    };
  const istanbul = (method: string, read: (params: unknown) => unknown[]) => on('qbft', method, read);
  const raft = (method: string, read: (params: unknown) => unknown[]) => on('raft', method, read);
  const status = async (method: string) => {
    const s = await backend.consensusStatus();
    if (s.algorithm !== 'raft') throw methodNotFound(method);
    return s;
  };

  return {
    istanbul_propose: istanbul('istanbul_propose', (p) => positional(p, [AddressParam, Bool]).map((v) => (typeof v === 'string' ? v.toLowerCase() : v))),
    istanbul_discard: istanbul('istanbul_discard', (p) => positional(p, [AddressParam]).map((a) => a.toLowerCase())),
    istanbul_candidates: istanbul('istanbul_candidates', (p) => positional(p, [])),
    istanbul_getValidators: istanbul('istanbul_getValidators', (p) => positional(p, [OptionalBlockNumber])),
    istanbul_getSnapshot: istanbul('istanbul_getSnapshot', (p) => positional(p, [OptionalBlockNumber])),
    istanbul_nodeAddress: istanbul('istanbul_nodeAddress', (p) => positional(p, [])),
    istanbul_isValidator: istanbul('istanbul_isValidator', (p) => positional(p, [OptionalBlockNumber])),
    istanbul_status: istanbul('istanbul_status', (p) => positional(p, [OptionalBlockNumber, OptionalBlockNumber])),

    raft_addPeer: raft('raft_addPeer', (p) => positional(p, [ParticipantRef])),
    raft_addLearner: raft('raft_addLearner', (p) => positional(p, [ParticipantRef])),
    raft_promoteToPeer: raft('raft_promoteToPeer', (p) => positional(p, [ParticipantRef])),
    raft_removePeer: raft('raft_removePeer', (p) => positional(p, [ParticipantRef])),
    raft_getRaftId: raft('raft_getRaftId', (p) => positional(p, [ParticipantRef])),
    raft_leader: async (params) => {
      positional(params, []);
      const leader = (await status('raft_leader')).leader;
      if (!leader) throw serverError('no leader');
      return leader;
    },
    raft_role: async (params) => {
      positional(params, []);
      return (await status('raft_role')).role === 'leader' ? 'minter' : 'verifier';
    },
    raft_cluster: async (params) => {
      positional(params, []);
      return (await status('raft_cluster')).cluster;
    },
  };
}
