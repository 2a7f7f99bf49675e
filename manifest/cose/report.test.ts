import { describe, expect, it } from 'vitest';
import { encodeCbor, toHex } from '../cbor.js';
import { encodeReport, type SuitReport } from '../processor/index.js';
import { decodeSign1, generateKey, macKey, signReport, signSign1, verifyReport, verifyReportPayload } from './index.js';

const nonce = Uint8Array.from({ length: 16 }, (_, i) => i);
const report: SuitReport = {
  reference: { uri: 'https://fw.example/app.suit', digest: { alg: -16, bytes: new Uint8Array(32).fill(7) } },
  records: [],
  result: true,
};

describe('signed device reports', () => {
  for (const alg of ['ed25519', 'p256'] as const) {
    it(`${alg}: sign (attached payload) → verify with the server nonce`, () => {
      const dev = generateKey(alg);
      const signed = signReport(report, dev, nonce);
      const m = decodeSign1(signed, { requireTag: true });
      expect(m.payload).not.toBeNull();
      const back = verifyReport(signed, dev.publicKey(), nonce);
      expect(back.reference.uri).toBe(report.reference.uri);
      expect(toHex(back.nonce!)).toBe(toHex(nonce));
    });
  }
  it('HMAC devices use COSE_Mac0', () => {
    const k = macKey(new Uint8Array(32).fill(3));
    expect(verifyReport(signReport(report, k, nonce), k.publicKey(), nonce).result).toBe(true);
  });
  it('bytes in, bytes out (encoded report carrying the nonce)', () => {
    const dev = generateKey('ed25519');
    const bytes = encodeReport({ ...report, nonce });
    expect(verifyReportPayload(signReport(bytes, dev, nonce), dev.publicKey(), nonce)).toEqual(bytes);
    expect(() => signReport(encodeReport(report), dev, nonce)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
  it('another nonce, no nonce, another device, a flipped bit are refused with their codes', () => {
    const dev = generateKey('p256');
    const signed = signReport(report, dev, nonce);
    expect(() => verifyReport(signed, dev.publicKey(), Uint8Array.of(9))).toThrow(expect.objectContaining({ code: 'CHALLENGE_INVALID' }));
    expect(() => verifyReport(signReport(report, dev), dev.publicKey(), nonce)).toThrow(expect.objectContaining({ code: 'CHALLENGE_INVALID' }));
    expect(() => verifyReport(signed, generateKey('p256').publicKey(), nonce)).toThrow(expect.objectContaining({ code: 'KEY_UNTRUSTED' }));
    for (let i = 0; i < signed.length; i++) {
      const t = new Uint8Array(signed);
      t[i]! ^= 0x10;
      expect(() => verifyReport(t, dev.publicKey(), nonce), `byte ${i}`).toThrow(expect.objectContaining({ code: expect.any(String) }));
    }
  });
  it('a COSE_Sign1 without the report content type is not a report', () => {
    const dev = generateKey('ed25519');
    const other = encodeCbor(new Map([[2, nonce]]));
    // sign1 over arbitrary payload without content type: refused before any signature work
    expect(() => verifyReportPayload(signSign1(other, dev), dev.publicKey(), nonce)).toThrow(expect.objectContaining({ code: 'COSE_MALFORMED' }));
  });
});
