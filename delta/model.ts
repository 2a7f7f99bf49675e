/**
 * The probability layout shared by encoder and decoder (format version 2, model 2).
 * Every context the two sides use is derived here so that they cannot drift apart.
 */
import { PROB_INIT, type RangeDecoder, type RangeEncoder } from './rc.js';

/** Integer coder: 5-bit tree for the bit length, 3 adaptive mantissa bits per length, rest direct. */
const INT_SIZE = 32 + 32 * 8;

export const CTX = {
  X: 0, // diff (copy-with-add) length
  Y: 1, // extra (literal) length
  Z: 2, // seek magnitude
} as const;
const N_INT = 3;

/** Number of V (changed-value) contexts: new offset & 3. */
export const V_CTXS = 4;

export const OFF_INT = 0;
export const OFF_ZSIGN = OFF_INT + N_INT * INT_SIZE; // 2 probs: previous seek sign
export const OFF_REP = OFF_ZSIGN + 2; // 8 probs: changed byte equals the last one at this alignment
export const OFF_V = OFF_REP + 8; // V_CTXS contexts x 256
export const OFF_LIT = OFF_V + V_CTXS * 256; // 4 contexts x 256: previous output byte >> 6
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

/** Saturation of the "bytes since the last change" counter of the flag model. */
export const SINCE_MAX = 0xffffff;

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

/**
 * Worst-case patch bytes one decoder step consumes: a control triple (3 integers of at most 36
 * decisions, one sign bit; one byte each) is the largest step; a diff byte takes at most 2 (flag) +
 * 1 + 8, a literal 8.
 */
export const MAX_DECISIONS_PER_STEP = 3 * (5 + 31) + 1 + 8 + 2;
