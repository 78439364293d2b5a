/**
 * Audit export and offline replay on a real 4-participant Raft network: 200+ blocks of public transfers and
 * SimpleStorage sets with private transactions among them (p1↔p2, and p3↔p4 which p1 is not a party to); p1's
 * record exported to one file and replayed by the replay command as a child process with no network — every
 * recorded state root, public and private, reproduced. Then each of these, on a copy of the file, makes replay
 * fail naming the place: one byte of one event's payload (a raw transaction in the Raft log), an event's hash,
 * a deleted event, two swapped events, a receipt row's value; a truncated file is unreadable (exit 2).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AbiCoder, Interface, Wallet, type InterfaceAbi } from 'ethers';
import { DIST_DIR } from '../../cli/launcher/network-runner.js';
import { compileSimpleStorage } from '../support/contracts.js';
import { signLegacy, useNetwork, waitFor } from '../support/network.js';

// Raft by default (QUORUM_TEST_CONSENSUS=qbft runs it on QBFT, where blocks come every period).
const qbft = process.env.QUORUM_TEST_CONSENSUS === 'qbft';
const h = useNetwork('audit', { testKeys: 8, consensus: { blockPeriodMs: qbft ? 100 : 20 } });
const compiled = compileSimpleStorage();
const iface = new Interface(compiled.abi as InterfaceAbi);
const deployData = (n: number) => compiled.bytecode + AbiCoder.defaultAbiCoder().encode(['uint256'], [n]).slice(2);
const TARGET_BLOCKS = 205;
const T = 240_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(script: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--enable-source-maps', path.join(DIST_DIR, 'cli', script), ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr.slice(-3000)}`;

let work: string | undefined;
let p1File = '';
let lines: string[] = [];
let blocksInExport = 0;

/** Wait for a receipt on p1. */
const receipt = (hash: string): Promise<any> => waitFor<any>(() => h.t.rpc(0, 'eth_getTransactionReceipt', [hash]), 60_000, `receipt of ${hash}`, 20);

test('200+ blocks of public and private transactions; p1 exported and replayed offline: every state root reproduced', { timeout: T }, async () => {
  const t = h.t;
  work = await mkdtemp(path.join(tmpdir(), 'qa-audit-'));
  const wallets = t.testKeys.map((k) => new Wallet(k));
  const nonces = wallets.map(() => 0);
  const send = async (k: number, f: { to?: string | null; value?: bigint; data?: string; gasLimit: number }) => {
    const raw = await signLegacy(wallets[k], t.chainId, { nonce: nonces[k]++, ...f });
    return t.rpc<string>(k % t.size, 'eth_sendRawTransaction', [raw]);
  };
  const keyOf = (i: number) => t.net.network.participants[i].privacyPublicKey;
  const accountOf = (i: number) => t.net.network.participants[i].accounts[0];
  const sendPrivate = (i: number, tx: { to?: string; data: string }, privateFor: number[]) =>
    t.rpc<string>(i, 'eth_sendTransaction', [{ from: accountOf(i), ...tx, privateFor: privateFor.map(keyOf) }]);

  // Contracts: a public SimpleStorage, a private one of p1 and p2, a private one of p3 and p4 (p1 not a party).
  const [pub, priv12, priv34] = await Promise.all([
    send(0, { data: deployData(1), gasLimit: 500_000 }),
    sendPrivate(0, { data: deployData(12) }, [1]),
    sendPrivate(2, { data: deployData(34) }, [3]),
  ]);
  const [rPub, r12, r34] = await Promise.all([receipt(pub), receipt(priv12), receipt(priv34)]);
  const ss = rPub.contractAddress as string;
  const ss12 = r12.contractAddress as string;
  const ss34 = r34.contractAddress as string;
  assert.ok(ss && ss12 && ss34);

  // Bursts: one transaction per test key (transfers and sets, over every gateway), a private set now and then.
  let round = 0;
  let privateSent = 0;
  while ((await t.blockNumber(0)) < TARGET_BLOCKS) {
    round += 1;
    const hashes = await Promise.all(
      wallets.map((_, k) =>
        k % 2 === 0
          ? send(k, { to: ss, data: iface.encodeFunctionData('set', [round * 10 + k]), gasLimit: 100_000 })
          : send(k, { to: '0x' + (round * 16 + k).toString(16).padStart(40, '0'), value: BigInt(round * 1000 + k), gasLimit: 21_000 }),
      ),
    );
    if (round % 15 === 0) {
      hashes.push(
        await sendPrivate(round % 30 === 0 ? 1 : 0, { to: ss12, data: iface.encodeFunctionData('set', [round]) }, [round % 30 === 0 ? 0 : 1]),
        await sendPrivate(3, { to: ss34, data: iface.encodeFunctionData('set', [round]) }, [2]),
      );
      privateSent += 2;
    }
    await Promise.all(hashes.map(receipt));
  }
  assert.ok(privateSent >= 8, `private transactions sent: ${privateSent}`);
  const p1Head = await t.blockNumber(0);

  p1File = path.join(work, 'p1.ndjson');
  const exported = await runCli('audit.js', ['export', '--participant', 'p1', '--dir', t.net.dir, '--out', p1File]);
  assert.equal(exported.code, 0, show(exported));
  lines = (await readFile(p1File, 'utf8')).split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0]);
  assert.equal(header.participant, 'p1');
  assert.equal(header.containsPrivateData, true);
  assert.ok(header.counts.payloads > 0, 'p1 exported the private payloads it is a party to');
  const text = lines.join('\n');
  assert.ok(!text.includes('"enclavePassword"') && !text.includes('"nkeySeeds"') && !text.includes('"sealed"') && !text.includes('"nodeKey"'), 'no secret in the export');
  for (const k of t.net.secrets.p1.accountKeys) assert.ok(!text.includes(k.slice(2)), 'no account key in the export');
  blocksInExport = header.counts.blocks;
  assert.ok(blocksInExport >= p1Head + 1 && blocksInExport > 200, `blocks in the export: ${blocksInExport}, head ${p1Head}`);

  const r = await runCli('replay.js', [p1File, '--progress', '50']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`public ${blocksInExport}/${blocksInExport} reproduced, private ${blocksInExport}/${blocksInExport} reproduced`), show(r));
  assert.match(r.stdout, /^OK: hash chains intact; every recorded state root/m);
  const privReceipts = Number(/and (\d+) private receipts/.exec(r.stdout)?.[1]);
  assert.ok(privReceipts >= privateSent / 2, `private receipts compared: ${privReceipts}\n${r.stdout}`);
  assert.match(r.stderr, /replay: block 200\//, 'progress on stderr');
  assert.match(r.stdout, /blocks\/s, \d+(\.\d+)? tx\/s/);
  process.stderr.write(`audit-replay: export ${exported.ms} ms; replay of p1 (${blocksInExport} blocks) ${r.ms} ms\n${r.stdout}\n`);
});

test('p2 exported gzip and replayed; the live database replays as well', { timeout: T }, async () => {
  assert.ok(work && p1File, 'the first test exported p1');
  const t = h.t;
  const file = path.join(work, 'p2.ndjson.gz');
  const exported = await runCli('audit.js', ['export', '--participant', 'p2', '--dir', t.net.dir, '--out', file]);
  assert.equal(exported.code, 0, show(exported));
  const gz = await readFile(file);
  assert.equal(gz[0], 0x1f, 'gzip');
  const r = await runCli('replay.js', [file, '--progress', '0']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /private (\d+)\/\1 reproduced/);
  const live = await runCli('replay.js', ['--participant', 'p3', '--database', t.net.databases.p3, '--network', path.join(t.net.dir, 'network.json'), '--secrets', t.net.secretsFiles.p3]);
  assert.equal(live.code, 0, show(live));
  assert.match(live.stdout, /public (\d+)\/\1 reproduced, private (\d+)\/\2 reproduced/);
});

/** Replays a tampered copy of p1's file (lines edited by `edit`), expecting failure. */
async function tampered(name: string, edit: (lines: string[]) => string[]): Promise<Run> {
  assert.ok(work && lines.length, 'the first test exported p1');
  const file = path.join(work, `${name}.ndjson`);
  await writeFile(file, edit([...lines]).join('\n') + '\n');
  return runCli('replay.js', [file, '--progress', '0']);
}

const events = () => lines.map((l, i) => ({ i, e: JSON.parse(l) })).filter((x) => x.e.kind === 'event');

test('tampering: one byte of an event payload, an event hash, a deleted event, swapped events — each named by position', { timeout: T }, async () => {
  const all = events();
  // 1. one byte of a raw transaction inside a consensus event (a Raft log entry, or a QBFT decision)
  const entry = all.find((x) => (x.e.type === 'EntriesAppended' || x.e.type === 'BlockFinalized') && /"raw":"0x[0-9a-f]{100,}"/.test(lines[x.i]))!;
  assert.ok(entry, 'a consensus event carrying a transaction');
  const r1 = await tampered('payload-byte', (ls) => {
    const raw = /"raw":"(0x[0-9a-f]+)"/.exec(ls[entry.i])![1];
    const pos = raw.length - 10;
    ls[entry.i] = ls[entry.i].replace(raw, raw.slice(0, pos) + (raw[pos] === '0' ? '1' : '0') + raw.slice(pos + 1));
    return ls;
  });
  assert.equal(r1.code, 1, show(r1));
  assert.match(r1.stdout, /FIRST DIVERGENCE \(chain\): content does not match its hash/, show(r1));
  assert.match(r1.stdout, new RegExp(`event global position ${entry.e.globalPosition}\\b`), show(r1));

  // 2. an event's hash (a BlockExecuted in the middle)
  const blocks = all.filter((x) => x.e.type === 'BlockExecuted');
  const mid = blocks[Math.floor(blocks.length / 2)];
  const r2 = await tampered('hash', (ls) => {
    const e = { ...mid.e, hash: mid.e.hash.slice(0, -1) + (mid.e.hash.endsWith('0') ? '1' : '0') };
    ls[mid.i] = JSON.stringify(e);
    return ls;
  });
  assert.equal(r2.code, 1, show(r2));
  assert.match(r2.stdout, new RegExp(`event global position ${mid.e.globalPosition}\\b`), show(r2));

  // 3. a deleted event: the next one of its chain is named, with the chain position that is missing
  const gone = blocks[Math.floor(blocks.length / 3)];
  const r3 = await tampered('deleted', (ls) => ls.filter((_, i) => i !== gone.i));
  assert.equal(r3.code, 1, show(r3));
  assert.match(r3.stdout, new RegExp(`expected chain position ${gone.e.chainPosition}, found ${gone.e.chainPosition + 1}`), show(r3));
  const next = blocks[blocks.indexOf(gone) + 1];
  assert.match(r3.stdout, new RegExp(`event global position ${next.e.globalPosition}\\b`), show(r3));

  // 4. two events of one chain swapped
  const a = blocks[10];
  const b = blocks[20];
  const r4 = await tampered('swapped', (ls) => {
    [ls[a.i], ls[b.i]] = [ls[b.i], ls[a.i]];
    return ls;
  });
  assert.equal(r4.code, 1, show(r4));
  assert.match(r4.stdout, new RegExp(`event global position ${b.e.globalPosition}\\b`), show(r4));
  assert.match(r4.stdout, new RegExp(`expected chain position ${a.e.chainPosition}, found ${b.e.chainPosition}`), show(r4));
  const divergence = (r: Run) => r.stdout.slice(r.stdout.indexOf('FIRST DIVERGENCE'));
  process.stderr.write(`audit-replay tampering reports:\n${[r1, r2, r3, r4].map(divergence).join('\n')}\n`);
});

test('tampering with a receipt row is a divergence at its block; a truncated file is unreadable', { timeout: T }, async () => {
  const txIdx = lines.findIndex((l) => l.includes('"kind":"tx"') && l.includes('"status":"0x1"') && l.includes('"logs":[{'));
  assert.ok(txIdx > 0);
  const tx = JSON.parse(lines[txIdx]);
  const r = await tampered('receipt', (ls) => {
    const rec = { ...tx, receipt: { ...tx.receipt, logs: tx.receipt.logs.map((l: any, i: number) => (i === 0 ? { ...l, data: l.data.slice(0, -1) + (l.data.endsWith('0') ? '1' : '0') } : l)) } };
    ls[txIdx] = JSON.stringify(rec);
    return ls;
  });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, new RegExp(`FIRST DIVERGENCE \\(execution\\): block ${tx.blockNumber}: the receipt of transaction ${tx.index}`), show(r));
  assert.match(r.stdout, /field: +receipts\[\d+\]\.logs\[0\]\.data/, show(r));

  process.stderr.write(`audit-replay receipt tampering report:\n${r.stdout.slice(r.stdout.indexOf('FIRST DIVERGENCE'))}\n`);
  const cut = await tampered('truncated', (ls) => ls.slice(0, -1));
  assert.equal(cut.code, 2, show(cut));
  assert.match(cut.stderr, /truncated/);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});
