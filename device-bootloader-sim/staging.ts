/**
 * Staging a candidate into the secondary slot as a stream, in bounded RAM.
 *
 * Order of writes (each safe to interrupt; an interrupted staging leaves the device idle on its old
 * image and the next staging starts over):
 *   1. erase the content unit that holds the slot header (invalidates any older staged image);
 *   2. image pages, each unit erased just before its first page (only units the image uses);
 *      a full image arrives as chunks, a delta patch is decoded page by page against the running image;
 *   3. check size and digest against the signed claims (PAYLOAD_DIGEST_MISMATCH → nothing is marked);
 *   4. envelope bytes; 5. slot header LAST; 6. verify the slot from flash, then mark it pending.
 * RAM: one page buffer (stagePage) for full images, or the delta decoder's own declared need.
 */
import { UpdateError, createHasher, digestEquals, type SuitDigest } from '../manifest/index.js';
import { DeltaDecoder, decoderRamBytes } from './delta-adapter.js';
import type { Flash } from './flash.js';
import type { Unit } from './journal.js';
import type { Profile } from './profiles.js';
import type { RamBudget } from './ram.js';
import { SLOT_HEADER_LEN, encodeSlotHeader } from './slot.js';
import type { ImageClaims, VerifiedImage } from './verify.js';

export interface StageOptions {
  /** The payload is a delta patch against the running image (delta/ format). */
  delta?: boolean;
}

export interface StageTarget {
  flash: Flash;
  ram: RamBudget;
  profile: Profile;
  /** Content base of the staged image. */
  base: number;
  /** Secondary units from `base` on. */
  secondaryUnits: Unit[];
  primaryImageBase: number;
  running: VerifiedImage;
  markPending(): Promise<VerifiedImage>;
}

export class Stager {
  private readonly erased = new Set<number>();
  private readonly hasher: { update(b: Uint8Array): void; digest(): SuitDigest };
  private page: Uint8Array | undefined;
  private pageFill = 0;
  private written = 0; // image bytes handed to flash
  private decoder: DeltaDecoder | undefined;
  private decoderRam = 0;
  private done = false;
  /** Peak RAM of this staging (bytes). */
  peakRam = 0;

  constructor(
    private readonly t: StageTarget,
    private readonly envelope: Uint8Array,
    readonly claims: ImageClaims,
    private readonly opts: StageOptions,
  ) {
    this.hasher = createHasher(claims.digest.alg);
    t.ram.resetPeak();
    // Header and envelope: every unit they touch (an envelope area may span several units, e.g. a
    // 3.5 KiB area of 512 B pages for post-quantum signatures; only the units the envelope uses are erased).
    this.ensureErased(t.base, Math.min(SLOT_HEADER_LEN + envelope.length, t.profile.envelopeArea));
    if (opts.delta) {
      const old = t.running;
      const hashesOld = !(old.digest.alg === -16);
      this.decoderRam = decoderRamBytes(t.profile.stagePage, hashesOld);
      t.ram.reserve('delta decoder', this.decoderRam);
      this.decoder = new DeltaDecoder({
        readOld: (off, len) => {
          if (off < 0 || off + len > old.size) throw new UpdateError('PATCH_MALFORMED', 'patch reads outside the running image');
          return t.flash.read(t.primaryImageBase + off, len);
        },
        writePage: (off, bytes) => this.writeImage(off, bytes),
        pageSize: t.profile.stagePage,
        ramBudget: this.decoderRam,
        oldSize: old.size,
        maxNewSize: claims.size,
        ...(hashesOld ? {} : { expectedOldDigest: old.digest.bytes }),
      });
    } else {
      this.page = t.ram.alloc('stage page', t.profile.stagePage);
    }
  }

  private ensureErased(addr: number, len: number): void {
    const us = this.t.profile.slotUnit;
    const first = Math.floor((addr - this.t.base) / us);
    const last = Math.floor((addr + len - 1 - this.t.base) / us);
    for (let u = first; u <= last; u++) {
      if (this.erased.has(u)) continue;
      const unit = this.t.secondaryUnits[u];
      if (!unit) throw new UpdateError('SLOT_TOO_SMALL', 'image does not fit the secondary slot');
      this.t.flash.erase(unit.offset, unit.size);
      this.t.flash.kickWatchdog();
      this.erased.add(u);
    }
  }

  /** Program image bytes at image offset `off` (page-sized, except the last), padded to the write unit. */
  private writeImage(off: number, bytes: Uint8Array): void {
    if (off !== this.written) throw new UpdateError('INTERNAL', 'pages out of order');
    if (off + bytes.length > this.claims.size) throw new UpdateError('PATCH_OUTPUT_OVERFLOW', 'payload is larger than the signed image size');
    this.hasher.update(bytes);
    const addr = this.t.base + this.t.profile.envelopeArea + off;
    this.ensureErased(addr, bytes.length);
    const a = this.t.flash.writeAlign;
    const whole = bytes.length - (bytes.length % a);
    if (whole > 0) this.t.flash.write(addr, whole === bytes.length ? bytes : bytes.subarray(0, whole));
    if (whole < bytes.length) {
      this.t.ram.with('tail', a, (tail) => {
        tail.fill(this.t.flash.eraseValue);
        tail.set(bytes.subarray(whole));
        this.t.flash.write(addr + whole, tail);
      });
    }
    this.written += bytes.length;
  }

  /** Feed the next chunk of the image (or patch). */
  push(chunk: Uint8Array): void {
    if (this.done) throw new UpdateError('UPDATE_STATE_INVALID', 'staging already finished');
    if (this.decoder) {
      this.decoder.push(chunk);
      return;
    }
    const page = this.page!;
    let i = 0;
    while (i < chunk.length) {
      const n = Math.min(page.length - this.pageFill, chunk.length - i);
      page.set(chunk.subarray(i, i + n), this.pageFill);
      this.pageFill += n;
      i += n;
      if (this.pageFill === page.length) {
        this.writeImage(this.written, page);
        this.pageFill = 0;
      }
    }
  }

  /** Flush, check digest and size, write envelope and header, verify from flash, mark pending. */
  async finish(): Promise<VerifiedImage> {
    if (this.done) throw new UpdateError('UPDATE_STATE_INVALID', 'staging already finished');
    this.done = true;
    const { flash, ram } = this.t;
    try {
      if (this.decoder) this.decoder.finish();
      else if (this.pageFill > 0) this.writeImage(this.written, this.page!.subarray(0, this.pageFill));
      this.peakRam = ram.peak;
      if (this.written !== this.claims.size) {
        throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `image is ${this.written} B; the manifest signs ${this.claims.size} B`);
      }
      if (!digestEquals(this.hasher.digest(), this.claims.digest)) {
        throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', 'staged image does not match the signed digest');
      }
    } finally {
      if (this.page) ram.free(this.page);
      if (this.decoderRam) ram.release(this.decoderRam);
    }
    const a = flash.writeAlign;
    const env = new Uint8Array(Math.ceil(this.envelope.length / a) * a).fill(flash.eraseValue);
    env.set(this.envelope);
    flash.write(this.t.base + SLOT_HEADER_LEN, env);
    flash.write(this.t.base, encodeSlotHeader({ envelopeLength: this.envelope.length, imageLength: this.claims.size }, flash.eraseValue));
    const v = await this.t.markPending();
    this.peakRam = Math.max(this.peakRam, ram.peak);
    return v;
  }
}
