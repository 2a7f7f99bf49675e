/**
 * HSS-LMS key generation and stateful signing (RFC 8554 §4.5, §5.4.1, §6.2, Appendix A).
 *
 * Signing is stateful: every one-time key (leaf) may sign ONCE. `HssLmsSigner.sign()` advances its
 * state (and calls the caller's `persist` hook) BEFORE it computes and returns a signature, and
 * refuses with SIGNER_STATE_EXHAUSTED when no leaf is left. Persisting the state durably is the
 * signing tool's job (signing-tools/lms-state.ts).
 *
 * The Merkle trees are public: `exportTreeCache()` / `loadTreeCache()` (or the `treeCache` option)
 * move their nodes in and out (hss-lms-tree-cache.ts), so only key generation computes a whole tree;
 * a signature is then one LM-OTS signature per level plus authentication paths from the cache. A
 * cache is checked (checksum, inner nodes recomputed, bound to the expected key id, lower trees signed
 * by their parent) and every signature is verified (hss-lms-verify.ts) before it is returned.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../../constant-time.js';
import { UpdateError } from '../../errors.js';
import { keyThumbprint } from '../keys/cose-key.js';
import type { SigningKey, TrustedKey } from '../keys/types.js';
import { D_MESG, LMOTS_TYPES, LMS_TYPES, N, putU32, u16str, u32, u32str, type LmsTreeKey } from './hss-lms-params.js';
import { concatBytes, encodeTreeCache, LmsMerkleTree, parseTreeCache, type CachedLevel } from './hss-lms-tree-cache.js';
import { coef, hssVerify, lmsVerify, withChecksum } from './hss-lms-verify.js';
import { SignChain } from './sha256-chain.js';

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
    const levels: CachedLevel[] = [];
    for (let d = 0; d < this.#priv.levels.length; d++) {
      const t = this.#trees.get(d);
      if (!t || (d > 0 && !t.sig)) break;
      if (d > 0 && this.#trees.get(d - 1)!.id !== t.path.slice(0, d - 1).join('/')) break;
      levels.push({ lmsType: t.key.lmsType, otsType: t.key.otsType, I: t.key.I, path: t.path, sig: t.sig, nodes: t.tree.top });
    }
    return encodeTreeCache(levels);
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
      if (!constantTimeEqual(key.I, c.I)) break;
      const tree = LmsMerkleTree.fromNodes(key, c.nodes);
      if (!tree) break;
      if (d === 0) {
        const p = new Uint8Array(60);
        putU32(p, 0, this.#priv.levels.length);
        p.set(tree.publicKey(), 4);
        const kid = keyThumbprint({ kty: 'HSS-LMS', publicKey: p });
        if (expected.kid !== undefined && expected.kid !== kid) return false;
        if (expected.publicKey && !constantTimeEqual(expected.publicKey, p)) return false;
        if (this.#pub && !constantTimeEqual(this.#pub.publicKey, p)) return false;
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
    return concatBytes(parts);
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
      if (!constantTimeEqual(top, pub)) {
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
