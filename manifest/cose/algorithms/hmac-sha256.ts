/**
 * HMAC 256/256 (COSE alg 5, RFC 9053 §3.1): HMAC-SHA-256 with the full 32-byte tag, used by SUIT's
 * `suit-sha256-hmac-a128kw-a128ctr` profile in COSE_Mac0. "Public key" here is the shared secret:
 * a MAC key in a verifier's trusted set is secret material and must be handled as such.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../../constant-time.js';
import { UpdateError } from '../../errors.js';
import { registerAlgorithm, type SignatureAlgorithm } from './registry.js';

function tag(key: Uint8Array, data: Uint8Array): Uint8Array {
  // RFC 9053 §3.1: the key SHOULD be at least the tag length; we refuse shorter ones outright.
  if (key.length < 32) throw new UpdateError('KEY_MALFORMED', 'an HMAC 256/256 key must be at least 32 bytes');
  return hmac(sha256, key, data);
}

export const HMAC_256_256: SignatureAlgorithm = {
  id: 5,
  name: 'HMAC 256/256',
  kind: 'mac',
  keyType: 'Symmetric',
  verify(key, data, mac) {
    if (mac.length !== 32) return false;
    return constantTimeEqual(tag(key, data), mac);
  },
  sign(key, data) {
    return tag(key, data);
  },
};
registerAlgorithm(HMAC_256_256);
