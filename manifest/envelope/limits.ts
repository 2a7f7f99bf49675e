/**
 * Limits applied while decoding untrusted envelopes and manifests (order: limit → decode → shape).
 *
 * Size and CBOR nesting are enforced by the strict CBOR decoder (INPUT_TOO_LARGE, CBOR_TOO_DEEP);
 * the structural limits below are enforced by the shape checks and fail with PROCESSOR_LIMIT,
 * because they are resource bounds of this implementation rather than malformations: a larger
 * manifest may be valid SUIT, we just refuse to process it (RFC 9124 REQ.SEC.MFST.CONST: the manifest
 * must fit in bounded memory).
 */
export interface EnvelopeLimits {
  /** Envelope size in bytes, checked before any decoding. */
  maxEnvelopeBytes: number;
  /** CBOR nesting depth of any single decoded item (envelope, manifest, nested bstr .cbor). */
  maxCborDepth: number;
  /** Entries in suit-common components (plus dependency indices beyond it). */
  maxComponents: number;
  /** Byte strings in one SUIT_Component_Identifier. */
  maxComponentIdSegments: number;
  /** Nesting of command sequences: a top-level sequence is depth 1, a try-each branch or run-sequence argument inside it depth 2, ... */
  maxSequenceDepth: number;
  /** Commands in the whole manifest (all sequences, nested ones included, severed members included). */
  maxCommands: number;
  /** Authentication blocks in the authentication wrapper. */
  maxAuthBlocks: number;
  /** Integrated payloads (text keys) in the envelope. */
  maxIntegrated: number;
  /** Branches of one try-each. */
  maxTryEachBranches: number;
}

export const DEFAULT_LIMITS: Readonly<EnvelopeLimits> = Object.freeze({
  maxEnvelopeBytes: 64 * 1024,
  maxCborDepth: 32,
  maxComponents: 64,
  maxComponentIdSegments: 16,
  maxSequenceDepth: 8,
  maxCommands: 2048,
  maxAuthBlocks: 16,
  maxIntegrated: 64,
  maxTryEachBranches: 32,
});
