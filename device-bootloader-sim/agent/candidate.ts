/**
 * Resumable writing of a candidate image into the secondary slot, full image or delta patch, in
 * bounded RAM. The device's own Stager (../staging.ts) starts over after a power cut; the network
 * agent must not pay the radio twice, so this writer keeps the same on-flash order (image pages →
 * digest check → envelope → slot header last → verify from flash → mark pending) and adds resume:
 *
 *  - progress is persisted (AgentNvm) at page boundaries, every `saveEvery` pages, never per chunk;
 *  - on resume the page at the saved offset must still read erased up to the end of its erase unit
 *    (pages written after the last save may be there, or torn); if not, a full image rolls back to
 *    the start of that unit and erases it again, a delta starts over (its decoder state cannot be
 *    rolled back), which costs radio but never correctness: the final digest check reads flash.
 */
import { UpdateError, computeDigest, digestEquals, toHex, type SuitDigest } from '../../manifest/index.js';
import { DeltaDecoder, decoderRamBytes } from '../delta-adapter.js';
import type { Device } from '../device.js';
import { SLOT_HEADER_LEN, encodeSlotHeader } from '../slot.js';
import { hashRegion, type ImageClaims, type VerifiedImage } from '../verify.js';
import type { DeltaDecoderState } from '../../delta/index.js';

export interface WriterProgress {
  /** Object offset to download from next. */
  offset: number;
  decoder?: DeltaDecoderState;
}

export interface WriterOptions {
  kind: 'full' | 'delta';
  envelope: Uint8Array;
  claims: ImageClaims;
  /** Called at page boundaries (every `saveEvery` pages) with what must be persisted. */
  save(p: WriterProgress): void;
  saveEvery: number;
  /** Persisted progress to resume from (undefined: fresh start). */
  resume?: WriterProgress;
}


export class CandidateWriter {
  private readonly unit: number;
  private readonly base: number;
  private readonly imageBase: number;
  private readonly erased = new Set<number>();
  private page: Uint8Array | undefined;
  private pageFill = 0;
  /** Image bytes programmed (full) / produced (delta). */
  private written = 0;
  private decoder: DeltaDecoder | undefined;
  private decoderRam = 0;
  private pagesSinceSave = 0;
  /** Object offset the caller must download from. */
  offset = 0;
  /** true when a resume had to discard saved progress. */
  restarted = false;

  constructor(
    private readonly dev: Device,
    private readonly o: WriterOptions,
  ) {
    const p = dev.profile;
    this.unit = p.slotUnit;
    this.base = dev.stagedBase;
    this.imageBase = this.base + p.envelopeArea;
    const running = dev.running;
    if (!running) throw new UpdateError('UPDATE_STATE_INVALID', 'no running image');
    let resume = o.resume;
    if (resume) resume = this.checkResume(resume);
    if (!resume) {
      // Fresh: invalidate any older staged image by erasing the unit holding the slot header.
      this.ensureErased(this.base, SLOT_HEADER_LEN);
    }
    if (o.kind === 'delta') {
      this.decoderRam = decoderRamBytes(p.stagePage, false);
      dev.ram.reserve('delta decoder', this.decoderRam);
      this.decoder = new DeltaDecoder({
        readOld: (off, len) => {
          if (off < 0 || off + len > running.size) throw new UpdateError('PATCH_MALFORMED', 'patch reads outside the running image');
          return dev.flash.read(dev.layout.primary.offset + p.envelopeArea + off, len);
        },
        writePage: (off, bytes) => {
          this.program(off, bytes);
          if (++this.pagesSinceSave >= o.saveEvery) {
            this.pagesSinceSave = 0;
            const st = this.decoder!.exportState();
            o.save({ offset: st.patchOffset, decoder: st });
          }
        },
        pageSize: p.stagePage,
        ramBudget: this.decoderRam,
        oldSize: running.size,
        maxNewSize: o.claims.size,
        expectedOldDigest: running.digest.bytes,
        ...(resume?.decoder ? { resumeFrom: resume.decoder } : {}),
      });
      this.written = resume?.decoder?.outPos ?? 0;
      this.offset = resume?.decoder?.patchOffset ?? 0;
    } else {
      this.page = dev.ram.alloc('stage page', p.stagePage);
      this.written = resume?.offset ?? 0;
      this.offset = this.written;
    }
  }

  private unitOf(addr: number): number {
    return Math.floor((addr - this.base) / this.unit);
  }

  /** Decide whether saved progress is still good; returns the progress to use or undefined (start over). */
  private checkResume(r: WriterProgress): WriterProgress | undefined {
    const flash = this.dev.flash;
    const at = this.o.kind === 'delta' ? r.decoder?.outPos : r.offset;
    if (at === undefined || (this.o.kind === 'delta' && !r.decoder)) return this.restart();
    // The header/envelope area is written last: it must still be blank.
    if (!flash.isErased(this.base, Math.min(this.o.envelope.length + SLOT_HEADER_LEN, this.dev.profile.envelopeArea))) return this.restart();
    const addr = this.imageBase + at;
    const u = this.unitOf(addr);
    const unitStart = this.base + u * this.unit;
    const unitEnd = unitStart + this.unit;
    for (let i = 0; i < u; i++) this.erased.add(i);
    if (at >= this.o.claims.size) return r;
    if (addr === unitStart) return r; // the unit is erased again when its first page comes
    if (flash.isErased(addr, unitEnd - addr)) {
      this.erased.add(u);
      return r;
    }
    if (this.o.kind === 'delta') return this.restart();
    // Full image: roll back to the start of the unit (or the image start) and erase it again.
    const back = Math.max(unitStart, this.imageBase) - this.imageBase;
    if (unitStart <= this.base) {
      // the header unit: erase it now (it holds nothing but our own partial image)
      this.ensureErased(this.base, SLOT_HEADER_LEN);
    }
    return { offset: back };
  }

  private restart(): undefined {
    this.restarted = true;
    this.erased.clear();
    return undefined;
  }

  private ensureErased(addr: number, len: number): void {
    const first = this.unitOf(addr);
    const last = this.unitOf(addr + len - 1);
    const units = this.dev.layout.secondary.units.slice(this.dev.profile.strategy === 'swap-offset' ? 1 : 0);
    for (let u = first; u <= last; u++) {
      if (this.erased.has(u)) continue;
      const unit = units[u];
      if (!unit) throw new UpdateError('SLOT_TOO_SMALL', 'image does not fit the secondary slot');
      this.dev.flash.erase(unit.offset, unit.size);
      this.dev.flash.kickWatchdog();
      this.erased.add(u);
    }
  }

  /** Program image bytes at image offset `off`, padded to the write unit. */
  private program(off: number, bytes: Uint8Array): void {
    if (off + bytes.length > this.o.claims.size) throw new UpdateError('PATCH_OUTPUT_OVERFLOW', 'payload is larger than the signed image size');
    const flash = this.dev.flash;
    const addr = this.imageBase + off;
    this.ensureErased(addr, bytes.length);
    const a = flash.writeAlign;
    const whole = bytes.length - (bytes.length % a);
    if (whole > 0) flash.write(addr, whole === bytes.length ? bytes : bytes.subarray(0, whole));
    if (whole < bytes.length) {
      this.dev.ram.with('tail', a, (tail) => {
        tail.fill(flash.eraseValue);
        tail.set(bytes.subarray(whole));
        flash.write(addr + whole, tail);
      });
    }
    flash.kickWatchdog();
    this.written = off + bytes.length;
  }

  /** Next chunk of the object (image or patch), in download order from `offset`. */
  push(chunk: Uint8Array): void {
    if (this.decoder) {
      this.decoder.push(chunk);
      this.offset += chunk.length;
      return;
    }
    const page = this.page!;
    let i = 0;
    while (i < chunk.length) {
      const n = Math.min(page.length - this.pageFill, chunk.length - i);
      page.set(chunk.subarray(i, i + n), this.pageFill);
      this.pageFill += n;
      i += n;
      if (this.pageFill === page.length || this.written + this.pageFill === this.o.claims.size) {
        this.program(this.written, page.subarray(0, this.pageFill));
        this.pageFill = 0;
        if (++this.pagesSinceSave >= this.o.saveEvery) {
          this.pagesSinceSave = 0;
          this.o.save({ offset: this.written });
        }
      }
    }
    this.offset += chunk.length;
  }

  /** Flush; check size and digest from flash; envelope, header; verify and mark pending. */
  async finish(): Promise<VerifiedImage> {
    const { flash, ram } = this.dev;
    try {
      if (this.decoder) this.decoder.finish();
      else if (this.pageFill > 0) this.program(this.written, this.page!.subarray(0, this.pageFill));
      if (this.written !== this.o.claims.size) {
        throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `image is ${this.written} B; the manifest signs ${this.o.claims.size} B`);
      }
      // Target digest from what is in flash (covers resumed and torn-then-rewritten pages).
      const d: SuitDigest = hashRegion(flash, ram, this.imageBase, this.o.claims.size, this.o.claims.digest.alg, Math.min(1024, this.dev.profile.copyBuffer));
      if (!digestEquals(d, this.o.claims.digest)) throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', 'staged image does not match the signed digest');
    } finally {
      this.release();
    }
    const a = flash.writeAlign;
    const env = new Uint8Array(Math.ceil(this.o.envelope.length / a) * a).fill(flash.eraseValue);
    env.set(this.o.envelope);
    flash.write(this.base + SLOT_HEADER_LEN, env);
    flash.write(this.base, encodeSlotHeader({ envelopeLength: this.o.envelope.length, imageLength: this.o.claims.size }, flash.eraseValue));
    return this.dev.markPending();
  }

  release(): void {
    if (this.page) this.dev.ram.free(this.page);
    this.page = undefined;
    if (this.decoderRam) this.dev.ram.release(this.decoderRam);
    this.decoderRam = 0;
  }
}

export const digestHex = (b: Uint8Array): string => toHex(computeDigest(-16, b).bytes);
