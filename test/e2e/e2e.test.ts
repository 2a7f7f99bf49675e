/**
 * End to end against a real suit-server on a random port: releases signed offline, a small fleet of two
 * flash profiles with power cuts and broken links, a two-phase rollout, then a bad release that reverts
 * and pauses its rollout. The same story as `npm run demo`, with fewer devices.
 */
import { describe, expect, it } from 'vitest';
import { Fleet } from '../../device-bootloader-sim/agent/index.js';
import { buildWorld, corpusPair, fleetOptions, provisionFleet, publish, rollout, runStory, startRollout, waitForDelta, type StorySummary } from './story.js';
import { sha256hex } from './util.js';

describe('end to end: server + fleet', () => {
  let s: StorySummary;

  it('runs the demo story with 12 devices: updates, power cuts, broken links, a reverted bad release', async () => {
    s = await runStory({ devices: 12, profiles: ['nrf52840', 'smallpage'], powerCuts: 2, linkCuts: 2, fullImageDevice: true, seed: 7, timeoutMs: 40_000 });
    expect(s.bricked).toBe(0);
    expect(s.firstRollout.state).toBe('completed');
    expect(s.rolloutState).toBe('paused');
    expect(s.secondRollout.pauseReason ?? '').toMatch(/threshold/);
    expect(s.powerCuts).toBeGreaterThanOrEqual(2);
    expect(s.linkBreaks).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('every device ends on the new image (1.1.0) — reverted ones back on it, never on the bad build', async () => {
    const [, v2] = await corpusPair('mbed-blinky-k64f');
    for (const d of s.perDevice) {
      expect(d.bricked).toBe(false);
      expect(d.imageDigest).toBe(sha256hex(v2));
      expect(d.committedSeq).toBe(2);
      expect(['updated', 'reverted']).toContain(d.lastUpdate);
    }
    expect(s.updated).toBe(12);
  });

  it("the rollouts' counts match the devices' own state", () => {
    const reverted = s.perDevice.filter((d) => d.lastUpdate === 'reverted').length;
    expect(s.firstRollout.counts['confirmed']).toBe(12);
    expect(s.secondRollout.counts['reverted']).toBe(reverted);
    expect(s.reverted).toBe(reverted);
    expect(reverted).toBeGreaterThanOrEqual(3);
    expect(s.secondRollout.counts['confirmed']).toBe(0);
    for (const k of ['downloading', 'installed', 'booted']) expect(s.secondRollout.counts[k] ?? 0).toBe(0);
  });

  it('bytes on air for the delta path are smaller than for the full path', () => {
    expect(s.bytesOnAir).toBeLessThan(s.bytesOnAirFull);
    expect(s.deltaDevice).toBeDefined();
    expect(s.deltaDevice!.bytesReceived).toBeLessThan(s.fullDevice!.bytesReceived / 2);
  });

  it('a device whose download is cut at random points (links and power) finishes with the right image', async () => {
    const [v1, v2] = await corpusPair('mbed-blinky-k64f');
    const w = await buildWorld([{ name: 'v1', version: '1.0.0', image: v1 }, { name: 'v2', version: '1.1.0', image: v2 }]);
    let fleet: Fleet | undefined;
    try {
      await publish(w, w.releases[0]!);
      await publish(w, w.releases[1]!);
      await waitForDelta(w, w.releases[0]!, w.releases[1]!);
      let seed = 12345;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      let links = 0;
      let power = 0;
      fleet = new Fleet(fleetOptions(w, {
        faults: () => ({
          // Every download request breaks at a random point until 6 breaks happened.
          linkCut: ({ offset, size }) => (links < 6 && size - offset > 16 ? (links++, 1 + Math.floor(rnd() * (size - offset - 1))) : undefined),
          // Three power cuts at random flash operations of the staging.
          powerCut: () => (power < 3 ? (power++, 1 + Math.floor(rnd() * 20)) : undefined),
        }),
      }));
      await provisionFleet(w, fleet, 3, ['nrf52840', 'smallpage', 'stm32f4']);
      // one takes the full image so both paths are cut
      (fleet.members[0]!.agent.o as { payload?: string }).payload = 'full';
      fleet.start();
      const id = await startRollout(w, w.releases[1]!, 'cut', [{ percent: 100 }]);
      const end = Date.now() + 40_000;
      let ro = await rollout(w, id);
      while (ro.state !== 'completed' && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 200));
        ro = await rollout(w, id);
      }
      await fleet.stop();
      expect(ro.state).toBe('completed');
      const stats = fleet.stats();
      expect(stats.reduce((a, x) => a + x.linkBreaks, 0)).toBeGreaterThanOrEqual(3);
      expect(stats.reduce((a, x) => a + x.powerCuts, 0)).toBeGreaterThanOrEqual(1);
      for (const d of fleet.states()) {
        expect(d.imageDigest).toBe(sha256hex(v2));
        expect(d.committedSeq).toBe(2);
      }
      for (const st of stats) expect(st.peakRamBytes).toBeLessThanOrEqual(st.ramLimitBytes);
    } finally {
      if (fleet) await fleet.stop();
      await w.close();
    }
  }, 60_000);
});
