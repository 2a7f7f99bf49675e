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
const LR = 5;

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
  private readonly idx = new Int32Array(FLAG_INPUTS);
  private readonly st = new Int32Array(FLAG_INPUTS);
  private wbase = 0;
  private p16 = 32768;
  constructor(
    readonly c: Uint16Array,
    readonly w: Int32Array,
  ) {}

  predict(lane: number, o: number, top: number, b2: number, h: number, since: number, dist: number): number {
    const idx = this.idx;
    const prev = h & 1;
    idx[0] = FLAG_M0 + ((lane << 6) | (h & 63));
    idx[1] = FLAG_M1 + ((lane << 8) | o);
    idx[2] = FLAG_M2 + (Math.imul((lane << 16) | (top << 8) | b2, 0x9e3779b1) >>> (32 - FLAG_M2_BITS));
    const stride = dist >= 1 && dist <= 32 ? ((h >>> (dist - 1)) & 1) + 1 : 0;
    idx[3] = FLAG_M3 + stride * 64 + lane * 16 + prev * 8 + (since < 7 ? since : 7);
    this.wbase = (lane * 2 + prev) * FLAG_INPUTS;
    let dot = 0;
    for (let i = 0; i < FLAG_INPUTS; i++) {
      const s = STRETCH12[this.c[idx[i]!]! >>> 4]!;
      this.st[i] = s;
      dot += this.w[this.wbase + i]! * s;
    }
    let x = Math.floor(dot / 65536);
    if (x > 2047) x = 2047;
    else if (x < -2047) x = -2047;
    this.p16 = SQUASH16[x + 2047]!;
    return this.p16;
  }

  update(bit: number): void {
    const err = (bit << 16) - this.p16; // within ±65536
    for (let i = 0; i < FLAG_INPUTS; i++) {
      const k = this.wbase + i;
      let nw = this.w[k]! + Math.floor((err * this.st[i]! * LR) / 65536);
      if (nw > W_MAX) nw = W_MAX;
      else if (nw < -W_MAX) nw = -W_MAX;
      this.w[k] = nw;
      const j = this.idx[i]!;
      const e = this.c[j]!;
      const p = e >>> 4;
      const n = e & 15;
      const np = p + ((((bit ? 4095 : 0) - p) * DT[n]!) >> 16);
      this.c[j] = (np << 4) | (n < 15 ? n + 1 : 15);
    }
  }
}
