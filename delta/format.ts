/** Patch header (docs/delta-format.md) and CRC-32. */
import { UpdateError } from '../manifest/errors.js';

export const MAGIC = [0x53, 0x44, 0x4c, 0x54] as const; // "SDLT"
export const FORMAT_VERSION = 2;
export const MODEL_ID = 2;
export const HEADER_LEN = 56;

export interface PatchHeader {
  version: number;
  flags: number;
  model: number;
  oldSize: number;
  newSize: number;
  oldDigest: Uint8Array; // SHA-256 of the precursor image
  newCrc32: number; // CRC-32 (IEEE) of the rebuilt image, a transport check only
}

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** One byte of a running CRC-32 in its inverted (register) form, for per-byte hot loops. */
export function crc32Step(c: number, b: number): number {
  return (CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)) >>> 0;
}

/** Running CRC-32: start with crc=0, feed bytes, the value is the CRC so far. */
export function crc32Update(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

export function writeHeader(h: PatchHeader): Uint8Array {
  const b = new Uint8Array(HEADER_LEN);
  b.set(MAGIC, 0);
  b[4] = h.version;
  b[5] = h.flags;
  b[6] = h.model;
  b[7] = 0;
  put32(b, 8, h.oldSize);
  put32(b, 12, h.newSize);
  b.set(h.oldDigest, 16);
  put32(b, 48, h.newCrc32);
  put32(b, 52, crc32Update(0, b, 0, 52));
  return b;
}

export function parseHeader(b: Uint8Array): PatchHeader {
  if (b.length < HEADER_LEN) throw new UpdateError('PATCH_TRUNCATED', 'delta patch: header truncated');
  for (let i = 0; i < 4; i++)
    if (b[i] !== MAGIC[i]) throw new UpdateError('PATCH_MALFORMED', 'delta patch: bad magic');
  if (u32(b, 52) !== crc32Update(0, b, 0, 52))
    throw new UpdateError('PATCH_MALFORMED', 'delta patch: header checksum mismatch');
  const h: PatchHeader = {
    version: b[4]!,
    flags: b[5]!,
    model: b[6]!,
    oldSize: u32(b, 8),
    newSize: u32(b, 12),
    oldDigest: b.slice(16, 48),
    newCrc32: u32(b, 48),
  };
  if (h.version !== FORMAT_VERSION || h.model !== MODEL_ID || h.flags !== 0 || b[7] !== 0)
    throw new UpdateError('PATCH_MALFORMED', `delta patch: unsupported version/model ${h.version}/${h.model}`, {
      details: { version: h.version, model: h.model, flags: h.flags },
    });
  return h;
}
