/**
 * HSS-LMS hash-based signatures (RFC 8554; COSE alg -46, RFC 8778), SHA-256 / n = m = 32: registers
 * the algorithm and the key hooks. The parts, one concern per file:
 *
 * - hss-lms-params.ts      parameter-set tables (RFC 8554 §4.1 Table 1, §5.1 Table 2), constants
 * - hss-lms-verify.ts      the verifier, standalone (what a device needs; imports only SHA-256 and the tables)
 * - hss-lms-sign.ts        key generation, private key bytes, the stateful signer
 * - hss-lms-tree-cache.ts  the public Merkle trees and the tree cache format
 * - sha256-chain.ts        the signer's hash chains on a fast single-block SHA-256
 */
import { UpdateError } from '../../errors.js';
import { installHssLmsKeyHooks } from '../keys/keys.js';
import { HssLmsSigner, type HssLmsParams } from './hss-lms-sign.js';
import { hssVerify, isHssPublicKey } from './hss-lms-verify.js';
import { registerAlgorithm, type SignatureAlgorithm } from './registry.js';

export { LMOTS_TYPES, LMS_TYPES, type LmsTreeKey } from './hss-lms-params.js';
export { hssVerify, isHssPublicKey, lmsVerify } from './hss-lms-verify.js';
export {
  DEFAULT_HEIGHTS,
  HssLmsSigner,
  lmsPublicKey,
  lmsSignWithTree,
  type HssLmsParams,
  type HssLmsSignerOptions,
  type HssLmsState,
} from './hss-lms-sign.js';
export { lmsCacheCut, LmsMerkleTree } from './hss-lms-tree-cache.js';

export const HSS_LMS: SignatureAlgorithm = {
  id: -46,
  name: 'HSS-LMS',
  kind: 'signature',
  keyType: 'HSS-LMS',
  verify(pub, data, sig) {
    if (!isHssPublicKey(pub)) throw new UpdateError('KEY_MALFORMED', 'not an HSS-LMS public key (RFC 8554 §6.1)');
    return hssVerify(pub, data, sig);
  },
};
registerAlgorithm(HSS_LMS);

installHssLmsKeyHooks({
  fromPrivate: (secret, alg) => HssLmsSigner.fromPrivateBytes(secret, { alg }),
  generate: (params) => HssLmsSigner.generate((params ?? {}) as HssLmsParams),
  privateBytes: (k) => (k instanceof HssLmsSigner ? HssLmsSigner.privateBytes(k) : undefined),
  publicKeyValid: isHssPublicKey,
});
