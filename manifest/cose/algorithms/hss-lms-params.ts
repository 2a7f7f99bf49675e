/**
 * HSS-LMS (RFC 8554) definitions shared by the verifier and the signer: SHA-256 / n = m = 32, the
 * parameter-set tables, the domain-separation constants and the big-endian integer encodings of §3.1.1.
 */
export const N = 32; // n = m = 32 (SHA-256)
export const D_PBLC = 0x8080;
export const D_MESG = 0x8181;
export const D_LEAF = 0x8282;
export const D_INTR = 0x8383;

/** RFC 8554 §4.1 Table 1: LM-OTS parameter sets (w, p, ls) by type. */
export const LMOTS_TYPES: Readonly<Record<number, { name: string; w: number; p: number; ls: number }>> = {
  1: { name: 'LMOTS_SHA256_N32_W1', w: 1, p: 265, ls: 7 },
  2: { name: 'LMOTS_SHA256_N32_W2', w: 2, p: 133, ls: 6 },
  3: { name: 'LMOTS_SHA256_N32_W4', w: 4, p: 67, ls: 4 },
  4: { name: 'LMOTS_SHA256_N32_W8', w: 8, p: 34, ls: 0 },
};
/** RFC 8554 §5.1 Table 2: LMS parameter sets (h) by type. */
export const LMS_TYPES: Readonly<Record<number, { name: string; h: number }>> = {
  5: { name: 'LMS_SHA256_M32_H5', h: 5 },
  6: { name: 'LMS_SHA256_M32_H10', h: 10 },
  7: { name: 'LMS_SHA256_M32_H15', h: 15 },
  8: { name: 'LMS_SHA256_M32_H20', h: 20 },
  9: { name: 'LMS_SHA256_M32_H25', h: 25 },
};

export const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
export function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
export const u32str = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  putU32(b, 0, v);
  return b;
};
export const u16str = (v: number): Uint8Array => Uint8Array.of(v >>> 8, v & 0xff);

/** One LMS tree's private material: RFC 8554 Appendix A pseudorandom key generation from SEED and I. */
export interface LmsTreeKey {
  lmsType: number;
  otsType: number;
  I: Uint8Array;
  seed: Uint8Array;
}
