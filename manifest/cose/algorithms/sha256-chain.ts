/**
 * The signer's hash chains on a fast single-block SHA-256.
 *
 * The signer spends nearly all its time in SHA-256 over 55-byte inputs: every hash chain step
 * (I || q || i || j || tmp) and every private element (I || q || i || 0xff || SEED) is exactly one
 * padded block. A single-block compression over a preallocated schedule, writing its digest in
 * place, is several times faster than a general hasher per call. (Verification keeps the plain
 * streaming code above.)
 */
import { putU32, type LmsTreeKey } from './hss-lms-params.js';

const SHA_K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const SHA_W = new Uint32Array(64);

/** SHA-256 of the 55 bytes m[0..55) into out[o..o+32) (out may overlap m). */
export function sha256of55(m: Uint8Array, out: Uint8Array, o: number): void {
  const W = SHA_W;
  for (let t = 0; t < 13; t++) W[t] = (m[4 * t]! << 24) | (m[4 * t + 1]! << 16) | (m[4 * t + 2]! << 8) | m[4 * t + 3]!;
  W[13] = (m[52]! << 24) | (m[53]! << 16) | (m[54]! << 8) | 0x80;
  W[14] = 0;
  W[15] = 55 * 8;
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!;
    const y = W[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = 0x6a09e667 | 0, b = 0xbb67ae85 | 0, c = 0x3c6ef372 | 0, d = 0xa54ff53a | 0;
  let e = 0x510e527f | 0, f = 0x9b05688c | 0, g = 0x1f83d9ab | 0, h = 0x5be0cd19 | 0;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const T1 = (h + S1 + ((e & f) ^ (~e & g)) + SHA_K[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const T2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + T1) | 0;
    d = c;
    c = b;
    b = a;
    a = (T1 + T2) | 0;
  }
  const st = [a + 0x6a09e667, b + 0xbb67ae85, c + 0x3c6ef372, d + 0xa54ff53a, e + 0x510e527f, f + 0x9b05688c, g + 0x1f83d9ab, h + 0x5be0cd19];
  for (let i = 0; i < 8; i++) {
    const v = st[i]! | 0;
    out[o + 4 * i] = v >>> 24;
    out[o + 4 * i + 1] = (v >>> 16) & 0xff;
    out[o + 4 * i + 2] = (v >>> 8) & 0xff;
    out[o + 4 * i + 3] = v & 0xff;
  }
}

/**
 * Signer-side chain over one 55-byte buffer: x_q[i] (Appendix A) is computed into tmp (bytes 23..55)
 * and walked in place, no allocation per step.
 */
export class SignChain {
  readonly buf = new Uint8Array(55);
  constructor(readonly k: LmsTreeKey, q: number) {
    this.buf.set(k.I, 0);
    putU32(this.buf, 16, q);
  }
  /** x_q[i] walked `steps` times; the result is valid until the next call. */
  element(i: number, steps: number): Uint8Array {
    const b = this.buf;
    b[20] = i >>> 8;
    b[21] = i & 0xff;
    b[22] = 0xff;
    b.set(this.k.seed, 23);
    sha256of55(b, b, 23);
    for (let j = 0; j < steps; j++) {
      b[22] = j;
      sha256of55(b, b, 23);
    }
    return b.subarray(23, 55);
  }
}
