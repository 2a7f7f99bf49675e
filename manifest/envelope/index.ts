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
export { DEFAULT_LIMITS, type EnvelopeLimits } from './limits.js';
export {
  decodeManifest,
  encodeManifest,
  decodeCommandSequence,
  decodeComponentId,
  encodeSequence,
  encodeText,
  manifestToCbor,
  type CommandInput,
  type SequenceInput,
  type TextInput,
  type SeverableInput,
  type ManifestInput,
  type DecodeManifestOptions,
} from './manifest.js';
export {
  decodeEnvelope,
  encodeEnvelope,
  buildEnvelope,
  checkManifestDigest,
  checkSeveredMembers,
  getSevered,
  type DecodeEnvelopeOptions,
  type EnvelopeParts,
  type BuildEnvelopeOptions,
  type SeveredTypes,
} from './envelope.js';
export { uuid5, vendorIdFromDomain, classIdFrom, uuidToString, parseUuid, NAMESPACE_DNS, NAMESPACE_URL, NAMESPACE_OID } from './uuid.js';
export { commandName, paramName, manifestMemberName, envelopeMemberName } from './names.js';
export {
  summarizeEnvelope,
  describeAuthBlock,
  formatVersion,
  type EnvelopeSummary,
  type ComponentSummary,
  type SignatureSummary,
  type StepSummary,
  type Json,
} from './summary.js';
export {
  buildManifest,
  seq,
  cond,
  dir,
  setIndex,
  params,
  overrideParams,
  setParams,
  tryEach,
  runSequence,
  overrideMultiple,
  copyParams,
  custom,
  type ParamsSpec,
  type ComponentSpec,
  type SimpleText,
  type ManifestSpec,
  type BuiltManifest,
} from './builder.js';
