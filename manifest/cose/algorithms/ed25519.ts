/**
 * Ed25519 (RFC 8032) as COSE -8 (EdDSA, the polymorphic id used before RFC 9864) and -19 (Ed25519,
 * the fully-specified id that draft-ietf-suit-mti-23 uses). Both verify the same way.
 *
 * Verification is strict RFC 8032 / FIPS 186-5 (`zip215: false`): non-canonical encodings of R, A or S
 * are refused, so a signature has exactly one accepted encoding (no malleability of signed manifests).
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { UpdateError } from '../../errors.js';
import { registerAlgorithm, type SignatureAlgorithm } from './registry.js';

// @noble/ed25519 v3 needs a synchronous SHA-512 for its sync API.
ed.hashes.sha512 = sha512;

export function ed25519PublicKey(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new UpdateError('KEY_MALFORMED', 'an Ed25519 private key is 32 bytes');
  return ed.getPublicKey(secret);
}

export function ed25519GenerateSecret(): Uint8Array {
  return ed.utils.randomSecretKey();
}

function make(id: number, name: string): SignatureAlgorithm {
  return {
    id,
    name,
    kind: 'signature',
    keyType: 'OKP',
    verify(pub, data, sig) {
      if (pub.length !== 32) throw new UpdateError('KEY_MALFORMED', 'an Ed25519 public key is 32 bytes');
      if (sig.length !== 64) return false;
      try {
        return ed.verify(sig, data, pub, { zip215: false });
      } catch {
        // noble throws for a public key that is not a point; for us that is "does not verify".
        return false;
      }
    },
    sign(priv, data) {
      if (priv.length !== 32) throw new UpdateError('KEY_MALFORMED', 'an Ed25519 private key is 32 bytes');
      return ed.sign(data, priv);
    },
  };
}

export const EDDSA = make(-8, 'EdDSA');
export const ED25519 = make(-19, 'Ed25519');
registerAlgorithm(EDDSA);
registerAlgorithm(ED25519);
