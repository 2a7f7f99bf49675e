/**
 * HSS-LMS signature verification (RFC 8554 §4.6, §5.4.2, §6.3; COSE alg -46, RFC 8778), SHA-256 /
 * n = m = 32. This file is the whole device-side verifier: it imports only SHA-256 and the parameter
 * tables, so it can be read and ported on its own (RFC 9019 wants the bootloader's part small).
 *
 * Written the way a ROM bootloader would run it: one pass over the signature, bounds checked before
 * every read, no recursion, one reusable 55-byte chain buffer and a streaming hash for the candidate
 * OTS key (no per-signature buffers proportional to p or h). A bad signature returns false; nothing
 * here throws for signature or key bytes.
 *
 * Supported: LMS_SHA256_M32_H5/H10/H15/H20/H25 (types 5–9), LMOTS_SHA256_N32_W1/W2/W4/W8 (types 1–4),
 * 1–8 HSS levels.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { D_INTR, D_LEAF, D_MESG, D_PBLC, LMOTS_TYPES, LMS_TYPES, N, putU32, u16str, u32, u32str } from './hss-lms-params.js';

/** coef(S, i, w) of RFC 8554 §3.1.3. */
export function coef(s: Uint8Array, i: number, w: number): number {
  const byte = s[(i * w) >> 3]!;
  const shift = 8 - (w * (i % (8 / w)) + w);
  return (byte >> shift) & ((1 << w) - 1);
}

/** Q || Cksm(Q) (§4.4): the digits the chains are walked to. */
export function withChecksum(q: Uint8Array, w: number, ls: number): Uint8Array {
  let sum = 0;
  const max = (1 << w) - 1;
  for (let i = 0; i < (N * 8) / w; i++) sum += max - coef(q, i, w);
  sum = (sum << ls) & 0xffff;
  const out = new Uint8Array(N + 2);
  out.set(q, 0);
  out[N] = sum >>> 8;
  out[N + 1] = sum & 0xff;
  return out;
}

/**
 * A hash chain walker over one reusable buffer: I(16) || u32(q) || u16(i) || u8(j) || tmp(32)
 * = 55 bytes (RFC 8554 §4.3 / §4.6).
 */
class Chain {
  readonly buf = new Uint8Array(55);
  constructor(I: Uint8Array, q: number) {
    this.buf.set(I, 0);
    putU32(this.buf, 16, q);
  }
  /** Walk chain i from step `from` (inclusive) to `to` (exclusive), starting at `start`. */
  walk(i: number, start: Uint8Array, from: number, to: number): Uint8Array {
    const b = this.buf;
    b[20] = i >>> 8;
    b[21] = i & 0xff;
    let tmp = start;
    for (let j = from; j < to; j++) {
      b[22] = j;
      b.set(tmp, 23);
      tmp = sha256(b);
    }
    return tmp;
  }
}

/**
 * Algorithm 4b: candidate LM-OTS public key from a signature at `off` in `sig`. Returns undefined
 * when the signature is malformed. `otsType` is the type the LMS public key requires.
 */
function lmotsCandidate(sig: Uint8Array, off: number, otsType: number, I: Uint8Array, q: number, msg: Uint8Array): Uint8Array | undefined {
  const ps = LMOTS_TYPES[otsType];
  if (!ps || off + 4 > sig.length || u32(sig, off) !== otsType) return undefined;
  if (off + 4 + N + ps.p * N > sig.length) return undefined;
  const C = sig.subarray(off + 4, off + 4 + N);
  const Q = sha256.create().update(I).update(u32str(q)).update(u16str(D_MESG)).update(C).update(msg).digest();
  const digits = withChecksum(Q, ps.w, ps.ls);
  const chain = new Chain(I, q);
  const kc = sha256.create().update(I).update(u32str(q)).update(u16str(D_PBLC));
  const top = (1 << ps.w) - 1;
  for (let i = 0; i < ps.p; i++) {
    const y = sig.subarray(off + 4 + N + i * N, off + 4 + N + (i + 1) * N);
    kc.update(chain.walk(i, y, coef(digits, i, ps.w), top));
  }
  return kc.digest();
}

/** Length of the LMS signature starting at `off`, or -1 when it cannot be one. */
function lmsSignatureLength(sig: Uint8Array, off: number): number {
  if (off + 8 > sig.length) return -1;
  const ots = LMOTS_TYPES[u32(sig, off + 4)];
  if (!ots) return -1;
  const otsLen = 4 + N + ots.p * N;
  if (off + 4 + otsLen + 4 > sig.length) return -1;
  const lms = LMS_TYPES[u32(sig, off + 4 + otsLen)];
  if (!lms) return -1;
  return 4 + otsLen + 4 + lms.h * N;
}

/** Algorithm 6a: verify an LMS signature `sig[off, off+len)` on `msg` with the 56-byte LMS public key `pub[poff…]`. */
function lmsVerifyAt(pub: Uint8Array, poff: number, msg: Uint8Array, sig: Uint8Array, off: number, len: number): boolean {
  if (poff + 56 > pub.length) return false;
  const lmsType = u32(pub, poff);
  const otsType = u32(pub, poff + 4);
  const lms = LMS_TYPES[lmsType];
  const ots = LMOTS_TYPES[otsType];
  if (!lms || !ots) return false;
  const otsLen = 4 + N + ots.p * N;
  if (len !== 4 + otsLen + 4 + lms.h * N || off + len > sig.length) return false;
  const q = u32(sig, off);
  if (q >= 2 ** lms.h) return false;
  if (u32(sig, off + 4) !== otsType || u32(sig, off + 4 + otsLen) !== lmsType) return false;
  const I = pub.subarray(poff + 8, poff + 24);
  const kc = lmotsCandidate(sig, off + 4, otsType, I, q, msg);
  if (!kc) return false;
  const path = off + 4 + otsLen + 4;
  let node = 2 ** lms.h + q;
  let tmp = sha256.create().update(I).update(u32str(node)).update(u16str(D_LEAF)).update(kc).digest();
  for (let i = 0; node > 1; i++) {
    const sib = sig.subarray(path + i * N, path + (i + 1) * N);
    const parent = Math.floor(node / 2);
    const h = sha256.create().update(I).update(u32str(parent)).update(u16str(D_INTR));
    tmp = node % 2 === 1 ? h.update(sib).update(tmp).digest() : h.update(tmp).update(sib).digest();
    node = parent;
  }
  const T1 = pub.subarray(poff + 24, poff + 56);
  let diff = 0;
  for (let i = 0; i < N; i++) diff |= tmp[i]! ^ T1[i]!;
  return diff === 0;
}

/** Verify an LMS signature with an LMS public key (56 bytes). */
export function lmsVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 56) return false;
  return lmsVerifyAt(pub, 0, msg, sig, 0, sig.length);
}

/** RFC 8554 §6.3 Algorithm 7b: verify an HSS signature. Never throws for bad signature bytes. */
export function hssVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 60 || sig.length < 4) return false;
  const L = u32(pub, 0);
  if (L < 1 || L > 8 || u32(sig, 0) !== L - 1) return false;
  let keyBuf = pub;
  let keyOff = 4;
  let off = 4;
  for (let i = 0; i < L - 1; i++) {
    const len = lmsSignatureLength(sig, off);
    if (len < 0 || off + len + 56 > sig.length) return false;
    const childPub = sig.subarray(off + len, off + len + 56);
    if (!lmsVerifyAt(keyBuf, keyOff, childPub, sig, off, len)) return false;
    keyBuf = sig;
    keyOff = off + len;
    off += len + 56;
  }
  const len = lmsSignatureLength(sig, off);
  if (len < 0 || off + len !== sig.length) return false;
  return lmsVerifyAt(keyBuf, keyOff, msg, sig, off, len);
}

/** True when `pub` is a well-formed HSS public key of supported types. */
export function isHssPublicKey(pub: Uint8Array): boolean {
  if (pub.length !== 60) return false;
  const L = u32(pub, 0);
  return L >= 1 && L <= 8 && LMS_TYPES[u32(pub, 4)] !== undefined && LMOTS_TYPES[u32(pub, 8)] !== undefined;
}
