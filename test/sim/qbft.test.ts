/**
 * Deterministic simulation of the QBFT core: many seeded runs over 4 and 7 validators with drops, delays,
 * duplicates, partitions, crashes/restarts and up to F Byzantine validators (silent, equivocating, forging),
 * checked for safety on every final block and for liveness once the network heals. Plus scripted scenarios:
 * votes that add and remove a validator, a lagging node that catches up by sync, and a deliberately broken
 * verifier that the checker must catch.
 *
 *   QBFT_SIM_RUNS=<n>   number of seeded runs (default 1000, seeds 1..n; even seeds 4 validators, odd 7)
 *   QBFT_SIM_SEED=<n>   run only that seed (replay a failure)
 *   QBFT_SIM_TRACE=1    with QBFT_SIM_SEED: print every event of the run
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  QbftCluster,
  SafetyViolation,
  awaitHeights,
  runScenario,
  scenarioForSeed,
  type QbftScenario,
  type SimReport,
} from './qbft-network.js';
import { envInt, seedsToRun as seedsToRunFor } from './sim-network.js';

const REPLAY = 'node --test dist/test/sim/qbft.test.js';


const seedsToRun = () => seedsToRunFor('QBFT');

const single = envInt('QBFT_SIM_SEED') !== undefined;
const tracing = process.env.QBFT_SIM_TRACE === '1' && single;

test('random faults and Byzantine validators never break safety; the honest nodes recover once the network heals', () => {
  const seeds = seedsToRun();
  const started = performance.now();
  const reports: SimReport[] = [];
  for (const seed of seeds) {
    const scenario = scenarioForSeed(seed);
    try {
      reports.push(runScenario(scenario, { trace: tracing ? (line) => console.log(line) : undefined }));
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      assert.fail(
        `qbft simulation failed for seed ${seed} (${JSON.stringify(scenario)}):\n  ${message}\n` +
          `replay: QBFT_SIM_SEED=${seed} QBFT_SIM_TRACE=1 ${REPLAY}`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const sum = (f: (r: SimReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const byzantineRuns = reports.filter((r) => r.byzantine !== 'none').length;
  console.log(
    `qbft sim: ${reports.length} runs (${reports.filter((r) => r.validators === 4).length} × 4 validators, ` +
      `${reports.filter((r) => r.validators === 7).length} × 7) in ${seconds.toFixed(1)}s; ${sum((r) => r.finalHeights)} heights final, ` +
      `${byzantineRuns} runs with Byzantine validators, ${sum((r) => r.crashes)} crashes, ${sum((r) => r.cuts)} partitions, ` +
      `${sum((r) => r.refused)} messages refused; slowest recovery ${Math.max(...reports.map((r) => r.ticksToRecover))} ticks, ` +
      `highest round at healing ${Math.max(...reports.map((r) => r.maxRound))}`,
  );
  if (seeds.length >= 100) {
    assert.ok(sum((r) => r.crashes) > seeds.length / 4, 'too few crashes across runs');
    assert.ok(sum((r) => r.cuts) > seeds.length / 2, 'too few partitions across runs');
    assert.ok(byzantineRuns > seeds.length / 3, 'too few runs with Byzantine validators');
    assert.ok(sum((r) => r.refused) > seeds.length, 'Byzantine messages were hardly ever refused');
    assert.ok(reports.some((r) => r.maxRound >= 3), 'no run reached round 3');
  }
});

test('a seed replays exactly', { skip: single }, () => {
  const scenario = scenarioForSeed(4243);
  assert.deepEqual(runScenario(scenario), runScenario(scenario));
});

function calm(seed: number, overrides: Partial<QbftScenario> = {}): QbftScenario {
  return {
    ...scenarioForSeed(seed),
    byzantineCount: 0,
    dropRate: 0.05,
    duplicateRate: 0.05,
    maxDelay: 2,
    partitionRate: 0,
    crashRate: 0,
    ...overrides,
  };
}

test('votes add a validator and remove it again (4 → 5 → 4) while the nodes keep agreeing', { skip: single }, () => {
  const cluster = new QbftCluster(calm(31, { validatorCount: 4, observerCount: 1, timeoutTicks: 5 }));
  const p5 = cluster.node('p5').address;
  const voters = ['p1', 'p2', 'p3', 'p4'];
  for (const id of voters) cluster.command(id, 'istanbul_propose', [p5, true]);
  const validatorsOf = (id: string) => cluster.command(id, 'istanbul_getValidators', []) as string[];
  const run = (until: () => boolean, what: string) => {
    for (let t = 0; t < 3000 && !until(); t++) cluster.tick();
    assert.ok(until(), `timed out waiting for ${what}`);
  };
  run(() => cluster.nodes.every((n) => validatorsOf(n.id).length === 5), 'p5 to be added everywhere');
  assert.equal(cluster.command('p5', 'istanbul_isValidator', []), true);
  const addedAt = cluster.nodes.map((n) => n.core!.finalHeight());
  // p5 now takes part; with 5 validators a removal needs 3 votes.
  for (const id of voters) {
    cluster.command(id, 'istanbul_discard', [p5]);
    cluster.command(id, 'istanbul_propose', [p5, false]);
  }
  run(() => cluster.nodes.every((n) => validatorsOf(n.id).length === 4 && !validatorsOf(n.id).includes(p5)), 'p5 to be removed everywhere');
  assert.equal(cluster.command('p5', 'istanbul_isValidator', []), false);
  // Everyone agrees on the validator history, and blocks keep coming.
  const height = Math.min(...cluster.nodes.map((n) => n.core!.finalHeight()));
  for (let h = 0; h <= height; h++) {
    const sets = new Set(cluster.nodes.map((n) => JSON.stringify(cluster.command(n.id, 'istanbul_getValidators', [h]))));
    assert.equal(sets.size, 1, `validators at ${h} differ`);
  }
  const snapshot = cluster.command('p1', 'istanbul_getSnapshot', []) as { validators: string[] };
  assert.equal(snapshot.validators.length, 4);
  awaitHeights(cluster, 5);
  assert.ok(Math.min(...addedAt) > 0);
  const status = cluster.command('p1', 'istanbul_status', [1, height]) as { numBlocks: number; sealerActivity: Record<string, number> };
  assert.equal(status.numBlocks, height);
});

test('a node cut off for a long time catches up by sync (more than one response of 64 blocks)', { skip: single }, () => {
  const cluster = new QbftCluster(calm(32, { validatorCount: 4, timeoutTicks: 4, dropRate: 0, duplicateRate: 0, maxDelay: 0 }));
  cluster.cut([['p4']]);
  for (let t = 0; t < 2000 && cluster.node('p1').core!.finalHeight() < 150; t++) cluster.tick();
  const ahead = cluster.node('p1').core!.finalHeight();
  assert.ok(ahead >= 150, `only ${ahead} heights while p4 was cut off`);
  assert.ok(cluster.node('p4').core!.finalHeight() < 5);
  cluster.heal();
  let synced = 0;
  cluster.whenFinal((node) => (node === 'p4' ? synced++ : 0));
  for (let t = 0; t < 300 && cluster.node('p4').core!.finalHeight() < ahead; t++) cluster.tick();
  assert.ok(cluster.node('p4').core!.finalHeight() >= ahead, `p4 at ${cluster.node('p4').core!.finalHeight()}, others at ${ahead}`);
  assert.ok(synced >= ahead - 5);
  awaitHeights(cluster, 3);
});

test('the checker catches a broken verifier: forged seals in a synced block split the honest nodes', { skip: single }, () => {
  const caught: number[] = [];
  const kinds = new Set<string>();
  for (let seed = 1; seed <= 200 && caught.length < 3; seed++) {
    const scenario: QbftScenario = { ...scenarioForSeed(seed), byzantineCount: 1 };
    try {
      runScenario(scenario, { behaviours: ['forge'], trustingCrypto: true });
    } catch (err) {
      if (!(err instanceof SafetyViolation)) throw err;
      kinds.add(err.kind);
      caught.push(seed);
    }
  }
  assert.equal(caught.length, 3, `only seeds ${caught.join(',')} caught the broken verifier`);
  console.log(`broken verifier caught as: ${[...kinds].join(', ')} (seeds ${caught.join(', ')})`);
});
