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
