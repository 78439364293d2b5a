/**
 * QBFT membership on a running 4-validator network, as a consortium does it: the operator permits a fifth
 * participant (the permission list), it syncs the chain from its peers as a non-validator, a majority of the
 * validators vote it in with istanbul_propose, and it then seals blocks; a validator voted out stops counting
 * toward the quorum (with it and one more validator stopped, the remaining three of four still make blocks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { rpc, signLegacy, waitFor, type TestNetwork } from '../support/network.js';

/** Registers the scenario on a running QBFT network `h`; `key` is a test key no other test of that network uses. */
export function membershipQbftTests(h: { readonly t: TestNetwork }, key: number): void {
  const T = 300_000;

  let sentNonce = 0;
  async function sendTransfer(url: string): Promise<string> {
    const t = h.t;
    const raw = await signLegacy(new Wallet(t.testKeys[key]), t.chainId, { nonce: sentNonce++, to: '0x' + '42'.repeat(20), value: 1n, gasLimit: 21_000 });
    return rpc<string>(url, 'eth_sendRawTransaction', [raw]);
  }

  async function agreeOn(urls: string[], hash: string): Promise<void> {
    const receipts: any[] = await Promise.all(urls.map((u) => waitFor(() => rpc(u, 'eth_getTransactionReceipt', [hash]), 60_000, `receipt of ${hash} on ${u}`)));
    for (const r of receipts) assert.equal(r.blockHash, receipts[0].blockHash, 'the same block everywhere');
    const blocks = await Promise.all(urls.map((u) => rpc(u, 'eth_getBlockByNumber', [receipts[0].blockNumber, false])));
    for (const b of blocks) assert.equal(b.stateRoot, blocks[0].stateRoot, 'the same state root everywhere');
  }

  const validatorsOn = (url: string) => rpc<string[]>(url, 'istanbul_getValidators');
  const headOf = async (url: string) => Number(BigInt(await rpc<string>(url, 'eth_blockNumber')));

  test('a permitted participant syncs, is voted in and seals; a validator voted out stops counting', { timeout: T }, async () => {
    const t = h.t;
    const urls = t.urls.slice(0, 4);
    await agreeOn(urls, await sendTransfer(urls[0]));

    const p5 = await t.net.permit();
    await t.net.waitParticipantReady(p5.id, 120_000);
    const p5Url = `http://127.0.0.1:${p5.rpcPort}`;
    const p5Address = p5.nodeAddress.toLowerCase();
    assert.equal(await rpc(p5Url, 'istanbul_nodeAddress'), p5Address);
    assert.equal(await rpc(p5Url, 'istanbul_isValidator'), false, 'permitted is not yet a validator');

    // it follows the chain as a non-validator: same head, same state root; its gateway takes transactions
    const target = await headOf(urls[0]);
    await waitFor(async () => ((await headOf(p5Url)) >= target ? true : null), 90_000, `p5 to sync to block ${target}`);
    const [ours, theirs] = await Promise.all([p5Url, urls[0]].map((u) => rpc<any>(u, 'eth_getBlockByNumber', ['0x' + target.toString(16), false])));
    assert.equal(ours.hash, theirs.hash);
    assert.equal(ours.stateRoot, theirs.stateRoot);
    await agreeOn([...urls, p5Url], await sendTransfer(p5Url));

    // three of four validators vote it in (more than half); candidates are visible before it happens
    for (const u of urls.slice(0, 3)) await rpc(u, 'istanbul_propose', [p5Address, true]);
    assert.deepEqual(await rpc(urls[0], 'istanbul_candidates'), { [p5Address]: true });
    await waitFor(async () => ((await validatorsOn(urls[0])).includes(p5Address) ? true : null), 60_000, 'p5 voted in');
    for (const u of [...urls, p5Url]) assert.equal((await validatorsOn(u)).length, 5, `five validators on ${u}`);
    assert.equal(await rpc(p5Url, 'istanbul_isValidator'), true);

    // and then it seals: blocks proposed by p5's node address appear in istanbul_status
    const from = await headOf(urls[0]);
    await waitFor(
      async () => {
        const to = await headOf(urls[0]);
        const status = await rpc<{ sealerActivity: Record<string, number> }>(urls[0], 'istanbul_status', ['0x' + from.toString(16), '0x' + to.toString(16)]);
        return (status.sealerActivity[p5Address] ?? 0) > 0 ? true : null;
      },
      60_000,
      'a block proposed by p5',
    );

    // vote p4 out (three of five), then stop p4 and p3: three of the four remaining validators still decide
    const p4Address = t.net.network.participants.find((p) => p.id === 'p4')!.nodeAddress.toLowerCase();
    for (const u of [urls[0], urls[1], p5Url]) await rpc(u, 'istanbul_propose', [p4Address, false]);
    await waitFor(async () => (!(await validatorsOn(urls[0])).includes(p4Address) ? true : null), 60_000, 'p4 voted out');
    await t.net.stopActor('p4', 'consensus');
    await t.net.stopActor('p3', 'consensus');
    const stoppedAt = await headOf(urls[0]);
    await waitFor(async () => ((await headOf(urls[0])) >= stoppedAt + 3 ? true : null), 60_000, 'blocks with p3 and p4 stopped');
    await agreeOn([urls[0], urls[1], p5Url], await sendTransfer(urls[1]));
    t.net.startActor('p3', 'consensus');
    t.net.startActor('p4', 'consensus');
  });
}
