/**
 * The public Merkle trees of HSS-LMS signing keys (RFC 8554 §5.3) and the tree cache that carries
 * their nodes between signing sessions, so only key generation computes a whole tree.
 *
 * A cache is public data. Its bytes are checked here (magic, bounds, trailing SHA-256) and every
 * stored inner node is recomputed from its children (`LmsMerkleTree.fromNodes`); binding a cache to
 * a key (types, I, root, lower trees signed by their parent) is HssLmsSigner.loadTreeCache's job.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../../constant-time.js';
import { UpdateError } from '../../errors.js';
import { D_INTR, D_LEAF, D_PBLC, LMOTS_TYPES, LMS_TYPES, N, putU32, u16str, u32, u32str, type LmsTreeKey } from './hss-lms-params.js';
import { SignChain } from './sha256-chain.js';

/** Algorithm 1: the LM-OTS public key hash K for leaf q. */
export function otsPublic(k: LmsTreeKey, q: number): Uint8Array {
  const ps = LMOTS_TYPES[k.otsType]!;
  const chain = new SignChain(k, q);
  const h = sha256.create().update(k.I).update(u32str(q)).update(u16str(D_PBLC));
  const top = (1 << ps.w) - 1;
  for (let i = 0; i < ps.p; i++) h.update(chain.element(i, top));
  return h.digest();
}

export const leafHash = (k: LmsTreeKey, r: number, q: number): Uint8Array =>
  sha256.create().update(k.I).update(u32str(r)).update(u16str(D_LEAF)).update(otsPublic(k, q)).digest();
export const innerHash = (I: Uint8Array, r: number, left: Uint8Array, right: Uint8Array): Uint8Array =>
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
export function buildTree(k: LmsTreeKey): Uint8Array[] {
  const h = LMS_TYPES[k.lmsType]!.h;
  const leaves = 2 ** h;
  const T: Uint8Array[] = new Array<Uint8Array>(2 * leaves);
  for (let q = 0; q < leaves; q++) T[leaves + q] = leafHash(k, leaves + q, q);
  for (let r = leaves - 1; r >= 1; r--) T[r] = innerHash(k.I, r, T[2 * r]!, T[2 * r + 1]!);
  return T;
}

export function lmsPublicBytes(k: LmsTreeKey, T1: Uint8Array): Uint8Array {
  const out = new Uint8Array(56);
  putU32(out, 0, k.lmsType);
  putU32(out, 4, k.otsType);
  out.set(k.I, 8);
  out.set(T1, 24);
  return out;
}

export const CACHE_MAGIC = 0x48534331; // "HSC1"

/** One level of a tree cache: the tree's types, I, parent leaves, its signature by the parent, its stored nodes. */
export interface CachedLevel {
  lmsType: number;
  otsType: number;
  I: Uint8Array;
  path: number[];
  sig: Uint8Array | undefined;
  nodes: Uint8Array;
}

/**
 * Tree cache bytes: magic, level count, per level its types, I, the parent leaves leading to it, its
 * signature by the parent tree, the stored nodes; then a SHA-256 of all that.
 */
export function encodeTreeCache(levels: readonly CachedLevel[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(8);
  putU32(head, 0, CACHE_MAGIC);
  putU32(head, 4, levels.length);
  parts.push(head);
  levels.forEach((l, d) => {
    const sig = l.sig ?? new Uint8Array(0);
    const h = new Uint8Array(8 + 16 + 4 * d + 4);
    putU32(h, 0, l.lmsType);
    putU32(h, 4, l.otsType);
    h.set(l.I, 8);
    l.path.forEach((q, i) => putU32(h, 24 + 4 * i, q));
    putU32(h, 24 + 4 * d, sig.length);
    parts.push(h, sig, u32str(l.nodes.length), l.nodes);
  });
  const digest = sha256.create();
  for (const p of parts) digest.update(p);
  parts.push(digest.digest());
  return concatBytes(parts);
}

/** Parse a tree cache; undefined when it is truncated, has the wrong magic or checksum. Bounds checked. */
export function parseTreeCache(b: Uint8Array): CachedLevel[] | undefined {
  if (b.length < 8 + N || u32(b, 0) !== CACHE_MAGIC) return undefined;
  const body = b.subarray(0, b.length - N);
  if (!constantTimeEqual(sha256(body), b.subarray(b.length - N))) return undefined;
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

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
