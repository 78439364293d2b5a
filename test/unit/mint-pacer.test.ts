import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MintPacer } from '../../actors/consensus/mint-pacer.js';

describe('mint pacing', () => {
  it('a lone wallet (one transaction, then its receipt, then the next) is minted at once every time', () => {
    const p = new MintPacer(100);
    let t = 0;
    for (let i = 0; i < 20; i++) {
      p.arrived(1, t);
      assert.equal(p.delay(t), 0, `transaction ${i} waited`);
      p.attempted(t, true);
      t += 90; // receipt, then the next transaction: sooner than one period
    }
  });

  it('dense arrivals wait for the period counted from the last mint', () => {
    const p = new MintPacer(100);
    let t = 0;
    for (let i = 0; i < 20; i++) p.arrived(1, (t += 20)); // 50 TPS
    p.attempted(t, true);
    p.arrived(1, (t += 20));
    assert.equal(p.delay(t), 80);
    assert.equal(p.delay(t + 100), 0);
  });

  it('a burst after a quiet spell turns dense within a few arrivals', () => {
    const p = new MintPacer(100);
    p.arrived(1, 0);
    p.arrived(1, 60_000);
    let t = 60_000;
    let arrivals = 0;
    while (p.delay(t) === 0 || arrivals === 0) {
      p.attempted(t, true);
      p.arrived(5, (t += 2));
      if (++arrivals > 10) break;
    }
    assert.ok(arrivals <= 5, `still minting at once after ${arrivals} bursts`);
  });

  it('an attempt that found nothing waits a period, however sparse the traffic', () => {
    const p = new MintPacer(100);
    p.arrived(1, 0);
    p.attempted(0, false);
    assert.equal(p.delay(10), 90);
    p.attempted(200, true);
    assert.equal(p.delay(210), 0);
  });
});
