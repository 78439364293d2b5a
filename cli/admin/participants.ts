/**
 * The permission list as data: adding and removing a participant in a network description, and choosing the id
 * and ports of a newcomer. Pure (port availability is asked of a function the caller supplies), so the rules are
 * tested without files or sockets.
 */
import type { NetworkDescription, Participant } from '../../lib/network/description.js';
import { NetworkDescription as NetworkDescriptionSchema, ParticipantId } from '../../lib/network/description.js';
import { checkNetwork } from '../../lib/network/load.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';

/** The description with `participant` appended. Genesis and consensus parameters are left alone: they cannot change under a running chain. */
export function addParticipant(network: NetworkDescription, participant: Participant): NetworkDescription {
  if (network.participants.some((p) => p.id === participant.id)) {
    throw new CodedError(ErrorCode.Conflict, `participant ${participant.id} is already permitted in network ${network.name}`, { id: participant.id });
  }
  const next = NetworkDescriptionSchema.parse({ ...network, participants: [...network.participants, participant] });
  try {
    checkNetwork(next); // ports and keys must stay unique across participants
  } catch (err) {
    throw new CodedError(ErrorCode.Conflict, `cannot permit ${participant.id}: ${(err as Error).message}`, { id: participant.id });
  }
  return next;
}

/** The description without participant `id`. The last participant cannot be removed: a network of nobody is no network. */
export function removeParticipant(network: NetworkDescription, id: string): NetworkDescription {
  if (!network.participants.some((p) => p.id === id)) {
    throw new CodedError(ErrorCode.NotFound, `participant ${id} is not permitted in network ${network.name} (permitted: ${network.participants.map((p) => p.id).join(', ')})`, { id });
  }
  if (network.participants.length === 1) {
    throw new CodedError(ErrorCode.Rejected, `participant ${id} is the last one of network ${network.name}; refusing to revoke it`, { id });
  }
  return { ...network, participants: network.participants.filter((p) => p.id !== id) };
}

/**
 * The next free id p<n>: one past the highest number in use by the description or in `taken` (ids whose secrets
 * still exist, e.g. revoked participants, are never handed to a newcomer: their databases and keys may remain).
 */
export function nextParticipantId(network: NetworkDescription, taken: Iterable<string> = []): string {
  let max = 0;
  for (const id of [...network.participants.map((p) => p.id), ...taken]) {
    const m = /^p(\d+)$/.exec(id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `p${max + 1}`;
}

export function assertParticipantId(id: string): void {
  const r = ParticipantId.safeParse(id);
  if (!r.success) throw new CodedError(ErrorCode.InvalidInput, `invalid participant id ${JSON.stringify(id)}: ${r.error.issues[0]?.message ?? 'bad id'}`, { id });
}

export interface ParticipantPorts {
  rpcPort: number;
  tmPort: number;
}

/**
 * Ports for a newcomer that continue the existing ones: the RPC port after the highest RPC port, the tm port after
 * the highest tm port (a devnet on 22000.. and 9081.. gets 22004 and 9085), skipping any port the description
 * already uses or `isFree` says is taken on this host.
 */
export async function nextParticipantPorts(network: NetworkDescription, isFree: (port: number) => Promise<boolean>): Promise<ParticipantPorts> {
  const used = new Set(network.participants.flatMap((p) => [p.rpcPort, p.tmPort]));
  const pick = async (after: number, what: string): Promise<number> => {
    for (let port = after + 1; port <= 65535; port++) {
      if (used.has(port)) continue;
      if (await isFree(port)) {
        used.add(port);
        return port;
      }
    }
    throw new CodedError(ErrorCode.Unavailable, `no free ${what} port above ${after}`);
  };
  const rpcPort = await pick(Math.max(...network.participants.map((p) => p.rpcPort)), 'rpc');
  const tmPort = await pick(Math.max(...network.participants.map((p) => p.tmPort)), 'tm');
  return { rpcPort, tmPort };
}
