// Importing this module registers the built-in algorithms. One line per algorithm file.
import './ed25519.js';
import './p256.js';
import './hmac-sha256.js';
import './hss-lms.js';
export { HssLmsSigner, hssVerify, lmsVerify, LMS_TYPES, LMOTS_TYPES, type HssLmsParams, type HssLmsState, type HssLmsSignerOptions } from './hss-lms.js';
export { registerAlgorithm, getAlgorithm, findAlgorithm, listAlgorithms, algorithmsForKeyType, type SignatureAlgorithm, type KeyType } from './registry.js';
