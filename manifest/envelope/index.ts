// Public face of manifest/envelope (see docs/manifest-api.md).
export {
  computeDigest,
  createHasher,
  encodeDigest,
  decodeDigest,
  digestEquals,
  digestFromCbor,
  digestToCbor,
  digestSize,
  digestAlgName,
  SUPPORTED_DIGEST_ALGS,
} from './digest.js';
