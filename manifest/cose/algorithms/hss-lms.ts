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

/** x_q[i] = H(I || u32str(q) || u16str(i) || u8str(0xff) || SEED) (Appendix A). */
function otsPrivate(k: LmsTreeKey, q: number, i: number): Uint8Array {
  const b = new Uint8Array(16 + 4 + 2 + 1 + N);
  b.set(k.I, 0);
  putU32(b, 16, q);
  b[20] = i >>> 8;
  b[21] = i & 0xff;
  b[22] = 0xff;
  b.set(k.seed, 23);
  return sha256(b);
}

/** Algorithm 1: the LM-OTS public key hash K for leaf q. */
function otsPublic(k: LmsTreeKey, q: number): Uint8Array {
  const ps = LMOTS_TYPES[k.otsType]!;
  const chain = new Chain(k.I, q);
  const h = sha256.create().update(k.I).update(u32str(q)).update(u16str(D_PBLC));
  const top = (1 << ps.w) - 1;
  for (let i = 0; i < ps.p; i++) h.update(chain.walk(i, otsPrivate(k, q, i), 0, top));
  return h.digest();
}

/** The whole Merkle tree T[1 .. 2^(h+1)-1] (index 0 unused). */
function buildTree(k: LmsTreeKey): Uint8Array[] {
  const h = LMS_TYPES[k.lmsType]!.h;
  const leaves = 2 ** h;
  const T: Uint8Array[] = new Array<Uint8Array>(2 * leaves);
  for (let q = 0; q < leaves; q++) {
    const r = leaves + q;
    T[r] = sha256.create().update(k.I).update(u32str(r)).update(u16str(D_LEAF)).update(otsPublic(k, q)).digest();
  }
  for (let r = leaves - 1; r >= 1; r--) {
    T[r] = sha256.create().update(k.I).update(u32str(r)).update(u16str(D_INTR)).update(T[2 * r]!).update(T[2 * r + 1]!).digest();
  }
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

/** Algorithm 3 + 5: an LMS signature of leaf q over msg; C is the randomizer. */
export function lmsSignWithTree(k: LmsTreeKey, T: Uint8Array[], q: number, msg: Uint8Array, C: Uint8Array): Uint8Array {
  const ps = LMOTS_TYPES[k.otsType]!;
  const h = LMS_TYPES[k.lmsType]!.h;
  const out = new Uint8Array(4 + 4 + N + ps.p * N + 4 + h * N);
  putU32(out, 0, q);
  putU32(out, 4, k.otsType);
  out.set(C, 8);
  const Q = sha256.create().update(k.I).update(u32str(q)).update(u16str(D_MESG)).update(C).update(msg).digest();
  const digits = withChecksum(Q, ps.w, ps.ls);
  const chain = new Chain(k.I, q);
  for (let i = 0; i < ps.p; i++) out.set(chain.walk(i, otsPrivate(k, q, i), 0, coef(digits, i, ps.w)), 8 + N + i * N);
  let o = 8 + N + ps.p * N;
  putU32(out, o, k.lmsType);
  o += 4;
  let node = 2 ** h + q;
  for (let i = 0; i < h; i++) {
    out.set(T[node ^ 1]!, o + i * N);
    node = Math.floor(node / 2);
  }
  return out;
}

/** LMS public key (56 bytes) of a tree key; builds the tree. */
export function lmsPublicKey(k: LmsTreeKey): Uint8Array {
  return lmsPublicBytes(k, buildTree(k)[1]!);
}

export interface HssLmsParams {
  /** Tree height per level, top first (5, 10, 15, 20 or 25). Default [10]. */
  heights?: number[];
  /** Winternitz parameter for every level (1, 2, 4, 8), or one per level. Default 8. */
  w?: number | number[];
}

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
}

/** A stateful HSS-LMS signing key. */
export class HssLmsSigner implements SigningKey {
  readonly #priv: HssPrivate;
  readonly #pub: TrustedKey;
  /** One cached tree per level (depth → the path it was built for). */
  readonly #trees = new Map<number, { id: string; key: LmsTreeKey; T: Uint8Array[] }>();
  #next: number;
  readonly #persist: ((s: HssLmsState) => void) | undefined;
  readonly #total: number;

  private constructor(priv: HssPrivate, opts: HssLmsSignerOptions) {
    this.#priv = priv;
    this.#total = priv.levels.reduce((t, l) => t * 2 ** LMS_TYPES[l.lmsType]!.h, 1);
    if (!Number.isSafeInteger(this.#total)) throw new UpdateError('USAGE', 'HSS-LMS parameter set has more signatures than this tool can count (2^53)');
    const top = this.#tree([]);
    const pub = new Uint8Array(60);
    putU32(pub, 0, priv.levels.length);
    pub.set(lmsPublicBytes(top.key, top.T[1]!), 4);
    this.#pub = { kid: keyThumbprint({ kty: 'HSS-LMS', publicKey: pub }), alg: opts.alg ?? -46, kty: 'HSS-LMS', publicKey: pub };
    this.#next = opts.next ?? 0;
    if (!Number.isSafeInteger(this.#next) || this.#next < 0 || this.#next > this.#total) {
      throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS state index ${String(this.#next)} is out of range 0..${this.#total}`);
    }
    this.#persist = opts.persist;
  }

  /** Generate a fresh key (builds the top tree: H10/W8 takes seconds, H15+ minutes). */
  static generate(params: HssLmsParams = {}, opts: HssLmsSignerOptions = {}): HssLmsSigner {
    const heights = params.heights ?? [10];
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
    return new HssLmsSigner({ levels, seed, I }, opts);
  }

  /** Load a key from its private bytes (the content of our PKCS#8) and a persisted state index. */
  static fromPrivateBytes(bytes: Uint8Array, opts: HssLmsSignerOptions = {}): HssLmsSigner {
    return new HssLmsSigner(decodePrivate(bytes), opts);
  }

  get kid(): string {
    return this.#pub.kid;
  }
  get alg(): number {
    return this.#pub.alg;
  }
  get kty(): 'HSS-LMS' {
    return 'HSS-LMS';
  }
  publicKey(): TrustedKey {
    return { ...this.#pub, publicKey: new Uint8Array(this.#pub.publicKey) };
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
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#total) {
      throw new UpdateError('SIGNER_STATE_EXHAUSTED', `HSS-LMS index ${String(index)} is outside 0..${this.#total - 1}`);
    }
    return this.#signAt(index, data);
  }

  #signAt(index: number, data: Uint8Array): Uint8Array {
    const L = this.#priv.levels.length;
    // Split the global index into one leaf per level (top level most significant).
    const qs: number[] = new Array<number>(L).fill(0);
    let rest = index;
    for (let d = L - 1; d >= 0; d--) {
      const leaves = 2 ** LMS_TYPES[this.#priv.levels[d]!.lmsType]!.h;
      qs[d] = rest % leaves;
      rest = Math.floor(rest / leaves);
    }
    const parts: Uint8Array[] = [u32str(L - 1)];
    let tree = this.#tree([]);
    for (let d = 0; d < L - 1; d++) {
      const child = this.#tree(qs.slice(0, d + 1));
      const childPub = lmsPublicBytes(child.key, child.T[1]!);
      parts.push(lmsSignWithTree(tree.key, tree.T, qs[d]!, childPub, randomizer(tree.key, qs[d]!, childPub)), childPub);
      tree = child;
    }
    parts.push(lmsSignWithTree(tree.key, tree.T, qs[L - 1]!, data, randomizer(tree.key, qs[L - 1]!, data)));
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Tree at a path of parent leaves ([] = top), cached (one per level). */
  #tree(path: number[]): { key: LmsTreeKey; T: Uint8Array[] } {
    const id = path.join('/');
    const hit = this.#trees.get(path.length);
    if (hit && hit.id === id) return hit;
    let key: LmsTreeKey = { ...this.#priv.levels[0]!, seed: this.#priv.seed, I: this.#priv.I };
    for (let d = 0; d < path.length; d++) key = childTree(key, path[d]!, this.#priv.levels[d + 1]!);
    const entry = { id, key, T: buildTree(key) };
    this.#trees.set(path.length, entry);
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
export const __test = { buildTree };
