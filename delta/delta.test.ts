import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UpdateError } from '../manifest/errors.js';
import { DeltaDecoder, type DeltaDecoderState, applyDelta, encodeDelta, readDeltaHeader } from './index.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { crc32Update } from './format.js';
import { readFixture } from '../test/support/fixtures.js';

const crc32 = (b: Uint8Array): number => crc32Update(0, b);

const corpus = (name: string): Uint8Array => readFixture(`corpus/${name}`);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pseudo machine code: words with a few opcodes and small offsets. */
function synthOld(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    b[i] = Math.floor(r() * 16);
    b[i + 1] = Math.floor(r() * 256);
    b[i + 2] = r() < 0.5 ? 0 : Math.floor(r() * 256);
    b[i + 3] = [0x94, 0xeb, 0x47, 0xf0][Math.floor(r() * 4)]!;
  }
  return b;
}

function mutate(old: Uint8Array, seed: number): Uint8Array {
  const r = rng(seed);
  const parts: number[] = [];
  let i = 0;
  while (i < old.length) {
    const k = r();
    if (k < 0.02) {
      const len = Math.floor(r() * 300);
      for (let j = 0; j < len; j++) parts.push(Math.floor(r() * 256));
    } else if (k < 0.04) i += Math.floor(r() * 200);
    else {
      const len = Math.floor(r() * 2000);
      for (let j = 0; j < len && i < old.length; j++, i++) parts.push(r() < 0.01 ? (old[i]! + 4) & 0xff : old[i]!);
    }
  }
  return new Uint8Array(parts);
}

function expectCode(fn: () => unknown, codes: string[]): UpdateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UpdateError);
    expect(codes).toContain((e as UpdateError).code);
    return e as UpdateError;
  }
  throw new Error(`expected one of ${codes.join(', ')}`);
}

/** Decode through the streaming API in chunks, with strict range checks on old reads and writes. */
function decodeStrict(old: Uint8Array, patch: Uint8Array, opts: { pageSize?: number; chunk?: number; maxNewSize?: number; ramBudget?: number } = {}) {
  const maxNewSize = opts.maxNewSize ?? 1 << 20;
  const out = new Uint8Array(maxNewSize);
  let writes = 0;
  let expectNext = 0;
  const dec = new DeltaDecoder({
    readOld(o, l) {
      if (o < 0 || l <= 0 || o + l > old.length) throw new Error(`readOld out of range ${o}+${l}`);
      return old.subarray(o, o + l);
    },
    writePage(o, b) {
      if (o !== expectNext || o + b.length > maxNewSize) throw new Error(`bad write ${o}+${b.length}`);
      expectNext = o + b.length;
      out.set(b, o);
      writes++;
    },
    maxNewSize,
    pageSize: opts.pageSize ?? 1024,
    ...(opts.ramBudget !== undefined ? { ramBudget: opts.ramBudget } : {}),
  });
  const cs = opts.chunk ?? 777;
  try {
    for (let i = 0; i < patch.length; i += cs) dec.push(patch.subarray(i, i + cs));
    const r = dec.finish();
    return { output: out.slice(0, r.bytesWritten), peak: r.peakRamBytes, writes, dec };
  } finally {
    expect(dec.peakRamBytes).toBeLessThanOrEqual(opts.ramBudget ?? 16384);
  }
}

describe('delta round trip', () => {
  it('synthetic pairs, chunkings and page sizes', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const old = synthOld(5000 + seed * 3000, seed);
      const nw = mutate(old, seed + 100);
      const patch = encodeDelta(old, nw);
      for (const [pageSize, chunk] of [[256, 1], [4096, 4096], [1000, 333]] as const) {
        const r = decodeStrict(old, patch, { pageSize, chunk });
        expect(Buffer.compare(Buffer.from(r.output), Buffer.from(nw))).toBe(0);
      }
    }
  });

  it('edge cases: empty old, empty new, identical, unrelated', () => {
    const a = synthOld(4000, 7);
    const b = synthOld(3000, 8);
    for (const [o, n] of [
      [new Uint8Array(0), b],
      [a, new Uint8Array(0)],
      [new Uint8Array(0), new Uint8Array(0)],
      [a, a],
      [a, b],
      [new Uint8Array(1), new Uint8Array(1).fill(9)],
    ] as const) {
      const patch = encodeDelta(o, n);
      const r = applyDelta(o, patch, { pageSize: 512 });
      expect(Buffer.from(r.output).equals(Buffer.from(n))).toBe(true);
      expect(r.peakRamBytes).toBeLessThanOrEqual(16384);
    }
  });

  for (const pair of ['programmer-0.8.0-0.9.0', 'mbed-blinky-k64f']) {
    it(`corpus pair ${pair}`, () => {
      const old = corpus(`${pair}-from.bin`);
      const nw = corpus(`${pair}-to.bin`);
      const patch = encodeDelta(old, nw);
      expect(patch.length).toBeLessThan(nw.length / 5);
      const r = decodeStrict(old, patch, { pageSize: 4096, chunk: 1500 });
      expect(Buffer.from(r.output).equals(Buffer.from(nw))).toBe(true);
      expect(r.peak).toBeLessThanOrEqual(16384);
      expect(readDeltaHeader(patch).newSize).toBe(nw.length);
    });
  }
});

describe('delta rejects bad input', () => {
  const old = synthOld(20000, 42);
  const nw = mutate(old, 43);
  const patch = encodeDelta(old, nw);

  it('wrong precursor is rejected before any write (hashing old, or with a given digest)', () => {
    const other = old.slice();
    other[1234] = other[1234]! ^ 1;
    let writes = 0;
    const mk = (o: Uint8Array, extra: { expectedOldDigest?: Uint8Array; oldSize?: number }) =>
      new DeltaDecoder({ readOld: (a, l) => o.subarray(a, a + l), writePage: () => void writes++, maxNewSize: nw.length, ...extra });
    for (const d of [mk(other, {}), mk(old, { expectedOldDigest: sha256(other) }), mk(old, { oldSize: old.length - 1 })]) {
      expectCode(() => {
        d.push(patch);
        d.finish();
      }, ['PATCH_PRECURSOR_MISMATCH']);
    }
    expect(writes).toBe(0);
    // the right digest passes without hashing
    const ok = mk(old, { expectedOldDigest: sha256(old) });
    ok.push(patch);
    ok.finish();
    expect(writes).toBeGreaterThan(0);
  });

  it('truncated patches are rejected with PATCH_TRUNCATED', () => {
    for (const cut of [0, 1, 10, 55, 56, 60, 100, patch.length >> 1, patch.length - 2, patch.length - 1])
      expectCode(() => decodeStrict(old, patch.subarray(0, cut), { maxNewSize: nw.length }), ['PATCH_TRUNCATED']);
  });

  it('trailing bytes are rejected', () => {
    const p2 = new Uint8Array(patch.length + 1);
    p2.set(patch);
    expectCode(() => decodeStrict(old, p2, { maxNewSize: nw.length }), ['PATCH_MALFORMED']);
  });

  it('every single bit flip (sampled) is rejected with a patch code', () => {
    const r = rng(5);
    const positions = [...Array(60).keys(), ...Array.from({ length: 200 }, () => Math.floor(r() * patch.length)), patch.length - 1];
    for (const pos of positions) {
      const bad = patch.slice();
      bad[pos] = bad[pos]! ^ (1 << Math.floor(r() * 8));
      expectCode(() => decodeStrict(old, bad, { maxNewSize: nw.length }), [
        'PATCH_MALFORMED',
        'PATCH_TRUNCATED',
        'PATCH_OUTPUT_OVERFLOW',
        'PATCH_PRECURSOR_MISMATCH',
      ]);
    }
  });

  it('a patch larger than the signed size is rejected before any write', () => {
    let writes = 0;
    const d = new DeltaDecoder({ readOld: (a, l) => old.subarray(a, a + l), writePage: () => void writes++, maxNewSize: nw.length - 1 });
    expectCode(() => d.push(patch), ['PATCH_OUTPUT_OVERFLOW']);
    expect(writes).toBe(0);
  });

  it('a RAM budget that is too small is refused', () => {
    expectCode(() => new DeltaDecoder({ readOld: () => new Uint8Array(0), writePage: () => {}, maxNewSize: 10, ramBudget: 8000 }), ['RAM_BUDGET_EXCEEDED']);
    expectCode(() => new DeltaDecoder({ readOld: () => new Uint8Array(0), writePage: () => {}, maxNewSize: 10, pageSize: 16384 }), ['RAM_BUDGET_EXCEEDED']);
  });
});

describe('delta decoder fuzz', () => {
  const old = synthOld(3000, 9);
  const nw = mutate(old, 10);
  const patch = encodeDelta(old, nw);
  const ok = ['PATCH_MALFORMED', 'PATCH_TRUNCATED', 'PATCH_OUTPUT_OVERFLOW', 'PATCH_PRECURSOR_MISMATCH'];
  const check = (p: Uint8Array, chunk: number): void => {
    try {
      decodeStrict(old, p, { maxNewSize: nw.length + 64, chunk, pageSize: 512 });
    } catch (e) {
      if (!(e instanceof UpdateError)) throw e;
      expect(ok).toContain(e.code);
    }
  };

  it('random bytes, and random bodies behind a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.integer({ min: 1, max: 700 }), (body, withHeader, chunk) => {
        const p = withHeader ? new Uint8Array([...patch.subarray(0, 56), 0, ...body]) : body;
        check(p, chunk);
      }),
      { numRuns: 400 },
    );
  });

  it('mutated real patches (flips, splices, cuts)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 900 }),
        (muts, chunk) => {
          let p = Array.from(patch);
          for (const [at, v, kind] of muts) {
            const i = 56 + (at % Math.max(1, p.length - 56));
            if (kind === 0) p[i] = v;
            else if (kind === 1) p.splice(i, 0, v);
            else p = p.slice(0, i);
          }
          check(new Uint8Array(p), chunk);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('delta resume', () => {
  it('resumes at every page boundary of a corpus pair with the identical image', () => {
    const old = corpus('programmer-0.8.0-0.9.0-from.bin');
    const nw = corpus('programmer-0.8.0-0.9.0-to.bin');
    const patch = encodeDelta(old, nw);
    const pageSize = 512;
    const pages = Math.ceil(nw.length / pageSize);
    class PowerCut extends Error {}
    for (let k = 1; k <= pages; k++) {
      const flash = new Uint8Array(nw.length).fill(0xff);
      let saved: string | undefined;
      let n = 0;
      const d1: DeltaDecoder = new DeltaDecoder({
        readOld: (a, l) => old.subarray(a, a + l),
        writePage: (o, b) => {
          flash.set(b, o);
          if (++n === k) {
            saved = JSON.stringify(d1.exportState());
            throw new PowerCut();
          }
        },
        maxNewSize: nw.length,
        pageSize,
      });
      try {
        for (let i = 0; i < patch.length; i += 100) d1.push(patch.subarray(i, i + 100));
        d1.finish();
      } catch (e) {
        if (!(e instanceof PowerCut)) throw e;
      }
      expect(saved).toBeDefined();
      const state = JSON.parse(saved!) as DeltaDecoderState;
      expect(state.outPos).toBe(Math.min(k * pageSize, nw.length));
      const d2 = new DeltaDecoder({
        readOld: (a, l) => old.subarray(a, a + l),
        writePage: (o, b) => flash.set(b, o),
        maxNewSize: nw.length,
        pageSize,
        expectedOldDigest: sha256(old),
        resumeFrom: state,
      });
      const rest = patch.subarray(state.patchOffset);
      for (let i = 0; i < rest.length; i += 333) d2.push(rest.subarray(i, i + 333));
      d2.finish();
      expect(Buffer.from(flash).equals(Buffer.from(nw))).toBe(true);
      expect(d2.peakRamBytes).toBeLessThanOrEqual(16384);
    }
  });

  it('refuses a resume state with a damaged changed-byte model, and version 1 patches', () => {
    const old = synthOld(9000, 5);
    const nw = mutate(old, 6);
    const patch = encodeDelta(old, nw);
    const d1 = new DeltaDecoder({ readOld: (a, l) => old.subarray(a, a + l), writePage: () => {}, maxNewSize: nw.length, pageSize: 1024 });
    d1.push(patch.subarray(0, patch.length >> 1));
    const st = d1.exportState();
    const mk = (s: DeltaDecoderState) => () =>
      new DeltaDecoder({ readOld: (a, l) => old.subarray(a, a + l), writePage: () => {}, maxNewSize: nw.length, pageSize: 1024, resumeFrom: s });
    for (const bad of [
      { ...st, flagWeights: st.flagWeights.slice(1) },
      { ...st, flagWeights: st.flagWeights.map(() => 1 << 23) },
      { ...st, flagCounters: st.flagCounters.slice(8) },
      { ...st, since: -1 },
      { ...st, dist: 1 << 25 },
      { ...st, hist: 2 ** 32 },
      { ...st, v: 1 as unknown as 2 },
    ])
      expectCode(mk(bad), ['UPDATE_STATE_INVALID']);
    const v1 = patch.slice(0, 56);
    v1[4] = 1;
    v1[6] = 1;
    const c = new DataView(v1.buffer);
    c.setUint32(52, crc32(v1.subarray(0, 52)), true);
    expectCode(() => readDeltaHeader(v1), ['PATCH_MALFORMED']);
  });

  it('exports mid-page state between pushes and resumes from it', () => {
    const old = synthOld(9000, 3);
    const nw = mutate(old, 4);
    const patch = encodeDelta(old, nw);
    const out = new Uint8Array(nw.length);
    const d1 = new DeltaDecoder({ readOld: (a, l) => old.subarray(a, a + l), writePage: (o, b) => out.set(b, o), maxNewSize: nw.length, pageSize: 1024 });
    d1.push(patch.subarray(0, patch.length >> 1));
    const st = d1.exportState();
    const d2 = new DeltaDecoder({ readOld: (a, l) => old.subarray(a, a + l), writePage: (o, b) => out.set(b, o), maxNewSize: nw.length, pageSize: 1024, resumeFrom: st });
    d2.push(patch.subarray(st.patchOffset));
    d2.finish();
    expect(Buffer.from(out).equals(Buffer.from(nw))).toBe(true);
  });
});
