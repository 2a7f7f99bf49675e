/**
 * CandidateWriter: resumable, bounded-RAM writing of the candidate slot (full image or delta patch).
 * Power cuts are simulated as the agent sees them: the writer is dropped (RAM is gone), the device
 * reboots, and a new writer starts from the last progress that was saved.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, isUpdateError } from '../../manifest/index.js';
import { encodeDelta } from '../delta-adapter.js';
import type { Device } from '../device.js';
import { makeDevice, makeImage, makeRelease, makeVendor, type Vendor } from '../fixtures.js';
import { imageClaims, type ImageClaims } from '../verify.js';
import { CandidateWriter, type WriterProgress } from './candidate.js';

const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Setup {
  vendor: Vendor;
  dev: Device;
  v1: Uint8Array;
  v2: Uint8Array;
  env2: Uint8Array;
  claims: ImageClaims;
  patch: Uint8Array;
}

async function setup(profile: string, size = 24_000, seed = 1): Promise<Setup> {
  const vendor = makeVendor();
  const v1 = makeImage(size, seed);
  const v2 = makeImage(size + 1000, seed + 1, v1);
  const dev = await makeDevice(vendor, profile, 0xff, { image: v1, seq: 1 });
  const env2 = makeRelease(vendor, { seq: 2, image: v2 });
  return { vendor, dev, v1, v2, env2, claims: imageClaims(decodeEnvelope(env2).manifest), patch: encodeDelta(v1, v2) };
}

class Cut extends Error {}

/** Feed `object` from the writer's offset in receive-buffer chunks; 'cut' when the save hook cut power. */
function feed(w: CandidateWriter, object: Uint8Array, rx: number): 'done' | 'cut' {
  try {
    while (w.offset < object.length) w.push(object.subarray(w.offset, Math.min(object.length, w.offset + rx)));
  } catch (e) {
    if (e instanceof Cut) return 'cut';
    throw e;
  }
  return 'done';
}

/** A writer saving at every page boundary into `saves`; `cutAt`: power is cut right after that save. */
function writer(s: Setup, kind: 'full' | 'delta', saves: WriterProgress[], resume?: WriterProgress, cutAt?: number): CandidateWriter {
  return new CandidateWriter(s.dev, {
    kind,
    envelope: s.env2,
    claims: s.claims,
    saveEvery: 1,
    save: (p) => {
      saves.push(structuredClone(p));
      if (saves.length === cutAt) throw new Cut();
    },
    ...(resume ? { resume } : {}),
  });
}

async function expectInstalled(s: Setup): Promise<void> {
  expect(s.dev.state.phase).toBe('pending');
  const info = await s.dev.reboot();
  expect(info.imageDigest).toBe(hex(s.v2));
  expect(info.trial).toBe(s.dev.profile.strategy === 'swap-offset'); // overwrite: the install is the commit
}

const rxOf = (d: Device) => Math.min(1024, d.profile.stagePage);

describe('CandidateWriter', () => {
  // nrf52840/smallpage: stage page = erase unit; stm32f4 (4 KiB pages in 128 KiB units) and
  // smallpage-ow (256 B pages in 512 B units, overwrite strategy) save in the middle of a unit.
  for (const profile of ['nrf52840', 'smallpage', 'stm32f4', 'smallpage-ow']) {
    for (const kind of ['full', 'delta'] as const) {
      it(`${profile} ${kind}: resumes at every page boundary (cut right after a save, and one page after it)`, async () => {
        const s = await setup(profile);
        const object = kind === 'full' ? s.v2 : s.patch;
        const rx = rxOf(s.dev);
        const base = s.dev.snapshot();
        // Reference run: how many page boundaries are there?
        const ref: WriterProgress[] = [];
        const w0 = writer(s, kind, ref);
        expect(feed(w0, object, rx)).toBe('done');
        await w0.finish();
        await expectInstalled(s);
        expect(ref.length).toBeGreaterThan(3);
        let restarts = 0;
        for (let k = 1; k <= ref.length; k++) {
          for (const extra of [0, 1]) {
            s.dev.restore(base);
            await s.dev.boot();
            const saves: WriterProgress[] = [];
            const w1 = writer(s, kind, saves, undefined, k + extra);
            const r1 = feed(w1, object, rx);
            w1.release();
            if (r1 === 'done') continue; // the last boundary: nothing left to cut
            await s.dev.boot(); // power cut: RAM gone, the bootloader runs again on the old image
            expect(s.dev.bootInfo().imageDigest).toBe(hex(s.v1));
            const resume = saves[k - 1]!;
            const after: WriterProgress[] = [];
            const w2 = writer(s, kind, after, resume);
            if (extra === 0 || kind === 'full') expect(w2.restarted).toBe(false);
            if (w2.restarted) restarts++;
            // a full image resumes at the saved offset (or the start of its erase unit), never later
            expect(w2.offset).toBeLessThanOrEqual(kind === 'full' ? resume.offset : object.length);
            if (extra === 0) expect(w2.offset).toBe(resume.offset);
            expect(feed(w2, object, rx)).toBe('done');
            await w2.finish();
            await expectInstalled(s);
          }
        }
        // A save on an erase-unit start: a page written after it is erased again on resume. In the
        // middle of a unit a full image rolls back to the unit start; a delta cannot roll its decoder
        // back and starts over (radio cost, never correctness).
        const midUnit = s.dev.profile.slotUnit > s.dev.profile.stagePage;
        expect(restarts > 0).toBe(kind === 'delta' && midUnit);
      }, 60_000);
    }
  }

  for (const kind of ['full', 'delta'] as const) {
    it(`smallpage ${kind}: power cut inside a flash operation (torn page) at many points, resumed from the last save`, async () => {
      const s = await setup('smallpage', 12_000, 5);
      const object = kind === 'full' ? s.v2 : s.patch;
      const rx = rxOf(s.dev);
      const base = s.dev.snapshot();
      let cuts = 0;
      for (let n = 1; n < 200; n += 3) {
        s.dev.restore(base);
        await s.dev.boot();
        const saves: WriterProgress[] = [];
        let w = writer(s, kind, saves);
        s.dev.faults.arm({ at: s.dev.faults.opIndex + n, mode: 'torn', seed: n });
        try {
          feed(w, object, rx);
          await w.finish();
          s.dev.faults.arm(undefined);
          await expectInstalled(s);
          break; // the cut comes after the whole write: the sweep is complete
        } catch (e) {
          if (!isUpdateError(e, 'POWER_LOSS')) throw e;
          cuts++;
        }
        w.release();
        s.dev.faults.arm(undefined);
        await s.dev.boot();
        const resume = saves.at(-1);
        w = writer(s, kind, [], resume);
        feed(w, object, rx);
        await w.finish();
        await expectInstalled(s);
      }
      expect(cuts).toBeGreaterThan(10);
    }, 60_000);
  }

  it('refuses a stream longer than the signed size (full) before writing past it, and a short one at finish', async () => {
    const s = await setup('smallpage', 6000, 9);
    const long = new Uint8Array(s.v2.length + 700);
    long.set(s.v2);
    const w = writer(s, 'full', []);
    expect(() => feed(w, long, 512)).toThrow(expect.objectContaining({ code: 'PATCH_OUTPUT_OVERFLOW' }));
    w.release();
    expect(s.dev.state.phase).not.toBe('pending');
    // the slot past the signed size was never programmed
    const end = s.dev.stagedBase + s.dev.profile.envelopeArea + s.v2.length;
    const pad = Math.ceil(s.v2.length / s.dev.flash.writeAlign) * s.dev.flash.writeAlign - s.v2.length;
    expect(s.dev.flash.isErased(end + pad, 512)).toBe(true);

    await s.dev.boot();
    const short = writer(s, 'full', []);
    feed(short, s.v2.subarray(0, s.v2.length - 100), 512);
    await expect(short.finish()).rejects.toMatchObject({ code: 'PAYLOAD_DIGEST_MISMATCH' });
    expect(s.dev.state.phase).not.toBe('pending');

    await s.dev.boot();
    const wrong = writer(s, 'full', []);
    const bad = s.v2.slice();
    bad[100]! ^= 1;
    feed(wrong, bad, 512);
    await expect(wrong.finish()).rejects.toMatchObject({ code: 'PAYLOAD_DIGEST_MISMATCH' });
    expect(s.dev.state.phase).not.toBe('pending');
    expect(s.dev.ram.inUse).toBe(0);
  });

  it('refuses a delta whose output is larger than the signed size, or made for another precursor', async () => {
    const s = await setup('smallpage', 6000, 11);
    const bigger = makeImage(s.v2.length + 3000, 77, s.v2);
    const w = writer(s, 'delta', []);
    let err: unknown;
    try {
      feed(w, encodeDelta(s.v1, bigger), 512);
      await w.finish();
    } catch (e) {
      err = e;
    }
    w.release();
    expect(isUpdateError(err)).toBe(true);
    expect(s.dev.state.phase).not.toBe('pending');

    await s.dev.boot();
    const other = makeImage(s.v1.length, 99);
    const w2 = writer(s, 'delta', []);
    let err2: unknown;
    try {
      feed(w2, encodeDelta(other, s.v2), 512);
      await w2.finish();
    } catch (e) {
      err2 = e;
    }
    w2.release();
    expect(isUpdateError(err2)).toBe(true);
    expect(s.dev.state.phase).not.toBe('pending');
    expect(s.dev.ram.inUse).toBe(0);
  });

  it('bounded RAM: the peak fits the profile and does not grow with the image size', async () => {
    const peaks: Record<string, number[]> = {};
    for (const profile of ['nrf52840', 'smallpage']) {
      for (const kind of ['full', 'delta'] as const) {
        for (const size of [8_000, 40_000]) {
          const s = await setup(profile, size, 3);
          s.dev.ram.resetPeak();
          const env = s.dev.ram.alloc('envelope', s.env2.length); // as the agent holds it
          const w = writer(s, kind, []);
          const rxBuf = s.dev.ram.alloc('rx buffer', rxOf(s.dev));
          feed(w, kind === 'full' ? s.v2 : s.patch, rxOf(s.dev));
          s.dev.ram.free(rxBuf);
          await w.finish();
          s.dev.ram.free(env);
          expect(s.dev.ram.peak).toBeLessThanOrEqual(s.dev.ram.limit);
          (peaks[`${profile} ${kind}`] ??= []).push(s.dev.ram.peak);
          await expectInstalled(s);
        }
      }
    }
    for (const [name, [small, large]] of Object.entries(peaks)) expect(large, name).toBe(small);
  }, 60_000);
});
