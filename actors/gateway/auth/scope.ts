/**
 * A token's `scope` claim → which JSON-RPC methods it may call. Pure.
 *
 * The claim is a space-separated string (RFC 8693 / OAuth style) or an array of strings. Each entry is
 *   - `*`                      every method;
 *   - a pattern with `*`       a glob over method names: `eth_*`, `net_*`, `web3_*`, `raft_*`, `istanbul_*`, `eth_get*`;
 *   - an exact method name     `eth_chainId`;
 *   - an alias                 `private` (GoQuorum's private-transaction methods), `admin` (`admin_*` and the
 *                              methods that change who takes part in consensus).
 * GoQuorum's security plugin spells entries `rpc://eth_*`; that prefix is accepted and dropped.
 * Patterns are taken literally: `eth_*` includes the private eth_ methods, as in GoQuorum; grant a narrower list
 * (exact names, `eth_get*`, ...) to keep a client away from them.
 */
import { z } from 'zod';

/** GoQuorum's private-transaction methods (actors/gateway/rpc/private-methods.ts; a unit test keeps them in step). */
export const PRIVATE_METHODS = ['eth_sendRawPrivateTransaction', 'eth_getQuorumPayload', 'eth_storageRoot', 'eth_getContractPrivacyMetadata'] as const;

/** Methods that change the consensus membership (actors/gateway/rpc/consensus-methods.ts), plus any admin_*. */
export const ADMIN_METHODS = ['admin_*', 'raft_addPeer', 'raft_addLearner', 'raft_promoteToPeer', 'raft_removePeer', 'istanbul_propose', 'istanbul_discard'] as const;

const SCOPE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  private: PRIVATE_METHODS,
  admin: ADMIN_METHODS,
};

const Entry = z.string().trim().min(1).max(128);
/** The `scope` claim: "eth_* net_*" or ["eth_*", "net_*"]; at least one entry, at most 256. */
export const ScopeClaim = z.union([z.string().max(8192), z.array(Entry).max(256)]).transform((v, ctx) => {
  const entries = (typeof v === 'string' ? v.split(/\s+/) : v).map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'empty scope' });
  if (entries.length > 256) ctx.addIssue({ code: 'custom', message: 'too many scope entries' });
  return entries;
});

export type MethodPredicate = (method: string) => boolean;

export interface Scope {
  /** The entries, aliases expanded, `rpc://` dropped, sorted and unique: equal scopes have equal keys. */
  readonly key: string;
  readonly allows: MethodPredicate;
}

const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** Expands aliases and drops the `rpc://` prefix; sorted and unique. */
function normaliseScope(entries: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of entries) {
    const entry = raw.startsWith('rpc://') ? raw.slice('rpc://'.length) : raw;
    const alias = Object.hasOwn(SCOPE_ALIASES, entry) ? SCOPE_ALIASES[entry] : undefined;
    for (const e of alias ?? [entry]) if (e) out.add(e);
  }
  return [...out].sort();
}

export function compileScope(entries: readonly string[]): Scope {
  const normal = normaliseScope(entries);
  const key = normal.join(' ');
  if (normal.includes('*')) return { key, allows: () => true };
  const exact = new Set(normal.filter((e) => !e.includes('*')));
  const globs = normal.filter((e) => e.includes('*')).map((e) => new RegExp(`^${e.split('*').map(escape).join('.*')}$`));
  return { key, allows: (method) => exact.has(method) || globs.some((g) => g.test(method)) };
}
