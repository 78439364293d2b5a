/** watchNetworkFile on real files in a temp dir: debounced, validated, and only on a real change of content. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NetworkDescription } from '../../lib/network/description.js';
import { generateNetwork } from '../../cli/network/generate.js';
import { networkFileOf, watchNetworkFile } from '../../lib/network/watch.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEBOUNCE = 30;
/** Long enough for the watcher's debounce and read to have happened. */
const SETTLE = 250;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('watchNetworkFile', () => {
  let dir: string;
  let file: string;
  const base = generateNetwork({ participants: 3 }).network;
  const without = (id: string): NetworkDescription => ({ ...base, participants: base.participants.filter((p) => p.id !== id) });
  /** Replace the file the way the admin does (temp + rename). */
  const replace = async (content: string) => {
    const tmp = `${file}.tmp`;
    await writeFile(tmp, content);
    await rename(tmp, file);
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-watch-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a replaced file once, with the new description', async () => {
    file = path.join(dir, 'a.json');
    await writeFile(file, JSON.stringify(base));
    const seen: NetworkDescription[] = [];
    const w = watchNetworkFile(file, (d) => void seen.push(d), { debounceMs: DEBOUNCE });
    try {
      await replace(JSON.stringify(without('p3')));
      await until(() => seen.length === 1, 3_000, 'the change');
      assert.deepEqual(seen[0].participants.map((p) => p.id), ['p1', 'p2']);
      // and the next one: a watch on the directory follows the file across renames
      await replace(JSON.stringify(base));
      await until(() => seen.length === 2, 3_000, 'the second change');
      assert.deepEqual(seen[1].participants.map((p) => p.id), ['p1', 'p2', 'p3']);
    } finally {
      w.close();
    }
  });

  it('ignores invalid intermediate states and reports the valid one that follows', async () => {
    file = path.join(dir, 'b.json');
    await writeFile(file, JSON.stringify(base));
    const seen: NetworkDescription[] = [];
    const invalid: Error[] = [];
    const w = watchNetworkFile(file, (d) => void seen.push(d), { debounceMs: DEBOUNCE, onInvalid: (e) => invalid.push(e) });
    try {
      await writeFile(file, '{"name": "devnet", "partici'); // a half-written file
      await sleep(SETTLE);
      await writeFile(file, JSON.stringify({ ...base, participants: [] })); // valid JSON, invalid description
      await sleep(SETTLE);
      const dup = { ...base, participants: [...base.participants, base.participants[0]] }; // duplicate id
      await writeFile(file, JSON.stringify(dup));
      await sleep(SETTLE);
      assert.equal(seen.length, 0);
      assert.ok(invalid.length >= 3, `onInvalid told ${invalid.length} times`);
      await writeFile(file, JSON.stringify(without('p1')));
      await until(() => seen.length === 1, 3_000, 'the valid change');
      assert.deepEqual(seen[0].participants.map((p) => p.id), ['p2', 'p3']);
    } finally {
      w.close();
    }
  });

  it('does not report a rewrite with the same content (even reformatted), and debounces bursts', async () => {
    file = path.join(dir, 'c.json');
    await writeFile(file, JSON.stringify(base));
    const seen: NetworkDescription[] = [];
    const w = watchNetworkFile(file, (d) => void seen.push(d), { debounceMs: DEBOUNCE });
    try {
      await replace(JSON.stringify(base, null, 2) + '\n');
      await writeFile(file, JSON.stringify(base));
      await sleep(SETTLE);
      assert.equal(seen.length, 0);
      // a burst of writes within the debounce: one report, of the last content
      for (const id of ['p1', 'p2', 'p3']) await writeFile(file, JSON.stringify(without(id)));
      await until(() => seen.length >= 1, 3_000, 'the burst');
      await sleep(SETTLE);
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0].participants.map((p) => p.id), ['p1', 'p2']);
    } finally {
      w.close();
    }
  });

  it('reports nothing after close()', async () => {
    file = path.join(dir, 'd.json');
    await writeFile(file, JSON.stringify(base));
    const seen: NetworkDescription[] = [];
    const w = watchNetworkFile(file, (d) => void seen.push(d), { debounceMs: DEBOUNCE });
    await replace(JSON.stringify(without('p2')));
    w.close(); // before the debounce ran out
    await sleep(SETTLE);
    assert.deepEqual(seen, []);
  });

  it('tells an actor where its network file is', () => {
    assert.equal(networkFileOf({ QUORUM_NETWORK: '/x/network.json' }), '/x/network.json');
    assert.throws(() => networkFileOf({}), /QUORUM_NETWORK/);
  });
});
