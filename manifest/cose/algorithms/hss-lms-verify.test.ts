import { describe, expect, it } from 'vitest';
import { fromHex } from '../../cbor.js';
import { getAlgorithm } from './index.js';
import { hssVerify } from './hss-lms-verify.js';
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
});
