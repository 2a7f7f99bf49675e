/**
 * ECDSA over P-256 with SHA-256 as COSE -7 (ES256) and -9 (ESP256, RFC 9864 fully specified).
 *
 * Signatures are the raw `r || s` (64 bytes) that RFC 9052 §2.1 requires, never DER.
 * Verification accepts high-S signatures (`lowS: false`): COSE does not require low-S and other
 * implementations (OpenSSL, libcsuit) produce both halves. The malleability this allows does not
 * matter here: the manifest digest, not the signature bytes, identifies a release.
 * Signing uses RFC 6979 deterministic nonces (noble's default), like libcsuit's ESP256 vectors.
 */
import { p256 } from '@noble/curves/nist.js';
import { UpdateError } from '../../errors.js';
import { registerAlgorithm, type SignatureAlgorithm } from './registry.js';

export function p256PublicKey(secret: Uint8Array, compressed = false): Uint8Array {
  if (secret.length !== 32 || !p256.utils.isValidSecretKey(secret)) throw new UpdateError('KEY_MALFORMED', 'not a valid P-256 private key');
  return p256.getPublicKey(secret, compressed);
}

export function p256GenerateSecret(): Uint8Array {
  return p256.utils.randomSecretKey();
}

/** True when `point` is a valid SEC1 encoding of a point on P-256 (not the identity). */
export function p256IsValidPoint(point: Uint8Array): boolean {
  try {
    p256.Point.fromBytes(point).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/** Uncompressed SEC1 encoding (04 || x || y) of any valid encoding. */
export function p256Uncompressed(point: Uint8Array): Uint8Array {
  try {
    return p256.Point.fromBytes(point).toBytes(false);
  } catch (e) {
    throw new UpdateError('KEY_MALFORMED', 'not a point on P-256', { cause: e });
  }
}

function make(id: number, name: string): SignatureAlgorithm {
  return {
    id,
    name,
    kind: 'signature',
    keyType: 'EC2',
    verify(pub, data, sig) {
      if (pub.length !== 65 && pub.length !== 33) throw new UpdateError('KEY_MALFORMED', 'a P-256 public key is a 65- or 33-byte SEC1 point');
      if (sig.length !== 64) return false;
      try {
        return p256.verify(sig, data, pub, { prehash: true, lowS: false, format: 'compact' });
      } catch {
        return false;
      }
    },
    sign(priv, data) {
      if (priv.length !== 32) throw new UpdateError('KEY_MALFORMED', 'a P-256 private key is 32 bytes');
      return p256.sign(data, priv, { prehash: true, lowS: false, format: 'compact' });
    },
  };
}

export const ES256 = make(-7, 'ES256');
export const ESP256 = make(-9, 'ESP256');
registerAlgorithm(ES256);
registerAlgorithm(ESP256);
