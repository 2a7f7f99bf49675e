/**
 * "Is this byte changed?" model for diff regions (format version 2): four small context models mixed
 * by a logistic mixer, all in integer arithmetic so encoder and decoder agree bit for bit.
 *
 * Inputs per byte (see docs/delta-format.md, "Changed-byte flag"):
 *   lane  = outPos & 3, o = old byte under the cursor, top/b2 = old bytes 3 and 2 of the 4-byte word
 *   (aligned by the NEW offset) that contains the cursor, h = flags of the previous 32 output bytes
 *   (bit 0 = previous byte), since = bytes since the last changed byte, dist = distance between the
 *   last two changed bytes.
 */

/** Counters per model: m0 lane x 6 flags, m1 lane x old byte, m2 hash(lane, top, b2), m3 stride. */
export const FLAG_M0 = 0;
export const FLAG_M1 = FLAG_M0 + 4 * 64;
export const FLAG_M2 = FLAG_M1 + 4 * 256;
export const FLAG_M2_BITS = 10;
export const FLAG_M3 = FLAG_M2 + (1 << FLAG_M2_BITS);
export const FLAG_N = FLAG_M3 + 3 * 64;
export const FLAG_INPUTS = 4;
export const FLAG_WSETS = 8;
export const FLAG_W_INIT = 19661; // 0.3 in 16.16
const W_MAX = 1 << 22;
const LR = 2;

/** stretch(p) = ln(p/(1-p)) scaled by 256, for 12-bit probabilities; squash to 16 bits. */
export const STRETCH12: Int16Array = (() => {
  const t = new Int16Array(4096);
  for (let i = 0; i < 4096; i++) {
    const p = (i + 0.5) / 4096;
    t[i] = Math.max(-2047, Math.min(2047, Math.round(256 * Math.log(p / (1 - p)))));
  }
  return t;
})();
export const SQUASH16: Uint16Array = (() => {
  const t = new Uint16Array(4095);
  for (let x = -2047; x <= 2047; x++) t[x + 2047] = Math.max(16, Math.min(65520, Math.round(65536 / (1 + Math.exp(-x / 256)))));
  return t;
})();
/** Adaptation: counter state = p12 << 4 | n; rate 1/(n+1.5), n saturating at 15. */
const DT: Int32Array = (() => {
  const t = new Int32Array(16);
  for (let n = 0; n < 16; n++) t[n] = Math.floor(65536 / (n + 1.5));
  return t;
})();
export const FLAG_COUNTER_INIT = (2048 << 4) | 0;

export function newFlagTables(): { c: Uint16Array; w: Int32Array } {
  return { c: new Uint16Array(FLAG_N).fill(FLAG_COUNTER_INIT), w: new Int32Array(FLAG_WSETS * FLAG_INPUTS).fill(FLAG_W_INIT) };
}

/**
 * One prediction/update cycle. Usage: `p1 = m.predict(...)` (P(changed) in 1/65536), code the bit,
 * `m.update(bit)`.
 */
export class FlagModel {
  private i0 = 0;
  private i1 = 0;
  private i2 = 0;
  private i3 = 0;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private wbase = 0;
  private p16 = 32768;
  constructor(
    readonly c: Uint16Array,
    readonly w: Int32Array,
  ) {}

  predict(lane: number, o: number, top: number, b2: number, h: number, since: number, dist: number): number {
    const c = this.c;
    const w = this.w;
    const prev = h & 1;
    const i0 = FLAG_M0 + ((lane << 6) | (h & 63));
    const i1 = FLAG_M1 + ((lane << 8) | o);
    const i2 = FLAG_M2 + (Math.imul((lane << 16) | (top << 8) | b2, 0x9e3779b1) >>> (32 - FLAG_M2_BITS));
    const stride = dist >= 1 && dist <= 32 ? ((h >>> (dist - 1)) & 1) + 1 : 0;
    const i3 = FLAG_M3 + stride * 64 + lane * 16 + prev * 8 + (since < 7 ? since : 7);
    const wb = (lane * 2 + prev) * FLAG_INPUTS;
    const s0 = STRETCH12[c[i0]! >>> 4]!;
    const s1 = STRETCH12[c[i1]! >>> 4]!;
    const s2 = STRETCH12[c[i2]! >>> 4]!;
    const s3 = STRETCH12[c[i3]! >>> 4]!;
    const dot = w[wb]! * s0 + w[wb + 1]! * s1 + w[wb + 2]! * s2 + w[wb + 3]! * s3;
    let x = Math.floor(dot / 65536);
    if (x > 2047) x = 2047;
    else if (x < -2047) x = -2047;
    this.i0 = i0;
    this.i1 = i1;
    this.i2 = i2;
    this.i3 = i3;
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    this.wbase = wb;
    return (this.p16 = SQUASH16[x + 2047]!);
  }

  update(bit: number): void {
    const err = (bit << 16) - this.p16; // within ±65536
    const wb = this.wbase;
    const w = this.w;
    w[wb] = clampW(w[wb]! + Math.floor((err * this.s0 * LR) / 65536));
    w[wb + 1] = clampW(w[wb + 1]! + Math.floor((err * this.s1 * LR) / 65536));
    w[wb + 2] = clampW(w[wb + 2]! + Math.floor((err * this.s2 * LR) / 65536));
    w[wb + 3] = clampW(w[wb + 3]! + Math.floor((err * this.s3 * LR) / 65536));
    const t = bit ? 4095 : 0;
    const c = this.c;
    adapt(c, this.i0, t);
    adapt(c, this.i1, t);
    adapt(c, this.i2, t);
    adapt(c, this.i3, t);
  }
}

function clampW(v: number): number {
  return v > W_MAX ? W_MAX : v < -W_MAX ? -W_MAX : v;
}

function adapt(c: Uint16Array, j: number, target: number): void {
  const e = c[j]!;
  const p = e >>> 4;
  const n = e & 15;
  c[j] = ((p + (((target - p) * DT[n]!) >> 16)) << 4) | (n < 15 ? n + 1 : 15);
}
