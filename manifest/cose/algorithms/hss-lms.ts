/**
 * HSS-LMS hash-based signatures (RFC 8554; COSE alg -46, RFC 8778), SHA-256 / n = m = 32.
 *
 * Verification is written the way a ROM bootloader would run it: one pass over the signature, bounds
 * checked before every read, no recursion, one reusable 55-byte chain buffer and a streaming hash for
 * the candidate OTS key (no per-signature buffers proportional to p or h).
 *
 * Signing is stateful: every one-time key (leaf) may sign ONCE. `HssLmsSigner.sign()` advances its
 * state (and calls the caller's `persist` hook) BEFORE it computes and returns a signature, and
 * refuses with SIGNER_STATE_EXHAUSTED when no leaf is left. Persisting the state durably is the
 * signing tool's job (signing-tools/lms-state.ts).
 *
 * The Merkle trees are public: `exportTreeCache()` / `loadTreeCache()` (or the `treeCache` option)
 * move their nodes in and out, so only key generation computes a whole tree; a signature is then
 * one LM-OTS signature per level plus authentication paths from the cache. A cache is checked
 * (checksum, inner nodes recomputed, bound to the expected key id, lower trees signed by their
 * parent) and every signature is verified before it is returned.
 *
 * Supported: LMS_SHA256_M32_H5/H10/H15/H20/H25 (types 5–9), LMOTS_SHA256_N32_W1/W2/W4/W8 (types 1–4),
 * 1–8 HSS levels.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { UpdateError } from '../../errors.js';
import { installHssLmsKeyHooks } from '../keys/keys.js';
import { keyThumbprint } from '../keys/cose-key.js';
import type { SigningKey, TrustedKey } from '../keys/types.js';
import { registerAlgorithm, type SignatureAlgorithm } from './registry.js';

const N = 32; // n = m = 32 (SHA-256)
const D_PBLC = 0x8080;
const D_MESG = 0x8181;
const D_LEAF = 0x8282;
const D_INTR = 0x8383;

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

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
const u32str = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  putU32(b, 0, v);
  return b;
};
const u16str = (v: number): Uint8Array => Uint8Array.of(v >>> 8, v & 0xff);

/** coef(S, i, w) of RFC 8554 §3.1.3. */
function coef(s: Uint8Array, i: number, w: number): number {
  const byte = s[(i * w) >> 3]!;
  const shift = 8 - (w * (i % (8 / w)) + w);
  return (byte >> shift) & ((1 << w) - 1);
}

/** Q || Cksm(Q) (§4.4): the digits the chains are walked to. */
function withChecksum(q: Uint8Array, w: number, ls: number): Uint8Array {
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

// ---------------------------------------------------------------- verification (RFC 8554 §4.6, §5.4.2, §6.3)

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

// ---------------------------------------------------------------- key generation and signing

/** One LMS tree's private material: RFC 8554 Appendix A pseudorandom key generation from SEED and I. */
export interface LmsTreeKey {
  lmsType: number;
  otsType: number;
  I: Uint8Array;
  seed: Uint8Array;
}

// The signer spends nearly all its time in SHA-256 over 55-byte inputs: every hash chain step
// (I || q || i || j || tmp) and every private element (I || q || i || 0xff || SEED) is exactly one
// padded block. A single-block compression over a preallocated schedule, writing its digest in
// place, is several times faster than a general hasher per call. (Verification keeps the plain
// streaming code above.)
const SHA_K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const SHA_W = new Uint32Array(64);

/** SHA-256 of the 55 bytes m[0..55) into out[o..o+32) (out may overlap m). */
function sha256of55(m: Uint8Array, out: Uint8Array, o: number): void {
  const W = SHA_W;
  for (let t = 0; t < 13; t++) W[t] = (m[4 * t]! << 24) | (m[4 * t + 1]! << 16) | (m[4 * t + 2]! << 8) | m[4 * t + 3]!;
  W[13] = (m[52]! << 24) | (m[53]! << 16) | (m[54]! << 8) | 0x80;
  W[14] = 0;
  W[15] = 55 * 8;
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!;
    const y = W[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = 0x6a09e667 | 0, b = 0xbb67ae85 | 0, c = 0x3c6ef372 | 0, d = 0xa54ff53a | 0;
  let e = 0x510e527f | 0, f = 0x9b05688c | 0, g = 0x1f83d9ab | 0, h = 0x5be0cd19 | 0;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const T1 = (h + S1 + ((e & f) ^ (~e & g)) + SHA_K[t]! + W[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const T2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + T1) | 0;
    d = c;
    c = b;
    b = a;
    a = (T1 + T2) | 0;
  }
  const st = [a + 0x6a09e667, b + 0xbb67ae85, c + 0x3c6ef372, d + 0xa54ff53a, e + 0x510e527f, f + 0x9b05688c, g + 0x1f83d9ab, h + 0x5be0cd19];
  for (let i = 0; i < 8; i++) {
    const v = st[i]! | 0;
    out[o + 4 * i] = v >>> 24;
    out[o + 4 * i + 1] = (v >>> 16) & 0xff;
    out[o + 4 * i + 2] = (v >>> 8) & 0xff;
    out[o + 4 * i + 3] = v & 0xff;
  }
}

/**
 * Signer-side chain over one 55-byte buffer: x_q[i] (Appendix A) is computed into tmp (bytes 23..55)
 * and walked in place, no allocation per step.
 */
class SignChain {
  readonly buf = new Uint8Array(55);
  constructor(readonly k: LmsTreeKey, q: number) {
    this.buf.set(k.I, 0);
    putU32(this.buf, 16, q);
  }
  /** x_q[i] walked `steps` times; the result is valid until the next call. */
  element(i: number, steps: number): Uint8Array {
    const b = this.buf;
    b[20] = i >>> 8;
    b[21] = i & 0xff;
    b[22] = 0xff;
    b.set(this.k.seed, 23);
    sha256of55(b, b, 23);
    for (let j = 0; j < steps; j++) {
      b[22] = j;
      sha256of55(b, b, 23);
    }
    return b.subarray(23, 55);
  }
}

/** Algorithm 1: the LM-OTS public key hash K for leaf q. */
function otsPublic(k: LmsTreeKey, q: number): Uint8Array {
  const ps = LMOTS_TYPES[k.otsType]!;
  const chain = new SignChain(k, q);
  const h = sha256.create().update(k.I).update(u32str(q)).update(u16str(D_PBLC));
  const top = (1 << ps.w) - 1;
  for (let i = 0; i < ps.p; i++) h.update(chain.element(i, top));
  return h.digest();
}

const leafHash = (k: LmsTreeKey, r: number, q: number): Uint8Array =>
  sha256.create().update(k.I).update(u32str(r)).update(u16str(D_LEAF)).update(otsPublic(k, q)).digest();
const innerHash = (I: Uint8Array, r: number, left: Uint8Array, right: Uint8Array): Uint8Array =>
  sha256.create().update(I).update(u32str(r)).update(u16str(D_INTR)).update(left).update(right).digest();

/**
 * How many bottom levels of a tree of height h are NOT kept in the tree cache: 0 (the whole tree,
 * 2^(h+1)·32 bytes, 2 MiB at H15) up to H15; above that the cache keeps the top 16 levels and the
 * subtree (2^(h-15) leaves) under the current leaf is recomputed in memory when signing enters it.
 */
export const lmsCacheCut = (h: number): number => Math.max(0, h - 15);

/**
 * The public Merkle tree of one LMS key: nodes of depth 0..h-cut as a flat array (node r at
 * bytes r·32, r = 1 .. 2^(h-cut+1)-1; index 0 unused), plus the subtree of height `cut` under the
 * current leaf (computed on demand, checked against its stored root).
 */
export class LmsMerkleTree {
  readonly h: number;
  readonly cut: number;
  #sub: { root: number; nodes: Uint8Array } | undefined;
  /** Stored nodes (see the class comment). */
  top: Uint8Array;
  private constructor(readonly key: LmsTreeKey, top: Uint8Array, cut?: number) {
    this.h = LMS_TYPES[key.lmsType]!.h;
    this.cut = cut ?? lmsCacheCut(this.h);
    if (!Number.isInteger(this.cut) || this.cut < 0 || this.cut > this.h) throw new UpdateError('USAGE', `tree cache cut ${this.cut} is outside 0..${this.h}`);
    this.top = top;
  }

  /** Compute the tree (every leaf's LM-OTS public key: the expensive part of key generation). */
  static build(key: LmsTreeKey, cut?: number): LmsMerkleTree {
    const h = LMS_TYPES[key.lmsType]!.h;
    const t = new LmsMerkleTree(key, new Uint8Array(0), cut);
    const roots = 2 ** (h - t.cut);
    const top = new Uint8Array(2 * roots * N);
    t.top = top;
    for (let s = 0; s < roots; s++) {
      const nodes = t.#subtree(roots + s);
      top.set(nodes.subarray(N, 2 * N), (roots + s) * N);
      if (s === 0 && t.cut > 0) t.#sub = { root: roots, nodes };
    }
    for (let r = roots - 1; r >= 1; r--) top.set(innerHash(key.I, r, t.#at(2 * r), t.#at(2 * r + 1)), r * N);
    return t;
  }

  /**
   * A tree from cached nodes. Every stored inner node is recomputed from its children (2^(h-cut)
   * hashes, milliseconds), so a corrupted cache is detected; a cache whose root is not the one of
   * the expected public key is the caller's to refuse (see HssLmsSigner.loadTreeCache).
   */
  static fromNodes(key: LmsTreeKey, top: Uint8Array, cut?: number): LmsMerkleTree | undefined {
    const h = LMS_TYPES[key.lmsType]!.h;
    const roots = 2 ** (h - (cut ?? lmsCacheCut(h)));
    if (top.length !== 2 * roots * N) return undefined;
    const t = new LmsMerkleTree(key, top, cut);
    for (let r = roots - 1; r >= 1; r--) {
      const want = innerHash(key.I, r, t.#at(2 * r), t.#at(2 * r + 1));
      const have = t.#at(r);
      for (let i = 0; i < N; i++) if (want[i] !== have[i]) return undefined;
    }
    return t;
  }

  get root(): Uint8Array {
    return this.#at(1);
  }
  publicKey(): Uint8Array {
    return lmsPublicBytes(this.key, this.root);
  }

  #at(r: number): Uint8Array {
    return this.top.subarray(r * N, (r + 1) * N);
  }

  /** Nodes of the subtree of height `cut` whose root is the global node `root` (local node l at l·32). */
  #subtree(root: number): Uint8Array {
    const n = 2 ** this.cut;
    const out = new Uint8Array(2 * n * N);
    const firstLeaf = root * n;
    for (let i = 0; i < n; i++) {
      const r = firstLeaf + i;
      out.set(leafHash(this.key, r, r - 2 ** this.h), (n + i) * N);
    }
    for (let l = n - 1; l >= 1; l--) {
      const e = 31 - Math.clz32(l);
      const r = root * 2 ** e + (l - 2 ** e);
      out.set(innerHash(this.key.I, r, out.subarray(2 * l * N, (2 * l + 1) * N), out.subarray((2 * l + 1) * N, (2 * l + 2) * N)), l * N);
    }
    return out;
  }

  /** The h sibling nodes from leaf q up (RFC 8554 §5.4.1 path[]). */
  authPath(q: number): Uint8Array[] {
    const h = this.h;
    const topDepth = h - this.cut;
    if (this.cut > 0) {
      const root = Math.floor((2 ** h + q) / 2 ** this.cut);
      if (this.#sub?.root !== root) {
        const nodes = this.#subtree(root);
        const want = this.#at(root);
        for (let i = 0; i < N; i++) {
          if (nodes[N + i] !== want[i]) throw new UpdateError('SIGNER_STATE_INVALID', 'HSS-LMS tree cache does not match the key (a subtree root differs); delete the cache to rebuild it');
        }
        this.#sub = { root, nodes };
      }
    }
    const path: Uint8Array[] = [];
    let node = 2 ** h + q;
    for (let d = h; d >= 1; d--) {
      const sib = node ^ 1;
      if (d <= topDepth) path.push(this.#at(sib));
      else {
        const e = d - topDepth;
        const l = 2 ** e + (sib - Math.floor(sib / 2 ** e) * 2 ** e);
        path.push(this.#sub!.nodes.subarray(l * N, (l + 1) * N));
      }
      node = Math.floor(node / 2);
    }
    return path;
  }
}

/** The whole Merkle tree T[1 .. 2^(h+1)-1] (index 0 unused), as the RFC writes it (tests). */
function buildTree(k: LmsTreeKey): Uint8Array[] {
  const h = LMS_TYPES[k.lmsType]!.h;
  const leaves = 2 ** h;
  const T: Uint8Array[] = new Array<Uint8Array>(2 * leaves);
  for (let q = 0; q < leaves; q++) T[leaves + q] = leafHash(k, leaves + q, q);
  for (let r = leaves - 1; r >= 1; r--) T[r] = innerHash(k.I, r, T[2 * r]!, T[2 * r + 1]!);
  return T;
}

function lmsPublicBytes(k: LmsTreeKey, T1: Uint8Array): Uint8Array {
  const out = new Uint8Array(56);
  putU32(out, 0, k.lmsType);
  putU32(out, 4, k.otsType);
  out.set(k.I, 8);
  out.set(T1, 24);
  return out;
}

/** Algorithm 3 + 5: an LMS signature of leaf q over msg with the given authentication path; C is the randomizer. */
function lmsSignWithPath(k: LmsTreeKey, path: Uint8Array[], q: number, msg: Uint8Array, C: Uint8Array): Uint8Array {
  const ps = LMOTS_TYPES[k.otsType]!;
  const h = LMS_TYPES[k.lmsType]!.h;
  const out = new Uint8Array(4 + 4 + N + ps.p * N + 4 + h * N);
  putU32(out, 0, q);
  putU32(out, 4, k.otsType);
  out.set(C, 8);
  const Q = sha256.create().update(k.I).update(u32str(q)).update(u16str(D_MESG)).update(C).update(msg).digest();
  const digits = withChecksum(Q, ps.w, ps.ls);
  const chain = new SignChain(k, q);
  for (let i = 0; i < ps.p; i++) out.set(chain.element(i, coef(digits, i, ps.w)), 8 + N + i * N);
  let o = 8 + N + ps.p * N;
  putU32(out, o, k.lmsType);
  o += 4;
  for (let i = 0; i < h; i++) out.set(path[i]!, o + i * N);
  return out;
}

/** Algorithm 3 + 5 with the whole tree T (as buildTree returns it). */
export function lmsSignWithTree(k: LmsTreeKey, T: Uint8Array[], q: number, msg: Uint8Array, C: Uint8Array): Uint8Array {
  const h = LMS_TYPES[k.lmsType]!.h;
  const path: Uint8Array[] = [];
  let node = 2 ** h + q;
  for (let i = 0; i < h; i++) {
    path.push(T[node ^ 1]!);
    node = Math.floor(node / 2);
  }
  return lmsSignWithPath(k, path, q, msg, C);
}

/** LMS public key (56 bytes) of a tree key; builds the tree. */
export function lmsPublicKey(k: LmsTreeKey): Uint8Array {
  return LmsMerkleTree.build(k).publicKey();
}

export interface HssLmsParams {
  /** Tree height per level, top first (5, 10, 15, 20 or 25). Default [10, 10] (2^20 signatures). */
  heights?: number[];
  /** Winternitz parameter for every level (1, 2, 4, 8), or one per level. Default 8. */
  w?: number | number[];
}

/** Default parameter set: two H10 levels, W8 (1,048,576 signatures of 2,964 bytes). */
export const DEFAULT_HEIGHTS: readonly number[] = [10, 10];

const HEIGHT_TO_TYPE: Record<number, number> = { 5: 5, 10: 6, 15: 7, 20: 8, 25: 9 };
const W_TO_TYPE: Record<number, number> = { 1: 1, 2: 2, 4: 3, 8: 4 };

/** The private key: levels' types, the top SEED and I. Lower trees are derived from their parent. */
interface HssPrivate {
  levels: { lmsType: number; otsType: number }[];
  seed: Uint8Array;
  I: Uint8Array;
}

const PRIV_MAGIC = 0x48535331; // "HSS1"

function encodePrivate(p: HssPrivate): Uint8Array {
  const out = new Uint8Array(8 + 8 * p.levels.length + N + 16);
  putU32(out, 0, PRIV_MAGIC);
  putU32(out, 4, p.levels.length);
  p.levels.forEach((l, i) => {
    putU32(out, 8 + 8 * i, l.lmsType);
    putU32(out, 12 + 8 * i, l.otsType);
  });
  out.set(p.seed, 8 + 8 * p.levels.length);
  out.set(p.I, 8 + 8 * p.levels.length + N);
  return out;
}

function decodePrivate(b: Uint8Array): HssPrivate {
  const bad = (): UpdateError => new UpdateError('KEY_MALFORMED', 'not an HSS-LMS private key of this tool');
  if (b.length < 8 || u32(b, 0) !== PRIV_MAGIC) throw bad();
  const L = u32(b, 4);
  if (L < 1 || L > 8 || b.length !== 8 + 8 * L + N + 16) throw bad();
  const levels = [];
  for (let i = 0; i < L; i++) {
    const lmsType = u32(b, 8 + 8 * i);
    const otsType = u32(b, 12 + 8 * i);
    if (!LMS_TYPES[lmsType] || !LMOTS_TYPES[otsType]) throw bad();
    levels.push({ lmsType, otsType });
  }
  const s = 8 + 8 * L;
  return { levels, seed: new Uint8Array(b.subarray(s, s + N)), I: new Uint8Array(b.subarray(s + N, s + N + 16)) };
}

/** Child tree key of the tree `parent` at its leaf q (our derivation; verifiers never see it). */
function childTree(parent: LmsTreeKey, q: number, level: { lmsType: number; otsType: number }): LmsTreeKey {
  const base = (tag: number): Uint8Array =>
    sha256.create().update(parent.I).update(u32str(q)).update(u16str(0xfffd)).update(Uint8Array.of(tag)).update(parent.seed).digest();
  return { ...level, seed: base(1), I: base(2).subarray(0, 16) };
}

/** Deterministic randomizer C for (tree, q, msg): a leaf re-signing its child key yields the same signature. */
function randomizer(k: LmsTreeKey, q: number, msg: Uint8Array): Uint8Array {
  return sha256.create().update(k.I).update(u32str(q)).update(u16str(0xfffe)).update(k.seed).update(sha256(msg)).digest();
}

/** The state of an HSS-LMS signer: the next global one-time index. */
export interface HssLmsState {
  /** Key id (thumbprint) the state belongs to. */
  kid: string;
  /** Next unused global leaf index. */
  next: number;
  /** Total signatures the key can make. */
  total: number;
}

export interface HssLmsSignerOptions {
  alg?: number;
  /** Starting index (from a persisted state). Default 0. */
  next?: number;
  /**
   * Called synchronously with the ADVANCED state before a signature is computed and returned.
   * If it throws, no signature is released (persist first, then sign).
   */
  persist?: (state: HssLmsState) => void;
  /**
   * A tree cache from `exportTreeCache()` (public data). Used only if it is intact and, when
   * `expectedKid` is given, belongs to that key; otherwise ignored (the trees are recomputed).
   */
  treeCache?: Uint8Array;
  /** The key id the tree cache must produce (e.g. the one recorded in the state file). */
  expectedKid?: string;
  /**
   * Verify every signature against the public key before returning it (default true; costs about
   * one verification, milliseconds). A failure with cached trees drops the cache and recomputes.
   */
  verifySignatures?: boolean;
}

const CACHE_MAGIC = 0x48534331; // "HSC1"

interface LevelTree {
  /** Parent leaves from the top ("" for the top tree). */
  id: string;
  path: number[];
  key: LmsTreeKey;
  tree: LmsMerkleTree;
  /** Levels below the top: the parent tree's LMS signature of this tree's public key. */
  sig?: Uint8Array;
}

/**
 * A stateful HSS-LMS signing key.
 *
 * Costs: the public key needs the top tree (every leaf's LM-OTS key: ~2^h × 2^w × p hashes), so
 * key generation computes it once and `exportTreeCache()` hands the public nodes (one tree per
 * level, up to 2^16 × 32 bytes each) to the caller to keep next to the state; a signer given that
 * cache (`treeCache` / `loadTreeCache`) signs with one LM-OTS signature per level plus
 * authentication paths read from the cache. A lower-level tree is computed only when signing
 * enters it (every 2^h_lower signatures) and its signature by the parent is cached with it.
 */
export class HssLmsSigner implements SigningKey {
  readonly #priv: HssPrivate;
  readonly #alg: number;
  #pub: TrustedKey | undefined;
  /** One tree per level (depth → the tree of the path used last). */
  readonly #trees = new Map<number, LevelTree>();
  #generation = 0;
  #fromCache = false;
  #next: number;
  readonly #persist: ((s: HssLmsState) => void) | undefined;
  readonly #verify: boolean;
  readonly #total: number;

  private constructor(priv: HssPrivate, opts: HssLmsSignerOptions) {
    this.#priv = priv;
    this.#alg = opts.alg ?? -46;
    this.#total = priv.levels.reduce((t, l) => t * 2 ** LMS_TYPES[l.lmsType]!.h, 1);
    if (!Number.isSafeInteger(this.#total)) throw new UpdateError('USAGE', 'HSS-LMS parameter set has more signatures than this tool can count (2^53)');
    this.#next = opts.next ?? 0;
    if (!Number.isSafeInteger(this.#next) || this.#next < 0 || this.#next > this.#total) {
      throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS state index ${String(this.#next)} is out of range 0..${this.#total}`);
    }
    this.#persist = opts.persist;
    this.#verify = opts.verifySignatures ?? true;
    if (opts.treeCache) this.loadTreeCache(opts.treeCache, opts.expectedKid !== undefined ? { kid: opts.expectedKid } : {});
  }

  /**
   * Generate a fresh key. Computes the top tree and the first tree of every lower level (H10/W8:
   * about a second per tree); `exportTreeCache()` then returns them without further work.
   */
  static generate(params: HssLmsParams = {}, opts: HssLmsSignerOptions = {}): HssLmsSigner {
    const heights = params.heights ?? DEFAULT_HEIGHTS;
    if (heights.length < 1 || heights.length > 8) throw new UpdateError('USAGE', 'HSS-LMS needs 1 to 8 levels');
    const ws = Array.isArray(params.w) ? params.w : heights.map(() => (params.w as number | undefined) ?? 8);
    if (ws.length !== heights.length) throw new UpdateError('USAGE', 'one Winternitz parameter per level');
    const levels = heights.map((h, i) => {
      const lmsType = HEIGHT_TO_TYPE[h];
      const otsType = W_TO_TYPE[ws[i]!];
      if (!lmsType) throw new UpdateError('USAGE', `LMS tree height ${h} is not one of 5, 10, 15, 20, 25`);
      if (!otsType) throw new UpdateError('USAGE', `LM-OTS Winternitz parameter ${ws[i]} is not one of 1, 2, 4, 8`);
      return { lmsType, otsType };
    });
    const seed = new Uint8Array(N);
    const I = new Uint8Array(16);
    crypto.getRandomValues(seed);
    crypto.getRandomValues(I);
    const { treeCache: _ignored, ...rest } = opts;
    const k = new HssLmsSigner({ levels, seed, I }, rest);
    k.prepareIndex(Math.min(k.#next, k.#total - 1));
    return k;
  }

  /** Load a key from its private bytes (the content of our PKCS#8). Computes nothing until needed. */
  static fromPrivateBytes(bytes: Uint8Array, opts: HssLmsSignerOptions = {}): HssLmsSigner {
    return new HssLmsSigner(decodePrivate(bytes), opts);
  }

  #pubKey(): TrustedKey {
    if (!this.#pub) {
      const pub = new Uint8Array(60);
      putU32(pub, 0, this.#priv.levels.length);
      pub.set(this.#tree([]).tree.publicKey(), 4);
      this.#pub = { kid: keyThumbprint({ kty: 'HSS-LMS', publicKey: pub }), alg: this.#alg, kty: 'HSS-LMS', publicKey: pub };
    }
    return this.#pub;
  }

  get kid(): string {
    return this.#pubKey().kid;
  }
  get alg(): number {
    return this.#alg;
  }
  get kty(): 'HSS-LMS' {
    return 'HSS-LMS';
  }
  publicKey(): TrustedKey {
    const p = this.#pubKey();
    return { ...p, publicKey: new Uint8Array(p.publicKey) };
  }
  /** Total signatures the key can make. */
  totalSignatures(): number {
    return this.#total;
  }
  /** Signatures left. */
  remaining(): number {
    return this.#total - this.#next;
  }
  exportState(): HssLmsState {
    return { kid: this.kid, next: this.#next, total: this.#total };
  }
  /**
   * Move the next index forward (from a state file the tool has already advanced). Never backwards:
   * going back would reuse one-time keys.
   */
  setNextIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < this.#next || index > this.#total) {
      throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS index ${String(index)} would move the state backwards or out of range (now ${this.#next})`);
    }
    this.#next = index;
  }

  /** Sign with the next one-time key: the state advances (and is persisted) before the signature exists. */
  sign(data: Uint8Array): Uint8Array {
    if (this.#next >= this.#total) {
      throw new UpdateError('SIGNER_STATE_EXHAUSTED', `HSS-LMS key ${this.kid} has used all ${this.#total} signatures`);
    }
    const index = this.#next;
    this.#next = index + 1;
    this.#persist?.(this.exportState());
    return this.#signAt(index, data);
  }

  /**
   * Sign with the one-time key at `index` WITHOUT touching the state: for a caller that has already
   * durably reserved `index` (signing-tools/lms-state.ts). Using an index twice breaks the scheme.
   */
  signAt(index: number, data: Uint8Array): Uint8Array {
    this.#checkIndex(index);
    return this.#signAt(index, data);
  }

  #checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#total) {
      throw new UpdateError('SIGNER_STATE_EXHAUSTED', `HSS-LMS index ${String(index)} is outside 0..${this.#total - 1}`);
    }
  }

  // ------------------------------------------------------------ tree cache

  /**
   * Make sure every tree (and every lower tree's signature by its parent) that a signature at
   * `index` needs is computed, so that signing itself is cheap. Touches no state.
   */
  prepareIndex(index: number): void {
    this.#checkIndex(index);
    const qs = this.#split(index);
    let parent = this.#tree([]);
    for (let d = 0; d < qs.length - 1; d++) {
      const child = this.#tree(qs.slice(0, d + 1));
      this.#childSig(parent, qs[d]!, child);
      parent = child;
    }
  }

  /** Changes whenever a tree or a cached signature is (re)computed: the caller's cue to save the cache again. */
  get treeCacheGeneration(): number {
    return this.#generation;
  }
  /** True when the trees in use came from a loaded cache (not recomputed here). */
  get usingTreeCache(): boolean {
    return this.#fromCache;
  }

  /**
   * The public tree cache: per level its types, I, the parent leaves leading to it, its signature by
   * the parent tree, the stored nodes; then a SHA-256 of all that. Public data (no secret).
   */
  exportTreeCache(): Uint8Array {
    if (this.#trees.size === 0) this.prepareIndex(Math.min(this.#next, this.#total - 1));
    const parts: Uint8Array[] = [];
    const head = new Uint8Array(8);
    putU32(head, 0, CACHE_MAGIC);
    let levels = 0;
    for (let d = 0; d < this.#priv.levels.length; d++) {
      const t = this.#trees.get(d);
      if (!t || (d > 0 && !t.sig)) break;
      if (d > 0 && this.#trees.get(d - 1)!.id !== t.path.slice(0, d - 1).join('/')) break;
      const sig = t.sig ?? new Uint8Array(0);
      const h = new Uint8Array(8 + 16 + 4 * d + 4);
      putU32(h, 0, t.key.lmsType);
      putU32(h, 4, t.key.otsType);
      h.set(t.key.I, 8);
      t.path.forEach((q, i) => putU32(h, 24 + 4 * i, q));
      putU32(h, 24 + 4 * d, sig.length);
      parts.push(h, sig, u32str(t.tree.top.length), t.tree.top);
      levels++;
    }
    putU32(head, 4, levels);
    parts.unshift(head);
    const digest = sha256.create();
    for (const p of parts) digest.update(p);
    parts.push(digest.digest());
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * Use a tree cache. Accepted only when it is intact (checksum, every stored inner node recomputed
   * from its children), made for this private key (types, I), when its root gives `expected`'s key id
   * or public key (if given, and the one already known), and each lower tree carries a valid
   * signature by its parent. Returns false (and keeps computing trees itself) otherwise; a valid top
   * with a bad lower level keeps the top.
   */
  loadTreeCache(bytes: Uint8Array, expected: { kid?: string; publicKey?: Uint8Array } = {}): boolean {
    const levels = parseTreeCache(bytes);
    if (!levels || levels.length < 1 || levels.length > this.#priv.levels.length) return false;
    const loaded: LevelTree[] = [];
    let pub: TrustedKey | undefined;
    for (let d = 0; d < levels.length; d++) {
      const c = levels[d]!;
      const want = this.#priv.levels[d]!;
      if (c.lmsType !== want.lmsType || c.otsType !== want.otsType || c.path.length !== d) break;
      if (d > 0 && c.path.slice(0, d - 1).join('/') !== loaded[d - 1]!.id) break;
      if (c.path.some((q, i) => q >= 2 ** LMS_TYPES[this.#priv.levels[i]!.lmsType]!.h)) break;
      const key = this.#keyAt(c.path);
      if (!equalBytes(key.I, c.I)) break;
      const tree = LmsMerkleTree.fromNodes(key, c.nodes);
      if (!tree) break;
      if (d === 0) {
        const p = new Uint8Array(60);
        putU32(p, 0, this.#priv.levels.length);
        p.set(tree.publicKey(), 4);
        const kid = keyThumbprint({ kty: 'HSS-LMS', publicKey: p });
        if (expected.kid !== undefined && expected.kid !== kid) return false;
        if (expected.publicKey && !equalBytes(expected.publicKey, p)) return false;
        if (this.#pub && !equalBytes(this.#pub.publicKey, p)) return false;
        pub = { kid, alg: this.#alg, kty: 'HSS-LMS', publicKey: p };
        loaded.push({ id: '', path: [], key, tree });
      } else {
        // A lower tree is used only with its parent's signature: the parent never signs a child
        // public key it did not compute itself, so a valid one means this tree is the real one.
        const parent = loaded[d - 1]!;
        if (!c.sig || !lmsVerify(parent.tree.publicKey(), tree.publicKey(), c.sig)) break;
        loaded.push({ id: c.path.join('/'), path: c.path, key, tree, sig: c.sig });
      }
    }
    if (!pub) return false;
    this.#pub = pub;
    this.#trees.clear();
    loaded.forEach((t, d) => this.#trees.set(d, t));
    this.#fromCache = true;
    return true;
  }

  // ------------------------------------------------------------ signing internals

  /** The global index split into one leaf per level (top level most significant). */
  #split(index: number): number[] {
    const L = this.#priv.levels.length;
    const qs: number[] = new Array<number>(L).fill(0);
    let rest = index;
    for (let d = L - 1; d >= 0; d--) {
      const leaves = 2 ** LMS_TYPES[this.#priv.levels[d]!.lmsType]!.h;
      qs[d] = rest % leaves;
      rest = Math.floor(rest / leaves);
    }
    return qs;
  }

  /** The parent's signature of `child`'s public key at leaf q, computed once and kept with the child. */
  #childSig(parent: LevelTree, q: number, child: LevelTree): Uint8Array {
    if (!child.sig) {
      const childPub = child.tree.publicKey();
      child.sig = lmsSignWithPath(parent.key, parent.tree.authPath(q), q, childPub, randomizer(parent.key, q, childPub));
      this.#generation++;
    }
    return child.sig;
  }

  #assemble(index: number, data: Uint8Array): Uint8Array {
    const qs = this.#split(index);
    const L = qs.length;
    const parts: Uint8Array[] = [u32str(L - 1)];
    let tree = this.#tree([]);
    for (let d = 0; d < L - 1; d++) {
      const child = this.#tree(qs.slice(0, d + 1));
      parts.push(this.#childSig(tree, qs[d]!, child), child.tree.publicKey());
      tree = child;
    }
    const q = qs[L - 1]!;
    parts.push(lmsSignWithPath(tree.key, tree.tree.authPath(q), q, data, randomizer(tree.key, q, data)));
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  #signAt(index: number, data: Uint8Array): Uint8Array {
    const out = this.#assemble(index, data);
    if (!this.#verify) return out;
    const pub = this.#pubKey().publicKey;
    if (hssVerify(pub, data, out)) return out;
    if (this.#fromCache) {
      // A cached node was wrong. Recompute every tree from the private key and sign again: the
      // randomizer is deterministic, so the one-time signatures repeat byte for byte (same message,
      // same leaf) and nothing new about the one-time keys is released.
      this.#trees.clear();
      this.#fromCache = false;
      this.#generation++;
      const top = new Uint8Array(60);
      putU32(top, 0, this.#priv.levels.length);
      top.set(this.#tree([]).tree.publicKey(), 4);
      if (!equalBytes(top, pub)) {
        throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS tree cache does not belong to this private key (key id ${this.#pub!.kid} came from the cache); delete the cache and reload the key`);
      }
      const again = this.#assemble(index, data);
      if (hssVerify(pub, data, again)) return again;
    }
    throw new UpdateError('INTERNAL', `HSS-LMS signature at index ${index} does not verify; it was not released`);
  }

  #keyAt(path: number[]): LmsTreeKey {
    let key: LmsTreeKey = { ...this.#priv.levels[0]!, seed: this.#priv.seed, I: this.#priv.I };
    for (let d = 0; d < path.length; d++) key = childTree(key, path[d]!, this.#priv.levels[d + 1]!);
    return key;
  }

  /** Tree at a path of parent leaves ([] = top), kept (one per level). */
  #tree(path: number[]): LevelTree {
    const id = path.join('/');
    const hit = this.#trees.get(path.length);
    if (hit && hit.id === id) return hit;
    const key = this.#keyAt(path);
    const entry: LevelTree = { id, path, key, tree: LmsMerkleTree.build(key) };
    this.#trees.set(path.length, entry);
    // Levels below belonged to the old tree.
    for (let d = path.length + 1; this.#trees.has(d); d++) this.#trees.delete(d);
    this.#generation++;
    return entry;
  }

  toJSON(): { kid: string; alg: number; kty: string; remaining: number } {
    return { kid: this.kid, alg: this.alg, kty: this.kty, remaining: this.remaining() };
  }

  /** @internal private-key bytes for exportPrivatePem only */
  static privateBytes(k: HssLmsSigner): Uint8Array {
    return encodePrivate(k.#priv);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

interface CachedLevel {
  lmsType: number;
  otsType: number;
  I: Uint8Array;
  path: number[];
  sig: Uint8Array | undefined;
  nodes: Uint8Array;
}

/** Parse a tree cache; undefined when it is truncated, has the wrong magic or checksum. Bounds checked. */
function parseTreeCache(b: Uint8Array): CachedLevel[] | undefined {
  if (b.length < 8 + N || u32(b, 0) !== CACHE_MAGIC) return undefined;
  const body = b.subarray(0, b.length - N);
  if (!equalBytes(sha256(body), b.subarray(b.length - N))) return undefined;
  const L = u32(b, 4);
  if (L < 1 || L > 8) return undefined;
  const out: CachedLevel[] = [];
  let o = 8;
  for (let d = 0; d < L; d++) {
    if (o + 24 + 4 * d + 4 > body.length) return undefined;
    const lmsType = u32(b, o);
    const otsType = u32(b, o + 4);
    const I = new Uint8Array(b.subarray(o + 8, o + 24));
    const path: number[] = [];
    for (let i = 0; i < d; i++) path.push(u32(b, o + 24 + 4 * i));
    o += 24 + 4 * d;
    const sigLen = u32(b, o);
    o += 4;
    if (o + sigLen + 4 > body.length) return undefined;
    const sig = sigLen ? new Uint8Array(b.subarray(o, o + sigLen)) : undefined;
    o += sigLen;
    const nodesLen = u32(b, o);
    o += 4;
    if (o + nodesLen > body.length) return undefined;
    const nodes = new Uint8Array(b.subarray(o, o + nodesLen));
    o += nodesLen;
    out.push({ lmsType, otsType, I, path, sig, nodes });
  }
  return o === body.length ? out : undefined;
}

export const HSS_LMS: SignatureAlgorithm = {
  id: -46,
  name: 'HSS-LMS',
  kind: 'signature',
  keyType: 'HSS-LMS',
  verify(pub, data, sig) {
    if (!isHssPublicKey(pub)) throw new UpdateError('KEY_MALFORMED', 'not an HSS-LMS public key (RFC 8554 §6.1)');
    return hssVerify(pub, data, sig);
  },
};
registerAlgorithm(HSS_LMS);

installHssLmsKeyHooks({
  fromPrivate: (secret, alg) => HssLmsSigner.fromPrivateBytes(secret, { alg }),
  generate: (params) => HssLmsSigner.generate((params ?? {}) as HssLmsParams),
  privateBytes: (k) => (k instanceof HssLmsSigner ? HssLmsSigner.privateBytes(k) : undefined),
  publicKeyValid: isHssPublicKey,
});

/** @internal test hooks */
export const __test = { buildTree, sha256of55 };
