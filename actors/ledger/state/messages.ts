/**
 * Messages of the state store (run twice per participant: public and private state; subjects by kind).
 * The executor writes each block's trie entries into the store's table (node-batches.ts) and may ask for
 * entries it misses; the gateway reads state at a block number.
 */
import { z } from 'zod';
import { Address, Hash32, HexBytes, HexQuantity } from '../../../lib/hex.js';

/** executor → state store: trie database entries it misses in its cache (after a restart, say). */
export const StateNodesRequest = z.object({ keys: z.array(HexBytes).max(4096) });
export const StateNodesReply = z.object({ values: z.array(HexBytes.nullable()) });

/** gateway → state store: state at a block number (the gateway resolves tags to numbers). */
export const StateRead = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('account'), address: Address, block: HexQuantity }),
  /** Many accounts at one block in one round trip (the gateway's admission of a burst of transactions). */
  z.object({ kind: z.literal('accounts'), addresses: z.array(Address).min(1).max(1000), block: HexQuantity }),
  z.object({ kind: z.literal('code'), address: Address, block: HexQuantity }),
  z.object({ kind: z.literal('storage'), address: Address, slot: Hash32, block: HexQuantity }),
]);
export type StateRead = z.infer<typeof StateRead>;
export const AccountState = z.object({ nonce: HexQuantity, balance: HexQuantity, codeHash: Hash32, storageRoot: Hash32 });
export type AccountState = z.infer<typeof AccountState>;
