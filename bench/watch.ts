/**
 * Watches one gateway's chain by polling eth_blockNumber every ~10 ms and fetching new blocks; records
 * when each transaction first became visible through that gateway.
 */
import { batch, call, sleep } from './rpc.js';

export interface SeenBlock {
  number: number;
  hash: string;
  seenAt: number;
  txs: number;
  gasUsed: bigint;
}

export class BlockWatcher {
  readonly blocks = new Map<number, SeenBlock>();
  /** tx hash → performance.now() when its block was first seen here. */
  readonly visible = new Map<string, number>();
  errors = 0;
  lastError = '';
  private head: number;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    readonly url: string,
    readonly gateway: number,
    startHeight: number,
    private readonly onTx: (hash: string, gateway: number, at: number) => void,
    /** Poll period; the saturating runs poll less often so the observer takes less of the machine it measures. */
    public intervalMs = 10,
  ) {
    this.head = startHeight;
  }

  get height(): number {
    return this.head;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const n = Number(BigInt(await call<string>(this.url, 'eth_blockNumber', [], 5_000)));
        const at = performance.now();
        if (n > this.head) {
          for (let from = this.head + 1; from <= n; from += 50) {
            const to = Math.min(n, from + 49);
            const nums = Array.from({ length: to - from + 1 }, (_, i) => from + i);
            const res = await batch(this.url, nums.map((b) => ({ method: 'eth_getBlockByNumber', params: ['0x' + b.toString(16), false] })), 15_000);
            res.forEach((r, i) => {
              if (!r.ok || !r.result) throw new Error(`block ${nums[i]}: ${r.ok ? 'null' : r.error.message}`);
              const b = r.result;
              const txs: string[] = b.transactions;
              if (!this.blocks.has(nums[i])) {
                this.blocks.set(nums[i], { number: nums[i], hash: b.hash, seenAt: at, txs: txs.length, gasUsed: BigInt(b.gasUsed ?? '0x0') });
              }
              for (const h of txs) {
                if (!this.visible.has(h)) {
                  this.visible.set(h, at);
                  this.onTx(h, this.gateway, at);
                }
              }
            });
            this.head = to;
          }
        }
      } catch (err) {
        this.errors++;
        this.lastError = (err as Error).message;
      }
      await sleep(this.intervalMs);
    }
  }
}
