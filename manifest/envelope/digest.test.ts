import { describe, expect, it } from 'vitest';
import { toHex, fromHex } from '../cbor.js';
import { computeDigest, createHasher, decodeDigest, digestEquals, encodeDigest } from './digest.js';

const abc = new TextEncoder().encode('abc');

describe('digest', () => {
  it('computes the known answers', () => {
    expect(toHex(computeDigest(-16, abc).bytes)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(computeDigest(-43, abc).bytes)).toBe(
      'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
    );
    expect(toHex(computeDigest(-44, abc).bytes).slice(0, 16)).toBe('ddaf35a193617aba');
    expect(toHex(computeDigest(-18, new Uint8Array()).bytes)).toBe('7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26');
    expect(computeDigest(-45, abc).bytes.length).toBe(64);
    expect(toHex(computeDigest(-45, new Uint8Array()).bytes).slice(0, 16)).toBe('46b9dd2b0ba88d13');
  });
  it('streams', () => {
    const h = createHasher(-16);
    h.update(abc.subarray(0, 1));
    h.update(abc.subarray(1));
    expect(digestEquals(h.digest(), computeDigest(-16, abc))).toBe(true);
  });
  it('encodes and decodes strictly', () => {
    const d = computeDigest(-16, abc);
    const enc = encodeDigest(d);
    expect(toHex(enc).slice(0, 6)).toBe('822f58');
    expect(digestEquals(decodeDigest(enc), d)).toBe(true);
    expect(() => decodeDigest(fromHex('822e4100'))).toThrow(expect.objectContaining({ code: 'DIGEST_ALGORITHM_UNSUPPORTED' }));
    expect(() => decodeDigest(fromHex('822f4100'))).toThrow(expect.objectContaining({ code: 'MANIFEST_MALFORMED' }));
    expect(() => decodeDigest(fromHex('812f'))).toThrow(expect.objectContaining({ code: 'MANIFEST_MALFORMED' }));
    expect(() => decodeDigest(new Uint8Array([...enc, 0]))).toThrow(expect.objectContaining({ code: 'CBOR_TRAILING_BYTES' }));
  });
  it('compares', () => {
    const a = computeDigest(-16, abc);
    expect(digestEquals(a, { alg: -16, bytes: a.bytes.slice() })).toBe(true);
    expect(digestEquals(a, computeDigest(-16, new Uint8Array()))).toBe(false);
    expect(digestEquals(a, { alg: -18, bytes: a.bytes })).toBe(false);
  });
});
