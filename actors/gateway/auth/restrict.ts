/**
 * A method table cut down to a token's scope: a method outside it answers `method not allowed by token scope`
 * (per call, so the allowed calls of a batch still run) without running. Unknown methods stay unknown. Pure.
 */
import type { Method } from '../rpc/methods.js';
import { scopeDenied } from './errors.js';
import type { MethodPredicate } from './scope.js';

export function restrictMethods(methods: Readonly<Record<string, Method>>, allows: MethodPredicate): Record<string, Method> {
  const out: Record<string, Method> = {};
  for (const [name, fn] of Object.entries(methods)) {
    out[name] = allows(name)
      ? fn
      : async () => {
          throw scopeDenied(name);
        };
  }
  return out;
}
