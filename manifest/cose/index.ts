// Public face of manifest/cose (see docs/manifest-api.md, "cose/").
import './algorithms/index.js';

export {
  registerAlgorithm,
  getAlgorithm,
  findAlgorithm,
  listAlgorithms,
  algorithmsForKeyType,
  type SignatureAlgorithm,
  type KeyType,
  HssLmsSigner,
  hssVerify,
  lmsVerify,
  LMS_TYPES,
  LMOTS_TYPES,
  type HssLmsParams,
  type HssLmsState,
  type HssLmsSignerOptions,
} from './algorithms/index.js';
export * from './keys/index.js';
export {
  decodeSign1,
  decodeSign,
  decodeMac0,
  decodeCoseMessage,
  encodeSign1,
  encodeSign,
  encodeMac0,
  encodeProtected,
  coseSigStructure,
  HEADER,
  type CoseSign1,
  type CoseSign,
  type CoseMac0,
  type CoseMessage,
  type CoseSignature,
  type CoseHeaders,
  type CoseDecodeOptions,
  type HeaderMap,
} from './structures.js';
export {
  signSign1,
  signSign1Detached,
  verifySign1Detached,
  verifySign1Attached,
  signSign,
  createMac0,
  verifyWithKey,
  coseKidOf,
  kidMatches,
  toBeSigned,
  type SignOptions,
} from './sign.js';
export {
  verifyEnvelope,
  signEnvelope,
  signingInput,
  attachSignature,
  addSignatureBlock,
  type VerifyEnvelopeOptions,
  type VerifyEnvelopeResult,
  type BlockStatus,
} from './envelope-auth.js';
