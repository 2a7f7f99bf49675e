import { describe, expect, it } from 'vitest';
import { generateKey, signAnchorStatement } from '../manifest/index.js';
import { decodeStoredAnchors, encodeChain, encodeCheckpoint, storedAnchors } from './anchors.js';
import { anchorKey, makeVendor } from './fixtures.js';

describe('anchor checkpoint (only the latest verified set is stored)', () => {
  const v = makeVendor();
  const k2 = generateKey(-8);
  const s2 = signAnchorStatement({ ...v.set, version: 2, keys: [...v.set.keys, anchorKey(k2)] }, [v.key, k2]);
  const mac = new Uint8Array(32).fill(9);

  it('a checkpoint with this device MAC gives the set; another key or a flipped byte is refused', () => {
    const rec = encodeCheckpoint(s2, mac);
    expect(storedAnchors(v.anchors, decodeStoredAnchors(rec), mac).version).toBe(2);
    expect(() => storedAnchors(v.anchors, decodeStoredAnchors(rec), new Uint8Array(32).fill(8))).toThrow(/MAC/);
    const bad = rec.slice();
    bad[10]! ^= 1;
    expect(() => storedAnchors(v.anchors, decodeStoredAnchors(bad), mac)).toThrow();
  });

  it('a legacy chain record is still verified from the OTP root', () => {
    expect(storedAnchors(v.anchors, decodeStoredAnchors(encodeChain([s2])), mac).version).toBe(2);
    expect(() => storedAnchors(v.anchors, decodeStoredAnchors(encodeChain([signAnchorStatement({ ...v.set, version: 2 }, [k2])])), mac)).toThrow();
  });

  it('the record size does not depend on how many statements came before', () => {
    let set = { ...v.set, version: 2, keys: [...v.set.keys, anchorKey(k2)] };
    const sizes: number[] = [];
    let signers = [v.key, k2];
    for (let n = 3; n < 13; n++) {
      const k = generateKey(-8);
      set = { ...set, version: n, keys: [anchorKey(v.key), anchorKey(k)] };
      sizes.push(encodeCheckpoint(signAnchorStatement(set, [...signers, k]), mac).length);
      signers = [v.key, k];
    }
    expect(Math.max(...sizes)).toBe(Math.min(...sizes));
  });
});
