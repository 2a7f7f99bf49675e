import { describe, expect, it } from 'vitest';
import { isUpdateError } from '../manifest/index.js';
import { makeDevice, makeImage, makeRelease, makeVendor } from './fixtures.js';

describe('device happy path', () => {
  it('stages, swaps, trial-boots, confirms', async () => {
    const v = makeVendor();
    const img1 = makeImage(9000, 1);
    const img2 = makeImage(11000, 2, img1);
    const dev = await makeDevice(v, 'nrf52840', 0xff, { image: img1, seq: 1, version: [1, 0, 0] });
    expect(dev.bootInfo().sequenceNumber).toBe(1n);
    await dev.stage(makeRelease(v, { seq: 2, image: img2, version: [1, 1, 0] }), img2);
    const info = await dev.boot();
    expect(info.trial).toBe(true);
    expect(Buffer.from(dev.readPrimaryImage()).equals(Buffer.from(img2))).toBe(true);
    dev.confirm();
    const after = await dev.boot();
    expect(after.trial).toBe(false);
    expect(after.committedSequenceNumber).toBe(2n);
    expect(after.lastUpdate).toBe('updated');
  });
  it('reverts an unconfirmed image', async () => {
    const v = makeVendor();
    const img1 = makeImage(9000, 1);
    const img2 = makeImage(5000, 2);
    const dev = await makeDevice(v, 'smallpage', 0x00, { image: img1, seq: 1 });
    await dev.stage(makeRelease(v, { seq: 2, image: img2 }), img2);
    expect((await dev.boot()).trial).toBe(true);
    const info = await dev.boot();
    expect(info.lastUpdate).toBe('reverted');
    expect(info.revertReason).toBe('not-confirmed');
    expect(info.committedSequenceNumber).toBe(1n);
    expect(Buffer.from(dev.readPrimaryImage()).equals(Buffer.from(img1))).toBe(true);
    try {
      await dev.stage(makeRelease(v, { seq: 1, image: img2 }), img2);
      expect.fail('accepted');
    } catch (e) {
      expect(isUpdateError(e, 'ROLLBACK_REJECTED')).toBe(true);
    }
  });
});
