/**
 * signing-tools: the vendor's offline tools as a library (the `suit-sign` CLI is cli.ts).
 * The demo and end-to-end tests call these directly. Nothing here touches the network.
 */
export { main, buildProgram } from './cli.js';
export type { CliIo } from './output.js';

// keys
export { generateKeyFiles, parseLmsParams, keyFilePaths, type KeygenOptions, type KeygenResult, type KeygenAlg, type LmsParams } from './key-files.js';
export { loadSigningKey, loadTrustedKey, readPassphraseFile, statePathForKey, type LoadedSigningKey } from './keys.js';
export { createLmsState, loadLmsState, reserveLmsIndex, adoptLmsState, LMS_STATE_FORMAT, type LmsState } from './lms-state.js';

// manifests
export {
  releaseDescriptionSchema,
  parseReleaseDescription,
  parseReleaseText,
  parseSuitVersion,
  parseVersionMatch,
  type ReleaseDescription,
  type ReleaseComponent,
  type DeltaPolicy,
} from './release-description.js';
export { createRelease, installSteps, fetchArguments, FETCH_ARGS, type CreateOptions, type CreatedRelease, type ResolvedComponent } from './create.js';
export { hashFile, type ProgressFn } from './hash-file.js';

// signing and verification
export { signEnvelopeFile, signEnvelopeWith, type SignResult, type SignFileOptions } from './sign.js';
export { writeSigningRequest, makeSigningRequest, encodeRequest, decodeRequest, attachSignatureFile, type SigningRequest } from './two-step.js';
export { verifyEnvelopeFile, verifyWithAnchorsFile, type VerifyOptions, type VerifyResult } from './verify.js';
export { inspectEnvelopeFile, diagnosticOfFile } from './inspect.js';
export { readEnvelopeFile, readEnvelopeBytes } from './envelope-file.js';

// trust anchors
export { buildAnchorPayload, signAnchorFile, verifyAnchorFile, verifyAnchorChainFiles, readAnchorSet, readStatement, type BuildAnchorOptions, type AnchorSetView } from './anchors.js';

// offline distribution
export { createBundle, readBundleIndex, openBundlePayload, checkBundlePayloads, checkBundleFile, fetchTargets, BUNDLE_MAGIC, type BundleEntry, type BundleIndex, type BundleCheck, type FetchTarget } from './bundle.js';
export { makeDeltaFile, type DeltaResult } from './delta.js';
