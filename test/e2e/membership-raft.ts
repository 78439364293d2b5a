/**
 * Raft membership on a running 4-participant network, as an operator does it: permit a fifth participant
 * (the permission list), add it as a learner with raft_addLearner, watch it sync the chain to the same head
 * and state root, promote it with raft_promoteToPeer, then remove a peer with raft_removePeer — and the chain
 * keeps taking transactions all along, every member agreeing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { RpcError, rpc, signLegacy, waitFor, type TestNetwork } from '../support/network.js';

/** Registers the scenario on a running Raft network `h`; `key` is a test key no other test of that network uses. */
export function membershipRaftTests(h: { readonly t: TestNetwork }, key: number): void {
  const T = 240_000;

  interface ClusterMember {
    participant: string;
    role: string;
    isLeader: boolean;
  }

  let sentNonce = 0;
  async function sendTransfer(url: string): Promise<string> {
    const t = h.t;
    const wallet = new Wallet(t.testKeys[key]);
    const raw = await signLegacy(wallet, t.chainId, { nonce: sentNonce++, to: '0x' + '42'.repeat(20), value: 1n, gasLimit: 21_000 });
    return rpc<string>(url, 'eth_sendRawTransaction', [raw]);
  }

  async function leaderUrl(): Promise<string> {
    const t = h.t;
    const leader = await waitFor(() => t.rpc<string>(0, 'raft_leader').catch(() => null), 30_000, 'a raft leader');
    return t.urls[t.indexOf(leader)];
  }

  /** Asks the leader (whoever it is at the time) until it accepts: membership changes go to the leader. */
  async function onLeader(method: string, params: unknown[]): Promise<void> {
    let last: unknown;
    await waitFor(
      async () => rpc(await leaderUrl(), method, params).then(() => true, (e) => ((last = e), null)),
      30_000,
      `${method} ${JSON.stringify(params)} (last error: ${String(last)})`,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; last error: ${String(last)}`);
    });
  }

  async function head(url: string): Promise<{ number: string; hash: string; stateRoot: string }> {
    return rpc(url, 'eth_getBlockByNumber', ['latest', false]);
  }

  /** Every url sees the receipt of `hash` in the same block, and then the same block at that height. */
  async function agreeOn(urls: string[], hash: string): Promise<void> {
    const receipts: any[] = await Promise.all(urls.map((u) => waitFor(() => rpc(u, 'eth_getTransactionReceipt', [hash]), 60_000, `receipt of ${hash} on ${u}`)));
    for (const r of receipts) assert.equal(r.blockHash, receipts[0].blockHash, 'the same block everywhere');
    const blocks = await Promise.all(urls.map((u) => rpc(u, 'eth_getBlockByNumber', [receipts[0].blockNumber, false])));
    for (const b of blocks) assert.equal(b.stateRoot, blocks[0].stateRoot, 'the same state root everywhere');
  }

  test('a permitted participant joins as a learner, syncs, is promoted; a peer is removed', { timeout: T }, async () => {
    const t = h.t;
    // some history for the newcomer to sync
    for (let i = 0; i < 3; i++) await agreeOn(t.urls, await sendTransfer(t.urls[i % t.urls.length]));

    const p5 = await t.net.permit();
    await t.net.waitParticipantReady(p5.id, 120_000);
    const p5Url = `http://127.0.0.1:${p5.rpcPort}`;

    // not a member yet: adding it is the leader's business, and anything not permitted is refused
    await assert.rejects(rpc((await leaderUrl()), 'raft_addLearner', ['nobody']), (e: unknown) => e instanceof RpcError && /permission list/.test(e.message));

    // the membership change is retried across a leader change, as an operator would
    await onLeader('raft_addLearner', [p5.id]);
    await waitFor(
      async () => ((await t.rpc<ClusterMember[]>(0, 'raft_cluster')).find((m) => m.participant === p5.id)?.role === 'learner' ? true : null),
      30_000,
      'p5 listed as a learner',
    );

    // the learner syncs the whole chain: same head, same state root
    const tip = await head(t.urls[0]);
    await waitFor(async () => (BigInt((await head(p5Url)).number) >= BigInt(tip.number) ? true : null), 60_000, `p5 to reach block ${tip.number}`);
    assert.equal((await rpc<any>(p5Url, 'eth_getBlockByNumber', [tip.number, false])).stateRoot, tip.stateRoot);
    await agreeOn([...t.urls, p5Url], await sendTransfer(p5Url));

    // promoted, it votes; then a peer is removed and the four that remain still make blocks
    await onLeader('raft_promoteToPeer', [p5.id]);
    await waitFor(
      async () => ((await t.rpc<ClusterMember[]>(0, 'raft_cluster')).find((m) => m.participant === p5.id)?.role === 'verifier' || (await rpc<string>(p5Url, 'raft_role')) === 'minter' ? true : null),
      30_000,
      'p5 a voter',
    );
    const leader = await waitFor(() => t.rpc<string>(0, 'raft_leader').catch(() => null), 30_000, 'leader');
    const victim = ['p2', 'p3', 'p4'].find((p) => p !== leader)!;
    await onLeader('raft_removePeer', [victim]);
    await waitFor(
      async () => (!(await t.rpc<ClusterMember[]>(0, 'raft_cluster')).some((m) => m.participant === victim) ? true : null),
      30_000,
      `${victim} gone from raft_cluster`,
    );
    const remaining = [...t.urls.filter((_, i) => t.participantId(i) !== victim), p5Url];
    await agreeOn(remaining, await sendTransfer(p5Url));
  });
}
