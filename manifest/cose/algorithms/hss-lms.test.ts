import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../cbor.js';
import { exportPrivatePem, exportPublicPem, generateKey, parsePrivateKey, parsePublicKey, encodeCoseKey, decodeCoseKey } from '../keys/index.js';
import { getAlgorithm } from './index.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { __test, HssLmsSigner, hssVerify, LmsMerkleTree, DEFAULT_HEIGHTS, lmsPublicKey, lmsSignWithTree, lmsVerify, type HssLmsState } from './hss-lms.js';
import { TC1, TC2 } from './hss-lms.rfc8554-vectors.js';

const enc = new TextEncoder();

describe('HSS-LMS verification: RFC 8554 Appendix F', () => {
  for (const [name, tc] of [['Test Case 1', TC1], ['Test Case 2', TC2]] as const) {
    it(`${name} verifies`, () => {
      expect(hssVerify(fromHex(tc.publicKey), enc.encode(tc.message), fromHex(tc.signature))).toBe(true);
      expect(getAlgorithm(-46).verify(fromHex(tc.publicKey), enc.encode(tc.message), fromHex(tc.signature))).toBe(true);
    });
    it(`${name}: other message, flipped bytes, truncation and extension are refused`, () => {
      const pub = fromHex(tc.publicKey);
      const sig = fromHex(tc.signature);
      const msg = enc.encode(tc.message);
      expect(hssVerify(pub, enc.encode(tc.message + ' '), sig)).toBe(false);
      for (const pos of [0, 3, 7, 11, 40, 200, sig.length - 33, sig.length - 1]) {
        const t = new Uint8Array(sig);
        t[pos]! ^= 1;
        expect(hssVerify(pub, msg, t), `byte ${pos}`).toBe(false);
      }
      expect(hssVerify(pub, msg, sig.subarray(0, sig.length - 1))).toBe(false);
      expect(hssVerify(pub, msg, Uint8Array.of(...sig, 0))).toBe(false);
      expect(hssVerify(pub, msg, new Uint8Array(0))).toBe(false);
    });
  }
  it('Test Case 2, second level: key generation from SEED/I (Appendix A) and signing at q=4 reproduce the RFC bytes', () => {
    const k = { lmsType: 5, otsType: 4, I: fromHex(TC2.level2.I), seed: fromHex(TC2.level2.seed) };
    const pub = lmsPublicKey(k);
    expect(toHex(pub)).toBe('00000005' + '00000004' + TC2.level2.I + TC2.level2.publicKeyT1);
    // The final LMS signature of TC2 is the tail of the HSS signature.
    const hssSig = fromHex(TC2.signature);
    const ours = lmsSignWithTreeForTest(k, TC2.level2.q, enc.encode(TC2.message), fromHex(TC2.level2.C));
    expect(toHex(hssSig.subarray(hssSig.length - ours.length))).toBe(toHex(ours));
    expect(lmsVerify(pub, enc.encode(TC2.message), ours)).toBe(true);
  });
});

function lmsSignWithTreeForTest(k: { lmsType: number; otsType: number; I: Uint8Array; seed: Uint8Array }, q: number, msg: Uint8Array, C: Uint8Array): Uint8Array {
  return lmsSignWithTree(k, __test.buildTree(k), q, msg, C);
}

describe('HSS-LMS signing (stateful)', () => {
  it('an H5/W8 key signs until exhausted (32 signatures), each verifies, then refuses with SIGNER_STATE_EXHAUSTED', () => {
    const persisted: HssLmsState[] = [];
    const k = HssLmsSigner.generate({ heights: [5], w: 8 }, { persist: (s) => persisted.push(s) });
    const pub = k.publicKey();
    expect(k.totalSignatures()).toBe(32);
    const seenQ = new Set<number>();
    for (let i = 0; i < 32; i++) {
      expect(k.remaining()).toBe(32 - i);
      const msg = enc.encode(`firmware ${i}`);
      const sig = k.sign(msg);
      // state was advanced and persisted before the signature was returned
      expect(persisted.at(-1)).toEqual({ kid: k.kid, next: i + 1, total: 32 });
      expect(getAlgorithm(-46).verify(pub.publicKey, msg, sig)).toBe(true);
      seenQ.add(((sig[4]! << 24) | (sig[5]! << 16) | (sig[6]! << 8) | sig[7]!) >>> 0);
    }
    expect(seenQ.size).toBe(32);
    expect(k.remaining()).toBe(0);
    expect(() => k.sign(enc.encode('one more'))).toThrow(expect.objectContaining({ code: 'SIGNER_STATE_EXHAUSTED' }));
  });
  it('no signature is released when persisting the advanced state fails', () => {
    const k = HssLmsSigner.generate({ heights: [5], w: 8 }, {
      persist: () => {
        throw new Error('disk full');
      },
    });
    expect(() => k.sign(enc.encode('x'))).toThrow('disk full');
    expect(k.remaining()).toBe(31); // the leaf is burnt, never reused
  });
  it('two levels (H5/H5, W4): 1024 signatures capacity, signatures cross a subtree boundary and verify', () => {
    const k = HssLmsSigner.generate({ heights: [5, 5], w: 4 });
    expect(k.totalSignatures()).toBe(1024);
    k.setNextIndex(30);
    for (let i = 0; i < 4; i++) {
      const msg = enc.encode(`m${i}`);
      expect(hssVerify(k.publicKey().publicKey, msg, k.sign(msg))).toBe(true);
    }
    expect(() => k.setNextIndex(3)).toThrow(expect.objectContaining({ code: 'SIGNER_STATE_INVALID' }));
  });
  it('all Winternitz parameters work', () => {
    for (const w of [1, 2, 4, 8]) {
      const k = HssLmsSigner.generate({ heights: [5], w });
      const msg = enc.encode(`w=${w}`);
      expect(hssVerify(k.publicKey().publicKey, msg, k.sign(msg))).toBe(true);
    }
  });
  it('PEM (our PKCS#8), SPKI (RFC 9708) and COSE_Key (kty 5) round trips; state is not in the key file', () => {
    const k = generateKey('hss-lms', { heights: [5], w: 8 }) as HssLmsSigner;
    const pem = exportPrivatePem(k, { passphrase: 'pw', iterations: 1000 });
    const back = parsePrivateKey(pem, { passphrase: 'pw' }) as HssLmsSigner;
    expect(back.kid).toBe(k.kid);
    expect(back.remaining()).toBe(32);
    expect(parsePublicKey(exportPublicPem(k)).kid).toBe(k.kid);
    expect(decodeCoseKey(encodeCoseKey(k)).kid).toBe(k.kid);
    expect(parsePublicKey(k.publicKey().publicKey).kty).toBe('HSS-LMS');
    const msg = enc.encode('x');
    expect(hssVerify(k.publicKey().publicKey, msg, back.signAt(5, msg))).toBe(true);
  });
});

/** Re-seal a tampered cache: recompute its trailing SHA-256 so only the deeper checks can catch it. */
function reseal(cache: Uint8Array): Uint8Array {
  const out = new Uint8Array(cache);
  out.set(sha256(out.subarray(0, out.length - 32)), out.length - 32);
  return out;
}

describe('HSS-LMS tree cache', () => {
  it('single-block SHA-256 equals @noble/hashes on 55-byte inputs', () => {
    const m = new Uint8Array(55);
    const out = new Uint8Array(32);
    for (let i = 0; i < 50; i++) {
      crypto.getRandomValues(m);
      __test.sha256of55(m, out, 0);
      expect(toHex(out)).toBe(toHex(sha256(m)));
    }
  });

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
    const T = __test.buildTree(key);
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

  it('the default parameter set is H10/H10 W8 (2^20 signatures)', () => {
    expect(DEFAULT_HEIGHTS).toEqual([10, 10]);
  });
});
