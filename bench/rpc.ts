/** A small JSON-RPC over HTTP client for the benchmark: single calls and batches, with timeouts. */

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export class RpcCallError extends Error {
  constructor(
    readonly url: string,
    readonly method: string,
    readonly error: RpcErrorObject,
  ) {
    super(`${method} at ${url}: JSON-RPC error ${error.code}: ${error.message}`);
    this.name = 'RpcCallError';
  }
}

export interface BatchItem {
  method: string;
  params: unknown[];
}

export type BatchResult = { ok: true; result: any } | { ok: false; error: RpcErrorObject };

let nextId = 1;

async function post(url: string, body: string, timeoutMs: number): Promise<any> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, reply is not JSON: ${text.slice(0, 200)}`);
  }
}

export async function call<T = any>(url: string, method: string, params: unknown[] = [], timeoutMs = 30_000): Promise<T> {
  const body = await post(url, JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }), timeoutMs);
  if (body?.error) throw new RpcCallError(url, method, body.error);
  if (!body || !('result' in body)) throw new Error(`${method} at ${url}: reply without result: ${JSON.stringify(body).slice(0, 200)}`);
  return body.result as T;
}

/** One HTTP request carrying `items` as a JSON-RPC batch; results in the order of `items`. */
export async function batch(url: string, items: BatchItem[], timeoutMs = 30_000): Promise<BatchResult[]> {
  if (items.length === 0) return [];
  const first = nextId;
  nextId += items.length;
  const body = await post(url, JSON.stringify(items.map((it, i) => ({ jsonrpc: '2.0', id: first + i, method: it.method, params: it.params }))), timeoutMs);
  if (!Array.isArray(body)) {
    const err: RpcErrorObject = body?.error ?? { code: -1, message: `batch reply is not an array: ${JSON.stringify(body).slice(0, 200)}` };
    return items.map(() => ({ ok: false, error: err }));
  }
  const byId = new Map<number, any>();
  for (const r of body) if (r && typeof r.id === 'number') byId.set(r.id, r);
  return items.map((_, i) => {
    const r = byId.get(first + i);
    if (!r) return { ok: false, error: { code: -1, message: 'no response for this batch member' } };
    if (r.error) return { ok: false, error: r.error as RpcErrorObject };
    return { ok: true, result: r.result };
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
