/**
 * Parameter schemas of the RPC methods and the positional-argument reader. Messages follow geth:
 * 'missing value for required argument 1', 'invalid argument 0: ...', 'too many arguments, want at most 2'.
 */
import { z, type ZodType } from 'zod';
import { CallRequest, LogFilter, type BlockTag } from '../../ledger/executor/messages.js';
import { Address, Hash32, HexBytes, HexQuantity } from '../../../lib/hex.js';
import { invalidParams } from './errors.js';

function issuesMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** Friendlier messages than zod's defaults for missing fields and wrong JSON types. */
const errorMap = (iss: { code: string; input?: unknown; expected?: string }): string | undefined => {
  if (iss.code !== 'invalid_type') return undefined;
  if (iss.input === undefined) return 'required';
  return `expected ${iss.expected}, got ${iss.input === null ? 'null' : Array.isArray(iss.input) ? 'array' : typeof iss.input}`;
};

type Outputs<T extends readonly ZodType[]> = { -readonly [K in keyof T]: z.output<T[K]> };

/**
 * Reads positional params against one schema per position. Absent and null values count as missing;
 * a missing value is fine only where the schema accepts undefined (.optional()).
 */
export function positional<const T extends readonly ZodType[]>(params: unknown, specs: T): Outputs<T> {
  if (params !== undefined && params !== null && !Array.isArray(params)) throw invalidParams('non-array args');
  const args = (params ?? []) as unknown[];
  if (args.length > specs.length) throw invalidParams(`too many arguments, want at most ${specs.length}`);
  return specs.map((schema, i) => {
    const value = args[i] === null ? undefined : args[i];
    const r = schema.safeParse(value, { error: errorMap });
    if (r.success) return r.data;
    if (value === undefined) throw invalidParams(`missing value for required argument ${i}`);
    throw invalidParams(`invalid argument ${i}: ${issuesMessage(r.error)}`);
  }) as Outputs<T>;
}

const BLOCK_PARAM_HELP = 'expected a block number (hex quantity), a tag (latest, earliest, pending, safe, finalized) or {blockHash} / {blockNumber}';

const TAGS = new Set(['latest', 'earliest', 'pending', 'safe', 'finalized']);
const isBlockTag = (s: string) => TAGS.has(s) || /^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/.test(s);

/** Only tags and numbers (block lookups by number). */
export const BlockNumberParam = z
  .string({ error: 'expected a block number (hex quantity) or a tag (latest, earliest, pending, safe, finalized)' })
  .refine(isBlockTag, 'expected a block number (hex quantity without leading zeros) or a tag (latest, earliest, pending, safe, finalized)')
  .transform((s) => s as BlockTag);

/** A block tag or number, or an EIP-1898 object. */
export const BlockParam = z.union(
  [
    BlockNumberParam,
    z.strictObject({ blockNumber: HexQuantity }),
    z.strictObject({ blockHash: Hash32, requireCanonical: z.boolean().optional() }),
  ],
  { error: BLOCK_PARAM_HELP },
);
export type BlockParam = z.infer<typeof BlockParam>;

export const Bool = z.boolean({ error: 'expected a boolean' });

/** Storage slot: any hex quantity or data up to 32 bytes; normalised to a 32-byte word. */
export const StorageSlot = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,64}$/, 'expected a hex storage slot of at most 32 bytes')
  .transform((s) => '0x' + s.slice(2).toLowerCase().padStart(64, '0'));

/** blockCount of eth_feeHistory: hex or decimal string, or a JSON number. */
export const BlockCount = z
  .union([z.number().int().nonnegative(), HexQuantity, z.string().regex(/^[0-9]+$/)], { error: 'expected a block count (hex, decimal or number)' })
  .transform((v) => Number(typeof v === 'number' ? v : BigInt(v)));

export const RewardPercentiles = z
  .array(z.number().min(0).max(100))
  .max(100)
  .refine((a) => a.every((v, i) => i === 0 || v >= a[i - 1]), 'reward percentiles must be in ascending order');

export const DataParam = HexBytes;
export const AddressParam = Address;
export const HashParam = Hash32;
export const QuantityParam = HexQuantity;

export const CallParam = CallRequest;
export const FilterParam = LogFilter.refine((f) => !(f.blockHash && (f.fromBlock !== undefined || f.toBlock !== undefined)), {
  message: 'cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other',
});

/** eth_sendTransaction arguments: a call request from a node-managed account, plus Quorum's private fields. */
export const SendTxParam = CallRequest.extend({
  from: Address,
  privateFor: z.array(z.string()).optional(),
  privateFrom: z.string().optional(),
  privacyFlag: z.number().optional(),
});
export type SendTxParam = z.infer<typeof SendTxParam>;
