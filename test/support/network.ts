/**
 * Shared helpers for the e2e tests: start one local network per test file (via the launcher),
 * ethers providers and wallets per gateway, raw JSON-RPC, and bounded waits.
 *
 * Every wait has a deadline and says what it was waiting for; every network a test starts is
 * destroyed in an `after()` hook.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { HDNodeWallet, JsonRpcProvider, Network, Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { startNetwork, type RunningNetwork, type StartOptions } from '../../cli/launcher/network-runner.js';

import { databaseName, dropDatabase } from '../../cli/postgres-admin.js';
export { startNetwork };
export type { RunningNetwork, StartOptions };
export type { ActorName } from '../../lib/network/description.js';

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

function describe(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    return s === undefined ? String(v) : s.length > 300 ? s.slice(0, 300) + '…' : s;
  } catch {
    return String(v);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns something other than undefined/null/false, and returns that. Errors thrown
 * by `fn` count as "not yet". After `deadlineMs` it throws, naming `what` and the last answer or error.
 */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  deadlineMs: number,
  what: string,
  intervalMs = 100,
): Promise<T> {
  const start = Date.now();
  let last: unknown = '(never answered)';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start >= deadlineMs) {
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}; last: ${describe(last)}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects with a clear message if `p` does not settle within `ms`. */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Raw JSON-RPC
// ---------------------------------------------------------------------------------------------

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown,
    readonly method: string,
    readonly url: string,
  ) {
    super(`${method} at ${url} → JSON-RPC error ${code}: ${message}${data === undefined ? '' : ` (data ${describe(data)})`}`);
    this.name = 'RpcError';
  }
}

export interface RawResponse {
  status: number;
  text: string;
  /** Parsed body, or undefined when it is not JSON. */
  json: any;
}

/** POSTs `body` as is (a string is sent verbatim; anything else is JSON-encoded). */
export async function postRaw(url: string, body: unknown, timeoutMs = 30_000): Promise<RawResponse> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: payload,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

let nextRpcId = 1;

/** One JSON-RPC call; returns `result` or throws RpcError (JSON-RPC error) / Error (transport, bad reply). */
export async function rpc<T = any>(url: string, method: string, params: unknown[] = [], timeoutMs = 30_000): Promise<T> {
  const id = nextRpcId++;
  const res = await postRaw(url, { jsonrpc: '2.0', id, method, params }, timeoutMs);
  const body = res.json;
  if (body === undefined || typeof body !== 'object' || body === null) {
    throw new Error(`${method} at ${url}: HTTP ${res.status}, reply is not a JSON object: ${res.text.slice(0, 300)}`);
  }
  if (body.error) throw new RpcError(body.error.code, String(body.error.message), body.error.data, method, url);
  if (!('result' in body)) throw new Error(`${method} at ${url}: HTTP ${res.status}, reply has neither result nor error: ${res.text.slice(0, 300)}`);
  return body.result as T;
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** Deterministic private keys for tests (`label` keeps sets apart). Fund their addresses with `fund`. */
export function deriveKeys(label: string, n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(keccak256(toUtf8Bytes(`quorum-actors:test-key:${label}:${i}`)));
  return keys;
}

export function addressOf(key: string): string {
  return new Wallet(key).address;
}

// ---------------------------------------------------------------------------------------------
// A network under test
// ---------------------------------------------------------------------------------------------

export interface TestNetworkOptions extends StartOptions {
  /** How many deterministic test keys to derive and fund in genesis (default 8). */
  testKeys?: number;
  /**
   * Admin URL of the Postgres server to hold the participants' databases (default: the shared one). The launcher
   * reads it from QUORUM_PG_URL (cli/postgres-admin.ts), so it is set for this test process: one server per file.
   */
  postgresUrl?: string;
}

export function makeProvider(url: string, chainId: number): JsonRpcProvider {
  const network = Network.from(chainId);
  return new JsonRpcProvider(url, network, {
    staticNetwork: network,
    pollingInterval: 100,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
}

/** A running network plus the client-side objects the tests use. */
export class TestNetwork {
  providers: JsonRpcProvider[] = [];
  private constructor(
    public net: RunningNetwork,
    readonly label: string,
    readonly startOptions: StartOptions,
    /** Private keys funded in genesis through `fund`, owned by the test (not node-managed). */
    readonly testKeys: string[],
  ) {
    this.attach(net);
  }

  static async start(label: string, opts: TestNetworkOptions = {}): Promise<TestNetwork> {
    const { testKeys: nKeys = 8, postgresUrl, ...rest } = opts;
    if (postgresUrl) process.env.QUORUM_PG_URL = postgresUrl;
    const keys = deriveKeys(label, nKeys);
    const dir = rest.dir ?? (await mkdtemp(path.join(tmpdir(), `qa-e2e-${label}-`)));
    const dbPrefix = rest.dbPrefix ?? `e2e_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${process.pid}`;
    // QUORUM_TEST_CONSENSUS=qbft runs a test file unchanged on a QBFT network (see test/e2e/*-qbft.test.ts).
    const consensusType = rest.consensusType ?? (process.env.QUORUM_TEST_CONSENSUS === 'qbft' ? 'qbft' : undefined);
    const qbftPeriod = process.env.QUORUM_TEST_QBFT_PERIOD_MS;
    const startOptions: StartOptions = {
      participants: 4,
      readyTimeoutMs: 120_000,
      ...(consensusType ? { consensusType } : {}),
      ...(consensusType === 'qbft' && qbftPeriod && !rest.consensus ? { consensus: { blockPeriodMs: Number(qbftPeriod) } } : {}),
      ...rest,
      dir,
      dbPrefix,
      fund: [...(rest.fund ?? []), ...keys.map(addressOf)],
    };
    let net: RunningNetwork;
    try {
      net = await startNetwork(startOptions);
    } catch (err) {
      // The launcher keeps the databases of a network that failed to start in a caller-chosen dir (ours): drop them.
      if (!rest.dir) {
        const n = startOptions.participants ?? 4;
        for (let i = 1; i <= n; i++) await dropDatabase(databaseName(dbPrefix, `p${i}`)).catch(() => {});
        await rm(dir, { recursive: true, force: true }).catch(() => {});
      }
      throw err;
    }
    return new TestNetwork(net, label, startOptions, keys);
  }

  private attach(net: RunningNetwork): void {
    for (const p of this.providers) p.destroy();
    this.net = net;
    this.providers = net.rpcUrls.map((u) => makeProvider(u, this.chainId));
  }

  get chainId(): number {
    return this.net.network.chainId;
  }
  get urls(): string[] {
    return this.net.rpcUrls;
  }
  get size(): number {
    return this.net.rpcUrls.length;
  }
  /** Participant id of gateway index i (p1 is index 0). */
  participantId(i: number): string {
    return this.net.network.participants[i].id;
  }
  indexOf(participant: string): number {
    const i = this.net.network.participants.findIndex((p) => p.id === participant);
    if (i < 0) throw new Error(`no participant ${participant} in ${this.net.network.participants.map((p) => p.id).join(',')}`);
    return i;
  }

  /** Private keys of participant i's node-managed accounts (funded in genesis). */
  nodeKeys(i: number): string[] {
    const s = this.net.secrets[this.participantId(i)];
    if (!s) throw new Error(`no secrets for participant ${this.participantId(i)}`);
    return s.accountKeys;
  }
  nodeWallet(i: number, k = 0, via = i): Wallet {
    const key = this.nodeKeys(i)[k];
    if (!key) throw new Error(`participant ${this.participantId(i)} has no node-managed account #${k}`);
    return new Wallet(key, this.providers[via]);
  }
  /** Test-owned key k, connected to gateway `via`. */
  testWallet(k: number, via: number): Wallet {
    const key = this.testKeys[k];
    if (!key) throw new Error(`only ${this.testKeys.length} test keys were funded`);
    return new Wallet(key, this.providers[via]);
  }

  rpc<T = any>(i: number, method: string, params: unknown[] = [], timeoutMs?: number): Promise<T> {
    return rpc<T>(this.urls[i], method, params, timeoutMs);
  }

  async blockNumber(i: number): Promise<number> {
    return Number(BigInt(await this.rpc<string>(i, 'eth_blockNumber')));
  }

  /** Waits until gateway i's head is at least n. */
  async waitForHeight(i: number, n: number, deadlineMs = 60_000): Promise<void> {
    await waitFor(async () => (await this.blockNumber(i)) >= n, deadlineMs, `${this.participantId(i)} to reach block ${n}`);
  }

  /** Waits for the receipt of `hash` on every gateway; returns the raw JSON receipts (index = gateway). */
  async receiptsEverywhere(hash: string, deadlineMs = 60_000): Promise<any[]> {
    return Promise.all(
      this.urls.map((_, i) =>
        waitFor(() => this.rpc(i, 'eth_getTransactionReceipt', [hash]), deadlineMs, `receipt of ${hash} on ${this.participantId(i)}`),
      ),
    );
  }

  /** Stops the network (keeping its dir and databases) and starts it again from `dir`. */
  async restart(extra: StartOptions = {}): Promise<void> {
    await this.net.stop();
    for (const p of this.providers) p.destroy();
    this.providers = [];
    const net = await startNetwork({ ...this.startOptions, ...extra, dir: this.net.dir });
    this.attach(net);
  }

  async destroy(): Promise<void> {
    for (const p of this.providers) p.destroy();
    this.providers = [];
    const dir = this.net.dir;
    if (process.env.E2E_KEEP_LOGS) {
      // keep the actors' logs for a post-mortem: E2E_KEEP_LOGS=1 (or a directory) copies <dir>/logs there
      await this.net.stop();
      const dest = path.join(process.env.E2E_KEEP_LOGS === '1' ? tmpdir() : process.env.E2E_KEEP_LOGS, `e2e-logs-${this.label}-${process.pid}`);
      await cp(path.join(dir, 'logs'), dest, { recursive: true }).then(
        () => process.stderr.write(`e2e: actor logs of the ${this.label} network kept in ${dest}\n`),
        (err) => process.stderr.write(`e2e: could not keep logs: ${(err as Error).message}\n`),
      );
    }
    await this.net.destroy();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Starts one network for the whole test file (in `before`) and destroys it in `after`.
 * Use `h.t` inside tests.
 */
export function useNetwork(label: string, opts: TestNetworkOptions = {}): { readonly t: TestNetwork } {
  let current: TestNetwork | undefined;
  let startError: unknown;
  before(
    async () => {
      try {
        current = await TestNetwork.start(label, opts);
      } catch (err) {
        startError = err;
        throw err;
      }
    },
    { timeout: (opts.readyTimeoutMs ?? 120_000) + 60_000 },
  );
  after(
    async () => {
      if (current) await current.destroy();
      current = undefined;
    },
    { timeout: 120_000 },
  );
  return {
    get t(): TestNetwork {
      if (!current) throw new Error(`the ${label} network is not running${startError ? `: ${describe(startError)}` : ''}`);
      return current;
    },
  };
}

/** Hex quantity → bigint, with a clear message for anything else. */
export function q(v: unknown, what = 'quantity'): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) throw new Error(`${what}: expected a hex quantity, got ${describe(v)}`);
  return BigInt(v);
}

export { describe as describeValue };

export interface TxFields {
  nonce: number;
  to?: string | null;
  value?: bigint;
  data?: string;
  gasLimit: bigint | number;
  gasPrice?: bigint;
}

/** Signs a legacy (EIP-155) transaction with gas price 0 unless told otherwise; returns the raw hex. */
export function signLegacy(wallet: Wallet | HDNodeWallet, chainId: number, f: TxFields): Promise<string> {
  return wallet.signTransaction({
    type: 0,
    chainId,
    nonce: f.nonce,
    gasPrice: f.gasPrice ?? 0n,
    gasLimit: f.gasLimit,
    to: f.to ?? null,
    value: f.value ?? 0n,
    data: f.data ?? '0x',
  });
}

/**
 * POST with node:http rather than fetch, so that a server that answers early (e.g. 413 for an oversized
 * body) and closes the connection while we are still uploading is still seen as an answer.
 */
export async function postHttp(url: string, body: string | Buffer, timeoutMs = 30_000): Promise<RawResponse> {
  const { request } = await import('node:http');
  return new Promise<RawResponse>((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', finish); // the status line arrived; a cut body still leaves us an answer
      res.on('end', finish);
      res.on('close', finish);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}
