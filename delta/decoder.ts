/**
 * Streaming, bounded-RAM, resumable delta decoder (the device side). See docs/delta-format.md.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { UpdateError } from '../manifest/errors.js';
import { HEADER_LEN, type PatchHeader, crc32Step as crcStep, parseHeader } from './format.js';
import { FLAG_N, FLAG_WSETS, FLAG_INPUTS, FlagModel, FLAG_COUNTER_INIT, FLAG_W_INIT } from './flag.js';
import { CTX, MAX_DECISIONS_PER_STEP, N_PROBS, OFF_LIT, OFF_REP, OFF_V, OFF_ZSIGN, SINCE_MAX, decInt, decTree } from './model.js';
import { PROB_INIT, RangeDecoder } from './rc.js';

/** Patch bytes buffered by the decoder. A step consumes at most one byte per decision. */
const IN_CAP = 256;
const STEP_MIN = MAX_DECISIONS_PER_STEP;
/** Small cache of old-image bytes (a device with memory-mapped flash could skip it). */
const OLD_BUF = 64;
/** Scalars of the decoder state (positions, counters, coder registers, flag history), generously rounded. */
const STATE_BYTES = 128;
/** Flag model: counters (u16) + mixer weights (i32) + per-prediction scratch (indices, stretches). */
const FLAG_BYTES = FLAG_N * 2 + FLAG_WSETS * FLAG_INPUTS * 4 + FLAG_INPUTS * 8;
/** Adaptive state that a page-boundary snapshot must carry. */
const MODEL_BYTES = N_PROBS * 2 + FLAG_BYTES;
/** SHA-256 context when the decoder hashes the precursor itself (state + block + schedule). */
const HASH_CTX_BYTES = 8 * 4 + 64 + 64 * 4 + 16;

export const DEFAULT_PAGE_SIZE = 4096;
export const DEFAULT_RAM_BUDGET = 16384;

const enum Phase {
  HEADER = 0,
  CTRL = 1,
  DIFF = 2,
  EXTRA = 3,
  DONE = 4,
}

export interface DeltaDecoderOptions {
  /** Read `length` bytes of the precursor (running image) at `offset`. Never called out of [0, oldSize). */
  readOld(offset: number, length: number): Uint8Array;
  /** Program one page of the candidate image. `bytes` is the decoder's page buffer: copy it if kept. */
  writePage(offset: number, bytes: Uint8Array): void;
  /** Write granularity in bytes (default 4096). Pages start at multiples of pageSize; the last may be short. */
  pageSize?: number;
  /** RAM the decoder may use in bytes (default 16384); RAM_BUDGET_EXCEEDED if its needs are larger. */
  ramBudget?: number;
  /** SHA-256 of the running image; if absent the decoder hashes readOld(0, oldSize) once before any write. */
  expectedOldDigest?: Uint8Array;
  /** Size of the running image, if known; must equal the patch's precursor size. */
  oldSize?: number;
  /** The signed target size: the decoder never writes more (PATCH_OUTPUT_OVERFLOW). */
  maxNewSize: number;
  /** Continue from a state exported earlier with exportState(); push patch bytes from state.patchOffset. */
  resumeFrom?: DeltaDecoderState;
}

/** JSON-serialisable decoder state; byte arrays are base64. */
export interface DeltaDecoderState {
  v: 2;
  pageSize: number;
  oldSize: number;
  newSize: number;
  oldDigest: string;
  newCrc32: number;
  /** Bytes of the patch consumed; resume by pushing the patch from this offset. */
  patchOffset: number;
  /** Bytes of the new image produced (pages below pageStart are written). */
  outPos: number;
  oldPos: number;
  phase: number;
  remDiff: number;
  remExtra: number;
  seek: number;
  /** Changed-byte flags of the previous 32 output bytes (bit 0 = previous byte). */
  hist: number;
  since: number;
  dist: number;
  prevSign: number;
  lastByte: number;
  /** Last changed-byte value per new-offset alignment. */
  rep: number[];
  crc: number;
  range: number;
  code: number;
  /** Adaptive probabilities, little-endian u16, base64. */
  probs: string;
  /** Flag-model counters, little-endian u16, base64. */
  flagCounters: string;
  /** Flag-model mixer weights. */
  flagWeights: number[];
  /** Bytes of the current, not yet written page (empty at a page boundary), base64. */
  pending: string;
}

export interface DeltaResult {
  bytesWritten: number;
  peakRamBytes: number;
}

/** RAM the decoder needs for a given page size (probabilities + page + input + old cache + state). */
export function decoderRamBytes(pageSize: number, hashesOld = false): number {
  // the hash context is released before the probabilities and the page buffer are allocated
  return IN_CAP + OLD_BUF + STATE_BYTES + Math.max(hashesOld ? HASH_CTX_BYTES : 0, MODEL_BYTES + pageSize);
}

function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}
function unb64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}
function hex(u: Uint8Array): string {
  return Buffer.from(u).toString('hex');
}

function malformed(msg: string, details?: Record<string, unknown>): UpdateError {
  return new UpdateError('PATCH_MALFORMED', `delta patch: ${msg}`, details ? { details } : {});
}

export class DeltaDecoder {
  private readonly opts: DeltaDecoderOptions;
  private readonly pageSize: number;
  private readonly ramBudget: number;
  private peak = 0;
  private ram = 0;

  // input ring
  private readonly inBuf = new Uint8Array(IN_CAP);
  private inHead = 0;
  private inLen = 0;
  private consumed = 0;
  private finished = false;

  private header: PatchHeader | undefined;
  private probs: Uint16Array = new Uint16Array(0);
  private page: Uint8Array = new Uint8Array(0);
  private readonly rc: RangeDecoder;

  private readonly oldBuf = new Uint8Array(OLD_BUF);
  private oldBufStart = 0;
  private oldBufLen = 0;

  private phase: Phase = Phase.HEADER;
  private outPos = 0;
  private pageStart = 0;
  private oldPos = 0;
  private remDiff = 0;
  private remExtra = 0;
  private seek = 0;
  private hist = 0;
  private since = 0;
  private dist = 0;
  private flag: FlagModel | undefined;
  private prevSign = 0;
  private lastByte = 0;
  private crc = 0;
  private readonly rep = new Uint8Array(4);
  private busy = false;

  constructor(opts: DeltaDecoderOptions) {
    this.opts = opts;
    const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1 << 24)
      throw new UpdateError('USAGE', `delta: bad pageSize ${pageSize}`);
    if (!Number.isInteger(opts.maxNewSize) || opts.maxNewSize < 0)
      throw new UpdateError('USAGE', 'delta: maxNewSize must be a non-negative integer');
    this.pageSize = pageSize;
    this.ramBudget = opts.ramBudget ?? DEFAULT_RAM_BUDGET;
    this.rc = new RangeDecoder(() => this.nextByte());
    const need = decoderRamBytes(pageSize, !opts.expectedOldDigest && !opts.resumeFrom);
    if (need > this.ramBudget)
      throw new UpdateError('RAM_BUDGET_EXCEEDED', `delta: decoder needs ${need} bytes of RAM, budget ${this.ramBudget}`, {
        details: { need, budget: this.ramBudget },
      });
    this.account(IN_CAP + OLD_BUF + STATE_BYTES);
    if (opts.resumeFrom) this.restore(opts.resumeFrom);
  }

  /** Peak RAM the decoder has held (bytes), by its own accounting. */
  get peakRamBytes(): number {
    return this.peak;
  }
  /** New-image bytes produced so far (written pages plus the current page buffer). */
  get bytesWritten(): number {
    return this.outPos;
  }
  /** Patch bytes consumed so far (a resumed decoder counts from the start of the patch). */
  get patchOffset(): number {
    return this.consumed;
  }
  get done(): boolean {
    return this.phase === Phase.DONE;
  }
  /** The parsed header, once seen. */
  get patchHeader(): PatchHeader | undefined {
    return this.header;
  }

  private account(bytes: number): void {
    this.ram += bytes;
    if (this.ram > this.peak) this.peak = this.ram;
    if (this.ram > this.ramBudget)
      throw new UpdateError('RAM_BUDGET_EXCEEDED', `delta: decoder needs ${this.ram} bytes of RAM, budget ${this.ramBudget}`, {
        details: { need: this.ram, budget: this.ramBudget },
      });
  }

  private nextByte(): number {
    if (this.inLen === 0) throw new UpdateError('PATCH_TRUNCATED', 'delta patch ended early', { details: { offset: this.consumed } });
    const b = this.inBuf[this.inHead]!;
    this.inHead = (this.inHead + 1) % IN_CAP;
    this.inLen--;
    this.consumed++;
    return b;
  }

  /** Feed the next bytes of the patch (any chunking). Pages are written as they complete. */
  push(chunk: Uint8Array): void {
    if (this.busy) throw new UpdateError('UPDATE_STATE_INVALID', 'delta: push() re-entered');
    if (this.finished) throw new UpdateError('UPDATE_STATE_INVALID', 'delta: push() after finish()');
    this.busy = true;
    try {
      let off = 0;
      while (off < chunk.length) {
        if (this.phase === Phase.DONE) throw malformed('bytes after the end of the stream', { offset: this.consumed + this.inLen });
        const room = IN_CAP - this.inLen;
        const n = Math.min(room, chunk.length - off);
        for (let i = 0; i < n; i++) this.inBuf[(this.inHead + this.inLen + i) % IN_CAP] = chunk[off + i]!;
        this.inLen += n;
        off += n;
        this.run();
      }
    } finally {
      this.busy = false;
    }
  }

  /** Declare the end of the patch. Checks completeness, trailing bytes and the transport CRC. */
  finish(): DeltaResult {
    if (this.busy) throw new UpdateError('UPDATE_STATE_INVALID', 'delta: finish() re-entered');
    this.busy = true;
    try {
      this.finished = true;
      this.run();
      if (this.phase !== Phase.DONE) throw new UpdateError('PATCH_TRUNCATED', 'delta patch ended early', { details: { offset: this.consumed } });
      if (this.inLen !== 0) throw malformed('bytes after the end of the stream', { offset: this.consumed });
      if (this.rc.code !== 0) throw malformed('range coder did not end cleanly');
      if (this.crc !== this.header!.newCrc32) throw malformed('rebuilt image fails the patch CRC');
      return { bytesWritten: this.outPos, peakRamBytes: this.peak };
    } finally {
      this.busy = false;
    }
  }

  private needsInput(): boolean {
    switch (this.phase) {
      case Phase.HEADER:
        return true;
      case Phase.CTRL:
        return this.outPos < this.header!.newSize;
      case Phase.DIFF:
        return this.remDiff > 0;
      case Phase.EXTRA:
        return this.remExtra > 0;
      default:
        return false;
    }
  }

  private run(): void {
    while (this.phase !== Phase.DONE) {
      if (this.needsInput() && !this.finished && this.inLen < (this.phase === Phase.HEADER ? HEADER_LEN + 5 : STEP_MIN)) return;
      this.step();
      if (this.outPos - this.pageStart === this.pageSize || (this.outPos > this.pageStart && this.outPos === this.header!.newSize))
        this.flush();
    }
  }

  private flush(): void {
    const len = this.outPos - this.pageStart;
    const start = this.pageStart;
    this.pageStart = this.outPos;
    this.opts.writePage(start, this.page.subarray(0, len));
  }

  private oldByte(pos: number): number {
    const k = pos - this.oldBufStart;
    if (k >= 0 && k < this.oldBufLen) return this.oldBuf[k]!;
    this.fillOld(pos);
    return this.oldBuf[0]!;
  }

  /** Old byte for a context: 0 outside the image; the cache window starts a few bytes back. */
  private oldCtx(pos: number): number {
    if (pos < 0 || pos >= this.header!.oldSize) return 0;
    const k = pos - this.oldBufStart;
    if (k >= 0 && k < this.oldBufLen) return this.oldBuf[k]!;
    const start = pos >= 4 ? pos - 4 : 0;
    this.fillOld(start);
    return this.oldBuf[pos - start]!;
  }

  private fillOld(pos: number): void {
    const n = Math.min(OLD_BUF, this.header!.oldSize - pos);
    if (pos < 0 || n <= 0) throw new UpdateError('INTERNAL', 'delta: old read out of range');
    const got = this.opts.readOld(pos, n);
    if (got.length < n) throw new UpdateError('INTERNAL', 'delta: readOld returned too few bytes');
    this.oldBuf.set(got.subarray(0, n));
    this.oldBufStart = pos;
    this.oldBufLen = n;
  }

  private put(b: number): void {
    this.page[this.outPos - this.pageStart] = b;
    this.outPos++;
    this.lastByte = b;
  }

  private step(): void {
    switch (this.phase) {
      case Phase.HEADER:
        return this.stepHeader();
      case Phase.CTRL:
        return this.stepCtrl();
      case Phase.DIFF:
        return this.stepDiff();
      case Phase.EXTRA:
        return this.stepExtra();
    }
  }

  private stepHeader(): void {
    const hb = new Uint8Array(HEADER_LEN);
    if (this.inLen < HEADER_LEN) throw new UpdateError('PATCH_TRUNCATED', 'delta patch: header truncated');
    for (let i = 0; i < HEADER_LEN; i++) hb[i] = this.nextByte();
    const h = parseHeader(hb);
    const o = this.opts;
    if (h.newSize > o.maxNewSize)
      throw new UpdateError('PATCH_OUTPUT_OVERFLOW', `delta patch: new size ${h.newSize} exceeds the signed size ${o.maxNewSize}`, {
        details: { newSize: h.newSize, maxNewSize: o.maxNewSize },
      });
    if (o.oldSize !== undefined && o.oldSize !== h.oldSize)
      throw new UpdateError('PATCH_PRECURSOR_MISMATCH', `delta patch: made for a ${h.oldSize}-byte precursor, running image has ${o.oldSize}`);
    let digest: Uint8Array;
    if (o.expectedOldDigest) digest = o.expectedOldDigest;
    else {
      this.account(HASH_CTX_BYTES);
      this.header = h;
      const ctx = sha256.create();
      for (let pos = 0; pos < h.oldSize; pos += OLD_BUF) {
        this.fillOld(pos);
        ctx.update(this.oldBuf.subarray(0, this.oldBufLen));
      }
      digest = ctx.digest();
      this.ram -= HASH_CTX_BYTES;
    }
    if (digest.length !== 32 || hex(digest) !== hex(h.oldDigest))
      throw new UpdateError('PATCH_PRECURSOR_MISMATCH', 'delta patch: made against another precursor image', {
        details: { expected: hex(h.oldDigest), actual: hex(digest) },
      });
    this.header = h;
    this.account(MODEL_BYTES);
    this.probs = new Uint16Array(N_PROBS).fill(PROB_INIT);
    this.flag = new FlagModel(new Uint16Array(FLAG_N).fill(FLAG_COUNTER_INIT), new Int32Array(FLAG_WSETS * FLAG_INPUTS).fill(FLAG_W_INIT));
    this.account(this.pageSize);
    this.page = new Uint8Array(this.pageSize);
    if (!this.rc.init()) throw malformed('bad range-coder start');
    this.phase = Phase.CTRL;
  }

  private stepCtrl(): void {
    const h = this.header!;
    if (this.outPos === h.newSize) {
      this.phase = Phase.DONE;
      return;
    }
    const p = this.probs;
    const x = decInt(this.rc, p, CTX.X);
    const y = decInt(this.rc, p, CTX.Y);
    const sign = this.rc.decodeBit(p, OFF_ZSIGN + this.prevSign);
    this.prevSign = sign;
    const zm = decInt(this.rc, p, CTX.Z);
    const z = sign ? -zm : zm;
    if (x + y > h.newSize - this.outPos)
      throw new UpdateError('PATCH_OUTPUT_OVERFLOW', 'delta patch: writes past the target size', {
        details: { outPos: this.outPos, x, y, newSize: h.newSize },
      });
    if (this.oldPos + x > h.oldSize) throw malformed('diff reads past the old image', { oldPos: this.oldPos, x });
    const np = this.oldPos + x + z;
    if (np < 0 || np > h.oldSize) throw malformed('seek outside the old image', { oldPos: this.oldPos, x, z });
    this.remDiff = x;
    this.remExtra = y;
    this.seek = z;
    this.phase = Phase.DIFF;
  }

  private stepDiff(): void {
    if (this.remDiff === 0) {
      this.phase = Phase.EXTRA;
      return;
    }
    const p = this.probs;
    const op = this.oldPos;
    const lane = this.outPos & 3;
    const ob = this.oldCtx(op);
    const top = this.oldCtx(op - lane + 3);
    const b2 = this.oldCtx(op - lane + 2);
    const fm = this.flag!;
    const bit = this.rc.decodeP16(fm.predict(lane, ob, top, b2, this.hist, this.since, this.dist));
    fm.update(bit);
    let b = ob;
    if (bit) {
      const v = this.rc.decodeBit(p, OFF_REP + (this.hist & 1) * 4 + lane) ? this.rep[lane]! : decTree(this.rc, p, OFF_V + (this.hist & 3) * 256, 8);
      if (v === 0) throw malformed('zero value where a changed byte was announced');
      this.rep[lane] = v;
      b = (ob + v) & 0xff;
    }
    this.oldPos = op + 1;
    this.put(b);
    this.crc = ~crcStep(~this.crc >>> 0, b) >>> 0;
    this.remDiff--;
    if (this.since < SINCE_MAX) this.since++;
    if (bit) {
      this.dist = this.since;
      this.since = 0;
    }
    this.hist = ((this.hist << 1) | bit) >>> 0;
  }

  private stepExtra(): void {
    if (this.remExtra === 0) {
      this.oldPos += this.seek;
      this.seek = 0;
      this.phase = Phase.CTRL;
      return;
    }
    const b = decTree(this.rc, this.probs, OFF_LIT + (this.lastByte >> 6) * 256, 8);
    this.put(b);
    this.crc = ~crcStep(~this.crc >>> 0, b) >>> 0;
    this.remExtra--;
    this.hist = (this.hist << 1) >>> 0;
    if (this.since < SINCE_MAX) this.since++;
  }

  /** Snapshot at a step boundary (between push() calls or inside writePage). Smallest at a page boundary. */
  exportState(): DeltaDecoderState {
    const h = this.header;
    if (!h || this.phase === Phase.HEADER)
      throw new UpdateError('UPDATE_STATE_INVALID', 'delta: no state before the patch header was processed');
    const pb = new Uint8Array(this.probs.length * 2);
    for (let i = 0; i < this.probs.length; i++) {
      pb[2 * i] = this.probs[i]! & 0xff;
      pb[2 * i + 1] = this.probs[i]! >>> 8;
    }
    const fc = this.flag!.c;
    const fb = new Uint8Array(fc.length * 2);
    for (let i = 0; i < fc.length; i++) {
      fb[2 * i] = fc[i]! & 0xff;
      fb[2 * i + 1] = fc[i]! >>> 8;
    }
    return {
      v: 2,
      pageSize: this.pageSize,
      oldSize: h.oldSize,
      newSize: h.newSize,
      oldDigest: hex(h.oldDigest),
      newCrc32: h.newCrc32,
      patchOffset: this.consumed,
      outPos: this.outPos,
      oldPos: this.oldPos,
      phase: this.phase,
      remDiff: this.remDiff,
      remExtra: this.remExtra,
      seek: this.seek,
      hist: this.hist,
      since: this.since,
      dist: this.dist,
      prevSign: this.prevSign,
      lastByte: this.lastByte,
      rep: Array.from(this.rep),
      crc: this.crc,
      range: this.rc.range,
      code: this.rc.code,
      probs: b64(pb),
      flagCounters: b64(fb),
      flagWeights: Array.from(this.flag!.w),
      pending: b64(this.page.subarray(0, this.outPos - this.pageStart)),
    };
  }

  private restore(s: DeltaDecoderState): void {
    const bad = (why: string): UpdateError => new UpdateError('UPDATE_STATE_INVALID', `delta: resume state invalid: ${why}`);
    const isU = (v: unknown, max = 0xffffffff): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
    if (!s || s.v !== 2) throw bad('version');
    if (s.pageSize !== this.pageSize) throw bad('page size differs');
    for (const k of ['oldSize', 'newSize', 'newCrc32', 'patchOffset', 'outPos', 'oldPos', 'remDiff', 'remExtra', 'hist', 'crc', 'range', 'code'] as const)
      if (!isU(s[k])) throw bad(k);
    if (!isU(s.since, SINCE_MAX) || !isU(s.dist, SINCE_MAX)) throw bad('flag history');
    if (!isU(s.phase, Phase.DONE) || s.phase === Phase.HEADER || !isU(s.prevSign, 1) || !isU(s.lastByte, 255)) throw bad('phase');
    if (!Array.isArray(s.rep) || s.rep.length !== 4 || !s.rep.every((v) => isU(v, 255))) throw bad('rep');
    if (typeof s.seek !== 'number' || !Number.isInteger(s.seek)) throw bad('seek');
    if (s.newSize > this.opts.maxNewSize) throw new UpdateError('PATCH_OUTPUT_OVERFLOW', 'delta: state target exceeds the signed size');
    if (this.opts.oldSize !== undefined && this.opts.oldSize !== s.oldSize) throw new UpdateError('PATCH_PRECURSOR_MISMATCH', 'delta: state made for another precursor');
    if (this.opts.expectedOldDigest && hex(this.opts.expectedOldDigest) !== s.oldDigest)
      throw new UpdateError('PATCH_PRECURSOR_MISMATCH', 'delta: state made for another precursor');
    if (s.outPos > s.newSize || s.oldPos > s.oldSize) throw bad('positions');
    const pb = unb64(s.probs);
    const pending = unb64(s.pending);
    if (pb.length !== N_PROBS * 2) throw bad('probabilities');
    const fb = typeof s.flagCounters === 'string' ? unb64(s.flagCounters) : new Uint8Array(0);
    if (fb.length !== FLAG_N * 2) throw bad('flag counters');
    const fw = s.flagWeights;
    if (!Array.isArray(fw) || fw.length !== FLAG_WSETS * FLAG_INPUTS || !fw.every((x) => typeof x === 'number' && Number.isInteger(x) && Math.abs(x) <= 1 << 22))
      throw bad('flag weights');
    if (pending.length !== s.outPos % this.pageSize && !(pending.length === 0 && s.outPos === s.newSize)) throw bad('pending page');
    this.header = {
      version: 2,
      flags: 0,
      model: 2,
      oldSize: s.oldSize,
      newSize: s.newSize,
      oldDigest: new Uint8Array(Buffer.from(s.oldDigest, 'hex')),
      newCrc32: s.newCrc32,
    };
    this.account(MODEL_BYTES);
    this.probs = new Uint16Array(N_PROBS);
    for (let i = 0; i < N_PROBS; i++) {
      const v = pb[2 * i]! | (pb[2 * i + 1]! << 8);
      if (v < 15 || v > 2033) throw bad('probabilities');
      this.probs[i] = v;
    }
    const fc = new Uint16Array(FLAG_N);
    for (let i = 0; i < FLAG_N; i++) fc[i] = fb[2 * i]! | (fb[2 * i + 1]! << 8);
    this.flag = new FlagModel(fc, Int32Array.from(fw));
    this.account(this.pageSize);
    this.page = new Uint8Array(this.pageSize);
    this.page.set(pending);
    this.consumed = s.patchOffset;
    this.outPos = s.outPos;
    this.pageStart = s.outPos - pending.length;
    this.oldPos = s.oldPos;
    this.phase = s.phase;
    this.remDiff = s.remDiff;
    this.remExtra = s.remExtra;
    this.seek = s.seek;
    this.hist = s.hist;
    this.since = s.since;
    this.dist = s.dist;
    this.prevSign = s.prevSign;
    this.lastByte = s.lastByte;
    this.rep.set(s.rep);
    this.crc = s.crc;
    this.rc.range = s.range;
    this.rc.code = s.code;
  }
}


/** Read-only view of a patch header (sizes, precursor digest) without decoding. */
export function readDeltaHeader(patch: Uint8Array): PatchHeader {
  return parseHeader(patch.subarray(0, HEADER_LEN));
}

export interface ApplyOptions {
  pageSize?: number;
  ramBudget?: number;
  /** Defaults to the patch header's new size. */
  maxNewSize?: number;
  expectedOldDigest?: Uint8Array;
  /** Feed the patch in chunks of this size (default 4096). */
  chunkSize?: number;
}

/** Convenience: apply a whole patch in memory through the streaming decoder. */
export function applyDelta(old: Uint8Array, patch: Uint8Array, opts: ApplyOptions = {}): { output: Uint8Array; peakRamBytes: number } {
  const h = readDeltaHeader(patch);
  const maxNewSize = opts.maxNewSize ?? h.newSize;
  const output = new Uint8Array(Math.min(maxNewSize, h.newSize));
  const dec = new DeltaDecoder({
    readOld: (o, l) => old.subarray(o, o + l),
    writePage: (o, b) => output.set(b, o),
    maxNewSize,
    oldSize: old.length,
    ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
    ...(opts.ramBudget !== undefined ? { ramBudget: opts.ramBudget } : {}),
    ...(opts.expectedOldDigest ? { expectedOldDigest: opts.expectedOldDigest } : {}),
  });
  const cs = opts.chunkSize ?? 4096;
  for (let i = 0; i < patch.length; i += cs) dec.push(patch.subarray(i, i + cs));
  const r = dec.finish();
  return { output, peakRamBytes: r.peakRamBytes };
}
