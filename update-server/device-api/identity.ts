/**
 * Device identity keys (Ed25519) and the messages a device signs.
 *
 * The identity key is registered by the vendor or set when an owner claims the device; it is stored as
 * PEM (SPKI), hex of the raw 32-byte key, or hex of a COSE_Key (RFC 9052 §7, OKP / Ed25519). The server
 * holds only public keys: no shared secret exists anywhere in the device protocol.
 */
import { createPublicKey } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { decodeCbor, encodeCbor, fromHex, UpdateError } from '../../manifest/index.js';

ed.hashes.sha512 ??= sha512;

/** Domain separation for the challenge signature: never valid as any other signed object. */
export const AUTH_CONTEXT = 'suit-device-auth-v1';

/**
 * The exact bytes a device signs to prove possession of its identity key:
 * `encodeCbor(["suit-device-auth-v1", deviceId, challenge])` (deterministic CBOR array).
 */
export function authMessage(deviceId: string, challenge: Uint8Array): Uint8Array {
  return encodeCbor([AUTH_CONTEXT, deviceId, challenge]);
}

/** Raw 32-byte Ed25519 public key from the stored identity key text. */
export function parseIdentityKey(text: string): Uint8Array {
  const t = text.trim();
  try {
    if (t.startsWith('-----BEGIN')) {
      const k = createPublicKey(t);
      if (k.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 key (${String(k.asymmetricKeyType)})`);
      const jwk = k.export({ format: 'jwk' });
      return new Uint8Array(Buffer.from(String(jwk.x), 'base64url'));
    }
    if (/^[0-9a-fA-F]{64}$/.test(t)) return fromHex(t.toLowerCase());
    if (/^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0) {
      const m = decodeCbor(fromHex(t.toLowerCase()), { maxBytes: 1024 });
      if (!(m instanceof Map)) throw new Error('COSE_Key is not a map');
      // kty 1 = OKP, crv -1 = 6 (Ed25519), x = -2
      if (m.get(1) !== 1 || m.get(-1) !== 6) throw new Error('COSE_Key is not OKP/Ed25519');
      const x = m.get(-2);
      if (!(x instanceof Uint8Array) || x.length !== 32) throw new Error('COSE_Key x is not 32 bytes');
      return new Uint8Array(x);
    }
  } catch (e) {
    throw new UpdateError('KEY_MALFORMED', `device identity key: ${(e as Error).message}`, { cause: e });
  }
  throw new UpdateError('KEY_MALFORMED', 'device identity key is not PEM, raw hex or a COSE_Key');
}

/** Strict RFC 8032 verification (no ZIP-215 leniency); false for anything that does not verify. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
