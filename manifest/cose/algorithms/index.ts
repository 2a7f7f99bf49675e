// Importing this module registers the built-in algorithms. One line per algorithm file.
import './ed25519.js';
import './p256.js';
import './hmac-sha256.js';
export { registerAlgorithm, getAlgorithm, findAlgorithm, listAlgorithms, algorithmsForKeyType, type SignatureAlgorithm, type KeyType } from './registry.js';
