/**
 * COSE_Key (RFC 9052 §7, RFC 9053 §7) encode/decode for the key types we use, and the RFC 9679
 * thumbprint that names every key in this system.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeCbor, encodeCbor, toHex, type CborKey, type CborValue } from '../../cbor.js';
import { UpdateError } from '../../errors.js';
import { p256IsValidPoint, p256Uncompressed } from '../algorithms/p256.js';
import type { KeyType, TrustedKey } from './types.js';

/** COSE key common parameters and key-type specific labels. */
export const COSE_KEY = { KTY: 1, KID: 2, ALG: 3, KEY_OPS: 4, CRV: -1, X: -2, Y: -3, D: -4, K: -1, PUB: -1 } as const;
/** COSE key types (IANA "COSE Key Types"). HSS-LMS is 5 (RFC 8778 §5); 7 is AKP, not used here. */
export const KTY = { OKP: 1, EC2: 2, SYMMETRIC: 4, HSS_LMS: 5 } as const;
export const CRV = { P256: 1, ED25519: 6 } as const;

const KTY_NUM: Record<KeyType, number> = { OKP: 1, EC2: 2, Symmetric: 4, 'HSS-LMS': 5 };

function malformed(msg: string): UpdateError {
  return new UpdateError('KEY_MALFORMED', `COSE_Key: ${msg}`);
}

/** The RFC 9679 §4 required members of a key, as a CBOR map (no kid, no alg, no private part). */
function requiredMembers(k: Pick<TrustedKey, 'kty' | 'publicKey'>): Map<CborKey, CborValue> {
  switch (k.kty) {
    case 'OKP':
      return new Map<CborKey, CborValue>([[1, KTY.OKP], [-1, CRV.ED25519], [-2, k.publicKey]]);
    case 'EC2': {
      const p = p256Uncompressed(k.publicKey);
      return new Map<CborKey, CborValue>([[1, KTY.EC2], [-1, CRV.P256], [-2, p.subarray(1, 33)], [-3, p.subarray(33, 65)]]);
    }
    case 'Symmetric':
      return new Map<CborKey, CborValue>([[1, KTY.SYMMETRIC], [-1, k.publicKey]]);
    case 'HSS-LMS':
      return new Map<CborKey, CborValue>([[1, KTY.HSS_LMS], [-1, k.publicKey]]);
  }
}

/** RFC 9679 thumbprint bytes: SHA-256 over the deterministic encoding of the required members. */
export function thumbprintBytes(k: Pick<TrustedKey, 'kty' | 'publicKey'>): Uint8Array {
  return sha256(encodeCbor(requiredMembers(k)));
}

/** RFC 9679 thumbprint (SHA-256) as lowercase hex: the key id used everywhere. */
export function keyThumbprint(k: Pick<TrustedKey, 'kty' | 'publicKey'>): string {
  return toHex(thumbprintBytes(k));
}

/** Encode the public COSE_Key (required members + alg, + kid when it is not the thumbprint). */
export function encodeCoseKey(k: TrustedKey | { publicKey(): TrustedKey }): Uint8Array {
  const t = 'kid' in k && typeof k.publicKey !== 'function' ? (k as TrustedKey) : (k as { publicKey(): TrustedKey }).publicKey();
  const m = requiredMembers(t);
  m.set(COSE_KEY.ALG, t.alg);
  if (t.coseKid) m.set(COSE_KEY.KID, t.coseKid);
  return encodeCbor(m);
}

/** Decode a public COSE_Key (bytes or an already decoded map). Private members (d) are refused. */
export function decodeCoseKey(input: Uint8Array | Map<CborKey, CborValue>): TrustedKey {
  const m = input instanceof Uint8Array ? decodeCbor(input, { maxBytes: 16 * 1024 }) : input;
  if (!(m instanceof Map)) throw malformed('not a map');
  const kty = m.get(COSE_KEY.KTY);
  const alg = m.get(COSE_KEY.ALG);
  const kidRaw = m.get(COSE_KEY.KID);
  if (alg !== undefined && typeof alg !== 'number') throw malformed('alg must be an integer');
  if (kidRaw !== undefined && !(kidRaw instanceof Uint8Array)) throw malformed('kid must be a byte string');
  const bytesAt = (label: number, what: string): Uint8Array => {
    const v = m.get(label);
    if (!(v instanceof Uint8Array)) throw malformed(`${what} missing or not a byte string`);
    return new Uint8Array(v);
  };
  let key: Omit<TrustedKey, 'kid'>;
  switch (kty) {
    case KTY.OKP: {
      if (m.get(COSE_KEY.CRV) !== CRV.ED25519) throw malformed('only OKP curve Ed25519 (6) is supported');
      if (m.has(COSE_KEY.D)) throw malformed('contains a private key (d); expected a public key');
      const x = bytesAt(COSE_KEY.X, 'x');
      if (x.length !== 32) throw malformed('Ed25519 x must be 32 bytes');
      key = { kty: 'OKP', alg: (alg as number | undefined) ?? -19, publicKey: x };
      break;
    }
    case KTY.EC2: {
      if (m.get(COSE_KEY.CRV) !== CRV.P256) throw malformed('only EC2 curve P-256 (1) is supported');
      if (m.has(COSE_KEY.D)) throw malformed('contains a private key (d); expected a public key');
      const x = bytesAt(COSE_KEY.X, 'x');
      const yv = m.get(COSE_KEY.Y);
      let point: Uint8Array;
      if (yv instanceof Uint8Array) point = Uint8Array.from([4, ...x, ...yv]);
      else if (typeof yv === 'boolean') point = Uint8Array.from([yv ? 3 : 2, ...x]); // RFC 9053 §7.1.1 compressed
      else throw malformed('y missing');
      if (x.length !== 32 || !p256IsValidPoint(point)) throw malformed('x/y is not a point on P-256');
      key = { kty: 'EC2', alg: (alg as number | undefined) ?? -9, publicKey: p256Uncompressed(point) };
      break;
    }
    case KTY.SYMMETRIC: {
      const k = bytesAt(COSE_KEY.K, 'k');
      key = { kty: 'Symmetric', alg: (alg as number | undefined) ?? 5, publicKey: k };
      break;
    }
    case KTY.HSS_LMS:
      key = { kty: 'HSS-LMS', alg: (alg as number | undefined) ?? -46, publicKey: bytesAt(COSE_KEY.PUB, 'pub') };
      break;
    default:
      throw malformed(`unsupported kty ${String(kty)}`);
  }
  const kid = keyThumbprint(key);
  const out: TrustedKey = { kid, ...key };
  if (kidRaw instanceof Uint8Array && toHex(kidRaw) !== kid) out.coseKid = new Uint8Array(kidRaw);
  return out;
}

export { KTY_NUM };
