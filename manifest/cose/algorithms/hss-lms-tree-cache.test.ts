import { describe, expect, it } from 'vitest';
import { toHex } from '../../cbor.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { HssLmsSigner } from './hss-lms-sign.js';
import { buildTree, LmsMerkleTree } from './hss-lms-tree-cache.js';
import { hssVerify } from './hss-lms-verify.js';

const enc = new TextEncoder();

/** Re-seal a tampered cache: recompute its trailing SHA-256 so only the deeper checks can catch it. */
function reseal(cache: Uint8Array): Uint8Array {
  const out = new Uint8Array(cache);
  out.set(sha256(out.subarray(0, out.length - 32)), out.length - 32);
  return out;
}

describe('HSS-LMS tree cache', () => {
  it('cached signatures verify and equal the uncached ones for the same index (one and two levels)', () => {
    for (const params of [{ heights: [5], w: 8 }, { heights: [5, 5], w: 4 }]) {
      const gen = HssLmsSigner.generate(params);
      const cache = gen.exportTreeCache();
      const priv = HssLmsSigner.privateBytes(gen);
      const cached = HssLmsSigner.fromPrivateBytes(priv, { treeCache: cache, expectedKid: gen.kid });
      expect(cached.usingTreeCache).toBe(true);
      const plain = HssLmsSigner.fromPrivateBytes(priv, { verifySignatures: false });
      expect(plain.kid).toBe(gen.kid);
      // 31 → 32 → 33 crosses from the first lower tree into the second one for H5/H5.
      for (const i of [0, 1, 17, 31, 32, 33].filter((i) => i < gen.totalSignatures())) {
        const msg = enc.encode(`fw ${i}`);
        const a = cached.signAt(i, msg);
        expect(toHex(a)).toBe(toHex(plain.signAt(i, msg)));
        expect(hssVerify(gen.publicKey().publicKey, msg, a)).toBe(true);
      }
    }
  });

  it('a lower tree entered later is part of the exported cache, with its signature by the parent', () => {
    const gen = HssLmsSigner.generate({ heights: [5, 5], w: 4 });
    const priv = HssLmsSigner.privateBytes(gen);
    const g0 = gen.treeCacheGeneration;
    gen.prepareIndex(40); // top leaf 1
    expect(gen.treeCacheGeneration).not.toBe(g0);
    const k = HssLmsSigner.fromPrivateBytes(priv, { treeCache: gen.exportTreeCache(), expectedKid: gen.kid });
    const g1 = k.treeCacheGeneration;
    k.prepareIndex(41);
    expect(k.treeCacheGeneration).toBe(g1); // nothing to compute: came from the cache
    const msg = enc.encode('x');
    expect(hssVerify(gen.publicKey().publicKey, msg, k.signAt(41, msg))).toBe(true);
  });

  it('a corrupted, truncated, foreign or mismatched cache is refused and the trees are recomputed', () => {
    const gen = HssLmsSigner.generate({ heights: [5], w: 8 });
    const other = HssLmsSigner.generate({ heights: [5], w: 8 });
    const priv = HssLmsSigner.privateBytes(gen);
    const cache = gen.exportTreeCache();
    const flipped = new Uint8Array(cache);
    flipped[200]! ^= 1; // a stored node
    const bad: [string, Uint8Array, string | undefined][] = [
      ['checksum', flipped, gen.kid],
      ['inner node (resealed)', reseal(flipped), gen.kid],
      ['truncated', cache.subarray(0, cache.length - 1), gen.kid],
      ['another key', other.exportTreeCache(), undefined],
      ['expected key id differs', cache, other.kid],
      ['garbage', new Uint8Array(100), undefined],
    ];
    for (const [what, bytes, kid] of bad) {
      const k = HssLmsSigner.fromPrivateBytes(priv);
      expect(k.loadTreeCache(bytes, kid !== undefined ? { kid } : {}), what).toBe(false);
      expect(k.usingTreeCache).toBe(false);
      expect(k.kid).toBe(gen.kid); // recomputed from the private key
      const msg = enc.encode(what);
      expect(hssVerify(gen.publicKey().publicKey, msg, k.signAt(3, msg))).toBe(true);
    }
  });

  it('a self-consistent cache with a wrong leaf never yields a released bad signature', () => {
    const gen = HssLmsSigner.generate({ heights: [5], w: 8 });
    const priv = HssLmsSigner.privateBytes(gen);
    const cache = gen.exportTreeCache();
    // Layout: 8-byte head, level 0 header (8 + 16 + 4 sig length 0) + 4 nodes length, then nodes (node r at r*32).
    const nodes0 = 8 + 28 + 4;
    const t = new Uint8Array(cache);
    const leaf = 32 + 9; // leaf q = 9
    t[nodes0 + leaf * 32]! ^= 0x80;
    // Recompute the path to the root so the tree is consistent again (a deliberate forgery of the cache).
    const I = gen.publicKey().publicKey.subarray(12, 28);
    for (let r = leaf >> 1; r >= 1; r >>= 1) {
      const h = sha256.create().update(I).update(Uint8Array.of(0, 0, 0, r)).update(Uint8Array.of(0x83, 0x83));
      h.update(t.subarray(nodes0 + 2 * r * 32, nodes0 + 2 * r * 32 + 32)).update(t.subarray(nodes0 + (2 * r + 1) * 32, nodes0 + (2 * r + 2) * 32));
      t.set(h.digest(), nodes0 + r * 32);
    }
    const forged = reseal(t);
    // Bound to the real key id: refused.
    expect(HssLmsSigner.fromPrivateBytes(priv).loadTreeCache(forged, { kid: gen.kid })).toBe(false);
    // Unbound: accepted (it is consistent), but the first signature's self-check catches it.
    const k = HssLmsSigner.fromPrivateBytes(priv);
    expect(k.loadTreeCache(forged)).toBe(true);
    expect(k.kid).not.toBe(gen.kid);
    expect(() => k.signAt(9, enc.encode('m'))).toThrow(expect.objectContaining({ code: 'SIGNER_STATE_INVALID' }));
  });

  it('a lower level without a valid parent signature is dropped; the top is kept', () => {
    const gen = HssLmsSigner.generate({ heights: [5, 5], w: 4 });
    const priv = HssLmsSigner.privateBytes(gen);
    const cache = gen.exportTreeCache();
    const top = 8 + 28 + 4 + 64 * 32; // end of level 0
    const t = new Uint8Array(cache);
    t[top + 28 + 4 + 4 + 10]! ^= 1; // inside level 1's signature by the parent (after types, I, path, length)
    const k = HssLmsSigner.fromPrivateBytes(priv);
    expect(k.loadTreeCache(reseal(t), { kid: gen.kid })).toBe(true);
    const g = k.treeCacheGeneration;
    k.prepareIndex(0);
    expect(k.treeCacheGeneration).toBeGreaterThan(g); // lower tree recomputed
    const msg = enc.encode('m');
    expect(hssVerify(gen.publicKey().publicKey, msg, k.signAt(0, msg))).toBe(true);
  });

  it('a partly stored tree (bottom levels recomputed per subtree, as for H20+) gives the same authentication paths', () => {
    const key = { lmsType: 5, otsType: 1 + 2, I: new Uint8Array(16).fill(7), seed: new Uint8Array(32).fill(9) };
    const T = buildTree(key);
    const full = LmsMerkleTree.build(key);
    const part = LmsMerkleTree.build(key, 2);
    expect(part.top.length).toBe(16 * 32);
    const reloaded = LmsMerkleTree.fromNodes(key, new Uint8Array(part.top), 2)!;
    expect(toHex(reloaded.root)).toBe(toHex(T[1]!));
    for (const q of [0, 3, 4, 17, 31, 5]) {
      const want = full.authPath(q).map(toHex);
      expect(part.authPath(q).map(toHex)).toEqual(want);
      expect(reloaded.authPath(q).map(toHex)).toEqual(want);
    }
    const broken = new Uint8Array(part.top);
    broken[8 * 32]! ^= 1; // a stored subtree root
    expect(LmsMerkleTree.fromNodes(key, broken, 2)).toBeUndefined();
  });
});
