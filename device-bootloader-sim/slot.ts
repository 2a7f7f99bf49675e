/**
 * What a slot holds: [slot header][SUIT envelope][pad][image at `envelopeArea`].
 *
 * Slot header (32 bytes, little-endian): magic "SUITSLOT", envelope length:u32, image length:u32,
 * crc32 of the previous 16 bytes:u32, then erase-value padding. The stager writes the envelope and the
 * image first and this header LAST (riotboot's rule), so an interrupted staging never looks complete.
 * The header is a locator, not a trust decision: everything it points at is verified again.
 */
import { UpdateError } from '../manifest/index.js';
import { crc32 } from './crc32.js';
import type { Flash } from './flash.js';

export const SLOT_HEADER_LEN = 32;
const MAGIC = [0x53, 0x55, 0x49, 0x54, 0x53, 0x4c, 0x4f, 0x54]; // SUITSLOT

export interface SlotHeader {
  envelopeLength: number;
  imageLength: number;
}

export function encodeSlotHeader(h: SlotHeader, eraseValue: number): Uint8Array {
  const b = new Uint8Array(SLOT_HEADER_LEN).fill(eraseValue);
  b.set(MAGIC, 0);
  const v = new DataView(b.buffer);
  v.setUint32(8, h.envelopeLength, true);
  v.setUint32(12, h.imageLength, true);
  v.setUint32(16, crc32(b, 0, 16), true);
  return b;
}

/** Read and check a slot header at `base`; undefined when absent or damaged. */
export function readSlotHeader(flash: Flash, base: number, envelopeArea: number, capacity: number): SlotHeader | undefined {
  const b = flash.read(base, SLOT_HEADER_LEN);
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(16, true) !== crc32(b, 0, 16)) return undefined;
  const envelopeLength = v.getUint32(8, true);
  const imageLength = v.getUint32(12, true);
  if (envelopeLength === 0 || SLOT_HEADER_LEN + envelopeLength > envelopeArea) return undefined;
  if (envelopeArea + imageLength > capacity) return undefined;
  return { envelopeLength, imageLength };
}

/** Bytes a slot's content occupies (header through the end of the image). */
export function contentLength(h: SlotHeader, envelopeArea: number): number {
  return envelopeArea + h.imageLength;
}

export function assertFits(imageLength: number, envelopeLength: number, envelopeArea: number, capacity: number): void {
  if (SLOT_HEADER_LEN + envelopeLength > envelopeArea) {
    throw new UpdateError('INPUT_TOO_LARGE', `envelope of ${envelopeLength} B exceeds the ${envelopeArea - SLOT_HEADER_LEN} B envelope area`);
  }
  if (envelopeArea + imageLength > capacity) {
    throw new UpdateError('SLOT_TOO_SMALL', `image of ${imageLength} B exceeds the slot capacity of ${capacity - envelopeArea} B`);
  }
}
