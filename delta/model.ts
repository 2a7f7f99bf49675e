/**
 * The probability layout shared by encoder and decoder (format version 1, model 1).
 * Every context the two sides use is derived here so that they cannot drift apart.
 */
import { PROB_INIT, type RangeDecoder, type RangeEncoder } from './rc.js';

/** Integer coder: 5-bit tree for the bit length, 3 adaptive mantissa bits per length, rest direct. */
const INT_SIZE = 32 + 32 * 8;

export const CTX = {
  X: 0, // diff (copy-with-add) length
  Y: 1, // extra (literal) length
  Z: 2, // seek magnitude
  RUN0: 3, // zero run: first in a diff region
  RUN1: 4, // zero run: previous run was empty (cluster of changed bytes)
  RUN2: 5, // zero run: otherwise
} as const;
const N_INT = 3; // X, Y, Z use the small integer coder; runs use the rich one
/** Run coder: 5-bit length tree, full trees for values < 256, top 3 + low 2 adaptive bits above. */
const RUN_SIZE = 32 + 256 + 24 * 8 + 4;

export const OFF_INT = 0;
export const OFF_RUN = OFF_INT + N_INT * INT_SIZE; // 3 run contexts
export const OFF_ZSIGN = OFF_RUN + 3 * RUN_SIZE; // 2 probs: previous seek sign
export const OFF_REP = OFF_ZSIGN + 2; // 8 probs: changed byte equals the last one at this alignment
export const OFF_V = OFF_REP + 8; // 8 contexts x 256: (follows a changed byte) x (new offset & 3)
export const OFF_LIT = OFF_V + 8 * 256; // 4 contexts x 256: previous output byte >> 6
export const N_PROBS = OFF_LIT + 4 * 256;

export function newProbs(): Uint16Array {
  return new Uint16Array(N_PROBS).fill(PROB_INIT);
}

export const MAX_INT = 0xfffffffe;

export function encInt(enc: RangeEncoder, p: Uint16Array, ctx: number, value: number): void {
  if (!(value >= 0 && value <= MAX_INT)) throw new RangeError(`integer out of range: ${value}`);
  const base = OFF_INT + ctx * INT_SIZE;
  const v1 = value + 1;
  const n = 32 - Math.clz32(v1); // 1..32
  encTree(enc, p, base, 5, n - 1);
  const m = n - 1;
  if (m === 0) return;
  const rest = v1 - 2 ** m;
  const tb = m < 3 ? m : 3;
  const low = m - tb;
  const top = Math.floor(rest / 2 ** low);
  encTree(enc, p, base + 32 + (n - 1) * 8, tb, top);
  if (low > 0) enc.encodeDirect(rest - top * 2 ** low, low);
}

export function decInt(dec: RangeDecoder, p: Uint16Array, ctx: number): number {
  const base = OFF_INT + ctx * INT_SIZE;
  const n = decTree(dec, p, base, 5) + 1;
  const m = n - 1;
  if (m === 0) return 0;
  const tb = m < 3 ? m : 3;
  const low = m - tb;
  const top = decTree(dec, p, base + 32 + (n - 1) * 8, tb);
  const rest = top * 2 ** low + (low > 0 ? dec.decodeDirect(low) : 0);
  return 2 ** m + rest - 1;
}

export function encRun(enc: RangeEncoder, p: Uint16Array, ctx: number, value: number): void {
  if (!(value >= 0 && value <= MAX_INT)) throw new RangeError(`integer out of range: ${value}`);
  const base = OFF_RUN + (ctx - CTX.RUN0) * RUN_SIZE;
  const v1 = value + 1;
  const n = 32 - Math.clz32(v1);
  encTree(enc, p, base, 5, n - 1);
  const m = n - 1;
  if (m === 0) return;
  const rest = v1 - 2 ** m;
  if (m <= 7) {
    encTree(enc, p, base + 32 + (1 << m) - 2, m, rest);
    return;
  }
  const low = m - 3;
  const top = Math.floor(rest / 2 ** low);
  encTree(enc, p, base + 32 + 256 + (m - 8) * 8, 3, top);
  const r2 = rest - top * 2 ** low;
  enc.encodeDirect(r2 >>> 2, low - 2);
  encTree(enc, p, base + 32 + 256 + 192, 2, r2 & 3);
}

export function decRun(dec: RangeDecoder, p: Uint16Array, ctx: number): number {
  const base = OFF_RUN + (ctx - CTX.RUN0) * RUN_SIZE;
  const n = decTree(dec, p, base, 5) + 1;
  const m = n - 1;
  if (m === 0) return 0;
  if (m <= 7) return 2 ** m + decTree(dec, p, base + 32 + (1 << m) - 2, m) - 1;
  const low = m - 3;
  const top = decTree(dec, p, base + 32 + 256 + (m - 8) * 8, 3);
  const mid = dec.decodeDirect(low - 2);
  const lo = decTree(dec, p, base + 32 + 256 + 192, 2);
  return 2 ** m + top * 2 ** low + mid * 4 + lo - 1;
}

export function encTree(enc: RangeEncoder, p: Uint16Array, base: number, nbits: number, value: number): void {
  let idx = 1;
  for (let k = nbits - 1; k >= 0; k--) {
    const bit = (value >>> k) & 1;
    enc.encodeBit(p, base + idx, bit);
    idx = (idx << 1) | bit;
  }
}

export function decTree(dec: RangeDecoder, p: Uint16Array, base: number, nbits: number): number {
  let idx = 1;
  for (let k = 0; k < nbits; k++) idx = (idx << 1) | dec.decodeBit(p, base + idx);
  return idx - (1 << nbits);
}

/** Worst-case number of range-decoder decisions in one decoder step (one control triple). */
export const MAX_DECISIONS_PER_STEP = 3 * (5 + 31) + 1 + 8 + 2;
