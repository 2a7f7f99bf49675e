/**
 * Sampled fault sweep for `npm test` (every 9th operation index, all profiles, both erase values, all
 * cut modes, a quarter of recoveries cut again). The full sweep is `npx suit-device faults`.
 */
import { describe, expect, it } from 'vitest';
import { runSweep } from '../../device-bootloader-sim/index.js';

describe('power-cut sweep (sampled)', () => {
  it('never bricks, rolls back, boots unverified code, advances counters early or loses anchors', async () => {
    const s = await runSweep({ stride: 9, recoveryCutRate: 0.25, seed: 7 });
    const failures = s.results.flatMap((r) => r.failures);
    expect(failures).toEqual([]);
    expect(s.cutPoints).toBeGreaterThan(1000);
    expect([s.bricked, s.rollbacks, s.unverifiedBoots, s.counterViolations, s.anchorViolations, s.notErasedWrites]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(s.maxErasesPerSector).toBeLessThanOrEqual(1);
    expect(s.maxRecoveryBoots).toBeLessThanOrEqual(3);
  }, 120_000);
});
