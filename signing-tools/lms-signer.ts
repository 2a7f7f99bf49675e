/**
 * The seam between the signing tool's state handling (lms-state.ts) and manifest/cose's HSS-LMS
 * signer. The tool decides WHICH one-time index a signature uses (after persisting the advance);
 * the signer computes the signature at that index.
 */
import { COSE_ALG, UpdateError, type SigningKey } from '../manifest/index.js';

/** What this tool needs from an HSS-LMS signing key of manifest/cose. */
interface HssLmsSignerLike extends SigningKey {
  signAt?(index: number, data: Uint8Array): Uint8Array;
  setNextIndex?(index: number): void;
  totalSignatures?: number | (() => number);
}

export function isStatefulKey(k: SigningKey): boolean {
  return k.alg === COSE_ALG.HSS_LMS || k.kty === 'HSS-LMS';
}

/** Total number of signatures the key can make. */
export function lmsTotalSignatures(k: SigningKey): number {
  const t = (k as HssLmsSignerLike).totalSignatures;
  const n = typeof t === 'function' ? t.call(k) : t;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new UpdateError('INTERNAL', 'HSS-LMS key does not say how many signatures it has');
  return n;
}

export function lmsSignAt(k: SigningKey, index: number, data: Uint8Array): Uint8Array {
  const s = k as HssLmsSignerLike;
  if (typeof s.signAt === 'function') return s.signAt(index, data);
  if (typeof s.setNextIndex === 'function') {
    s.setNextIndex(index);
    return s.sign(data);
  }
  throw new UpdateError('ALGORITHM_UNSUPPORTED', 'this HSS-LMS signer cannot sign at a chosen index');
}

interface TreeCacheCapable {
  loadTreeCache?(bytes: Uint8Array, expected: { kid?: string }): boolean;
  exportTreeCache?(): Uint8Array;
  prepareIndex?(index: number): void;
  treeCacheGeneration?: number;
}

/** Load a tree cache into the signer: true/false = accepted/refused, undefined = signer has no cache. */
export function lmsLoadTreeCache(k: SigningKey, bytes: Uint8Array, expectedKid: string): boolean | undefined {
  const s = k as SigningKey & TreeCacheCapable;
  return typeof s.loadTreeCache === 'function' ? s.loadTreeCache(bytes, { kid: expectedKid }) : undefined;
}

export function lmsExportTreeCache(k: SigningKey): Uint8Array | undefined {
  const s = k as SigningKey & TreeCacheCapable;
  return typeof s.exportTreeCache === 'function' ? s.exportTreeCache() : undefined;
}

/**
 * Compute what a signature at `index` needs (a new lower-level tree when `index` enters one).
 * Returns true when the signer's trees changed, i.e. the cache file should be written again.
 */
export function lmsPrepareIndex(k: SigningKey, index: number): boolean {
  const s = k as SigningKey & TreeCacheCapable;
  if (typeof s.prepareIndex !== 'function') return false;
  const before = s.treeCacheGeneration;
  s.prepareIndex(index);
  return s.treeCacheGeneration !== before;
}
