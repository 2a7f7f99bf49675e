/**
 * LZMA-style adaptive binary range coder (11-bit probabilities, adaptation shift 4).
 *
 * Probabilities live in a caller-owned Uint16Array so that the decoder can account for them and
 * export them. With shift 4 a probability stays in [15, 2033], so one decision shrinks `range` by at
 * most 2048/15 < 2^8 and normalisation reads at most ONE input byte per decision (range >= 2^24
 * before, >= 8192*15 > 2^16 after, one byte shift restores >= 2^24). The decoder relies on this bound to
 * know how many buffered patch bytes a step may consume.
 */
export const PROB_BITS = 11;
export const PROB_INIT = 1 << (PROB_BITS - 1);
const MOVE_BITS = 4;
const TOP = 1 << 24;
const PROB_ONE = 1 << PROB_BITS;

export class RangeEncoder {
  private low = 0; // up to 2^33, kept in a double
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private out: Uint8Array = new Uint8Array(1 << 16);
  private len = 0;

  private put(b: number): void {
    if (this.len === this.out.length) {
      const n = new Uint8Array(this.out.length * 2);
      n.set(this.out);
      this.out = n;
    }
    this.out[this.len++] = b;
  }

  private shiftLow(): void {
    const lo32 = this.low >>> 0;
    const hi = this.low > 0xffffffff ? 1 : 0;
    if (lo32 < 0xff000000 || hi !== 0) {
      let temp = this.cache;
      do {
        this.put((temp + hi) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = lo32 >>> 24;
    }
    this.cacheSize++;
    this.low = (lo32 & 0x00ffffff) * 256;
  }

  encodeBit(probs: Uint16Array, i: number, bit: number): void {
    const p = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * p;
    if (bit === 0) {
      this.range = bound;
      probs[i] = p + ((PROB_ONE - p) >>> MOVE_BITS);
    } else {
      this.low += bound;
      this.range = (this.range - bound) >>> 0;
      probs[i] = p - (p >>> MOVE_BITS);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  /** A decision with an external 16-bit probability `p1` = P(bit = 1) in [16, 65520] (not adapted here). */
  encodeP16(p1: number, bit: number): void {
    const bound = (this.range >>> 16) * (65536 - p1);
    if (bit === 0) this.range = bound;
    else {
      this.low += bound;
      this.range = (this.range - bound) >>> 0;
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  encodeDirect(value: number, nbits: number): void {
    for (let k = nbits - 1; k >= 0; k--) {
      this.range = this.range >>> 1;
      if ((Math.floor(value / 2 ** k) & 1) !== 0) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.shiftLow();
      }
    }
  }

  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return this.out.slice(0, this.len);
  }
}

/** Cost model (in 1/16 bit units) used by the encoder for decisions; not needed by the decoder. */
export const BIT_COST: Uint16Array = (() => {
  const t = new Uint16Array(PROB_ONE + 1);
  for (let p = 1; p < PROB_ONE; p++) t[p] = Math.round(-Math.log2(p / PROB_ONE) * 16);
  t[0] = t[1]!;
  t[PROB_ONE] = 0;
  return t;
})();

/**
 * Decoder half. Input comes from a small ring buffer owned by the caller-side decoder; `next`
 * returns -1 when no byte is available (the caller turns that into PATCH_TRUNCATED).
 */
export class RangeDecoder {
  range = 0xffffffff;
  code = 0;
  /** bytes consumed from the source */
  constructor(private readonly next: () => number) {}

  /** Reads the 5 init bytes. Returns false if the first byte is not 0 (malformed). */
  init(): boolean {
    this.range = 0xffffffff;
    this.code = 0;
    const first = this.byte();
    for (let i = 0; i < 4; i++) this.code = ((this.code * 256) + this.byte()) >>> 0;
    return first === 0 && this.code !== 0xffffffff;
  }

  private byte(): number {
    return this.next();
  }

  decodeBit(probs: Uint16Array, i: number): number {
    const p = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((PROB_ONE - p) >>> MOVE_BITS);
      bit = 0;
    } else {
      this.code = (this.code - bound) >>> 0;
      this.range = (this.range - bound) >>> 0;
      probs[i] = p - (p >>> MOVE_BITS);
      bit = 1;
    }
    if (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.code = ((this.code * 256) + this.next()) >>> 0;
    }
    return bit;
  }

  /** Counterpart of encodeP16: consumes at most TWO input bytes (range shrinks by at most 2^12). */
  decodeP16(p1: number): number {
    const bound = (this.range >>> 16) * (65536 - p1);
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      bit = 0;
    } else {
      this.code = (this.code - bound) >>> 0;
      this.range = (this.range - bound) >>> 0;
      bit = 1;
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.code = ((this.code * 256) + this.next()) >>> 0;
    }
    return bit;
  }

  decodeDirect(nbits: number): number {
    let v = 0;
    for (let k = 0; k < nbits; k++) {
      this.range = this.range >>> 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code = (this.code - this.range) >>> 0;
        b = 1;
      }
      v = v * 2 + b;
      if (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.code = ((this.code * 256) + this.next()) >>> 0;
      }
    }
    return v;
  }
}
