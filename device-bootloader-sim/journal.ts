/**
 * A power-fail-safe key/value journal on two erase units (A/B), the device's only mutable metadata.
 *
 * Layout of each unit:
 *   [header: "SJRN" gen:u32le crc:u32le pad] [record] [record] ... [erased]
 *   record = 0xA5 key:u8 len:u16le payload crc32(tag..payload):u32le, padded with the erase value to
 *   the write alignment.
 *
 * Rules that make every power cut safe (each one is exercised by the fault sweep):
 *  - A unit is valid only if its header CRC checks; the valid unit with the highest generation is
 *    active. A compaction writes all live records into the *other* unit first and its header LAST,
 *    so a cut anywhere in a compaction leaves the old unit active and complete.
 *  - An append is one program operation. A torn record fails its CRC: the log ends just before it,
 *    so the previous value of that key stays current (old or new, never neither).
 *  - The free space after the last good record must be fully erased; if not (torn record, garbage),
 *    the next append compacts first, so nothing is ever programmed over non-erased bytes.
 *  - Garbage left by a torn erase could only pose as a valid header or record with ~2^-32 probability
 *    per candidate (magic + CRC-32); the sweep uses seeded garbage, so a run is reproducible.
 * Wear: a unit is erased once per compaction; with 2 units each sees half the compactions.
 */
import { UpdateError } from '../manifest/index.js';
import { crc32 } from './crc32.js';
import type { Flash } from './flash.js';

export interface Unit {
  offset: number;
  size: number;
}

const HDR_MAGIC = [0x53, 0x4a, 0x52, 0x4e]; // "SJRN"
const REC_TAG = 0xa5;
const HDR_LEN = 12;

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export class Journal {
  private active = -1; // index into units, -1 = none formatted
  private gen = 0;
  private writePos = 0; // next record offset inside the active unit
  private clean = false; // free space after writePos is fully erased
  private readonly values = new Map<number, Uint8Array>();
  readonly headerSize: number;
  /** Compactions done (each erases one unit). */
  compactions = 0;

  constructor(
    private readonly flash: Flash,
    private readonly units: [Unit, Unit],
  ) {
    this.headerSize = roundUp(16, flash.writeAlign);
  }

  /** Scan both units and load the latest value of every key. Reads only. */
  mount(): void {
    this.values.clear();
    this.active = -1;
    let best = -1;
    let bestGen = -1;
    for (let u = 0; u < 2; u++) {
      const g = this.readHeader(u);
      if (g !== undefined && g > bestGen) {
        best = u;
        bestGen = g;
      }
    }
    if (best < 0) {
      this.clean = false;
      return;
    }
    this.active = best;
    this.gen = bestGen;
    const unit = this.units[best]!;
    let pos = this.headerSize;
    const align = this.flash.writeAlign;
    for (;;) {
      if (pos + 8 > unit.size) break;
      const head = this.flash.read(unit.offset + pos, 4);
      if (head[0] !== REC_TAG) break;
      const len = head[2]! | (head[3]! << 8);
      const total = roundUp(4 + len + 4, align);
      if (pos + total > unit.size) break;
      const rec = this.flash.read(unit.offset + pos, 4 + len + 4);
      const want = crc32(rec, 0, 4 + len);
      const got = (rec[4 + len]! | (rec[5 + len]! << 8) | (rec[6 + len]! << 16) | (rec[7 + len]! << 24)) >>> 0;
      if (want !== got) break;
      this.values.set(head[1]!, rec.slice(4, 4 + len));
      pos += total;
    }
    this.writePos = pos;
    this.clean = pos >= unit.size || this.flash.isErased(unit.offset + pos, unit.size - pos);
  }

  private readHeader(u: number): number | undefined {
    const unit = this.units[u]!;
    const h = this.flash.read(unit.offset, HDR_LEN);
    for (let i = 0; i < 4; i++) if (h[i] !== HDR_MAGIC[i]) return undefined;
    const gen = (h[4]! | (h[5]! << 8) | (h[6]! << 16) | (h[7]! << 24)) >>> 0;
    const c = (h[8]! | (h[9]! << 8) | (h[10]! << 16) | (h[11]! << 24)) >>> 0;
    return crc32(h, 0, 8) === c ? gen : undefined;
  }

  get(key: number): Uint8Array | undefined {
    return this.values.get(key);
  }

  get generation(): number {
    return this.gen;
  }

  /** Bytes left for appends in the active unit before the next compaction (0 if dirty). */
  get freeBytes(): number {
    return this.active >= 0 && this.clean ? this.units[this.active]!.size - this.writePos : 0;
  }

  /** Bytes a record with this payload occupies. */
  recordBytes(payloadLength: number): number {
    return roundUp(4 + payloadLength + 4, this.flash.writeAlign);
  }

  /** Largest payload that fits in a record. */
  get maxPayload(): number {
    return Math.min(0xffff, this.units[0].size - this.headerSize - 8 - this.flash.writeAlign);
  }

  /** Persist `payload` as the new value of `key` (atomic: after a cut the old or the new value is current). */
  put(key: number, payload: Uint8Array): void {
    if (key < 0 || key > 255) throw new UpdateError('INTERNAL', `journal key ${key}`);
    if (payload.length > this.maxPayload) throw new UpdateError('INPUT_TOO_LARGE', `journal record of ${payload.length} B does not fit`);
    const rec = this.encodeRecord(key, payload);
    if (this.active >= 0 && this.clean && this.writePos + rec.length <= this.units[this.active]!.size) {
      const unit = this.units[this.active]!;
      this.flash.write(unit.offset + this.writePos, rec);
      this.writePos += rec.length;
      this.values.set(key, payload.slice());
      return;
    }
    const next = new Map(this.values);
    next.set(key, payload.slice());
    this.compactInto(next);
  }

  /** Write `vals` into the other unit and make it active (header last). */
  private compactInto(vals: Map<number, Uint8Array>): void {
    const target = this.active === 0 ? 1 : 0;
    const unit = this.units[target]!;
    const records = [...vals].sort((a, b) => a[0] - b[0]).map(([k, v]) => this.encodeRecord(k, v));
    const need = this.headerSize + records.reduce((s, r) => s + r.length, 0);
    if (need > unit.size) throw new UpdateError('INPUT_TOO_LARGE', 'journal contents exceed one unit');
    this.flash.erase(unit.offset, unit.size);
    let pos = this.headerSize;
    for (const r of records) {
      this.flash.write(unit.offset + pos, r);
      pos += r.length;
    }
    const newGen = this.active < 0 ? 1 : (this.gen + 1) >>> 0;
    const hdr = new Uint8Array(this.headerSize).fill(this.flash.eraseValue);
    hdr.set(HDR_MAGIC, 0);
    hdr[4] = newGen & 0xff;
    hdr[5] = (newGen >>> 8) & 0xff;
    hdr[6] = (newGen >>> 16) & 0xff;
    hdr[7] = (newGen >>> 24) & 0xff;
    const c = crc32(hdr, 0, 8);
    hdr[8] = c & 0xff;
    hdr[9] = (c >>> 8) & 0xff;
    hdr[10] = (c >>> 16) & 0xff;
    hdr[11] = (c >>> 24) & 0xff;
    this.flash.write(unit.offset, hdr);
    this.compactions++;
    this.active = target;
    this.gen = newGen;
    this.writePos = pos;
    this.clean = true;
    this.values.clear();
    for (const [k, v] of vals) this.values.set(k, v);
  }

  private encodeRecord(key: number, payload: Uint8Array): Uint8Array {
    const len = payload.length;
    const total = roundUp(4 + len + 4, this.flash.writeAlign);
    const r = new Uint8Array(total).fill(this.flash.eraseValue);
    r[0] = REC_TAG;
    r[1] = key;
    r[2] = len & 0xff;
    r[3] = len >>> 8;
    r.set(payload, 4);
    const c = crc32(r, 0, 4 + len);
    r[4 + len] = c & 0xff;
    r[5 + len] = (c >>> 8) & 0xff;
    r[6 + len] = (c >>> 16) & 0xff;
    r[7 + len] = (c >>> 24) & 0xff;
    return r;
  }
}
