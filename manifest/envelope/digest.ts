/**
 * SUIT_Digest = [ suit-digest-algorithm-id: int, suit-digest-bytes: bstr ] (draft-ietf-suit-manifest-37 §8.4.x).
 *
 * Supported algorithms (COSE ids): SHA-256 -16, SHAKE128 -18 (32-byte output), SHA-384 -43,
 * SHA-512 -44, SHAKE256 -45 (64-byte output). Everything else → DIGEST_ALGORITHM_UNSUPPORTED.
 */
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { shake128, shake256 } from '@noble/hashes/sha3.js';
import { decodeCbor, encodeCbor, type CborValue } from '../cbor.js';
import { constantTimeEqual } from '../constant-time.js';
import { UpdateError } from '../errors.js';
import { DIGEST_ALG } from '../keys.js';
import type { SuitDigest } from '../model.js';

interface StreamingHash {
  update(b: Uint8Array): unknown;
  digest(): Uint8Array;
}

interface DigestAlgInfo {
  name: string;
  size: number;
  create(): StreamingHash;
}

const ALGS: ReadonlyMap<number, DigestAlgInfo> = new Map<number, DigestAlgInfo>([
  [DIGEST_ALG.SHA256, { name: 'SHA-256', size: 32, create: () => sha256.create() }],
  [DIGEST_ALG.SHAKE128, { name: 'SHAKE128', size: 32, create: () => shake128.create({ dkLen: 32 }) }],
  [DIGEST_ALG.SHA384, { name: 'SHA-384', size: 48, create: () => sha384.create() }],
  [DIGEST_ALG.SHA512, { name: 'SHA-512', size: 64, create: () => sha512.create() }],
  [DIGEST_ALG.SHAKE256, { name: 'SHAKE256', size: 64, create: () => shake256.create({ dkLen: 64 }) }],
]);

/** COSE ids of the supported digest algorithms. */
export const SUPPORTED_DIGEST_ALGS: readonly number[] = [...ALGS.keys()];

function algInfo(alg: number): DigestAlgInfo {
  const info = typeof alg === 'number' ? ALGS.get(alg) : undefined;
  if (!info) {
    throw new UpdateError('DIGEST_ALGORITHM_UNSUPPORTED', `digest algorithm ${String(alg)} is not supported (use -16 SHA-256, -18, -43, -44 or -45)`, {
      details: { alg: String(alg) },
    });
  }
  return info;
}

/** Output length in bytes of a supported digest algorithm (throws DIGEST_ALGORITHM_UNSUPPORTED). */
export function digestSize(alg: number): number {
  return algInfo(alg).size;
}

/** Human name of a digest algorithm ("SHA-256"), or `alg <n>` when unknown. */
export function digestAlgName(alg: number): string {
  return ALGS.get(alg)?.name ?? `alg ${alg}`;
}

export function computeDigest(alg: number, bytes: Uint8Array): SuitDigest {
  const h = algInfo(alg).create();
  h.update(bytes);
  return { alg, bytes: h.digest() };
}

/** Streaming hasher for large payloads: `const h = createHasher(-16); h.update(chunk); h.digest()`. */
export function createHasher(alg: number): { update(b: Uint8Array): void; digest(): SuitDigest } {
  const h = algInfo(alg).create();
  let done = false;
  return {
    update(b: Uint8Array): void {
      if (done) throw new UpdateError('INTERNAL', 'hasher used after digest()');
      h.update(b);
    },
    digest(): SuitDigest {
      if (done) throw new UpdateError('INTERNAL', 'digest() called twice');
      done = true;
      return { alg, bytes: h.digest() };
    },
  };
}

/** The SUIT_Digest as a CBOR value ([alg, bstr]) for embedding in larger structures. */
export function digestToCbor(d: SuitDigest): CborValue {
  return [d.alg, d.bytes];
}

/** Deterministic encoding of a SUIT_Digest. */
export function encodeDigest(d: SuitDigest): Uint8Array {
  return encodeCbor(digestToCbor(d));
}

/**
 * Check the shape of an already-decoded SUIT_Digest ([int, bstr], supported alg, right length).
 * `code` is the shape error code (MANIFEST_MALFORMED inside a manifest, ENVELOPE_MALFORMED in the wrapper).
 */
export function digestFromCbor(v: CborValue, where = 'SUIT_Digest', code: 'MANIFEST_MALFORMED' | 'ENVELOPE_MALFORMED' = 'MANIFEST_MALFORMED'): SuitDigest {
  if (!Array.isArray(v) || v.length !== 2) {
    throw new UpdateError(code, `${where}: expected [algorithm-id, bytes]`, { details: { path: where } });
  }
  const [alg, bytes] = v;
  if (typeof alg !== 'number' && typeof alg !== 'bigint') {
    throw new UpdateError(code, `${where}: algorithm id must be an integer`, { details: { path: where } });
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new UpdateError(code, `${where}: digest bytes must be a byte string`, { details: { path: where } });
  }
  const info = algInfo(typeof alg === 'bigint' ? Number.NaN : alg);
  if (bytes.length !== info.size) {
    throw new UpdateError(code, `${where}: ${info.name} digest must be ${info.size} bytes, got ${bytes.length}`, {
      details: { path: where, expected: info.size, actual: bytes.length },
    });
  }
  return { alg: alg as number, bytes };
}

/** Decode an encoded SUIT_Digest strictly (no trailing bytes, [int, bstr], supported alg, right length). */
export function decodeDigest(bytes: Uint8Array, code: 'MANIFEST_MALFORMED' | 'ENVELOPE_MALFORMED' = 'MANIFEST_MALFORMED'): SuitDigest {
  return digestFromCbor(decodeCbor(bytes, { maxBytes: 1024, maxDepth: 4 }), 'SUIT_Digest', code);
}

/** Constant-time (in the bytes) comparison of two digests; different algorithms or lengths are unequal. */
export function digestEquals(a: SuitDigest, b: SuitDigest): boolean {
  return a.alg === b.alg && constantTimeEqual(a.bytes, b.bytes);
}
