import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../cbor.js';
import { exportPrivatePem, exportPublicPem, generateKey, parsePrivateKey, parsePublicKey, encodeCoseKey, decodeCoseKey } from '../keys/index.js';
import { getAlgorithm } from './index.js';
import { DEFAULT_HEIGHTS, HssLmsSigner, lmsPublicKey, lmsSignWithTree, type HssLmsState } from './hss-lms-sign.js';
import { buildTree } from './hss-lms-tree-cache.js';
import { hssVerify, lmsVerify } from './hss-lms-verify.js';
import { TC2 } from './hss-lms.rfc8554-vectors.js';

const enc = new TextEncoder();

describe('HSS-LMS key generation: RFC 8554 Appendix F', () => {
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
  return lmsSignWithTree(k, buildTree(k), q, msg, C);
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
  it('the default parameter set is H10/H10 W8 (2^20 signatures)', () => {
    expect(DEFAULT_HEIGHTS).toEqual([10, 10]);
  });
});
