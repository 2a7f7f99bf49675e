/**
 * Simulated NOR flash with fault injection.
 *
 * What it models (and why each matters for a C port):
 *  - a list of physical sector sizes (uniform or not): erase works on whole sectors only;
 *  - erase value 0xFF or 0x00 (STM32L0-style parts erase to 0x00; embassy #3342);
 *  - write alignment 1/2/4/8/16: offset and length of every program must be multiples of it;
 *  - program-only-after-erase: in `strict` mode programming any byte that does not read as the erase
 *    value throws FLASH_NOT_ERASED (MCUboot simflash "write to unerased location"); in `nor` mode a
 *    program can only move bits away from the erase value (AND for 0xFF parts, OR for 0x00 parts);
 *  - per-sector erase counters and an endurance limit (FLASH_WORN_OUT);
 *  - an optional time model (erase/program durations) and a watchdog budget (WATCHDOG_EXPIRED);
 *  - power cuts injected by global operation index: before, after or inside (torn) an erase or program.
 *
 * Every erase of one physical sector and every program call is one *operation*; the `FaultInjector`
 * numbers them so a sweep can cut at every index. After a cut the injector is "dead": every further
 * operation throws POWER_LOSS too, so no code can keep running on a powered-off part.
 */
import { UpdateError } from '../manifest/index.js';

export type EraseValue = 0xff | 0x00;
export type WriteAlign = 1 | 2 | 4 | 8 | 16;

export interface FlashTiming {
  /** Milliseconds to erase one KiB of a sector (erase time scales with sector size). */
  eraseMsPerKiB: number;
  /** Microseconds to program one byte. */
  programUsPerByte: number;
  /** Microseconds to read one byte (hashing an image costs time too). */
  readUsPerByte?: number;
}

export interface FlashGeometry {
  /** Physical sector sizes in address order. */
  sectors: readonly number[];
  eraseValue: EraseValue;
  writeAlign: WriteAlign;
  /** `strict` (default): programming a non-erased byte is an error. `nor`: bits can only be cleared. */
  programMode?: 'strict' | 'nor';
  /** Erase cycles a sector survives; the next erase throws FLASH_WORN_OUT. Default 10 000. */
  endurance?: number;
  timing?: FlashTiming;
  /** Watchdog budget in ms of simulated flash time between kicks (needs `timing`). */
  watchdogMs?: number;
}

export type CutMode = 'before' | 'after' | 'torn';
/** How the part of a torn program that did not complete looks: random bits or still erased/old. */
export type TornFill = 'random' | 'unchanged';

export interface FaultPlan {
  /** Operation index (0-based, counted by the injector) at which power is cut. */
  at: number;
  mode: CutMode;
  /** For torn programs. Default 'random'. */
  fill?: TornFill;
  /** Seed for the torn prefix length and garbage. */
  seed?: number;
}

export type OpKind = 'erase' | 'write' | 'fuse';

/** mulberry32: tiny deterministic PRNG so every torn write is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Numbers every state-changing operation of a device (flash erase/program, fuse burn) and cuts power
 * at the planned one. Shared by all storage of one device so the index is global.
 */
export class FaultInjector {
  /** Index the next operation will get. */
  opIndex = 0;
  plan: FaultPlan | undefined;
  /** True after a cut, until `powerOn()`. */
  dead = false;
  /** Log of the cut (kind and index) for reports. */
  lastCut: { at: number; kind: OpKind; mode: CutMode } | undefined;

  arm(plan: FaultPlan | undefined): void {
    this.plan = plan;
  }

  /** Called by storage before each operation: returns what to do with this one. */
  next(kind: OpKind): CutMode | 'ok' {
    if (this.dead) throw new UpdateError('POWER_LOSS', 'device is powered off');
    const i = this.opIndex++;
    const p = this.plan;
    if (p === undefined || p.at !== i) return 'ok';
    this.lastCut = { at: i, kind, mode: p.mode };
    this.plan = undefined;
    return p.mode;
  }

  /** Mark power as lost and throw. */
  cut(message: string): never {
    this.dead = true;
    throw new UpdateError('POWER_LOSS', message, { details: { op: this.lastCut } });
  }

  powerOn(): void {
    this.dead = false;
  }
}

export interface FlashStats {
  erases: number;
  writes: number;
  bytesWritten: number;
  bytesRead: number;
  /** Simulated milliseconds spent in flash operations (with a time model). */
  elapsedMs: number;
}

export class Flash {
  readonly size: number;
  readonly eraseValue: EraseValue;
  readonly writeAlign: WriteAlign;
  readonly programMode: 'strict' | 'nor';
  readonly endurance: number;
  readonly sectorSizes: readonly number[];
  /** Start offset of each sector, plus a final entry = size. */
  readonly sectorStarts: readonly number[];
  data: Uint8Array;
  eraseCounts: Uint32Array;
  stats: FlashStats = { erases: 0, writes: 0, bytesWritten: 0, bytesRead: 0, elapsedMs: 0 };
  /** Number of FLASH_NOT_ERASED refusals (the sweep requires 0). */
  notErasedViolations = 0;
  private lastKickMs = 0;

  constructor(
    readonly geometry: FlashGeometry,
    readonly faults: FaultInjector = new FaultInjector(),
  ) {
    if (geometry.sectors.length === 0) throw new UpdateError('INTERNAL', 'flash needs at least one sector');
    this.eraseValue = geometry.eraseValue;
    this.writeAlign = geometry.writeAlign;
    this.programMode = geometry.programMode ?? 'strict';
    this.endurance = geometry.endurance ?? 10_000;
    this.sectorSizes = geometry.sectors;
    const starts: number[] = [];
    let off = 0;
    for (const s of geometry.sectors) {
      if (s <= 0 || s % geometry.writeAlign !== 0) throw new UpdateError('INTERNAL', `bad sector size ${s}`);
      starts.push(off);
      off += s;
    }
    starts.push(off);
    this.sectorStarts = starts;
    this.size = off;
    this.data = new Uint8Array(off).fill(geometry.eraseValue);
    this.eraseCounts = new Uint32Array(geometry.sectors.length);
  }

  /** Index of the sector containing `offset`. */
  sectorAt(offset: number): number {
    if (offset < 0 || offset >= this.size) throw new UpdateError('FLASH_OUT_OF_RANGE', `offset ${offset} outside flash`);
    let lo = 0;
    let hi = this.sectorSizes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.sectorStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new UpdateError('FLASH_OUT_OF_RANGE', `range ${offset}+${length} outside flash of ${this.size}`);
    }
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    this.stats.bytesRead += length;
    this.spend((length * (this.geometry.timing?.readUsPerByte ?? 0)) / 1000);
    return this.data.slice(offset, offset + length);
  }

  /** Read into a caller buffer (the RAM-budgeted way). */
  readInto(offset: number, dst: Uint8Array, length = dst.length): void {
    this.checkRange(offset, length);
    this.stats.bytesRead += length;
    this.spend((length * (this.geometry.timing?.readUsPerByte ?? 0)) / 1000);
    dst.set(this.data.subarray(offset, offset + length));
  }

  /** True when every byte of the range reads as the erase value. */
  isErased(offset: number, length: number): boolean {
    this.checkRange(offset, length);
    const ev = this.eraseValue;
    for (let i = offset; i < offset + length; i++) if (this.data[i] !== ev) return false;
    return true;
  }

  /** Erase the whole sectors covering exactly [offset, offset+length). One operation per sector. */
  erase(offset: number, length: number): void {
    this.checkRange(offset, length);
    if (length === 0) return;
    const first = this.sectorAt(offset);
    const last = this.sectorAt(offset + length - 1);
    if (this.sectorStarts[first] !== offset || this.sectorStarts[last + 1] !== offset + length) {
      throw new UpdateError('FLASH_MISALIGNED', `erase ${offset}+${length} is not on sector boundaries`);
    }
    for (let s = first; s <= last; s++) this.eraseSector(s);
  }

  eraseSector(index: number): void {
    const start = this.sectorStarts[index];
    const size = this.sectorSizes[index];
    if (start === undefined || size === undefined) throw new UpdateError('FLASH_OUT_OF_RANGE', `no sector ${index}`);
    const action = this.faults.next('erase');
    if (action === 'before') this.faults.cut(`power cut before erase of sector ${index}`);
    if (this.eraseCounts[index]! >= this.endurance) {
      throw new UpdateError('FLASH_WORN_OUT', `sector ${index} exceeded ${this.endurance} erase cycles`);
    }
    this.eraseCounts[index]!++;
    this.stats.erases++;
    this.spend((size / 1024) * (this.geometry.timing?.eraseMsPerKiB ?? 0));
    if (action === 'torn') {
      // A torn erase leaves garbage: some cells erased, some partly, some untouched (wolfBoot fills 0xEE;
      // we use seeded noise biased toward the erase value so both "mostly erased" and "mixed" occur).
      const rnd = prng(this.faults.lastCut ? this.faults.lastCut.at * 2654435761 + 17 : 1);
      const bias = rnd();
      for (let i = start; i < start + size; i++) {
        const r = rnd();
        if (r < bias) this.data[i] = this.eraseValue;
        else this.data[i] = Math.floor(rnd() * 256);
      }
      this.faults.cut(`power cut inside erase of sector ${index}`);
    }
    this.data.fill(this.eraseValue, start, start + size);
    if (action === 'after') this.faults.cut(`power cut after erase of sector ${index}`);
  }

  /** Program `bytes` at `offset`. One operation. */
  write(offset: number, bytes: Uint8Array, tornFill?: TornFill, tornSeed?: number): void {
    this.checkRange(offset, bytes.length);
    const a = this.writeAlign;
    if (offset % a !== 0 || bytes.length % a !== 0) {
      throw new UpdateError('FLASH_MISALIGNED', `write ${offset}+${bytes.length} not aligned to ${a}`);
    }
    if (bytes.length === 0) return;
    const plan = this.faults.plan;
    const action = this.faults.next('write');
    if (action === 'before') this.faults.cut(`power cut before write at ${offset}`);
    if (this.programMode === 'strict') {
      const ev = this.eraseValue;
      for (let i = 0; i < bytes.length; i++) {
        if (this.data[offset + i] !== ev) {
          this.notErasedViolations++;
          throw new UpdateError('FLASH_NOT_ERASED', `write at ${offset + i} hits a byte that is not erased`, {
            details: { offset: offset + i },
          });
        }
      }
    }
    this.stats.writes++;
    this.stats.bytesWritten += bytes.length;
    this.spend((bytes.length * (this.geometry.timing?.programUsPerByte ?? 0)) / 1000);
    if (action === 'torn') {
      const fill = tornFill ?? plan?.fill ?? 'random';
      const rnd = prng((tornSeed ?? plan?.seed ?? 0) * 31 + (this.faults.lastCut?.at ?? 0) * 7 + 1);
      const prefix = Math.floor(rnd() * bytes.length); // 0 .. len-1 bytes land intact
      for (let i = 0; i < prefix; i++) this.program(offset + i, bytes[i]!);
      if (fill === 'random') {
        for (let i = prefix; i < bytes.length; i++) this.program(offset + i, Math.floor(rnd() * 256));
      }
      this.faults.cut(`power cut inside write at ${offset} (${prefix}/${bytes.length} bytes)`);
    }
    for (let i = 0; i < bytes.length; i++) this.program(offset + i, bytes[i]!);
    if (action === 'after') this.faults.cut(`power cut after write at ${offset}`);
  }

  /** NOR cell physics: programming only moves bits away from the erase value. */
  private program(at: number, v: number): void {
    const old = this.data[at]!;
    this.data[at] = this.eraseValue === 0xff ? old & v : old | v;
  }

  private spend(ms: number): void {
    if (ms === 0) return;
    this.stats.elapsedMs += ms;
    const budget = this.geometry.watchdogMs;
    if (budget !== undefined && this.stats.elapsedMs - this.lastKickMs > budget) {
      this.lastKickMs = this.stats.elapsedMs;
      throw new UpdateError('WATCHDOG_EXPIRED', `flash work ran ${budget} ms without a watchdog kick`);
    }
  }

  /** Reset the watchdog budget (bootloaders kick between bounded units of work). */
  kickWatchdog(): void {
    this.lastKickMs = this.stats.elapsedMs;
  }

  maxEraseCount(from = 0, to = this.sectorSizes.length): number {
    let m = 0;
    for (let i = from; i < to; i++) m = Math.max(m, this.eraseCounts[i]!);
    return m;
  }

  /** A deep copy of contents and wear (for sweeps that restart from the same state). */
  snapshot(): FlashSnapshot {
    return { data: this.data.slice(), eraseCounts: this.eraseCounts.slice(), stats: { ...this.stats } };
  }

  restore(s: FlashSnapshot): void {
    this.data.set(s.data);
    this.eraseCounts.set(s.eraseCounts);
    this.stats = { ...s.stats };
    this.lastKickMs = this.stats.elapsedMs;
  }
}

export interface FlashSnapshot {
  data: Uint8Array;
  eraseCounts: Uint32Array;
  stats: FlashStats;
}
